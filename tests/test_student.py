"""The student edition: what survives, what does not, and that "Run all" reaches every check.

The chapter tests read the committed edition (``student/``) and the chapters' ``.py`` files;
``test_edition_matches_the_chapters`` keeps the two in sync.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import io
import json
import re
from pathlib import Path

import pytest

from synlab import student
from synlab.__main__ import main
from synlab.exercises import EXERCISES, Feedback, _load_parts, close, exercise

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*/[0-9][0-9]_*.py"))
IDS = [f"{p.parent.name}/{p.stem}" for p in CHAPTERS]


@functools.cache
def _copy(chapter: Path) -> dict:  # read once per session; the tests never change it
    return json.loads(student.edition_path(chapter.with_suffix(".ipynb")).read_text())


@functools.cache
def _chapter(chapter: Path):
    return jupytext.read(chapter)


def _text(nb: dict, kind: str | None = None) -> str:
    return "\n".join(
        "".join(c["source"]) for c in nb["cells"] if kind is None or c["cell_type"] == kind
    )


def test_edition_matches_the_chapters():
    """The committed student/ folder is what `python -m synlab.student edition` writes."""
    assert student.check_edition() == []
    assert len(list((ROOT / student.EDITION_DIR).glob("*/*.ipynb"))) == len(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_prompts_labels_and_summary_survive(chapter):
    nb, copy = _chapter(chapter), _copy(chapter)
    md = _text(copy, "markdown")
    exercises = [
        m
        for c in nb.cells
        if c.cell_type == "markdown"
        for m in re.finditer(r"```\{exercise\}(.*?)\n(.*?)```", c.source, re.S)
    ]
    assert len(exercises) >= 2
    for k, m in enumerate(exercises, 1):
        label = re.search(r":label: (\S+)", m.group(2)).group(1)
        assert f'<a id="{label}"></a>' in md
        assert f"### Exercise {k}: {m.group(1).strip()}" in md
        prompt = re.sub(r"^:\w+:.*\n", "", m.group(2), flags=re.M).strip()
        for line in prompt.splitlines():  # every line of the prompt (citations become text)
            parts = re.split(r"\{cite:[tp]\}`[^`]+`", line)
            assert all(part.strip() in md for part in parts if part.strip()), line
    headings = [
        h
        for c in nb.cells
        if c.cell_type == "markdown"
        for h in re.findall(r"^#+ .*Summary.*$", c.source, re.M)
    ]
    assert headings, "every chapter ends with a Summary"
    for h in headings:
        assert h in md
    checks = re.findall(r'assert check\("([\w.]+)"', "\n".join(c.source for c in nb.cells))
    shown = re.findall(r'^check\("([\w.]+)", \w+\)', _text(copy, "code"), re.M)
    assert shown == checks  # every check cell, in order


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_no_solution_text_survives(chapter):
    nb, copy = _chapter(chapter), _copy(chapter)
    text = _text(copy)
    # what the chapter shows outside its solutions may stay (the same formula in a plot cell)
    shown = "\n".join(
        c.source
        for c in nb.cells
        if "solution" not in c.metadata.get("tags", []) and "{solution}" not in c.source
    )
    for c in nb.cells:
        if c.cell_type == "code" and "solution" in c.metadata.get("tags", []):
            tree = ast.parse(c.source)
            for fn in tree.body:
                for node in fn.body:
                    seg = ast.get_source_segment(c.source, node)
                    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                        assert seg.strip() in shown or seg.strip() not in text, seg
        if c.cell_type == "markdown":
            for m in re.finditer(r"```\{solution\}.*?\n(.*?)```", c.source, re.S):
                for line in m.group(1).splitlines():
                    if len(line) > 30 and not line.startswith(":"):
                        assert line.strip() not in text, line
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert not any(c["cell_type"] == "code" and c["outputs"] for c in copy["cells"])


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_copies_are_valid_notebooks(chapter):
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(json.dumps(_copy(chapter)), as_version=4))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_plain_markdown(chapter):
    """No MyST syntax Jupyter would show raw; citations are author-year text."""
    md = _text(_copy(chapter), "markdown")
    assert not re.search(r"\{cite|\{exercise\}|\{solution\}|^```\{|^:label:|^:class:", md, re.M)
    if "{cite:t}`schug2021`" in _text(json.loads(chapter.with_suffix(".ipynb").read_text())):
        assert "Schug et al. (2021)" in md


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_run_all_reaches_every_check(chapter):
    """Only stubs and check cells use a stubbed function, every stub raises inside its body, and
    every check cell runs without raising and prints its checker's hint."""
    copy = _copy(chapter)
    cells = [c for c in copy["cells"] if c["cell_type"] == "code"]
    stubs = [c for c in cells if c["metadata"].get("nbgrader", {}).get("solution")]
    checks = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    names = {
        fn.name
        for c in stubs
        for fn in ast.parse("".join(c["source"])).body
        if isinstance(fn, ast.FunctionDef)
    }
    assert names and len(checks) >= 1
    for c in cells:
        if c in stubs or c in checks:
            continue
        src = "\n".join(
            line for line in "".join(c["source"]).splitlines() if not line.startswith("%")
        )
        used = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        assert not used & names, f"a non-exercise cell uses {used & names}"
    ns: dict = {}
    for c in stubs:
        exec("".join(c["source"]), ns)  # defining the stubs never raises: their bodies do
    exec("from synlab.exercises import check", ns)
    for c in checks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec("".join(c["source"]), ns)
        assert "✘ Not yet." in out.getvalue() and "NotImplementedError" in out.getvalue()


