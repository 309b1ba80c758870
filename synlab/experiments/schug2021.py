r"""Experiments of Schug, Benzing & Steger (2021), part 1: energy, information and importance.

* ``schug_energy_mnist`` / ``schug_energy_fashion`` — Fig. 1, Fig. 2, Fig. 3 and Appendix 1—
  figures 1a, b, d and 2. A 784-200-200-10 bias-free ReLU network is trained with SGD under an
  :math:`\ell_2` sweep in three versions: *plastic* stochastic release (Bernoulli synapses, the
  release-probability rule), *fixed* stochastic release (:math:`p = 0.4` everywhere) and
  *deterministic* synapses; plus *plastic_uniform*, the plastic model started from
  :math:`p\sim U[0.25, 1]` (App. 1—fig. 1d). Units: model × :math:`\ell_2` × seed. Every unit
  stores test accuracy, the soft mutual information :math:`I(Y;\hat Y)` (bits), the synaptic
  energy :math:`\sum|\bar w|` and the activity energy; plastic units also store what the
  importance chapter needs (final release probabilities per layer as float16, lesion curves,
  Fisher information and energy of high- vs low-:math:`p` synapses, per-neuron importance).
* ``schug_fixed_p_lr_search`` — App. 1—fig. 1c: the fixed-release model at :math:`\ell_2 = 0.01`
  for a range of release probabilities, each with a small learning-rate search.

Defaults are the paper's values; where the text leaves something open the value comes from the
authors' code (``exp_energy.sh``; see the comments).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..curvature import empirical_fisher_diag
from ..data import prepare_dataset
from ..device import default_device
from ..fast.stacked import StackedMLP, train_stacked
from ..importance import (
    bernoulli_lesion_curve,
    binned_means,
    group_histograms,
    in_out_correlation,
    neuron_importance,
)
from ..information import activity_energy, synaptic_energy
from ..rules import PresynapticRule
from ..synapses import BernoulliLinear, mlp
from ..synthesis import mean_se
from ..training import cpu_threads, evaluate, numpy_history, sampling, train_classifier
from . import Experiment, profile_config, register

__all__ = [
    "EnergyConfig",
    "energy_config",
    "energy_units",
    "run_energy_unit",
    "run_energy_group",
    "build_model",
    "FixedPConfig",
    "fixed_p_config",
    "fixed_p_units",
    "run_fixed_p_unit",
    "run_fixed_p_group",
    "MODELS",
    "summarise",
    "best_info_per_energy",
    "importance_summary",
]

MODELS = ("plastic", "fixed", "deterministic", "plastic_uniform")


@dataclass(frozen=True)
class EnergyConfig:
    """Config of the energy experiments (defaults: the ``full`` profile, paper scale)."""

    dataset: str = "mnist"  # the paper: MNIST (here only the 5,000-image sample exists offline)
    allow_substitute: bool = True  # permit that MNIST sample; recorded in every unit's provenance
    normalise: bool = (
        True  # code: inputs standardised (transforms.Normalize), see synlab.data.standardise
    )
    n_train: int | None = None  # None: the whole training set
    n_test: int | None = None  # None: the whole test set
    sizes: tuple[int, ...] = (
        784,
        200,
        200,
        10,
    )  # paper, Methods; bias-free ReLU (code: fixed_bias)
    epochs: int = 50  # paper, Methods
    batch_size: int = 100  # paper, Methods
    lr: float = 0.05  # paper, Methods (eta = 0.05)
    lr_fixed: float = 0.05  # code (exp_energy.sh): same lr for the fixed-release control
    p_up: float = 0.07  # paper, Methods
    p_down: float = 0.07  # paper, Methods
    g_lim: float = 0.001  # paper, Methods
    p_min: float = 0.25  # paper: clamp and initial value
    p_max: float = 1.0  # code
    p_fixed: float = 0.4  # code: the fixed-release control (paper: matched to the plastic mean p)
    l2_values: tuple[float, ...] = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1)  # code (exp_energy.sh)
    seeds: tuple[int, ...] = (2019, 2020, 2021)  # code
    models: tuple[str, ...] = ("plastic", "fixed", "deterministic")  # Fig. 1a
    uniform_init_l2: tuple[float, ...] = (0.01,)  # App. 1-fig. 1d: our choice of l2 (not stated)
    n_test_samples: int = 10  # code: test_samples
    threshold: float = 0.9  # paper, Fig. 2a: "high" release probability
    lesion_fractions: tuple[float, ...] = (  # our grid (paper: a curve)
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 1.0
    )  # fmt: skip
    lesion_random_repeats: int = 3  # random removal orders averaged (our choice)
    fisher_examples: int = (
        1000  # test examples for the empirical Fisher (our choice; code: whole set)
    )
    subsample_seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in {"mnist", "fashion_mnist"}:
            raise ValueError(f"dataset must be 'mnist' or 'fashion_mnist'; got {self.dataset!r}")
        bad = set(self.models) - set(MODELS)
        if bad:
            raise ValueError(f"unknown models {sorted(bad)}; choose from {MODELS}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or not self.lr_fixed > 0:
            raise ValueError("need epochs >= 1, batch_size >= 1, lr > 0, lr_fixed > 0")
        if any(v < 0 for v in self.l2_values + self.uniform_init_l2):
            raise ValueError(
                f"l2 values must be >= 0; got {self.l2_values}, {self.uniform_init_l2}"
            )
        if not 0 < self.p_min <= self.p_max <= 1 or not 0 < self.p_fixed <= 1:
            raise ValueError("need 0 < p_min <= p_max <= 1 and 0 < p_fixed <= 1")
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if self.fisher_examples < 1 or self.n_test_samples < 1 or self.lesion_random_repeats < 1:
            raise ValueError(
                "fisher_examples, n_test_samples and lesion_random_repeats must be >= 1"
            )


def energy_config(profile: str, dataset: str = "mnist") -> EnergyConfig:
    """``full``: paper scale. ``quick``: 4,000 training images, 6 epochs, 3 l2 values, 1 seed."""
    substitute = dataset == "mnist"
    if profile == "full":
        return EnergyConfig(dataset=dataset, allow_substitute=substitute)
    if profile == "quick":
        return EnergyConfig(
            dataset=dataset,
            allow_substitute=substitute,
            n_train=4000,
            n_test=1000,
            epochs=6,
            l2_values=(0.0, 0.01, 0.1),
            seeds=(2019,),
            lesion_random_repeats=1,
            fisher_examples=200,
            lesion_fractions=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 1.0),
        )
    raise ValueError(f"unknown profile {profile!r}; use 'quick' or 'full'")


def energy_units(cfg: EnergyConfig) -> list[dict]:
    units = []
    for model in cfg.models:
        for l2 in cfg.l2_values:
            for seed in cfg.seeds:
                units.append({"model": model, "l2": float(l2), "seed": int(seed)})
    for l2 in cfg.uniform_init_l2:
        for seed in cfg.seeds:
            units.append({"model": "plastic_uniform", "l2": float(l2), "seed": int(seed)})
    return units


@functools.lru_cache(maxsize=4)
def _data(
    dataset: str,
    allow_substitute: bool,
    n_train: int | None,
    n_test: int | None,
    seed: int,
    normalise: bool = True,
):
    return prepare_dataset(
        dataset,
        allow_substitute=allow_substitute,
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        normalise=bool(normalise),
    )


def build_model(kind: str, cfg: EnergyConfig, seed: int) -> nn.Module:
    """The network of one unit: weights as ``nn.Linear`` (PyTorch default init), seeded by ``seed``."""
    torch.manual_seed(seed)
    if kind == "deterministic":
        return mlp(cfg.sizes)
    if kind == "fixed":
        return mlp(cfg.sizes, BernoulliLinear, p_init=cfg.p_fixed)
    model = mlp(cfg.sizes, BernoulliLinear, p_init=cfg.p_min)
    if kind == "plastic_uniform":
        g = torch.Generator().manual_seed(seed + 1)
        for layer in model:
            if isinstance(layer, BernoulliLinear):
                layer.set_release_probability(
                    cfg.p_min + (cfg.p_max - cfg.p_min) * torch.rand(layer.p.shape, generator=g)
                )
    return model


def _rule(cfg: EnergyConfig) -> PresynapticRule:
    # energy runs: no lr modulation, no freezing; the code scales the step by (p_max - p) (code_facts)
    return PresynapticRule(
        p_up=cfg.p_up,
        p_down=cfg.p_down,
        g_lim=cfg.g_lim,
        p_min=cfg.p_min,
        p_max=cfg.p_max,
        p_freeze=1.0,
        headroom=True,
        consolidate=False,
    )


P_BINS = np.linspace(0.0, 1.0, 41)  # histogram of release probabilities (width 0.025)
LOG_ENERGY_BINS = np.linspace(-6, 0, 49)  # log10 |w|
LOG_FISHER_BINS = np.linspace(-14, -2, 49)  # log10 F
P_EDGES = np.array([0.25, 0.4, 0.55, 0.7, 0.85, 0.9, 1.0])  # bins for mean Fisher / energy by p


def run_energy_unit(cfg: EnergyConfig, unit: dict) -> dict:
    """Train one model at one l2 and seed; evaluate information, energy and (plastic) importance.

    On the CPU the unit runs on one torch thread (see :func:`synlab.training.cpu_threads`).
    """
    with cpu_threads(1):
        return _energy_unit(cfg, unit)


def _config_data(cfg, dev):
    """The data set of ``cfg`` (its dataset, substitute, sizes, subsample seed, normalisation)
    on ``dev``."""
    return _data(
        cfg.dataset,
        cfg.allow_substitute,
        cfg.n_train,
        cfg.n_test,
        cfg.subsample_seed,
        cfg.normalise,
    ).to(dev)


def _initial_p(model: nn.Module) -> list[np.ndarray]:
    """A copy of each Bernoulli layer's release probabilities (before training)."""
    return [
        layer.p.detach().cpu().numpy().copy()
        for layer in model
        if isinstance(layer, BernoulliLinear)
    ]


