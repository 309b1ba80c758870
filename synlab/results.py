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
the experiment's current config for that profile. ``python -m synlab status --check`` fails
on stale or orphaned committed units; chapters use :func:`results_for_chapter`, which shows
committed ``full`` results only when they are complete and fresh.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import subprocess
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
    "chapter_profile",
]

PROFILES = ("quick", "full")


# ----------------------------------------------------------------------------- hashing & keys
def _jsonable(obj: Any) -> Any:
    """Convert configs/results to JSON-compatible values (dataclasses, tuples, numpy scalars)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
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
    """A readable, file-system-safe key for a unit, e.g. ``l2=0.01_seed=2019``."""
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
        return sorted({str(r.provenance.get("data_source", "none")) for r in self.records})

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


def _write_unit(folder: Path, record: UnitRecord) -> None:
    """Atomically write one unit (arrays to .npz, everything else to .json)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = record.key
    arrays = {
        k: np.asarray(v)
        for k, v in record.result.items()
        if isinstance(v, np.ndarray) or hasattr(v, "numpy")
    }
    rest = {k: v for k, v in record.result.items() if k not in arrays}
    payload = {
        "unit": _jsonable(record.unit),
        "result": _jsonable(rest),
        "arrays": sorted(arrays),
        "provenance": _jsonable(record.provenance),
    }
    if arrays:
        tmp = folder / f".{key}.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                **{
                    k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                    for k, v in arrays.items()
                },
            )
        os.replace(tmp, folder / f"{key}.npz")
    tmp = folder / f".{key}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, folder / f"{key}.json")  # the .json lands last: it marks the unit complete


def _read_unit(path: Path) -> UnitRecord:
    payload = json.loads(path.read_text())
    result = dict(payload["result"])
    if payload.get("arrays"):
        with np.load(path.with_suffix(".npz")) as npz:
            for k in payload["arrays"]:
                result[k] = npz[k]
    return UnitRecord(unit=payload["unit"], result=result, provenance=payload["provenance"])


