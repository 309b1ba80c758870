r"""Presynaptic plasticity rules (Schug, Benzing & Steger 2021), as pure functions.

Release probability (Eq. 4 of the paper): a synapse whose gradient is large is used, so its
release becomes more reliable; otherwise it drifts back towards unreliable release,

.. math:: p \leftarrow \mathrm{clip}\Big(p + \begin{cases} p_{\mathrm{up}} & |g| > g_{\lim}\\
          -p_{\mathrm{down}} & \text{otherwise}\end{cases},\; p_{\min},\, p_{\max}\Big),

where :math:`g = \partial\mathcal L/\partial\bar w`. The authors' code multiplies the step by
the headroom :math:`(p_{\max}-p)` and does not move frozen synapses (:math:`p \ge p_{\mathrm{freeze}}`);
both are options here (``headroom=True``, ``p_freeze``).

Presynaptic consolidation (Eq. 5): the learning rate of a synapse is scaled by
:math:`(1 - p)` (more generally :math:`p_{\max} - p`), so reliable synapses change little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .synapses import BernoulliLinear, _check_probability

__all__ = [
    "update_release_probability",
    "release_step",
    "consolidation_factor",
    "apply_release_rule",
    "StackRule",
    "PresynapticRule",
]


def _check_rate(name: str, value: float | Tensor) -> None:
    """A step size or threshold: finite and >= 0 (NaN fails too), scalar or tensor."""
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a number >= 0; got {value!r}") from err
    if not bool((torch.isfinite(t) & (t >= 0)).all()):
        raise ValueError(f"{name} must be finite and >= 0; got {t.flatten()[:3].tolist()}")


def update_release_probability(
    p: Tensor,
    grad: Tensor,
    *,
    p_up: float,
    p_down: float,
    g_lim: float,
    p_min: float = 0.25,
    p_max: float = 1.0,
    p_freeze: float = 1.0,
    headroom: bool = False,
) -> Tensor:
    """New release probabilities after one step of the rule (``p`` is not modified).

    ``grad`` is the gradient of the loss with respect to the expected weight, same shape as
    ``p``. Synapses with ``p >= p_freeze`` are frozen (unchanged) when ``p_freeze < p_max``.
    """
    if p.shape != grad.shape:
        raise ValueError(
            f"p and grad must have the same shape; got {tuple(p.shape)} and {tuple(grad.shape)}"
        )
    for name, v in (("p_min", p_min), ("p_max", p_max), ("p_freeze", p_freeze)):
        _check_probability(name, v)
    if not p_min <= p_max:
        raise ValueError(f"need p_min <= p_max; got {p_min} > {p_max}")
    for name, v in (("p_up", p_up), ("p_down", p_down), ("g_lim", g_lim)):
        _check_rate(name, v)
    if not bool(torch.isfinite(grad).all()):
        raise ValueError(
            "grad contains NaN or infinite entries; the release rule needs finite gradients"
        )
    return release_step(
        p,
        grad,
        p_up=p_up,
        p_down=p_down,
        g_lim=g_lim,
        p_freeze=p_freeze,
        freezes=p_freeze < p_max,
        p_min=p_min,
        p_max=p_max,
        headroom=headroom,
    )


def release_step(
    p: Tensor,
    grad: Tensor,
    *,
    p_up,
    p_down,
    g_lim,
    p_freeze,
    freezes,
    p_min: float,
    p_max: float,
    headroom: bool,
) -> Tensor:
    """The arithmetic of :func:`update_release_probability`, unchecked: the constants are floats, or
    tensors that broadcast against ``p`` (one value per stacked member); ``freezes`` (bool, or a
    bool tensor likewise) says whether synapses at or above ``p_freeze`` are frozen. Pure, so
    ``torch.compile`` can fuse it into a training step."""
    up = grad.abs() > g_lim
    if isinstance(p_up, Tensor):
        step = torch.where(up, p_up, -p_down)
    else:
        step = torch.full_like(p, -p_down).masked_fill_(up, p_up)  # faster than where here
    if headroom:
        step = step * (p_max - p)
    if isinstance(freezes, Tensor):  # step is a fresh tensor here: fill and clamp in place
        step.masked_fill_((p >= p_freeze) & freezes, 0.0)
    elif freezes:
        step.masked_fill_(p >= p_freeze, 0.0)
    return (p + step).clamp_(p_min, p_max)


def consolidation_factor(p: Tensor, p_max: float = 1.0) -> Tensor:
    """Learning-rate multiplier of presynaptic consolidation: ``p_max - p`` (Eq. 5)."""
    return (p_max - p).clamp_min(0.0)


class StackRule(NamedTuple):
    """The rule's constants for a stack of M members (what :func:`apply_release_rule` reads):
    the rates one ``(M, 1, 1)`` tensor each, ``freezes`` a bool ``(M, 1, 1)`` tensor, the rest
    shared. A tuple, so ``torch.compile`` takes it as an argument of a fused step."""

    p_up: Tensor
    p_down: Tensor
    g_lim: Tensor
    p_freeze: Tensor
    freezes: Tensor
    p_min: float
    p_max: float
    headroom: bool


def apply_release_rule(
    p: Tensor, grad: Tensor, rule, *, consolidate: bool, check: bool = False
) -> tuple[Tensor, Tensor]:
    """One application of the presynaptic rule to a layer: ``(new p, gradient to apply)``.

    Eq. 4 moves ``p`` by the gradient ``grad`` of the expected weight; with ``consolidate``,
    Eq. 5 scales the gradient by :func:`consolidation_factor` of the OLD ``p`` (the one the
    forward pass used). ``rule``: a :class:`PresynapticRule` (floats) or a :class:`StackRule`
    (one value per stacked member). ``check`` validates the arguments first
    (:func:`update_release_probability`); the fast paths skip that. Neither input is modified.
    """
    rates = dict(p_up=rule.p_up, p_down=rule.p_down, g_lim=rule.g_lim, p_freeze=rule.p_freeze)
    limits = dict(p_min=rule.p_min, p_max=rule.p_max, headroom=rule.headroom)
    if check:
        new_p = update_release_probability(p, grad, **rates, **limits)
    else:
        new_p = release_step(p, grad, freezes=rule.freezes, **rates, **limits)
    if consolidate:
        grad = grad * consolidation_factor(p, rule.p_max)
    return new_p, grad


@dataclass
class PresynapticRule:
    """The release-probability rule with its metaplasticity constants (paper defaults: energy runs).

    Call :meth:`step` after ``loss.backward()``: it updates ``p`` of every
    :class:`~synlab.synapses.BernoulliLinear` layer from that layer's ``weight.grad``, and, with
    ``consolidate=True``, first scales the gradients by :func:`consolidation_factor` so the
    optimiser's step that follows is consolidated.
    """

    p_up: float = 0.07  # Schug et al., energy experiment (code: exp_energy.sh)
    p_down: float = 0.07
    g_lim: float = 0.001
    p_min: float = 0.25
    p_max: float = 1.0
    p_freeze: float = 1.0  # 1.0 = never freeze
    headroom: bool = False  # the code's (p_max - p) scaling of the step
    consolidate: bool = False  # scale gradients by (p_max - p) (lifelong learning)

    @property
    def freezes(self) -> bool:
        """Whether synapses at or above ``p_freeze`` are frozen at all."""
        return self.p_freeze < self.p_max

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        for layer in model.modules():
            if not isinstance(layer, BernoulliLinear) or layer.weight.grad is None:
                continue
            new_p, grad = apply_release_rule(
                layer.p, layer.weight.grad, self, consolidate=self.consolidate, check=True
            )
            layer.weight.grad.copy_(grad)
            layer.p.copy_(new_p)
