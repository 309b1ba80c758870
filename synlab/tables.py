"""Numbers and tables that a chapter shows, built from the stored results.

A chapter's prose never types a number derived from our results. Instead a cell tagged
``hide-input`` calls :func:`show` with a registered builder and the results it needs::

    show("schug2021.consolidation.closing", res, cont)

The builder returns Markdown (a :class:`Table` or a paragraph) and :func:`show` displays it as an
``IPython.display.Markdown`` object, i.e. a ``text/markdown`` cell output. Why this and not
myst-nb's ``glue``: a Markdown output renders the same in the book (myst-nb parses it as MyST),
in Jupyter and in Colab (both render ``text/markdown``) and in student copies (the cell runs there
like any other), while ``{glue}`` roles are shown as raw markup everywhere but the book.

The paper's own numbers stay typed in the prose, wrapped in ``<span class="paper">…</span>`` (plain
HTML, rendered everywhere), or come from the ``PAPER_*`` constants of ``synlab.experiments``.
``tests/test_tables.py`` fails on any other decimal in a chapter's prose, and rebuilds every
registered table from the stored results to compare it with what the chapter's notebook shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Table",
    "fmt",
    "pm",
    "span",
    "show",
    "build",
    "register",
    "TABLES",
    "paper",
]


def fmt(x: float, nd: int = 2, *, sign: bool = False) -> str:
    """``x`` with ``nd`` decimals, a true minus sign, ``n/a`` for NaN."""
    x = float(x)
    if math.isnan(x):
        return "n/a"
    s = f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"
    return s.replace("-", "−")


def pm(mean: float, se: float, nd: int = 2) -> str:
    """``mean ± se`` (``mean (n = 1)`` when the standard error is undefined)."""
    if se is None or math.isnan(float(se)):
        return f"{fmt(mean, nd)} (n = 1)"
    return f"{fmt(mean, nd)} ± {fmt(se, nd)}"


def span(values: Iterable[float], nd: int = 1, unit: str = "") -> str:
    """``lo–hi`` of some values (one value if they agree at this precision)."""
    v = np.asarray(list(values), dtype=float)
    lo, hi = fmt(v.min(), nd), fmt(v.max(), nd)
    return f"{lo}{unit}" if lo == hi else f"{lo}–{hi}{unit}"


def paper(x: float | str, nd: int | None = None) -> str:
    """A paper's value for generated prose, marked like the typed ones."""
    text = x if isinstance(x, str) else (fmt(x, nd) if nd is not None else str(x))
    return f'<span class="paper">{text}</span>'


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


@dataclass(repr=False)
class Table:
    """A Markdown table: a header row, rows of cells, and an optional note under it."""

    header: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    note: str = ""
    align: str = ""  # one of "l", "r", "c" per column (default: left)

    def add(self, *cells: Any) -> Table:
        if len(cells) != len(self.header):
            raise ValueError(f"a row needs {len(self.header)} cells, got {len(cells)}")
        self.rows.append(cells)
        return self

    def markdown(self) -> str:
        marks = {"l": "---", "r": "--:", "c": ":-:"}
        align = (self.align or "l" * len(self.header)).ljust(len(self.header), "l")
        lines = [
            "| " + " | ".join(_cell(h) for h in self.header) + " |",
            "|" + "|".join(marks[a] for a in align) + "|",
        ]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.markdown()

    __repr__ = __str__


@dataclass(frozen=True)
class Builder:
    name: str
    experiments: tuple[str, ...]
    func: Callable[..., Table | str]


TABLES: dict[str, Builder] = {}


def register(name: str, *experiments: str):
    """Register a builder ``f(*results) -> Table | str`` under ``name``.

    ``experiments`` name the results it takes, in order (one ``ExperimentResults`` each); the
    test of generated tables loads them from the store to rebuild the table.
    """

    def deco(func):
        if name in TABLES:
            raise ValueError(f"table {name!r} registered twice")
        TABLES[name] = Builder(name, tuple(experiments), func)
        return func

    return deco


def build(name: str, *results) -> str:
    """The Markdown of table ``name`` built from ``results`` (checked against its registration)."""
    _load_builders()
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known: {sorted(TABLES)}")
    b = TABLES[name]
    got = tuple(getattr(r, "experiment", None) for r in results)
    if got != b.experiments:
        raise ValueError(f"table {name!r} takes results of {b.experiments}, got {got}")
    out = b.func(*results)
    return out.markdown() if isinstance(out, Table) else str(out)


def show(name: str, *results) -> None:
    """Display table ``name`` as Markdown (a ``text/markdown`` output; see the module docs)."""
    from IPython.display import Markdown, display

    display(Markdown(build(name, *results)))


def _load_builders() -> None:
    from . import chapter_tables  # noqa: F401  (registers the builders)
