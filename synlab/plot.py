"""Shared figure style: legible at the book's column width, paper-like panel letters, a stamp.

- :func:`use_style` sets the book's style once per chapter. Fonts are sized for the column (tick
  labels 9 pt), and every figure made through pyplot is fitted to the column width when it is
  created (:data:`COLUMN_IN`; its height shrinks in proportion), so the book never shows a figure
  scaled down below its font sizes.
- :func:`panels` makes a figure of ``n`` panels at column width, laid out by matplotlib's
  constrained layout and lettered like the papers' panels: the one call a chapter needs for
  multi-panel plumbing.
- :func:`mark_profile` stamps a figure with its profile and data ids (see :mod:`synlab.stamps`),
  wrapped under the figure so it never widens it.
"""

from __future__ import annotations

import string
import textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .stamps import stamp_text

__all__ = ["use_style", "panel_label", "mark_profile", "panels", "PALETTE", "COLUMN_IN"]

PALETTE = sns.color_palette("colorblind")
#: The book's figure column: 676 CSS px in a 1280-px window (sphinx-book-theme), i.e. 6.7 in at
#: the figures' 100 dpi. A figure no wider than this is shown at its natural size.
COLUMN_IN = 6.7
DPI = 100
TICK_PT = 9.0


#: The narrowest figure: 4.8 in is 65 % of the 740-px content column.
MIN_IN = 4.8


def fit_to_column(fig: plt.Figure) -> None:
    """Fit a figure to the column: wider ones shrink to :data:`COLUMN_IN`, narrower than
    :data:`MIN_IN` ones grow to it, keeping the aspect ratio (fonts keep their size)."""
    w, h = fig.get_size_inches()
    target = min(max(w, MIN_IN), COLUMN_IN)
    if target != w:
        # a wide row of panels keeps some height, so its panels stay legible
        fig.set_size_inches(target, max(h * target / w, min(h, 2.6)), forward=False)


def use_style() -> None:
    """The book's style: seaborn ticks, column-sized fonts, figures fitted to the column."""
    sns.set_theme(
        context="notebook",
        style="ticks",
        palette=PALETTE,
        rc={
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "axes.labelsize": 10,
            "axes.titlesize": 10,
            "xtick.labelsize": TICK_PT,
            "ytick.labelsize": TICK_PT,
            "legend.fontsize": 8.5,
            "legend.title_fontsize": 9,
            "figure.titlesize": 11,
            "mathtext.fontset": "dejavusans",
            "axes.formatter.use_mathtext": True,
        },
    )
    mpl.rcParams["figure.hooks"] = ["synlab.plot:fit_to_column"]


def panels(
    n: int = 1,
    ncols: int | None = None,
    *,
    height: float = 2.6,
    width: float = COLUMN_IN,
    letters: str | bool = True,
    **subplot_kw,
):
    """A figure of ``n`` panels at column width (``ncols`` per row, at most 3 by default).

    Returns ``(fig, axes)`` with ``axes`` a flat list of length ``n``. Panels are lettered
    a, b, c… (or by ``letters``, a string), laid out by constrained layout so letters, titles
    and axis labels never collide.
    """
    ncols = ncols or min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, height * nrows),
        layout="constrained",
        squeeze=False,
        **subplot_kw,
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    flat = flat[:n]
    if isinstance(letters, str) or (letters and n > 1):
        names = letters if isinstance(letters, str) else string.ascii_lowercase
        for ax, letter in zip(flat, names, strict=False):
            panel_label(ax, letter)
    return fig, flat


def panel_label(ax: plt.Axes, label: str) -> None:
    """A bold panel letter above the top-left corner of ``ax``: a left-aligned title (layout
    engines keep it clear of the axis labels), or, when the panel has a centred title, just
    left of the panel's top-left corner so the two never overlap."""
    if ax.get_title(loc="center"):
        ax.text(
            -0.02,
            1.02,
            label,
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontweight="bold",
            fontsize=12,
        )
    else:
        ax.set_title(label, loc="left", fontweight="bold", fontsize=12)


def mark_profile(fig: plt.Figure, results) -> None:
    """Stamp the figure with its profile and data ids (from an ExperimentResults), under it."""
    width_in = min(fig.get_size_inches()[0], COLUMN_IN)
    chars = max(40, int(width_in * 72 / (7 * 0.55)))
    text = "\n".join(textwrap.wrap(stamp_text(results, width=10_000), width=chars))
    fig.text(0.01, 0.0, text, ha="left", va="top", fontsize=7, color="0.4")
