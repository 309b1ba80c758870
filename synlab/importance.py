r"""Release probability as synaptic importance (Schug, Benzing & Steger 2021): pure functions.

Theory of the release-probability rule

* :func:`strength_update` — the explicit update of the strength :math:`m = \bar w/p` implied by
  SGD on :math:`\bar w` and a change of :math:`p` (the paper's Eqs. 8–9).
* :func:`prob_large_gradient_gaussian` — :math:`P(|g| > g_{\lim})` for Gaussian gradients,
  the erfc argument linking the rule to the Fisher information :math:`F = \mathbb E[g^2]`.
* :func:`stationary_release_probability` — the long-run mean of :math:`p` under the rule when
  a synapse's gradient exceeds :math:`g_{\lim}` with probability :math:`q` at every step.

Analyses of a trained network

* :func:`bernoulli_lesion_curve` — accuracy while removing synapses, lowest release probability
  first or in random order (Fig. 2b).
* the diagonal empirical Fisher information with sampled masks is
  :func:`synlab.curvature.empirical_fisher_diag` under :func:`synlab.training.sampling`;
  :func:`split_by_p`, :func:`group_histograms`, :func:`binned_means` summarise any per-synapse
  quantity (energy :math:`|\bar w|`, Fisher) for high- vs low-:math:`p` synapses (Fig. 2c–d).
* :func:`important_counts`, :func:`neuron_importance`, :func:`in_out_correlation` — neuron-level
  sparsity (Fig. 3 and Appendix 1—figure 2).
* :func:`sjostrom_stability` — the re-analysis of Sjöström et al. (2001) recordings
  (Appendix 1—figure 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from .data import read_csv_columns
from .rules import update_release_probability
from .synapses import BernoulliLinear
from .synthesis import lesion_curve, lesion_order
from .training import evaluate

__all__ = [
    "strength_update",
    "prob_large_gradient_gaussian",
    "prob_large_gradient_empirical",
    "stationary_release_probability",
    "lattice_stationary_distribution",
    "bernoulli_layers",
    "bernoulli_lesion_curve",
    "split_by_p",
    "group_histograms",
    "binned_means",
    "important_counts",
    "neuron_importance",
    "importance_classes",
    "in_out_correlation",
    "SJOSTROM_COLUMNS",
    "read_sjostrom",
    "sjostrom_stability",
]


# ----------------------------------------------------------------------------- theory of the rule
def strength_update(m: Tensor, p_old: Tensor, p_new: Tensor, grad_m: Tensor, lr: float) -> Tensor:
    r"""The strength after one step, Eq. 9 of Schug et al. (2021).

    SGD on the expected weight, :math:`\bar w' = \bar w - \eta\,\partial L/\partial\bar w`, with
    :math:`\bar w = p m` and :math:`\partial L/\partial \bar w = (1/p)\,\partial L/\partial m`, gives

    .. math:: m' = \frac{\bar w'}{p'} = \frac{p}{p'}\,m - \frac{\eta}{p\,p'}\frac{\partial L}{\partial m}.
    """
    if (p_old <= 0).any() or (p_new <= 0).any():
        raise ValueError("release probabilities must be > 0 for the strength to be defined")
    return p_old / p_new * m - lr / (p_old * p_new) * grad_m


def prob_large_gradient_gaussian(mean: float | Tensor, std: float | Tensor, g_lim: float) -> Tensor:
    r""":math:`P(|g| > g_{\lim})` for :math:`g \sim \mathcal N(\mu, \sigma^2)`.

    .. math:: P(|g|>g_{\lim}) = \tfrac12\operatorname{erfc}\!\Big(\frac{g_{\lim}-\mu}{\sqrt2\,\sigma}\Big)
              + \tfrac12\operatorname{erfc}\!\Big(\frac{g_{\lim}+\mu}{\sqrt2\,\sigma}\Big),

    which for :math:`\mu = 0` is :math:`\operatorname{erfc}(g_{\lim}/\sqrt{2F})` with
    :math:`F = \mathbb E[g^2] = \sigma^2`: increasing in the Fisher information.
    """
    mu = torch.as_tensor(mean, dtype=torch.float64)
    sd = torch.as_tensor(std, dtype=torch.float64)
    if (sd <= 0).any():
        raise ValueError("std must be > 0")
    if g_lim < 0:
        raise ValueError(f"g_lim must be >= 0; got {g_lim}")
    s2 = math.sqrt(2.0) * sd
    return 0.5 * torch.special.erfc((g_lim - mu) / s2) + 0.5 * torch.special.erfc((g_lim + mu) / s2)


def prob_large_gradient_empirical(grads: Tensor, g_lim: float, dim: int = 0) -> Tensor:
    """Fraction of samples with ``|g| > g_lim`` along ``dim`` (the rule's up-step frequency)."""
    return (grads.abs() > g_lim).double().mean(dim=dim)


def stationary_release_probability(
    q: float | Sequence[float] | Tensor,
    *,
    p_up: float = 0.07,
    p_down: float = 0.07,
    p_min: float = 0.25,
    p_max: float = 1.0,
    headroom: bool = False,
    n_chains: int = 2000,
    n_steps: int = 600,
    burn_in: int = 200,
    p_init: float | None = None,
    seed: int = 0,
) -> Tensor:
    r"""Long-run mean release probability under the rule when :math:`P(|g|>g_{\lim}) = q`.

    11 keyword parameters with defaults: the rule's five constants and the chain's five settings,
    named at the call (chapter 01 varies one at a time); an object would only move the names.

    Simulates ``n_chains`` synapses per value of ``q``, each stepping up (probability ``q``) or
    down with :func:`~synlab.rules.update_release_probability`, and averages :math:`p` over the
    steps after ``burn_in``. With :math:`p_{\rm up}=p_{\rm down}` and no headroom the chain is a
    reflected random walk whose stationary law is geometric with ratio :math:`q/(1-q)`
    (:func:`lattice_stationary_distribution`), so the mean is increasing in :math:`q`.
    """
    qs = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    if ((qs < 0) | (qs > 1)).any():
        raise ValueError("q must lie in [0, 1]")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"need 0 <= burn_in < n_steps; got {burn_in}, {n_steps}")
    g = torch.Generator().manual_seed(seed)
    p = torch.full((len(qs), n_chains), p_min if p_init is None else p_init, dtype=torch.float64)
    acc = torch.zeros(len(qs), dtype=torch.float64)
    for t in range(n_steps):
        up = torch.rand(p.shape, generator=g, dtype=torch.float64) < qs[:, None]
        p = update_release_probability(
            p,
            up.double(),
            p_up=p_up,
            p_down=p_down,
            g_lim=0.5,
            p_min=p_min,
            p_max=p_max,
            headroom=headroom,
        )
        if t >= burn_in:
            acc += p.mean(1)
    return acc / (n_steps - burn_in)


def lattice_stationary_distribution(q: float, n_levels: int) -> np.ndarray:
    r"""Stationary law of a reflected walk on levels :math:`0..K-1` stepping up with prob. :math:`q`.

    Detailed balance :math:`\pi_k q = \pi_{k+1}(1-q)` gives :math:`\pi_k \propto (q/(1-q))^k`
    (uniform for :math:`q = 1/2`). With :math:`p_k = p_{\min} + k\,\delta` this approximates the
    rule with :math:`p_{\rm up}=p_{\rm down}=\delta` (exact when :math:`p_{\max}-p_{\min}` is a
    multiple of :math:`\delta`).
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie strictly between 0 and 1; got {q}")
    if n_levels < 1:
        raise ValueError(f"n_levels must be >= 1; got {n_levels}")
    log_ratio = math.log(q) - math.log1p(-q)
    logw = log_ratio * np.arange(n_levels)
    w = np.exp(logw - logw.max())
    return w / w.sum()


# ----------------------------------------------------------------------------- lesions
def bernoulli_layers(model: nn.Module) -> list[BernoulliLinear]:
    """The :class:`BernoulliLinear` layers of ``model`` in order."""
    return [m for m in model.modules() if isinstance(m, BernoulliLinear)]


@torch.no_grad()
def bernoulli_lesion_curve(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    fractions: Sequence[float],
    *,
    by: str = "p",
    n_samples: int = 10,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    r"""Test accuracy after removing a fraction of all synapses (Fig. 2b of Schug et al.).

    Synapses of every :class:`BernoulliLinear` layer are pooled and removed (expected weight set
    to 0) by :func:`synlab.synthesis.lesion_curve`: lowest release probability first
    (``by="p"``, :func:`synlab.synthesis.lesion_order`, ties broken at random by ``generator``)
    or in a random order (``by="random"``). Accuracy is that of
    :func:`synlab.training.evaluate` with ``n_samples`` release masks. The model is restored
    afterwards.
    """
    if by not in {"p", "random"}:
        raise ValueError(f"by must be 'p' or 'random'; got {by!r}")
    layers = bernoulli_layers(model)
    if not layers:
        raise ValueError("the model has no BernoulliLinear layer to lesion")
    saved = [layer.weight.detach().clone() for layer in layers]
    p_all = torch.cat([layer.p.flatten() for layer in layers])
    n = p_all.numel()
    if by == "random":
        order = torch.randperm(n, generator=generator).numpy()
    else:
        order = lesion_order(p_all, generator)  # generator None: seed 0
    sizes = [w.numel() for w in saved]

    def accuracy_at(w: Tensor) -> float:
        for layer, part in zip(layers, torch.split(w, sizes)):
            layer.weight.copy_(part.view_as(layer.weight))
        return evaluate(model, x, y, n_samples=n_samples).accuracy

    try:
        return lesion_curve(accuracy_at, torch.cat([w.flatten() for w in saved]), order, fractions)
    finally:
        for layer, w0 in zip(layers, saved):
            layer.weight.copy_(w0)


# ----------------------------------------------------------------------------- high vs low p
#: tolerance of "p >= threshold": release probabilities are float32, and float32(0.9) < 0.9
_TOL = 1e-6


def _flat(x: Tensor | np.ndarray | Sequence) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        return np.concatenate([_flat(t) for t in x])
    if isinstance(x, Tensor):
        return x.detach().cpu().double().numpy().ravel()
    return np.asarray(x, dtype=float).ravel()


def split_by_p(values, p, threshold: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """``values`` of synapses with ``p >= threshold`` (high) and the rest (low); lists of layers are pooled."""
    v, pp = _flat(values), _flat(p)
    if v.shape != pp.shape:
        raise ValueError(f"values and p must match in size; got {v.size} and {pp.size}")
    hi = pp >= threshold - _TOL
    return v[hi], v[~hi]


def group_histograms(values, p, bins: np.ndarray, threshold: float = 0.9) -> dict[str, np.ndarray]:
    """Densities of ``values`` in ``bins`` for high- and low-``p`` synapses, and their medians."""
    hi, lo = split_by_p(values, p, threshold)
    out = {}
    for name, v in (("high", hi), ("low", lo)):
        counts, _ = np.histogram(v, bins=bins)
        out[f"hist_{name}"] = counts / max(len(v), 1)
        out[f"median_{name}"] = float(np.median(v)) if len(v) else float("nan")
        out[f"mean_{name}"] = float(np.mean(v)) if len(v) else float("nan")
        out[f"n_{name}"] = int(len(v))
    return out


def binned_means(values, p, edges: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` and synapse count in each release-probability bin ``[e_k, e_{k+1})`` (last bin closed)."""
    v, pp = _flat(values), _flat(p)
    edges = np.asarray(edges, dtype=float)
    idx = np.clip(np.digitize(pp + _TOL, edges) - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    sums = np.bincount(idx, weights=v, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts


# ----------------------------------------------------------------------------- neuron-level sparsity
def important_counts(
    p: Tensor | np.ndarray, threshold: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """For a layer's ``p`` of shape (out, in): important inputs per output neuron, outputs per input neuron."""
    a = _as_matrix(p) >= threshold - _TOL
    return a.sum(1), a.sum(0)


def _as_matrix(p) -> np.ndarray:
    a = p.detach().cpu().double().numpy() if isinstance(p, Tensor) else np.asarray(p, dtype=float)
    if a.ndim != 2:
        raise ValueError(
            f"expected a 2-D (out, in) matrix of release probabilities; got shape {a.shape}"
        )
    return a


def importance_classes(counts: np.ndarray, baseline: np.ndarray, n_std: float = 2.0) -> np.ndarray:
    """Numbers of low / medium / high importance neurons.

    A neuron is *high* (*low*) importance if its count of important inputs lies more than
    ``n_std`` standard deviations above (below) the mean of the shuffled ``baseline``.
    """
    b = np.asarray(baseline, dtype=float)
    mu, sd = b.mean(), b.std()
    c = np.asarray(counts, dtype=float)
    low = int((c < mu - n_std * sd).sum())
    high = int((c > mu + n_std * sd).sum())
    return np.array([low, len(c) - low - high, high])


def neuron_importance(p, threshold: float = 0.9, *, n_std: float = 2.0, seed: int = 0) -> dict:
    r"""Important inputs per neuron against a shuffled baseline (Fig. 3a–b, App. 1—fig. 2a).

    The baseline permutes all entries of the layer's release-probability matrix (same number of
    important synapses, placed uniformly). Returns both count vectors, the two-sample
    Kolmogorov–Smirnov statistic ``ks_D`` and its ``ks_p`` (:func:`scipy.stats.ks_2samp`), and
    the low/medium/high neuron counts of both (:func:`importance_classes`).
    """
    a = _as_matrix(p)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(a.ravel()).reshape(a.shape)
    true_in, _ = important_counts(a, threshold)
    shuf_in, _ = important_counts(shuffled, threshold)
    ks = stats.ks_2samp(true_in, shuf_in)
    return {
        "counts": true_in,
        "counts_shuffled": shuf_in,
        "ks_D": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "classes": importance_classes(true_in, shuf_in, n_std),
        "classes_shuffled": importance_classes(shuf_in, shuf_in, n_std),
    }


def in_out_correlation(
    p_in, p_out, threshold: float = 0.9
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Pearson r (and p-value) of important inputs vs important outputs of the neurons between two layers.

    ``p_in`` (n, ·) holds the synapses onto the n neurons, ``p_out`` (·, n) those leaving them.
    """
    n_in, _ = important_counts(p_in, threshold)
    _, n_out = important_counts(p_out, threshold)
    if len(n_in) != len(n_out):
        raise ValueError(f"layer sizes do not chain: {len(n_in)} neurons in, {len(n_out)} out")
    if n_in.std() == 0 or n_out.std() == 0:
        return float("nan"), float("nan"), n_in, n_out
    r = stats.pearsonr(n_in, n_out)
    return float(r.statistic), float(r.pvalue), n_in, n_out


# ----------------------------------------------------------------------------- Sjöström et al. 2001
#: the columns of the Sjöström tables synlab reads: key -> header
SJOSTROM_COLUMNS = {
    "pr_before": "Pr (before)",
    "q_before": "q (mV, before)",
    "w_before": "w (before)",
    "w_after": "w (after)",
    "dw_rel": "dw_rel",
}


def read_sjostrom(path: str | Path, keys=tuple(SJOSTROM_COLUMNS)) -> dict[str, np.ndarray]:
    """Read one of the Sjöström et al. (2001) tables (as selected by Schug et al.).

    Returns the columns ``keys`` of :data:`SJOSTROM_COLUMNS` (default all) as arrays: release
    probability ``pr_before``, quantal size ``q_before`` (mV), expected strength
    :math:`w = p\\,q` before and after (``w_before``, ``w_after``, mV) and its relative change
    ``dw_rel``; read by :func:`synlab.data.read_csv_columns`.
    """
    return read_csv_columns(path, {k: SJOSTROM_COLUMNS[k] for k in keys})


def sjostrom_stability(ltp_path: str | Path, ltd_path: str | Path) -> dict:
    r"""Relative change of expected strength against initial release probability (App. 1—fig. 4).

    For every recording, :math:`|\Delta w|/w = |w_{\rm after}-w_{\rm before}|/w_{\rm before}`;
    LTP and LTD recordings are pooled and the Pearson correlation with :math:`p_{\rm before}`
    computed (scipy), also per protocol. Schug et al. report :math:`r = -0.4416, p < 0.01`.
    """
    keys = ("pr_before", "w_before", "w_after")  # what the analysis needs
    parts = {"ltp": read_sjostrom(ltp_path, keys), "ltd": read_sjostrom(ltd_path, keys)}
    out: dict = {}
    prs, rels, labels = [], [], []
    for name, d in parts.items():
        if (d["w_before"] <= 0).any():
            raise ValueError(f"{name}: expected strengths before plasticity must be > 0")
        rel = np.abs(d["w_after"] - d["w_before"]) / d["w_before"]
        prs.append(d["pr_before"])
        rels.append(rel)
        labels += [name] * len(rel)
        r = stats.pearsonr(d["pr_before"], rel)
        out[f"r_{name}"], out[f"p_{name}"], out[f"n_{name}"] = (
            float(r.statistic),
            float(r.pvalue),
            len(rel),
        )
    out["pr_before"], out["rel_change"], out["protocol"] = (
        np.concatenate(prs),
        np.concatenate(rels),
        np.array(labels),
    )
    r = stats.pearsonr(out["pr_before"], out["rel_change"])
    out["r"], out["p"], out["n"] = float(r.statistic), float(r.pvalue), len(out["rel_change"])
    return out
