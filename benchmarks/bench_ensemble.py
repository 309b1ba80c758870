"""Time per training step: K Gaussian-synapse networks one at a time vs as one ensemble.

Malkin et al.'s 784-100-100-10 network, batch 20, Adam; K = 16 members with different λ.
"One at a time" runs K ensembles of one member each (the same code path, so the comparison is
about batching alone); "ensemble" runs one ensemble of K. Both are measured in this one run, on
the current device (``SYNLAB_DEVICE`` or CUDA if present, else CPU), and the ratio is printed.

    python benchmarks/bench_ensemble.py [--k 16] [--steps 30]
"""
from __future__ import annotations

import argparse
import time

import torch

from synlab.device import default_device, describe_device
from synlab.ensemble import GaussianEnsembleMLP, NoiseSource, StackedAdam, ensemble_objective


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_step(models, x, y, lams, steps: int, device) -> float:
    """Seconds per optimisation step of *all* models (each model does one step)."""
    opts = [StackedAdam([(list(m.parameters()), 1e-4)]) for m in models]
    rho = [torch.full((m.K,), 0.5, device=device) for m in models]

    def one_round():
        for m, opt, lam, r in zip(models, opts, lams, rho):
            opt.zero_grad()
            total, _, _ = ensemble_objective(m, x, y, lam=lam, rho=r)
            total.backward()
            opt.step()

    for _ in range(3):  # warm-up
        one_round()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        one_round()
    _sync(device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    device = default_device()
    K = args.k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 784, generator=g).to(device)
    y = torch.randint(0, 10, (20,), generator=g).to(device)
    lam_all = torch.logspace(-2, 4, K, device=device)
    kw = dict(sigma_init=1e-4, mu_init=(-0.1, 0.1))
    solo = [GaussianEnsembleMLP(1, [784, 100, 100, 10], source=NoiseSource(1, k, device=device), **kw).to(device)
            for k in range(K)]
    ens = GaussianEnsembleMLP(K, [784, 100, 100, 10], source=NoiseSource(K, 0, device=device), **kw).to(device)
    t_solo = time_per_step(solo, x, y, [lam_all[k:k + 1] for k in range(K)], args.steps, device)
    t_ens = time_per_step([ens], x, y, [lam_all], args.steps, device)
    print(f"device: {describe_device(device)}")
    print(f"K = {K} networks 784-100-100-10, batch 20, Adam")
    print(f"one at a time: {t_solo * 1e3:8.2f} ms per step of all {K} networks")
    print(f"ensemble:      {t_ens * 1e3:8.2f} ms per step of all {K} networks")
    print(f"speed-up (one at a time / ensemble): {t_solo / t_ens:.1f}x")


if __name__ == "__main__":
    main()
