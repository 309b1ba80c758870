r"""The stacked engine: K bias-free ReLU networks of Bernoulli (or deterministic) synapses as one.

Each layer's weights are one ``(K, out, in)`` tensor, so a step is one batched matmul per layer
(``torch.bmm``) and a GPU sees K times the work per kernel. One network, :class:`StackedMLP`
(transmission by :func:`~synlab.synapses.transmitted_weight`, masks by
:func:`~synlab.synapses.release_mask`, the forward pass :func:`~synlab.continual.mlp_forward`),
and one source of the members' random numbers, :class:`MemberDraws`, serve two loops:

* :func:`train_stacked` — the energy sweeps of Schug et al. (2021) (ℓ2 strengths × seeds):
  K runs of :func:`synlab.training.train_classifier`, autograd's backward pass, per-member
  learning rate and weight decay, the release-probability rule by
  :func:`~synlab.rules.apply_release_rule`;
* :func:`train_sequentially_stacked` — K lifelong runs of one method
  (:func:`synlab.continual.train_sequentially`): presynaptic consolidation, the stochastic model
  without it, the ghost control (:class:`StackedMLP` plus ghost probabilities) and Bayesian
  Gradient Descent (a deterministic stack of means plus standard deviations), each step one call
  of the hand-derived pure step the solo strategies compile too
  (:func:`~synlab.continual.presynaptic_mlp_step`, :func:`~synlab.continual.bgd_mlp_step`),
  compiled with ``compile=True`` (the ``compiled`` engine). Its bookkeeping is the solo loop's
  (:class:`~synlab.continual.LifelongHistory`). EWC, the deterministic baseline and joint
  training are not stacked (cheap per step; Adam's and the Fisher's bookkeeping would be a second
  implementation to keep equal).

What each member keeps from its solo run: its initial weights (built as the solo run builds
them), its data order (a shuffling generator seeded with its seed) and, on the CPU, its random
numbers: release masks / weight noise come from the member's own generator in the solo order,
so a member follows its solo trajectory up to the summation order of the batched matmul
(tested). On a GPU the energy sweep's generators live on the device and the lifelong stack
shares the device's generator (one draw per layer for all members), so members then match
solo runs in distribution.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..continual import (
    BGDStrategy,
    ContinualResult,
    GhostStrategy,
    LifelongHistory,
    PresynapticStrategy,
    bgd_mlp_step,
    check_loop,
    make_strategy,
    mlp_forward,
    presynaptic_mlp_step,
    stack_rule,
)
from ..data import Task
from ..device import compiled
from ..rules import PresynapticRule, apply_release_rule
from ..synapses import BernoulliLinear, mlp, release_mask, transmitted_weight
from ..training import TrainHistory, _check_xy, _split_data

__all__ = [
    "StackedMLP",
    "MemberDraws",
    "train_stacked",
    "STACKABLE",
    "LifelongStackSpec",
    "train_sequentially_stacked",
]


# ----------------------------------------------------------------------------- the network
class MemberDraws:
    """Random numbers for K members: per-member generators (each drawing on its own device, in
    the member's solo order) or, with ``gens=None``, one draw on ``device`` for all members."""

    def __init__(self, gens: list[torch.Generator] | None, K: int, device: torch.device) -> None:
        self.gens, self.K, self.device = gens, K, device

    def layers(
        self, kind: str, shapes: Sequence[tuple[int, ...]], reps: int, dtype=None
    ) -> list[Tensor]:
        """Per layer a ``(K, reps, *shape)`` tensor of uniforms (``kind="uniform"``) or standard
        normals, drawn for each member in the solo order (repetition-major, then layer by layer)."""
        fn = torch.rand if kind == "uniform" else torch.randn
        if self.gens is None:
            return [fn((self.K, reps, *s), device=self.device, dtype=dtype) for s in shapes]
        per = [
            [
                [fn(s, generator=g, device=g.device, dtype=dtype) for s in shapes]
                for _ in range(reps)
            ]
            for g in self.gens
        ]
        return [
            torch.stack(
                [torch.stack([per[k][r][l] for r in range(reps)]) for k in range(self.K)]
            ).to(self.device)
            for l in range(len(shapes))
        ]


def _check_weights(weights: Sequence[Tensor]) -> None:
    if not weights:
        raise ValueError("need at least one layer")
    K = weights[0].shape[0]
    for i, w in enumerate(weights):
        if w.dim() != 3 or w.shape[0] != K:
            raise ValueError(
                f"layer {i}: weights must have shape (K={K}, out, in); got {tuple(w.shape)}"
            )
        if i and w.shape[2] != weights[i - 1].shape[1]:
            raise ValueError(
                f"layer {i} takes {w.shape[2]} inputs but layer {i - 1} gives "
                f"{weights[i - 1].shape[1]}"
            )


def _solo_layers(models: Sequence[nn.Module]) -> list[list[nn.Module]]:
    """The weight layers of each solo network, checked to be stackable (one architecture, all
    Bernoulli or all deterministic, bias-free Linear/ReLU stacks as :func:`synlab.synapses.mlp`
    makes)."""
    if not models:
        raise ValueError("need at least one model")
    layers = [
        [m for m in model.modules() if isinstance(m, (BernoulliLinear, nn.Linear))]
        for model in models
    ]
    kinds = {tuple(type(m) for m in ls) for ls in layers}
    shapes = {tuple(tuple(m.weight.shape) for m in ls) for ls in layers}
    if len(kinds) != 1 or len(shapes) != 1:
        raise ValueError("all models must have the same layers and shapes")
    first = layers[0]
    if len({type(m) for m in first}) != 1:
        raise ValueError(
            "mixing Bernoulli and deterministic layers in one network is not supported"
        )
    if any(m.bias is not None for m in first):
        raise ValueError("StackedMLP stacks bias-free networks (as in Schug et al.)")
    for model in models:
        acts = [m for m in model.children() if not isinstance(m, (BernoulliLinear, nn.Linear))]
        if any(not isinstance(a, nn.ReLU) for a in acts) or len(acts) != len(first) - 1:
            raise ValueError(
                "StackedMLP expects Linear/ReLU stacks as built by synlab.synapses.mlp"
            )
    return layers


class StackedMLP(nn.Module):
    """K bias-free ReLU MLPs of one architecture, weights stacked as ``(K, out, in)`` per layer.

    Build it from solo networks with :meth:`from_models` (each an ``nn.Sequential`` of bias-free
    :class:`~synlab.synapses.BernoulliLinear` or ``nn.Linear`` layers and ReLUs, as
    :func:`synlab.synapses.mlp` makes), train it with :func:`train_stacked` (or as a lifelong
    stack), and get the trained solo networks back with :meth:`to_models`. Deterministic stacks
    have ``p = None``.
    """

    def __init__(self, weights: Sequence[Tensor], ps: Sequence[Tensor] | None = None) -> None:
        super().__init__()
        _check_weights(weights)
        self.weights = nn.ParameterList([nn.Parameter(w.detach().clone()) for w in weights])
        self.stochastic = ps is not None
        if ps is not None:
            if len(ps) != len(weights) or any(p.shape != w.shape for p, w in zip(ps, weights)):
                raise ValueError(
                    "need one release-probability tensor per layer, shaped like its weights"
                )
            if any(bool(((p < 0) | (p > 1)).any()) for p in ps):
                raise ValueError("release probabilities must lie in [0, 1]")
            for i, p in enumerate(ps):
                self.register_buffer(f"p{i}", p.detach().clone())

    @property
    def K(self) -> int:
        return self.weights[0].shape[0]

    @property
    def ps(self) -> list[Tensor]:
        return [getattr(self, f"p{i}") for i in range(len(self.weights))] if self.stochastic else []

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """Each layer's ``(out, in)``."""
        return [tuple(w.shape[1:]) for w in self.weights]

    @classmethod
    def from_models(cls, models: Sequence[nn.Module]) -> StackedMLP:
        """Stack solo networks (one architecture; all Bernoulli or all deterministic, no bias)."""
        layers = _solo_layers(models)
        n = len(layers[0])
        weights = [torch.stack([ls[i].weight.detach() for ls in layers]) for i in range(n)]
        ps = None
        if isinstance(layers[0][0], BernoulliLinear):
            ps = [torch.stack([ls[i].p.detach() for ls in layers]) for i in range(n)]
        return cls(weights, ps)

    def to_models(self) -> list[nn.Sequential]:
        """The K members as solo networks (copies), Bernoulli layers if the stack is stochastic."""
        sizes = [self.weights[0].shape[2]] + [w.shape[1] for w in self.weights]
        out = []
        for k in range(self.K):
            model = mlp(sizes, BernoulliLinear) if self.stochastic else mlp(sizes)
            model = model.to(device=self.weights[0].device, dtype=self.weights[0].dtype)
            layers = [m for m in model.modules() if isinstance(m, (BernoulliLinear, nn.Linear))]
            with torch.no_grad():
                for i, layer in enumerate(layers):
                    layer.weight.copy_(self.weights[i][k])
                    if self.stochastic:
                        layer.p.copy_(self.ps[i][k])
            out.append(model)
        return out

    def masks(self, uniforms: Sequence[Tensor]) -> list[Tensor]:
        """The release masks ``uniforms[l] < p[l]`` (uniforms ``(K, out, in)`` per layer)."""
        dtype = self.weights[0].dtype
        return [release_mask(u, p, dtype) for u, p in zip(uniforms, self.ps)]

    def sample_masks(self, draws: MemberDraws | None = None) -> list[Tensor]:
        """One release mask per member and layer, drawn from ``draws`` (each member from its own
        generator) or, without, in one draw from the global generator."""
        if not self.stochastic:
            return []
        if draws is None:
            draws = MemberDraws(None, self.K, self.ps[0].device)
        U = draws.layers("uniform", self.shapes, 1, self.ps[0].dtype)
        return self.masks([u[:, 0] for u in U])

    def forward(self, x: Tensor, masks: Sequence[Tensor] | None = None) -> Tensor:
        """Logits ``(K, B, C)`` for inputs ``(K, B, in)`` (or ``(B, in)``, shared by all members).

        With ``masks`` (one ``(K, out, in)`` tensor per layer) the members transmit through those
        release patterns; without, a stochastic stack draws fresh masks in training mode and uses
        the mean weights in eval mode.
        """
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, *x.shape)
        if x.dim() != 3 or x.shape[0] != self.K or x.shape[2] != self.weights[0].shape[2]:
            raise ValueError(
                f"inputs must have shape (K={self.K}, B, {self.weights[0].shape[2]}) or "
                f"(B, {self.weights[0].shape[2]}); got {tuple(x.shape)}"
            )
        if masks is None and self.stochastic and self.training:
            masks = self.sample_masks()
        W = list(self.weights)
        if masks:
            W = [transmitted_weight(m, w, p) for m, w, p in zip(masks, W, self.ps)]
        return mlp_forward(x, W)[0]


