r"""The ensemble's training step with hand-derived gradients: few passes, compilable.

Why this exists. A training step of a :class:`~synlab.ensemble.GaussianEnsembleMLP` is a few
small batched matmuls plus element-wise work over *every* weight: softplus, sampling, the
reliability cost and its gradient, Adam. On a CPU each element-wise pass over K stacked
784-100-100-10 networks is a full sweep of memory, and autograd spends about sixty of them per
step (profile in ``benchmarks/bench_ensemble.py``): the element-wise work, not the matmuls,
sets the time. Here the backward pass is written out, so the step is

1. σ = softplus(φ), w = μ + σ ε (weight noise) — one pass;
2. the forward and backward matmuls of the MLP (``bmm``);
3. the gradients of μ and φ and the Adam update of both — one pass per tensor when compiled.

Written as a pure function of tensors, :func:`fused_step` is also what ``torch.compile`` fuses
into a handful of loops (``compile=True`` in :func:`synlab.ensemble.train_ensemble`; the
``compiled`` engine of ``synlab run``). Eager or compiled, it computes the same numbers as the
autograd objective :func:`synlab.ensemble.ensemble_objective` followed by
:class:`~synlab.ensemble.StackedAdam` (``tests/test_fast_fused.py`` checks gradients and
trajectories against it).

The gradients. Per member, with mini-batch size B, :math:`s = B/N`, layer pre-activations
:math:`a_l = h_l W_l^\top + b_l` and :math:`\delta_l = \partial\,\mathrm{NLL}/\partial a_l`:

* :math:`\partial/\partial W_l = \delta_l^\top h_l`,
  :math:`\partial/\partial b_l = \sum_b \delta_l`,
  :math:`\delta_{l-1} = (\delta_l W_l)\odot[a_{l-1}>0]` through a ReLU;
* weight noise, :math:`W = \mu + \sigma\varepsilon`:
  :math:`g_\mu = g_W + s\,l_1\,\mathrm{sign}\,\mu`,
  :math:`g_\sigma = g_W\,\varepsilon - s\lambda\rho c\,\sigma^{-\rho-1}` (entropic members:
  :math:`-s\lambda/\sigma`), :math:`g_\phi = g_\sigma\,\mathrm{sigmoid}(\phi)`;
* local reparameterisation, :math:`a = h\mu^\top + b + \sqrt{v}\,\zeta`,
  :math:`v = h^2(\sigma^2)^\top + \sigma_b^2`: :math:`g_\mu = \delta^\top h`,
  :math:`g_{\sigma} = 2\sigma\odot(\delta\zeta/2\sqrt v)^\top h^2`, and the input gradient gains
  :math:`2h\odot(\delta\zeta/2\sqrt v)\,\sigma^2`;
* homogeneous members use :math:`\bar\sigma = (\sum_i\sigma_i^2/n)^{1/2}` everywhere, so every
  :math:`\sigma_i` receives :math:`G\,\sigma_i/(n\bar\sigma)` with :math:`G` the sum of all the
  member's :math:`g_{\bar\sigma}` entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..device import compiled

__all__ = [
    "StepSpec",
    "StepTensors",
    "Members",
    "fused_step",
    "compiled_step",
    "softplus",
]


def softplus(phi: Tensor) -> Tensor:
    """softplus(φ) = log(1 + e^φ), computed with ``log`` instead of ``log1p``.

    Some CPU builds of torch run ``log1p`` (and so ``F.softplus``) without vector instructions,
    8× slower than ``log``. Goldberg's identity keeps full accuracy for tiny e^φ:
    log1p(u) = log(w)·u/(w − 1) with w = 1 + u (and u itself when w rounds to 1). Above φ = 20
    it returns φ, as ``F.softplus`` does (its default threshold).
    """
    return softplus_and_sigmoid(phi)[0]


def softplus_and_sigmoid(phi: Tensor) -> tuple[Tensor, Tensor]:
    """(softplus(φ), sigmoid(φ)) from one exponential: sigmoid(φ) = softplus'(φ)."""
    u = torch.exp(-phi.abs())
    w = 1 + u
    lp = torch.where(w == 1, u, torch.log(w) * u / (w - 1))
    sp = torch.where(phi > 20, phi, phi.clamp_min(0) + lp)
    return sp, torch.where(phi >= 0, 1.0, u) / w


