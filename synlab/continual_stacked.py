r"""K sequential-learning runs of one method trained as one stack: seeds or tuning trials at once.

:func:`train_sequentially_stacked` does what K calls of :func:`synlab.continual.train_sequentially`
do, for the methods whose step is elementwise per synapse plus a matmul: presynaptic
consolidation, the stochastic model without it, the ghost control, and Bayesian Gradient
Descent. Each layer's weights are one ``(K, out, in)`` tensor (``(K·S, out, in)`` for BGD's S
Monte Carlo samples) and every step is one batched matmul per layer, so a GPU sees K times
the work per kernel. Members may differ in hyperparameters, seed and data (each member brings
its own task list; members given the same list share one copy of it).

What each member keeps from its solo run:

* its initial weights (built exactly as the solo run builds them, under ``torch.manual_seed``);
* its data order (a shuffling generator seeded with its seed, as in the solo run);
* on the CPU, its random numbers too: each member draws release masks / weight noise from its
  own generator, forked from the global state right after its initialisation and used in the
  solo order, so a member follows its solo trajectory up to float rounding (tested);
* on a GPU, the members share the device's generator (one draw per layer for all members), so
  they match solo runs in distribution.

A step is one call of the pure function the solo strategies compile too
(:func:`~synlab.continual.presynaptic_mlp_step`, :func:`~synlab.continual.bgd_mlp_step`, which take
M members and write the gradients out), compiled by ``torch.compile`` with ``compile=True`` (the ``compiled`` engine);
the random draws stay outside it, so they are the same either way.

The accuracy matrix, curves and statistics come back as one :class:`~synlab.continual.ContinualResult`
per member. EWC, the deterministic baseline and joint training are not stacked (they are cheap
per step, and Adam's and the Fisher's bookkeeping would be a second implementation to keep equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .continual import (
    BGDStrategy,
    ContinualResult,
    GhostStrategy,
    LifelongHistory,
    PresynapticStrategy,
    bgd_mlp_step,
    check_loop,
    make_strategy,
    presynaptic_mlp_step,
    stack_rule,
)
from .data import Task
from .fused import compiled
from .synapses import BernoulliLinear, release_mask, transmitted_weight

__all__ = ["STACKABLE", "train_sequentially_stacked"]

#: Methods (``make_strategy`` names) that :func:`train_sequentially_stacked` can stack.
STACKABLE = ("presynaptic", "stochastic", "ghost", "bgd")


class _Draws:
    """Random numbers for K members: per-member generators (CPU) or one device draw (elsewhere)."""

    def __init__(self, gens: list[torch.Generator] | None, K: int, device: torch.device) -> None:
        self.gens, self.K, self.device = gens, K, device

    def layers(self, kind: str, shapes: Sequence[tuple[int, ...]], reps: int) -> list[Tensor]:
        """Per layer a ``(K, reps, *shape)`` tensor, drawn for each member in the solo order
        (repetition-major, then layer by layer)."""
        fn = torch.rand if kind == "uniform" else torch.randn
        if self.gens is None:
            return [fn((self.K, reps, *s), device=self.device) for s in shapes]
        per = [[[fn(s, generator=g) for s in shapes] for _ in range(reps)] for g in self.gens]
        return [
            torch.stack(
                [torch.stack([per[k][r][l] for r in range(reps)]) for k in range(self.K)]
            ).to(self.device)
            for l in range(len(shapes))
        ]


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
                f"task {i}: members' data shapes differ ({sorted(shapes)}); stack members of one data set"
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


def _step_and_engine(fn, compile: bool):
    """A stack's step function (``fn``, compiled with ``compile``) and its engine label."""
    if compile:
        return compiled(fn), "fused step, torch.compile"
    return fn, "fused step"


def _member_consts(values: Sequence[float], device) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float32, device=device).view(
        -1, 1, 1
    )


