"""Wall time of the full profile, per experiment, on the current device.

    python benchmarks/bench_full_profile.py              # estimate: time one unit per experiment, extrapolate
    python benchmarks/bench_full_profile.py --run        # really run `synlab run all --profile full` (resumes)
    python benchmarks/bench_full_profile.py --only raman_fig5_nonlinear --run
    python benchmarks/bench_full_profile.py --recorded   # wall times recorded in the committed results

The estimate runs the first unit of each experiment's full profile and discards its result
(nothing is written to results/) and multiplies by the number of units; units of one
experiment are of similar size by construction, so the estimate is usually within tens of
percent. ``--run`` uses the real results store, so it resumes and commits nothing by itself.
``--recorded`` reads nothing but the provenance of the stored full results: per experiment, the
units done, the summed wall time of its units and the devices they ran on (no computing).
"""

from __future__ import annotations

import argparse
import time

from synlab.device import describe_device
from synlab.experiments import all_experiments
from synlab.results import config_hash, load_results, run_experiment


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", action="store_true", help="run the full profile for real (resumable)")
    ap.add_argument("--only", nargs="*", help="experiment names (default: all)")
    ap.add_argument(
        "--recorded", action="store_true", help="summarise the wall times stored in results/full"
    )
    args = ap.parse_args()
    exps = all_experiments()
    names = args.only or sorted(exps)
    if args.recorded:
        recorded(names)
        return
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
            rows.append(
                (
                    name,
                    len(units),
                    per_unit * len(units),
                    f"estimated from 1 unit ({per_unit:.1f} s)",
                )
            )
        print(
            f"  {name:<36} {len(units):>5} units  {rows[-1][2] / 60:9.1f} min  {rows[-1][3]}  [config {config_hash(cfg)}]",
            flush=True,
        )
    total = sum(r[2] for r in rows)
    print(
        f"  {'total':<36} {sum(r[1] for r in rows):>5} units  {total / 60:9.1f} min  ({total / 3600:.2f} h)"
    )


def recorded(names) -> None:
    """Per experiment: fresh full units stored / expected, their summed wall time, devices."""
    exps = all_experiments()
    total = 0.0
    print(f"  {'experiment':<36} {'units':>9}  {'wall time':>10}  device")
    for name in names:
        expected = len(exps[name].units(exps[name].make_config("full")))
        try:
            res = load_results(
                name, "full", allow_incomplete=True
            )  # only fresh units, or ValueError
        except ValueError:
            print(f"  {name:<36} {'stale':>9}  {'-':>10}")
            continue
        total += res.wall_time_s
        devices = sorted({r.provenance.get("device", "?") for r in res.records})
        print(
            f"  {name:<36} {len(res):>4}/{expected:<4}  {res.wall_time_s / 60:7.1f} min  {'; '.join(devices)}"
        )
    print(f"  {'total (stored units)':<36} {'':>9}  {total / 60:7.1f} min  ({total / 3600:.2f} h)")


if __name__ == "__main__":
    main()