def _energy_unit(cfg: EnergyConfig, unit: dict) -> dict:
    kind, l2, seed = unit["model"], float(unit["l2"]), int(unit["seed"])
    dev = default_device()
    ds = _config_data(cfg, dev)
    model = build_model(kind, cfg, seed).to(dev)
    p0 = _initial_p(model)
    plastic = kind in {"plastic", "plastic_uniform"}
    hist = train_classifier(
        model,
        ds,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr_fixed if kind == "fixed" else cfg.lr,
        weight_decay=l2,
        rule=_rule(cfg) if plastic else None,
        seed=seed,
        device=dev,
    )
    return _energy_results(cfg, unit, model, p0, hist, ds)


def _train_stack(cfg, models: list, units: list[dict], ds, dev, **kw):
    """``models`` (one per unit) trained as one stack (:func:`synlab.stacked.train_stacked`) for
    the config's epochs at its batch size, each with its unit's seed: (stack, histories)."""
    stack = StackedMLP.from_models(models)
    seeds = [int(u["seed"]) for u in units]
    hists = train_stacked(
        stack, ds, epochs=cfg.epochs, seeds=seeds, batch_size=cfg.batch_size, device=dev, **kw
    )
    return stack, hists


def run_energy_group(cfg: EnergyConfig, units: list[dict]) -> list[dict]:
    """Train the units of one model kind as one stack (:func:`synlab.fast.stacked.train_stacked`), then
    evaluate each as :func:`run_energy_unit` does. Each member draws its shuffles and release
    masks from generators seeded with its seed, as its solo run does."""
    kinds = {u["model"] for u in units}
    if len(kinds) != 1:
        raise ValueError(f"a stacked group must share one model kind; got {sorted(kinds)}")
    kind = kinds.pop()
    plastic = kind in {"plastic", "plastic_uniform"}
    with cpu_threads(1):
        dev = default_device()
        ds = _config_data(cfg, dev)
        models = [build_model(kind, cfg, int(u["seed"])).to(dev) for u in units]
        p0s = [_initial_p(m) for m in models]
        stack, hists = _train_stack(
            cfg,
            models,
            units,
            ds,
            dev,
            lr=cfg.lr_fixed if kind == "fixed" else cfg.lr,
            weight_decay=[float(u["l2"]) for u in units],
            rule=_rule(cfg) if plastic else None,
        )
        return [
            _energy_results(cfg, u, m, p0, h, ds)
            for u, m, p0, h in zip(units, stack.to_models(), p0s, hists)
        ]