class _StackedBernoulli:
    """Presynaptic / no-consolidation / ghost members: weights, release (or ghost) probabilities."""

    def __init__(
        self,
        strategies: list[PresynapticStrategy],
        solo_models: list[nn.Module],
        device,
        compile: bool = False,
    ) -> None:
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
        layers = [
            [m for m in model.modules() if isinstance(m, BernoulliLinear)] for model in solo_models
        ]
        self.W = [
            torch.stack([ls[l].weight.detach() for ls in layers]).to(device)
            for l in range(len(layers[0]))
        ]
        self.P = [torch.stack([ls[l].p for ls in layers]).to(device) for l in range(len(layers[0]))]
        self.G = (
            [
                torch.stack([s.ghost[id(ls[l])] for s, ls in zip(strategies, layers)]).to(device)
                for l in range(len(layers[0]))
            ]
            if self.ghost
            else None
        )
        self.lr = _member_consts([s.lr for s in strategies], device)
        self.stack_rule = stack_rule(rules, device)
        self.shapes = [tuple(w.shape[1:]) for w in self.W]
        self.step, self.engine = _step_and_engine(presynaptic_mlp_step, compile)

    def forward(self, x: Tensor, U: list[Tensor]) -> Tensor:
        """Logits ``(K, B, C)`` with release masks ``U[l] < P[l]`` (U: uniforms, ``(K, out, in)``)."""
        h = x
        for l, (w, p) in enumerate(zip(self.W, self.P)):
            w = transmitted_weight(release_mask(U[l], p, w.dtype), w, p)
            h = torch.bmm(h, w.transpose(1, 2))
            if l < len(self.W) - 1:
                h = F.relu(h)
        return h

    def train_step(self, x: Tensor, y: Tensor, draws: _Draws) -> None:
        U = [u[:, 0] for u in draws.layers("uniform", self.shapes, 1)]
        plastic = self.G if self.ghost else self.P
        self.W, new, _ = self.step(
            self.W,
            self.P,
            plastic,
            U,
            x,
            y,
            self.lr,
            self.stack_rule,
            modulate=self.rule.consolidate or self.ghost,
        )
        for q, n in zip(plastic, new):
            q.copy_(n)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int, draws: _Draws) -> Tensor:
        U = draws.layers("uniform", self.shapes, samples)
        return torch.stack(
            [F.softmax(self.forward(x, [u[:, s] for u in U]), -1) for s in range(samples)]
        ).mean(0)

    def stats(self) -> list[dict[str, float]]:
        probs = self.G if self.ghost else self.P
        out = []
        for k in range(self.lr.shape[0]):
            p = torch.cat([q[k].flatten() for q in probs])
            p_freeze = self.stack_rule.p_freeze[k].view(())
            frozen = (p >= p_freeze).float().mean().item() if float(p_freeze) < 1 else 0.0
            out.append({"mean_p": p.mean().item(), "frozen": frozen})
        return out