def _shape(K: int, t: Tensor) -> tuple[int, ...]:
    return (K,) + (1,) * (t.dim() - 1)


@dataclass(frozen=True)
class StepSpec:
    """The static arguments of :func:`fused_step`, fixed for a whole run (a compiled step
    specialises on them, so they are plain Python values, never tensors)."""

    has_bias: bool  # Gaussian biases: tensors in the order [W0, b0, W1, b1, …]
    relu_after: tuple[int, ...]  # the layers followed by a ReLU
    noise: str  # "weight" (one ε per weight) or "local" (one ζ per pre-activation)
    loss: str  # "cross_entropy" or "gaussian"
    c: float  # cost scale c of λ c σ^−ρ
    l1: float  # l1 weight of Σ|μ|
    n_data: float  # N: a mini-batch of B examples pays the costs with weight B/N
    lr: float  # Adam's step size for μ
    lr_phi: float  # Adam's step size for φ
    any_homogeneous: bool = True  # False skips the work only homogeneous members need
    any_entropic: bool = True  # False skips the work only entropic members need
    obs_sd: float = 1.0  # observation noise of the Gaussian loss
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8


class StepTensors(NamedTuple):
    """The tensors :func:`fused_step` updates in place, each a list in the order
    [W0, (b0), W1, (b1), …] of (K, …) tensors: μ, φ and Adam's moments of both."""

    mu: list[Tensor]
    phi: list[Tensor]
    m_mu: list[Tensor]
    v_mu: list[Tensor]
    m_phi: list[Tensor]
    v_phi: list[Tensor]


class Members(NamedTuple):
    """Per-member settings, each a (K,) tensor: λ, ρ, entropic cost (bool), shared σ (bool)."""

    lam: Tensor
    rho: Tensor
    entropic: Tensor
    homogeneous: Tensor


class _Sigmas(NamedTuple):
    sig: tuple[Tensor, ...]  # softplus(φ) per tensor
    dsig: tuple[Tensor, ...]  # sigmoid(φ) = dσ/dφ per tensor
    eff: list[Tensor]  # the σ the network uses (homogeneous members: their RMS σ)
    sbar: Tensor | None  # (K,) RMS σ per member (None without homogeneous members)
    n_par: int  # weights and biases per member


def _sigmas(phi: list[Tensor], homogeneous: Tensor, spec: StepSpec) -> _Sigmas:
    sig, dsig = zip(*[softplus_and_sigmoid(p) for p in phi])
    n_par = sum(s[0].numel() for s in sig)
    if not spec.any_homogeneous:  # no shared σ: skip two reductions over every weight
        return _Sigmas(sig, dsig, list(sig), None, n_par)
    K = homogeneous.shape[0]
    sq = sum(s.pow(2).flatten(1).sum(1) for s in sig)
    sbar = (sq / n_par).sqrt()  # (K,)
    eff = [
        torch.where(homogeneous.view(_shape(K, s)), sbar.view(_shape(K, s)).expand_as(s), s)
        for s in sig
    ]
    return _Sigmas(sig, dsig, eff, sbar, n_par)


