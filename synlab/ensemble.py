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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import Checkpoint
from .fast import fused as fused_mod
from .fast.fused import Members
from .synapses import inverse_softplus

__all__ = [
    "StackedAdam",
    "NoiseSource",
    "GaussianEnsembleMLP",
    "ensemble_objective",
    "Members",
    "TrainSpec",
    "StepState",
    "SynapseStats",
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

    def state_dict(self) -> dict:
        """Step count and moments, in the order of the groups' parameters (for checkpoints)."""
        ps = [p for group, _ in self.groups for p in group]
        return {"t": self.t, "m": [self.m[id(p)] for p in ps], "v": [self.v[id(p)] for p in ps]}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s values in place (the fused step holds these tensors)."""
        ps = [p for group, _ in self.groups for p in group]
        for p, m, v in zip(ps, state["m"], state["v"], strict=True):
            self.m[id(p)].copy_(m)
            self.v[id(p)].copy_(v)
        self.t = int(state["t"])

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

    def state_dict(self) -> list[Tensor]:
        """The generators' states (for checkpoints)."""
        return [g.get_state() for g in self.generators]

    def load_state_dict(self, state: list[Tensor]) -> None:
        for g, st in zip(self.generators, state, strict=True):
            g.set_state(st)

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


def _check_options(sizes: list[int], noise: str, sigma_init, mu_init) -> None:
    """ValueError on options :class:`GaussianEnsembleMLP` cannot build."""
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers; got {sizes}")
    if noise not in {"weight", "local"}:
        raise ValueError(f"noise must be 'weight' or 'local'; got {noise!r}")
    if not (isinstance(sigma_init, (int, float)) and 0 < sigma_init < math.inf):
        raise ValueError(
            f"sigma_init must be a finite number > 0 (a noise standard deviation); "
            f"got {sigma_init!r}"
        )
    if not mu_init[0] < mu_init[1]:
        raise ValueError(f"mu_init must be (low, high) with low < high; got {mu_init}")


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
        dtype: of every parameter.

    Eleven parameters (with ``self``): each keyword is one documented choice of the model with
    the paper's default; bundling them into an options object would only hide them.
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
        _check_options(sizes, noise, sigma_init, mu_init)
        lo, hi = mu_init
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
    entropic: Tensor | None = None,
    spec: TrainSpec | None = None,
):
    r"""Sum over members of Malkin et al.'s per-step objective; returns (total, nll (K,), cost (K,)).

    For member k and a mini-batch of size B:

    .. math:: L_k = \sum_{b} -\log p(y_b\mid x_b, w_k) + \frac{B}{N}\Big[l_1\sum_i|\mu_i|
              + \lambda_k\sum_i c\,\sigma_i^{-\rho_k}\Big]

    (sums over every weight and bias; ``lam``, ``rho``: (K,) tensors; N, c, l1, the loss and its
    ``obs_sd`` from ``spec``, a :class:`TrainSpec`, default its defaults: N = 60000 as in the
    paper). Homogeneous members
    use their shared σ for every parameter, so their cost counts every parameter. Members with
    ``entropic[k]`` pay :math:`\lambda_k\sum_i -\log\sigma_i` instead (λ = 1: the negative ELBO
    with a Laplace prior, i.e. Bayes-by-backprop).
    """
    spec = _DEFAULT_SPEC if spec is None else spec
    c, l1 = spec.c, spec.l1
    out = model(x)
    nll = _per_member_nll(out, y, spec.loss, spec.obs_sd)
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
    total = (nll + (x.shape[0] / spec.n_data) * cost).sum()
    return total, nll.detach(), cost.detach()


