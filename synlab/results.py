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

import datetime as _dt
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import device as torch_device
from tqdm import tqdm  # plain tqdm: no ipywidgets needed in notebooks

from . import __version__
from .device import default_device, describe_device
from .executor import Task, UnitsFailed, make_executor
from .experiments import all_experiments, get_experiment
from .settings import PROFILES
from .store import (  # noqa: F401 - the store's names, re-exported as they always were
    CorruptUnitError,
    ExperimentResults,
    IncompleteResultsError,
    StoreError,
    UnitRecord,
    _canonical,
    _config_json,
    _git_commit,
    _is_fresh,
    _jsonable,
    _load_arrays,
    _load_payload,
    _npz_bytes,
    _read_unit,
    _replace_bytes,
    _select,
    _sha256_file,
    _stored,
    _write_unit,
    chapter_profile,
    complete_subset_of,
    config_hash,
    find_unit,
    quarantine,
    read_unit,
    results_root,
    store_key,
    suffixed_key,
    unit_key,
    write_unit,
)

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
    "RunOptions",
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


@dataclass(frozen=True)
class RunOptions:
    """How and where a run computes; nothing here enters a config hash.

    ``force``: recompute units already stored. ``recompute``: move corrupt full units to
    quarantine and recompute them (quick units always are). ``only`` (e.g. ``{"method": "bgd"}``):
    run, and return, only the matching units. ``root``: the store (default
    :func:`results_root`). ``device``: where an in-process run computes (default CUDA when
    present). ``engine`` (``autograd``, ``fused``, ``compiled``;
    :data:`synlab.experiments.ENGINES`):
    what the training steps run on, one the experiment declares (``Experiment.engines``), else a
    ValueError; default its first engine on a CPU, ``compiled`` where it has one on CUDA.
    ``stack``: the most units trained as one stack where an experiment can stack (0: no limit;
    1: each alone); default 1 on a CPU (stacking does not pay there), no limit on CUDA. Engine and
    stack are recorded in every unit's provenance. ``workers``, ``address``, ``gpus_per_stack``:
    the executor (:func:`synlab.executor.make_executor`). ``progress``: progress bars (default:
    on, unless ``TQDM_DISABLE=1``)."""

    force: bool = False
    recompute: bool = False
    only: dict[str, Any] | None = None
    root: Path | str | None = None
    device: Any = None
    engine: str | None = None
    stack: int | None = None
    workers: int = 1
    address: str | None = None
    gpus_per_stack: float = 1.0
    progress: bool | None = None


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
    engine: str


def _prepare(name: str, profile: str, opts: RunOptions, config: Any = None) -> _Job:
    """Read what is stored and fresh; list the units left and group them into tasks (stacks of
    up to ``opts.stack`` units where the experiment can stack: :meth:`Experiment.stacks`)."""
    exp = get_experiment(name)
    device = opts.device
    kind = (torch_device(device) if device is not None else default_device()).type
    engine = exp.engine(opts.engine, kind)
    stack = opts.stack
    if stack is None:
        stack = 0 if kind == "cuda" else 1  # on a CPU stacking does not pay (bench_stacked.py)
    cfg = config if config is not None else exp.make_config(profile)
    chash = config_hash(cfg)
    base = Path(opts.root) if opts.root is not None else results_root(profile)
    folder = base / profile / exp.name
    units = _select(exp.units(cfg), opts.only, exp.name)
    records: list[UnitRecord] = []
    todo: list[dict[str, Any]] = []
    check = _StoredCheck(exp, profile, base, _config_json(cfg), chash, opts.recompute)
    for unit in units:
        rec = check.fresh(folder, unit)
        if rec is not None and not opts.force:
            records.append(rec)
        else:
            todo.append(unit)
    stacked, groups = exp.stacks(todo, stack)
    return _Job(exp, profile, cfg, chash, folder, units, records, todo, groups, stacked, engine)