def _forward(mu: list[Tensor], eff: list[Tensor], eps: list[Tensor], x: Tensor, spec: StepSpec):
    """Output (K, B, out) and, per layer, what the backward pass needs: its input, its
    pre-activation, the weights used, and (local noise) (σ², sd of the pre-activation)."""
    K, stride = mu[0].shape[0], 2 if spec.has_bias else 1
    h = x.unsqueeze(0).expand(K, -1, -1) if x.dim() == 2 else x
    hs, acts, ws, local = [], [], [], []
    for l in range(len(mu) // stride):
        hs.append(h)
        W, sW = mu[stride * l], eff[stride * l]
        if spec.noise == "weight":
            Wn = W + sW * eps[stride * l]
            a = torch.bmm(h, Wn.transpose(1, 2))
            if spec.has_bias:
                b = mu[stride * l + 1] + eff[stride * l + 1] * eps[stride * l + 1]
                a = a + b.unsqueeze(1)
            ws.append(Wn)
        else:
            s2 = sW * sW
            mean = torch.bmm(h, W.transpose(1, 2))
            var = torch.bmm(h * h, s2.transpose(1, 2))
            if spec.has_bias:
                mean = mean + mu[stride * l + 1].unsqueeze(1)
                var = var + eff[stride * l + 1].pow(2).unsqueeze(1)
            sd = var.clamp_min(1e-30).sqrt()
            a = mean + sd * eps[l]
            ws.append(W)
            local.append((s2, sd))
        acts.append(a)
        h = F.relu(a) if l in spec.relu_after else a
    return h, (hs, acts, ws, local)


def _output_grad(out: Tensor, y: Tensor, spec: StepSpec) -> tuple[Tensor, Tensor]:
    """(nll (K,) summed over the batch, its gradient w.r.t. the output (K, B, out))."""
    B = out.shape[1]
    if spec.loss == "cross_entropy":
        logp = torch.log_softmax(out, -1)
        onehot = F.one_hot(y, out.shape[-1]).to(out.dtype).unsqueeze(0)
        return -(logp * onehot).sum((1, 2)), logp.exp() - onehot
    sd = spec.obs_sd  # gaussian
    r = (out - y.view(1, B, -1)) / sd
    const = B * out.shape[-1] * (math.log(sd) + 0.5 * math.log(2 * math.pi))
    return (0.5 * r * r).flatten(1).sum(1) + const, r / sd


def _backward(delta: Tensor, cache, eff: list[Tensor], eps: list[Tensor], spec: StepSpec):
    """Gradients of the summed NLL w.r.t. every μ and every (effective) σ, in tensor order."""
    hs, acts, ws, local = cache
    stride = 2 if spec.has_bias else 1
    g_mu: list[Tensor] = [None] * len(eff)  # type: ignore[list-item]
    g_sig: list[Tensor] = [None] * len(eff)  # type: ignore[list-item]
    for l in reversed(range(len(hs))):
        hl, iW = hs[l], stride * l
        if spec.noise == "weight":
            gW = torch.bmm(delta.transpose(1, 2), hl)
            g_mu[iW], g_sig[iW] = gW, gW * eps[iW]
            if spec.has_bias:
                gb = delta.sum(1)
                g_mu[iW + 1], g_sig[iW + 1] = gb, gb * eps[iW + 1]
            if l > 0:
                dh = torch.bmm(delta, ws[l])
        else:
            s2, sd = local[l]
            dvar = delta * eps[l] / (2 * sd)
            g_mu[iW] = torch.bmm(delta.transpose(1, 2), hl)
            g_sig[iW] = 2 * eff[iW] * torch.bmm(dvar.transpose(1, 2), hl * hl)
            if spec.has_bias:
                g_mu[iW + 1] = delta.sum(1)
                g_sig[iW + 1] = 2 * eff[iW + 1] * dvar.sum(1)
            if l > 0:
                dh = torch.bmm(delta, ws[l]) + 2 * hl * torch.bmm(dvar, s2)
        if l > 0:
            delta = dh * (acts[l - 1] > 0).to(dh.dtype) if (l - 1) in spec.relu_after else dh
    return g_mu, g_sig


def _add_cost_grads(g_sig, s: _Sigmas, members: Members, scale: float, spec: StepSpec) -> Tensor:
    """Add the reliability cost's gradient to ``g_sig`` in place; returns G (K,), the sum of the
    homogeneous members' σ gradients (zeros when there are none)."""
    K, dtype, dev = members.lam.shape[0], s.sig[0].dtype, s.sig[0].device
    lam_s = members.lam * scale
    hom_any = members.homogeneous.to(dtype) if spec.any_homogeneous else None
    G = torch.zeros(K, dtype=dtype, device=dev)
    for i in range(len(g_sig)):
        shp = _shape(K, s.sig[i])
        r = members.rho.view(shp)
        power = -(lam_s.view(shp) * r * spec.c) * torch.exp((-r - 1) * torch.log(s.eff[i]))
        if spec.any_entropic:
            ent = -(lam_s.view(shp)) / s.eff[i]
            g_sig[i] = g_sig[i] + torch.where(members.entropic.view(shp), ent, power)
        else:
            g_sig[i] = g_sig[i] + power
        if spec.any_homogeneous:
            G = G + (g_sig[i] * hom_any.view(shp)).flatten(1).sum(1)
    return G


def _adam(t: StepTensors, g_mu, g_sig, G, s: _Sigmas, members, step, scale, spec: StepSpec):
    """The l1 gradient, the homogeneous members' shared-σ gradient, then Adam on μ and φ, in
    place; ``g_mu`` gets the full gradient of μ."""
    bc1 = 1 - spec.beta1**step
    bc2 = 1 - spec.beta2**step
    b1, b2 = spec.beta1, spec.beta2
    for i in range(len(t.mu)):
        shp = _shape(members.lam.shape[0], s.sig[i])
        g_m = g_mu[i] + (scale * spec.l1) * torch.sign(t.mu[i])
        g_s = g_sig[i]
        if spec.any_homogeneous:
            shared = (G / (s.n_par * s.sbar)).view(shp) * s.sig[i]
            g_s = torch.where(members.homogeneous.view(shp), shared, g_s)
        g_p = g_s * s.dsig[i]
        for p, g, m, v, lr_i in (
            (t.mu[i], g_m, t.m_mu[i], t.v_mu[i], spec.lr),
            (t.phi[i], g_p, t.m_phi[i], t.v_phi[i], spec.lr_phi),
        ):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(lr_i * (m / bc1) / ((v / bc2).sqrt() + spec.adam_eps))
        g_mu[i] = g_m


def fused_step(
    t: StepTensors,
    members: Members,
    eps: list[Tensor],
    x: Tensor,
    y: Tensor,
    step: Tensor,
    spec: StepSpec,
):
    """One training step of every member, in place; returns (nll (K,), gradient of μ per tensor).

    ``t``: μ, φ and Adam's moments (:class:`StepTensors`); ``members``: per-member λ, ρ, cost type
    and noise mode; ``eps``: the noise — per tensor ε of the tensor's shape (weight noise), or per
    layer ζ of shape (K, B, out) (local noise); ``step``: Adam's step count *after* this step, a 0-d
    tensor (so a compiled step does not recompile each step); ``spec``: the static rest.
    """
    scale = x.shape[0] / spec.n_data
    s = _sigmas(t.phi, members.homogeneous, spec)
    out, cache = _forward(t.mu, s.eff, eps, x, spec)
    nll, delta = _output_grad(out, y, spec)
    if len(cache[0]) - 1 in spec.relu_after:
        delta = delta * (cache[1][-1] > 0).to(delta.dtype)
    g_mu, g_sig = _backward(delta, cache, s.eff, eps, spec)
    G = _add_cost_grads(g_sig, s, members, scale, spec)
    _adam(t, g_mu, g_sig, G, s, members, step, scale, spec)
    return nll, g_mu


def compiled_step():
    """:func:`fused_step` compiled with ``torch.compile`` (cached per process)."""
    return compiled(fused_step)


def noise_shapes(
    mu: Sequence[Tensor], noise: str, batch: int, has_bias: bool
) -> list[tuple[int, ...]]:
    """Shapes (without K) of the noise :func:`fused_step` takes for one step."""
    if noise == "weight":
        return [tuple(m.shape[1:]) for m in mu]
    stride = 2 if has_bias else 1
    return [(batch, mu[stride * l].shape[1]) for l in range(len(mu) // stride)]
