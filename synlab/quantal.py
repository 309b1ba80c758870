r"""The binomial quantal model of transmitter release (del Castillo & Katz 1954), as pure functions.

A connection has :math:`N` independent release sites; on a presynaptic spike each releases a
vesicle with probability :math:`p`, and each vesicle adds a quantum :math:`q` to the
postsynaptic potential (PSP). The number of released vesicles is :math:`K\sim\mathrm{Bin}(N,p)`
and the PSP amplitude is :math:`A = qK` (plus recording noise), so

.. math::
    \mathbb E[A] = Npq,\qquad \operatorname{Var}[A] = Np(1-p)q^2,\qquad
    \mathrm{CV} = \frac{\sqrt{\operatorname{Var}A}}{\mathbb E A} = \sqrt{\frac{1-p}{Np}} .

Its two limits are the synapse models of the book:

* :math:`N = 1` — the **Bernoulli synapse** of Schug et al. (2021): it transmits its strength
  :math:`m = q` with probability :math:`p` (mean :math:`pm = \bar w`, variance :math:`p(1-p)m^2`);
  :class:`synlab.synapses.BernoulliLinear`.
* :math:`N\to\infty` (at fixed mean and :math:`p`) — the **Gaussian synapse** of Malkin et al.
  (2024): by the central limit theorem :math:`A\approx\mathcal N(\mu,\sigma^2)` with
  :math:`\mu = Npq`, :math:`\sigma^2 = Np(1-p)q^2`; :class:`synlab.synapses.GaussianLinear`.
  The Kolmogorov–Smirnov distance to that normal law shrinks like :math:`1/\sqrt{Np(1-p)}`
  (Berry–Esseen).

Every function validates its arguments: :math:`N\ge 1` an integer, :math:`p\in[0,1]`
(:math:`p\in(0,1]` where a CV or a normal approximation needs it), :math:`q>0`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from .costs import quantal_mean, quantal_variance
from .synapses import BernoulliLinear, GaussianLinear

__all__ = [
    "QuantalMoments",
    "GaussianSynapse",
    "validate_quantal",
    "binomial_moments",
    "coefficient_of_variation",
    "binomial_pmf",
    "sample_release_counts",
    "sample_psp",
    "psp_density",
    "gaussian_limit",
    "quantal_size_for_mean",
    "ks_distance_to_gaussian",
    "berry_esseen_bound",
    "BERRY_ESSEEN_C",
    "bernoulli_moments",
    "layer_output_moments",
    "sample_layer_outputs",
]

#: The best known constant of the Berry–Esseen inequality for i.i.d. sums (Shevtsova 2011).
BERRY_ESSEEN_C = 0.4748


class QuantalMoments(NamedTuple):
    """Mean, variance and coefficient of variation of the PSP amplitude ``A = q·K``."""

    mean: float
    variance: float
    cv: float


class GaussianSynapse(NamedTuple):
    """The normal approximation ``N(mu, sigma²)`` of a binomial synapse."""

    mu: float
    sigma: float


# ----------------------------------------------------------------------------- validation
def validate_quantal(
    N: int, p: float, q: float = 1.0, *, p_open: bool = False
) -> tuple[int, float, float]:
    """Check ``N`` (integer ≥ 1), ``p`` (in [0, 1], or (0, 1] if ``p_open``) and ``q`` (> 0).

    Returns ``(N, p, q)`` as ``(int, float, float)``; raises ``ValueError`` with the offending value.
    """
    if (
        isinstance(N, bool)
        or not isinstance(N, (int, np.integer))
        and not (isinstance(N, float) and N.is_integer())
    ):
        raise ValueError(f"the number of release sites N must be an integer >= 1; got {N!r}")
    N = int(N)
    if N < 1:
        raise ValueError(f"the number of release sites N must be an integer >= 1; got {N}")
    try:
        p = float(p)
        q = float(q)
    except (TypeError, ValueError) as err:
        raise ValueError(f"p and q must be numbers; got p={p!r}, q={q!r}") from err
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"the release probability p must lie in [0, 1]; got {p}")
    if p_open and p == 0.0:
        raise ValueError(
            "the release probability p must be > 0 here (with p = 0 nothing is ever released)"
        )
    if not (q > 0.0 and math.isfinite(q)):
        raise ValueError(f"the quantal size q must be a finite number > 0; got {q}")
    return N, p, q


def _generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise ValueError(
        f"generator must be a torch.Generator, an integer seed or None; got {type(generator).__name__}"
    )


# ----------------------------------------------------------------------------- moments
def binomial_moments(N: int, p: float, q: float = 1.0) -> QuantalMoments:
    r"""Moments of the PSP amplitude :math:`A = qK`, :math:`K\sim\mathrm{Bin}(N,p)`.

    .. math:: \mathbb E A = Npq,\quad \operatorname{Var}A = Np(1-p)q^2,\quad
              \mathrm{CV} = \sqrt{(1-p)/(Np)}

    (the CV is ``inf`` for ``p = 0``, where the mean vanishes).
    """
    N, p, q = validate_quantal(N, p, q)
    mean = float(quantal_mean(N, p, q, open_p=False))
    var = float(quantal_variance(N, p, q, open_p=False))
    cv = math.sqrt((1 - p) / (N * p)) if p > 0 else math.inf
    return QuantalMoments(mean, var, cv)


def coefficient_of_variation(N: int, p: float) -> float:
    r"""CV of the binomial synapse, :math:`\sqrt{(1-p)/(Np)}`; independent of :math:`q`."""
    N, p, _ = validate_quantal(N, p, 1.0, p_open=True)
    return math.sqrt((1 - p) / (N * p))


def bernoulli_moments(p: float, m: float) -> QuantalMoments:
    r"""The Bernoulli synapse (N = 1, quantal size = strength ``m``): mean :math:`pm`, variance :math:`p(1-p)m^2`."""
    return binomial_moments(1, p, m)


def binomial_pmf(N: int, p: float) -> np.ndarray:
    r""":math:`P(K=k) = \binom Nk p^k(1-p)^{N-k}` for :math:`k = 0,\dots,N` (float64, sums to 1)."""
    N, p, _ = validate_quantal(N, p)
    from scipy.stats import binom

    return binom.pmf(np.arange(N + 1), N, p)


def sample_release_counts(
    N: int, p: float, n: int, generator: torch.Generator | int | None = None
) -> Tensor:
    """``n`` draws of the number of released vesicles :math:`K\\sim\\mathrm{Bin}(N, p)` (int64)."""
    N, p, _ = validate_quantal(N, p)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of samples n must be an integer >= 1; got {n!r}")
    g = _generator(generator)
    u = torch.rand((int(n), N), generator=g, dtype=torch.float64)
    return (u < p).sum(dim=1)


def sample_psp(
    N: int,
    p: float,
    q: float,
    n: int,
    noise_sd: float = 0.0,
    generator: torch.Generator | int | None = None,
) -> Tensor:
    r"""``n`` simulated PSP amplitudes :math:`A = qK + \eta`, :math:`\eta\sim\mathcal N(0,\text{noise\_sd}^2)`.

    The recording noise :math:`\eta` adds ``noise_sd²`` to the variance and blurs the peaks of
    the amplitude histogram at :math:`0, q, 2q, \dots` (float64 tensor of shape ``(n,)``).
    """
    N, p, q = validate_quantal(N, p, q)
    if not (noise_sd >= 0 and math.isfinite(noise_sd)):
        raise ValueError(f"noise_sd must be a finite number >= 0; got {noise_sd}")
    g = _generator(generator)
    amp = q * sample_release_counts(N, p, n, g).to(torch.float64)
    if noise_sd > 0:
        amp = amp + noise_sd * torch.randn(amp.shape, generator=g, dtype=torch.float64)
    return amp


def psp_density(x: np.ndarray | Tensor, N: int, p: float, q: float, noise_sd: float) -> np.ndarray:
    r"""Density of :math:`A = qK + \eta`: a mixture of normals at :math:`kq` with weights :math:`P(K=k)`.

    .. math:: f(x) = \sum_{k=0}^N \binom Nk p^k(1-p)^{N-k}\,
              \frac{1}{\sqrt{2\pi}s}\exp\!\Big(-\frac{(x-kq)^2}{2s^2}\Big),\quad s = \text{noise\_sd} > 0.
    """
    N, p, q = validate_quantal(N, p, q)
    if not (noise_sd > 0 and math.isfinite(noise_sd)):
        raise ValueError(
            f"psp_density needs recording noise noise_sd > 0 (a density); got {noise_sd}"
        )
    x = np.asarray(x, dtype=np.float64)
    k = np.arange(N + 1)
    z = (x[..., None] - k * q) / noise_sd
    return (binomial_pmf(N, p) * np.exp(-0.5 * z * z)).sum(-1) / (math.sqrt(2 * math.pi) * noise_sd)


# ----------------------------------------------------------------------------- Gaussian limit
def gaussian_limit(N: int, p: float, q: float = 1.0) -> GaussianSynapse:
    r"""The Gaussian synapse with the binomial synapse's mean and variance.

    :math:`\mu = Npq`, :math:`\sigma = q\sqrt{Np(1-p)}` (Malkin et al. 2024). Needs
    :math:`0<p<1` (otherwise the synapse is deterministic and σ = 0).
    """
    N, p, q = validate_quantal(N, p, q, p_open=True)
    if p == 1.0:
        raise ValueError(
            "with p = 1 the synapse is deterministic (sigma = 0): there is no Gaussian limit"
        )
    m = binomial_moments(N, p, q)
    return GaussianSynapse(m.mean, math.sqrt(m.variance))


def quantal_size_for_mean(mean: float, N: int, p: float) -> float:
    r"""The quantal size :math:`q = \mu/(Np)` that keeps the mean PSP at ``mean`` (> 0) for ``N``, ``p``."""
    N, p, _ = validate_quantal(N, p, 1.0, p_open=True)
    if not (mean > 0 and math.isfinite(mean)):
        raise ValueError(f"mean must be a finite number > 0; got {mean}")
    return mean / (N * p)


def ks_distance_to_gaussian(N: int, p: float) -> float:
    r"""Kolmogorov–Smirnov distance :math:`\sup_x |F_K(x) - \Phi((x-Np)/\sqrt{Np(1-p)})|`, exactly.

    :math:`F_K` is the binomial CDF, a step function, so the supremum is reached at a jump
    :math:`k` from one side or the other: :math:`\max_k \max(|F_K(k)-\Phi_k|, |F_K(k-1)-\Phi_k|)`.
    Scale-free: the same for :math:`A = qK` with any :math:`q` (so also at a fixed mean).
    """
    N, p, _ = validate_quantal(N, p, 1.0, p_open=True)
    if p == 1.0:
        raise ValueError("with p = 1 the count is constant: the normal approximation is undefined")
    from scipy.stats import binom, norm

    k = np.arange(N + 1)
    cdf = binom.cdf(k, N, p)
    below = np.concatenate([[0.0], cdf[:-1]])
    phi = norm.cdf((k - N * p) / math.sqrt(N * p * (1 - p)))
    return float(np.max(np.maximum(np.abs(cdf - phi), np.abs(below - phi))))


def berry_esseen_bound(N: int, p: float) -> float:
    r"""Berry–Esseen bound on :func:`ks_distance_to_gaussian`.

    For a sum of :math:`N` i.i.d. Bernoulli(:math:`p`) variables,
    :math:`\rho = \mathbb E|X-p|^3 = p(1-p)(p^2+(1-p)^2)` and :math:`s = \sqrt{p(1-p)}`, so
    :math:`D \le C\rho/(s^3\sqrt N) = C\,(p^2+(1-p)^2)/\sqrt{Np(1-p)}` with :math:`C\le 0.4748`.
    """
    N, p, _ = validate_quantal(N, p, 1.0, p_open=True)
    if p == 1.0:
        raise ValueError("with p = 1 the count is constant: the normal approximation is undefined")
    return BERRY_ESSEEN_C * (p * p + (1 - p) ** 2) / math.sqrt(N * p * (1 - p))


# ----------------------------------------------------------------------------- layers
def layer_output_moments(layer: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    r"""Exact mean and variance of a stochastic layer's outputs for a fixed input ``x``.

    * :class:`~synlab.synapses.BernoulliLinear`: :math:`y_i = \sum_j (r_{ij}/p_{ij})\bar w_{ij}x_j`
      with independent :math:`r_{ij}\sim\mathrm{Bernoulli}(p_{ij})`, so
      :math:`\mathbb E y_i = \sum_j \bar w_{ij}x_j` and
      :math:`\operatorname{Var} y_i = \sum_j \frac{1-p_{ij}}{p_{ij}}\bar w_{ij}^2x_j^2`.
    * :class:`~synlab.synapses.GaussianLinear`: :math:`\mathbb E y_i = \sum_j\mu_{ij}x_j (+b_i)`,
      :math:`\operatorname{Var} y_i = \sum_j\sigma_{ij}^2x_j^2 (+\sigma_{b,i}^2)`.

    Args:
        layer: a BernoulliLinear or GaussianLinear.
        x: inputs of shape ``(in,)`` or ``(B, in)``.

    Returns:
        ``(mean, variance)`` of shape ``(out,)`` or ``(B, out)``.
    """
    if x.shape[-1] != getattr(layer, "in_features", -1):
        raise ValueError(f"x must end in the layer's in_features; got shape {tuple(x.shape)}")
    with torch.no_grad():
        if isinstance(layer, BernoulliLinear):
            if (layer.p <= 0).any():
                raise ValueError("layer_output_moments needs every release probability p > 0")
            mean = x @ layer.weight.T
            var = (x * x) @ ((1 - layer.p) / layer.p * layer.weight**2).T
            if layer.bias is not None:
                mean = mean + layer.bias
            return mean, var
        if isinstance(layer, GaussianLinear):
            mean = x @ layer.weight.T
            var = (x * x) @ (layer.sigma**2).T
            if layer.bias is not None:
                mean = mean + layer.bias
                var = var + layer.bias_sigma**2
            return mean, var
    raise ValueError(
        f"layer must be a BernoulliLinear or GaussianLinear; got {type(layer).__name__}"
    )


def sample_layer_outputs(
    layer: nn.Module, x: Tensor, n: int, generator: torch.Generator | int | None = None
) -> Tensor:
    """``n`` independent outputs of a stochastic ``layer`` for one input ``x`` of shape ``(in,)``.

    Each sample draws a fresh release mask (Bernoulli) or weight noise (Gaussian) from
    ``generator``, whatever the layer's train/eval mode. Returns a tensor ``(n, out)``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    if x.dim() != 1:
        raise ValueError(f"x must be one input vector of shape (in,); got {tuple(x.shape)}")
    g = _generator(generator)
    with torch.no_grad():
        if isinstance(layer, BernoulliLinear):
            if layer.bias is not None:
                raise ValueError(
                    "sample_layer_outputs supports bias-free BernoulliLinear layers (as in the papers)"
                )
            masks = layer.sample_mask(int(n), generator=g)
            return layer(x.expand(int(n), -1), mask=masks)
        if isinstance(layer, GaussianLinear):
            if layer.bias is not None:
                raise ValueError("sample_layer_outputs supports bias-free GaussianLinear layers")
            shape, dtype = layer.weight.shape, layer.weight.dtype
            return torch.cat(
                [
                    layer(x[None], noise=torch.randn(shape, generator=g, dtype=dtype))
                    for _ in range(int(n))
                ]
            )
    raise ValueError(
        f"layer must be a BernoulliLinear or GaussianLinear; got {type(layer).__name__}"
    )
