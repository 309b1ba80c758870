"""Run as much of ``schug_tuning_fashion`` as fits in a time limit on a GPU machine (issue 19).

Started by ``gpu/schug_fashion_tuning.sh`` (read its header first). Two kinds of process:

* the *driver* (default) starts the lanes below, each a process in its own session, and stops
  them all before the deadline; finished units are already on disk (each unit is written
  atomically when its run ends), so stopping loses only runs in flight;
* a *lane* (``--lane``) works through its blocks (data set × method) in order of importance:
  a stacking lane runs a block's missing trials as one stack; a solo lane runs one trial at a
  time and starts a trial only if its estimated time still fits before the deadline. Solo
  lanes share blocks through the results store's lock files.

Lanes on a machine with CUDA (16 cores, one GPU): three stacking lanes on the GPU (BGD permuted;
the full model permuted; BGD then the full model on Split), ``--gpu-solo`` solo lanes of EWC and
the deterministic baseline on the GPU (default none: every process that shares the GPU slows the
stacks down, and the stacks hold the work that costs most on a CPU: 26–37 CPU-min per permuted
BGD trial), and ``--cpu`` solo lanes on CPU cores. Without CUDA (a test on a CPU) the stacking
lanes stack on the CPU and the GPU solo lanes become CPU lanes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

EXPERIMENT = "schug_tuning_fashion"

#: Blocks in order of importance (the gap to the paper, issue 19, and the CPU time a block would
#: cost later): permuted BGD (26–37 CPU-min per trial) first; the permuted EWC baseline, 41
#: points below the paper; then the rest.
STACK_LANES = {
    "stack-bgd-permuted": [("permuted_fashion", "bgd")],
    "stack-presynaptic-permuted": [("permuted_fashion", "presynaptic")],
    "stack-split": [("split_fashion", "bgd"), ("split_fashion", "presynaptic")],
}
GPU_SOLO_BLOCKS = [
    ("permuted_fashion", "ewc"),
    ("permuted_fashion", "no_consolidation"),
    ("split_fashion", "ewc"),
    ("split_fashion", "no_consolidation"),
]
CPU_SOLO_BLOCKS = [
    ("permuted_fashion", "no_consolidation"),
    ("split_fashion", "no_consolidation"),
    ("split_fashion", "ewc"),
    ("permuted_fashion", "ewc"),
]
#: Every other CPU lane starts with the permuted EWC block (if a trial still fits), then the split
#: blocks, so that short limits are not spent on one block.
CPU_SOLO_BLOCKS_ALT = [
    ("permuted_fashion", "ewc"),
    ("split_fashion", "ewc"),
    ("split_fashion", "no_consolidation"),
    ("permuted_fashion", "no_consolidation"),
]

#: Estimated seconds per trial at paper scale (full profile) on a busy core of the 16-core GPU
#: machine (from the Permuted MNIST search's runs there, benchmarks/RESULTS.md) and on the GPU
#: (a guess: launch-bound, about 1 ms per step). A solo lane starts a trial only if it fits.
EST_CPU = {
    ("permuted_fashion", "ewc"): 540,
    ("permuted_fashion", "no_consolidation"): 240,
    ("split_fashion", "ewc"): 80,
    ("split_fashion", "no_consolidation"): 30,
}
EST_GPU = {
    ("permuted_fashion", "ewc"): 180,
    ("permuted_fashion", "no_consolidation"): 120,
    ("split_fashion", "ewc"): 30,
    ("split_fashion", "no_consolidation"): 20,
}
EST_QUICK = 5  # the quick profile's runs take seconds


def _log(msg: str) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    print(f"[{stamp}] {msg}", flush=True)


def run_lane(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    from synlab.experiments import get_experiment
    from synlab.results import run_experiment

    exp = get_experiment(EXPERIMENT)
    cfg = exp.make_config(args.profile)
    blocks = [tuple(b.split(":")) for b in args.blocks.split(",")]
    est_table = EST_GPU if args.device_kind == "gpu" else EST_CPU
    failures = 0
    for dataset, method in blocks:
        if time.time() >= args.deadline:
            break
        if args.stack:
            _log(f"stack {dataset}/{method}: starting")
            try:
                res = run_experiment(
                    EXPERIMENT,
                    args.profile,
                    only={"dataset": dataset, "method": method},
                    progress=False,
                )
                _log(f"stack {dataset}/{method}: {len(res)} of {cfg.n_trials} trials stored")
            except Exception:  # noqa: BLE001 - report and go on with the next block
                failures += 1
                traceback.print_exc()
            continue
        est = EST_QUICK if args.profile == "quick" else est_table[(dataset, method)]
        for trial in range(cfg.n_trials):
            if time.time() + est > args.deadline:
                _log(f"{dataset}/{method}: trial {trial} would not finish in time; next block")
                break
            try:
                t0 = time.time()
                res = run_experiment(
                    EXPERIMENT,
                    args.profile,
                    only={"dataset": dataset, "method": method, "trial": trial},
                    progress=False,
                )
                if len(res) and time.time() - t0 > 1:
                    _log(f"{dataset}/{method} trial {trial}: {time.time() - t0:.0f} s")
            except Exception:  # noqa: BLE001
                failures += 1
                traceback.print_exc()
    return 1 if failures else 0


def _lane_cmd(args, name: str, blocks, *, stack: bool, kind: str) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--lane",
        name,
        "--profile",
        args.profile,
        "--deadline",
        str(args.deadline),
        "--blocks",
        ",".join(f"{d}:{m}" for d, m in blocks),
        "--device-kind",
        kind,
    ] + (["--stack"] if stack else [])


def _cleanup(folder: Path) -> None:
    """Locks and temporary files of this experiment's runs stopped at the deadline (only in its own
    folder: other jobs may share the results root and still be writing)."""
    for pattern in (".*.lock", ".*.tmp"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def _manifest(results: Path, profile: str, out: Path, started: float) -> dict:
    folder = results / profile / EXPERIMENT
    units = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        rec = json.loads(path.read_text())
        units.append(
            {
                "file": path.name,
                **rec["unit"],
                "validation_accuracy": rec["result"].get("validation_accuracy"),
                "device": rec["provenance"].get("device"),
                "stacked_with": rec["provenance"].get("stacked_with", 1),
            }
        )
    per_block: dict[str, int] = {}
    for u in units:
        key = f"{u['dataset']}/{u['method']}"
        per_block[key] = per_block.get(key, 0) + 1
    info = {
        "experiment": EXPERIMENT,
        "profile": profile,
        "wall_s": round(time.time() - started, 1),
        "units": len(units),
        "per_block": per_block,
        "copy_back": f"cp -n <files_at>/results/{profile}/{EXPERIMENT}/* "
        f"results/{profile}/{EXPERIMENT}/",
        "unit_list": units,
    }
    (out / "schug_fashion_manifest.json").write_text(json.dumps(info, indent=1))
    return info


def drive(args: argparse.Namespace) -> int:
    import torch

    started = time.time()
    out = Path(args.out).resolve()
    results = out / "results"
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    end = args.end if args.end is not None else started + args.limit
    args.deadline = end - args.margin
    cuda = torch.cuda.is_available()
    cores = os.cpu_count() or 2
    gpu_solo = args.gpu_solo if cuda else 0
    cpu_solo = args.cpu if args.cpu is not None else max(1, cores - 3 - gpu_solo - args.reserve)
    if not cuda and args.cpu is None:
        cpu_solo += args.gpu_solo
    _log(
        f"{EXPERIMENT} [{args.profile}]: {end - started:.0f} s left "
        f"(lanes stop {args.margin:.0f} s before), "
        f"cuda={cuda}, {cores} cores: 3 stacking lanes, {gpu_solo} GPU solo, {cpu_solo} CPU solo"
    )
    env_base = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SYNLAB_PROGRESS="0")
    env_base.update(SYNLAB_RESULTS_DIR=str(results), SYNLAB_CACHE_DIR=str(results))
    lanes = []
    compile_flag = os.environ.get("SYNLAB_COMPILE", "1" if cuda else "0")
    for name, blocks in STACK_LANES.items():
        env = dict(env_base, SYNLAB_STACK="1", SYNLAB_COMPILE=compile_flag)
        lanes.append((name, _lane_cmd(args, name, blocks, stack=True, kind="gpu"), env))
    for k in range(gpu_solo):
        env = dict(env_base, SYNLAB_STACK="0", SYNLAB_DEVICE="cuda")
        name = f"gpu-solo-{k}"
        lanes.append((name, _lane_cmd(args, name, GPU_SOLO_BLOCKS, stack=False, kind="gpu"), env))
    for k in range(cpu_solo):
        env = dict(env_base, SYNLAB_STACK="0", SYNLAB_DEVICE="cpu")
        blocks = CPU_SOLO_BLOCKS_ALT if k % 2 else CPU_SOLO_BLOCKS
        name = f"cpu-solo-{k}"
        lanes.append((name, _lane_cmd(args, name, blocks, stack=False, kind="cpu"), env))
    if args.deadline - time.time() < 30:
        _log("less than 30 s before the deadline: no lane started")
        lanes = []
    procs = []
    for name, cmd, env in lanes:
        fh = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
        procs.append(
            (
                name,
                subprocess.Popen(
                    cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
                ),
                fh,
            )
        )
        time.sleep(0.5)  # stagger the claims
    while time.time() < args.deadline and any(p.poll() is None for _, p, _ in procs):
        time.sleep(2)
    stopped = []
    for name, p, _ in procs:
        if p.poll() is None:
            stopped.append(name)
            os.killpg(p.pid, signal.SIGTERM)
    grace = time.time() + 5
    for _, p, _ in procs:
        while p.poll() is None and time.time() < grace:
            time.sleep(0.2)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    for _, _, fh in procs:
        fh.close()
    _cleanup(results / args.profile / EXPERIMENT)
    info = _manifest(results, args.profile, out, started)
    _log(f"stopped at the deadline: {', '.join(stopped) or 'none (all lanes finished)'}")
    _log(f"{info['units']} units stored: {json.dumps(info['per_block'])}")
    bad = [n for n, p, _ in procs if n not in stopped and p.returncode]
    if bad:
        _log(f"lanes that reported failures: {', '.join(bad)} (see {logs})")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=float, help="seconds from now until everything has stopped")
    ap.add_argument("--end", type=float, help="or: the time (epoch seconds) everything has stopped")
    ap.add_argument("--profile", default="full", choices=("quick", "full"))
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--margin", type=float, default=20.0, help="stop this early (s)")
    ap.add_argument("--gpu-solo", type=int, default=0, help="solo lanes on the GPU (EWC first)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU solo lanes (default: the rest)")
    ap.add_argument("--reserve", type=int, default=2, help="cores left to other work")
    ap.add_argument("--lane", help=argparse.SUPPRESS)
    ap.add_argument("--blocks", help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--stack", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--device-kind", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.lane:
        return run_lane(args)
    if args.limit is None and args.end is None:
        ap.error("--limit or --end is required")
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
