"""The results store: one file per run unit, with provenance, resumable, checkable.

An experiment (see :mod:`synlab.experiments`) is a config plus a list of *units* — one sweep
point × one seed each. :func:`run_experiment` runs the units that are not stored yet, saving
each one atomically as soon as it finishes, so an interrupted sweep loses at most the unit in
flight and the next call resumes. Every unit file carries its provenance: the config and its
hash, the package version and git commit, the data source, device, wall time and date.

Layout (``<root>`` is ``results/`` in a source checkout, see :func:`results_root`)::

    <root>/<profile>/<experiment>/<unit-key>.json   scalars, lists, provenance
    <root>/<profile>/<experiment>/<unit-key>.npz    numpy arrays of that unit (if any)

A unit is *stale* when the hash of the config it was computed with differs from the hash of
the experiment's current config for that profile. Every read checks the unit: its JSON must
parse, record the very unit asked for (keys are lossy: a new unit whose key another unit holds
is stored under ``<key>__<hash>``) and, with arrays, the SHA-256 of its NPZ. A unit failing
that is a :class:`CorruptUnitError` naming the file; ``run`` moves it to
``<root>/quarantine/`` (git-ignored, never deleted) and recomputes it, for ``full`` only with
``--recompute``. ``python -m synlab status --check`` opens both files of every unit and fails
on corrupt, stale, orphaned or dirty (``+dirty`` commit) full units, and on missing units of
the experiments listed in ``<root>/full/complete.txt``; chapters use
:func:`results_for_chapter`, which shows committed ``full`` results only when they are
complete and fresh, and fails, naming the file, on a corrupt one.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import textwrap
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .device import describe_device, progress_enabled, stack_limit, stacking_enabled

__all__ = [
    "PROFILES",
    "ExperimentResults",
    "UnitRecord",
    "config_hash",
    "unit_key",
    "results_root",
    "complete_subset",
    "run_experiment",
    "run_experiments",
    "load_results",
    "results_for_chapter",
    "experiment_status",
    "status_failures",
    "complete_experiments",
    "chapter_profile",
    "write_unit",
    "read_unit",
    "find_unit",
    "quarantine",
    "StoreError",
    "CorruptUnitError",
    "IncompleteResultsError",
]

PROFILES = ("quick", "full")


# ----------------------------------------------------------------------------- hashing & keys
def _jsonable(obj: Any, numbers: bool = False) -> Any:
    """Convert configs/results to JSON-compatible values (dataclasses, tuples, numpy scalars).

    Non-finite floats become strings (``"nan"``), as config hashes have always been computed;
    with ``numbers=True`` (stored results) they stay floats and round-trip as numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name), numbers) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, numbers) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, numbers) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()  # a NaN item stays a float, as it always has
    if isinstance(obj, float) and not math.isfinite(obj) and not numbers:
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # torch / numpy arrays
        return obj.tolist()
    return obj


def config_hash(config: Any) -> str:
    """SHA-256 (first 16 hex digits) of the config's canonical JSON."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _select(
    units: list[dict[str, Any]], only: dict[str, Any] | None, name: str
) -> list[dict[str, Any]]:
    """The units matching every ``key: value`` of ``only`` (all units if ``only`` is empty)."""
    if not only:
        return units
    keys = set().union(*(u.keys() for u in units)) if units else set()
    bad = set(only) - keys
    if bad:
        raise ValueError(
            f"{name} has no unit coordinate {sorted(bad)}; its units have {sorted(keys)}"
        )
    chosen = [u for u in units if all(u.get(k) == v for k, v in only.items())]
    if not chosen:
        values = {k: sorted({str(u.get(k)) for u in units}) for k in only}
        raise ValueError(f"no unit of {name} matches {only}; values present: {values}")
    return chosen


def _canonical(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _is_fresh(
    exp: Any, cfg_json: dict[str, Any], chash: str, unit: dict[str, Any], provenance: dict[str, Any]
) -> bool:
    """A stored unit is fresh if it was computed with this config, or, for experiments that say
    which part of the config a unit depends on (``unit_config``), with that part unchanged."""
    if provenance.get("config_hash") == chash:
        return True
    if exp.unit_config is None or "config" not in provenance:
        return False
    return _canonical(exp.unit_config(provenance["config"], unit)) == _canonical(
        exp.unit_config(cfg_json, unit)
    )


def _config_json(cfg: Any) -> dict[str, Any]:
    """The config as it reads back from a stored unit's provenance (JSON round trip)."""
    return json.loads(json.dumps(_jsonable(cfg)))