# ----------------------------------------------------------------------------- energy sweeps
def _per_member(value, K: int, name: str) -> list[float]:
    vals = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)] * K
    if len(vals) != K:
        raise ValueError(f"{name}: need one value per member (K = {K}); got {len(vals)}")
    return vals


def _sweep_constants(model: StackedMLP, seeds, epochs, batch_size, lr, weight_decay, rule):
    """The sweep's arguments checked; per-member learning rates and weight decays as lists."""
    K = model.K
    if len(seeds) != K:
        raise ValueError(f"need one seed per member (K = {K}); got {len(seeds)}")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs}")
    if int(batch_size) != batch_size or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    lrs, wds = _per_member(lr, K, "lr"), _per_member(weight_decay, K, "weight_decay")
    if any(not v > 0 for v in lrs) or any(v < 0 for v in wds):
        raise ValueError(f"need lr > 0 and weight_decay >= 0 for every member; got {lrs}, {wds}")
    if rule is not None and not model.stochastic:
        raise ValueError("a release-probability rule needs a stochastic (Bernoulli) stack")
    return lrs, wds


@torch.no_grad()
def _sgd_update(model: StackedMLP, lr: Tensor, wd: Tensor, rule: PresynapticRule | None) -> None:
    """Each member's SGD step (weight decay added to the gradient), after the release rule."""
    for i, w in enumerate(model.weights):
        g = w.grad
        if rule is not None:
            p = model.ps[i]
            new_p, g = apply_release_rule(p, g, rule, consolidate=rule.consolidate, check=True)
            p.copy_(new_p)
        w.sub_(lr * (g + wd * w))


