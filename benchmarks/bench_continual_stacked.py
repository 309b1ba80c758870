"""Time per training step of sequential learning: K runs one at a time vs as one stack.

The tuning trials and seeds of Schug et al.'s lifelong-learning experiments: a 784-200-200-10
bias-free ReLU network, batch 100, two tasks; the K members differ in hyperparameters (as a
random search's trials do) and share data and seed. "One at a time" runs
:func:`synlab.continual.train_sequentially` for each member; "stacked" runs
:func:`synlab.fast.stacked.train_sequentially_stacked` once for all K. Both run in this
one process on the current device (``SYNLAB_DEVICE`` or CUDA if present, else CPU; one torch
thread on the CPU), and the ratio is printed per method. ``--compile`` adds both again with the
step compiled (``compile=True``: :func:`~synlab.continual.presynaptic_mlp_step` /
:func:`~synlab.continual.bgd_mlp_step`; the first, compiling step is in the warm-up).

    python benchmarks/bench_continual_stacked.py [--k 8] [--steps 30] [--methods presynaptic bgd] [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch

from synlab.continual import make_strategy, train_sequentially
from synlab.data import Task
from synlab.device import default_device, describe_device
from synlab.fast.stacked import STACKABLE, LifelongStackSpec, train_sequentially_stacked
from synlab.training import cpu_threads


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _params(method: str, k: int) -> dict:
    if method == "bgd":
        return dict(eta=0.5 + 0.25 * k, sigma_init=0.02 + 0.005 * k)
    return dict(
        lr=(0.01, 0.001)[k % 2],
        p_up=0.02 + 0.01 * k,
        p_down=0.05,
        g_lim=1e-3 * (1 + k),
        p_freeze=0.9,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30, help="SGD steps per task (two tasks)")
    ap.add_argument("--methods", nargs="+", default=["presynaptic", "bgd"], choices=STACKABLE)
    ap.add_argument("--compile", action="store_true", help="also time the compiled steps")
    args = ap.parse_args()
    device = default_device()
    K, B = args.k, 100
    g = torch.Generator().manual_seed(0)
    n = B * args.steps
    tasks = []
    for i in range(2):
        x, y = torch.randn(n + 200, 784, generator=g), torch.randint(0, 10, (n + 200,), generator=g)
        tasks.append(Task(f"t{i}", x[:n], y[:n], x[n:], y[n:], 10))
    kw = dict(epochs=1, batch_size=B, device=device, eval_every=10**9, curve_test=10)
    spec = LifelongStackSpec(epochs=1, batch_size=B, eval_every=10**9, curve_test=10)
    print(
        f"device: {describe_device(device)}; K = {K} runs of a 784-200-200-10 network, batch {B}, "
        f"2 tasks × {args.steps} steps, 10 test samples, 10 Monte Carlo samples (BGD)"
    )
    print(
        f"{'method':18s} {'engine':24s} {'ms per step (all K)':>20s} {'ms per network':>15s} {'speed-up':>9s}"
    )

    def timed(run) -> float:
        run()  # warm-up (and compilation)
        _sync(device)
        t0 = time.perf_counter()
        run()
        _sync(device)
        return (time.perf_counter() - t0) / (2 * args.steps)

    with cpu_threads(1, device):
        for method in args.methods:
            params = [_params(method, k) for k in range(K)]
            rows = []
            for compiled in [False, True] if args.compile else [False]:
                tag = ", compiled" if compiled else ""
                rows.append(
                    (
                        "one at a time" + tag,
                        timed(
                            lambda: [
                                train_sequentially(
                                    tasks, make_strategy(method, p, compile=compiled), **kw
                                )
                                for p in params
                            ]
                        ),
                    )
                )
                rows.append(
                    (
                        "stacked" + tag,
                        timed(
                            lambda: train_sequentially_stacked(
                                [tasks] * K,
                                method,
                                params,
                                [0] * K,
                                spec,
                                device=device,
                                compile=compiled,
                            )
                        ),
                    )
                )
            for name, t in rows:
                print(
                    f"{method:18s} {name:24s} {1e3 * t:20.1f} {1e3 * t / K:15.2f} {rows[0][1] / t:8.2f}x"
                )


if __name__ == "__main__":
    main()
