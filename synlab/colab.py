"""The Colab install cell of every chapter, generated from one place: ``_config.yml``.

``_config.yml`` names the book's repository (``repository.url``) and one ref
(``repository.branch``: a branch, a tag or a commit). Jupyter Book builds each page's Colab
button from the same two keys. This module writes the install cell of every chapter from them
(``python -m synlab.colab --write``) and checks that every chapter's cell is the one they give
(``python -m synlab.colab --check``, also run by ``tests/test_colab.py``).

In Colab the cell fetches the repository at that ref (a shallow ``git fetch``: the code and the
committed paper-scale results of one commit), installs ``synlab`` from it and points
``SYNLAB_RESULTS_DIR`` at its ``results/`` folder, so a chapter shows the numbers the book shows.
``SYNLAB_REPOSITORY`` replaces the URL at run time (a fork, a mirror or a local clone).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MARKER",
    "Repository",
    "read_repository",
    "install_cell",
    "colab_link",
    "chapter_files",
    "sync_install_cells",
    "main",
]

#: the first line of every chapter's install cell: how the cell is found
MARKER = "# Runs only in Google Colab"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Repository:
    """The book's repository and the ref its install cells and Colab links use."""

    url: str
    ref: str
    colab_url: str = "https://colab.research.google.com"

    @property
    def github_path(self) -> str:
        """``owner/name`` of a GitHub URL (what Colab's ``/github/`` links take)."""
        m = re.fullmatch(r"https://github\.com/([^/\s]+/[^/\s]+?)(?:\.git)?/?", self.url)
        if not m:
            raise ValueError(f"repository.url {self.url!r} is not https://github.com/OWNER/NAME")
        return m.group(1)


def read_repository(config: Path | str | None = None) -> Repository:
    """``repository.url`` and ``repository.branch`` (the ref) of ``_config.yml``."""
    import yaml

    path = Path(config) if config is not None else ROOT / "_config.yml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    repo = (data or {}).get("repository") or {}
    url, ref = repo.get("url"), repo.get("branch")
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{path}: repository.url is missing")
    if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z0-9._/-]+", ref.strip()):
        raise ValueError(f"{path}: repository.branch (a branch, tag or commit) is missing or odd")
    colab = ((data.get("launch_buttons") or {}).get("colab_url")) or Repository.colab_url
    return Repository(url.strip().rstrip("/"), ref.strip(), colab.rstrip("/"))


def install_cell(repo: Repository) -> str:
    """The source of the install cell (already in ``ruff format`` style)."""
    return f'''{MARKER} (a no-op anywhere else): fetches the book's repository at
# the ref the book was built from, installs synlab from it and points synlab at the committed
# paper-scale results. Generated from _config.yml by `python -m synlab.colab --write`.
import sys

if "google.colab" in sys.modules:
    import importlib.util
    import os
    import subprocess
    from pathlib import Path

    url = os.environ.get("SYNLAB_REPOSITORY", "{repo.url}")
    repo = Path("synlab-repo").resolve()
    if not (repo / "pyproject.toml").is_file():
        repo.mkdir(exist_ok=True)
        for git in (["init", "-q"], ["fetch", "-q", "--depth", "1", url, "{repo.ref}"]):
            subprocess.run(["git", "-C", str(repo), *git], check=True)
        subprocess.run(["git", "-C", str(repo), "checkout", "-q", "FETCH_HEAD"], check=True)
    if importlib.util.find_spec("synlab") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(repo)], check=True)
    os.environ["SYNLAB_RESULTS_DIR"] = str(repo / "results")
'''.rstrip("\n")


def colab_link(repo: Repository, path: str) -> str:
    """The Colab URL that opens ``path`` (a notebook in the repository) at the configured ref."""
    return f"{repo.colab_url}/github/{repo.github_path}/blob/{repo.ref}/{path}"


def chapter_files(root: Path | str | None = None) -> list[Path]:
    """Every chapter's ``.py`` (``book/<part>/NN_name.py``)."""
    return sorted((Path(root) if root is not None else ROOT).glob("book/*/[0-9][0-9]_*.py"))


_PY_CELL = re.compile(r"(# %%\n)(" + re.escape(MARKER) + r".*?)(?=\n+# %%)", re.S)


def _sync_py(path: Path, cell: str, write: bool) -> bool:
    text = path.read_text()
    m = _PY_CELL.search(text)
    if m is None:
        raise ValueError(f"{path}: no install cell (a code cell starting {MARKER!r})")
    if m.group(2) == cell:
        return True
    if write:
        path.write_text(text[: m.start(2)] + cell + text[m.end(2) :])
    return False


def _sync_ipynb(path: Path, cell: str, write: bool) -> bool:
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "code" and src.startswith(MARKER):
            if src == cell:
                return True
            if write:
                c["source"] = cell.splitlines(keepends=True)
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            return False
    raise ValueError(f"{path}: no install cell (a code cell starting {MARKER!r})")


_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/")


def _sync_links(page: Path, repo: Repository, write: bool) -> bool:
    """The Colab links of ``page`` (the teaching page) point at the configured repository."""
    text = page.read_text()
    new = _LINK.sub(colab_link(repo, ""), text)
    if new != text and write:
        page.write_text(new)
    return new == text


def sync_install_cells(root: Path | str | None = None, *, write: bool = False) -> list[Path]:
    """Files (chapter ``.py`` and ``.ipynb``, the teaching page's Colab links) that differ from
    ``_config.yml``; with ``write``, rewrite them (an ``.ipynb`` keeps its outputs: the install
    cell has none outside Colab)."""
    root = Path(root) if root is not None else ROOT
    repo = read_repository(root / "_config.yml")
    cell = install_cell(repo)
    differ = []
    teaching = root / "book" / "teaching.md"
    if teaching.is_file() and not _sync_links(teaching, repo, write):
        differ.append(teaching)
    for py in chapter_files(root):
        if not _sync_py(py, cell, write):
            differ.append(py)
        nb = py.with_suffix(".ipynb")
        if nb.is_file() and not _sync_ipynb(nb, cell, write):
            differ.append(nb)
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synlab.colab",
        description="Check (default) or rewrite every chapter's Colab install cell and the "
        "teaching page's Colab links from _config.yml's repository.url and repository.branch.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the cells that differ")
    parser.add_argument("--root", default=None, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        differ = sync_install_cells(args.root, write=args.write)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    repo = read_repository(Path(args.root or ROOT) / "_config.yml")
    if not differ:
        print(f"every install cell uses {repo.url} at {repo.ref}")
        return 0
    verb = "rewrote" if args.write else "differ from _config.yml"
    print(f"{len(differ)} file(s) {verb}:", *(f"  {p}" for p in differ), sep="\n")
    return 0 if args.write else 1


if __name__ == "__main__":
    sys.exit(main())
