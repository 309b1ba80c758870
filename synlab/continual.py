r"""Continual (lifelong) learning: one training loop, small strategies, the accuracy matrix.

The harness of the lifelong-learning chapters of Schug, Benzing & Steger (2021). A *stream*
is a list of :class:`~synlab.data.Task` (Split or Permuted MNIST / Fashion-MNIST) or a
:class:`~synlab.data.ContinuousPermutedStream` (no task boundaries). A *strategy* owns the
network and says what happens around each gradient step, through four hooks:

``before_task(i, task)`` → per mini-batch ``loss = CE + penalty()``, ``backward``,
``after_backward()``, optimiser step → ``after_task(i, task)``.

:func:`train_sequentially` returns the accuracy matrix :math:`A_{ij}` = test accuracy on task
:math:`j` after learning task :math:`i` (so the diagonal is the task just learned, the last
row the final model, and :math:`\bar a = \frac1T\sum_j A_{T-1,j}` the *average accuracy* of
Fig. 4c), plus curves recorded every ``eval_every`` steps (accuracy on task 0, mean release
probability, fraction of frozen synapses).

Strategies (each a small class; the maths is in their docstrings and in pure functions):

* :class:`DeterministicStrategy` — plain ``nn.Linear`` network, SGD or Adam, no protection.
* :class:`PresynapticStrategy` — :class:`~synlab.synapses.BernoulliLinear` synapses and
  :class:`~synlab.rules.PresynapticRule` (Eq. 4); with ``consolidate=True`` the learning rate
  of each synapse is multiplied by :math:`1-p` (Eq. 5) and release probabilities above
  :math:`p_\mathrm{freeze}` are frozen ("presynaptic consolidation"); without, the same
  stochastic model with no consolidation (Fig. 5a ablation).
* :class:`GhostStrategy` — Fig. 5a control: *ghost* release probabilities :math:`\tilde p`
  evolve by Eq. 4 and modulate plasticity by Eq. 5, but release stays at :math:`p = 0.5`.
* :class:`EWCStrategy` — Elastic Weight Consolidation (Kirkpatrick et al. 2017), diagonal
  *empirical* Fisher, one quadratic anchor per past task (:func:`ewc_penalty`).
* :class:`BGDStrategy` — Bayesian Gradient Descent (Zeno et al. 2018), a diagonal Gaussian
  over weights updated by :func:`bgd_update` from Monte Carlo samples.

:func:`train_jointly` trains on all tasks at once (the upper bound), :func:`random_search`
draws hyperparameters for the tuning experiment.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import Checkpoint
from .curvature import empirical_fisher_diag
from .data import ContinuousPermutedStream, Task
from .device import compiled
from .rules import (
    PresynapticRule,
    StackRule,
    apply_release_rule,
)
from .synapses import BernoulliLinear, mlp, release_mask, transmitted_weight

__all__ = [
    "Strategy",
    "DeterministicStrategy",
    "PresynapticStrategy",
    "GhostStrategy",
    "EWCStrategy",
    "BGDStrategy",
    "ContinualResult",
    "train_sequentially",
    "train_jointly",
    "strategy_accuracy",
    "ewc_penalty",
    "merge_ewc_anchors",
    "bgd_update",
    "bgd_mlp_step",
    "mlp_forward",
    "mlp_backward",
    "cross_entropy_delta",
    "presynaptic_mlp_step",
    "random_search",
    "merge_tasks",
    "validation_split",
    "make_strategy",
    "LIFELONG_RULE",
]

#: Presynaptic consolidation constants of the lifelong runs (Schug et al. 2021, authors' code;
#: the paper's text, Methods, gives p_up and p_down swapped: 0.0516 / 0.0520).
LIFELONG_RULE = dict(
    p_up=0.0520, p_down=0.0516, g_lim=0.001, p_min=0.25, p_max=1.0, p_freeze=0.9353
)


# ----------------------------------------------------------------------------- pure functions
def ewc_penalty(
    params: Mapping[str, Tensor],
    anchors: Sequence[tuple[Mapping[str, Tensor], Mapping[str, Tensor]]],
    lam: float,
) -> Tensor:
    r"""EWC penalty :math:`\frac\lambda2\sum_k\sum_i F_{k,i}\,(\theta_i-\theta^*_{k,i})^2`.

    ``anchors`` is a list of ``(fisher, theta_star)`` pairs (one per learned task, dicts keyed
    like ``params``). Zero at an anchor with a single task, quadratic away from it.
    """
    if lam < 0:
        raise ValueError(f"the EWC strength lambda must be >= 0; got {lam}")
    total = None
    for fisher, star in anchors:
        for name, theta in params.items():
            if name not in fisher:
                continue
            term = (fisher[name] * (theta - star[name]) ** 2).sum()
            total = term if total is None else total + term
    if total is None:
        device = next(iter(params.values())).device if params else None
        return torch.zeros((), device=device)
    return 0.5 * lam * total


def merge_ewc_anchors(
    anchors: Sequence[tuple[Mapping[str, Tensor], Mapping[str, Tensor]]],
) -> tuple[dict[str, Tensor], dict[str, Tensor], float]:
    r"""The sum of EWC's quadratic anchors as one quadratic: ``(A, m, c)`` with

    .. math:: \sum_k F_k(\theta-\theta^*_k)^2 = A(\theta-m)^2 + c_i, \qquad
              A = \sum_k F_k,\; m = \frac{\sum_k F_k\theta^*_k}{A},\;
              c = \sum_i\Big(\sum_k F_{k,i}\theta^{*2}_{k,i} - A_i m_i^2\Big)

    per parameter entry (where :math:`A_i = 0` every anchor ignores entry i; m is set to 0
    there). ``ewc_penalty(params, [(A, m)], lam) + lam/2 * c`` then equals
    ``ewc_penalty(params, anchors, lam)`` in value and gradient, at the cost of one anchor
    instead of one per past task. Sums are formed in float64; ``c`` is a Python float.
    """
    if not anchors:
        raise ValueError("merge_ewc_anchors needs at least one anchor")
    A: dict[str, Tensor] = {}
    m: dict[str, Tensor] = {}
    c = 0.0
    for name in anchors[0][0]:
        F64 = [f[name].double() for f, _ in anchors if name in f]
        S64 = [s[name].double() for f, s in anchors if name in f]
        a = sum(F64)
        b = sum(f * s for f, s in zip(F64, S64))
        q = sum(f * s * s for f, s in zip(F64, S64))
        mean = torch.where(
            a > 0, b / torch.where(a > 0, a, torch.ones_like(a)), torch.zeros_like(a)
        )
        c += float((q - a * mean**2).sum())
        dtype = anchors[0][0][name].dtype
        A[name], m[name] = a.to(dtype), mean.to(dtype)
    return A, m, c


def bgd_update(
    mu: Tensor, sigma: Tensor, grads: Tensor, eps: Tensor, eta: float = 1.0, scale: float = 1.0
) -> tuple[Tensor, Tensor]:
    r"""One step of Bayesian Gradient Descent (Zeno et al. 2018, Eqs. 9–10 of the arXiv paper).

    With :math:`K` Monte Carlo weight samples :math:`\theta_k = \mu + \sigma\odot\varepsilon_k`,
    :math:`\varepsilon_k\sim\mathcal N(0, I)`, and the gradients :math:`g_k = \partial L/\partial\theta`
    at those samples,

    .. math::
        \mu &\leftarrow \mu - \eta\,\sigma^2\,\mathbb E_\varepsilon[g], \\
        \sigma &\leftarrow \sigma\sqrt{1+\big(\tfrac12\sigma\,\mathbb E_\varepsilon[g\,\varepsilon]\big)^2}
                 - \tfrac12\sigma^2\,\mathbb E_\varepsilon[g\,\varepsilon],

    expectations being averages over the K samples. The σ step keeps σ > 0; where gradients
    are consistent (large :math:`\mathbb E[g\varepsilon]`, i.e. the loss curves up along that
    weight) σ shrinks, which in turn shrinks the learning rate :math:`\eta\sigma^2` there.
    ``grads`` and ``eps`` have shape ``(K, *mu.shape)``. ``scale`` multiplies the gradients
    first: Zeno et al.'s optimizer multiplies the gradient of a mini-batch's mean loss by the batch
    size (their ``aggregate_grads(batch_size)``), i.e. it differentiates the batch's summed
    negative log-likelihood; ``scale=1`` (the default) keeps the mean. Returns new ``(mu, sigma)``.
    """
    if grads.shape != eps.shape or grads.shape[1:] != mu.shape or mu.shape != sigma.shape:
        raise ValueError(
            f"need grads, eps of shape (K, *mu.shape) and sigma like mu; got {tuple(grads.shape)}, "
            f"{tuple(eps.shape)}, mu {tuple(mu.shape)}, sigma {tuple(sigma.shape)}"
        )
    if eta <= 0:
        raise ValueError(f"eta must be > 0; got {eta}")
    return _bgd_moments_step(mu, sigma, grads.mean(0), (grads * eps).mean(0), eta, scale)


def _bgd_moments_step(
    mu: Tensor, sigma: Tensor, e_g: Tensor, e_ge: Tensor, eta, scale: float = 1.0
) -> tuple[Tensor, Tensor]:
    """:func:`bgd_update` from the Monte Carlo averages E[g] and E[g ε] (``eta`` a float or a
    tensor; ``scale`` a float multiplying both, skipped when 1 so the default is bitwise unchanged)."""
    if scale != 1:
        e_g, e_ge = e_g * scale, e_ge * scale
    half = 0.5 * sigma * e_ge
    return mu - eta * sigma**2 * e_g, sigma * torch.sqrt(1 + half**2) - sigma * half


def mlp_forward(h: Tensor, W: Sequence[Tensor]) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """The batched forward pass of M bias-free ReLU MLPs, ``W[l]`` ``(M, out, in)``, ``h``
    ``(M, B, in)``: (output ``(M, B, C)``, each layer's input, each hidden pre-activation). The one
    forward pass of the hand-derived steps and the stacked engine (:mod:`synlab.fast.stacked`)."""
    inputs, pre = [], []
    for l, w in enumerate(W):
        inputs.append(h)
        a = torch.bmm(h, w.transpose(1, 2))
        if l < len(W) - 1:
            pre.append(a)
            h = torch.relu(a)
        else:
            h = a
    return h, inputs, pre


def cross_entropy_delta(out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    r"""Each row's mean cross-entropy ``(M,)`` for logits ``out`` ``(M, B, C)``, labels ``y``
    ``(M, B)``, and its gradient :math:`\delta_L = (\mathrm{softmax}(z) - \mathrm{onehot}(y))/B`."""
    onehot = F.one_hot(y, out.shape[-1]).to(out.dtype)
    logp = torch.log_softmax(out, -1)
    return -(logp * onehot).sum(-1).mean(-1), (torch.exp(logp) - onehot) / out.shape[1]


def mlp_backward(
    delta: Tensor, inputs: Sequence[Tensor], pre: Sequence[Tensor], W: Sequence[Tensor]
) -> list[Tensor]:
    r"""The gradients :math:`\delta_l^\top h_l` of every layer's (transmitted) weights, back from the
    output gradient ``delta`` through :func:`mlp_forward`'s record:
    :math:`\delta_{l-1} = (\delta_l W_l)\odot[a_{l-1}>0]`."""
    grads: list[Tensor] = [delta] * len(W)
    for l in range(len(W) - 1, -1, -1):
        grads[l] = torch.bmm(delta.transpose(1, 2), inputs[l])
        if l > 0:
            delta = torch.bmm(delta, W[l]) * (pre[l - 1] > 0)
    return grads


def bgd_mlp_step(
    mu: Sequence[Tensor],
    sigma: Sequence[Tensor],
    eps: Sequence[Tensor],
    x: Tensor,
    y: Tensor,
    eta: Tensor,
    scale: float = 1.0,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    r"""One BGD step of M bias-free ReLU MLPs with hand-written gradients (compilable, one pure function).

    Per layer ``mu[l]``, ``sigma[l]``: ``(M, out, in)``; ``eps[l]``: ``(M, S, out, in)``, the S Monte
    Carlo samples :math:`\theta = \mu + \sigma\varepsilon` of each member; ``x``: ``(M, B, in)``,
    ``y``: ``(M, B)``; ``eta``: ``(M, 1, 1)``. The mean cross-entropy of every sample is
    differentiated by hand — :math:`\delta_L = (\mathrm{softmax}(z) - \mathrm{onehot}(y))/B`,
    :math:`\partial/\partial W_l = \delta_l^\top h_l`, :math:`\delta_{l-1} = (\delta_l W_l)\odot[a_{l-1}>0]` —
    and :func:`bgd_update` applied per member (``scale``: its gradient factor). Returns
    ``(new_mu, new_sigma, loss)`` with ``loss`` of shape ``(M,)`` (the mean over samples). Same numbers as autograd through
    :func:`torch.nn.functional.cross_entropy` up to float rounding (tested); written without
    autograd so that ``torch.compile`` fuses the element-wise work into a few loops.
    """
    M, S = eps[0].shape[:2]
    W = [
        (m[:, None] + s[:, None] * e).reshape(M * S, *m.shape[1:])
        for m, s, e in zip(mu, sigma, eps)
    ]
    h = x[:, None].expand(M, S, *x.shape[1:]).reshape(M * S, *x.shape[1:])
    out, inputs, pre = mlp_forward(h, W)
    y_s = y[:, None].expand(M, S, y.shape[1]).reshape(M * S, -1)
    loss, delta = cross_entropy_delta(out, y_s)
    grads = [g.view(M, S, *w.shape[1:]) for g, w in zip(mlp_backward(delta, inputs, pre, W), W)]
    loss = loss.view(M, S).mean(1)
    new_mu, new_sigma = [], []
    for m, s, g, e in zip(mu, sigma, grads, eps):
        nm, ns = _bgd_moments_step(m, s, g.mean(1), (g * e).mean(1), eta, scale)
        new_mu.append(nm)
        new_sigma.append(ns)
    return new_mu, new_sigma, loss


def stack_rule(rules: Sequence[PresynapticRule], device) -> StackRule:
    """The constants of M members' rules as one :class:`~synlab.rules.StackRule` (they must share
    ``p_min``, ``p_max`` and ``headroom``)."""
    for attr in ("p_min", "p_max", "headroom"):
        if len({getattr(r, attr) for r in rules}) != 1:
            raise ValueError(f"stacked members must share the rule's {attr}")
    col = lambda vals, dtype=torch.float32: torch.tensor(vals, dtype=dtype, device=device).view(  # noqa: E731
        -1, 1, 1
    )
    return StackRule(
        p_up=col([float(r.p_up) for r in rules]),
        p_down=col([float(r.p_down) for r in rules]),
        g_lim=col([float(r.g_lim) for r in rules]),
        p_freeze=col([float(r.p_freeze) for r in rules]),
        freezes=col([r.freezes for r in rules], torch.bool),
        p_min=rules[0].p_min,
        p_max=rules[0].p_max,
        headroom=rules[0].headroom,
    )


def presynaptic_mlp_step(
    W: Sequence[Tensor],
    release: Sequence[Tensor],
    plastic: Sequence[Tensor],
    U: Sequence[Tensor],
    x: Tensor,
    y: Tensor,
    lr: Tensor,
    rule: StackRule,
    *,
    modulate: bool,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    r"""One SGD step of M bias-free ReLU MLPs of Bernoulli synapses with the release-probability rule
    (Eq. 4) and, with ``modulate``, the consolidated learning rate (Eq. 5); hand-written gradients.

    Per layer: ``W[l]`` expected weights ``(M, out, in)``; ``release[l]`` the release probabilities
    (masks ``U[l] < release[l]``, U uniforms of the same shape); ``plastic[l]`` the probabilities
    the rule moves and the learning rate reads — ``release`` itself, or the ghost control's
    :math:`\tilde p`. ``x`` ``(M, B, in)``, ``y`` ``(M, B)``; ``lr`` ``(M, 1, 1)``; ``rule`` the
    members' constants. Transmission (:func:`~synlab.synapses.transmitted_weight`) and the rule
    (:func:`~synlab.rules.apply_release_rule`) are the reference layer's and rule's, so this is
    what :class:`PresynapticStrategy` / :class:`GhostStrategy` with SGD do, written without
    autograd so that ``torch.compile`` can fuse it. Returns ``(new_W, new_plastic, loss)``,
    ``loss`` of shape ``(M,)``.
    """
    masks = [release_mask(u, p, w.dtype) for w, p, u in zip(W, release, U)]
    eff = [transmitted_weight(m, w, p) for m, w, p in zip(masks, W, release)]
    out, inputs, pre = mlp_forward(x, eff)
    loss, delta = cross_entropy_delta(out, y)
    g_eff = mlp_backward(delta, inputs, pre, eff)  # d loss / d transmitted weight
    new_W: list[Tensor] = list(W)
    new_p: list[Tensor] = list(plastic)
    for l in range(len(W)):
        g = transmitted_weight(masks[l], g_eff[l], release[l])  # d loss / d expected weight
        new_p[l], g = apply_release_rule(plastic[l], g, rule, consolidate=modulate)
        new_W[l] = W[l] - lr * g
    return new_W, new_p, loss


def random_search(space: Mapping[str, tuple], n_trials: int, seed: int) -> list[dict[str, Any]]:
    """``n_trials`` hyperparameter draws from ``space`` (reproducible from ``seed``).

    ``space`` maps a name to ``("log", low, high)`` (log-uniform), ``("uniform", low, high)``,
    ``("int", low, high)`` (inclusive) or ``("choice", [values…])``.
    """
    if n_trials <= 0:
        raise ValueError(f"n_trials must be positive; got {n_trials}")
    rng = random.Random(seed)
    trials = []
    for _ in range(n_trials):
        draw = {}
        for name in sorted(space):
            kind, *args = space[name]
            if kind == "log":
                lo, hi = args
                if not 0 < lo <= hi:
                    raise ValueError(f"log range of {name!r} needs 0 < low <= high; got {args}")
                draw[name] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            elif kind == "uniform":
                draw[name] = float(rng.uniform(*args))
            elif kind == "int":
                draw[name] = int(rng.randint(*args))
            elif kind == "choice":
                draw[name] = rng.choice(list(args[0]))
            else:
                raise ValueError(
                    f"unknown search-space kind {kind!r} for {name!r}; use log, uniform, int or choice"
                )
        trials.append(draw)
    return trials


def merge_tasks(tasks: Sequence[Task]) -> Task:
    """All tasks as one (for joint training): training and test sets concatenated."""
    if not tasks:
        raise ValueError("merge_tasks needs at least one task")
    cat = lambda attr: torch.cat([getattr(t, attr) for t in tasks])  # noqa: E731
    return Task(
        "joint",
        cat("x_train"),
        cat("y_train"),
        cat("x_test"),
        cat("y_test"),
        n_classes=max(t.n_classes for t in tasks),
    )


def validation_split(task: Task, n_val: int, seed: int = 0) -> Task:
    """The task with its test set replaced by ``n_val`` held-out training examples (for tuning)."""
    n = len(task.y_train)
    if not 0 < n_val < n:
        raise ValueError(f"n_val must be in (0, {n}); got {n_val}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(task.y_train.device)
    val, tr = perm[:n_val], perm[n_val:]
    return Task(
        task.name + " [validation]",
        task.x_train[tr],
        task.y_train[tr],
        task.x_train[val],
        task.y_train[val],
        task.n_classes,
    )


# ----------------------------------------------------------------------------- strategies
class Strategy:
    """Base class: owns ``model`` and ``optimizer``; subclasses override the hooks they need."""

    name = "base"
    test_samples = 1  # forward passes averaged at test time (stochastic models use more)
    needs_boundaries = False  # True if after_task must know where a task ends (EWC)

    def setup(self, sizes: Sequence[int], device) -> None:
        self.model = self.build(sizes).to(device)
        self.optimizer = self.make_optimizer()

    def build(self, sizes: Sequence[int]) -> nn.Module:
        return mlp(sizes, nn.Linear, bias=False)

    def make_optimizer(self) -> torch.optim.Optimizer | None:
        return None

    # hooks
    def before_task(self, index: int, task: Task) -> None:
        pass

    def penalty(self) -> Tensor | float:
        return 0.0

    def after_backward(self) -> None:
        pass

    def after_task(self, index: int, task: Task) -> None:
        pass

    def train_step(self, x: Tensor, y: Tensor) -> float:
        """One mini-batch: cross-entropy + penalty, backward, ``after_backward``, optimiser step."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(x), y) + self.penalty()
        loss.backward()
        self.after_backward()
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities, averaged over ``test_samples`` forward passes."""
        return torch.stack([F.softmax(self.model(x), -1) for _ in range(self.test_samples)]).mean(0)

    def stats(self) -> dict[str, float]:
        """Numbers recorded on the curves (e.g. mean release probability)."""
        return {}

    # checkpoints (synlab.checkpoint): a strategy is saved and loaded as one part
    def state_dict(self) -> dict[str, Any]:
        """Everything training has changed: the model, the optimiser and :meth:`extra_state`."""
        state: dict[str, Any] = {"model": self.model.state_dict(), **self.extra_state()}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Put back what :meth:`state_dict` saved, into a strategy set up for the same network."""
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state)

    def extra_state(self) -> dict[str, Any]:
        """What a subclass keeps outside its model and optimiser (tensors, lists, dicts)."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        pass


def _optimizer(params, name: str, lr: float) -> torch.optim.Optimizer:
    if lr <= 0:
        raise ValueError(f"learning rate must be > 0; got {lr}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {name!r}")


class DeterministicStrategy(Strategy):
    """Deterministic ``nn.Linear`` network trained by plain SGD or Adam (no protection)."""

    def __init__(
        self, lr: float = 1e-3, optimizer: str = "adam", name: str = "deterministic"
    ) -> None:
        self.lr, self.optimizer_name, self.name = lr, optimizer, name

    def make_optimizer(self):
        return _optimizer(self.model.parameters(), self.optimizer_name, self.lr)


class PresynapticStrategy(Strategy):
    r"""Bernoulli synapses with presynaptic plasticity (Eq. 4) and optional consolidation (Eq. 5).

    After each backward pass :meth:`PresynapticRule.step` moves every release probability
    (up by :math:`p_\mathrm{up}(1-p)` where :math:`|g|>g_\mathrm{lim}`, else down by
    :math:`p_\mathrm{down}(1-p)`; frozen above :math:`p_\mathrm{freeze}`) and, with
    ``consolidate=True``, multiplies each gradient by :math:`1-p` before the SGD step.
    Predictions average ``test_samples`` sampled release patterns (10 in the authors' code).

    Its constructor takes more than ten parameters on purpose: they are the flat hyperparameter
    records that :func:`make_strategy` passes on from a tuning trial or a config (``lr`` and the
    rule's constants, each a keyword), so a stored ``params`` dict names them one to one.
    """

    def __init__(
        self,
        lr: float,
        *,
        consolidate: bool = True,
        p_up: float = LIFELONG_RULE["p_up"],
        p_down: float = LIFELONG_RULE["p_down"],
        g_lim: float = LIFELONG_RULE["g_lim"],
        p_freeze: float = LIFELONG_RULE["p_freeze"],
        p_min: float = 0.25,
        headroom: bool = True,
        optimizer: str = "sgd",
        test_samples: int = 10,
        name: str | None = None,
        compile: bool = False,
    ) -> None:
        self.lr, self.optimizer_name, self.test_samples = lr, optimizer, int(test_samples)
        self.compile = compile
        # without consolidation nothing is frozen either (both mechanisms are removed, Fig. 5a)
        self.rule = PresynapticRule(
            p_up=p_up,
            p_down=p_down,
            g_lim=g_lim,
            p_min=p_min,
            p_max=1.0,
            p_freeze=p_freeze if consolidate else 1.0,
            headroom=headroom,
            consolidate=consolidate,
        )
        self.name = name or ("presynaptic" if consolidate else "stochastic")

    def build(self, sizes):
        return mlp(sizes, BernoulliLinear, bias=False, p_init=self.rule.p_min)

    def make_optimizer(self):
        opt = _optimizer(self.model.parameters(), self.optimizer_name, self.lr)
        self._layers = [m for m in self.model.modules() if isinstance(m, BernoulliLinear)]
        fusable = (
            self.optimizer_name == "sgd"
            and isinstance(self.model, nn.Sequential)
            and all(isinstance(m, (BernoulliLinear, nn.ReLU)) for m in self.model)
            and all(m.bias is None and m.mask_per == "batch" for m in self._layers)
        )
        self._compiled = fusable and (bool(self.compile))
        self.engine = "fused step, torch.compile" if self._compiled else "autograd"
        if self._compiled:
            dev = self._layers[0].p.device
            self._lr = torch.tensor(float(self.lr), device=dev).view(1, 1, 1)
            self._stack_rule = stack_rule([self.rule], dev)
        return opt

    def _plastic(self) -> list[Tensor]:
        """The probabilities the rule moves (the release probabilities themselves)."""
        return [m.p for m in self._layers]

    def train_step(self, x: Tensor, y: Tensor) -> float:
        """With ``compile``: :func:`presynaptic_mlp_step` compiled, on the
        release masks the model would draw (same random numbers, same numbers up to float rounding)."""
        if not self._compiled:
            return super().train_step(x, y)
        U = [
            torch.rand(m.p.shape, device=m.p.device, dtype=m.p.dtype)[None] for m in self._layers
        ]  # as sample_mask
        plastic = self._plastic()
        W, P, loss = compiled(presynaptic_mlp_step)(
            [m.weight.detach()[None] for m in self._layers],
            [m.p[None] for m in self._layers],
            [q[None] for q in plastic],
            U,
            x[None],
            y[None],
            self._lr,
            self._stack_rule,
            modulate=self.rule.consolidate,
        )
        with torch.no_grad():
            for m, w in zip(self._layers, W):
                m.weight.copy_(w[0])
            for q, new in zip(plastic, P):
                q.copy_(new[0])
        return float(loss[0])

    def after_backward(self) -> None:
        self.rule.step(self.model)

    def _all_p(self) -> Tensor:
        return torch.cat(
            [m.p.flatten() for m in self.model.modules() if isinstance(m, BernoulliLinear)]
        )

    def stats(self):
        p = self._all_p()
        frozen = (p >= self.rule.p_freeze).float().mean().item() if self.rule.p_freeze < 1 else 0.0
        return {"mean_p": p.mean().item(), "frozen": frozen}


class GhostStrategy(PresynapticStrategy):
    r"""Fig. 5a control: consolidation without presynaptic plasticity.

    Release stays at :math:`p = 0.5` for every synapse; *ghost* probabilities :math:`\tilde p`
    (one per synapse, starting at :math:`p_\mathrm{min}`) follow Eq. 4 and scale the learning
    rate by :math:`1-\tilde p` (Eq. 5), with freezing above :math:`p_\mathrm{freeze}`.
    """

    def __init__(self, lr: float, *, release: float = 0.5, **kwargs) -> None:
        kwargs.setdefault("name", "ghost")
        super().__init__(lr, consolidate=True, **kwargs)
        self.release = release

    def build(self, sizes):
        model = mlp(sizes, BernoulliLinear, bias=False, p_init=self.release)
        self.ghost = {
            id(m): torch.full_like(m.p, self.rule.p_min)
            for m in model.modules()
            if isinstance(m, BernoulliLinear)
        }
        return model

    def setup(self, sizes, device):
        super().setup(sizes, device)
        self.ghost = {k: v.to(device) for k, v in self.ghost.items()}

    @torch.no_grad()
    def after_backward(self) -> None:
        r = self.rule
        for m in self.model.modules():
            if isinstance(m, BernoulliLinear) and m.weight.grad is not None:
                g = self.ghost[id(m)]
                new, grad = apply_release_rule(g, m.weight.grad, r, consolidate=True, check=True)
                m.weight.grad.copy_(grad)
                g.copy_(new)

    def _plastic(self):
        return [self.ghost[id(m)] for m in self._layers]

    def extra_state(self):
        return {"ghost": [g.clone() for g in self._plastic()]}  # layer order: ids change

    @torch.no_grad()
    def load_extra_state(self, state):
        for g, saved in zip(self._plastic(), state["ghost"], strict=True):
            g.copy_(saved)

    def _all_p(self):
        return torch.cat([g.flatten() for g in self.ghost.values()])


class EWCStrategy(Strategy):
    r"""Elastic Weight Consolidation (Kirkpatrick et al. 2017).

    After task :math:`k` the diagonal *empirical* Fisher
    :math:`F_{k,i} = \frac1N\sum_n(\partial_{\theta_i}\log p_\theta(y_n|x_n))^2` (true labels, per
    example; :func:`synlab.curvature.empirical_fisher_diag`) on ``fisher_samples`` training
    examples and the weights :math:`\theta^*_k` are stored; later tasks minimise
    :math:`\mathcal L + \frac\lambda2\sum_k\sum_i F_{k,i}(\theta_i-\theta^*_{k,i})^2`
    (one anchor per past task, as in the original paper). The anchors are summed into one
    quadratic after each task (:func:`merge_ewc_anchors`: same value and gradient), so a step
    costs the same after ten tasks as after one. ``fisher_sets``: per task, the images and labels
    to compute its Fisher on instead of its training images (e.g. training images held out from
    training: a memorised training set has a vanishing empirical Fisher).
    """

    needs_boundaries = True

    def __init__(
        self,
        lr: float = 1e-3,
        lam: float = 100.0,
        *,
        optimizer: str = "adam",
        fisher_samples: int = 500,
        name: str = "ewc",
        fisher_sets: Sequence[tuple[Tensor, Tensor]] | None = None,
    ) -> None:
        if fisher_samples <= 0:
            raise ValueError(f"fisher_samples must be positive; got {fisher_samples}")
        self.lr, self.lam, self.optimizer_name = lr, lam, optimizer
        self.fisher_samples, self.name = int(fisher_samples), name
        self.fisher_sets = fisher_sets
        self.anchors: list[tuple[dict[str, Tensor], dict[str, Tensor]]] = []

    def make_optimizer(self):
        self.anchors = []
        self._merged = None
        return _optimizer(self.model.parameters(), self.optimizer_name, self.lr)

    def penalty(self):
        if not self.anchors:
            return 0.0
        if self._merged is None or self._merged[0] != len(
            self.anchors
        ):  # anchors added since the last merge
            self._merged = (len(self.anchors), *merge_ewc_anchors(self.anchors))
        _, A, m, c = self._merged
        return (
            ewc_penalty(dict(self.model.named_parameters()), [(A, m)], self.lam)
            + 0.5 * self.lam * c
        )

    def after_task(self, index, task):
        if self.fisher_sets is not None:
            if index >= len(self.fisher_sets):
                raise ValueError(
                    f"fisher_sets has {len(self.fisher_sets)} sets; task {index} needs one"
                )
            x, y = self.fisher_sets[index]
            x, y = x.to(task.y_train.device), y.to(task.y_train.device)
        else:
            n = min(self.fisher_samples, len(task.y_train))
            idx = torch.randperm(len(task.y_train))[:n].to(task.y_train.device)
            x, y = task.x_train[idx], task.y_train[idx]
        # batches of 100 bound the memory of per-example gradients
        fisher = empirical_fisher_diag(self.model, x, y, batch=100)
        star = {k: v.detach().clone() for k, v in self.model.named_parameters()}
        self.anchors.append((fisher, star))

    def extra_state(self):
        return {"anchors": [[dict(f), dict(s)] for f, s in self.anchors]}

    def load_extra_state(self, state):
        dev = next(self.model.parameters()).device
        self.anchors = [
            ({k: v.to(dev) for k, v in f.items()}, {k: v.to(dev) for k, v in s.items()})
            for f, s in state["anchors"]
        ]
        self._merged = None  # merged again from the anchors: the same sums


class BGDStrategy(Strategy):
    r"""Bayesian Gradient Descent (Zeno et al. 2018): a diagonal Gaussian :math:`\mathcal N(\mu,\sigma^2)`
    over every weight, updated by :func:`bgd_update` from ``mc_samples`` weight samples per
    mini-batch. No task boundaries are needed. Predictions average ``test_samples`` sampled
    networks (``test_samples=0`` predicts with the means). ``batch_sum``: differentiate each
    mini-batch's summed loss, as Zeno et al.'s code does (their optimizer multiplies the mean
    loss's gradient by the batch size), rather than its mean (the default, as synlab's stored BGD
    results were computed); the two differ by the batch size in both the mean and the σ step, so no
    choice of ``eta`` turns one into the other. ``batched``: run the Monte Carlo
    samples as one stacked computation (same numbers as one at a time, fewer passes).
    ``compile``: the batched step as :func:`bgd_mlp_step` compiled
    by ``torch.compile`` (same noise, same numbers up to float rounding; about twice as fast on a
    CPU core). ``engine`` says which step ran.
    """

    def __init__(
        self,
        eta: float = 1.0,
        sigma_init: float = 0.06,
        *,
        mc_samples: int = 10,
        test_samples: int = 10,
        name: str = "bgd",
        batch_sum: bool = False,
        batched: bool = True,
        compile: bool = False,
    ) -> None:
        if sigma_init <= 0 or mc_samples < 1:
            raise ValueError(
                f"need sigma_init > 0 and mc_samples >= 1; got {sigma_init}, {mc_samples}"
            )
        self.eta, self.sigma_init, self.mc_samples = eta, sigma_init, int(mc_samples)
        self.batched, self.batch_sum = bool(batched), bool(batch_sum)
        self.compile = compile
        self.test_samples, self.name = int(test_samples), name

    def make_optimizer(self):
        self.mu = [p.detach().clone() for p in self.model.parameters()]
        self.sigma = [torch.full_like(p, self.sigma_init) for p in self.model.parameters()]
        self._use_batched = self.batched and self._batchable()  # the model is fixed from here on
        self._compiled = self._use_batched and (bool(self.compile))
        self._eta = torch.tensor(float(self.eta), device=self.mu[0].device).view(1, 1, 1)
        self.engine = (
            "fused step, torch.compile"
            if self._compiled
            else "autograd, samples batched"
            if self._use_batched
            else "autograd"
        )
        return None

    def _load(self, eps: list[Tensor] | None) -> None:
        with torch.no_grad():
            for p, mu, s, *e in zip(
                self.model.parameters(), self.mu, self.sigma, *([eps] if eps else [])
            ):
                p.copy_(mu + s * e[0] if e else mu)

    def _batchable(self) -> bool:
        """True if the model is bias-free ``nn.Linear`` layers and parameter-free modules (our MLPs)."""
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        return (
            isinstance(self.model, nn.Sequential)
            and all(m.bias is None for m in linears)
            and len(linears) == len(self.mu)
            and all(isinstance(m, nn.Linear) or not list(m.parameters()) for m in self.model)
        )

    def train_step(self, x, y):
        if self._use_batched:
            return self._train_step_batched(x, y)
        return self._train_step_sequential(x, y)

    def _scale(self, x: Tensor) -> float:
        """The gradients' factor: the batch size with ``batch_sum``, else 1."""
        return float(x.shape[0]) if self.batch_sum else 1.0

    def _train_step_batched(self, x, y):
        """All Monte Carlo samples in one batched pass: weights (S, out, in), ``bmm``. The noise is
        drawn in the sequential step's order, so both give the same update (tested)."""
        S = self.mc_samples
        eps = [[torch.randn_like(m) for m in self.mu] for _ in range(S)]
        E = [torch.stack([e[k] for e in eps]) for k in range(len(self.mu))]
        if self._compiled:
            mu, sigma, loss = compiled(bgd_mlp_step)(
                [m[None] for m in self.mu],
                [s[None] for s in self.sigma],
                [e[None] for e in E],
                x[None],
                y[None],
                self._eta,
                self._scale(x),
            )
            self.mu, self.sigma = [m[0] for m in mu], [s[0] for s in sigma]
            self._load(None)
            return float(loss[0])
        W = [(m + s * e).requires_grad_() for m, s, e in zip(self.mu, self.sigma, E)]
        h = x.unsqueeze(0).expand(S, *x.shape)
        k = 0
        for module in self.model:
            if isinstance(module, nn.Linear):
                h = torch.bmm(h, W[k].transpose(1, 2))
                k += 1
            else:
                h = module(h)
        losses = (
            F.cross_entropy(h.reshape(S * x.shape[0], -1), y.repeat(S), reduction="none")
            .view(S, -1)
            .mean(1)
        )
        grads = torch.autograd.grad(losses.sum(), W)  # sample s's weights only affect loss s
        for k in range(len(self.mu)):
            self.mu[k], self.sigma[k] = bgd_update(
                self.mu[k], self.sigma[k], grads[k], E[k], self.eta, self._scale(x)
            )
        self._load(None)
        return float(losses.mean().detach())

    def _train_step_sequential(self, x, y):
        grads = [[] for _ in self.mu]
        epss = [[] for _ in self.mu]
        total = 0.0
        for _ in range(self.mc_samples):
            eps = [torch.randn_like(m) for m in self.mu]
            self._load(eps)
            self.model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            total += float(loss.detach())
            for k, p in enumerate(self.model.parameters()):
                grads[k].append(p.grad.detach().clone())
                epss[k].append(eps[k])
        for k in range(len(self.mu)):
            self.mu[k], self.sigma[k] = bgd_update(
                self.mu[k],
                self.sigma[k],
                torch.stack(grads[k]),
                torch.stack(epss[k]),
                self.eta,
                self._scale(x),
            )
        self._load(None)
        return total / self.mc_samples

    @torch.no_grad()
    def predict_proba(self, x):
        if self.test_samples == 0:
            self._load(None)
            return F.softmax(self.model(x), -1)
        probs = []
        for _ in range(self.test_samples):
            self._load([torch.randn_like(m) for m in self.mu])
            probs.append(F.softmax(self.model(x), -1))
        self._load(None)
        return torch.stack(probs).mean(0)

    def stats(self):
        return {"mean_sigma": torch.cat([s.flatten() for s in self.sigma]).mean().item()}

    def extra_state(self):
        return {"mu": [m.clone() for m in self.mu], "sigma": [s.clone() for s in self.sigma]}

    def load_extra_state(self, state):
        dev = self.mu[0].device
        self.mu = [m.to(dev) for m in state["mu"]]
        self.sigma = [s.to(dev) for s in state["sigma"]]
        self._load(None)


def make_strategy(
    method: str,
    params: Mapping[str, Any],
    *,
    test_samples: int = 10,
    mc_samples: int | None = None,
    compile: bool = False,
) -> Strategy:
    """A strategy from a method name and a dict of its hyperparameters (as stored in configs).
    ``compile``: the methods with a hand-derived step (presynaptic, stochastic, ghost, bgd)
    run it compiled by ``torch.compile``; the others have one step, autograd's.

    Methods: ``presynaptic``, ``stochastic`` (stochastic synapses, no consolidation), ``ghost``,
    ``deterministic`` (keys ``lr``, ``optimizer``), ``ewc`` (``lr``, ``lam``, ``optimizer``,
    ``fisher_samples``), ``bgd`` (``eta``, ``sigma_init``, ``mc_samples``, optional ``batch_sum``), ``joint`` (as
    ``deterministic``; train it with :func:`train_jointly`).
    """
    p = dict(params)
    if method in ("presynaptic", "stochastic", "ghost"):
        kw = {k: p[k] for k in ("p_up", "p_down", "g_lim", "p_freeze") if k in p}
        kw.update(optimizer=p.get("optimizer", "sgd"), test_samples=test_samples, compile=compile)
        if method == "ghost":
            return GhostStrategy(p["lr"], **kw)
        return PresynapticStrategy(p["lr"], consolidate=method == "presynaptic", **kw)
    if method in ("deterministic", "joint"):
        return DeterministicStrategy(p["lr"], p.get("optimizer", "adam"), name=method)
    if method == "ewc":
        return EWCStrategy(
            p["lr"],
            p["lam"],
            optimizer=p.get("optimizer", "adam"),
            fisher_samples=int(p.get("fisher_samples", 500)),
        )
    if method == "bgd":
        return BGDStrategy(
            p.get("eta", 1.0),
            p.get("sigma_init", 0.06),
            mc_samples=int(mc_samples or p.get("mc_samples", 10)),
            test_samples=test_samples,
            batch_sum=bool(p.get("batch_sum", False)),
            compile=compile,
        )
    raise ValueError(
        f"unknown method {method!r}; choose presynaptic, stochastic, ghost, deterministic, "
        f"joint, ewc or bgd"
    )


# ----------------------------------------------------------------------------- the loop
@dataclass
class ContinualResult:
    """What :func:`train_sequentially` returns.

    ``accuracy[i, j]``: accuracy on task j after learning task i (shape T × T).
    ``curve_step``, ``curve_acc`` (accuracy on each of ``curve_tasks`` every ``eval_every``
    steps, shape (n_points, len(curve_tasks))) and ``curve_stats`` (strategy statistics).
    ``diverged_task``: the first task (a row of ``accuracy``) at whose end the weights were not
    finite, every accuracy from there on being chance; ``None`` if they stayed finite.
    """

    accuracy: np.ndarray
    curve_step: np.ndarray
    curve_acc: np.ndarray
    curve_stats: dict[str, np.ndarray] = field(default_factory=dict)
    steps_per_task: int = 0
    task_ends: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=int)
    )  # step count at each task's end
    engine: str = (
        ""  # which training step ran, where a strategy has several (BGD: autograd or compiled)
    )
    diverged_task: int | None = None

    def task_axis(self, steps) -> np.ndarray:
        """Steps mapped to "tasks learned so far" (0 … T, linear within a task), for plotting curves."""
        return np.interp(
            steps, np.concatenate([[0], self.task_ends]), np.arange(len(self.task_ends) + 1)
        )

    @property
    def average_accuracy(self) -> float:
        """Mean accuracy over all tasks of the final model (Fig. 4c, App. 1—table 1)."""
        return float(self.accuracy[-1].mean())

    @property
    def final_accuracy(self) -> np.ndarray:
        return self.accuracy[-1]