def _energy_results(cfg: EnergyConfig, unit: dict, model: nn.Module, p0: list, hist, ds) -> dict:
    """Information, energy and (plastic models) importance measures of one trained network."""
    kind, seed = unit["model"], int(unit["seed"])
    ev = evaluate(model, ds.x_test, ds.y_test, n_samples=cfg.n_test_samples)
    energy = float(synaptic_energy(model).detach())
    with torch.no_grad(), sampling(model):
        act = float(activity_energy(model, ds.x_test))
    out = {
        "data_source": ds.source,
        "accuracy": ev.accuracy,
        "sample_accuracy": ev.sample_accuracy,
        "mutual_information": ev.mutual_information,
        "test_loss": ev.loss,
        "energy": energy,
        "activity_energy": act,
        "info_per_energy": ev.mutual_information / energy,
        "info_per_activity_energy": ev.mutual_information / act,
        "train_time_s": hist.wall_time_s,
    }
    out.update({f"history_{k}": v for k, v in numpy_history(hist).items()})
    layers = [layer for layer in model if isinstance(layer, BernoulliLinear)]
    if not layers:
        return out
    ps = [layer.p.detach().cpu() for layer in layers]
    out["mean_p"] = float(torch.cat([p.flatten() for p in ps]).mean())
    out["p_hist"] = np.histogram(torch.cat([p.flatten() for p in ps]).numpy(), bins=P_BINS)[0]
    out["p_hist_init"] = np.histogram(np.concatenate([p.ravel() for p in p0]), bins=P_BINS)[0]
    if kind not in {"plastic", "plastic_uniform"}:
        return out
    # --- what the importance chapter needs (plastic models only)
    for i, p in enumerate(ps):
        out[f"p_layer{i}"] = p.numpy().astype(np.float16)
    out.update(_lesion_results(cfg, model, ds, seed))
    out.update(_fisher_energy_results(cfg, model, ds, layers, ps, energy))
    out.update(_neuron_results(cfg, ps, seed))
    return out


