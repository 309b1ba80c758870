"""Plan before you spend: predict a run's wall time from the unit times already recorded.

``python -m synlab plan EXP|all --workers N --gpus G`` replays the run that ``synlab run`` would
start on N CPU workers and G GPUs as a scheduling simulation: it forms the same tasks (units, or
stacks of units where stacking applies), takes each task's time from the wall times stored in the
units' provenance, and hands the tasks, in the runner's order, to whichever worker of their kind
(CPU worker or GPU slot) is free first. The prediction is the time the last task ends.

How recorded times become task times:

* A unit's recorded ``wall_time_s`` is used as it stands, whatever engine computed it. Units whose
  result names no ``engine`` were computed by their experiment's default path (autograd, not
  compiled; or the only path it has); the plan lists the engines behind each experiment's times,
  so a run with another engine (``--engine``) knows what the estimate is for.
* A stacked unit (``stack`` or, in older units, ``stacked_with`` in its provenance) recorded its
  *share* of the stack's wall
  time. A planned stack costs the sum of its members' shares: the recorded stack's time when the
  stack is the same, pessimistic when it is larger (a GPU stack costs less than linearly more).
* A unit counts on the kind of device it was recorded on (``cuda``: a GPU; anything else: a CPU
  core). A unit planned on a device kind it has no time for takes the median time of the units of
  its experiment recorded on that kind; with none, a GPU stack takes its members' CPU times
  (pessimistic), and a CPU unit with only GPU times is *not sized*: it is listed and left out, and
  the prediction is then a lower bound (marked ``≥``).
* Units without any recorded time take the median of their experiment's recorded units.

With ``--gpus 0`` nothing stacks (as on a CPU run, unless ``--stack N``); with GPUs the
experiments that can stack do (``--stack N`` caps a stack at N units), and ``1 / gpus_per_stack``
stacks share a GPU, each assumed as fast as alone (optimistic when they compete).
Start-up of the backend is added as ``startup_s``.
"""

from __future__ import annotations

import heapq
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import _stored, results_root, unit_key

__all__ = ["PlannedTask", "Plan", "plan_run", "simulate"]


@dataclass
class PlannedTask:
    experiment: str
    units: list[str]
    kind: str  # "cpu" or "gpu"
    seconds: float | None  # None: not sized
    note: str = ""  # how the time was obtained when not simply recorded


@dataclass
class Plan:
    workers: int
    gpus: int
    gpu_slots: int
    tasks: list[PlannedTask]
    wall_s: float
    startup_s: float
    engines: dict[str, Counter] = field(default_factory=dict)

    @property
    def unsized(self) -> list[PlannedTask]:
        return [t for t in self.tasks if t.seconds is None]

    @property
    def work_s(self) -> float:
        return sum(t.seconds or 0.0 for t in self.tasks)

    def lower_bound_s(self) -> float:
        """No schedule beats this: the busiest pool's work spread evenly, or the longest task."""
        bounds = [max((t.seconds or 0.0 for t in self.tasks), default=0.0)]
        for kind, slots in (("cpu", self.workers), ("gpu", self.gpu_slots)):
            work = sum(t.seconds or 0.0 for t in self.tasks if t.kind == kind)
            if slots:
                bounds.append(work / slots)
        return max(bounds) + self.startup_s

    def report(self) -> str:
        rows = {}
        for t in self.tasks:
            r = rows.setdefault(t.experiment, {"tasks": 0, "units": 0, "work": 0.0, "notes": set()})
            r["tasks"] += 1
            r["units"] += len(t.units)
            r["work"] += t.seconds or 0.0
            if t.note:
                r["notes"].add(t.note)
        width = max((len(n) for n in rows), default=10)
        lines = [f"{'experiment':<{width}}  tasks  units   work (h)  engines behind the times"]
        for name, r in rows.items():
            eng = ", ".join(f"{e} ({n})" for e, n in self.engines.get(name, Counter()).items())
            lines.append(
                f"{name:<{width}}  {r['tasks']:>5}  {r['units']:>5}  "
                f"{r['work'] / 3600:>9.2f}  {eng}"
            )
            for note in sorted(r["notes"]):
                lines.append(f"{'':<{width}}    note: {note}")
        ge = "≥ " if self.unsized else ""
        lines.append(
            f"\n{len(self.tasks)} tasks, {self.work_s / 3600:.2f} h of recorded work, on "
            f"{self.workers} CPU worker(s)"
            + (f" and {self.gpus} GPU(s) ({self.gpu_slots} stack slots)" if self.gpus else "")
        )
        lines.append(
            f"predicted wall time: {ge}{_hms(self.wall_s)} (no schedule beats "
            f"{_hms(self.lower_bound_s())}; start-up {self.startup_s:.0f} s included)"
        )
        if self.unsized:
            n = sum(len(t.units) for t in self.unsized)
            names = sorted({t.experiment for t in self.unsized})
            lines.append(f"not sized (no usable recorded time): {n} unit(s) of {', '.join(names)}")
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def simulate(tasks: list[PlannedTask], workers: int, gpu_slots: int) -> float:
    """The time the last task ends when each task, in order, goes to the first free worker of its
    kind (what the local pool and, near enough, Ray do). Unsized tasks are left out."""
    end = 0.0
    for kind, slots in (("cpu", workers), ("gpu", gpu_slots)):
        mine = [t.seconds for t in tasks if t.kind == kind and t.seconds is not None]
        if not mine:
            continue
        if not slots:
            raise ValueError(f"{len(mine)} {kind.upper()} task(s) planned but no {kind} workers")
        free = [0.0] * slots
        for s in mine:
            t0 = heapq.heappop(free)
            heapq.heappush(free, t0 + s)
        end = max(end, max(free))
    return end