def _sweep_epoch(model, x, y, perm, batch_size, draws, update) -> tuple[Tensor, Tensor]:
    """One epoch of every member in the order ``perm`` ``(K, n)``; (loss sum, correct) ``(K,)``."""
    K, dev = model.K, x.device
    tot_loss, tot_correct = torch.zeros(K, device=dev), torch.zeros(K, device=dev)
    for start in range(0, x.shape[0], batch_size):
        idx = perm[:, start : start + batch_size]
        xb, yb = x[idx], y[idx]  # (K, B, D), (K, B)
        for w in model.weights:
            w.grad = None
        logits = model(xb, model.sample_masks(draws))
        losses = F.cross_entropy(logits.transpose(1, 2), yb, reduction="none").mean(1)  # (K,)
        losses.sum().backward()
        update()
        tot_loss += losses.detach() * idx.shape[1]
        tot_correct += (logits.detach().argmax(2) == yb).sum(1)
    return tot_loss, tot_correct


def train_stacked(
    model: StackedMLP,
    data,
    *,
    epochs: int,
    seeds: Sequence[int],
    batch_size: int = 100,
    lr: float | Sequence[float] = 0.05,
    weight_decay: float | Sequence[float] = 0.0,
    rule: PresynapticRule | None = None,
    device: torch.device | str | None = None,
) -> list[TrainHistory]:
    """Train the K members of ``model`` in place, each as ``train_classifier(member, seed=…)``
    with its own seed ``seeds[k]``.

    Mini-batch SGD on each member's mean cross-entropy, ``weight_decay`` added to the gradient,
    the release-probability ``rule`` (if given; stochastic stacks only) applied to each member's
    gradient before the SGD step, as in :func:`synlab.training.train_classifier`. Per member:
    learning rate, weight decay, seed; shared: architecture, data, batch size, epochs, rule.
    Returns one :class:`~synlab.training.TrainHistory` per member; their ``wall_time_s`` is the
    stack's wall time divided by K.
    """
    K = model.K
    lrs, wds = _sweep_constants(model, seeds, epochs, batch_size, lr, weight_decay, rule)
    from ..device import default_device

    dev = torch.device(device) if device is not None else default_device()
    x, y, _, _ = _split_data(data)
    _check_xy(x, y, "training data")
    x, y = x.to(dev), y.to(dev)
    model.to(dev)
    dtype = model.weights[0].dtype
    lr_t = torch.tensor(lrs, device=dev, dtype=dtype).view(K, 1, 1)
    wd_t = torch.tensor(wds, device=dev, dtype=dtype).view(K, 1, 1)
    shufflers = [torch.Generator().manual_seed(int(s)) for s in seeds]
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    draws = MemberDraws(gens, K, dev) if model.stochastic else None
    hists = [TrainHistory() for _ in range(K)]
    n = x.shape[0]
    t0 = time.perf_counter()
    model.train()
    for _ in range(int(epochs)):
        perm = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(dev)  # (K, n)
        tot_loss, tot_correct = _sweep_epoch(
            model, x, y, perm, batch_size, draws, lambda: _sgd_update(model, lr_t, wd_t, rule)
        )
        for k, h in enumerate(hists):
            h.steps += -(-n // batch_size)
            h.loss.append(float(tot_loss[k]) / n)
            h.train_accuracy.append(float(tot_correct[k]) / n)
            h.mean_p.append(
                float(torch.cat([p[k].flatten() for p in model.ps]).mean())
                if model.stochastic
                else float("nan")
            )
    wall = time.perf_counter() - t0
    for h in hists:
        h.wall_time_s = wall / K
    return hists


# ----------------------------------------------------------------------------- lifelong runs
#: Methods (``make_strategy`` names) that :func:`train_sequentially_stacked` can stack.
STACKABLE = ("presynaptic", "stochastic", "ghost", "bgd")


def _check_streams(streams: Sequence[Sequence[Task]]) -> None:
    if not streams:
        raise ValueError("need at least one member")
    T = len(streams[0])
    if T == 0 or any(len(s) != T for s in streams):
        raise ValueError(
            f"every member needs the same number of tasks (> 0); got {[len(s) for s in streams]}"
        )
    for i in range(T):
        shapes = {(tuple(s[i].x_train.shape), tuple(s[i].x_test.shape)) for s in streams}
        if len(shapes) != 1:
            raise ValueError(
                f"task {i}: members' data shapes differ ({sorted(shapes)}); "
                "stack members of one data set"
            )


class _Data:
    """Each task's data once per distinct member stream, gathered per member on demand."""

    def __init__(self, streams: Sequence[Sequence[Task]], device: torch.device) -> None:
        ids: dict[int, int] = {}
        which = [ids.setdefault(id(s), len(ids)) for s in streams]
        unique = [None] * len(ids)
        for s, w in zip(streams, which):
            unique[w] = s
        self.which = torch.tensor(which, device=device)
        self.T = len(streams[0])
        stack = lambda attr, i: torch.stack([getattr(u[i], attr) for u in unique]).to(device)  # noqa: E731
        self.x_train = [stack("x_train", i) for i in range(self.T)]
        self.y_train = [stack("y_train", i) for i in range(self.T)]
        self.x_test = [stack("x_test", i) for i in range(self.T)]
        self.y_test = [stack("y_test", i) for i in range(self.T)]
        self.n_classes = max(t.n_classes for u in unique for t in u)
        self.n_in = self.x_train[0].shape[-1]

    def batch(self, i: int, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Member k's examples ``idx[k]`` of task i: ``(K, B, d)``, ``(K, B)``."""
        w = self.which[:, None]
        return self.x_train[i][w, idx], self.y_train[i][w, idx]

    def test(self, i: int, stop: int | None = None) -> tuple[Tensor, Tensor]:
        return self.x_test[i][self.which, :stop], self.y_test[i][self.which, :stop]


def _member_consts(values: Sequence[float], device) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float32, device=device).view(
        -1, 1, 1
    )


class _LifelongStack:
    """A lifelong stack: its members' state from their solo models (:meth:`_load`), one
    hand-derived step (``STEP``, compiled with ``compile``) and its engine label."""

    STEP: Any = None

    def __init__(self, strategies: list, solo_models: list[nn.Module], device, compile: bool):
        self._load(strategies, solo_models, device)
        self.step = compiled(type(self).STEP) if compile else type(self).STEP
        self.engine = "fused step, torch.compile" if compile else "fused step"

    def _load(self, strategies: list, solo_models: list[nn.Module], device) -> None:
        raise NotImplementedError

    def state(self) -> list[Tensor]:
        """The tensors training changes, each ``(K, ...)``."""
        raise NotImplementedError

    @torch.no_grad()
    def finite(self) -> list[bool]:
        """Per member, whether its state is finite (:class:`~synlab.continual.LifelongHistory`)."""
        bad = sum((~torch.isfinite(t)).flatten(1).any(1).long() for t in self.state())
        return [not b for b in bad.tolist()]


class _StackedBernoulli(_LifelongStack):
    """Presynaptic / no-consolidation / ghost members: a :class:`StackedMLP` (weights, release
    probabilities) and, for the ghost control, the ghost probabilities."""

    STEP = staticmethod(presynaptic_mlp_step)

    def _load(self, strategies: list[PresynapticStrategy], solo_models, device) -> None:
        rules = [s.rule for s in strategies]
        if len({r.consolidate for r in rules}) != 1:
            raise ValueError("stacked members must share the rule's consolidate")
        if any(s.optimizer_name != "sgd" for s in strategies):
            raise ValueError(
                "stacked Bernoulli members are trained with SGD (the papers' optimiser)"
            )
        self.ghost = isinstance(strategies[0], GhostStrategy)
        if any(isinstance(s, GhostStrategy) != self.ghost for s in strategies):
            raise ValueError("ghost and non-ghost members cannot share a stack")
        self.rule = rules[0]
        self.net = StackedMLP.from_models(solo_models).to(device)
        self.G = None
        if self.ghost:
            layers = [
                [m for m in mo.modules() if isinstance(m, BernoulliLinear)] for mo in solo_models
            ]
            self.G = [
                torch.stack([s.ghost[id(ls[l])] for s, ls in zip(strategies, layers)]).to(device)
                for l in range(len(layers[0]))
            ]
        self.lr = _member_consts([s.lr for s in strategies], device)
        self.stack_rule = stack_rule(rules, device)

    def state(self) -> list[Tensor]:
        return [*self.net.weights, *self.net.ps, *(self.G or [])]

    def train_step(self, x: Tensor, y: Tensor, draws: MemberDraws) -> None:
        U = [u[:, 0] for u in draws.layers("uniform", self.net.shapes, 1)]
        plastic = self.G if self.ghost else self.net.ps
        W, new, _ = self.step(
            [w.detach() for w in self.net.weights],
            self.net.ps,
            plastic,
            U,
            x,
            y,
            self.lr,
            self.stack_rule,
            modulate=self.rule.consolidate or self.ghost,
        )
        with torch.no_grad():
            for q, n in zip([*self.net.weights, *plastic], [*W, *new]):
                q.copy_(n)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int, draws: MemberDraws) -> Tensor:
        U = draws.layers("uniform", self.net.shapes, samples)
        return torch.stack(
            [
                F.softmax(self.net(x, self.net.masks([u[:, s] for u in U])), -1)
                for s in range(samples)
            ]
        ).mean(0)

    def stats(self) -> list[dict[str, float]]:
        probs = self.G if self.ghost else self.net.ps
        out = []
        for k in range(self.lr.shape[0]):
            p = torch.cat([q[k].flatten() for q in probs])
            p_freeze = self.stack_rule.p_freeze[k].view(())
            frozen = (p >= p_freeze).float().mean().item() if float(p_freeze) < 1 else 0.0
            out.append({"mean_p": p.mean().item(), "frozen": frozen})
        return out