def _lesion_results(cfg: EnergyConfig, model: nn.Module, ds, seed: int) -> dict:
    """Test accuracy as synapses are removed low-p first, and in random orders (averaged)."""
    g = torch.Generator().manual_seed(seed)
    fr = np.asarray(cfg.lesion_fractions)

    def curve(by: str) -> np.ndarray:
        return bernoulli_lesion_curve(
            model, ds.x_test, ds.y_test, fr, by=by, n_samples=cfg.n_test_samples, generator=g
        )

    low_p_first = curve("p")
    random = np.mean([curve("random") for _ in range(cfg.lesion_random_repeats)], axis=0)
    return {"lesion_fractions": fr, "lesion_low_p_first": low_p_first, "lesion_random": random}


def _fisher_energy_results(cfg: EnergyConfig, model, ds, layers, ps, energy: float) -> dict:
    """Energy (|w|) and empirical Fisher of the synapses, histogrammed and binned by p."""
    n_f = min(cfg.fisher_examples, len(ds.y_test))
    with sampling(model):  # per-example gradients, each example with its own release mask
        fisher = empirical_fisher_diag(model, ds.x_test[:n_f], ds.y_test[:n_f], batch=100)
    fisher = [f.cpu() for f in fisher.values()]
    absw = [layer.weight.detach().abs().cpu() for layer in layers]
    eh = group_histograms(
        [torch.log10(w.clamp_min(1e-12)) for w in absw], ps, LOG_ENERGY_BINS, cfg.threshold
    )
    fh = group_histograms(
        [torch.log10(f.clamp_min(1e-30)) for f in fisher], ps, LOG_FISHER_BINS, cfg.threshold
    )
    out = {f"energy_{k}": v for k, v in eh.items()}
    out.update({f"logfisher_{k}": v for k, v in fh.items()})
    out["fisher_by_p"], out["count_by_p"] = binned_means(fisher, ps, P_EDGES)
    out["energy_by_p"], _ = binned_means(absw, ps, P_EDGES)
    out["p_edges"] = P_EDGES
    out["energy_high_fraction"] = float(
        sum(float(w[p >= cfg.threshold].sum()) for w, p in zip(absw, ps)) / energy
    )
    out["fraction_high"] = float(
        sum(int((p >= cfg.threshold).sum()) for p in ps) / sum(p.numel() for p in ps)
    )
    return out


