"""Shared figure style: seaborn defaults, paper-like panel labels, and a profile badge.

Every figure of a chapter that shows a computed result calls :func:`mark_profile` so a reader
can tell a quick run from paper-scale results at a glance.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["use_style", "panel_label", "mark_profile", "PALETTE"]

PALETTE = sns.color_palette("colorblind")


def use_style() -> None:
    """The book's matplotlib style (seaborn ticks, readable sizes)."""
    sns.set_theme(
        context="notebook",
        style="ticks",
        palette=PALETTE,
        rc={"figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False},
    )


def panel_label(ax: plt.Axes, label: str) -> None:
    """A bold panel letter in the top-left corner, as in the papers' figures."""
    ax.text(
        -0.12,
        1.05,
        label,
        transform=ax.transAxes,
        fontweight="bold",
        fontsize=13,
        va="bottom",
        ha="right",
    )


def mark_profile(fig: plt.Figure, results) -> None:
    """Stamp the figure with its profile and data source (from an ExperimentResults)."""
    profile = getattr(results, "profile", str(results))
    sources = "; ".join(getattr(results, "data_sources", []))
    text = f"profile: {profile}" + (
        " (NOT paper scale)" if profile == "quick" else " (paper scale)"
    )
    if sources and sources != "none (synthetic)":
        text += f" — data: {sources}"
    fig.text(0.99, 0.005, text, ha="right", va="bottom", fontsize=7, color="0.4")
