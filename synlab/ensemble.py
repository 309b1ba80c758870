r"""K independent Gaussian-synapse MLPs trained as ONE computation.

Malkin et al. (2024) train one network per point of a λ × ρ × {homogeneous, heterogeneous}
grid; their sweep "takes between 4–6 days, on GPU", one network at a time. The networks are
independent, so the sweep is embarrassingly parallel *inside one tensor program*: stack the
parameters of K members along a leading axis, ``μ`` of shape ``(K, out, in)``, and replace
``x @ W.T`` by a batched matrix product. One optimiser step then updates all K networks.

Exactness. Everything here is per member:

* the forward pass: member k's output depends only on member k's slices
  (:func:`torch.einsum` ``"kbi,koi->kbo"``);
* the objective: the ensemble loss is the *sum* of the members' losses, so
  :math:`\partial L/\partial\theta_k = \partial L_k/\partial\theta_k`;
* the optimiser: Adam (:class:`StackedAdam`, the arithmetic of :class:`torch.optim.Adam`) is elementwise — its moments and its update
  of one entry depend only on that entry's gradient history — so stacking is exact.

So a member of an ensemble follows the same trajectory as a solo network given the same
initial parameters, the same mini-batches and the same noise samples (``tests/test_ensemble.py``
checks this against :class:`synlab.synapses.GaussianLinear` to float rounding). With
``NoiseSource(per_member=True)`` every member draws its initialisation and noise from its own
generator seeded ``seed_k``, so member k reproduces a solo run (an
ensemble of one) with seed ``seed_k`` up to float rounding of the batched products; with the default ``per_member=False`` one generator draws
all members' noise at once (faster on a GPU): each member's noise is still i.i.d. N(0, 1), so its
*statistics* are identical to a solo run's, but not its exact samples. Members share the order
of mini-batches (one permutation per epoch), as a solo run with the same data seed would see.

Each member has its own hyperparameters: reliability multiplier λ_k, exponent ρ_k, noise
mode (``homogeneous[k]``: one shared σ, the root-mean-square of all its σ's, as in the
authors' code), and cost type (``entropic[k]``: the ELBO's −log σ instead of σ^−ρ, which turns
the member into Bayes-by-backprop, Blundell et al. 2015).

Noise models (``noise=``): ``"weight"`` samples one weight matrix per member per step, shared by
the mini-batch (the authors' code); ``"local"`` samples each pre-activation per example
(local reparameterisation, Kingma et al. 2015): same marginals, lower-variance gradients.

The stack of layers (:class:`GaussianEnsembleMLP`) is reusable by other parts: give it the
sizes, K and per-member noise, and call it on ``(B, in)`` or ``(K, B, in)`` inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import fused as fused_mod
from .synapses import inverse_softplus

__all__ = [
    "StackedAdam",
    "NoiseSource",
    "GaussianEnsembleMLP",
    "ensemble_objective",
    "train_ensemble",
    "evaluate_ensemble",
    "EnsembleHistory",
    "as_member_tensor",
]


def as_member_tensor(value, K: int, name: str, *, device=None, dtype=torch.float32) -> Tensor:
    """A scalar or length-K sequence as a (K,) tensor; ValueError on a wrong length."""
    t = torch.as_tensor(np.asarray(value, dtype=float), dtype=dtype, device=device)
    if t.dim() == 0:
        t = t.expand(K).clone()
    if t.shape != (K,):
        raise ValueError(
            f"{name} must be a scalar or have one value per member ({K}); got shape {tuple(t.shape)}"
        )
    return t


class StackedAdam:
    r"""Adam (Kingma & Ba 2014) on any tensors, e.g. stacked (K, …) parameters; elementwise.

    For each entry with gradient g at step t:
    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \eta\,\hat m/(\sqrt{\hat v}+\epsilon)` with the bias corrections
    :math:`\hat m = m/(1-\beta_1^t)`, :math:`\hat v = v/(1-\beta_2^t)` — the same arithmetic as
    :class:`torch.optim.Adam` (no weight decay). Since every operation is per entry, Adam on a stack
    of K networks *is* K independent Adams. :meth:`learning_rates` gives the per-synapse learning
    rate :math:`\eta/(\sqrt{\hat v}+\epsilon)` that Malkin et al. (Fig. 5c) relate to σ.

    ``groups``: a list of ``(parameters, lr)``. (Plain code, so it avoids the one-time import of
    torch's compiler stack that ``torch.optim`` triggers on its first step.)
    """

    def __init__(
        self, groups, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.groups = [(list(params), float(lr)) for params, lr in groups]
        if any(lr <= 0 for _, lr in self.groups):
            raise ValueError("every learning rate must be > 0")
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.m = {id(p): torch.zeros_like(p) for ps, _ in self.groups for p in ps}
        self.v = {id(p): torch.zeros_like(p) for ps, _ in self.groups for p in ps}

    def zero_grad(self) -> None:
        for ps, _ in self.groups:
            for p in ps:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        bc1, bc2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for ps, lr in self.groups:
            for p in ps:
                if p.grad is None:
                    continue
                m, v = self.m[id(p)], self.v[id(p)]
                m.mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
                v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
                denom = (v.sqrt() / math.sqrt(bc2)).add_(self.eps)
                p.addcdiv_(m, denom, value=-lr / bc1)

    def learning_rates(self, p: Tensor) -> Tensor:
        """Per-entry learning rate η / (sqrt(v̂) + ε) of parameter ``p`` (after ≥ 1 step)."""
        if self.t == 0:
            raise ValueError("no step taken yet")
        lr = next(lr for ps, lr in self.groups if any(q is p for q in ps))
        return lr / ((self.v[id(p)] / (1 - self.beta2**self.t)).sqrt() + self.eps)


class NoiseSource:
    """Where an ensemble's random numbers come from.

    ``per_member=False``: one :class:`torch.Generator` seeded ``seed`` draws ``(K, …)`` at once.
    ``per_member=True``: member k has its own generator seeded ``seeds[k]`` (default
    ``seed + k``) and draws ``(…)``; member k then equals a solo run (K = 1) seeded ``seeds[k]``.
    """

    def __init__(
        self,
        K: int,
        seed: int = 0,
        *,
        per_member: bool = False,
        seeds: Sequence[int] | None = None,
        device=None,
    ) -> None:
        if K < 1:
            raise ValueError(f"K must be >= 1; got {K}")
        self.K, self.per_member = K, per_member
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        if per_member:
            seeds = list(seeds) if seeds is not None else [seed + k for k in range(K)]
            if len(seeds) != K:
                raise ValueError(f"need {K} seeds; got {len(seeds)}")
            self.generators = [
                torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds
            ]
        else:
            self.generators = [torch.Generator(device=self.device).manual_seed(int(seed))]

    def randn(self, *shape: int, dtype=torch.float32) -> Tensor:
        """Standard normal of shape (K, *shape)."""
        if self.per_member:
            return torch.stack(
                [
                    torch.randn(shape, generator=g, device=self.device, dtype=dtype)
                    for g in self.generators
                ]
            )
        return torch.randn(
            (self.K, *shape), generator=self.generators[0], device=self.device, dtype=dtype
        )

    def uniform(self, low: float, high: float, *shape: int, dtype=torch.float32) -> Tensor:
        """Uniform on [low, high) of shape (K, *shape)."""
        if self.per_member:
            u = torch.stack(
                [
                    torch.rand(shape, generator=g, device=self.device, dtype=dtype)
                    for g in self.generators
                ]
            )
        else:
            u = torch.rand(
                (self.K, *shape), generator=self.generators[0], device=self.device, dtype=dtype
            )
        return low + (high - low) * u


class GaussianEnsembleMLP(nn.Module):
    r"""K Gaussian-synapse MLPs ``sizes[0] → … → sizes[-1]`` with stacked parameters.

    Layer l of member k has :math:`w = \mu + \sigma\varepsilon`, :math:`\sigma=\mathrm{softplus}(\phi)`,
    ``mu[l]``/``phi[l]`` of shape (K, out, in) and (with ``bias``) Gaussian biases of shape (K, out).

    Args:
        n_members: K.
        sizes: layer widths, e.g. ``[784, 100, 100, 10]``.
        bias: Gaussian biases (own μ and σ), as in the authors' code.
        sigma_init: initial σ of every weight and bias (paper: 1e-4).
        mu_init: (low, high) of the uniform initialisation of μ (paper: (−0.1, 0.1)).
        relu_after: which layers (0-based) are followed by a ReLU. Default: every hidden layer
            (the paper's text: ReLU units, linear logits into the softmax).
        noise: ``"weight"`` or ``"local"`` (see the module docstring).
        homogeneous: bool per member: use one shared σ (RMS of all the member's σ's).
        source: a :class:`NoiseSource` for initialisation and noise (default: seed 0, shared).
    """

    def __init__(
        self,
        n_members: int,
        sizes: Sequence[int],
        *,
        bias: bool = True,
        sigma_init: float = 1e-4,
        mu_init: tuple[float, float] = (-0.1, 0.1),
        relu_after: Sequence[int] | None = None,
        noise: str = "weight",
        homogeneous=False,
        source: NoiseSource | None = None,
        dtype=torch.float32,
    ) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"sizes must be at least two positive integers; got {sizes}")
        if noise not in {"weight", "local"}:
            raise ValueError(f"noise must be 'weight' or 'local'; got {noise!r}")
        if not (isinstance(sigma_init, (int, float)) and 0 < sigma_init < math.inf):
            raise ValueError(
                f"sigma_init must be a finite number > 0 (a noise standard deviation); "
                f"got {sigma_init!r}"
            )
        lo, hi = mu_init
        if not lo < hi:
            raise ValueError(f"mu_init must be (low, high) with low < high; got {mu_init}")
        K = int(n_members)
        self.K, self.sizes, self.noise, self.has_bias = K, sizes, noise, bias
        self.relu_after = (
            tuple(range(len(sizes) - 2))
            if relu_after is None
            else tuple(int(i) for i in relu_after)
        )
        if any(not 0 <= i < len(sizes) - 1 for i in self.relu_after):
            raise ValueError(
                f"relu_after must index layers 0..{len(sizes) - 2}; got {self.relu_after}"
            )
        self.source = source if source is not None else NoiseSource(K, 0)
        if self.source.K != K:
            raise ValueError(
                f"the noise source is for {self.source.K} members, the ensemble has {K}"
            )
        phi0 = float(inverse_softplus(sigma_init))
        dev = self.source.device
        self.mu, self.phi = nn.ParameterList(), nn.ParameterList()
        self.bias_mu, self.bias_phi = nn.ParameterList(), nn.ParameterList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.mu.append(nn.Parameter(self.source.uniform(lo, hi, n_out, n_in, dtype=dtype)))
            self.phi.append(
                nn.Parameter(torch.full((K, n_out, n_in), phi0, dtype=dtype, device=dev))
            )
            if bias:
                self.bias_mu.append(nn.Parameter(self.source.uniform(lo, hi, n_out, dtype=dtype)))
                self.bias_phi.append(
                    nn.Parameter(torch.full((K, n_out), phi0, dtype=dtype, device=dev))
                )
        self.register_buffer(
            "homogeneous", as_member_tensor(homogeneous, K, "homogeneous", device=dev).bool()
        )

    # ------------------------------------------------------------------ σ
    @property
    def n_layers(self) -> int:
        return len(self.mu)

    def n_parameters_per_member(self) -> int:
        """Weights + biases of one member (each has a σ)."""
        n = sum(m[0].numel() for m in self.mu)
        return n + sum(b[0].numel() for b in self.bias_mu)

    def raw_sigmas(self) -> list[Tensor]:
        """softplus(φ) of every weight and bias tensor: [W0, (b0), W1, (b1), …], each (K, …)."""
        out = []
        for l in range(self.n_layers):
            out.append(F.softplus(self.phi[l]))
            if self.has_bias:
                out.append(F.softplus(self.bias_phi[l]))
        return out

    def sigma_rms(self) -> Tensor:
        """(K,) root-mean-square of all σ's of each member."""
        sq = sum(s.pow(2).flatten(1).sum(1) for s in self.raw_sigmas())
        return (sq / self.n_parameters_per_member()).sqrt()

    def sigmas(self) -> list[Tensor]:
        """Effective σ's (as :meth:`raw_sigmas`): homogeneous members get their RMS σ everywhere."""
        raw = self.raw_sigmas()
        if not bool(self.homogeneous.any()):
            return raw
        rms = self.sigma_rms()
        out = []
        for s in raw:
            shape = (self.K,) + (1,) * (s.dim() - 1)
            out.append(torch.where(self.homogeneous.view(shape), rms.view(shape).expand_as(s), s))
        return out

    def weight_sigmas(self) -> list[Tensor]:
        """Effective σ of the weight matrices only, (K, out, in) per layer."""
        s = self.sigmas()
        return s[0::2] if self.has_bias else s

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        x: Tensor,
        *,
        sample: bool = True,
        noise: Sequence[Tensor] | None = None,
        return_inputs: bool = False,
    ):
        """Outputs (K, B, out) for inputs (B, in) (shared) or (K, B, in).

        ``sample=False`` uses the means μ. ``noise``: optional explicit ε per weight/bias tensor
        (same order as :meth:`raw_sigmas`), only for ``noise="weight"``. ``return_inputs`` also
        returns the input of every layer (K, B, in_l) — presynaptic rates.
        """
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, -1, -1)
        if x.dim() != 3 or x.shape[0] != self.K or x.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"inputs must be (B, {self.sizes[0]}) or ({self.K}, B, {self.sizes[0]}); got {tuple(x.shape)}"
            )
        sig = self.sigmas() if sample else None
        step = 2 if self.has_bias else 1
        if noise is not None and len(noise) != len(self.raw_sigmas()):
            raise ValueError(
                f"noise must hold one tensor per weight/bias tensor ({len(self.raw_sigmas())}); got {len(noise)}"
            )
        inputs = []
        h = x
        for l in range(self.n_layers):
            inputs.append(h)
            mu, b = self.mu[l], (self.bias_mu[l] if self.has_bias else None)
            if not sample:
                h = torch.einsum("kbi,koi->kbo", h, mu)
                if b is not None:
                    h = h + b.unsqueeze(1)
            elif self.noise == "local" and noise is None:
                sw = sig[step * l]
                mean = torch.einsum("kbi,koi->kbo", h, mu)
                var = torch.einsum("kbi,koi->kbo", h * h, sw * sw)
                if b is not None:
                    mean = mean + b.unsqueeze(1)
                    var = var + sig[step * l + 1].pow(2).unsqueeze(1)
                eps = self.source.randn(*mean.shape[1:], dtype=mean.dtype)
                h = mean + var.clamp_min(0).sqrt() * eps
            else:
                sw = sig[step * l]
                ew = (
                    noise[step * l]
                    if noise is not None
                    else self.source.randn(*mu.shape[1:], dtype=mu.dtype)
                )
                h = torch.einsum("kbi,koi->kbo", h, mu + sw * ew)
                if b is not None:
                    eb = (
                        noise[step * l + 1]
                        if noise is not None
                        else self.source.randn(*b.shape[1:], dtype=b.dtype)
                    )
                    h = h + (b + sig[step * l + 1] * eb).unsqueeze(1)
            if l in self.relu_after:
                h = F.relu(h)
        return (h, inputs) if return_inputs else h

    def member_state(self, k: int) -> dict[str, np.ndarray]:
        """Member k's μ and effective σ per layer as numpy arrays (for results)."""
        sig = self.sigmas()
        step = 2 if self.has_bias else 1
        out = {}
        for l in range(self.n_layers):
            out[f"mu{l}"] = self.mu[l][k].detach().cpu().numpy()
            out[f"sigma{l}"] = sig[step * l][k].detach().cpu().numpy()
        return out


def _per_member_nll(out: Tensor, y: Tensor, loss: str, obs_sd: float) -> Tensor:
    """(K,) negative log-likelihood summed over the batch."""
    K, B = out.shape[:2]
    if loss == "cross_entropy":
        return (
            F.cross_entropy(out.reshape(K * B, -1), y.repeat(K), reduction="none").view(K, B).sum(1)
        )
    if loss == "gaussian":
        target = y.view(1, B, -1).expand_as(out)
        return (
            (0.5 * ((out - target) / obs_sd) ** 2 + math.log(obs_sd) + 0.5 * math.log(2 * math.pi))
            .flatten(1)
            .sum(1)
        )
    raise ValueError(f"loss must be 'cross_entropy' or 'gaussian'; got {loss!r}")


def ensemble_objective(
    model: GaussianEnsembleMLP,
    x: Tensor,
    y: Tensor,
    *,
    lam: Tensor,
    rho: Tensor,
    c: float | Tensor = 1.0,
    l1: float = 0.01,
    n_data: float = 60000.0,
    entropic: Tensor | None = None,
    loss: str = "cross_entropy",
    obs_sd: float = 1.0,
):
    r"""Sum over members of Malkin et al.'s per-step objective; returns (total, nll (K,), cost (K,)).

    For member k and a mini-batch of size B:

    .. math:: L_k = \sum_{b} -\log p(y_b\mid x_b, w_k) + \frac{B}{N}\Big[l_1\sum_i|\mu_i|
              + \lambda_k\sum_i c\,\sigma_i^{-\rho_k}\Big]

    (sums over every weight and bias; N = ``n_data``, 60000 in the paper). Homogeneous members
    use their shared σ for every parameter, so their cost counts every parameter. Members with
    ``entropic[k]`` pay :math:`\lambda_k\sum_i -\log\sigma_i` instead (λ = 1: the negative ELBO
    with a Laplace prior, i.e. Bayes-by-backprop).
    """
    out = model(x)
    nll = _per_member_nll(out, y, loss, obs_sd)
    K = model.K
    shape = lambda s: (K,) + (1,) * (s.dim() - 1)  # noqa: E731
    mag = sum(m.abs().flatten(1).sum(1) for m in list(model.mu) + list(model.bias_mu))
    rel = torch.zeros(K, dtype=out.dtype, device=out.device)
    ent = torch.zeros(K, dtype=out.dtype, device=out.device)
    for s in model.sigmas():
        rel = rel + (c * s ** (-rho.view(shape(s)))).flatten(1).sum(1)
        if entropic is not None:
            ent = ent + (-s.log()).flatten(1).sum(1)
    if entropic is not None:
        rel = torch.where(entropic, ent, rel)
    cost = l1 * mag + lam * rel
    total = (nll + (x.shape[0] / n_data) * cost).sum()
    return total, nll.detach(), cost.detach()


@dataclass
class EnsembleHistory:
    """What :func:`train_ensemble` records (arrays over steps/epochs, per member)."""

    epoch_nll: list  # (epochs, K) mean NLL per example
    steps: int
    accumulated: dict  # per-synapse statistics accumulated in the last epochs (see train_ensemble)
    engine: str = "autograd"  # which training step ran: "autograd", "fused step" or "fused step, torch.compile"
    #: with ``track_layers``: per tracked layer l, its statistics (see :func:`train_ensemble`)
    accumulated_layers: dict = field(default_factory=dict)


def train_ensemble(
    model: GaussianEnsembleMLP,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int = 20,
    lr: float = 1e-4,
    lr_phi: float | None = None,
    lam=1.0,
    rho=0.5,
    c: float = 1.0,
    l1: float = 0.01,
    n_data: float = 60000.0,
    entropic=None,
    loss: str = "cross_entropy",
    obs_sd: float = 1.0,
    data_seed: int = 0,
    accumulate_epochs: int = 0,
    track_layer: int = 1,
    track_layers: Sequence[int] | None = None,
    freeze_accumulation: bool = False,
    engine: str = "auto",
    compile: bool = False,
) -> EnsembleHistory:
    """Train all members with Adam on the stacked parameters, data on the model's device.

    ``engine="fused"`` runs :func:`synlab.fused.fused_step`: hand-derived gradients and Adam, the
    same numbers as ``engine="autograd"`` (:func:`ensemble_objective`, ``backward``,
    :class:`StackedAdam`) up to float rounding, with the same noise draws. ``compile``
    compiles the fused step with ``torch.compile`` (the first step then takes
    tens of seconds; 2.5× faster steps on a CPU, ``benchmarks/bench_ensemble.py``). ``"auto"``: the
    compiled fused step when compiling, else autograd (uncompiled, autograd is the faster of the two).

    Mini-batches: one random permutation per epoch (generator seeded ``data_seed``), shared by all
    members. ``lr_phi`` (default ``lr``) is the Adam step size of the σ parameters φ.

    ``accumulate_epochs``: train this many further epochs and, at every step of them, accumulate
    for layer ``track_layer`` (per synapse, member) the mean squared gradient of the objective
    w.r.t. μ (empirical-Fisher estimate of the Hessian diagonal, Malkin et al. App. 3), the
    mean absolute gradient, Adam's per-synapse learning rate of μ,
    lr / (sqrt(v̂) + ε), and the mean presynaptic input (input rate).

    ``track_layers`` (e.g. ``(0, 1, 2)``): accumulate the same statistics for every listed layer
    into ``hist.accumulated_layers[l]``, plus ``"input_abs"``, the mean *absolute* presynaptic
    activation (Malkin et al.'s input rate ``|x|``; for layer 0 the normalised pixels). The
    presynaptic activations are those of the noise-free network (the means μ), so tracking draws
    no random numbers; ``hist.accumulated`` then stays empty. Without ``track_layers`` only
    ``track_layer`` is tracked, into ``hist.accumulated``, exactly as before.
    ``freeze_accumulation``: take no optimiser step during the accumulation epochs (the authors'
    Fig. 5 code: gradients are collected at the parameters reached after training); those steps
    run the autograd objective whatever ``engine`` trained the rest.
    """
    K, dev = model.K, model.mu[0].device
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y disagree on the number of examples: {x.shape[0]} vs {y.shape[0]}"
        )
    if epochs < 0 or accumulate_epochs < 0 or batch_size < 1:
        raise ValueError("epochs and accumulate_epochs must be >= 0 and batch_size >= 1")
    if accumulate_epochs and not 0 <= track_layer < model.n_layers:
        raise ValueError(f"track_layer must be in 0..{model.n_layers - 1}; got {track_layer}")
    if track_layers is not None:
        track_layers = tuple(int(l) for l in track_layers)
        if not track_layers or any(not 0 <= l < model.n_layers for l in track_layers):
            raise ValueError(
                f"track_layers must list layers in 0..{model.n_layers - 1}; got {track_layers}"
            )
    dtype = model.mu[0].dtype
    lam_t = as_member_tensor(lam, K, "lam", device=dev, dtype=dtype)
    rho_t = as_member_tensor(rho, K, "rho", device=dev, dtype=dtype)
    ent_t = (
        None if entropic is None else as_member_tensor(entropic, K, "entropic", device=dev).bool()
    )
    if bool((rho_t <= 0).any()):
        raise ValueError(f"every rho must be > 0; got {rho_t.tolist()}")
    if engine not in {"auto", "fused", "autograd"}:
        raise ValueError(f"engine must be 'auto', 'fused' or 'autograd'; got {engine!r}")
    compile = bool(compile)
    if engine == "auto":
        engine = "fused" if compile else "autograd"
    if loss not in {"cross_entropy", "gaussian"}:
        raise ValueError(f"loss must be 'cross_entropy' or 'gaussian'; got {loss!r}")
    mus = list(model.mu) + list(model.bias_mu)
    phis = list(model.phi) + list(model.bias_phi)
    opt = StackedAdam([(mus, lr), (phis, lr if lr_phi is None else lr_phi)])
    if engine == "fused":
        fused = _FusedTrainer(
            model,
            lam_t,
            rho_t,
            ent_t,
            opt,
            c=c,
            l1=l1,
            scale_n=n_data,
            loss=loss,
            obs_sd=obs_sd,
            compile=compile,
        )
    gen = torch.Generator(device="cpu").manual_seed(int(data_seed))
    n = x.shape[0]
    hist = EnsembleHistory(
        epoch_nll=[],
        steps=0,
        accumulated={},
        engine="autograd"
        if engine == "autograd"
        else "fused step" + (", torch.compile" if compile else ""),
    )
    tracked = model.mu[min(track_layer, model.n_layers - 1)]
    acc = {
        "grad_sq": torch.zeros_like(tracked),
        "grad_abs": torch.zeros_like(tracked),
        "adam_lr": torch.zeros_like(tracked),
        "input_rate": torch.zeros(K, tracked.shape[2], device=dev, dtype=dtype),
    }
    layer_acc = {} if track_layers is None else _layer_accumulators(model, track_layers)
    n_acc = 0
    for epoch in range(epochs + accumulate_epochs):
        accumulating = epoch >= epochs
        frozen = accumulating and freeze_accumulation
        perm = torch.randperm(n, generator=gen).to(dev)
        tot = torch.zeros(K, device=dev, dtype=dtype)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            g_mu = None
            if engine == "fused" and not frozen:
                nll, g_mu = fused.step(xb, yb)
                g_tracked = g_mu[
                    (2 if model.has_bias else 1) * min(track_layer, model.n_layers - 1)
                ]
            else:
                opt.zero_grad()
                total, nll, _ = ensemble_objective(
                    model,
                    xb,
                    yb,
                    lam=lam_t,
                    rho=rho_t,
                    c=c,
                    l1=l1,
                    n_data=n_data,
                    entropic=ent_t,
                    loss=loss,
                    obs_sd=obs_sd,
                )
                total.backward()
                if not frozen:
                    opt.step()
                g_tracked = tracked.grad
            hist.steps += 1
            tot += nll
            if accumulating and track_layers is not None:
                _accumulate_layers(model, opt, layer_acc, xb, g_mu)
                n_acc += 1
            elif accumulating:
                g = g_tracked / xb.shape[0]  # gradient of the per-example mean objective
                acc["grad_sq"] += g * g
                acc["grad_abs"] += g.abs()
                acc["adam_lr"] += opt.learning_rates(tracked)
                with torch.no_grad():
                    h = xb.unsqueeze(0).expand(K, -1, -1)
                    for l in range(track_layer):
                        h = torch.einsum("kbi,koi->kbo", h, model.mu[l])
                        if model.has_bias:
                            h = h + model.bias_mu[l].unsqueeze(1)
                        if l in model.relu_after:
                            h = F.relu(h)
                    acc["input_rate"] += h.mean(1)
                n_acc += 1
        hist.epoch_nll.append((tot / n).tolist())
    if n_acc and track_layers is not None:
        hist.accumulated_layers = {
            l: {k: (v / n_acc).detach() for k, v in d.items()} for l, d in layer_acc.items()
        }
    elif n_acc:
        hist.accumulated = {k: (v / n_acc).detach() for k, v in acc.items()}
    return hist


def _layer_accumulators(model: GaussianEnsembleMLP, layers) -> dict[int, dict[str, Tensor]]:
    """Zeroed sums of the per-synapse statistics of each tracked layer (:func:`train_ensemble`)."""
    out = {}
    for l in layers:
        mu = model.mu[l]
        out[l] = {
            "grad_sq": torch.zeros_like(mu),
            "grad_abs": torch.zeros_like(mu),
            "adam_lr": torch.zeros_like(mu),
            "input_rate": torch.zeros(mu.shape[0], mu.shape[2], device=mu.device, dtype=mu.dtype),
            "input_abs": torch.zeros(mu.shape[0], mu.shape[2], device=mu.device, dtype=mu.dtype),
        }
    return out


@torch.no_grad()
def _accumulate_layers(model, opt, layer_acc, xb, g_mu) -> None:
    """Add one step's statistics of every tracked layer: squared and absolute gradient of the
    per-example mean objective, Adam's learning rate, and the mean (and mean absolute) input of the
    noise-free network. ``g_mu``: the fused step's gradients, or None (then ``.grad``)."""
    step = 2 if model.has_bias else 1
    B = xb.shape[0]
    inputs = []
    h = xb.unsqueeze(0).expand(model.K, -1, -1)
    for l in range(max(layer_acc) + 1):
        inputs.append(h)
        if l == max(layer_acc):
            break
        h = torch.einsum("kbi,koi->kbo", h, model.mu[l])
        if model.has_bias:
            h = h + model.bias_mu[l].unsqueeze(1)
        if l in model.relu_after:
            h = F.relu(h)
    for l, d in layer_acc.items():
        mu = model.mu[l]
        g = (mu.grad if g_mu is None else g_mu[step * l]) / B
        d["grad_sq"] += g * g
        d["grad_abs"] += g.abs()
        d["adam_lr"] += opt.learning_rates(mu)
        d["input_rate"] += inputs[l].mean(1)
        d["input_abs"] += inputs[l].abs().mean(1)


class _FusedTrainer:
    """Holds the interleaved tensors [W0, (b0), W1, …] and Adam's moments for :func:`synlab.fused.fused_step`.

    The moments live in the :class:`StackedAdam` passed in (``opt``), so its
    :meth:`StackedAdam.learning_rates` stays valid; its step count advances with every step.
    """

    def __init__(
        self,
        model: GaussianEnsembleMLP,
        lam,
        rho,
        entropic,
        opt: StackedAdam,
        *,
        c,
        l1,
        scale_n,
        loss,
        obs_sd,
        compile: bool,
    ) -> None:
        self.model, self.opt = model, opt
        order = []
        for l in range(model.n_layers):
            order.append((model.mu[l], model.phi[l]))
            if model.has_bias:
                order.append((model.bias_mu[l], model.bias_phi[l]))
        self.mu = [m.detach() for m, _ in order]
        self.phi = [p.detach() for _, p in order]
        self.m_mu = [opt.m[id(m)] for m, _ in order]
        self.v_mu = [opt.v[id(m)] for m, _ in order]
        self.m_phi = [opt.m[id(p)] for _, p in order]
        self.v_phi = [opt.v[id(p)] for _, p in order]
        K = model.K
        self.lam, self.rho = lam, rho
        self.entropic = (
            entropic
            if entropic is not None
            else torch.zeros(K, dtype=torch.bool, device=lam.device)
        )
        self.kw = dict(
            has_bias=model.has_bias,
            relu_after=tuple(model.relu_after),
            noise=model.noise,
            loss=loss,
            c=float(c),
            l1=float(l1),
            lr=opt.groups[0][1],
            lr_phi=opt.groups[1][1],
            obs_sd=float(obs_sd),
            beta1=opt.beta1,
            beta2=opt.beta2,
            adam_eps=opt.eps,
            any_homogeneous=bool(model.homogeneous.any()),
            any_entropic=bool(self.entropic.any()),
        )
        self.scale_n = float(scale_n)
        self.fn = fused_mod.compiled_step() if compile else fused_mod.fused_step
        # Adam's step count as a device tensor advanced in place: building it from a Python float
        # each step is a blocking host-to-device copy on CUDA (the GPU would idle at every step)
        self.t = torch.tensor(float(opt.t), dtype=torch.float64, device=self.mu[0].device)

    @torch.no_grad()
    def step(self, xb: Tensor, yb: Tensor):
        model = self.model
        shapes = fused_mod.noise_shapes(self.mu, model.noise, xb.shape[0], model.has_bias)
        eps = [model.source.randn(*s, dtype=self.mu[0].dtype) for s in shapes]
        self.opt.t += 1
        self.t.add_(1.0)  # = opt.t exactly (integers in float64)
        return self.fn(
            self.mu,
            self.phi,
            self.m_mu,
            self.v_mu,
            self.m_phi,
            self.v_phi,
            eps,
            xb,
            yb,
            self.lam,
            self.rho,
            self.entropic,
            model.homogeneous,
            self.t,
            scale=xb.shape[0] / self.scale_n,
            **self.kw,
        )


@torch.no_grad()
def evaluate_ensemble(
    model: GaussianEnsembleMLP, x: Tensor, y: Tensor, *, n_samples: int = 20, chunk: int = 1000
) -> dict[str, np.ndarray]:
    """Test accuracy per member: with one weight sample, with μ, and of the mean of ``n_samples``
    sampled predictive distributions (Malkin et al. report the first and the last)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1; got {n_samples}")
    K = model.K
    correct_sampled = torch.zeros(K, device=x.device)
    correct_mean = torch.zeros(K, device=x.device)
    correct_avg = torch.zeros(K, device=x.device)
    for start in range(0, x.shape[0], chunk):
        xb, yb = x[start : start + chunk], y[start : start + chunk]
        probs = 0
        for s in range(n_samples):
            out = model(xb)
            if s == 0:
                correct_sampled += (out.argmax(-1) == yb).float().sum(1)
            probs = probs + out.softmax(-1)
        correct_avg += (probs.argmax(-1) == yb).float().sum(1)
        correct_mean += (model(xb, sample=False).argmax(-1) == yb).float().sum(1)
    n = x.shape[0]
    return {
        "acc_sampled": (correct_sampled / n).cpu().numpy(),
        "acc_mean_weights": (correct_mean / n).cpu().numpy(),
        "acc_avg20": (correct_avg / n).cpu().numpy(),
    }
