"""Command line: ``python -m synlab list | run EXP|all [--profile quick|full] [--only KEY=VALUE] | status [--check]``."""

from __future__ import annotations

import argparse
import sys
import time

from .results import PROFILES, experiment_status, run_experiment


def _cmd_list(args: argparse.Namespace) -> int:
    from .experiments import all_experiments

    exps = all_experiments()
    width = max((len(n) for n in exps), default=10)
    for name, exp in sorted(exps.items(), key=lambda kv: (kv[1].part, kv[0])):
        print(f"{name:<{width}}  [{exp.part}] {exp.description}")
    return 0


def _parse_only(items: list[str] | None) -> dict[str, object] | None:
    """``["method=bgd", "seed=2019"]`` -> ``{"method": "bgd", "seed": 2019}`` (numbers parsed)."""
    if not items:
        return None
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--only takes KEY=VALUE (a unit coordinate); got {item!r}")
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import all_experiments, get_experiment

    names = (
        sorted(all_experiments())
        if args.experiment == "all"
        else [get_experiment(args.experiment).name]
    )
    timings = []
    for name in names:
        t0 = time.perf_counter()
        res = run_experiment(name, args.profile, force=args.force, only=_parse_only(args.only))
        timings.append((name, time.perf_counter() - t0, len(res)))
        print(res.describe())
    if len(timings) > 1:
        print("\nwall time per experiment:")
        for name, wall, n in timings:
            print(f"  {name:<40} {wall:8.1f} s  ({n} units)")
        print(f"  {'total':<40} {sum(t for _, t, _ in timings):8.1f} s")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    rows = experiment_status()
    bad = 0
    print(f"{'experiment':<36} {'profile':<6} {'done':>9} {'stale':>6} {'orphan':>6}")
    for r in rows:
        print(
            f"{r['experiment']:<36} {r['profile']:<6} {r['done']:>4}/{r['expected']:<4} {r['stale']:>6} {r['orphaned']:>6}"
        )
        if r["profile"] == "full" and (r["stale"] or r["orphaned"]):
            bad += 1
    if args.check and bad:
        print(
            f"\n{bad} experiment(s) have stale or orphaned full results: rerun them with "
            "`python -m synlab run EXP --profile full` (or delete the orphaned files).",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_student(args: argparse.Namespace) -> int:
    from .student import make_student_copy

    out = make_student_copy(args.chapter, args.output)
    print(f"student copy written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered experiments").set_defaults(func=_cmd_list)
    run = sub.add_parser("run", help="run an experiment (resumes; each unit is cached)")
    run.add_argument("experiment", help="experiment name, or 'all'")
    run.add_argument("--profile", choices=PROFILES, default="quick")
    run.add_argument("--force", action="store_true", help="recompute units that are already stored")
    run.add_argument(
        "--only",
        action="append",
        metavar="KEY=VALUE",
        help="run only the units with this coordinate (repeatable), e.g. --only method=bgd",
    )
    run.set_defaults(func=_cmd_run)
    status = sub.add_parser("status", help="stored units per experiment and profile")
    status.add_argument(
        "--check", action="store_true", help="exit 1 if committed full results are stale"
    )
    status.set_defaults(func=_cmd_status)
    student = sub.add_parser("student", help="write a copy of a chapter with the solutions removed")
    student.add_argument(
        "chapter",
        help="a chapter notebook or its .py twin, e.g. book/foundations/01_quantal_release.ipynb",
    )
    student.add_argument("-o", "--output", required=True, help="output .ipynb path")
    student.set_defaults(func=_cmd_student)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