class _StackedBGD(_LifelongStack):
    """BGD members: means (a deterministic :class:`StackedMLP`'s weights) and standard deviations
    ``(K, out, in)``, S Monte Carlo samples each."""

    STEP = staticmethod(bgd_mlp_step)

    def _load(self, strategies: list[BGDStrategy], solo_models, device) -> None:
        if len({(s.mc_samples, s.batch_sum) for s in strategies}) != 1:
            raise ValueError("stacked BGD members must share mc_samples and batch_sum")
        if any(
            m.bias is not None
            for mo in solo_models
            for m in mo.modules()
            if isinstance(m, nn.Linear)
        ):
            raise ValueError("stacked BGD needs bias-free layers")
        self.mu = [w.detach() for w in StackedMLP.from_models(solo_models).to(device).weights]
        self.sigma = [
            torch.stack([torch.full_like(m[k], s.sigma_init) for k, s in enumerate(strategies)])
            for m in self.mu
        ]
        self.eta = _member_consts([s.eta for s in strategies], device)
        self.S, self.batch_sum = strategies[0].mc_samples, strategies[0].batch_sum
        self.shapes = [tuple(m.shape[1:]) for m in self.mu]

    def state(self) -> list[Tensor]:
        return [*self.mu, *self.sigma]

    def train_step(self, x: Tensor, y: Tensor, draws: MemberDraws) -> None:
        E = draws.layers("normal", self.shapes, self.S)  # (K, S, out, in) per layer
        scale = float(x.shape[-2]) if self.batch_sum else 1.0
        self.mu, self.sigma, _ = self.step(self.mu, self.sigma, E, x, y, self.eta, scale)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int, draws: MemberDraws) -> Tensor:
        if samples == 0:
            return F.softmax(mlp_forward(x, self.mu)[0], -1)
        E = draws.layers("normal", self.shapes, samples)
        return torch.stack(
            [
                F.softmax(
                    mlp_forward(x, [m + s * e[:, j] for m, s, e in zip(self.mu, self.sigma, E)])[0],
                    -1,
                )
                for j in range(samples)
            ]
        ).mean(0)

    def stats(self) -> list[dict[str, float]]:
        return [
            {"mean_sigma": torch.cat([s[k].flatten() for s in self.sigma]).mean().item()}
            for k in range(self.mu[0].shape[0])
        ]