def unit_key(unit: dict[str, Any]) -> str:
    """A readable, file-system-safe key for a unit, e.g. ``l2=0.01_seed=2019``.

    The key is lossy (floats keep 6 digits; ``'a b'`` and ``'a-b'``, ``0`` and ``'0'`` share
    one), so it only names a file: the file records the exact unit, which every read compares
    (:func:`read_unit`). A new unit whose key is taken by another unit is stored under
    :func:`suffixed_key` instead."""
    if not unit:
        return "all"
    parts = []
    for k in sorted(unit):
        v = unit[k]
        v = f"{v:g}" if isinstance(v, float) else str(v)
        parts.append(f"{k}={v}")
    key = re.sub(r"[^A-Za-z0-9=._+-]", "-", "_".join(parts))
    if len(key) > 120:
        key = key[:100] + "_" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return key


def suffixed_key(unit: dict[str, Any]) -> str:
    """The key of a unit whose readable key another unit holds: ``<key>__<hash of the unit>``."""
    return f"{unit_key(unit)}__{hashlib.sha256(_canonical(unit).encode()).hexdigest()[:10]}"


# ----------------------------------------------------------------------------- provenance
def _git_commit() -> str:
    """HEAD of the checkout (``+dirty`` with uncommitted package changes); a copy without ``.git``
    (a GPU machine's, an unpacked archive) can name its commit in ``SYNLAB_GIT_COMMIT``."""
    named = os.environ.get("SYNLAB_GIT_COMMIT", "").strip()
    if named:
        return named
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if out.returncode != 0:
            return "unknown"
        commit = out.stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(here),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "synlab",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def results_root(profile: str) -> Path:
    """Where results of ``profile`` live.

    ``full`` results live in ``SYNLAB_RESULTS_DIR`` if set, else in the repository's
    ``results/`` folder (committed). ``quick`` results are cheap and never committed: they
    live in ``SYNLAB_CACHE_DIR`` if set, else ``~/.cache/synlab/results`` (full results too
    when synlab is installed without its repository, e.g. in Colab).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    cache_env = os.environ.get("SYNLAB_CACHE_DIR")
    cache = (
        Path(cache_env).expanduser() if cache_env else Path.home() / ".cache" / "synlab" / "results"
    )
    if profile == "quick":
        return cache
    env = os.environ.get("SYNLAB_RESULTS_DIR")
    if env:
        return Path(env).expanduser()
    repo_results = Path(__file__).resolve().parent.parent / "results"
    return repo_results if repo_results.is_dir() else cache


def chapter_profile() -> str:
    """The profile a chapter computes when it has no fresh full results: ``SYNLAB_PROFILE``."""
    profile = os.environ.get("SYNLAB_PROFILE", "quick").strip() or "quick"
    if profile not in PROFILES:
        raise ValueError(f"SYNLAB_PROFILE={profile!r} is not a profile; choose one of {PROFILES}")
    return profile


# ----------------------------------------------------------------------------- records
@dataclass
class UnitRecord:
    """One stored unit: its sweep coordinates, results and provenance."""

    unit: dict[str, Any]
    result: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def key(self) -> str:
        return unit_key(self.unit)


@dataclass
class ExperimentResults:
    """All units of one experiment and profile, plus the config they were run with."""

    experiment: str
    profile: str
    config: Any
    records: list[UnitRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def select(self, **coords: Any) -> list[UnitRecord]:
        """Records whose unit matches every given coordinate, e.g. ``select(seed=2019)``."""
        return [r for r in self.records if all(r.unit.get(k) == v for k, v in coords.items())]

    def values(self, name: str, **coords: Any) -> list[Any]:
        """``result[name]`` of every matching record, in unit order."""
        return [r.result[name] for r in self.select(**coords)]

    @property
    def data_sources(self) -> list[str]:
        """The data sets used, by canonical id (with checksum where recorded), never a path."""
        from .stamps import data_labels

        return data_labels(r.provenance for r in self.records)

    @property
    def wall_time_s(self) -> float:
        return float(sum(r.provenance.get("wall_time_s", 0.0) for r in self.records))

    def describe(self) -> str:
        """One paragraph of provenance for a chapter to print under its figures."""
        if not self.records:
            return f"{self.experiment} [{self.profile}]: no results"
        prov = self.records[0].provenance
        devices = sorted({r.provenance.get("device", "?") for r in self.records})
        dates = sorted(r.provenance.get("date", "?") for r in self.records)
        commits = sorted({r.provenance.get("git_commit", "?")[:12] for r in self.records})
        return (
            f"{self.experiment} — profile '{self.profile}', {len(self.records)} units, "
            f"config {prov.get('config_hash')}, synlab {prov.get('synlab_version')} (commit {', '.join(commits)}), "
            f"data: {'; '.join(self.data_sources)}, device: {'; '.join(devices)}, "
            f"total wall time {self.wall_time_s / 60:.1f} min, computed {dates[0][:10]}"
            + (f" to {dates[-1][:10]}" if dates[-1][:10] != dates[0][:10] else "")
        )


class StoreError(ValueError):
    """A stored unit that cannot be trusted; the message names its file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