@dataclass(frozen=True)
class TrainSpec:
    """How :func:`train_ensemble` trains: the schedule, Adam's step sizes and the objective.

    ``epochs`` epochs of training, then ``frozen_epochs`` epochs at the parameters reached (every
    step computes the autograd objective and its gradients, but takes no optimiser step: the
    authors' Fig. 5 code collects gradients this way). Mini-batches of ``batch_size``: one random
    permutation per epoch (generator seeded ``data_seed``), shared by all members. ``lr_phi``
    (default ``lr``) is the Adam step size of the σ parameters φ. ``lam``, ``rho`` and
    ``entropic``: a scalar or one value per member (see :func:`ensemble_objective`).
    """

    epochs: int
    batch_size: int = 20
    lr: float = 1e-4
    lr_phi: float | None = None
    lam: Any = 1.0
    rho: Any = 0.5
    c: float = 1.0
    l1: float = 0.01
    n_data: float = 60000.0
    entropic: Any = None
    loss: str = "cross_entropy"
    obs_sd: float = 1.0
    data_seed: int = 0
    frozen_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.frozen_epochs < 0 or self.batch_size < 1:
            raise ValueError("epochs and frozen_epochs must be >= 0 and batch_size >= 1")
        if self.loss not in {"cross_entropy", "gaussian"}:
            raise ValueError(f"loss must be 'cross_entropy' or 'gaussian'; got {self.loss!r}")

    def members(self, model: GaussianEnsembleMLP) -> Members:
        """λ, ρ and entropic as (K,) tensors on the model's device (entropic None if not set)."""
        K, dev, dtype = model.K, model.mu[0].device, model.mu[0].dtype
        lam = as_member_tensor(self.lam, K, "lam", device=dev, dtype=dtype)
        rho = as_member_tensor(self.rho, K, "rho", device=dev, dtype=dtype)
        if bool((rho <= 0).any()):
            raise ValueError(f"every rho must be > 0; got {rho.tolist()}")
        ent = self.entropic
        ent = None if ent is None else as_member_tensor(ent, K, "entropic", device=dev).bool()
        return Members(lam, rho, ent, model.homogeneous)


_DEFAULT_SPEC = TrainSpec(epochs=0)  # the objective's defaults


class StepState(NamedTuple):
    """What ``on_step`` sees after each step of :func:`train_ensemble` (nothing is copied).

    ``grad_mu[l]``: the gradient of the summed mini-batch objective w.r.t. layer l's weight means
    μ, (K, out, in); ``opt``: the optimiser (Adam's moments, :meth:`StackedAdam.learning_rates`).
    """

    epoch: int
    step: int
    x: Tensor
    model: GaussianEnsembleMLP
    opt: StackedAdam
    grad_mu: list[Tensor]