def _plan_tasks(jobs: list[_Job], executor: Any, opts: RunOptions) -> tuple[list, dict]:
    """Say what each experiment runs where, and make its tasks: (tasks, task index → job)."""
    tasks, owner = [], {}
    if executor.backend == "in-process":
        where = describe_device(opts.device)
    else:
        gpu = f", {executor.gpu_slots} GPU slot(s)" if executor.gpu_slots else ""
        where = f"{executor.backend}, {executor.cpu_slots} CPU worker(s){gpu}"
    for j in (j for j in jobs if j.todo):
        stored = len(j.units) - len(j.todo)
        print(
            f"{j.exp.name} [{j.profile}]: {stored} of {len(j.units)} units stored; "
            f"running {len(j.todo)} on {where}"
        )
        if j.stacked:
            print(
                f"{j.exp.name}: stacking {len(j.todo)} units as {len(j.groups)} group(s) "
                f"(engine {j.engine})"
            )
        for group in j.groups:
            # a stack (more than one unit) goes to a GPU slot where there is one; a unit alone
            # (a method that cannot stack, e.g. EWC) goes to a CPU worker
            stack = j.stacked and len(group) > 1
            gpu = opts.gpus_per_stack if executor.gpu_device_for(stack) else 0.0
            task = Task.make(len(tasks), j.exp, j.cfg, group, gpu, j.engine, _checkpoint(j, group))
            tasks.append(task)
            owner[task.index] = j
    return tasks, owner


