"""Experiments: one module per part of the book, each registering its experiments here.

An :class:`Experiment` is plain data: a function from profile to config (a dataclass whose
defaults are the paper's values), a function listing the run units of a config (one sweep
point × one seed each), and a function that runs one unit and returns its results as a dict
of numbers, lists and numpy arrays (plus ``"data_source"`` when data were loaded). The
results store (:mod:`synlab.results`) caches units, records provenance and resumes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Experiment", "EXPERIMENTS", "register", "get_experiment", "PART_MODULES"]


@dataclass(frozen=True)
class Experiment:
    """A named experiment: ``make_config(profile)``, ``units(config)``, ``run_unit(config, unit)``."""

    name: str
    description: str
    make_config: Callable[[str], Any]
    units: Callable[[Any], list[dict[str, Any]]]
    run_unit: Callable[[Any, dict[str, Any]], dict[str, Any]]
    part: str = ""
    #: optional: run several units as one stacked computation, ``run_group(config, units)`` returning
    #: one result per unit (same contents as ``run_unit``); units are grouped by ``group_key(unit)``.
    #: The runner uses it where stacking pays (a CUDA device) or when ``SYNLAB_STACK=1``.
    run_group: Callable[[Any, list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    group_key: Callable[[dict[str, Any]], Any] | None = None
    #: optional: ``unit_config(config_json, unit)``, the part of the config (in its JSON form, as
    #: stored in provenance) that ``unit`` depends on. A stored unit whose part is unchanged stays
    #: fresh when another part of the config changes (another method's hyperparameters, say);
    #: without it any change of the config makes every unit stale.
    unit_config: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None

    def __post_init__(self) -> None:
        if (self.run_group is None) != (self.group_key is None):
            raise ValueError(f"{self.name}: run_group and group_key go together")


EXPERIMENTS: dict[str, Experiment] = {}

#: The modules (one per book part) whose import registers experiments.
PART_MODULES: tuple[str, ...] = (
    "foundations",
    "schug2021",
    "schug2021_lifelong",
    "malkin2024",
    "raman2021",
    "synthesis",
)


def register(exp: Experiment) -> Experiment:
    """Add ``exp`` to the registry (names must be unique)."""
    if exp.name in EXPERIMENTS and EXPERIMENTS[exp.name] is not exp:
        raise ValueError(f"an experiment named {exp.name!r} is already registered")
    EXPERIMENTS[exp.name] = exp
    return exp


def _load_parts() -> None:
    for mod in PART_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name``; ValueError listing the known names otherwise."""
    _load_parts()
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS)) or "(none)"
        raise ValueError(f"unknown experiment {name!r}; known experiments: {known}")
    return EXPERIMENTS[name]


def all_experiments() -> dict[str, Experiment]:
    """Every registered experiment, after importing all part modules."""
    _load_parts()
    return dict(EXPERIMENTS)
