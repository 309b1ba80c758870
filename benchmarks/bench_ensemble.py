"""Time per training step: K Gaussian-synapse networks one at a time vs as one ensemble.

Malkin et al.'s 784-100-100-10 network, batch 20, Adam; K = 16 members with different λ.
"One at a time" runs K ensembles of one member each (the same code path, so the comparison is
about batching alone); "ensemble" runs one ensemble of K, with each training engine of
:func:`synlab.ensemble.train_ensemble`: autograd, the fused step (hand-derived gradients,
:mod:`synlab.fast.fused`) eager and compiled (``torch.compile``), and the compiled step with local
reparameterisation. All are measured in this one run, on the current device (``SYNLAB_DEVICE`` or
CUDA if present, else CPU), and the ratios are printed.

    python benchmarks/bench_ensemble.py [--k 16] [--steps 30] [--no-compile] [--no-local]
"""

from __future__ import annotations

import argparse
import time

import torch

from synlab.device import default_device, describe_device
from synlab.ensemble import GaussianEnsembleMLP, NoiseSource, TrainSpec, train_ensemble

SIZES = [784, 100, 100, 10]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_step(models, x, y, lams, steps: int, device, **engine) -> float:
    """Seconds per optimisation step of *all* models (each model does one step), after a warm-up
    (which includes compiling, when compiling)."""
    for m, lam in zip(models, lams):  # warm-up
        train_ensemble(m, x[:60], y[:60], TrainSpec(epochs=1, lam=lam, rho=0.5), **engine)
    _sync(device)
    t0 = time.perf_counter()
    for m, lam in zip(models, lams):
        spec = TrainSpec(epochs=1, lam=lam, rho=0.5)
        train_ensemble(m, x[: 20 * steps], y[: 20 * steps], spec, **engine)
    _sync(device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument(
        "--no-local",
        action="store_true",
        help="skip the local-reparameterisation row (one compile less)",
    )
    args = ap.parse_args()
    device = default_device()
    K = args.k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20 * args.steps, 784, generator=g).to(device)
    y = torch.randint(0, 10, (20 * args.steps,), generator=g).to(device)
    lam_all = torch.logspace(-2, 4, K).tolist()

    def ens(noise="weight"):
        return GaussianEnsembleMLP(
            K, SIZES, source=NoiseSource(K, 0, device=device), sigma_init=1e-4, noise=noise
        ).to(device)

    solo = [
        GaussianEnsembleMLP(1, SIZES, source=NoiseSource(1, k, device=device), sigma_init=1e-4).to(
            device
        )
        for k in range(K)
    ]
    rows = [
        (
            "one at a time (autograd)",
            time_per_step(
                solo, x, y, [[v] for v in lam_all], args.steps, device, engine="autograd"
            ),
        )
    ]
    rows.append(
        (
            "ensemble, autograd",
            time_per_step([ens()], x, y, [lam_all], args.steps, device, engine="autograd"),
        )
    )
    rows.append(
        (
            "ensemble, fused eager",
            time_per_step(
                [ens()], x, y, [lam_all], args.steps, device, engine="fused", compile=False
            ),
        )
    )
    if not args.no_compile:
        rows.append(
            (
                "ensemble, fused compiled",
                time_per_step(
                    [ens()], x, y, [lam_all], args.steps, device, engine="fused", compile=True
                ),
            )
        )
        solo_c = [
            GaussianEnsembleMLP(
                1, SIZES, source=NoiseSource(1, k, device=device), sigma_init=1e-4
            ).to(device)
            for k in range(K)
        ]
        rows.append(
            (
                "one at a time, fused compiled",
                time_per_step(
                    solo_c,
                    x,
                    y,
                    [[v] for v in lam_all],
                    args.steps,
                    device,
                    engine="fused",
                    compile=True,
                ),
            )
        )
        if not args.no_local:
            rows.append(
                (
                    "ensemble, fused compiled, local noise",
                    time_per_step(
                        [ens("local")],
                        x,
                        y,
                        [lam_all],
                        args.steps,
                        device,
                        engine="fused",
                        compile=True,
                    ),
                )
            )
    print(f"device: {describe_device(device)}; torch threads: {torch.get_num_threads()}")
    print(f"K = {K} networks 784-100-100-10, batch 20, Adam; ms per step of all {K} networks")
    base = rows[0][1]
    for name, t in rows:
        print(
            f"{name:40s} {t * 1e3:9.2f} ms   {t * 1e3 / K:7.3f} ms per network   speed-up {base / t:5.1f}x"
        )
    print(f"speed-up (one at a time / ensemble, autograd): {base / rows[1][1]:.1f}x")
    best = min(t for name, t in rows if name.startswith("ensemble"))
    print(f"speed-up (one at a time / best ensemble): {base / best:.1f}x")
    if not args.no_compile:
        t = dict(rows)
        print(
            f"speed-up, both compiled (one at a time / ensemble): "
            f"{t['one at a time, fused compiled'] / t['ensemble, fused compiled']:.1f}x"
        )


if __name__ == "__main__":
    main()
