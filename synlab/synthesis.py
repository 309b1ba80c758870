r"""One network, several notions of synaptic importance: measures and their comparison.

The three papers of this book each single out the synapses that "matter":

* Schug, Benzing & Steger (2021): synapses whose **release probability** :math:`p` the
  presynaptic rule drove up (the rule raises :math:`p` where :math:`|\partial L/\partial\bar w|`
  is often large, which tracks the Fisher information);
* Malkin et al. (2024): synapses whose **optimised noise** :math:`\sigma` is small under the
  reliability cost :math:`c\,\sigma^{-\rho}`; in a linear model
  :math:`\sigma^* = (c\rho/(N H))^{1/(2+\rho)}` falls with the curvature :math:`H`;
* Raman & O'Leary (2021): directions of high **curvature** of the loss (the Hessian), which
  limit how much plasticity pays off.

This module computes all of them *for the same weights* and compares them. Every per-synapse
quantity is a flat vector in one canonical order, :func:`synapse_index`: layer by layer (the
order of :func:`synlab.synapses.synapse_layers`), each weight matrix flattened row-major, so
entry ``i`` of every array is the same synapse ``W[layer][post, pre]``.

Measures (higher = more important after :func:`importance_scores` orients them)

* :func:`release_probabilities_flat`, :func:`mean_weights_flat` — :math:`p` and :math:`\bar w`;
* the empirical Fisher :math:`\hat F_{ii} = \frac1N\sum_n g_{n,i}^2` (true labels) is
  :func:`synlab.curvature.empirical_fisher_diag` with ``method="layerwise"`` (one backward pass
  for a whole batch, :func:`synlab.curvature.squared_gradient_sum`);
* :func:`gauss_newton_diag` — :math:`G_{ii} = \frac1N\sum_n\sum_c q_{nc}\,(\partial_i\log q_{nc})^2`
  (labels drawn from the model: the "true" Fisher). For a **bias-free ReLU network** this *is* the
  Hessian diagonal almost everywhere, because the network output is piecewise linear in each single
  weight, so :math:`\partial^2 f/\partial w_i^2 = 0` and only the Gauss–Newton term survives;
* :func:`hutchinson_hessian_diag` — :math:`\mathbb E_v[v\odot Hv]` with Rademacher probes
  (:func:`synlab.curvature.hutchinson_diag`), and :func:`exact_hessian_diag_at` — exact
  :math:`H_{ii} = e_i^\top H e_i` from Hessian-vector products, to check both on a few synapses;
* :func:`optimise_noise` — per-synapse :math:`\sigma` minimising
  :math:`\mathbb E_\varepsilon[\mathrm{CE}(\bar w+\sigma\varepsilon)] + \frac1N\sum_i c\,\sigma_i^{-\rho}`
  at **fixed** means :math:`\mu = \bar w` (Malkin et al.'s objective per example, Methods);
* :func:`snr` — the signal-to-noise ratio :math:`|\mu|/\sigma` (pruning criterion of Blundell et al. 2015);
* :func:`obd_saliency` — :math:`\tfrac12 H_{ii}\bar w_i^2`, the second-order loss increase from
  deleting synapse ``i`` (Optimal Brain Damage);
* :func:`adam_effective_lr` — Adam's per-synapse step size :math:`\eta/(\sqrt{\hat v_i}+\epsilon)`
  read from an optimiser's state (:func:`adam_finetune` runs the short fine-tuning).

Comparisons

* :func:`spearman`, :func:`rank_correlation_matrix` — Spearman's :math:`\rho_s` (Pearson
  correlation of average ranks; equal to :func:`scipy.stats.spearmanr`);
* :func:`lesion_order`, :func:`lesion_curve`, :func:`lesion_curves` — accuracy as synapses are
  removed (set to 0), least important first by a score, against random orders (mean ± SE);
  :func:`mean_se` summarises repetitions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import Tensor, nn

from .costs import reliability_cost
from .curvature import (
    bias_free_layers,
    flatten_loss,
    hutchinson_diag,
    hvp,
    squared_gradient_sum,
)
from .synapses import BernoulliLinear, GaussianLinear

__all__ = [
    "synapse_index",
    "flat",
    "unflat",
    "release_probabilities_flat",
    "mean_weights_flat",
    "mean_network",
    "accuracy",
    "gauss_newton_diag",
    "hutchinson_hessian_diag",
    "exact_hessian_diag_at",
    "noise_network",
    "noise_objective",
    "Batches",
    "optimise_noise",
    "snr",
    "obd_saliency",
    "adam_effective_lr",
    "adam_finetune",
    "ORIENTATION",
    "importance_scores",
    "spearman",
    "rank_correlation_matrix",
    "lesion_order",
    "lesion_curve",
    "lesion_curves",
    "mean_se",
    "subsample_indices",
]


# ----------------------------------------------------------------------------- bookkeeping
def synapse_index(shapes: Sequence[tuple[int, int]]) -> np.ndarray:
    """Table ``(n, 3)`` of ``(layer, post, pre)`` for every flat synapse index, in canonical order.

    ``shapes`` are the weight shapes ``(out, in)`` of the synapse layers, in order.
    """
    rows = []
    for layer, (n_out, n_in) in enumerate(shapes):
        post, pre = np.meshgrid(np.arange(n_out), np.arange(n_in), indexing="ij")
        rows.append(np.stack([np.full(post.size, layer), post.ravel(), pre.ravel()], axis=1))
    return np.concatenate(rows).astype(np.int64)


def flat(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate per-layer tensors (each ``(out, in)``) into one flat vector, row-major."""
    if len(tensors) == 0:
        raise ValueError("need at least one tensor")
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def unflat(vector: Tensor, shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    """Inverse of :func:`flat`: split a flat vector into tensors of the given shapes."""
    sizes = [int(np.prod(s)) for s in shapes]
    if vector.numel() != sum(sizes):
        raise ValueError(f"vector has {vector.numel()} entries but the shapes need {sum(sizes)}")
    return [piece.view(*s) for piece, s in zip(torch.split(vector.reshape(-1), sizes), shapes)]


def release_probabilities_flat(model: nn.Module) -> Tensor:
    """Release probabilities :math:`p` of every :class:`BernoulliLinear` synapse, flat."""
    layers = [m for m in model.modules() if isinstance(m, BernoulliLinear)]
    if not layers:
        raise ValueError("the model has no BernoulliLinear layer")
    return flat([m.p for m in layers])


def mean_weights_flat(model: nn.Module) -> Tensor:
    r"""Expected weights :math:`\bar w` (``weight`` of every synapse layer), flat."""
    return flat([m.weight for m in bias_free_layers(model)])


def mean_network(model: nn.Module) -> nn.Sequential:
    r"""A deterministic copy of a stochastic MLP with every weight set to its mean :math:`\bar w`.

    Each synapse layer becomes a bias-free :class:`torch.nn.Linear` with the same ``weight``;
    other modules (activations) are deep-copied. The original ``model`` is not changed.
    This is the network at which the curvature measures are evaluated.
    """
    return _rebuilt(model, nn.Linear, "mean_network")


def _rebuilt(model: nn.Module, make_layer: Callable[..., nn.Module], who: str) -> nn.Sequential:
    """A copy of the MLP ``model`` in which every synapse layer is ``make_layer(in, out, bias=False,
    device, dtype)`` holding the same weights; other modules (activations) are deep-copied."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"{who} expects an nn.Sequential MLP (see synlab.synapses.mlp)")
    bias_free_layers(model)
    mods: list[nn.Module] = []
    for m in model:
        if isinstance(m, (BernoulliLinear, GaussianLinear, nn.Linear)):
            new = make_layer(
                m.in_features,
                m.out_features,
                bias=False,
                device=m.weight.device,
                dtype=m.weight.dtype,
            )
            with torch.no_grad():
                new.weight.copy_(m.weight)
            mods.append(new)
        else:
            mods.append(copy.deepcopy(m))
    return nn.Sequential(*mods)


def _set_weights(net: nn.Module, vector: Tensor) -> None:
    layers = bias_free_layers(net)
    with torch.no_grad():
        for layer, w in zip(layers, unflat(vector, [tuple(m.weight.shape) for m in layers])):
            layer.weight.copy_(w)


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 5000) -> float:
    """Test accuracy of a deterministic network (arg-max of the logits)."""
    was = net.training
    net.eval()
    correct = sum(
        int((net(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
        for i in range(0, len(y), batch_size)
    )
    net.train(was)
    return correct / len(y)


# ----------------------------------------------------------------------------- curvature
def _chunks(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


def gauss_newton_diag(net: nn.Module, x: Tensor, *, chunk: int = 2000) -> Tensor:
    r"""Exact diagonal of the Gauss–Newton matrix of the mean cross-entropy, flat.

    .. math:: G_{ii} = \frac1N\sum_n \sum_c q_{nc}\,\Big(\frac{\partial \log q_{nc}}{\partial\theta_i}\Big)^2,
              \qquad q_{n} = \operatorname{softmax} f_\theta(x_n),

    i.e. the Fisher information with labels drawn from the model (no labels needed). For a
    bias-free ReLU MLP, :math:`\partial^2 f/\partial\theta_i^2 = 0` almost everywhere (the output
    is piecewise linear in each single weight), so :math:`G_{ii}` equals the Hessian diagonal
    :math:`H_{ii}` of the loss exactly (checked with :func:`exact_hessian_diag_at`).
    Costs one backward pass per class.
    """
    total = None
    for sl in _chunks(x.shape[0], chunk):
        xb = x[sl]
        with torch.no_grad():
            q = F.softmax(net(xb), dim=1)
        for c in range(q.shape[1]):
            t = torch.full((xb.shape[0],), c, dtype=torch.long, device=xb.device)
            part = squared_gradient_sum(net, xb, t, q[:, c])
            total = part if total is None else total + part
    return total / x.shape[0]


def _loss_fn(net: nn.Module, x: Tensor, y: Tensor):
    layers = bias_free_layers(net)
    names = [n for n, p in net.named_parameters() if any(p is m.weight for m in layers)]
    return flatten_loss(net, F.cross_entropy, x, y, params=names)


def hutchinson_hessian_diag(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    n_probes: int = 200,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int = 32,
) -> Tensor:
    r"""Hutchinson estimate :math:`\frac1S\sum_s v_s\odot Hv_s` of the Hessian diagonal of the mean CE, flat.

    Rademacher probes (:func:`synlab.curvature.hutchinson_diag`); the error of entry ``i`` has
    variance :math:`\frac1S\sum_{j\ne i}H_{ij}^2`.
    """
    f, theta = _loss_fn(net, x, y)
    return hutchinson_diag(f, theta, n_probes, generator=generator, chunk_size=chunk_size)


def exact_hessian_diag_at(net: nn.Module, x: Tensor, y: Tensor, indices: Sequence[int]) -> Tensor:
    r"""Exact :math:`H_{ii} = e_i^\top \nabla^2 L\, e_i` for the given flat indices (one HVP each)."""
    f, theta = _loss_fn(net, x, y)
    out = []
    for i in indices:
        if not 0 <= int(i) < theta.numel():
            raise ValueError(f"index {i} out of range (0..{theta.numel() - 1})")
        e = torch.zeros_like(theta)
        e[int(i)] = 1.0
        out.append(hvp(f, theta, e)[int(i)])
    return torch.stack(out).detach()


# ----------------------------------------------------------------------------- optimised noise
def noise_network(net: nn.Module, sigma_init: float = 1e-3, noise: str = "local") -> nn.Sequential:
    r"""A Gaussian-synapse copy of ``net`` with means :math:`\mu = \bar w` **frozen** and trainable σ."""
    gaussian = partial(GaussianLinear, sigma_init=sigma_init, noise=noise)
    out = _rebuilt(net, gaussian, "noise_network")
    for m in out:
        if isinstance(m, GaussianLinear):
            m.weight.requires_grad_(False)
    return out


def noise_objective(
    gnet: nn.Module, x: Tensor, y: Tensor, *, rho: float, c: float, n_data: float
) -> Tensor:
    r"""One-sample estimate of Malkin et al.'s objective per example, at fixed means:

    .. math:: \mathcal L(\sigma) = \mathrm{CE}\big(f_{\mu+\sigma\odot\varepsilon}(x), y\big)
              + \frac{1}{N}\sum_i c\,\sigma_i^{-\rho},

    with :math:`N` = ``n_data`` (the training-set size: their code adds (batch/60000)·cost to the
    batch's summed NLL). The cost is :func:`synlab.costs.reliability_cost`.
    """
    if not n_data > 0 or not c > 0:
        raise ValueError(f"need n_data > 0 and c > 0; got {n_data}, {c}")
    ce = F.cross_entropy(gnet(x), y)
    cost = sum(
        reliability_cost(m.sigma, rho, c).sum()
        for m in gnet.modules()
        if isinstance(m, GaussianLinear)
    )
    return ce + cost / n_data


@dataclass(frozen=True)
class Batches:
    """Training data drawn in shuffled mini-batches: what :func:`optimise_noise` and
    :func:`adam_finetune` fit to (``seed`` seeds the shuffling)."""

    x: Tensor
    y: Tensor
    batch_size: int = 100
    seed: int = 0

    def __post_init__(self):
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {self.batch_size}")


def optimise_noise(
    net: nn.Module,
    data: Batches,
    *,
    rho: float = 0.5,
    c: float = 1e-3,
    n_data: float | None = None,
    epochs: int = 3,
    lr: float = 0.05,
    sigma_init: float = 1e-3,
) -> tuple[Tensor, list[float]]:
    r"""Per-synapse σ minimising :func:`noise_objective` at means fixed to ``net``'s weights.

    Adam on :math:`\phi` (σ = softplus(φ)) with local reparameterisation (the expected loss is the
    same as with one weight sample per batch; its gradient has less variance). Malkin et al. train μ
    and σ together for 50 epochs with Adam lr 1e-4; here μ stays at :math:`\bar w` so that every
    measure describes the same weights, and σ starts at ``sigma_init`` with a larger step.

    Returns:
        ``(sigma, losses)``: σ flat (canonical order) and the mean objective of each epoch.
    """
    if int(epochs) != epochs or epochs < 1 or not lr > 0:
        raise ValueError("need epochs >= 1 and lr > 0")
    x, y, batch_size, seed = data.x, data.y, data.batch_size, data.seed
    n_data = float(len(y)) if n_data is None else float(n_data)
    torch.manual_seed(seed)
    gnet = noise_network(net, sigma_init=sigma_init).to(x.device)
    phis = [m.weight_rho for m in gnet.modules() if isinstance(m, GaussianLinear)]
    opt = torch.optim.Adam(phis, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    gnet.train()
    for _ in range(int(epochs)):
        perm = torch.randperm(len(y), generator=gen).to(x.device)
        tot = 0.0
        for sl in _chunks(len(y), batch_size):
            idx = perm[sl]
            opt.zero_grad(set_to_none=True)
            loss = noise_objective(gnet, x[idx], y[idx], rho=rho, c=c, n_data=n_data)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        losses.append(tot / len(y))
    sigma = flat([m.sigma for m in gnet.modules() if isinstance(m, GaussianLinear)])
    return sigma, losses


def snr(mu: Tensor, sigma: Tensor) -> Tensor:
    r"""Signal-to-noise ratio :math:`|\mu|/\sigma` (Blundell et al. 2015 prune the lowest first)."""
    if mu.shape != sigma.shape:
        raise ValueError(
            f"mu and sigma must have the same shape; got {tuple(mu.shape)} and {tuple(sigma.shape)}"
        )
    if (sigma <= 0).any():
        raise ValueError("sigma must be > 0")
    return mu.abs() / sigma


def obd_saliency(h: Tensor, w: Tensor) -> Tensor:
    r"""Optimal-Brain-Damage saliency :math:`\tfrac12 H_{ii} w_i^2`: the loss increase, to second
    order and ignoring off-diagonal terms, from setting :math:`w_i` to zero at a minimum."""
    if h.shape != w.shape:
        raise ValueError(
            f"h and w must have the same shape; got {tuple(h.shape)} and {tuple(w.shape)}"
        )
    return 0.5 * h * w**2


# ----------------------------------------------------------------------------- Adam
def adam_effective_lr(
    optimizer: torch.optim.Optimizer, params: Sequence[Tensor] | None = None
) -> list[Tensor]:
    r"""Per-parameter effective learning rate :math:`\eta/(\sqrt{\hat v}+\epsilon)` of an Adam optimiser.

    With :math:`v_t` the exponential average of squared gradients (``exp_avg_sq``) after
    :math:`t` steps, :math:`\hat v = v_t/(1-\beta_2^t)` (bias correction, as in
    :class:`torch.optim.Adam`). With ``amsgrad`` the running maximum is used. ``params`` default
    to all parameters of all groups; a parameter never stepped raises ``ValueError``.
    """
    if not isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        raise ValueError(
            f"need a torch.optim.Adam or AdamW optimiser; got {type(optimizer).__name__}"
        )
    out = []
    for group in optimizer.param_groups:
        lr, (_, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p in group["params"]:
            if params is not None and not any(p is q for q in params):
                continue
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" not in state:
                raise ValueError(
                    "a parameter has no Adam state yet: take at least one optimiser step first"
                )
            t = float(state["step"])
            v = state["max_exp_avg_sq"] if group.get("amsgrad", False) else state["exp_avg_sq"]
            v_hat = v / (1.0 - beta2**t)
            out.append((lr / (v_hat.sqrt() + eps)).detach())
    if params is not None and len(out) != len(params):
        raise ValueError("some of params are not in the optimiser")
    return out


def adam_finetune(
    net: nn.Module, data: Batches, *, steps: int = 200, lr: float = 1e-3
) -> tuple[Tensor, float]:
    r"""Fine-tune a **copy** of ``net`` with Adam for ``steps`` mini-batches; return its per-synapse
    effective learning rates :math:`\eta/(\sqrt{\hat v_i}+\epsilon)` (flat) and the final batch loss.

    ``net`` itself is not changed, so the other measures stay at :math:`\bar w`.
    """
    if steps < 1 or not lr > 0:
        raise ValueError("need steps >= 1 and lr > 0")
    x, y, batch_size, seed = data.x, data.y, data.batch_size, data.seed
    model = copy.deepcopy(net)
    layers = bias_free_layers(model)
    weights = [m.weight for m in layers]
    opt = torch.optim.Adam(weights, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=gen).to(x.device)
    pos, last = 0, float("nan")
    for _ in range(int(steps)):
        if pos + batch_size > len(y):
            perm, pos = torch.randperm(len(y), generator=gen).to(x.device), 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        last = float(loss.detach())
    return flat(adam_effective_lr(opt, weights)), last


# ----------------------------------------------------------------------------- comparison
#: +1: a larger value means a more important synapse; -1: a smaller value does.
ORIENTATION: dict[str, int] = {
    "p": +1,  # Schug et al.: reliable release at important synapses
    "sigma": -1,  # Malkin et al.: little noise at important synapses
    "fisher": +1,  # empirical Fisher (all three papers)
    "hessian": +1,  # curvature (Raman & O'Leary; Malkin et al.)
    "abs_w": +1,  # magnitude
    "snr": +1,  # |mu|/sigma (Blundell et al. 2015)
    "obd": +1,  # deletion cost 1/2 H w^2
    "adam_lr": -1,  # Malkin et al.: larger learning rates at less important synapses
    "hutchinson": +1,  # a noisy estimate of the Hessian diagonal
}


def importance_scores(measures: Mapping[str, Tensor | np.ndarray]) -> dict[str, np.ndarray]:
    """Orient measures so that higher = more important (multiply by :data:`ORIENTATION`)."""
    out = {}
    for name, v in measures.items():
        if name not in ORIENTATION:
            raise ValueError(f"unknown measure {name!r}; known: {sorted(ORIENTATION)}")
        a = v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v)
        out[name] = ORIENTATION[name] * a.astype(np.float64).ravel()
    return out


def spearman(x, y) -> float:
    r"""Spearman's rank correlation: the Pearson correlation of the (average, for ties) ranks.

    .. math:: \rho_s = \frac{\sum_i (r_i-\bar r)(s_i-\bar s)}{\sqrt{\sum_i (r_i-\bar r)^2\sum_i (s_i-\bar s)^2}};
              \text{without ties } \rho_s = 1 - \frac{6\sum_i d_i^2}{n(n^2-1)},\ d_i = r_i - s_i.
    """
    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need two arrays of the same length >= 2; got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("spearman needs finite values")
    r, s = stats.rankdata(a), stats.rankdata(b)
    r, s = r - r.mean(), s - s.mean()
    den = math.sqrt(float((r * r).sum() * (s * s).sum()))
    return float("nan") if den == 0 else float((r * s).sum() / den)


def rank_correlation_matrix(scores: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Spearman correlation of every pair of measures: ``(names, R)`` with ``R`` symmetric, unit diagonal.

    Uses :func:`scipy.stats.spearmanr` on the columns (same definition as :func:`spearman`).
    """
    names = list(scores)
    if len(names) < 2:
        raise ValueError("need at least two measures")
    cols = np.stack([np.asarray(scores[n], dtype=float).ravel() for n in names], axis=1)
    if not np.isfinite(cols).all():
        raise ValueError("measures must be finite")
    rho = stats.spearmanr(cols).statistic
    return names, np.asarray(rho, dtype=float).reshape(len(names), len(names))


def lesion_order(score, generator: torch.Generator | None = None) -> np.ndarray:
    """Indices in removal order: lowest ``score`` first, ties broken at random by ``generator``."""
    s = (
        score.detach().cpu().numpy()
        if isinstance(score, Tensor)
        else np.asarray(score, dtype=float)
    )
    s = s.astype(np.float64).ravel()
    if s.size == 0 or not np.isfinite(s).all():
        raise ValueError("score must be a non-empty array of finite values")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    perm = torch.randperm(s.size, generator=generator).numpy()
    return perm[np.argsort(s[perm], kind="stable")]


def lesion_curve(
    evaluate_fn: Callable[[Tensor], float],
    weights: Tensor,
    order: Sequence[int] | np.ndarray,
    fractions: Sequence[float],
) -> np.ndarray:
    """``evaluate_fn(w)`` after zeroing the first ``round(f·n)`` synapses of ``order``, for each fraction ``f``.

    ``weights`` (flat) is never modified.
    """
    fr = np.asarray(fractions, dtype=float)
    if ((fr < 0) | (fr > 1)).any():
        raise ValueError("fractions must lie in [0, 1]")
    order = torch.as_tensor(np.asarray(order), dtype=torch.long, device=weights.device)
    n = weights.numel()
    if order.numel() != n:
        raise ValueError(f"order has {order.numel()} entries but there are {n} synapses")
    out = []
    for f in fr:
        w = weights.detach().clone().reshape(-1)
        w[order[: int(round(f * n))]] = 0.0
        out.append(float(evaluate_fn(w)))
    return np.asarray(out)


def lesion_curves(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    scores: Mapping[str, np.ndarray],
    fractions: Sequence[float],
    *,
    n_repeats: int = 5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Lesion curves of a deterministic network for every score and for random orders.

    Each score's curve is averaged over ``n_repeats`` random tie-breaks (ties matter for ``p``,
    which sits at its bounds for many synapses); the random curve over ``n_repeats`` random orders.
    Returns ``{name: mean, name+"_se": standard error}`` including ``"random"``.
    """
    if n_repeats < 1:
        raise ValueError("n_repeats must be >= 1")
    w0 = mean_weights_flat(net)
    work = copy.deepcopy(net)

    def ev(w: Tensor) -> float:
        _set_weights(work, w)
        return accuracy(work, x, y)

    gen = torch.Generator().manual_seed(seed)
    out: dict[str, np.ndarray] = {}
    n = w0.numel()
    for name, s in list(scores.items()) + [("random", None)]:
        curves = []
        for _ in range(n_repeats):
            order = torch.randperm(n, generator=gen).numpy() if s is None else lesion_order(s, gen)
            curves.append(lesion_curve(ev, w0, order, fractions))
        out[name], out[name + "_se"] = mean_se(curves)
    return out


def mean_se(arrays: Sequence, single: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise mean and standard error over repetitions: the one mean ± SE of synlab.

    ``arrays``: one array (or scalar) per repetition, all of one shape; computed in float64.
    The standard error is the sample standard deviation (ddof = 1) over :math:`\\sqrt n`; with a
    single repetition it is ``single`` everywhere (0 for curves, ``nan`` for a table).
    Scalars give numpy scalars.
    """
    a = np.stack([np.asarray(x, dtype=float) for x in arrays]) if len(arrays) else np.empty(0)
    if len(a) == 0:
        raise ValueError("need at least one array")
    if len(a) == 1:
        return a.mean(0), np.full(a.shape[1:], single)[()]
    return a.mean(0), a.std(0, ddof=1) / math.sqrt(len(a))


def subsample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """``min(k, n)`` distinct indices of ``range(n)``, sorted, drawn with a seeded generator."""
    if n < 1 or k < 1:
        raise ValueError("need n >= 1 and k >= 1")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(k, n), replace=False))
