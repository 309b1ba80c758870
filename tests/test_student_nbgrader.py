"""nbgrader round trip on one chapter: generate_assignment releases what student/ holds, and
autograde scores a planted right answer full marks and a planted wrong one a point less."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synlab import student

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "book" / "malkin2024" / "04_bayesian.ipynb"  # seconds to execute
ASSIGNMENT = "malkin2024_04_bayesian"


def _nbgrader(*args: str, cwd: Path) -> None:
    # nbgrader runs `alembic` (installed beside it) through PATH
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def _cells(nb: dict) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def _solutions() -> dict[str, str]:
    """name -> source of each solution function in the chapter."""
    nb = json.loads(CHAPTER.read_text())
    out = {}
    for c in nb["cells"]:
        if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", []):
            src = "".join(c["source"])
            for fn in ast.parse(src).body:
                out[fn.name] = ast.get_source_segment(src, fn)
    return out


def _submission(release: dict, wrong: str | None) -> dict:
    """The released notebook with every stub filled in from the chapter's solutions; the
    function named ``wrong`` returns twice its right value."""
    nb = json.loads(json.dumps(release))
    solutions = _solutions()
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code":
            names = [fn.name for fn in ast.parse("".join(c["source"])).body]
            src = "\n\n".join(solutions[n] for n in names)
            if wrong in names:
                src += (
                    f"\n\n\n_{wrong} = {wrong}\n\n\ndef {wrong}(*a):\n    return 2 * _{wrong}(*a)"
                )
            c["source"] = src
        elif c["metadata"].get("nbgrader", {}).get("solution"):
            c["source"] = c["source"].replace(student.TEXT_STUB, "The written part, answered.")
    return nb


@pytest.mark.slow
def test_generate_assignment_and_autograde(tmp_path):
    course = tmp_path / "course"
    student.write_course(course, [CHAPTER])
    with (course / "nbgrader_config.py").open("a") as f:
        f.write("c.ExecutePreprocessor.timeout = 300\nc.Execute.timeout = 300\n")
    _nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    released = json.loads((course / "release" / ASSIGNMENT / CHAPTER.name).read_text())
    committed = json.loads(student.edition_path(CHAPTER).read_text())
    # nbgrader releases what the committed student copy holds, cell for cell
    assert _cells(released) == _cells(committed)
    checks = [
        c
        for c in committed["cells"]
        if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade")
    ]
    wrong = next(iter(_solutions()))  # the first exercise's function
    for who, bad in (("right", None), ("wrong", wrong)):
        sub = course / "submitted" / who / ASSIGNMENT / CHAPTER.name
        sub.parent.mkdir(parents=True)
        sub.write_text(json.dumps(_submission(committed, bad)))
        _nbgrader("db", "student", "add", who, cwd=course)
    _nbgrader("autograde", ASSIGNMENT, "--force", cwd=course)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        right = gb.find_submission(ASSIGNMENT, "right")
        bad = gb.find_submission(ASSIGNMENT, "wrong")
        auto = len(checks)
        assert auto >= 2
        assert right.code_score == auto
        assert bad.code_score == auto - 1
        failed = [g.name for g in bad.notebooks[0].grades if g.cell_type == "code" and g.score == 0]
        assert len(failed) == 1 and failed[0].startswith("check-")
        # the written answers wait for the instructor: one point each
        written = sum(
            1
            for c in committed["cells"]
            if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("solution")
        )
        assert written >= 2 and right.needs_manual_grade
        assert right.max_score == auto + written
