"""How long each chapter takes to run top to bottom: a measurement, not a timed test.

    python benchmarks/chapter_times.py [--write] [CHAPTER ...]

Executes every chapter notebook (or the ones named) in a fresh kernel, twice:

* **committed results**: as a reader runs it (locally, or in Colab after the install cell):
  the committed paper-scale results are read, nothing is trained;
* **quick profile**: with no stored results at all (an empty results folder and cache), so
  every experiment is computed in its ``quick`` profile, as for a fork that changed a config.

It prints a Markdown table with the machine it ran on; ``--write`` puts that table into
``book/teaching.md`` between the ``chapter-times`` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synlab import colab  # noqa: E402

BEGIN, END = "<!-- chapter-times:begin -->", "<!-- chapter-times:end -->"


def run_chapter(path: Path, env: dict[str, str]) -> float:
    """Wall time (s) of executing ``path`` in a fresh kernel with ``env`` set."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as cwd:
            nbclient.NotebookClient(
                nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": cwd}}
            ).execute()
        return time.perf_counter() - t0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count() or 1
    busy = (
        f" (shared with other work: load average {load:.1f} on {cores} cores at the start, so "
        "these times are upper bounds)"
        if load > cores
        else f", load average {load:.1f} at the start"
    )
    return (
        f"{platform.processor() or platform.machine()}, {cores} logical cores, "
        f"Python {platform.python_version()}{busy}"
    )


def _secs(t: float | None) -> str:
    return "—" if t is None else f"{t:.0f} s"


def _total(ts: list[float | None]) -> str:
    return "—" if any(t is None for t in ts) else f"{sum(ts) / 60:.1f} min"


def previous(page: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """The times already on ``page`` (chapter -> (committed, quick) cells) and the line that
    says where each column was measured, so a run of one mode keeps the other column."""
    text = page.read_text()
    cells = {
        m.group(1): (m.group(2).strip(), m.group(3).strip())
        for m in re.finditer(r"^\| \{doc\}`([^`]+)` \|[^|]*\|([^|]*)\|([^|]*)\|$", text, re.M)
    }
    where = dict(re.findall(r"^- (committed results|quick profile): (.*)$", text, re.M))
    return cells, where


def table(rows: list[tuple[Path, float | None, float | None]], where: str, page: Path) -> str:
    """The Markdown table of ``rows``; a column this run did not measure keeps its cells (and its
    provenance line) from ``page``."""
    repo = colab.read_repository(ROOT / "_config.yml")
    old, old_where = previous(page) if page.exists() else ({}, {})
    stamp = f"on {where}, {time.strftime('%Y-%m-%d')}"
    measured = {
        "committed results": any(r[1] is not None for r in rows),
        "quick profile": any(r[2] is not None for r in rows),
    }
    lines = ["Measured by `python benchmarks/chapter_times.py --write`, one column at a time:", ""]
    for col, now in measured.items():
        lines.append(f"- {col}: {stamp if now else old_where.get(col, 'not measured yet')}")
    lines += [
        "",
        "| chapter | student copy in Colab | committed results | quick profile |",
        "|---|---|---:|---:|",
    ]
    totals: list[list[float | None]] = [[], []]
    for path, committed, quick in rows:
        rel = str(path.relative_to(ROOT / "book").with_suffix(""))
        link = colab.colab_link(repo, f"student/{rel}.ipynb")
        cells = []
        for i, t in enumerate((committed, quick)):
            cell = _secs(t) if t is not None else old.get(rel, ("—", "—"))[i]
            m = re.fullmatch(r"(\d+) s", cell)
            totals[i].append(float(m.group(1)) if m else None)
            cells.append(cell)
        lines.append(f"| {{doc}}`{rel}` | [open]({link}) | {cells[0]} | {cells[1]} |")
    lines.append(f"| all {len(rows)} | | {_total(totals[0])} | {_total(totals[1])} |")
    if any(None in t for t in totals):
        lines += ["", "—: not measured yet."]
    return "\n".join(lines)


PAGE = ROOT / "book" / "teaching.md"


def write(text: str, page: Path = PAGE) -> None:
    old = page.read_text()
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{page} has no {BEGIN} ... {END} markers")
    new = re.sub(
        re.escape(BEGIN) + ".*?" + re.escape(END), BEGIN + "\n" + text + "\n" + END, old, flags=re.S
    )
    page.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter notebooks (default: all)")
    parser.add_argument("--write", action="store_true", help="update book/teaching.md")
    parser.add_argument(
        "--modes",
        default="committed,quick",
        help="which columns to measure: committed, quick or both (default)",
    )
    args = parser.parse_args(argv)
    modes = set(args.modes.split(","))
    if not modes or modes - {"committed", "quick"}:
        parser.error("--modes takes committed, quick or committed,quick")
    paths = [Path(c).resolve() for c in args.chapters] or sorted(
        (ROOT / "book").glob("*/[0-9][0-9]_*.ipynb")
    )
    where = machine()
    base = {"SYNLAB_PROGRESS": "0", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    rows: list[tuple[Path, float | None, float | None]] = [(p, None, None) for p in paths]
    with tempfile.TemporaryDirectory() as empty:
        for i, path in enumerate(paths):
            committed = quick = None
            if "committed" in modes:
                env = {**base, "SYNLAB_RESULTS_DIR": str(ROOT / "results")}
                committed = run_chapter(path, env)
            if "quick" in modes:
                env = {
                    **base,
                    "SYNLAB_RESULTS_DIR": str(Path(empty) / f"results-{path.stem}"),
                    "SYNLAB_CACHE_DIR": str(Path(empty) / f"cache-{path.stem}"),
                    "SYNLAB_PROFILE": "quick",
                }
                quick = run_chapter(path, env)
            print(f"{path.relative_to(ROOT)}: {_secs(committed)} / {_secs(quick)}", flush=True)
            rows[i] = (path, committed, quick)
            if args.write:  # as it goes: a long run leaves what it measured
                write(table(rows, where, PAGE))
    if hasattr(os, "getloadavg"):  # a busy machine at the end also makes these upper bounds
        where += f"; load average {os.getloadavg()[0]:.1f} at the end"
    if args.write:
        write(table(rows, where, PAGE))
    print(table(rows, where, PAGE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