def _recorded(folder: Path) -> dict[str, dict[str, Any]]:
    """Each stored unit's time, device kind, stack size and engine (read from its JSON only)."""
    out = {}
    for key, path in _stored(folder).items():
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        prov = payload.get("provenance", {})
        if "wall_time_s" not in prov:
            continue
        engine = (
            payload.get("result", {}).get("engine")
            or prov.get("engine")
            or "default path (no engine recorded)"
        )
        out[key] = {
            "seconds": float(prov["wall_time_s"]),
            "kind": "gpu" if str(prov.get("device", "")).startswith("cuda") else "cpu",
            "engine": str(engine),
        }
    return out


def plan_run(
    names: list[str],
    profile: str = "full",
    *,
    workers: int = 1,
    gpus: int = 0,
    gpus_per_stack: float = 1.0,
    root: Path | str | None = None,
    missing_only: bool = False,
    startup_s: float = 0.0,
    stack: int | None = None,
) -> Plan:
    """Plan a run of ``names`` (every unit, as a fresh run would; ``missing_only``: only the units
    not stored yet) on ``workers`` CPU workers and ``gpus`` GPUs, from the recorded unit times.
    ``stack`` as in :func:`synlab.results.run_experiments` (default: no limit with GPUs, else 1)."""
    from .experiments import get_experiment

    if workers < 1 or gpus < 0 or not 0 < gpus_per_stack <= 1:
        raise ValueError("plan needs workers ≥ 1, gpus ≥ 0 and 0 < gpus_per_stack ≤ 1")
    gpu_slots = gpus * max(1, int(1 / gpus_per_stack + 1e-9))
    if stack is None:
        stack = 0 if gpus > 0 else 1
    tasks: list[PlannedTask] = []
    engines: dict[str, Counter] = {}
    for name in names:
        exp = get_experiment(name)
        cfg = exp.make_config(profile)
        folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
        rec = _recorded(folder)
        units = exp.units(cfg)
        if missing_only:
            units = [u for u in units if unit_key(u) not in rec]
        engines[exp.name] = Counter(rec[k]["engine"] for k in map(unit_key, units) if k in rec)
        median = {
            kind: statistics.median(ts) if ts else None
            for kind in ("cpu", "gpu")
            for ts in [[r["seconds"] for r in rec.values() if r["kind"] == kind]]
        }

        def unit_time(key: str, kind: str) -> tuple[float | None, str]:
            r = rec.get(key)
            if r is not None and r["kind"] == kind:
                return r["seconds"], ""
            if median[kind] is not None:
                return median[kind], f"some units sized by the median {kind.upper()} unit"
            return None, ""

        stacked, groups = exp.stacks(units, stack)
        for group in groups:
            keys = [unit_key(u) for u in group]
            kind = "gpu" if (gpus > 0 and stacked and len(group) > 1) else "cpu"
            total, notes = 0.0, set()
            for k in keys:
                t, note = unit_time(k, kind)
                if t is None and kind == "gpu":
                    t, note = unit_time(k, "cpu")
                    note = "no GPU time recorded: CPU times used (pessimistic)"
                if t is None:
                    total, notes = None, {f"not sized: no {kind.upper()} time recorded"}
                    break
                total += t
                if note:
                    notes.add(note)
            tasks.append(PlannedTask(exp.name, keys, kind, total, "; ".join(sorted(notes))))
    wall = simulate(tasks, workers, gpu_slots) + startup_s
    return Plan(workers, gpus, gpu_slots, tasks, wall, startup_s, engines)