def _members(method, params, seeds, sizes, **strategy_args) -> tuple[list, list, list, list]:
    """Each member's strategy, model, random-number generator and shuffler, initialised exactly
    as its solo run initialises them (the generator forked from the global state right after)."""
    strategies, models, gens, shufflers = [], [], [], []
    for p, seed in zip(params, seeds):
        s = make_strategy(method, p, **strategy_args)
        torch.manual_seed(seed)
        shufflers.append(torch.Generator().manual_seed(seed))
        s.setup(sizes, "cpu")
        g = torch.Generator()
        g.set_state(torch.get_rng_state())
        strategies.append(s)
        models.append(s.model)
        gens.append(g)
    return strategies, models, gens, shufflers


@dataclass(frozen=True)
class LifelongStackSpec:
    """The loop settings of :func:`train_sequentially_stacked`, shared by all members: as
    :func:`synlab.continual.train_sequentially`'s (and ``make_strategy``'s ``test_samples``,
    ``mc_samples``); ``eval_batch``: test examples evaluated at once."""

    epochs: int = 10
    batch_size: int = 100
    hidden: tuple[int, ...] = (200, 200)
    test_samples: int = 10
    mc_samples: int | None = None
    eval_every: int = 50
    curve_tasks: tuple[int, ...] = (0,)
    curve_test: int = 1000
    eval_batch: int = 10_000