class CorruptUnitError(StoreError):
    """A unit file that cannot be read, or whose NPZ is missing, corrupt or not its own."""


class IncompleteResultsError(ValueError):
    """Stored results are missing or stale (a chapter then computes a fresh profile)."""


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        **{k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in arrays.items()},
    )
    return buf.getvalue()


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a hidden temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_unit(folder: Path, record: UnitRecord, key: str | None = None) -> Path:
    """Store one unit atomically as ``<key>.json`` (+ ``<key>.npz`` for its arrays); the path
    of its JSON. The key is the unit's readable key unless another unit holds it
    (:func:`store_key`). The JSON records the NPZ's SHA-256, so an interrupted rewrite can
    never leave a mixed pair that reads as complete; the JSON lands last and marks the unit done.
    """
    folder.mkdir(parents=True, exist_ok=True)
    key = key or store_key(folder, record.unit)
    arrays = {
        k: np.asarray(v) if not hasattr(v, "detach") else v
        for k, v in record.result.items()
        if isinstance(v, np.ndarray) or hasattr(v, "numpy")
    }
    rest = {k: v for k, v in record.result.items() if k not in arrays}
    payload = {
        "unit": _jsonable(record.unit),
        "result": _jsonable(rest, numbers=True),
        "arrays": sorted(arrays),
        "provenance": _jsonable(record.provenance),
    }
    json_path = folder / f"{key}.json"
    if arrays:
        blob = _npz_bytes(arrays)
        payload["npz_sha256"] = hashlib.sha256(blob).hexdigest()
        json_path.unlink(missing_ok=True)  # an old JSON never sits beside the new NPZ
        _replace_bytes(folder / f"{key}.npz", blob)
    else:
        (folder / f"{key}.npz").unlink(missing_ok=True)  # an earlier run's arrays, now replaced
    text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n"
    _replace_bytes(json_path, text.encode())
    return json_path


