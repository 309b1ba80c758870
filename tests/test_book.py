"""Structure of the book: the TOC, chapter pairs, the Colab cell, exercises, citations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from synlab.exercises import EXERCISES, _load_parts

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


def _chapters() -> list[Path]:
    return [ROOT / f"{f}.ipynb" for f in _toc_files() if re.search(r"/\d\d_[^/]+$", f)]


CHAPTERS = _chapters()
IDS = [str(p.relative_to(ROOT)) for p in CHAPTERS]


def _cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_toc_entries_exist():
    for f in _toc_files():
        assert any((ROOT / f"{f}{ext}").is_file() for ext in (".md", ".ipynb")), (
            f"{f} in _toc.yml has no file"
        )


def test_every_chapter_file_is_in_the_toc():
    listed = {ROOT / f"{f}.ipynb" for f in _toc_files()}
    for nb in BOOK.glob("*/[0-9][0-9]_*.ipynb"):
        assert nb in listed, f"{nb.relative_to(ROOT)} is not in _toc.yml"


@pytest.mark.parametrize("nb", CHAPTERS, ids=IDS)
def test_chapter_has_py_twin_and_stored_outputs_without_errors(nb):
    assert nb.with_suffix(".py").is_file(), f"{nb.name} has no jupytext .py twin"
    code = [c for c in _cells(nb) if c["cell_type"] == "code"]
    assert any(c.get("outputs") for c in code), f"{nb.name} was not executed (no stored outputs)"
    for c in code:
        for out in c.get("outputs", []):
            assert out["output_type"] != "error", f"{nb.name} stores an error output"
            if out.get("name") == "stderr":
                assert "Traceback" not in "".join(out.get("text", "")), (
                    f"{nb.name} stores a traceback"
                )


def _colab_cell(nb: Path) -> str:
    first = next(c for c in _cells(nb) if c["cell_type"] == "code")
    return _src(first)


@pytest.mark.parametrize("nb", CHAPTERS, ids=IDS)
def test_colab_cell_installs_only_inside_colab(nb, monkeypatch, tmp_path):
    """Outside Colab the install cell does nothing; inside, it takes a shallow clone of the
    configured repository (whose results the chapter then reads). The pip install is skipped here
    because synlab is importable; tests/test_colab.py runs the whole path from a built wheel."""
    src = _colab_cell(nb)
    assert "google.colab" in src, f"the first code cell of {nb.name} must be the Colab install cell"
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.chdir(tmp_path)  # the cell clones into ./synlab-repo
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("SYNLAB_REPOSITORY", raising=False)
    exec(compile(src, str(nb), "exec"), {})
    assert calls == [], "the install cell must be a no-op outside Colab"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("SYNLAB_RESULTS_DIR", "unchanged")
    exec(compile(src, str(nb), "exec"), {})
    cmds = [c[0] for c in calls]
    assert [c[3] for c in cmds] == ["init", "fetch", "checkout"] and all(
        c[0] == "git" for c in cmds
    )
    assert any("github.com" in a for a in cmds[1]), "fetch the configured repository"
    assert os.environ["SYNLAB_RESULTS_DIR"] == str(tmp_path / "synlab-repo" / "results")


@pytest.mark.parametrize("nb", CHAPTERS, ids=IDS)
def test_chapter_exercises_have_dropdown_solutions_and_known_checkers(nb):
    text = "\n".join(_src(c) for c in _cells(nb))
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: ([\w-]+)", text)
    assert len(labels) >= 2, f"{nb.name} needs at least two exercises with labels (found {labels})"
    for label in labels:
        m = re.search(r"```\{solution\} " + re.escape(label) + r"\n((?::\w+:[^\n]*\n)*)", text)
        assert m, f"exercise {label} in {nb.name} has no solution"
        assert ":class: dropdown" in m.group(1), (
            f"the solution of {label} must be folded (:class: dropdown)"
        )
    _load_parts()
    for name in re.findall(r"check\(\s*[\"']([\w.]+)[\"']", text):
        assert name in EXERCISES, f"{nb.name} checks unknown exercise {name!r}"


def test_citations_exist_in_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (BOOK / "references.bib").read_text()))
    for path in [*BOOK.rglob("*.md"), *BOOK.rglob("*.ipynb")]:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, (
                    f"{path.relative_to(ROOT)} cites unknown key {key.strip()!r}"
                )


PAPER_DOIS = {
    "schug2021": "10.7554/eLife.69884",
    "malkin2024": "10.7554/eLife.92595",
    "raman2021": "10.7554/eLife.62912",
}


@pytest.mark.parametrize(
    "nb",
    [c for c in CHAPTERS if c.parent.name in PAPER_DOIS],
    ids=[str(c.relative_to(ROOT)) for c in CHAPTERS if c.parent.name in PAPER_DOIS],
)
def test_paper_chapters_link_the_paper_they_reproduce(nb):
    intro = _src(next(c for c in _cells(nb) if c["cell_type"] == "markdown"))
    assert f"doi.org/{PAPER_DOIS[nb.parent.name]}" in intro, (
        f"{nb.name}: the opening cell must link the paper (DOI)"
    )