def test_every_check_in_the_chapters_asserts():
    for chapter in CHAPTERS:
        for c in _chapter(chapter).cells:
            if c.cell_type != "code":
                continue
            for line in c.source.splitlines():
                if re.search(r"(^|[^\w.])check\(", line):
                    assert re.fullmatch(r'assert check\("[\w.]+", \w+\)', line.strip()), (
                        f"{chapter.name}: {line}"
                    )


# ----------------------------------------------------------------------------- the tool


def _notebook():
    md = lambda s: {"cell_type": "markdown", "metadata": {}, "source": s}  # noqa: E731
    code = lambda s, tags=(): {  # noqa: E731
        "cell_type": "code",
        "metadata": {"tags": list(tags)},
        "source": s,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
        "execution_count": 3,
    }
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            md("# Title\nAs {cite:t}`schug2021` and {cite:p}`raman2021,malkin2024` show."),
            md("```{exercise} Square\n:label: ex-sq\nWrite `sq(x)`, $x^2$.\n```"),
            code('def sq(x):\n    """x squared."""\n    return x * x\n', ("solution", "hide-cell")),
            code('assert check("test.square", sq)'),
            code("print(sq(3))", ("book-only",)),
            md("```{solution} ex-sq\n:class: dropdown\nMultiply.\n```\n\n## Summary\nDone."),
        ],
    }


@pytest.fixture
def square_exercise(monkeypatch):
    _load_parts()
    monkeypatch.delitem(EXERCISES, "test.square", raising=False)

    @exercise("test.square")
    def checker(fn):
        ok = all(close(fn(x), x * x) for x in (0.0, 1.5, -2.0))
        return Feedback(ok, "right" if ok else "hint: multiply x by itself")

    yield
    EXERCISES.pop("test.square", None)


def test_student_copy_of_a_small_notebook(square_exercise):
    copy, removed = student.strip_solutions(_notebook())
    assert removed == 2  # one code solution, one written answer
    src = [c["source"] for c in copy["cells"]]
    assert src[0] == (
        "# Title\nAs Schug et al. (2021) and (Raman and O'Leary, 2021; Malkin et al., 2024) show."
    )
    assert src[2] == '### Exercise 1: Square <a id="ex-sq"></a>\n\nWrite `sq(x)`, $x^2$.'
    assert (
        src[3]
        == 'def sq(x):\n    """x squared."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    )
    assert src[4] == 'check("test.square", sq)  # says what is right or wrong'
    assert src[5] == "**Your answer to exercise 1:**\n\nYOUR ANSWER HERE"
    assert src[6] == "## Summary\nDone."
    assert "print(sq(3))" not in src and "Multiply." not in "".join(src)
    ns: dict = {}
    exec(src[3], ns)
    with pytest.raises(NotImplementedError):
        ns["sq"](2.0)
    source = student.nbgrader_source(_notebook(), chapter="ch.py")
    test = next(
        c
        for c in source["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"
    )
    assert 'assert check("test.square", sq, quiet=True)' in test["source"]
    assert test["metadata"]["nbgrader"]["points"] == 1


def test_a_check_without_assert_is_refused():
    nb = _notebook()
    nb["cells"][3]["source"] = 'check("test.square", sq)'
    with pytest.raises(ValueError, match="assert check"):
        student.nbgrader_source(nb, chapter="ch.py")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(args, capsys) -> tuple[int, str]:
    code = main(["student", *map(str, args)])
    err = capsys.readouterr().err.strip()
    return code, err


def test_student_cli_writes_a_copy(tmp_path, capsys):
    src = tmp_path / "ch.ipynb"
    src.write_text(json.dumps(_notebook()))
    out = tmp_path / "out" / "student.ipynb"
    assert _cli([src.with_suffix(".py"), "-o", out], capsys) == (0, "")
    assert "Multiply." not in out.read_text() and "YOUR ANSWER HERE" in out.read_text()


@pytest.mark.parametrize(
    "case",
    [
        "source",
        "twin",
        "folder",
        "not-ipynb",
        "truncated",
        "not-a-notebook",
        "missing",
        "no-exercises",
        "binary",
    ],
)
def test_student_cli_refuses_bad_paths_in_one_line(tmp_path, capsys, case):
    """What the user sees: exit 2 and one line naming the path; nothing of theirs is touched."""
    src = tmp_path / "ch.ipynb"
    src.write_text(json.dumps(_notebook()))
    twin = tmp_path / "ch.py"
    twin.write_text("# %% [markdown]\n# # Title\n")
    before = {p: _digest(p) for p in (src, twin)}
    out, inp = tmp_path / "copy.ipynb", src
    if case == "source":
        out = src
    elif case == "twin":
        out = twin
    elif case == "folder":
        out = tmp_path
    elif case == "not-ipynb":
        out = tmp_path / "copy.json"
    elif case == "truncated":
        inp = tmp_path / "cut.ipynb"
        inp.write_text(src.read_text()[:50])
    elif case == "not-a-notebook":
        inp = tmp_path / "list.ipynb"
        inp.write_text("[1, 2]")
    elif case == "missing":
        inp = tmp_path / "nope.ipynb"
    elif case == "no-exercises":
        inp = tmp_path / "plain.ipynb"
        inp.write_text(json.dumps({**_notebook(), "cells": _notebook()["cells"][:1]}))
    elif case == "binary":
        inp = tmp_path / "bin.ipynb"
        inp.write_bytes(b"\xff\xfe\x00garbage")
    code, err = _cli([inp, "-o", out], capsys)
    assert code == 2 and err.startswith("error: ") and "\n" not in err
    named = out if case in {"source", "twin", "folder", "not-ipynb"} else inp
    assert named.name in err, err
    assert {p: _digest(p) for p in (src, twin)} == before
    assert not (tmp_path / "copy.ipynb").exists()