def _checkpoint(j: _Job, group: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """Where a task of a resumable experiment keeps its checkpoint (next to the store, under
    ``partial/``), and the fingerprint of the run that may resume from it."""
    if not j.exp.resumable:
        return None
    keys = [unit_key(u) for u in group]
    name = keys[0] + (f"+{len(keys) - 1}" if len(keys) > 1 else "")
    path = j.folder.parent.parent / "partial" / j.profile / j.exp.name / f"{name}.pt"
    fingerprint = {
        "experiment": j.exp.name,
        "config_hash": j.chash,
        "units": keys,
        "engine": j.engine,
        "git_commit": _git_commit(),
    }
    return str(path), fingerprint


def _provenance(j: _Job, out: Any, source: str | None, backend: str, device: Any) -> dict:
    """What a unit of a landed task records about how it was computed (with ``segments``, the
    stopped parts of a resumed task: synlab.checkpoint)."""
    n = len(out.task.units)
    segments = {"segments": out.info["segments"]} if out.info.get("segments") else {}
    return {
        "experiment": j.exp.name,
        "profile": j.profile,
        "config": _jsonable(j.cfg),
        "config_hash": j.chash,
        "synlab_version": __version__,
        "git_commit": _git_commit(),
        "data_source": source or "none (synthetic)",
        "device": out.info.get("device") or describe_device(device),
        "backend": out.info.get("backend", backend),
        "node": out.info.get("node", ""),
        "engine": out.task.engine,
        "stack": n,  # trained as one stack of n units; wall time is the n-th share
        "wall_time_s": round(out.wall_s / n, 3),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **segments,
    }


def _land(j: _Job, out: Any, backend: str, device: Any) -> None:
    """Write each unit of a landed task to the store, as soon as it lands."""
    for unit, result in zip(out.task.units, out.results):
        source = result.pop("data_source", None)
        prov = _provenance(j, out, source, backend, device)
        rec = UnitRecord(unit=dict(unit), result=result, provenance=prov)
        j.records.append(_read_unit(write_unit(j.folder, rec)))
    if out.task.checkpoint is not None:  # every unit of the task is stored
        Path(out.task.checkpoint[0]).unlink(missing_ok=True)


def _drive(jobs: list[_Job], executor: Any, opts: RunOptions) -> list:
    """Run every job's tasks on ``executor``, storing each unit as it lands; the failed tasks."""
    tasks, owner = _plan_tasks(jobs, executor, opts)
    n_todo = sum(len(j.todo) for j in jobs)
    bar_kw = {} if opts.progress is None else {"disable": not opts.progress}  # or TQDM_DISABLE
    if not n_todo:
        bar_kw = {"disable": True}
    desc = jobs[0].exp.name if len(jobs) == 1 else "all"
    bar = tqdm(total=n_todo, desc=desc, unit="unit", **bar_kw)
    failures = []
    for out in executor.run(tasks) if tasks else ():
        if out.error is not None:
            failures.append(out)
            print(f"{out.label}: failed: {out.error.strip().splitlines()[-1]}")
        else:
            _land(owner[out.task.index], out, executor.backend, opts.device)
            bar.set_postfix_str(out.label[-50:])
        bar.update(len(out.task.units))
    bar.close()
    return failures


def run_experiments(
    names: list[str],
    profile: str = "quick",
    *,
    config: Any = None,
    executor: Any = None,
    **options: Any,
) -> list[ExperimentResults]:
    """Run every missing or stale unit of the experiments ``names`` as one run, and return all
    their results (one :class:`ExperimentResults` per name, in order). ``options`` are the
    fields of :class:`RunOptions` (an unknown one is a TypeError naming it).

    Each unit, or stack of units, is one task of an executor (:mod:`synlab.executor`):
    ``workers=1`` computes in this process; ``workers=N`` in a local pool of N processes, one
    CPU and one torch thread each; ``address`` on a Ray cluster (``"local"``: a private one on
    this machine); or the ``executor`` given (left open). Tasks of all experiments go to the
    executor together, so its workers stay busy across experiments. Workers return results;
    this process alone writes the store, one unit as soon as its task lands, so Ctrl-C loses
    only tasks in flight and a rerun resumes. A task whose worker died more than twice, or that
    raised, is reported (:class:`synlab.executor.UnitsFailed`) after every other task has
    landed; in-process, an exception stops the run at once. ``config`` applies to a single
    experiment.
    """
    opts = RunOptions(**options)
    if config is not None and len(names) != 1:
        raise ValueError("config= overrides the config of a single experiment")
    jobs = [_prepare(n, profile, opts, config) for n in names]
    own = executor is None and any(j.todo for j in jobs)
    if own:
        executor = make_executor(
            opts.workers, opts.address, gpus_per_stack=opts.gpus_per_stack, device=opts.device
        )
    try:
        failures = _drive(jobs, executor, opts) if executor is not None else []
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
    name: str, profile: str = "quick", *, config: Any = None, executor: Any = None, **options: Any
) -> ExperimentResults:
    """Run every missing or stale unit of experiment ``name`` and return all its results.

    Units already stored with the current config hash are loaded, not recomputed (resume).
    ``config`` overrides the profile's config (the results are then stored under that config's
    hash). Each unit is saved as soon as it finishes, so Ctrl-C loses only the unit in flight.
    ``options``: the fields of :class:`RunOptions` (``force``, ``only``, ``engine``, ``stack``,
    ``workers`` ...); where the units compute: see :func:`run_experiments`.

    A stored unit that cannot be read (its JSON or NPZ corrupt, missing or mismatched) is
    moved to ``<root>/quarantine/`` and recomputed, at once for the quick profile, for the
    full profile (where a unit may cost hours) only with ``recompute=True``; otherwise a
    :class:`CorruptUnitError` names it and nothing is computed or moved.
    """
    return run_experiments([name], profile, config=config, executor=executor, **options)[0]


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
    return complete_subset_of(get_experiment(name), profile, root=root, **coords)


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
    complete = complete_experiments(root)
    rows = []
    for exp in all_experiments().values():
        for profile in PROFILES:
            base = Path(root) if root is not None else results_root(profile)
            folder = base / profile / exp.name
            row = {"experiment": exp.name, "profile": profile, "folder": str(folder)}
            row.update(_check_folder(exp, folder, exp.make_config(profile)))
            row["complete"] = profile == "full" and exp.name in complete
            partial = base / "partial" / profile / exp.name
            row["in_progress"] = sorted(partial.glob("*.pt")) if partial.is_dir() else []
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
