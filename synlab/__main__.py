"""Command line: ``python -m synlab [--debug] list | run EXP|all [--profile quick|full]
[--engine autograd|fused|compiled] [--stack N|all] [--only KEY=VALUE] [--recompute]
[--workers N] [--address ADDR] [--gpus-per-stack F] | plan EXP|all [--workers N] [--gpus G]
[--stack N|all] | status [--check]``.

Every expected failure (bad arguments or settings, missing data, an untrustworthy stored
unit, a file that cannot be read or written) ends in one ``error: ...`` message that names
the file, setting or argument, and a non-zero exit; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .checkpoint import describe
from .data import DataUnavailableError
from .executor import UnitsFailed, make_executor
from .experiments import ENGINES, all_experiments, get_experiment
from .results import (
    PROFILES,
    experiment_status,
    run_experiment,
    run_experiments,
    status_failures,
)


def _cmd_list(args: argparse.Namespace) -> int:
    exps = all_experiments()
    width = max((len(n) for n in exps), default=10)
    for name, exp in sorted(exps.items(), key=lambda kv: (kv[1].part, kv[0])):
        more = "; resumable" if exp.resumable else ""
        print(
            f"{name:<{width}}  [{exp.part}] {exp.description} "
            f"(engines: {', '.join(exp.engines)}{more})"
        )
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


def _names(experiment: str) -> list[str]:
    if experiment == "all":
        return sorted(all_experiments())
    return [get_experiment(experiment).name]


def _stack(value: str) -> int:
    """``--stack N|all``: the most units per stack (``all``: no limit, stored as 0)."""
    if value == "all":
        return 0
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f"takes a positive number of units or 'all'; got {value!r}"
        )
    return int(value)


_STACK_HELP = (
    "the most units trained as one stack, where the experiment can stack (1: each alone; all: "
    "no limit); default 1 on a CPU, all on CUDA. Recorded in each unit's provenance"
)


def _cmd_run(args: argparse.Namespace) -> int:
    names = _names(args.experiment)
    if args.engine is not None:  # every experiment must have it, checked before anything runs
        for name in names:
            get_experiment(name).engine(args.engine)
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1; got {args.workers}")
    t_start = time.perf_counter()
    timings = []
    try:
        with make_executor(
            args.workers, args.address, gpus_per_stack=args.gpus_per_stack
        ) as executor:
            opts = dict(
                force=args.force,
                only=_parse_only(args.only),
                recompute=args.recompute,
                engine=args.engine,
                stack=args.stack,
                gpus_per_stack=args.gpus_per_stack,
            )
            if executor.backend == "in-process":  # one experiment after the other, timed
                for name in names:
                    t0 = time.perf_counter()
                    res = run_experiment(name, args.profile, executor=executor, **opts)
                    timings.append((name, time.perf_counter() - t0, len(res)))
                    print(res.describe())
            else:  # every experiment's tasks in one queue, so no worker idles between them
                for res in run_experiments(names, args.profile, executor=executor, **opts):
                    print(res.describe())
    except UnitsFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every unit that finished is stored; the same command resumes.",
            file=sys.stderr,
        )
        return 130
    if len(timings) > 1:
        print("\nwall time per experiment:")
        for name, wall, n in timings:
            print(f"  {name:<40} {wall:8.1f} s  ({n} units)")
        print(f"  {'total':<40} {sum(t for _, t, _ in timings):8.1f} s")
    elif len(names) > 1:
        print(f"\ntotal wall time {time.perf_counter() - t_start:.1f} s")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .plan import plan_run

    plan = plan_run(
        _names(args.experiment),
        args.profile,
        workers=args.workers,
        gpus=args.gpus,
        gpus_per_stack=args.gpus_per_stack,
        missing_only=args.missing,
        startup_s=args.startup,
        stack=args.stack,
    )
    print(plan.report())
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    rows = experiment_status()
    head = ("done", "stale", "orphan", "corrupt", "dirty")
    print(f"{'experiment':<36} {'profile':<7} {head[0]:>9}" + "".join(f" {h:>7}" for h in head[1:]))
    for r in rows:
        mark = " complete" if r["complete"] else ""
        counts = "".join(f" {r[k]:>7}" for k in ("stale", "orphaned", "corrupt", "dirty"))
        done = f"{r['done']}/{r['expected']}"
        print(f"{r['experiment']:<36} {r['profile']:<7} {done:>9}{counts}{mark}")
    problems = []
    for r in rows:
        if r["profile"] == "full" and r["problems"]:
            more = len(r["problems"]) - 3
            problems += r["problems"][:3] + ([f"... and {more} more"] if more > 0 else [])
    if problems:
        print("\nfull units to look at:\n  " + "\n  ".join(problems))
    running = [f"{r['experiment']} {describe(p)}" for r in rows for p in r["in_progress"]]
    if running:
        print("\nunits stopped part-way (they resume from here):\n  " + "\n  ".join(running))
    failures = status_failures(rows)
    if args.check and failures:
        print(
            "\nstatus --check failed:\n  " + "\n  ".join(failures) + "\nRerun with "
            "`python -m synlab run EXP --profile full` (--recompute for corrupt units), "
            "commit from a clean tree, or remove orphaned files.",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_student(args: argparse.Namespace) -> int:
    from .student import make_student_copy

    out = make_student_copy(args.chapter, args.output)
    print(f"student copy written to {out}")
    return 0


def _add_run_parser(sub: Any) -> None:
    """The options of `synlab run`."""
    run = sub.add_parser("run", help="run an experiment (resumes; each unit is cached)")
    run.add_argument("experiment", help="experiment name, or 'all'")
    run.add_argument("--profile", choices=PROFILES, default="quick")
    run.add_argument("--force", action="store_true", help="recompute units that are already stored")
    run.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="what the training steps run on: autograd (the reference step), fused (hand-derived "
        "gradients, eager) or compiled (fused, torch.compile); only engines the experiment "
        "declares (synlab list shows them). Default: its first on a CPU, compiled on CUDA where "
        "it has it. Recorded in each unit's provenance, never in the config hash",
    )
    run.add_argument("--stack", type=_stack, default=None, metavar="N|all", help=_STACK_HELP)
    run.add_argument(
        "--only",
        action="append",
        metavar="KEY=VALUE",
        help="run only the units with this coordinate (repeatable), e.g. --only method=bgd",
    )
    run.add_argument(
        "--recompute",
        action="store_true",
        help="move corrupt full units to results/quarantine/ and recompute them",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="1: compute in this process (default); N: a local pool of N processes, one CPU and "
        "one torch thread each; with --address: ignored except for --address local",
    )
    run.add_argument(
        "--address",
        default=None,
        help="run on Ray (pip install 'synlab[cluster]'): auto (the cluster this machine is in), "
        "ray://HOST:10001 or HOST:6379, or local (a private instance on this machine)",
    )
    run.add_argument(
        "--gpus-per-stack",
        type=float,
        default=1.0,
        metavar="F",
        help="the fraction of a GPU one stack of units takes (1/F stacks share a GPU); default 1",
    )
    run.set_defaults(func=_cmd_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synlab", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered experiments").set_defaults(func=_cmd_list)
    _add_run_parser(sub)
    plan = sub.add_parser(
        "plan", help="predict a run's wall time from recorded unit times (a scheduling simulation)"
    )
    plan.add_argument("experiment", help="experiment name, or 'all'")
    plan.add_argument("--profile", choices=PROFILES, default="full")
    plan.add_argument("--workers", type=int, default=1, help="CPU workers (default 1)")
    plan.add_argument("--gpus", type=int, default=0, help="GPUs (default 0: nothing stacks)")
    plan.add_argument("--gpus-per-stack", type=float, default=1.0, metavar="F")
    plan.add_argument("--missing", action="store_true", help="plan only the units not stored yet")
    plan.add_argument("--stack", type=_stack, default=None, metavar="N|all", help=_STACK_HELP)
    plan.add_argument(
        "--startup", type=float, default=0.0, metavar="S", help="add S seconds of start-up"
    )
    plan.set_defaults(func=_cmd_plan)
    status = sub.add_parser("status", help="stored units per experiment and profile")
    status.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if full units are corrupt, stale, orphaned or dirty, or missing from an "
        "experiment marked complete",
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


def _one_line(err: BaseException) -> tuple[str, int]:
    """The message and exit status of an expected failure (a ValueError or an OSError)."""
    if isinstance(err, DataUnavailableError):
        return str(err), 1
    if isinstance(err, ValueError):
        return str(err), 2
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror or err}", 1
    return str(err), 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; finished units are stored, rerun to resume", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        if args.debug:
            raise
        message, status = _one_line(err)
        print(f"error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