def _stacked_accuracy(net, data: _Data, draws: MemberDraws, samples: int, eval_batch: int):
    """``accuracy(i, stop)``: each member's accuracy ``(K,)`` on the first ``stop`` test examples
    of task i."""

    def accuracy(i: int, stop: int | None = None) -> np.ndarray:
        x, y = data.test(i, stop)
        correct = torch.zeros(x.shape[0], device=x.device)
        for s in range(0, x.shape[1], eval_batch):
            pred = net.predict_proba(x[:, s : s + eval_batch], samples, draws).argmax(-1)
            correct += (pred == y[:, s : s + eval_batch]).sum(1)
        return (correct / max(x.shape[1], 1)).cpu().numpy()

    return accuracy


def train_sequentially_stacked(
    streams: Sequence[Sequence[Task]],
    method: str,
    params: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    spec: LifelongStackSpec = LifelongStackSpec(),
    *,
    device=None,
    member_streams: bool | None = None,
    compile: bool = False,
) -> list[ContinualResult]:
    """K runs of :func:`~synlab.continual.train_sequentially` with
    ``make_strategy(method, params[k])`` on ``streams[k]`` with ``seeds[k]``, as one stack (see
    the module docstring).

    ``method`` is one of :data:`STACKABLE`; ``params``, ``seeds`` and ``streams`` have one entry
    per member; ``spec`` the shared loop settings. ``member_streams``: draw each member's random
    numbers from its own generator in the solo order (default on the CPU; elsewhere one draw per
    layer serves all members). ``compile``: the stack's hand-derived step compiled by
    ``torch.compile`` (else eager). Returns one :class:`~synlab.continual.ContinualResult` per
    member.
    """
    if method not in STACKABLE:
        raise ValueError(f"cannot stack {method!r}; stackable methods: {', '.join(STACKABLE)}")
    K = len(streams)
    if not (len(params) == len(seeds) == K):
        raise ValueError(
            f"need one params dict and one seed per member; got {K} streams, {len(params)} params, "
            f"{len(seeds)} seeds"
        )
    _check_streams(streams)
    check_loop(spec.epochs, spec.batch_size, spec.eval_every)
    device = torch.device(device) if device is not None else torch.device("cpu")
    data = _Data(streams, device)
    strategies, models, gens, shufflers = _members(
        method,
        params,
        seeds,
        [data.n_in, *spec.hidden, data.n_classes],
        test_samples=spec.test_samples,
        mc_samples=spec.mc_samples,
    )
    if member_streams is None:
        member_streams = device.type == "cpu"
    draws = MemberDraws(gens if member_streams else None, K, device)
    net = (_StackedBGD if method == "bgd" else _StackedBernoulli)(
        strategies, models, device, compile
    )
    accuracy = _stacked_accuracy(net, data, draws, strategies[0].test_samples, spec.eval_batch)

    T = data.T
    curve = lambda: np.stack([accuracy(j, spec.curve_test) for j in spec.curve_tasks], 1)  # noqa: E731
    history = LifelongHistory(K, T, curve, net.stats, spec.eval_every, net.finite)
    for i in range(T):
        n = data.x_train[i].shape[1]
        for _ in range(spec.epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(device)
            for s in range(0, n, spec.batch_size):
                net.train_step(*data.batch(i, order[:, s : s + spec.batch_size]), draws)
                history.tick()
        history.end_task(i, history.step, np.stack([accuracy(j) for j in range(T)], 1))
    return history.results(history.step // T, net.engine)