class _StackedBGD:
    """BGD members: means and standard deviations ``(K, out, in)``, S Monte Carlo samples each."""

    def __init__(
        self,
        strategies: list[BGDStrategy],
        solo_models: list[nn.Module],
        device,
        compile: bool = False,
    ) -> None:
        if len({s.mc_samples for s in strategies}) != 1:
            raise ValueError("stacked BGD members must share mc_samples")
        layers = [[m for m in model.modules() if isinstance(m, nn.Linear)] for model in solo_models]
        if any(m.bias is not None for ls in layers for m in ls):
            raise ValueError("stacked BGD needs bias-free layers")
        self.mu = [
            torch.stack([ls[l].weight.detach() for ls in layers]).to(device)
            for l in range(len(layers[0]))
        ]
        self.sigma = [
            torch.stack(
                [
                    torch.full_like(ls[l].weight.detach(), s.sigma_init)
                    for s, ls in zip(strategies, layers)
                ]
            ).to(device)
            for l in range(len(layers[0]))
        ]
        self.eta = _member_consts([s.eta for s in strategies], device)
        self.S = strategies[0].mc_samples
        self.shapes = [tuple(m.shape[1:]) for m in self.mu]
        self.step, self.engine = _step_and_engine(bgd_mlp_step, compile)

    def _logits(self, x: Tensor, W: list[Tensor]) -> Tensor:
        h = x
        for l, w in enumerate(W):
            h = torch.bmm(h, w.transpose(1, 2))
            if l < len(W) - 1:
                h = F.relu(h)
        return h

    def train_step(self, x: Tensor, y: Tensor, draws: _Draws) -> None:
        E = draws.layers("normal", self.shapes, self.S)  # (K, S, out, in) per layer
        self.mu, self.sigma, _ = self.step(self.mu, self.sigma, E, x, y, self.eta)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int, draws: _Draws) -> Tensor:
        if samples == 0:
            return F.softmax(self._logits(x, self.mu), -1)
        E = draws.layers("normal", self.shapes, samples)
        return torch.stack(
            [
                F.softmax(
                    self._logits(x, [m + s * e[:, j] for m, s, e in zip(self.mu, self.sigma, E)]),
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


def train_sequentially_stacked(
    streams: Sequence[Sequence[Task]],
    method: str,
    params: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    *,
    epochs: int = 10,
    batch_size: int = 100,
    device=None,
    hidden: Sequence[int] = (200, 200),
    test_samples: int = 10,
    mc_samples: int | None = None,
    eval_every: int = 50,
    curve_tasks: Sequence[int] = (0,),
    curve_test: int = 1000,
    eval_batch: int = 10_000,
    member_streams: bool | None = None,
    compile: bool = False,
) -> list[ContinualResult]:
    """K runs of :func:`~synlab.continual.train_sequentially` with ``make_strategy(method, params[k])``
    on ``streams[k]`` with ``seeds[k]``, as one stack (see the module docstring).

    ``method`` is one of :data:`STACKABLE`; ``params``, ``seeds`` and ``streams`` have one entry
    per member. ``member_streams``: draw each member's random numbers from its own generator in
    the solo order (default on the CPU; elsewhere one draw per layer serves all members).
    ``compile``: the stack's hand-derived step compiled by ``torch.compile`` (else eager).
    Returns one :class:`~synlab.continual.ContinualResult` per member.
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
    check_loop(epochs, batch_size, eval_every)
    device = torch.device(device) if device is not None else torch.device("cpu")
    data = _Data(streams, device)
    sizes = [data.n_in, *hidden, data.n_classes]

    strategies, models, gens, shufflers = _members(
        method, params, seeds, sizes, test_samples=test_samples, mc_samples=mc_samples
    )
    if member_streams is None:
        member_streams = device.type == "cpu"
    draws = _Draws(gens if member_streams else None, K, device)
    net = (
        _StackedBGD(strategies, models, device, compile)
        if method == "bgd"
        else _StackedBernoulli(strategies, models, device, compile)
    )
    samples = strategies[0].test_samples

    def accuracy(i: int, stop: int | None = None) -> np.ndarray:
        x, y = data.test(i, stop)
        correct = torch.zeros(K, device=device)
        for s in range(0, x.shape[1], eval_batch):
            pred = net.predict_proba(x[:, s : s + eval_batch], samples, draws).argmax(-1)
            correct += (pred == y[:, s : s + eval_batch]).sum(1)
        return (correct / max(x.shape[1], 1)).cpu().numpy()

    T = data.T
    history = LifelongHistory(
        K, T, lambda: np.stack([accuracy(j, curve_test) for j in curve_tasks], 1), net.stats
    )
    step = 0
    history.record(step)
    for i in range(T):
        n = data.x_train[i].shape[1]
        for _ in range(epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(device)
            for s in range(0, n, batch_size):
                x, y = data.batch(i, order[:, s : s + batch_size])
                net.train_step(x, y, draws)
                step += 1
                if step % eval_every == 0:
                    history.record(step)
        history.end_task(i, step, np.stack([accuracy(j) for j in range(T)], 1))
    return history.results(step // T, getattr(net, "engine", ""))