@dataclass
class EnsembleHistory:
    """What :func:`train_ensemble` records (arrays over steps/epochs, per member)."""

    epoch_nll: list  # (epochs, K) mean NLL per example
    steps: int
    engine: str = "autograd"  # which training step ran: "autograd", "fused step" or "fused step, torch.compile"

    def state_dict(self) -> dict:
        return {"epoch_nll": self.epoch_nll, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.epoch_nll, self.steps = [list(e) for e in state["epoch_nll"]], int(state["steps"])


def train_ensemble(
    model: GaussianEnsembleMLP,
    x: Tensor,
    y: Tensor,
    spec: TrainSpec,
    *,
    on_step: Callable[[StepState], None] | None = None,
    engine: str = "auto",
    compile: bool = False,
    checkpoint: Checkpoint | None = None,
) -> EnsembleHistory:
    """Train all members with Adam on the stacked parameters as ``spec`` says; data on the
    model's device. After every step, ``on_step(state)`` (a :class:`StepState`) if given: metrics
    are collected there, e.g. by :class:`SynapseStats`.

    ``engine="fused"`` runs :func:`synlab.fast.fused.fused_step`: hand-derived gradients and Adam, the
    same numbers as ``engine="autograd"`` (:func:`ensemble_objective`, ``backward``,
    :class:`StackedAdam`) up to float rounding, with the same noise draws. ``compile``
    compiles the fused step with ``torch.compile`` (the first step then takes
    tens of seconds; 2.5× faster steps on a CPU, ``benchmarks/bench_ensemble.py``). ``"auto"``: the
    compiled fused step when compiling, else autograd (uncompiled, autograd is the faster of the two).
    The frozen epochs (``spec.frozen_epochs``) run the autograd objective whatever the engine.

    ``checkpoint`` (:class:`synlab.checkpoint.Checkpoint`): resume from its saved state, and save
    the state at due epoch ends (the model, Adam, both random sources, the history and the
    checkpoint's ``extra`` collectors); a resumed run gives the same numbers bitwise.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y disagree on the number of examples: {x.shape[0]} vs {y.shape[0]}"
        )
    if engine not in {"auto", "fused", "autograd"}:
        raise ValueError(f"engine must be 'auto', 'fused' or 'autograd'; got {engine!r}")
    compile = bool(compile)
    if engine == "auto":
        engine = "fused" if compile else "autograd"
    members = spec.members(model)
    mus = list(model.mu) + list(model.bias_mu)
    phis = list(model.phi) + list(model.bias_phi)
    opt = StackedAdam([(mus, spec.lr), (phis, spec.lr if spec.lr_phi is None else spec.lr_phi)])
    label = (
        "autograd"
        if engine == "autograd"
        else "fused step" + (", torch.compile" if compile else "")
    )
    hist = EnsembleHistory(epoch_nll=[], steps=0, engine=label)
    gen = torch.Generator(device="cpu").manual_seed(int(spec.data_seed))
    parts = {"model": model, "adam": opt, "noise": model.source, "data": gen, "history": hist}
    first = 0 if checkpoint is None else checkpoint.resume(parts)
    fused = _FusedTrainer(model, members, opt, spec, compile) if engine == "fused" else None
    n, dev, total = x.shape[0], model.mu[0].device, spec.epochs + spec.frozen_epochs
    for epoch in range(first, total):
        frozen = epoch >= spec.epochs
        perm = torch.randperm(n, generator=gen).to(dev)
        tot = torch.zeros(model.K, device=dev, dtype=model.mu[0].dtype)
        for start in range(0, n, spec.batch_size):
            idx = perm[start : start + spec.batch_size]
            xb, yb = x[idx], y[idx]
            if fused is not None and not frozen:
                nll, grad_mu = fused.step(xb, yb)
            else:
                nll, grad_mu = _autograd_step(model, opt, xb, yb, members, spec, frozen)
            hist.steps += 1
            tot += nll
            if on_step is not None:
                on_step(StepState(epoch, hist.steps, xb, model, opt, grad_mu))
        hist.epoch_nll.append((tot / n).tolist())
        if checkpoint is not None:
            checkpoint.epoch_done(epoch + 1, parts, last=epoch + 1 == total)
    return hist


def _autograd_step(model, opt, xb, yb, members, spec, frozen: bool):
    """The reference step: the objective, ``backward``, Adam unless ``frozen``; returns (nll,
    gradient of every layer's μ)."""
    opt.zero_grad()
    total, nll, _ = ensemble_objective(
        model, xb, yb, lam=members.lam, rho=members.rho, entropic=members.entropic, spec=spec
    )
    total.backward()
    if not frozen:
        opt.step()
    return nll, [m.grad for m in model.mu]


class SynapseStats:
    """Malkin et al.'s per-synapse statistics (Fig. 5, App. 3), collected by :meth:`on_step`.

    From epoch ``start_epoch`` on, at every step, for every layer l in ``layers`` (per synapse
    and member): the mean squared gradient of the per-example mean objective w.r.t. μ (the
    empirical-Fisher estimate of the Hessian diagonal), its mean absolute value, Adam's
    per-synapse learning rate of μ, lr / (sqrt(v̂) + ε), and, per input unit, the mean
    presynaptic input (``input_rate``) and its mean absolute value (``input_abs``, the authors'
    input rate ``|x|``; for layer 0 the pixels). The presynaptic inputs are those of the
    noise-free network (the means μ), so collecting draws no random numbers. Pass
    ``stats.on_step`` to :func:`train_ensemble`, then read :meth:`result`.
    """

    def __init__(self, model: GaussianEnsembleMLP, layers: Sequence[int], start_epoch: int = 0):
        layers = tuple(int(l) for l in layers)
        if not layers or any(not 0 <= l < model.n_layers for l in layers):
            raise ValueError(
                f"track_layers must list layers in 0..{model.n_layers - 1}; got {layers}"
            )
        self.start_epoch = int(start_epoch)
        self.sums = {}
        for l in layers:
            mu = model.mu[l]
            rates = {k: mu.new_zeros(mu.shape[0], mu.shape[2]) for k in ("input_rate", "input_abs")}
            self.sums[l] = {k: torch.zeros_like(mu) for k in ("grad_sq", "grad_abs", "adam_lr")}
            self.sums[l].update(rates)
        self.n = 0

    @torch.no_grad()
    def on_step(self, state: StepState) -> None:
        """Add one step's statistics (nothing before ``start_epoch``)."""
        if state.epoch < self.start_epoch:
            return
        model, last = state.model, max(self.sums)
        inputs = []
        h = state.x.unsqueeze(0).expand(model.K, -1, -1)
        for l in range(last + 1):
            inputs.append(h)
            if l == last:
                break
            h = torch.einsum("kbi,koi->kbo", h, model.mu[l])
            if model.has_bias:
                h = h + model.bias_mu[l].unsqueeze(1)
            if l in model.relu_after:
                h = F.relu(h)
        for l, d in self.sums.items():
            g = state.grad_mu[l] / state.x.shape[0]  # gradient of the per-example mean objective
            d["grad_sq"] += g * g
            d["grad_abs"] += g.abs()
            d["adam_lr"] += state.opt.learning_rates(model.mu[l])
            d["input_rate"] += inputs[l].mean(1)
            d["input_abs"] += inputs[l].abs().mean(1)
        self.n += 1

    def state_dict(self) -> dict:
        """The running sums and the count (for checkpoints)."""
        return {"n": self.n, "sums": self.sums}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        for l, d in self.sums.items():
            for k, v in d.items():
                v.copy_(state["sums"][l][k])
        self.n = int(state["n"])

    def result(self) -> dict[int, dict[str, Tensor]]:
        """Per tracked layer, the mean of every statistic over the steps collected ({} if none)."""
        if not self.n:
            return {}
        return {l: {k: (v / self.n).detach() for k, v in d.items()} for l, d in self.sums.items()}


class _FusedTrainer:
    """Holds the interleaved tensors [W0, (b0), W1, …] and Adam's moments for :func:`synlab.fast.fused.fused_step`.

    The moments live in the :class:`StackedAdam` passed in (``opt``), so its
    :meth:`StackedAdam.learning_rates` stays valid; its step count advances with every step.
    """

    def __init__(self, model, members: Members, opt: StackedAdam, spec: TrainSpec, compile: bool):
        self.model, self.opt = model, opt
        order = []
        for l in range(model.n_layers):
            order.append((model.mu[l], model.phi[l]))
            if model.has_bias:
                order.append((model.bias_mu[l], model.bias_phi[l]))
        mus, phis = [m for m, _ in order], [p for _, p in order]
        self.tensors = fused_mod.StepTensors(
            [m.detach() for m in mus],
            [p.detach() for p in phis],
            [opt.m[id(m)] for m in mus],
            [opt.v[id(m)] for m in mus],
            [opt.m[id(p)] for p in phis],
            [opt.v[id(p)] for p in phis],
        )
        if members.entropic is None:
            ent = torch.zeros(model.K, dtype=torch.bool, device=members.lam.device)
            members = members._replace(entropic=ent)
        self.members = members
        self.spec = fused_mod.StepSpec(
            has_bias=model.has_bias,
            relu_after=tuple(model.relu_after),
            noise=model.noise,
            loss=spec.loss,
            c=float(spec.c),
            l1=float(spec.l1),
            n_data=float(spec.n_data),
            lr=opt.groups[0][1],
            lr_phi=opt.groups[1][1],
            any_homogeneous=bool(model.homogeneous.any()),
            any_entropic=bool(members.entropic.any()),
            obs_sd=float(spec.obs_sd),
            beta1=opt.beta1,
            beta2=opt.beta2,
            adam_eps=opt.eps,
        )
        self.fn = fused_mod.compiled_step() if compile else fused_mod.fused_step
        # Adam's step count as a device tensor advanced in place: building it from a Python float
        # each step is a blocking host-to-device copy on CUDA (the GPU would idle at every step)
        self.t = torch.tensor(float(opt.t), dtype=torch.float64, device=mus[0].device)

    @torch.no_grad()
    def step(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, list[Tensor]]:
        """One fused step; returns (nll (K,), gradient of every layer's weight μ)."""
        model, mu = self.model, self.tensors.mu
        shapes = fused_mod.noise_shapes(mu, model.noise, xb.shape[0], model.has_bias)
        eps = [model.source.randn(*s, dtype=mu[0].dtype) for s in shapes]
        self.opt.t += 1
        self.t.add_(1.0)  # = opt.t exactly (integers in float64)
        nll, g_mu = self.fn(self.tensors, self.members, eps, xb, yb, self.t, self.spec)
        return nll, g_mu[:: 2 if model.has_bias else 1]


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
        "acc_avg": (correct_avg / n).cpu().numpy(),
    }
