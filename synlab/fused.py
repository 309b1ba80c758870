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
``compiled`` engine of ``synlab run``). Eager or compiled, it computes the same numbers as the autograd
objective :func:`synlab.ensemble.ensemble_objective` followed by :class:`~synlab.ensemble.StackedAdam`
(``tests/test_fused.py`` checks gradients and trajectories against it).

The gradients. Per member, with mini-batch size B, :math:`s = B/N`, layer pre-activations
:math:`a_l = h_l W_l^\top + b_l` and :math:`\delta_l = \partial\,\mathrm{NLL}/\partial a_l`:

* :math:`\partial/\partial W_l = \delta_l^\top h_l`, :math:`\partial/\partial b_l = \sum_b \delta_l`,
  :math:`\delta_{l-1} = (\delta_l W_l)\odot[a_{l-1}>0]` through a ReLU;
* weight noise, :math:`W = \mu + \sigma\varepsilon`: :math:`g_\mu = g_W + s\,l_1\,\mathrm{sign}\,\mu`,
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

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["fused_step", "compiled_step", "compiled", "softplus"]


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


def fused_step(
    mu: list[Tensor],
    phi: list[Tensor],
    m_mu: list[Tensor],
    v_mu: list[Tensor],
    m_phi: list[Tensor],
    v_phi: list[Tensor],
    eps: list[Tensor],
    x: Tensor,
    y: Tensor,
    lam: Tensor,
    rho: Tensor,
    entropic: Tensor,
    homogeneous: Tensor,
    step: Tensor,
    *,
    has_bias: bool,
    relu_after: tuple[int, ...],
    noise: str,
    loss: str,
    c: float,
    l1: float,
    scale: float,
    lr: float,
    lr_phi: float,
    any_homogeneous: bool = True,
    any_entropic: bool = True,
    obs_sd: float = 1.0,
    beta1: float = 0.9,
    beta2: float = 0.999,
    adam_eps: float = 1e-8,
):
    """One training step of every member, in place; returns (nll (K,), gradient of μ per tensor).

    ``mu``/``phi``: the stacked tensors in the order [W0, (b0), W1, (b1), …] (each (K, …));
    ``m_*``/``v_*``: Adam's moments of the same shapes; ``eps``: the noise — per tensor ε of the
    tensor's shape (weight noise), or per layer ζ of shape (K, B, out) (local noise); ``step``: Adam's
    step count *after* this step, a 0-d tensor (so a compiled step does not recompile each step).
    ``any_homogeneous``/``any_entropic`` False skip the work those members need (static flags, so a
    compiled step specialises on them).
    """
    K = lam.shape[0]
    n_layers = len(mu) // (2 if has_bias else 1)
    stride = 2 if has_bias else 1
    sig, dsig = zip(*[softplus_and_sigmoid(p) for p in phi])
    n_par = sum(s[0].numel() for s in sig)
    if any_homogeneous:
        hom_any = homogeneous.to(sig[0].dtype)
        sq = sum(s.pow(2).flatten(1).sum(1) for s in sig)
        sbar = (sq / n_par).sqrt()  # (K,)
        eff = [
            torch.where(homogeneous.view(_shape(K, s)), sbar.view(_shape(K, s)).expand_as(s), s)
            for s in sig
        ]
    else:  # no shared σ: skip two reductions over every weight
        eff = sig

    # ---------------------------------------------------------------- forward
    h = x.unsqueeze(0).expand(K, -1, -1) if x.dim() == 2 else x
    hs, acts, ws, local = [], [], [], []
    for l in range(n_layers):
        hs.append(h)
        W, sW = mu[stride * l], eff[stride * l]
        if noise == "weight":
            Wn = W + sW * eps[stride * l]
            a = torch.bmm(h, Wn.transpose(1, 2))
            if has_bias:
                a = a + (mu[stride * l + 1] + eff[stride * l + 1] * eps[stride * l + 1]).unsqueeze(
                    1
                )
            ws.append(Wn)
        else:
            s2 = sW * sW
            mean = torch.bmm(h, W.transpose(1, 2))
            var = torch.bmm(h * h, s2.transpose(1, 2))
            if has_bias:
                mean = mean + mu[stride * l + 1].unsqueeze(1)
                var = var + eff[stride * l + 1].pow(2).unsqueeze(1)
            sd = var.clamp_min(1e-30).sqrt()
            a = mean + sd * eps[l]
            ws.append(W)
            local.append((s2, sd))
        acts.append(a)
        h = F.relu(a) if l in relu_after else a
    out = h
    B = out.shape[1]
    if loss == "cross_entropy":
        logp = torch.log_softmax(out, -1)
        onehot = F.one_hot(y, out.shape[-1]).to(out.dtype).unsqueeze(0)
        nll = -(logp * onehot).sum((1, 2))
        delta = logp.exp() - onehot
    else:  # gaussian
        r = (out - y.view(1, B, -1)) / obs_sd
        nll = (0.5 * r * r).flatten(1).sum(1) + B * out.shape[-1] * (
            math.log(obs_sd) + 0.5 * math.log(2 * math.pi)
        )
        delta = r / obs_sd
    if n_layers - 1 in relu_after:
        delta = delta * (acts[-1] > 0).to(delta.dtype)

    # ---------------------------------------------------------------- backward
    g_mu: list[Tensor] = [None] * len(mu)  # type: ignore[list-item]
    g_sig: list[Tensor] = [None] * len(mu)  # type: ignore[list-item]
    for l in reversed(range(n_layers)):
        hl = hs[l]
        iW = stride * l
        if noise == "weight":
            gW = torch.bmm(delta.transpose(1, 2), hl)
            g_mu[iW], g_sig[iW] = gW, gW * eps[iW]
            if has_bias:
                gb = delta.sum(1)
                g_mu[iW + 1], g_sig[iW + 1] = gb, gb * eps[iW + 1]
            if l > 0:
                dh = torch.bmm(delta, ws[l])
        else:
            s2, sd = local[l]
            dvar = delta * eps[l] / (2 * sd)
            g_mu[iW] = torch.bmm(delta.transpose(1, 2), hl)
            g_sig[iW] = 2 * eff[iW] * torch.bmm(dvar.transpose(1, 2), hl * hl)
            if has_bias:
                g_mu[iW + 1] = delta.sum(1)
                g_sig[iW + 1] = 2 * eff[iW + 1] * dvar.sum(1)
            if l > 0:
                dh = torch.bmm(delta, ws[l]) + 2 * hl * torch.bmm(dvar, s2)
        if l > 0:
            delta = dh * (acts[l - 1] > 0).to(dh.dtype) if (l - 1) in relu_after else dh

    # ---------------------------------------------------------------- costs, Adam
    lam_s = lam * scale
    G = torch.zeros(K, dtype=sig[0].dtype, device=sig[0].device)
    for i in range(len(mu)):
        shp = _shape(K, sig[i])
        r = rho.view(shp)
        power = -(lam_s.view(shp) * r * c) * torch.exp((-r - 1) * torch.log(eff[i]))
        ent = -(lam_s.view(shp)) / eff[i] if any_entropic else None
        g_sig[i] = g_sig[i] + (
            torch.where(entropic.view(shp), ent, power) if any_entropic else power
        )
        if any_homogeneous:
            G = G + (g_sig[i] * hom_any.view(shp)).flatten(1).sum(1)
    bc1 = 1 - beta1**step
    bc2 = 1 - beta2**step
    for i in range(len(mu)):
        shp = _shape(K, sig[i])
        g_m = g_mu[i] + (scale * l1) * torch.sign(mu[i])
        g_s = g_sig[i]
        if any_homogeneous:
            g_s = torch.where(homogeneous.view(shp), (G / (n_par * sbar)).view(shp) * sig[i], g_s)
        g_p = g_s * dsig[i]
        for p, g, m, v, lr_i in (
            (mu[i], g_m, m_mu[i], v_mu[i], lr),
            (phi[i], g_p, m_phi[i], v_phi[i], lr_phi),
        ):
            m.mul_(beta1).add_(g, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            p.sub_(lr_i * (m / bc1) / ((v / bc2).sqrt() + adam_eps))
        g_mu[i] = g_m
    return nll, g_mu


@functools.cache
def compiled(fn):
    """``fn`` compiled with ``torch.compile`` (static shapes), once per process and function."""
    return torch.compile(fn, dynamic=False)


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