#: stored key prefix (followed by the layer index) -> the key of :func:`neuron_importance`
_NEURON_KEYS = {
    "neuron_counts": "counts",
    "neuron_counts_shuffled": "counts_shuffled",
    "ks_D": "ks_D",
    "ks_p": "ks_p",
    "neuron_classes": "classes",
    "neuron_classes_shuffled": "classes_shuffled",
}


def _neuron_results(cfg: EnergyConfig, ps: list, seed: int) -> dict:
    """Per layer: neurons' high-p counts vs shuffled (KS test); per pair of layers: the
    correlation of a neuron's high-p inputs and outputs."""
    out = {}
    for i, p in enumerate(ps):
        ni = neuron_importance(p, cfg.threshold, seed=seed)
        out.update({f"{key}{i}": ni[name] for key, name in _NEURON_KEYS.items()})
    for i in range(len(ps) - 1):
        r, pv, n_in, n_out = in_out_correlation(ps[i], ps[i + 1], cfg.threshold)
        out.update(
            {f"inout_r{i}": r, f"inout_p{i}": pv, f"inout_in{i}": n_in, f"inout_out{i}": n_out}
        )
    return out


#: how the energy sweeps run: every unit alone, or the units of one model kind as one stack
_ENERGY_RUNS = dict(
    units=energy_units,
    run_unit=run_energy_unit,
    part="schug2021",
    run_group=run_energy_group,
    group_key=lambda unit: unit["model"],
)
register(
    Experiment(
        name="schug_energy_mnist",
        description="Schug et al. 2021 Fig. 1-3: information vs energy for plastic/fixed/deterministic release under "
        "an l2 sweep, with lesion, Fisher and per-neuron importance of the plastic model (MNIST; offline: "
        "the 5,000-image sample)",
        make_config=lambda profile: energy_config(profile, "mnist"),
        **_ENERGY_RUNS,
    )
)

register(
    Experiment(
        name="schug_energy_fashion",
        description="As schug_energy_mnist on the full Fashion-MNIST data set",
        make_config=lambda profile: energy_config(profile, "fashion_mnist"),
        **_ENERGY_RUNS,
    )
)


