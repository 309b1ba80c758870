"""A tiny experiment for checking an executor: a fraction of a second of real torch work per
unit, and switches that make a worker misbehave on purpose, for the fault tests.

It is not registered with the book's experiments (``synlab list`` does not show it); a test, or a
user checking a cluster set-up, registers it::

    from synlab.experiments import register
    from synlab.executor_check import check_experiment
    register(check_experiment())
    run_experiment("executor_check", "quick", workers=2)

It lives in the package (not in ``tests/``) so that Ray workers, which do not share the test
runner's ``sys.path``, can import it. The faults are switched by environment variables, not by
the config, so that a run with faults and the rerun without them share one config hash (the
executors hand ``SYNLAB_*`` variables to their workers):

``SYNLAB_CHECK_DIR``
    each start of a unit writes ``<seed>.<pid>.<time>`` there (tests watch progress with it);
``SYNLAB_CHECK_KILL=1,3``
    the worker computing seed 1 or 3 SIGKILLs itself, once per seed (a marker in
    ``SYNLAB_CHECK_DIR`` remembers it); ``SYNLAB_CHECK_KILL_ALWAYS=2``: on every attempt;
``SYNLAB_CHECK_FAIL=2``
    seed 2 raises.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["CheckConfig", "check_experiment", "check_units", "run_check_unit"]

NAME = "executor_check"


@dataclass(frozen=True)
class CheckConfig:
    """``seeds``: one unit each; ``steps`` of gradient descent on a random regression;
    ``sleep_s`` after the work (to keep a unit in flight while a test acts)."""

    seeds: tuple[int, ...] = (0, 1, 2, 3)
    steps: int = 200
    sleep_s: float = 0.0


def check_units(cfg: CheckConfig) -> list[dict[str, Any]]:
    return [{"seed": s} for s in cfg.seeds]


def _group_key(unit: dict[str, Any]) -> int:
    return unit["seed"] % 2


def _seeds(var: str) -> set[int]:
    return {int(s) for s in os.environ.get(var, "").split(",") if s.strip()}


def _faults(seed: int) -> None:
    folder = Path(os.environ.get("SYNLAB_CHECK_DIR", "") or ".")
    if os.environ.get("SYNLAB_CHECK_DIR"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{seed}.{os.getpid()}.{time.time():.6f}").touch()
    always = seed in _seeds("SYNLAB_CHECK_KILL_ALWAYS")
    if always or seed in _seeds("SYNLAB_CHECK_KILL"):
        killed = folder / f"killed-{seed}"
        if always or not killed.exists():
            if os.environ.get("SYNLAB_WORKER") != "1":
                raise RuntimeError("executor_check kills worker processes only, not the driver")
            killed.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    if seed in _seeds("SYNLAB_CHECK_FAIL"):
        raise ValueError(f"unit seed={seed} fails on purpose")


def run_check_unit(cfg: CheckConfig, unit: dict[str, Any]) -> dict[str, Any]:
    seed = unit["seed"]
    _faults(seed)
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(512, 64, generator=g)
    w_true = torch.randn(64, 1, generator=g)
    y = x @ w_true + 0.1 * torch.randn(512, 1, generator=g)
    w = torch.zeros(64, 1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    for _ in range(cfg.steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(torch.tanh(x @ w) * 3, y)
        loss.backward()
        opt.step()
    if cfg.sleep_s:
        time.sleep(cfg.sleep_s)
    return {"loss": float(loss.detach()), "weights": w.detach().numpy().ravel().astype(np.float32)}


def _run_group(cfg: CheckConfig, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [run_check_unit(cfg, u) for u in units]


def _make_config(profile: str) -> CheckConfig:
    return CheckConfig() if profile == "quick" else CheckConfig(seeds=tuple(range(8)))


@dataclass(frozen=True)
class _Config:
    """A picklable ``make_config`` with overrides (a lambda would not pickle)."""

    overrides: tuple[tuple[str, Any], ...] = ()

    def __call__(self, profile: str) -> CheckConfig:
        return replace(_make_config(profile), **dict(self.overrides))


def check_experiment(**config_overrides: Any):
    """The check experiment; ``config_overrides`` replace fields of both profiles' configs."""
    from .experiments import Experiment

    return Experiment(
        NAME,
        "executor check: tiny torch regressions, with faults on request",
        _Config(tuple(sorted(config_overrides.items()))),
        check_units,
        run_check_unit,
        part="tests",
        run_group=_run_group,
        group_key=_group_key,
    )
