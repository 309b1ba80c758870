"""Achieved FLOP/s of the ensemble training step vs a plain large matmul, in one run.

The ensemble step of K Gaussian-synapse networks (784-100-100-10, batch 20, Adam) does
6·B·P matmul FLOPs per member (forward 2·B·P, backward 4·B·P; P = weights per network) plus
element-wise work on every parameter (sampling w = μ + σε, softplus, the cost, Adam). We
count only the matmul FLOPs, so the printed fraction is a lower bound on how busy the device
is, and compare with the FLOP/s of one large square matmul on the same device: the practical
limit. We also print the per-network *floor*: the time of its matmuls alone at the large-matmul
rate plus one read-modify-write pass over its parameters at the measured copy bandwidth.

    python benchmarks/bench_flops.py [--k 16] [--steps 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ensemble import _sync, time_per_step  # noqa: E402

from synlab.device import default_device, describe_device  # noqa: E402
from synlab.ensemble import GaussianEnsembleMLP, NoiseSource  # noqa: E402

SIZES = [784, 100, 100, 10]
BATCH = 20


def matmul_flops_per_s(device, n: int = 2048, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def copy_bytes_per_s(device, n: int = 1 << 24, reps: int = 10) -> float:
    a = torch.randn(n, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        b.copy_(a)
    _sync(device)
    return 2 * 4 * n * reps / (time.perf_counter() - t0)  # read + write, float32


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--no-compile", action="store_true", help="measure the autograd step only")
    args = ap.parse_args()
    device = default_device()
    K = args.k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH * args.steps, SIZES[0], generator=g).to(device)
    y = torch.randint(0, SIZES[-1], (BATCH * args.steps,), generator=g).to(device)
    lams = [torch.logspace(-2, 4, K).tolist()]
    engines = {"autograd": dict(engine="autograd")}
    if not args.no_compile:
        engines["fused, compiled"] = dict(engine="fused", compile=True)
    steps = {}
    for name, kw in engines.items():
        model = GaussianEnsembleMLP(
            K, SIZES, source=NoiseSource(K, 0, device=device), sigma_init=1e-4, mu_init=(-0.1, 0.1)
        ).to(device)
        steps[name] = time_per_step([model], x, y, lams, args.steps, device, **kw)
    weights = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
    params = model.n_parameters_per_member()
    peak = matmul_flops_per_s(device)
    bandwidth = copy_bytes_per_s(device)
    # floor per network: its matmuls at the peak rate + one pass over (mu, phi) and Adam's two moments
    floor = 6 * BATCH * weights / peak + 2 * 4 * 4 * params / bandwidth
    print(f"device: {describe_device(device)}")
    print(
        f"large 2048x2048 matmul: {peak / 1e9:.2f} GFLOP/s; copy bandwidth {bandwidth / 1e9:.1f} GB/s"
    )
    print(f"per-network floor (matmuls at peak + one pass over parameters): {floor * 1e3:.3f} ms")
    for name, step in steps.items():
        achieved = 6 * BATCH * weights * K / step
        print(
            f"[{name}] ensemble of K={K}: {step * 1e3:.2f} ms per step ({step / K * 1e3:.3f} ms per network); "
            f"matmul FLOP/s {achieved / 1e9:.2f} G = {achieved / peak:.3f} of the large matmul; "
            f"{step / K / floor:.1f}x the per-network floor"
        )


if __name__ == "__main__":
    main()
