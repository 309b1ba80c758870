"""Time per training step: K Bernoulli-synapse networks one at a time vs as one stack.

Schug et al.'s 784-200-200-10 bias-free ReLU network, batch 100, SGD with the release-probability
rule; the K members differ in ℓ2 strength and seed, as in the energy sweep. "One at a time" runs
:func:`synlab.training.train_classifier` for each member; "stacked" runs
:func:`synlab.fast.stacked.train_stacked` once for all K. Both run in this one process on the current
device (``SYNLAB_DEVICE`` or CUDA if present, else CPU), on one torch thread on the CPU, and the
ratio is printed.

    python benchmarks/bench_stacked.py [--k 6] [--steps 40]
"""

from __future__ import annotations

import argparse
import time

import torch

from synlab.device import default_device, describe_device
from synlab.fast.stacked import StackedMLP, train_stacked
from synlab.rules import PresynapticRule
from synlab.synapses import BernoulliLinear, mlp
from synlab.training import cpu_threads, train_classifier

SIZES = [784, 200, 200, 10]
RULE = PresynapticRule(p_up=0.07, p_down=0.07, g_lim=0.001, p_min=0.25, p_max=1.0, headroom=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    device = default_device()
    K, B = args.k, 100
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B * args.steps, 784, generator=g).to(device)
    y = torch.randint(0, 10, (B * args.steps,), generator=g).to(device)
    seeds = [2019 + k % 3 for k in range(K)]
    l2 = [0.01 * (k // 3) for k in range(K)]

    def models():
        out = []
        for s in seeds:
            torch.manual_seed(s)
            out.append(mlp(SIZES, BernoulliLinear, p_init=0.25).to(device))
        return out

    with cpu_threads(1, device):
        solo = models()
        for m, s, wd in zip(solo, seeds, l2):  # warm-up
            train_classifier(
                m,
                (x[: 2 * B], y[: 2 * B]),
                epochs=1,
                lr=0.05,
                weight_decay=wd,
                rule=RULE,
                seed=s,
                device=device,
            )
        _sync(device)
        t0 = time.perf_counter()
        for m, s, wd in zip(solo, seeds, l2):
            train_classifier(
                m, (x, y), epochs=1, lr=0.05, weight_decay=wd, rule=RULE, seed=s, device=device
            )
        _sync(device)
        t_solo = (time.perf_counter() - t0) / args.steps
        stack = StackedMLP.from_models(models())
        train_stacked(
            stack,
            (x[: 2 * B], y[: 2 * B]),
            epochs=1,
            seeds=seeds,
            lr=0.05,
            weight_decay=l2,
            rule=RULE,
            device=device,
        )
        _sync(device)
        t0 = time.perf_counter()
        train_stacked(
            stack, (x, y), epochs=1, seeds=seeds, lr=0.05, weight_decay=l2, rule=RULE, device=device
        )
        _sync(device)
        t_stack = (time.perf_counter() - t0) / args.steps
    print(
        f"device: {describe_device(device)}; K = {K} networks {SIZES}, batch {B}, SGD + release-probability rule"
    )
    print(f"{'engine':28s} {'ms per step (all K)':>20s} {'ms per network':>15s} {'speed-up':>9s}")
    for name, t in [("one at a time", t_solo), ("stacked (train_stacked)", t_stack)]:
        print(f"{name:28s} {1e3 * t:20.1f} {1e3 * t / K:15.2f} {t_solo / t:8.2f}x")


if __name__ == "__main__":
    main()
