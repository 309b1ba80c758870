"""The settings that come from outside Python: seven environment variables, read in one place.

Everything else (the engine, stacking, progress bars, the profile of a run) is an argument of the
function or command that uses it. :func:`settings` parses the environment each time it is called
(tests and notebooks change it) and rejects a value it does not know with a one-line
:class:`ValueError` naming the variable.

==========================  ===============================================================
``SYNLAB_DATA_PATH``        data folders, ``os.pathsep``-separated; the first is the data
                            directory (downloads and decompressed copies go there), the rest
                            are searched too. Default ``~/.cache/synlab/data``.
``SYNLAB_OFFLINE``          ``1``: never download (``0``, the default: torchvision may).
``SYNLAB_CACHE_DIR``        quick-profile results (default ``~/.cache/synlab/results``).
``SYNLAB_RESULTS_DIR``      full-profile results (default: the checkout's ``results/``).
``SYNLAB_PROFILE``          what a chapter computes without fresh full results (``quick``).
``SYNLAB_DEVICE``           ``cpu``, ``cuda``, ``cuda:N``, ``mps``; default CUDA when present.
``SYNLAB_GIT_COMMIT``       the commit recorded in provenance, for a copy without ``.git``.
==========================  ===============================================================

Yes/no values are ``1``/``0`` (also ``true``/``false``, ``yes``/``no``, ``on``/``off``); an
empty value is the same as unset. A ``SYNLAB_*`` variable that is not one of these is ignored
with a warning, once per process (a typo, or a setting this version no longer reads; the retired
ones name what replaced them): not an error, so an old shell profile or script does not stop a
chapter, while provenance records the engine and stack that really ran.
Variables that are not settings and are not warned about: :data:`NOT_SETTINGS`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings", "NAMES", "RETIRED", "NOT_SETTINGS", "PROFILES", "yes_no"]

PROFILES = ("quick", "full")

#: the settings, in the order of the table above
NAMES = (
    "SYNLAB_DATA_PATH",
    "SYNLAB_OFFLINE",
    "SYNLAB_CACHE_DIR",
    "SYNLAB_RESULTS_DIR",
    "SYNLAB_PROFILE",
    "SYNLAB_DEVICE",
    "SYNLAB_GIT_COMMIT",
)

#: variables earlier versions read, and what replaces each
RETIRED = {
    "SYNLAB_DATA_DIR": "the first folder of SYNLAB_DATA_PATH",
    "SYNLAB_COMPILE": "`synlab run EXP --engine compiled` (engine= of run_experiment)",
    "SYNLAB_STACK": "`synlab run EXP --stack N` (stack= of run_experiment)",
    "SYNLAB_STACK_MAX": "`synlab run EXP --stack N` (stack= of run_experiment)",
    "SYNLAB_PROGRESS": "TQDM_DISABLE=1 (tqdm's own switch), or progress= of run_experiment",
}

#: ``SYNLAB_*`` names that are not settings of the package: the chapters' install cell reads
#: SYNLAB_REPOSITORY before synlab exists; the executor marks its workers (SYNLAB_WORKER); the
#: executor tests inject faults (SYNLAB_CHECK_*, see synlab.executor_check); the browser test
#: is required under CI (SYNLAB_REQUIRE_BROWSER).
NOT_SETTINGS = frozenset(
    {
        "SYNLAB_REPOSITORY",
        "SYNLAB_WORKER",
        "SYNLAB_CHECK_DIR",
        "SYNLAB_CHECK_KILL",
        "SYNLAB_CHECK_KILL_ALWAYS",
        "SYNLAB_CHECK_FAIL",
        "SYNLAB_REQUIRE_BROWSER",
    }
)

_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}
_DEVICE = re.compile(r"(cpu|cuda|mps|xpu|meta)(:\d+)?")


@dataclass(frozen=True)
class Settings:
    """The parsed environment (see the module docstring)."""

    data_path: tuple[Path, ...]
    offline: bool
    cache_dir: Path
    results_dir: Path | None  # None: the checkout's results/ (or the cache without one)
    profile: str
    device: str | None  # None: CUDA when present, else the CPU
    git_commit: str | None  # None: ask git


def yes_no(name: str, value: str) -> bool:
    """``value`` of variable ``name`` as a yes/no; ValueError naming the variable otherwise."""
    v = value.strip().lower()
    if v in _YES:
        return True
    if v in _NO:
        return False
    raise ValueError(f"{name}={value!r} is not a yes/no value; use 1 or 0")


_warned: set[tuple[str, str]] = set()


def _warn_unknown(env: Mapping[str, str]) -> None:
    """Warn once per process about each unknown ``SYNLAB_*`` variable (and value)."""
    for name in sorted(env):
        if not name.startswith("SYNLAB_") or name in NAMES or name in NOT_SETTINGS:
            continue
        if env is os.environ:
            if (name, env[name]) in _warned:
                continue
            _warned.add((name, env[name]))
        if name in RETIRED:
            msg = f"{name} is no longer read; use {RETIRED[name]}"
        else:
            msg = f"{name} is not a synlab setting (known: {', '.join(NAMES)}); it is ignored"
        warnings.warn(msg, UserWarning, stacklevel=3)


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the seven ``SYNLAB_*`` settings from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    _warn_unknown(env)

    def get(name: str) -> str:
        return env.get(name, "").strip()

    home = Path.home() / ".cache" / "synlab"
    data = [Path(p).expanduser() for p in get("SYNLAB_DATA_PATH").split(os.pathsep) if p.strip()]
    profile = get("SYNLAB_PROFILE") or "quick"
    if profile not in PROFILES:
        raise ValueError(f"SYNLAB_PROFILE={profile!r} is not a profile; choose one of {PROFILES}")
    device = get("SYNLAB_DEVICE") or None
    if device is not None and not _DEVICE.fullmatch(device):
        raise ValueError(
            f"SYNLAB_DEVICE={device!r} is not a device; use cpu, cuda, cuda:1, mps ..."
        )
    cache, results = get("SYNLAB_CACHE_DIR"), get("SYNLAB_RESULTS_DIR")
    return Settings(
        data_path=tuple(data) or (home / "data",),
        offline=yes_no("SYNLAB_OFFLINE", get("SYNLAB_OFFLINE") or "0"),
        cache_dir=Path(cache).expanduser() if cache else home / "results",
        results_dir=Path(results).expanduser() if results else None,
        profile=profile,
        device=device,
        git_commit=get("SYNLAB_GIT_COMMIT") or None,
    )