# ----------------------------------------------------------------------------- App. 1-fig. 1c
@dataclass(frozen=True)
class FixedPConfig:
    """Fixed release probability at constant l2 with a learning-rate search (App. 1—fig. 1c)."""

    dataset: str = "mnist"  # paper: MNIST (offline: the 5,000-image sample)
    allow_substitute: bool = True
    normalise: bool = (
        True  # code: inputs standardised (transforms.Normalize), see synlab.data.standardise
    )
    n_train: int | None = None
    n_test: int | None = None
    sizes: tuple[int, ...] = (784, 200, 200, 10)  # paper
    epochs: int = 50  # paper
    batch_size: int = 100  # paper
    l2: float = 0.01  # paper, App. 1-fig. 1c caption
    # our grids (paper: a range of p, "different learning rates")
    p_values: tuple[float, ...] = (0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
    lr_values: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2)
    seeds: tuple[int, ...] = (2019, 2020, 2021)  # code
    n_test_samples: int = 10  # code
    subsample_seed: int = 0

    def __post_init__(self) -> None:
        if any(not 0 < p <= 1 for p in self.p_values) or any(not lr > 0 for lr in self.lr_values):
            raise ValueError("need 0 < p <= 1 and lr > 0")
        if not self.seeds or self.epochs < 1:
            raise ValueError("need seeds and epochs >= 1")


def fixed_p_config(profile: str) -> FixedPConfig:
    return profile_config(
        profile,
        FixedPConfig,
        n_train=2000,
        n_test=1000,
        epochs=5,
        p_values=(0.25, 0.5, 1.0),
        lr_values=(0.05, 0.2),
        seeds=(2019,),
    )


def fixed_p_units(cfg: FixedPConfig) -> list[dict]:
    return [
        {"p": float(p), "lr": float(lr), "seed": int(s)}
        for p in cfg.p_values
        for lr in cfg.lr_values
        for s in cfg.seeds
    ]


def run_fixed_p_unit(cfg: FixedPConfig, unit: dict) -> dict:
    """Train the fixed-release model at one (p, lr, seed); information and energy on the test set."""
    with cpu_threads(1):
        return _fixed_p_unit(cfg, unit)


def _fixed_p_unit(cfg: FixedPConfig, unit: dict) -> dict:
    dev = default_device()
    ds = _config_data(cfg, dev)
    torch.manual_seed(unit["seed"])
    model = mlp(cfg.sizes, BernoulliLinear, p_init=unit["p"]).to(dev)
    hist = train_classifier(
        model,
        ds,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=unit["lr"],
        weight_decay=cfg.l2,
        seed=unit["seed"],
        device=dev,
    )
    return _fixed_p_results(cfg, model, hist, ds)


def run_fixed_p_group(cfg: FixedPConfig, units: list[dict]) -> list[dict]:
    """Train several (p, lr, seed) units as one stack (:mod:`synlab.fast.stacked`); evaluate each as
    :func:`run_fixed_p_unit` does. A member that diverges does not touch the others."""
    with cpu_threads(1):
        dev = default_device()
        ds = _config_data(cfg, dev)
        models = []
        for u in units:
            torch.manual_seed(u["seed"])
            models.append(mlp(cfg.sizes, BernoulliLinear, p_init=u["p"]).to(dev))
        lrs = [float(u["lr"]) for u in units]
        stack, hists = _train_stack(cfg, models, units, ds, dev, lr=lrs, weight_decay=cfg.l2)
        return [_fixed_p_results(cfg, m, h, ds) for m, h in zip(stack.to_models(), hists)]


def _fixed_p_results(cfg: FixedPConfig, model: nn.Module, hist, ds) -> dict:
    with torch.no_grad():
        finite = all(torch.isfinite(q).all() for q in model.parameters()) and bool(
            torch.isfinite(model.eval()(ds.x_test)).all()
        )
    model.train()
    if not finite:
        # a learning rate too large for this p: SGD diverged. Its outputs are not finite, so it
        # transmits no information; accuracy and energy are undefined (None), not invented.
        return {
            "data_source": ds.source,
            "diverged": True,
            "accuracy": None,
            "mutual_information": 0.0,
            "energy": None,
            "info_per_energy": 0.0,
            "train_time_s": hist.wall_time_s,
            "final_loss": None,
        }
    ev = evaluate(model, ds.x_test, ds.y_test, n_samples=cfg.n_test_samples)
    energy = float(synaptic_energy(model).detach())
    return {
        "data_source": ds.source,
        "diverged": False,
        "accuracy": ev.accuracy,
        "mutual_information": ev.mutual_information,
        "energy": energy,
        "info_per_energy": ev.mutual_information / energy,
        "train_time_s": hist.wall_time_s,
        "final_loss": hist.loss[-1],
    }


