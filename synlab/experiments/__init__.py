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

__all__ = [
    "Experiment",
    "EXPERIMENTS",
    "ENGINES",
    "register",
    "get_experiment",
    "PART_MODULES",
    "profile_config",
]

#: The engines a training step can run on (``synlab run EXP --engine NAME``):
#: ``autograd``: the readable reference step (autograd's backward pass); ``fused``: the
#: hand-derived step (:mod:`synlab.fast.fused`, :mod:`synlab.fast.stacked`), eager;
#: ``compiled``: the hand-derived step compiled by ``torch.compile``. Same numbers up to float
#: rounding (``tests/test_fast_fused.py``, ``tests/test_fast_stacked.py``).
ENGINES = ("autograd", "fused", "compiled")


@dataclass(frozen=True)
class Experiment:
    """A named experiment: ``make_config(profile)``, ``units(config)``, ``run_unit(config,
    unit)``."""

    name: str
    description: str
    make_config: Callable[[str], Any]
    units: Callable[[Any], list[dict[str, Any]]]
    run_unit: Callable[[Any, dict[str, Any]], dict[str, Any]]
    part: str = ""
    #: optional: run several units as one stacked computation, ``run_group(config, units)``
    #: returning one result per unit (same contents as ``run_unit``); units are grouped by
    #: ``group_key(unit)``.
    #: The runner uses it with ``stack`` other than 1 (the default on a CUDA device; see
    #: :func:`synlab.results.run_experiments`).
    run_group: Callable[[Any, list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    group_key: Callable[[dict[str, Any]], Any] | None = None
    #: optional: ``unit_config(config_json, unit)``, the part of the config (in its JSON form, as
    #: stored in provenance) that ``unit`` depends on. A stored unit whose part is unchanged stays
    #: fresh when another part of the config changes (another method's hyperparameters, say);
    #: without it any change of the config makes every unit stale.
    unit_config: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None
    #: the engines (:data:`ENGINES`) its training steps have; the first is the default on a
    #: CPU, ``compiled`` (where declared) on CUDA. With more than one, ``run_unit`` and
    #: ``run_group`` take ``engine=`` as a keyword argument.
    engines: tuple[str, ...] = ("autograd",)
    #: its ``run_unit`` and ``run_group`` take ``checkpoint=`` (a
    #: :class:`synlab.checkpoint.Checkpoint`, or None): a unit stopped part-way resumes from the
    #: last saved epoch (for units that train for hours)
    resumable: bool = False

    def __post_init__(self) -> None:
        if (self.run_group is None) != (self.group_key is None):
            raise ValueError(f"{self.name}: run_group and group_key go together")
        if not self.engines or set(self.engines) - set(ENGINES):
            raise ValueError(f"{self.name}: engines must be some of {ENGINES}; got {self.engines}")

    def engine(self, asked: str | None, device_type: str = "cpu") -> str:
        """The engine a run uses: ``asked`` if this experiment has it (else a one-line
        ValueError), or the default on ``device_type`` (``"cpu"``, ``"cuda"`` ...)."""
        if asked is None:
            cuda = device_type == "cuda" and "compiled" in self.engines
            return "compiled" if cuda else self.engines[0]
        if asked not in self.engines:
            raise ValueError(
                f"{self.name} has no engine {asked!r}; its engines: {', '.join(self.engines)}"
            )
        return asked

    def stacks(
        self, units: list[dict[str, Any]], stack: int
    ) -> tuple[bool, list[list[dict[str, Any]]]]:
        """How ``units`` are trained: (stacked?, the tasks' unit lists). Where this experiment can
        stack (``run_group``) and ``stack`` is not 1, units of one ``group_key`` form stacks of up
        to ``stack`` units (0: no limit); otherwise every unit is a task of its own."""
        if stack < 0:
            raise ValueError(
                f"stack must be 0 (no limit) or a positive number of units; got {stack}"
            )
        if self.run_group is None or len(units) <= 1 or stack == 1:
            return False, [[u] for u in units]
        by_key: dict[Any, list[dict[str, Any]]] = {}
        for unit in units:
            by_key.setdefault(self.group_key(unit), []).append(unit)
        limit = stack or len(units)
        return True, [g[i : i + limit] for g in by_key.values() for i in range(0, len(g), limit)]

    def compute(
        self, config: Any, units: list[dict[str, Any]], engine: str, checkpoint: Any = None
    ) -> list[dict]:
        """Run ``units`` (one, or a stack of several) with ``engine``: one result per unit;
        ``checkpoint`` goes to a resumable experiment (and must be None for another)."""
        kw: dict[str, Any] = {"engine": engine} if len(self.engines) > 1 else {}
        if self.resumable:
            kw["checkpoint"] = checkpoint
        elif checkpoint is not None:
            raise ValueError(f"{self.name} is not resumable; it takes no checkpoint")
        if len(units) > 1:
            return list(self.run_group(config, units, **kw))
        return [self.run_unit(config, units[0], **kw)]


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


def profile_config(profile: str, cls: Callable[..., Any], **quick: Any) -> Any:
    """The config of ``profile``: ``cls()`` (the paper's values) for ``"full"``, ``cls(**quick)``
    for ``"quick"``; a ValueError naming the two profiles otherwise."""
    if profile == "full":
        return cls()
    if profile == "quick":
        return cls(**quick)
    raise ValueError(f"unknown profile {profile!r}; choose 'quick' or 'full'")


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