def _load_payload(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CorruptUnitError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise CorruptUnitError(path, f"not valid JSON ({err.msg}, line {err.lineno})") from err
    except OSError as err:
        raise CorruptUnitError(path, f"cannot be read ({err.strerror or err})") from err
    if not isinstance(payload, dict):
        raise CorruptUnitError(path, "not a unit record (a JSON object was expected)")
    kinds = {"unit": dict, "result": dict, "provenance": dict, "arrays": list}
    for name, kind in kinds.items():
        if not isinstance(payload.get(name, [] if name == "arrays" else None), kind):
            raise CorruptUnitError(path, f"not a unit record (no {name!r} {kind.__name__})")
    return payload


def _load_arrays(path: Path, payload: dict[str, Any]) -> dict[str, np.ndarray]:
    npz_path = path.with_suffix(".npz")
    if not payload.get("arrays"):
        return {}
    if not npz_path.is_file():
        raise CorruptUnitError(path, f"its arrays file {npz_path.name} is missing")
    digest = payload.get("npz_sha256")
    if digest is not None and _sha256_file(npz_path) != digest:
        raise CorruptUnitError(
            path, f"{npz_path.name} is not the arrays file written with it (checksum differs)"
        )
    try:  # units stored before checksums are verified by opening every array
        with np.load(npz_path, allow_pickle=False) as npz:
            return {k: npz[k] for k in payload["arrays"]}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise CorruptUnitError(path, f"{npz_path.name} cannot be read ({err})") from err


def read_unit(path: Path, unit: dict[str, Any] | None = None) -> UnitRecord | None:
    """The unit stored at ``path`` (JSON and NPZ, both checked); ``None`` if the file holds
    another unit than ``unit`` (two units sharing a lossy key). Raises
    :class:`CorruptUnitError` naming the file when either file cannot be trusted."""
    payload = _load_payload(Path(path))
    if unit is not None and _canonical(payload["unit"]) != _canonical(unit):
        return None
    result = dict(payload["result"])
    result.update(_load_arrays(Path(path), payload))
    return UnitRecord(unit=payload["unit"], result=result, provenance=payload["provenance"])


def store_key(folder: Path, unit: dict[str, Any]) -> str:
    """The key to store ``unit`` under: its readable key, unless a readable file there holds
    another unit (then :func:`suffixed_key`). A corrupt file there is quarantined first
    (``folder`` is ``<root>/<profile>/<experiment>``)."""
    key = unit_key(unit)
    path = folder / f"{key}.json"
    if not path.is_file():
        return key
    try:
        held = _load_payload(path)["unit"]
    except CorruptUnitError as err:  # never written over: kept in <root>/quarantine/
        print(f"{err}; moved it to {quarantine(path, folder.parent.parent)}")
        return key
    return key if _canonical(held) == _canonical(unit) else suffixed_key(unit)


def find_unit(folder: Path, unit: dict[str, Any]) -> UnitRecord | None:
    """The stored record of ``unit`` in ``folder`` (None if not stored); raises
    :class:`CorruptUnitError` for a file of this unit that cannot be trusted."""
    for key in (unit_key(unit), suffixed_key(unit)):
        path = folder / f"{key}.json"
        if path.is_file():
            rec = read_unit(path, unit)
            if rec is not None:
                return rec
    return None


def quarantine(path: Path, root: Path) -> Path:
    """Move a unit's files (JSON and NPZ) into ``<root>/quarantine/`` (git-ignored), keeping
    their profile/experiment folders and a time stamp; never deletes anything. The new folder."""
    path = Path(path)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        rel = Path(path.parent.name)
    dest = Path(root) / "quarantine" / rel / stamp
    dest.mkdir(parents=True, exist_ok=True)
    for twin in (path.with_suffix(".json"), path.with_suffix(".npz")):
        if twin.exists():
            shutil.move(str(twin), dest / twin.name)
    return dest


# kept for callers of the earlier private names
_write_unit = write_unit


def _read_unit(path: Path) -> UnitRecord:
    rec = read_unit(path)
    assert rec is not None  # no unit to compare with: never None
    return rec


def _stored(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


# ----------------------------------------------------------------------------- running
@dataclass
class _StoredCheck:
    """Looks a unit up in the store for the runner: the fresh record, or None (run it)."""

    exp: Any
    profile: str
    base: Path
    cfg_json: dict[str, Any]
    chash: str
    recompute: bool

    def fresh(self, folder: Path, unit: dict[str, Any]) -> UnitRecord | None:
        try:
            rec = find_unit(folder, unit)
        except CorruptUnitError as err:
            if self.profile == "full" and not self.recompute:
                raise CorruptUnitError(
                    err.path,
                    f"{err.reason}. It was left in place; `python -m synlab run "
                    f"{self.exp.name} --profile full --recompute` moves it to quarantine and "
                    "recomputes it",
                ) from err
            dest = quarantine(err.path, self.base)
            print(f"{err}; moved it to {dest} and recomputing the unit")
            return None
        if rec is None or not _is_fresh(self.exp, self.cfg_json, self.chash, unit, rec.provenance):
            return None
        return rec


@dataclass
class _Job:
    """One experiment's part of a run: what is stored, what is left, and how it is grouped."""

    exp: Any
    profile: str
    cfg: Any
    chash: str
    folder: Path
    units: list[dict[str, Any]]
    records: list[UnitRecord]
    todo: list[dict[str, Any]]
    groups: list[list[dict[str, Any]]]
    stacked: bool


def _prepare(
    name: str,
    profile: str,
    *,
    force: bool,
    root: Path | str | None,
    config: Any,
    device: Any,
    only: dict[str, Any] | None,
    recompute: bool = False,
) -> _Job:
    """Read what is stored and fresh; list the units left and group them into tasks (stacks
    where the experiment can stack and stacking pays, see :func:`synlab.device.stacking_enabled`)."""
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = config if config is not None else exp.make_config(profile)
    chash = config_hash(cfg)
    base = Path(root) if root is not None else results_root(profile)
    folder = base / profile / exp.name
    units = _select(exp.units(cfg), only, exp.name)
    records: list[UnitRecord] = []
    todo: list[dict[str, Any]] = []
    cfg_json = _config_json(cfg)
    check = _StoredCheck(exp, profile, base, cfg_json, chash, recompute)
    for unit in units:
        rec = check.fresh(folder, unit)
        if rec is not None and not force:
            records.append(rec)
            continue
        todo.append(unit)
    groups: list[list[dict[str, Any]]] = [[u] for u in todo]
    stacked = exp.run_group is not None and len(todo) > 1 and stacking_enabled(device)
    if stacked:
        by_key: dict[Any, list[dict[str, Any]]] = {}
        for unit in todo:
            by_key.setdefault(exp.group_key(unit), []).append(unit)
        limit = stack_limit() or len(todo)
        groups = [g[i : i + limit] for g in by_key.values() for i in range(0, len(g), limit)]
    return _Job(exp, profile, cfg, chash, folder, units, records, todo, groups, stacked)


def run_experiments(
    names: list[str],
    profile: str = "quick",
    *,
    force: bool = False,
    progress: bool | None = None,
    root: Path | str | None = None,
    config: Any = None,
    device: Any = None,
    only: dict[str, Any] | None = None,
    workers: int = 1,
    address: str | None = None,
    gpus_per_stack: float = 1.0,
    executor: Any = None,
    recompute: bool = False,
) -> list[ExperimentResults]:
    """Run every missing or stale unit of the experiments ``names`` as one run, and return all
    their results (one :class:`ExperimentResults` per name, in order).

    Each unit, or stack of units, is one task of an executor (:mod:`synlab.executor`):
    ``workers=1`` computes in this process; ``workers=N`` in a local pool of N processes, one
    CPU and one torch thread each; ``address`` on a Ray cluster (``"local"``: a private one on
    this machine). Tasks of all experiments go to the executor together, so its workers stay
    busy across experiments. Workers return results; this process alone writes the store, one
    unit as soon as its task lands, so Ctrl-C loses only tasks in flight and a rerun resumes.
    A task whose worker died more than twice, or that raised, is reported
    (:class:`synlab.executor.UnitsFailed`) after every other task has landed; in-process, an
    exception stops the run at once. ``config`` applies to a single experiment.
    """
    from tqdm import tqdm  # plain tqdm: no ipywidgets needed in notebooks

    from .executor import Task, UnitsFailed, make_executor

    if config is not None and len(names) != 1:
        raise ValueError("config= overrides the config of a single experiment")
    jobs = [
        _prepare(
            n,
            profile,
            force=force,
            root=root,
            config=config,
            device=device,
            only=only,
            recompute=recompute,
        )
        for n in names
    ]
    n_todo = sum(len(j.todo) for j in jobs)
    show = progress_enabled() if progress is None else progress
    own = executor is None and n_todo > 0
    if own:
        executor = make_executor(workers, address, gpus_per_stack=gpus_per_stack, device=device)
    failures = []
    try:
        tasks, owner = [], {}
        for j in jobs:
            if not j.todo:
                continue
            where = (
                f"{executor.backend}, {executor.cpu_slots} CPU worker(s)"
                + (f", {executor.gpu_slots} GPU slot(s)" if executor.gpu_slots else "")
                if executor.backend != "in-process"
                else describe_device(device)
            )
            print(
                f"{j.exp.name} [{profile}]: {len(j.units) - len(j.todo)} of {len(j.units)} units "
                f"stored; running {len(j.todo)} on {where}"
            )
            if j.stacked:
                print(
                    f"{j.exp.name}: stacking {len(j.todo)} units as {len(j.groups)} group(s) "
                    "(SYNLAB_STACK)"
                )
            for group in j.groups:
                # a stack (more than one unit) goes to a GPU slot where there is one; a unit alone
                # (a method that cannot stack, e.g. EWC) goes to a CPU worker
                stack = j.stacked and len(group) > 1
                gpu = gpus_per_stack if executor.gpu_device_for(stack) else 0.0
                task = Task.make(len(tasks), j.exp, j.cfg, group, gpu)
                tasks.append(task)
                owner[task.index] = j
        desc = jobs[0].exp.name if len(jobs) == 1 else "all"
        bar = tqdm(total=n_todo, desc=desc, unit="unit", disable=not show or not n_todo)
        for out in executor.run(tasks) if tasks else ():
            j = owner[out.task.index]
            if out.error is not None:
                failures.append(out)
                bar.update(len(out.task.units))
                print(f"{out.label}: failed: {out.error.strip().splitlines()[-1]}")
                continue
            n = len(out.task.units)
            for unit, result in zip(out.task.units, out.results):
                source = result.pop("data_source", None)
                prov = {
                    "experiment": j.exp.name,
                    "profile": profile,
                    "config": _jsonable(j.cfg),
                    "config_hash": j.chash,
                    "synlab_version": __version__,
                    "git_commit": _git_commit(),
                    "data_source": source or "none (synthetic)",
                    "device": out.info.get("device") or describe_device(device),
                    "backend": out.info.get("backend", executor.backend),
                    "node": out.info.get("node", ""),
                    "wall_time_s": round(out.wall_s / n, 3),
                    "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                }
                if n > 1:
                    prov["stacked_with"] = n  # trained as one stack; wall time is the group's share
                rec = UnitRecord(unit=dict(unit), result=result, provenance=prov)
                j.records.append(_read_unit(write_unit(j.folder, rec)))
            bar.update(n)
            bar.set_postfix_str(out.label[-50:])
        bar.close()
    except BaseException:
        if own:
            executor.close(kill=True)
            own = False
        raise
    finally:
        if own:
            executor.close()
    if failures:
        raise UnitsFailed(failures)
    out_results = []
    for j in jobs:
        order = {_canonical(u): i for i, u in enumerate(j.units)}
        j.records.sort(key=lambda r: order[_canonical(r.unit)])
        out_results.append(ExperimentResults(j.exp.name, profile, j.cfg, j.records))
    return out_results


def run_experiment(
    name: str,
    profile: str = "quick",
    *,
    force: bool = False,
    progress: bool | None = None,
    root: Path | str | None = None,
    config: Any = None,
    device: Any = None,
    only: dict[str, Any] | None = None,
    workers: int = 1,
    address: str | None = None,
    gpus_per_stack: float = 1.0,
    executor: Any = None,
    recompute: bool = False,
) -> ExperimentResults:
    """Run every missing or stale unit of experiment ``name`` and return all its results.

    Units already stored with the current config hash are loaded, not recomputed (resume).
    ``force=True`` recomputes everything. ``config`` overrides the profile's config (the
    results are then stored under that config's hash). Each unit is saved as soon as it
    finishes, so Ctrl-C loses only the unit in flight. ``only`` (e.g. ``{"method": "bgd"}``)
    restricts the run, and the results returned, to the matching units. ``workers``,
    ``address`` and ``gpus_per_stack`` choose where the units compute (see
    :func:`run_experiments`); only this process writes the store.

    A stored unit that cannot be read (its JSON or NPZ corrupt, missing or mismatched) is
    moved to ``<root>/quarantine/`` and recomputed, at once for the quick profile, for the
    full profile (where a unit may cost hours) only with ``recompute=True``; otherwise a
    :class:`CorruptUnitError` names it and nothing is computed or moved.
    """
    return run_experiments(
        [name],
        profile,
        force=force,
        progress=progress,
        root=root,
        config=config,
        device=device,
        only=only,
        workers=workers,
        address=address,
        gpus_per_stack=gpus_per_stack,
        executor=executor,
        recompute=recompute,
    )[0]


def load_results(
    name: str,
    profile: str = "full",
    *,
    root: Path | str | None = None,
    allow_incomplete: bool = False,
) -> ExperimentResults:
    """Load stored results of ``name``: :class:`IncompleteResultsError` if units are missing
    (unless allowed) or stale; :class:`CorruptUnitError`, naming the file, if a unit's JSON or
    NPZ cannot be trusted."""
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = exp.make_config(profile)
    chash = config_hash(cfg)
    folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
    records, missing, stale = [], [], []
    cfg_json = _config_json(cfg)
    for unit in exp.units(cfg):
        rec = find_unit(folder, unit)
        if rec is None:
            missing.append(unit_key(unit))
            continue
        (records if _is_fresh(exp, cfg_json, chash, unit, rec.provenance) else stale).append(rec)
    if stale:
        raise IncompleteResultsError(
            f"{len(stale)} stored units of {name} [{profile}] in {folder} were computed with "
            f"another config (stale); rerun: python -m synlab run {name} --profile {profile}"
        )
    if missing and not allow_incomplete:
        raise IncompleteResultsError(
            f"{name} [{profile}] is incomplete: {len(missing)} of "
            f"{len(missing) + len(records)} units missing in {folder} (e.g. {missing[0]}); "
            f"run: python -m synlab run {name} --profile {profile}"
        )
    return ExperimentResults(exp.name, profile, cfg, records)


def complete_subset(
    name: str, profile: str = "full", *, root: Path | str | None = None, **coords: Any
) -> ExperimentResults | None:
    """The stored units of ``name`` matching ``coords`` (e.g. ``dataset="split_mnist"``), if *every*
    expected unit that matches is stored and fresh; else ``None``.

    Lets a chapter show the finished blocks of a long sweep at paper scale (one data set of a
    table, say) while the rest is still running, without ever mixing in missing units. A
    corrupt unit raises :class:`CorruptUnitError` naming its file.
    """
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = exp.make_config(profile)
    wanted = [u for u in exp.units(cfg) if all(u.get(k) == v for k, v in coords.items())]
    if not wanted:
        raise ValueError(f"no unit of {name} [{profile}] matches {coords}")
    folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
    chash, cfg_json = config_hash(cfg), _config_json(cfg)
    records = []
    for unit in wanted:  # only these need to be there and fresh; the rest of the sweep may be stale
        rec = find_unit(folder, unit)
        if rec is None or not _is_fresh(exp, cfg_json, chash, unit, rec.provenance):
            return None
        records.append(rec)
    return ExperimentResults(exp.name, profile, cfg, records)


def results_for_chapter(name: str, *, root: Path | str | None = None) -> ExperimentResults:
    """What a chapter shows: committed full results if complete and fresh, else a fresh run.

    Prints which one it is, with provenance, so a reader never mistakes a quick run for
    paper scale. The fallback profile is ``SYNLAB_PROFILE`` (default ``quick``). A corrupt
    stored unit is an error that names its file: it never falls back silently.
    """
    try:
        res = load_results(name, "full", root=root)
    except IncompleteResultsError as err:
        profile = chapter_profile()
        where = (Path(root) if root is not None else results_root("full")) / "full" / name
        print(f"No complete, fresh paper-scale results for {name} in {where} ({err}).")
        if not where.is_dir():
            print(
                "Nothing is stored there: this synlab runs without the book's repository. Set "
                "SYNLAB_RESULTS_DIR to a synlab checkout's results/ folder (in Colab, the "
                "chapter's first cell does)."
            )
        print(
            f"Computing the '{profile}' profile now — these are NOT paper-scale numbers."
            if profile == "quick"
            else f"Computing the '{profile}' profile now."
        )
        res = run_experiment(name, profile, root=root)
    # wrapped, so the provenance line never scrolls sideways in the book
    print(textwrap.fill(f"Results: {res.describe()}", 100, subsequent_indent="  "))
    return res


#: File (in ``<root>/full/``) naming the experiments whose every full unit is committed, one
#: a line: ``status --check`` fails if a unit of one of them goes missing. Sweeps still in
#: progress are left out, so their finished units can land one by one.
COMPLETE_LIST = "complete.txt"


def complete_experiments(root: Path | str | None = None) -> set[str]:
    """The experiments marked complete in ``<root>/full/complete.txt`` (``#`` starts a comment)."""
    path = (Path(root) if root is not None else results_root("full")) / "full" / COMPLETE_LIST
    if not path.is_file():
        return set()
    names = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {n for n in names if n}


def _check_folder(exp: Any, folder: Path, cfg: Any) -> dict[str, Any]:
    """Open both files of every stored unit in ``folder``; counts and one line per problem."""
    chash, cfg_json = config_hash(cfg), _config_json(cfg)
    wanted = {_canonical(u): u for u in exp.units(cfg)}
    row: dict[str, Any] = dict(done=0, stale=0, orphaned=0, corrupt=0, dirty=0, problems=[])
    seen: set[str] = set()
    for path in _stored(folder).values():
        try:
            rec = read_unit(path)
        except CorruptUnitError as err:
            row["corrupt"] += 1
            row["problems"].append(f"corrupt: {err}")
            continue
        canon = _canonical(rec.unit)
        if canon not in wanted or canon in seen:
            row["orphaned"] += 1
            row["problems"].append(f"orphan: {path} (no such unit in the current config)")
            continue
        seen.add(canon)
        fresh = _is_fresh(exp, cfg_json, chash, wanted[canon], rec.provenance)
        row["done" if fresh else "stale"] += 1
        if not fresh:
            row["problems"].append(f"stale: {path} (computed with another config)")
        if str(rec.provenance.get("git_commit", "")).endswith("+dirty"):
            row["dirty"] += 1
            row["problems"].append(f"dirty: {path} (computed from uncommitted code)")
    for npz in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        if not npz.with_suffix(".json").is_file():
            row["orphaned"] += 1
            row["problems"].append(f"orphan: {npz} (arrays without their JSON)")
    row["missing"] = len(wanted) - len(seen)
    row["expected"] = len(wanted)
    return row


def experiment_status(root: Path | str | None = None) -> list[dict[str, Any]]:
    """One row per experiment and profile: units done / expected, and the stale, orphaned,
    corrupt (JSON or NPZ unreadable), dirty (computed from uncommitted code) and missing units,
    found by opening both files of every unit; ``problems`` names each file."""
    from .experiments import all_experiments

    complete = complete_experiments(root)
    rows = []
    for exp in all_experiments().values():
        for profile in PROFILES:
            base = Path(root) if root is not None else results_root(profile)
            folder = base / profile / exp.name
            row = {"experiment": exp.name, "profile": profile, "folder": str(folder)}
            row.update(_check_folder(exp, folder, exp.make_config(profile)))
            row["complete"] = profile == "full" and exp.name in complete
            rows.append(row)
    return rows


def status_failures(rows: list[dict[str, Any]]) -> list[str]:
    """Why ``status --check`` fails (empty: it passes): full units that are corrupt, stale,
    orphaned or dirty, and missing units of experiments marked complete."""
    out = []
    for r in rows:
        if r["profile"] != "full":
            continue
        bad = [k for k in ("corrupt", "stale", "orphaned") if r[k]]
        if r["dirty"]:
            bad.append("dirty")
        if r["complete"] and r["missing"]:
            bad.append("missing")
        if bad:
            out.append(f"{r['experiment']}: " + ", ".join(f"{r[k]} {k}" for k in bad))
    return out