def check_loop(epochs: int, batch_size: int, eval_every: int) -> None:
    """The lifelong loops' shared argument check."""
    if epochs <= 0 or batch_size <= 0 or eval_every <= 0:
        raise ValueError(
            f"epochs, batch_size and eval_every must be positive; got {epochs}, {batch_size}, {eval_every}"
        )


class LifelongHistory:
    """The bookkeeping of a lifelong run of K members (the solo loop: K = 1), shared by
    :func:`train_sequentially` and :func:`synlab.fast.stacked.train_sequentially_stacked`.

    ``curve()`` gives the members' curve accuracies ``(K, len(curve_tasks))``, ``stats()`` one
    statistics dict per member; both are taken at step 0 (at once), then by :meth:`tick` every
    ``eval_every`` training steps (:meth:`record`); :meth:`end_task` fills a row of the accuracy
    matrices and asks ``finite()`` (one bool per member) whether each member's state is still
    finite: the first task at whose end it is not is the member's ``diverged_task``, with a
    warning, since every accuracy from there on is chance. :meth:`results` makes one
    :class:`ContinualResult` per member.
    """

    def __init__(self, K: int, T: int, curve, stats, eval_every: int, finite) -> None:
        self.acc = np.zeros((K, T, T))
        self.steps: list[int] = []
        self.curve_points: list[np.ndarray] = []
        self.stat_points: list[list[dict[str, float]]] = []
        self.ends: list[int] = []
        self.diverged: list[int | None] = [None] * K
        self._curve, self._stats, self.eval_every = curve, stats, eval_every
        self._finite = finite
        self.step = 0
        self.record(0)

    def record(self, step: int) -> None:
        self.steps.append(step)
        self.curve_points.append(np.asarray(self._curve()))
        self.stat_points.append(self._stats())

    def tick(self) -> int:
        """Count one training step (recording the curves when one is due); returns the count."""
        self.step += 1
        if self.step % self.eval_every == 0:
            self.record(self.step)
        return self.step

    def end_task(self, row: int, step: int, accuracy) -> None:
        """Row ``row`` of the accuracy matrices: ``accuracy`` ``(K, T)``, taken at ``step``."""
        self.acc[:, row] = accuracy
        self.ends.append(step)
        for k, ok in enumerate(self._finite()):
            if not ok and self.diverged[k] is None:
                self.diverged[k] = row
                member = (
                    f" (member {k + 1} of {len(self.diverged)})" if len(self.diverged) > 1 else ""
                )
                warnings.warn(
                    f"lifelong run{member}: the weights went non-finite during task {row + 1} of "
                    f"{self.acc.shape[1]}; every accuracy from there on is chance",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def state_dict(self) -> dict[str, Any]:
        """What has been recorded so far, as lists (for checkpoints: floats stay exact)."""
        return {
            "acc": self.acc.tolist(),
            "steps": list(self.steps),
            "curve_points": [c.tolist() for c in self.curve_points],
            "stat_points": self.stat_points,
            "ends": list(self.ends),
            "step": self.step,
            "diverged": list(self.diverged),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.acc = np.array(state["acc"], dtype=float)
        self.steps, self.ends = list(state["steps"]), list(state["ends"])
        self.curve_points = [np.array(c, dtype=float) for c in state["curve_points"]]
        self.stat_points = [[dict(m) for m in point] for point in state["stat_points"]]
        self.step = int(state["step"])
        self.diverged = list(state.get("diverged", self.diverged))  # absent: saved before the check

    def results(self, steps_per_task: int, engine: str) -> list[ContinualResult]:
        curve = np.stack(self.curve_points, 1)  # (K, n_points, len(curve_tasks))
        keys = sorted({k for point in self.stat_points for member in point for k in member})
        return [
            ContinualResult(
                accuracy=self.acc[k],
                curve_step=np.array(self.steps),
                curve_acc=curve[k],
                curve_stats={
                    key: np.array([point[k].get(key, np.nan) for point in self.stat_points])
                    for key in keys
                },
                steps_per_task=steps_per_task,
                task_ends=np.array(self.ends),
                engine=engine,
                diverged_task=self.diverged[k],
            )
            for k in range(len(self.acc))
        ]


@torch.no_grad()
def strategy_accuracy(strategy: Strategy, x: Tensor, y: Tensor, batch_size: int = 10_000) -> float:
    """Accuracy of ``strategy.predict_proba`` on ``(x, y)``.

    A model's accuracy (with mutual information) is :func:`synlab.training.evaluate`.
    """
    correct = 0
    for s in range(0, len(y), batch_size):
        correct += (
            (strategy.predict_proba(x[s : s + batch_size]).argmax(-1) == y[s : s + batch_size])
            .sum()
            .item()
        )
    return correct / max(len(y), 1)


class GlobalRandom:
    """torch's global random generators as one checkpoint part: sampled weights, release masks
    and EWC's Fisher subsets draw from them (the data order has its own generator)."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        torch.set_rng_state(state["cpu"])
        if "cuda" in state:
            torch.cuda.set_rng_state_all(state["cuda"])


def _batches(task: Task, batch_size: int, epochs: int, gen: torch.Generator):
    n = len(task.y_train)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(task.y_train.device)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            yield task.x_train[idx], task.y_train[idx]


def _stream_tasks(stream, strategy: Strategy) -> list[Task]:
    """The tasks of a solo run's stream, checked against the strategy."""
    continuous = isinstance(stream, ContinuousPermutedStream)
    tasks = list(stream.tasks if continuous else stream)
    if not tasks:
        raise ValueError("the stream has no tasks")
    if continuous and strategy.needs_boundaries:
        raise ValueError(f"{strategy.name} needs task boundaries; a continuous stream has none")
    return tasks


def _finite(state) -> bool:
    """Whether every floating-point tensor in ``state`` (nested dicts and lists) is finite."""
    if isinstance(state, Tensor):
        return not state.is_floating_point() or bool(torch.isfinite(state).all())
    if isinstance(state, Mapping):
        return all(_finite(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return all(_finite(v) for v in state)
    return True


def train_sequentially(
    stream: Sequence[Task] | ContinuousPermutedStream,
    strategy: Strategy,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    seed: int = 0,
    device=None,
    hidden: Sequence[int] = (200, 200),
    eval_every: int = 50,
    curve_tasks: Sequence[int] = (0,),
    curve_test: int = 1000,
    checkpoint: Checkpoint | None = None,
) -> ContinualResult:
    """Learn the tasks of ``stream`` one after another with ``strategy`` (see the module docstring).

    For a :class:`~synlab.data.ContinuousPermutedStream` the batches come from the stream
    (``epochs``/``batch_size`` are the stream's business), no task hooks are called, and row
    i of the accuracy matrix is taken at the end of task i's ``steps_per_task``.
    Curves evaluate the first ``curve_test`` test examples of each task in ``curve_tasks``.

    ``checkpoint`` (:class:`synlab.checkpoint.Checkpoint`, task streams only): resume after the
    last task it saved, and save at due task ends (the strategy, the history, the data order's
    and torch's global generators); a resumed run gives the same numbers bitwise.
    """
    continuous = isinstance(stream, ContinuousPermutedStream)
    if continuous and checkpoint is not None:
        raise ValueError("a continuous stream has no task ends to checkpoint at; pass none")
    tasks = _stream_tasks(stream, strategy)
    check_loop(epochs, batch_size, eval_every)
    device = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    tasks = [t.to(device) for t in tasks]
    strategy.setup([tasks[0].x_train.shape[1], *hidden, max(t.n_classes for t in tasks)], device)

    def curve():
        return [[strategy_accuracy(strategy, tasks[j].x_test[:curve_test], tasks[j].y_test[:curve_test])
                 for j in curve_tasks]]  # fmt: skip

    def accuracy_row():
        return [[strategy_accuracy(strategy, t.x_test, t.y_test) for t in tasks]]

    def batches_of(i):
        if continuous:  # the whole stream at once; rows of A are filled at task ends below
            return ((x.to(device), y.to(device)) for x, y, _ in stream) if i == 0 else iter(())
        return _batches(tasks[i], batch_size, epochs, gen)

    T = len(tasks)
    history = LifelongHistory(
        1,
        T,
        curve,
        lambda: [strategy.stats()],
        eval_every,
        lambda: [_finite(strategy.state_dict())],
    )
    parts = {"strategy": strategy, "history": history, "data": gen, "random": GlobalRandom()}
    done = 0 if checkpoint is None else checkpoint.resume(parts)
    for i, task in enumerate(tasks):
        if i < done:  # learned before the run was stopped (its state is loaded)
            continue
        if not continuous:
            strategy.before_task(i, task)
        for x, y in batches_of(i):
            strategy.train_step(x, y)
            step = history.tick()
            if continuous and step % stream.steps_per_task == 0:
                history.end_task(step // stream.steps_per_task - 1, step, accuracy_row())
        if not continuous:
            strategy.after_task(i, task)
            history.end_task(i, history.step, accuracy_row())
        if checkpoint is not None:
            checkpoint.epoch_done(i + 1, parts, last=i + 1 == T, what="task")
    steps_per_task = stream.steps_per_task if continuous else history.step // T
    return history.results(steps_per_task, getattr(strategy, "engine", ""))[0]


def train_jointly(tasks: Sequence[Task], strategy: Strategy, **loop: Any) -> np.ndarray:
    """Train on all tasks at once (the upper bound of Fig. 4c); returns the accuracy on each task.

    ``loop``: :func:`train_sequentially`'s ``epochs``, ``batch_size``, ``seed``, ``device`` and
    ``hidden`` (no curves are recorded)."""
    device = loop.get("device")
    device = torch.device(device) if device is not None else torch.device("cpu")
    tasks = [t.to(device) for t in tasks]
    train_sequentially(
        [merge_tasks(tasks)], strategy, **{**loop, "device": device}, eval_every=10**9
    )
    return np.array([strategy_accuracy(strategy, t.x_test, t.y_test) for t in tasks])