register(
    Experiment(
        name="schug_fixed_p_lr_search",
        description="Schug et al. 2021 App. 1-fig. 1c: information per energy of fixed release probabilities at l2 = 0.01, "
        "with a learning-rate search",
        make_config=fixed_p_config,
        units=fixed_p_units,
        run_unit=run_fixed_p_unit,
        part="schug2021",
        run_group=run_fixed_p_group,
        group_key=lambda unit: unit["p"],
    )
)


# ----------------------------------------------------------------------------- summaries for the chapters
def summarise(
    res, value: str, *, model: str, l2_values=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of the scalar ``value`` of ``model`` at each l2.

    Returns ``(l2, mean, sem)``; the standard error is 0 with a single seed.
    """
    recs = [r for r in res.records if r.unit["model"] == model]
    l2s = sorted({r.unit["l2"] for r in recs}) if l2_values is None else list(l2_values)
    means, sems = [], []
    for l2 in l2s:
        v = [float(r.result[value]) for r in recs if r.unit["l2"] == l2]
        m, se = mean_se(v) if v else (np.nan, 0.0)
        means.append(m)
        sems.append(se)
    return np.asarray(l2s, dtype=float), np.asarray(means), np.asarray(sems)


def best_info_per_energy(res, model: str) -> tuple[float, float, float]:
    """Fig. 1b: the highest seed-mean information per unit energy of ``model`` over the ℓ2 sweep,
    as ``(value, standard error, l2 where it is reached)``."""
    l2, ipe, se = summarise(res, "info_per_energy", model=model)
    if not np.isfinite(ipe).any():
        raise ValueError(
            f"no finite information per energy for model {model!r} in {res.experiment}"
        )
    k = int(np.nanargmax(ipe))
    return float(ipe[k]), float(se[k]), float(l2[k])


def importance_summary(res, l2: float) -> dict[str, Any]:
    """The Fig. 2–3 numbers of the plastic runs at ``l2``, averaged over their seeds.

    Keys: ``n_runs``, ``accuracy``, ``fraction_high``, ``energy_high_fraction``, ``lesion_area_low_p``
    and ``lesion_area_random`` (area under the mean lesion curve over the removed fraction),
    ``energy_median_{high,low}`` and ``fisher_median_{high,low}`` (seed means of the medians, in
    natural units), ``ks_D`` (per weight matrix) and ``inout_r`` (per hidden layer).
    """
    runs = [r.result for r in res.records if r.unit["model"] == "plastic" and r.unit["l2"] == l2]
    if not runs:
        raise ValueError(f"no plastic run at l2 = {l2} in {res.name} [{res.profile}]")
    fr = np.asarray(runs[0]["lesion_fractions"], dtype=float)
    n_layers = len([k for k in runs[0] if k.startswith("ks_D")])
    out: dict[str, Any] = {"n_runs": len(runs)}
    for k in ("accuracy", "fraction_high", "energy_high_fraction"):
        out[k] = float(np.mean([r[k] for r in runs]))
    for name, key in (
        ("lesion_area_low_p", "lesion_low_p_first"),
        ("lesion_area_random", "lesion_random"),
    ):
        out[name] = float(np.trapezoid(np.mean([r[key] for r in runs], axis=0), fr))
    for g in ("high", "low"):
        out[f"energy_median_{g}"] = float(np.mean([10 ** r[f"energy_median_{g}"] for r in runs]))
        out[f"fisher_median_{g}"] = float(np.mean([10 ** r[f"logfisher_median_{g}"] for r in runs]))
    out["ks_D"] = [float(np.mean([r[f"ks_D{i}"] for r in runs])) for i in range(n_layers)]
    out["inout_r"] = [float(np.mean([r[f"inout_r{i}"] for r in runs])) for i in range(n_layers - 1)]
    return out