def _stored(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


# ----------------------------------------------------------------------------- running
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
) -> _Job:
    """Read what is stored and fresh; list the units left and group them into tasks (stacks
    where the experiment can stack and stacking pays, see :func:`synlab.device.stacking_enabled`)."""
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = config if config is not None else exp.make_config(profile)
    chash = config_hash(cfg)
    folder = Path(root) if root is not None else results_root(profile)
    folder = folder / profile / exp.name
    stored = _stored(folder)
    units = _select(exp.units(cfg), only, exp.name)
    records: list[UnitRecord] = []
    todo: list[dict[str, Any]] = []
    cfg_json = _config_json(cfg)
    for unit in units:
        path = stored.get(unit_key(unit))
        if path is not None and not force:
            rec = _read_unit(path)
            if _is_fresh(exp, cfg_json, chash, unit, rec.provenance):
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
        _prepare(n, profile, force=force, root=root, config=config, device=device, only=only)
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
                gpu = gpus_per_stack if executor.gpu_device_for(j.stacked) else 0.0
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
                _write_unit(j.folder, rec)
                j.records.append(_read_unit(j.folder / f"{rec.key}.json"))
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
        order = {unit_key(u): i for i, u in enumerate(j.units)}
        j.records.sort(key=lambda r: order[r.key])
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
) -> ExperimentResults:
    """Run every missing or stale unit of experiment ``name`` and return all its results.

    Units already stored with the current config hash are loaded, not recomputed (resume).
    ``force=True`` recomputes everything. ``config`` overrides the profile's config (the
    results are then stored under that config's hash). Each unit is saved as soon as it
    finishes, so Ctrl-C loses only the unit in flight. ``only`` (e.g. ``{"method": "bgd"}``)
    restricts the run, and the results returned, to the matching units. ``workers``,
    ``address`` and ``gpus_per_stack`` choose where the units compute (see
    :func:`run_experiments`); only this process writes the store.
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
    )[0]


def load_results(
    name: str,
    profile: str = "full",
    *,
    root: Path | str | None = None,
    allow_incomplete: bool = False,
) -> ExperimentResults:
    """Load stored results of ``name``; ValueError if missing, stale or (unless allowed) incomplete."""
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = exp.make_config(profile)
    chash = config_hash(cfg)
    folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
    stored = _stored(folder)
    records, missing, stale = [], [], []
    cfg_json = _config_json(cfg)
    for unit in exp.units(cfg):
        path = stored.get(unit_key(unit))
        if path is None:
            missing.append(unit_key(unit))
            continue
        rec = _read_unit(path)
        (records if _is_fresh(exp, cfg_json, chash, unit, rec.provenance) else stale).append(rec)
    if stale:
        raise ValueError(
            f"{len(stale)} stored units of {name} [{profile}] were computed with another config "
            f"(stale); rerun: python -m synlab run {name} --profile {profile}"
        )
    if missing and not allow_incomplete:
        raise ValueError(
            f"{name} [{profile}] is incomplete: {len(missing)} of {len(missing) + len(records)} units "
            f"missing (e.g. {missing[0]}); run: python -m synlab run {name} --profile {profile}"
        )
    return ExperimentResults(exp.name, profile, cfg, records)


def complete_subset(
    name: str, profile: str = "full", *, root: Path | str | None = None, **coords: Any
) -> ExperimentResults | None:
    """The stored units of ``name`` matching ``coords`` (e.g. ``dataset="split_mnist"``), if *every*
    expected unit that matches is stored and fresh; else ``None``.

    Lets a chapter show the finished blocks of a long sweep at paper scale (one data set of a
    table, say) while the rest is still running, without ever mixing in missing units.
    """
    from .experiments import get_experiment

    exp = get_experiment(name)
    cfg = exp.make_config(profile)
    wanted = [u for u in exp.units(cfg) if all(u.get(k) == v for k, v in coords.items())]
    if not wanted:
        raise ValueError(f"no unit of {name} [{profile}] matches {coords}")
    folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
    stored = _stored(folder)
    chash, cfg_json = config_hash(cfg), _config_json(cfg)
    records = []
    for (
        unit
    ) in wanted:  # only these units need to be there and fresh; the rest of the sweep may be stale
        path = stored.get(unit_key(unit))
        if path is None:
            return None
        rec = _read_unit(path)
        if not _is_fresh(exp, cfg_json, chash, unit, rec.provenance):
            return None
        records.append(rec)
    return ExperimentResults(exp.name, profile, cfg, records)


def results_for_chapter(name: str, *, root: Path | str | None = None) -> ExperimentResults:
    """What a chapter shows: committed full results if complete and fresh, else a fresh run.

    Prints which one it is, with provenance, so a reader never mistakes a quick run for
    paper scale. The fallback profile is ``SYNLAB_PROFILE`` (default ``quick``).
    """
    try:
        res = load_results(name, "full", root=root)
    except ValueError as err:
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
    print("Results:", res.describe())
    return res


def experiment_status(root: Path | str | None = None) -> list[dict[str, Any]]:
    """One row per experiment and profile: units done / expected, stale and orphaned units."""
    from .experiments import all_experiments

    rows = []
    for exp in all_experiments().values():
        for profile in PROFILES:
            cfg = exp.make_config(profile)
            chash = config_hash(cfg)
            folder = (
                (Path(root) if root is not None else results_root(profile)) / profile / exp.name
            )
            stored = _stored(folder)
            units = {unit_key(u): u for u in exp.units(cfg)}
            keys = set(units)
            cfg_json = _config_json(cfg)
            done = stale = 0
            for key, path in stored.items():
                if key in keys:
                    if _is_fresh(
                        exp, cfg_json, chash, units[key], json.loads(path.read_text())["provenance"]
                    ):
                        done += 1
                    else:
                        stale += 1
            orphans = sorted(set(stored) - keys)
            rows.append(
                {
                    "experiment": exp.name,
                    "profile": profile,
                    "done": done,
                    "expected": len(keys),
                    "stale": stale,
                    "orphaned": len(orphans),
                    "folder": str(folder),
                }
            )
    return rows
