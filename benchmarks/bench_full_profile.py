"""Wall time of the full profile, per experiment, on the current device.

    python benchmarks/bench_full_profile.py              # estimate: time one unit per experiment, extrapolate
    python benchmarks/bench_full_profile.py --run        # really run `synlab run all --profile full` (resumes)
    python benchmarks/bench_full_profile.py --only raman_fig5_nonlinear --run

The estimate runs the first unit of each experiment's full profile and discards its result
(nothing is written to results/) and multiplies by the number of units; units of one
experiment are of similar size by construction, so the estimate is usually within tens of
percent. ``--run`` uses the real results store, so it resumes and commits nothing by itself.
"""
from __future__ import annotations

import argparse
import time

from synlab.device import describe_device
from synlab.experiments import all_experiments
from synlab.results import config_hash, run_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run the full profile for real (resumable)")
    ap.add_argument("--only", nargs="*", help="experiment names (default: all)")
    args = ap.parse_args()
    exps = all_experiments()
    names = args.only or sorted(exps)
    print(f"device: {describe_device()}")
    rows = []
    for name in names:
        exp = exps[name]
        cfg = exp.make_config("full")
        units = exp.units(cfg)
        t0 = time.perf_counter()
        if args.run:
            run_experiment(name, "full")
            total = time.perf_counter() - t0
            rows.append((name, len(units), total, "measured"))
        else:
            t0 = time.perf_counter()
            if units:
                exp.run_unit(cfg, units[0])  # result discarded: nothing is written anywhere
            per_unit = time.perf_counter() - t0
            rows.append((name, len(units), per_unit * len(units), f"estimated from 1 unit ({per_unit:.1f} s)"))
        print(f"  {name:<36} {len(units):>5} units  {rows[-1][2] / 60:9.1f} min  {rows[-1][3]}  [config {config_hash(cfg)}]",
              flush=True)
    total = sum(r[2] for r in rows)
    print(f"  {'total':<36} {sum(r[1] for r in rows):>5} units  {total / 60:9.1f} min  ({total / 3600:.2f} h)")


if __name__ == "__main__":
    main()
