"""Colab: every install cell comes from _config.yml, and a chapter run the way Colab runs it (an
installed wheel, an empty folder, the install cell live) shows the committed paper-scale results.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synlab import colab

ROOT = Path(__file__).resolve().parent.parent


def test_every_install_cell_comes_from_config():
    assert colab.sync_install_cells() == []
    repo = colab.read_repository()
    cell = colab.install_cell(repo)
    assert f'"{repo.url}"' in cell and f'"{repo.ref}"]' in cell
    # the URL is written nowhere else in the chapters or the student edition
    for path in [
        *ROOT.glob("book/*/*.py"),
        *ROOT.glob("book/*/*.ipynb"),
        *ROOT.glob("student/*/*"),
    ]:
        assert path.read_text().count(repo.url) == 1, path


def test_a_fork_changes_one_place(tmp_path):
    """A fork edits _config.yml (repository.url, .branch), then `python -m synlab.colab --write`."""
    config = (ROOT / "_config.yml").read_text()
    fork = re.sub(r"(?m)^(\s+url:) .*$", r"\1 https://github.com/someone/synlab-fork", config)
    fork = re.sub(r"(?m)^(\s+branch:) .*$", r"\1 0123abc", fork)
    (tmp_path / "_config.yml").write_text(fork)
    chapter = tmp_path / "book" / "part" / "01_x.py"
    chapter.parent.mkdir(parents=True)
    chapter.write_text((ROOT / "book/raman2021/02_sweet_spot.py").read_text())
    old = colab.colab_link(colab.read_repository(), "student/part/01_x.ipynb")
    (tmp_path / "book" / "teaching.md").write_text(f"| [open]({old}) |\n")
    assert colab.main(["--root", str(tmp_path)]) == 1  # --check: the old cell differs
    assert colab.main(["--root", str(tmp_path), "--write"]) == 0
    assert colab.sync_install_cells(tmp_path) == []
    text = chapter.read_text()
    assert "someone/synlab-fork" in text and '"0123abc"]' in text
    assert "synlab-book/synlab" not in text
    assert (
        "someone/synlab-fork/blob/0123abc/student/part/01_x.ipynb"
        in (tmp_path / "book" / "teaching.md").read_text()
    )
    repo = colab.read_repository(tmp_path / "_config.yml")
    assert colab.colab_link(repo, "student/a/01_x.ipynb") == (
        "https://colab.research.google.com/github/someone/synlab-fork/blob/0123abc/"
        "student/a/01_x.ipynb"
    )


def test_teaching_page_links_follow_config():
    repo = colab.read_repository()
    links = re.findall(
        r"\((https://colab\.research\.google\.com/[^)\s]+)\)",
        (ROOT / "book" / "teaching.md").read_text(),
    )
    assert len(links) == len(list(ROOT.glob("student/*/*.ipynb")))
    for link in links:
        path = link.split(f"/blob/{repo.ref}/", 1)[1]
        assert link == colab.colab_link(repo, path) and (ROOT / path).is_file()


# ----------------------------------------------------------------------------- Colab run

#: one chapter per paper, and what shows that it reads the paper-scale results
CHAPTERS = {
    "schug2021/02_energy_efficiency": ["highest first: ['plastic', 'deterministic', 'fixed']"],
    "malkin2024/04_bayesian": ["Results: malkin2024_linear — profile 'full'"],
    "raman2021/02_sweet_spot": ["Results: raman_sweet_spot — profile 'full'"],
}


def _git(*args, cwd):
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory):
    """A wheel of synlab installed with --target, and a local repository standing in for GitHub:
    this tree's package and results committed on the ref _config.yml names."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = colab.read_repository()
    if re.fullmatch(r"[0-9a-f]{7,40}", repo.ref):
        pytest.skip(f"_config.yml names a commit ({repo.ref}); a local stand-in cannot hold it")
    tmp = tmp_path_factory.mktemp("colab")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "synlab", src / "synlab", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp / "dist").glob("synlab-*.whl"))
    target = tmp / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    origin = tmp / "origin"
    shutil.copytree(src, origin)
    shutil.copytree(
        ROOT / "results" / "full", origin / "results" / "full", ignore=shutil.ignore_patterns(".*")
    )
    _git("init", "-q", "-b", repo.ref, cwd=origin)
    _git("add", "-A", cwd=origin)
    _git("commit", "-q", "-m", "stand-in for the book's repository", cwd=origin)
    return target, origin


@pytest.mark.slow
@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_colab_run_shows_paper_scale_results(chapter, colab_env, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    target, origin = colab_env
    run = tmp_path / "content"  # Colab's empty working folder
    run.mkdir()
    for var in ("SYNLAB_RESULTS_DIR", "SYNLAB_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(target))
    monkeypatch.setenv("SYNLAB_REPOSITORY", origin.as_uri())
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path / "cache"))  # no quick results to find
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    stub = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"
    probe = (
        "import os, synlab\nprint('SYNLAB_AT', synlab.__file__, os.environ['SYNLAB_RESULTS_DIR'])"
    )
    nb.cells = [nbformat.v4.new_code_cell(stub), *nb.cells, nbformat.v4.new_code_cell(probe)]
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(run)}}
    ).execute()
    out = "\n".join(
        "".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    clone = run / "synlab-repo"
    assert f"SYNLAB_AT {target / 'synlab' / '__init__.py'} " in out  # the wheel, not this checkout
    assert f"{clone / 'results'}" in out and (clone / "results" / "full").is_dir()
    assert "NOT paper-scale" not in out and "No complete, fresh paper-scale" not in out
    for expected in CHAPTERS[chapter]:
        assert expected in out


def test_absent_results_are_named_honestly(tmp_path, monkeypatch, capsys):
    """Without the repository's results, a chapter says where it looked and how to fix it, then
    computes the quick profile (stubbed here: the message is what is tested)."""
    from synlab import results

    monkeypatch.setenv("SYNLAB_RESULTS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("SYNLAB_PROFILE", raising=False)

    def quick(name, profile, root=None):
        raise RuntimeError(f"would compute {name} [{profile}]")

    monkeypatch.setattr(results, "run_experiment", quick)
    with pytest.raises(RuntimeError, match=r"raman_sweet_spot \[quick\]"):
        results.results_for_chapter("raman_sweet_spot")
    out = capsys.readouterr().out
    assert str(tmp_path / "nowhere" / "full" / "raman_sweet_spot") in out
    assert "SYNLAB_RESULTS_DIR" in out and "NOT paper-scale" in out
