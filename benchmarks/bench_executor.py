"""Parallel efficiency of the executors and accuracy of ``synlab plan``, measured in one run.

One named CPU-bound sweep (default: ``foundations_information``, full profile: 18 units, about
6 min of work on one core here) runs into a scratch results folder four ways, one torch thread
per worker throughout:

1. in-process (``--workers 1``): the reference time, and the unit times the planner reads;
2. ``synlab plan`` predicts the ``--workers 2`` wall time from those recorded unit times;
3. the local process pool with ``--workers 2`` (start-up included);
4. Ray on this machine (``--address local --workers 2``), with and without its start-up
   (skipped when Ray is not installed, or with ``--no-ray``).

It prints the load average before and after: the ratios only mean something on a quiet machine.

    python benchmarks/bench_executor.py [--experiment NAME] [--profile full] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="foundations_information")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()

    import torch

    from synlab.plan import plan_run
    from synlab.results import run_experiment

    torch.set_num_threads(1)  # the in-process reference uses one torch thread, as workers do
    os.environ["SYNLAB_PROGRESS"] = "0"
    scratch = Path(tempfile.mkdtemp(prefix="bench_executor_"))
    name, profile, n = args.experiment, args.profile, args.workers
    print(f"{name} [{profile}], scratch results in {scratch}")
    print(f"load average before: {_load()} ({os.cpu_count()} logical cores)")

    def timed(root: Path, **kw) -> tuple[float, object]:
        t0 = time.perf_counter()
        res = run_experiment(name, profile, root=root, progress=False, **kw)
        return time.perf_counter() - t0, res

    t1, res1 = timed(scratch / "w1")
    work = res1.wall_time_s
    print(f"workers 1 (in-process): {t1:.1f} s wall, {work:.1f} s of recorded unit time")
    plan = plan_run([name], profile, workers=n, root=scratch / "w1")
    print(f"plan for workers {n}: {plan.wall_s:.1f} s (work {plan.work_s:.1f} s)")
    tn, _ = timed(scratch / f"w{n}", workers=n)
    print(f"workers {n} (local pool): {tn:.1f} s wall, speed-up {t1 / tn:.2f}x")
    print(f"planner error for workers {n}: {100 * (plan.wall_s - tn) / tn:+.1f} %")
    rows = [
        ("in-process, workers 1", t1, 1.0),
        (f"local pool, workers {n}", tn, t1 / tn),
    ]
    if not args.no_ray:
        try:
            import ray
        except ImportError:
            print("Ray is not installed: skipped")
            ray = None
        if ray is not None:
            t0 = time.perf_counter()
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
            t_start = time.perf_counter() - t0
            try:
                tr, _ = timed(scratch / "ray", address="auto")
            finally:
                ray.shutdown()
            print(
                f"Ray, {n} CPUs: start-up {t_start:.1f} s, run {tr:.1f} s; speed-up "
                f"{t1 / tr:.2f}x without start-up, {t1 / (tr + t_start):.2f}x with it"
            )
            rows += [
                (f"Ray, {n} CPUs, without start-up", tr, t1 / tr),
                (
                    f"Ray, {n} CPUs, with start-up ({t_start:.1f} s)",
                    tr + t_start,
                    t1 / (tr + t_start),
                ),
            ]
    print(f"load average after: {_load()}")
    print("\n| backend | wall (s) | speed-up over workers 1 |\n|---|---:|---:|")
    for label, wall, speed in rows:
        print(f"| {label} | {wall:.1f} | {speed:.2f}× |")
    print(
        f"| `synlab plan --workers {n}` (predicted) | {plan.wall_s:.1f} | "
        f"error {100 * (plan.wall_s - tn) / tn:+.1f} % |"
    )


if __name__ == "__main__":
    main()
