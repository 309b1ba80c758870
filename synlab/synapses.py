"""Synapse layers: drop-in replacements for ``nn.Linear`` with stochastic transmission.

Two models of an unreliable synapse, read top to bottom:

* :class:`BernoulliLinear` — Schug, Benzing & Steger (2021), Eqs. 1–3. Each synapse releases
  (``r = 1``) with probability ``p`` and then transmits its strength ``m``; the expected weight is
  ``w̄ = p·m``. The trained parameter is ``w̄`` (``weight``); ``p`` is a buffer changed by a
  presynaptic rule (:mod:`synlab.rules`), not by the optimiser.
* :class:`GaussianLinear` — Malkin, O'Donnell, Houghton & Aitchison (2024). Each weight is
  ``w ~ N(μ, σ²)`` with ``σ = softplus(φ)``; both ``μ`` (``weight``) and ``φ``
  (``weight_rho``) are trained, sampling is reparameterised (``w = μ + σ ε``).

Both are the two limits of the binomial quantal model (N release sites, probability p,
quantal size q): ``N = 1`` gives the Bernoulli synapse, large ``N`` the Gaussian one
(see the Foundations chapter *Quantal release and synapse models*).

:func:`mlp` builds the networks of all three papers from a layer type.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "release_mask",
    "transmitted_weight",
    "BernoulliLinear",
    "GaussianLinear",
    "mlp",
    "synapse_layers",
    "inverse_softplus",
]


def _check_probability(name: str, value: float | Tensor) -> None:
    t = torch.as_tensor(value, dtype=torch.float64)
    if torch.isnan(t).any() or (t < 0).any() or (t > 1).any():
        bad = t[(t < 0) | (t > 1) | torch.isnan(t)].flatten()[:3].tolist()
        raise ValueError(f"{name} must lie in [0, 1]; got {bad}")


def _check_sizes(in_features: int, out_features: int) -> None:
    for name, v in (("in_features", in_features), ("out_features", out_features)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")


def inverse_softplus(sigma: float | Tensor) -> Tensor:
    """φ with softplus(φ) = σ, i.e. φ = log(exp(σ) − 1), stable for small σ (finite σ > 0)."""
    try:
        s = torch.as_tensor(sigma, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"sigma must be a number > 0; got {sigma!r}") from err
    bad = ~(torch.isfinite(s) & (s > 0))
    if bad.any():
        raise ValueError(f"sigma must be finite and > 0; got {s[bad].flatten()[:3].tolist()}")
    return torch.where(s > 20, s, s + torch.log(-torch.expm1(-s)))


def release_mask(u: Tensor, p: Tensor, dtype: torch.dtype) -> Tensor:
    """The release pattern ``r = 1[u < p]`` for uniforms ``u`` on [0, 1): r ~ Bernoulli(p).

    Any leading dimensions (examples, stacked members): ``u`` broadcasts against ``p``."""
    return (u < p).to(dtype)


def transmitted_weight(mask: Tensor, weight: Tensor, p: Tensor) -> Tensor:
    r"""What a Bernoulli synapse transmits through release pattern ``mask``: :math:`r\,\bar w/p`.

    ``weight`` is the expected weight :math:`\bar w = p\,m`, so the transmission is unbiased,
    :math:`\mathbb E[r\,\bar w/p] = \bar w`. Divided by ``p`` guarded for ``p = 0`` (no release
    there, so the mask is 0 and so is the weight). Any leading dimensions (per-example masks,
    stacked members ``(M, out, in)``); every Bernoulli layer and fast path transmits through this.
    Linear in ``weight``, so it also maps the gradient with respect to the transmitted weight to
    the gradient with respect to the expected weight."""
    return mask * weight / p.clamp_min(torch.finfo(p.dtype).tiny)


def _stochastic_pass(layer: nn.Module, x: Tensor, fixed: Tensor | None) -> bool:
    """Check ``x`` against a synapse layer and say whether its forward pass samples: with a fixed
    sample (a mask or noise) given, in training mode, or in ``eval()`` with ``sample_in_eval``;
    otherwise it transmits the mean weights."""
    if x.shape[-1] != layer.in_features:
        raise ValueError(
            f"{type(layer).__name__} expected inputs with last dimension {layer.in_features}; "
            f"got shape {tuple(x.shape)}"
        )
    return fixed is not None or layer.training or layer.sample_in_eval


class BernoulliLinear(nn.Module):
    r"""Linear layer with Bernoulli synapses (Schug et al. 2021).

    Synapse ``(i, j)`` transmits :math:`r_{ij} m_{ij}` with :math:`r_{ij}\sim\mathrm{Bernoulli}(p_{ij})`,
    so with the expected weight :math:`\bar w_{ij} = p_{ij} m_{ij}`

    .. math:: y_i = \sum_j \frac{r_{ij}}{p_{ij}} \bar w_{ij} x_j (+ b_i), \qquad
              \mathbb{E}_r[y_i] = \sum_j \bar w_{ij} x_j (+ b_i).

    Args:
        in_features, out_features, bias: as in :class:`torch.nn.Linear` (the papers use
            ``bias=False``).
        p_init: initial release probability (float, or a tensor of shape
            ``(out_features, in_features)``); Schug et al. start at ``p_min = 0.25``.
        mask_per: ``"batch"`` draws one release mask per forward pass shared by every example
            in the mini-batch (DropConnect style, as in the authors' code); ``"example"`` draws
            one mask per example.
        sample_in_eval: if True, keep sampling in ``eval()`` mode (the authors evaluate with
            sampled masks, averaging 10 samples); otherwise ``eval()`` uses the mean weights.

    Attributes:
        weight: expected weight :math:`\bar w` (the trained parameter), shape (out, in).
        p: release probabilities (buffer), same shape.
        strength: :math:`m = \bar w / p` (read-only property).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        p_init: float | Tensor = 0.25,
        *,
        mask_per: str = "batch",
        sample_in_eval: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_sizes(in_features, out_features)
        if mask_per not in {"batch", "example"}:
            raise ValueError(f"mask_per must be 'batch' or 'example'; got {mask_per!r}")
        factory = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.mask_per = mask_per
        self.sample_in_eval = sample_in_eval
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.register_buffer("p", torch.empty(out_features, in_features, **factory))
        self.reset_parameters()
        self.set_release_probability(p_init)

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights and uniform bias, exactly as :class:`torch.nn.Linear`."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    @torch.no_grad()
    def set_release_probability(self, p: float | Tensor) -> None:
        """Set ``p`` (scalar or (out, in) tensor), checking it lies in [0, 1]."""
        _check_probability("release probability p", p)
        p = torch.as_tensor(p, dtype=self.p.dtype, device=self.p.device)
        if p.dim() > 0 and p.shape != self.p.shape:
            raise ValueError(
                f"release probability must be a scalar or have shape {tuple(self.p.shape)}; got {tuple(p.shape)}"
            )
        self.p.copy_(p.expand_as(self.p))

    @property
    def mean_weight(self) -> Tensor:
        """Expected weight :math:`\\bar w = p\\,m` (the trained parameter)."""
        return self.weight

    @property
    def strength(self) -> Tensor:
        """Synaptic strength :math:`m = \\bar w / p` (undefined where ``p = 0``: returns 0)."""
        safe = torch.where(self.p > 0, self.p, torch.ones_like(self.p))
        return torch.where(self.p > 0, self.weight / safe, torch.zeros_like(self.weight))

    def sample_mask(
        self, batch_size: int | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """A release mask r ~ Bernoulli(p): shape (out, in), or (B, out, in) per example."""
        shape = self.p.shape if batch_size is None else (batch_size, *self.p.shape)
        u = torch.rand(shape, device=self.p.device, dtype=self.p.dtype, generator=generator)
        return release_mask(u, self.p, self.weight.dtype)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Transmit ``x`` (…, in). ``mask`` (out, in) or (B, out, in) fixes the release pattern."""
        if not _stochastic_pass(self, x, mask):
            return F.linear(x, self.weight, self.bias)
        if mask is None:
            per_example = self.mask_per == "example" and x.dim() == 2
            mask = self.sample_mask(x.shape[0] if per_example else None)
        elif not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("a release mask holds 0 (no release) or 1 (release) only")
        if mask.shape[-2:] != self.weight.shape:
            raise ValueError(
                f"release mask must end in shape {tuple(self.weight.shape)}; got {tuple(mask.shape)}"
            )
        w = transmitted_weight(mask, self.weight, self.p)
        if w.dim() == 3:
            if x.dim() != 2 or x.shape[0] != w.shape[0]:
                raise ValueError(
                    f"a per-example mask of shape {tuple(mask.shape)} needs inputs of shape ({w.shape[0]}, {self.in_features}); got {tuple(x.shape)}"
                )
            out = torch.einsum("boi,bi->bo", w, x)
            return out if self.bias is None else out + self.bias
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"mean_p={self.p.mean().item():.3f}, mask_per={self.mask_per!r}"
        )


class GaussianLinear(nn.Module):
    r"""Linear layer with Gaussian synapses (Malkin et al. 2024; Blundell et al. 2015).

    Each weight is :math:`w_{ij} = \mu_{ij} + \sigma_{ij}\,\varepsilon_{ij}` with
    :math:`\varepsilon_{ij}\sim\mathcal N(0,1)` and :math:`\sigma_{ij} = \mathrm{softplus}(\phi_{ij})`,
    so gradients reach both :math:`\mu` and :math:`\phi` (the reparameterisation trick).

    Args:
        in_features, out_features, bias: as in :class:`torch.nn.Linear`. With ``bias=True`` the
            bias is Gaussian too (its own μ and σ), as in the authors' code.
        sigma_init: initial σ for every synapse (> 0; the paper starts at 1e-4).
        mu_init: ``(low, high)`` for a uniform initialisation of μ (the paper: (−0.1, 0.1)),
            or None for the :class:`torch.nn.Linear` default.
        noise: ``"weight"`` samples one weight matrix per forward pass shared by the mini-batch;
            ``"local"`` samples pre-activations per example (local reparameterisation,
            Kingma et al. 2015): same marginal of each output, independent across examples.
        sample_in_eval: keep sampling in ``eval()`` mode (otherwise eval uses μ).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        sigma_init: float = 1e-4,
        mu_init: tuple[float, float] | None = None,
        noise: str = "weight",
        sample_in_eval: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_sizes(in_features, out_features)
        if not (isinstance(sigma_init, (int, float)) and 0 < sigma_init < math.inf):
            raise ValueError(
                f"sigma_init must be a finite number > 0 (a noise standard deviation); "
                f"got {sigma_init!r}"
            )
        if noise not in {"weight", "local"}:
            raise ValueError(f"noise must be 'weight' or 'local'; got {noise!r}")
        factory = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.noise, self.sample_in_eval = noise, sample_in_eval
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.weight_rho = nn.Parameter(torch.empty(out_features, in_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
            self.bias_rho = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
            self.register_parameter("bias_rho", None)
        self.reset_parameters(sigma_init=sigma_init, mu_init=mu_init)

    @torch.no_grad()
    def reset_parameters(
        self, sigma_init: float = 1e-4, mu_init: tuple[float, float] | None = None
    ) -> None:
        if mu_init is None:
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        else:
            lo, hi = mu_init
            if not lo < hi:
                raise ValueError(f"mu_init must be (low, high) with low < high; got {mu_init}")
            nn.init.uniform_(self.weight, lo, hi)
        rho = inverse_softplus(sigma_init).item()
        self.weight_rho.fill_(rho)
        if self.bias is not None:
            if mu_init is None:
                bound = 1 / math.sqrt(self.in_features)
                nn.init.uniform_(self.bias, -bound, bound)
            else:
                nn.init.uniform_(self.bias, *mu_init)
            self.bias_rho.fill_(rho)

    @property
    def mean_weight(self) -> Tensor:
        """μ, the mean synaptic weight."""
        return self.weight

    @property
    def sigma(self) -> Tensor:
        """σ = softplus(φ) of the weights, shape (out, in)."""
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self) -> Tensor | None:
        return None if self.bias_rho is None else F.softplus(self.bias_rho)

    @torch.no_grad()
    def set_sigma(self, sigma: float | Tensor) -> None:
        """Set σ of the weights (scalar or (out, in)); σ must be > 0."""
        s = torch.as_tensor(sigma, dtype=self.weight_rho.dtype, device=self.weight_rho.device)
        if s.dim() > 0 and s.shape != self.weight_rho.shape:
            raise ValueError(
                f"sigma must be a scalar or have shape {tuple(self.weight_rho.shape)}; got {tuple(s.shape)}"
            )
        self.weight_rho.copy_(inverse_softplus(s).to(s.dtype).expand_as(self.weight_rho))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        """Transmit ``x`` (B, in). ``noise`` ε of shape (out, in) fixes the weight sample."""
        if not _stochastic_pass(self, x, noise):
            return F.linear(x, self.weight, self.bias)
        bias_sigma = self.bias_sigma
        if self.noise == "local" and noise is None:
            mean = F.linear(x, self.weight, self.bias)
            var = F.linear(x * x, self.sigma**2)
            if bias_sigma is not None:
                var = var + bias_sigma**2
            return mean + var.clamp_min(0).sqrt() * torch.randn_like(mean)
        if noise is None:
            noise = torch.randn_like(self.weight)
        elif noise.shape != self.weight.shape:
            raise ValueError(
                f"noise must have shape {tuple(self.weight.shape)}; got {tuple(noise.shape)}"
            )
        w = self.weight + self.sigma * noise
        b = None
        if self.bias is not None:
            b = self.bias + bias_sigma * torch.randn_like(self.bias)
        return F.linear(x, w, b)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"mean_sigma={self.sigma.mean().item():.3g}, noise={self.noise!r}"
        )


def mlp(
    sizes: Sequence[int],
    layer: Callable[..., nn.Module] = nn.Linear,
    *,
    activation: Callable[[], nn.Module] = nn.ReLU,
    bias: bool = False,
    final_activation: Callable[[], nn.Module] | None = None,
    **layer_kwargs,
) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] → … → sizes[-1]`` built from ``layer``.

    ``mlp([784, 200, 200, 10], BernoulliLinear)`` is Schug et al.'s network,
    ``mlp([784, 100, 100, 10], GaussianLinear, bias=True, mu_init=(-0.1, 0.1))`` Malkin et al.'s,
    ``mlp([12, 20, 10], activation=nn.Sigmoid, bias=True)`` Raman & O'Leary's nonlinear one.
    ``layer_kwargs`` are passed to every layer.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(int(s) != s or s <= 0 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers; got {sizes}")
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(layer(n_in, n_out, bias=bias, **layer_kwargs))
        if i < len(sizes) - 2:
            modules.append(activation())
    if final_activation is not None:
        modules.append(final_activation())
    return nn.Sequential(*modules)


def synapse_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of ``model`` that hold synapses, in order: modules exposing ``mean_weight``
    (our layers, or any layer that follows the same convention) and plain ``nn.Linear``.

    The children of a synapse layer are not searched, so a stochastic layer wrapping an
    ``nn.Linear`` counts once.
    """
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        if hasattr(module, "mean_weight") or isinstance(module, nn.Linear):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return found
