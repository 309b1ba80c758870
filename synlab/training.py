r"""One small training loop for classifiers with (stochastic) synapses, and their evaluation.

:func:`train_classifier` trains any ``nn.Module`` that maps flat inputs to logits (an MLP of
:class:`~synlab.synapses.BernoulliLinear`, :class:`~synlab.synapses.GaussianLinear` or
``nn.Linear`` layers) with plain mini-batch SGD on the cross-entropy loss, optionally applying
a :class:`~synlab.rules.PresynapticRule` after every backward pass. One step is

.. math:: g = \nabla_{\bar w} L(\bar w, p), \quad p \leftarrow \text{rule}(p, g), \quad
          \bar w \leftarrow \bar w - \eta\,(g + \lambda \bar w),

with :math:`\lambda` the weight decay (the :math:`\ell_2` penalty
:math:`\tfrac{\lambda}{2}\lVert\bar w\rVert^2`). The rule sees the gradient of the loss alone,
before weight decay (as in Schug et al.'s code; with ``rule.consolidate`` the gradient is scaled
by :math:`p_{\max}-p` and the decay added afterwards by the optimiser).

Data stay on the device as tensors (no ``DataLoader``): each epoch is one seeded permutation.
Release masks are drawn from torch's global generator inside the layers, so a ``seed`` seeds
both the shuffling and the masks; a run is reproducible on the same device and torch version.

:func:`evaluate` averages the softmax outputs of ``n_samples`` stochastic forward passes (one
release mask per pass, shared by all test examples, as in the authors' code) and reports the
accuracy of that predictive distribution and the soft mutual information
:math:`I(Y;\hat Y)` of :func:`synlab.information.mutual_information`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .device import default_device
from .information import mutual_information
from .rules import PresynapticRule
from .synapses import BernoulliLinear, GaussianLinear

__all__ = [
    "TrainHistory",
    "Evaluation",
    "train_classifier",
    "evaluate",
    "sampling",
    "is_stochastic",
    "release_probabilities",
    "cpu_threads",
]


@dataclass
class TrainHistory:
    """What :func:`train_classifier` records, one entry per epoch (``test_*`` when test data given)."""

    loss: list[float] = field(default_factory=list)  # mean training loss of the epoch
    train_accuracy: list[float] = field(default_factory=list)  # on the mini-batches (stochastic)
    test_accuracy: list[float] = field(default_factory=list)
    mean_p: list[float] = field(default_factory=list)  # mean release probability (nan if none)
    steps: int = 0
    wall_time_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": list(self.loss),
            "train_accuracy": list(self.train_accuracy),
            "test_accuracy": list(self.test_accuracy),
            "mean_p": list(self.mean_p),
            "steps": self.steps,
            "wall_time_s": self.wall_time_s,
        }


@dataclass
class Evaluation:
    """Result of :func:`evaluate`."""

    accuracy: float  # of the arg-max of the averaged softmax
    probs: Tensor  # (N, C) softmax outputs averaged over the samples
    mutual_information: float  # bits, soft estimate (Schug et al. 2021)
    loss: float  # cross entropy of the averaged prediction (nats)
    sample_accuracy: float  # mean accuracy of the single samples


def is_stochastic(model: nn.Module) -> bool:
    """True if ``model`` contains a layer that samples its synapses."""
    return any(isinstance(m, (BernoulliLinear, GaussianLinear)) for m in model.modules())


def release_probabilities(model: nn.Module) -> list[Tensor]:
    """The ``p`` buffer of every :class:`BernoulliLinear` layer of ``model``, in order."""
    return [m.p for m in model.modules() if isinstance(m, BernoulliLinear)]


@contextlib.contextmanager
def sampling(model: nn.Module, on: bool = True) -> Iterator[nn.Module]:
    """Context in which ``model`` is in eval mode but its stochastic layers keep sampling.

    With ``on=False`` they use their mean weights instead. Restores the previous modes.
    """
    layers = [m for m in model.modules() if isinstance(m, (BernoulliLinear, GaussianLinear))]
    old = [m.sample_in_eval for m in layers]
    was_training = model.training
    model.eval()
    for m in layers:
        m.sample_in_eval = on
    try:
        yield model
    finally:
        for m, o in zip(layers, old):
            m.sample_in_eval = o
        model.train(was_training)


@contextlib.contextmanager
def cpu_threads(n: int | None = 1, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (restored afterwards); a no-op off the CPU or for ``None``.

    The networks of these papers are small (batches of 100 through 784x200 matrices), so one
    thread is about as fast as two on a quiet machine and many times faster on a shared, busy
    one, where threads of several processes oversubscribe the cores (measured here: 5-8 ms
    against 50-120 ms per SGD step of the 784-200-200-10 Bernoulli network).
    """
    dev = torch.device(device) if device is not None else default_device()
    if n is None or dev.type != "cpu":
        yield
        return
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer or None; got {n}")
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _split_data(data: Any) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Accept a :class:`~synlab.data.Dataset`/``Task`` or a tuple ``(x, y[, x_test, y_test])``."""
    if hasattr(data, "x_train"):
        return (
            data.x_train,
            data.y_train,
            getattr(data, "x_test", None),
            getattr(data, "y_test", None),
        )
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return (*data, None, None)[:4] if len(data) == 2 else tuple(data)  # type: ignore[return-value]
    raise ValueError(
        "data must be a Dataset/Task (x_train, y_train, x_test, y_test) or a tuple (x, y) "
        f"or (x, y, x_test, y_test); got {type(data).__name__}"
    )


def _check_xy(x: Tensor, y: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise ValueError(f"{name}: inputs and labels must be tensors")
    if x.dim() != 2 or y.dim() != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name}: need inputs (N, D) and labels (N,); got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name}: no examples")


def _check_settings(epochs, batch_size, lr, weight_decay, eval_every) -> None:
    """Reject training settings of :func:`train_classifier` that are out of range."""
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs}")
    if int(batch_size) != batch_size or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0; got {eval_every}")


def train_classifier(
    model: nn.Module,
    data: Any,
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 0.05,
    weight_decay: float = 0.0,
    rule: PresynapticRule | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    eval_every: int = 0,
    n_eval_samples: int = 10,
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
    callback: Callable[[nn.Module, int, TrainHistory], None] | None = None,
) -> TrainHistory:
    r"""Train ``model`` in place with mini-batch SGD on the cross-entropy loss.

    14 parameters, all but ``model`` and ``data`` keyword-only with the paper's defaults: each is
    one knob of the training protocol that callers name at the call, so a settings object would
    only move the names (the experiments' frozen configs already group them per experiment).

    Args:
        model: maps ``(B, D)`` inputs to ``(B, C)`` logits; moved to ``device``.
        data: a :class:`~synlab.data.Dataset` (or ``Task``), or ``(x, y)`` / ``(x, y, x_test, y_test)``.
        epochs: passes through the training set (each a fresh permutation; the last
            mini-batch may be smaller).
        batch_size: examples per step (Schug et al.: 100).
        lr: SGD learning rate :math:`\eta` (Schug et al., energy runs: 0.05).
        weight_decay: :math:`\lambda`, added to the gradient by the optimiser (the paper's
            :math:`\ell_2` regularisation); the rule never sees it.
        rule: a :class:`~synlab.rules.PresynapticRule` applied after each backward pass, or
            None to keep release probabilities fixed.
        seed: seeds torch's global generator (release masks) and, unless ``generator`` is
            given, the shuffling.
        generator: a ``torch.Generator`` on the CPU for the shuffling.
        device: where to train (default :func:`~synlab.device.default_device`).
        eval_every: evaluate on the test data every this many epochs (0: never).
        n_eval_samples: Monte Carlo samples of those evaluations.
        optimizer: factory ``optimizer(params, lr=..., weight_decay=...)``; default SGD.
        callback: called as ``callback(model, epoch, history)`` after every epoch.

    Returns:
        the :class:`TrainHistory`.
    """
    _check_settings(epochs, batch_size, lr, weight_decay, eval_every)
    dev = torch.device(device) if device is not None else default_device()
    x, y, x_test, y_test = _split_data(data)
    _check_xy(x, y, "training data")
    if eval_every and (x_test is None or y_test is None):
        raise ValueError("eval_every > 0 needs test data (x_test, y_test)")
    x, y = x.to(dev), y.to(dev)
    if x_test is not None:
        x_test, y_test = x_test.to(dev), y_test.to(dev)
    model.to(dev)
    if seed is not None:
        torch.manual_seed(seed)
        if generator is None:
            generator = torch.Generator().manual_seed(seed)
    params = [q for q in model.parameters() if q.requires_grad]
    make_opt = optimizer or torch.optim.SGD
    opt = make_opt(params, lr=lr, weight_decay=weight_decay)
    hist = TrainHistory()
    n = x.shape[0]
    t0 = time.perf_counter()
    for epoch in range(int(epochs)):
        model.train()
        perm = torch.randperm(n, generator=generator).to(dev)
        tot_loss = torch.zeros((), device=dev)
        tot_correct = torch.zeros((), device=dev)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            if rule is not None:
                rule.step(model)
            opt.step()
            hist.steps += 1
            tot_loss += loss.detach() * len(idx)
            tot_correct += (logits.detach().argmax(1) == yb).sum()
        hist.loss.append(float(tot_loss) / n)
        hist.train_accuracy.append(float(tot_correct) / n)
        ps = release_probabilities(model)
        hist.mean_p.append(
            float(torch.cat([p.flatten() for p in ps]).mean()) if ps else float("nan")
        )
        if eval_every and (epoch + 1) % eval_every == 0:
            hist.test_accuracy.append(
                evaluate(model, x_test, y_test, n_samples=n_eval_samples).accuracy
            )
        if callback is not None:
            callback(model, epoch, hist)
    hist.wall_time_s = time.perf_counter() - t0
    return hist


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    n_samples: int = 10,
    *,
    batch_size: int | None = None,
    stochastic: bool = True,
) -> Evaluation:
    r"""Accuracy, averaged softmax outputs and mutual information of ``model`` on ``(x, y)``.

    Each of the ``n_samples`` passes draws one release mask per stochastic layer, shared by all
    examples (or by each chunk of ``batch_size`` examples), as in training. The prediction is the
    average softmax :math:`\bar q(\hat y\mid x) = \frac1S\sum_s q_s(\hat y\mid x)`; the mutual
    information is the soft estimate :math:`I(Y;\hat Y)` with
    :math:`P(\hat y\mid y)` the class average of :math:`\bar q`. Deterministic models (or
    ``stochastic=False``, which uses mean weights) need one pass.
    """
    _check_xy(x, y, "evaluation data")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples}")
    dev = next(model.parameters()).device
    x, y = x.to(dev), y.to(dev)
    stochastic = stochastic and is_stochastic(model)
    s = int(n_samples) if stochastic else 1
    bs = batch_size or x.shape[0]
    probs = torch.zeros(x.shape[0], 0, device=dev)
    sample_correct = 0.0
    with sampling(model, on=stochastic):
        for _ in range(s):
            outs = torch.cat(
                [F.softmax(model(x[i : i + bs]), dim=1) for i in range(0, x.shape[0], bs)]
            )
            if probs.shape[1] == 0:
                probs = torch.zeros_like(outs)
            probs += outs / s
            sample_correct += float((outs.argmax(1) == y).float().mean()) / s
    probs64 = probs.double()
    probs64 = probs64 / probs64.sum(1, keepdim=True)
    acc = float((probs.argmax(1) == y).float().mean())
    loss = float(-torch.log(probs64.gather(1, y.view(-1, 1)).clamp_min(1e-12)).mean())
    mi = mutual_information(y.cpu(), probs64.cpu(), n_classes=probs.shape[1])
    return Evaluation(acc, probs.cpu(), mi, loss, sample_correct)


def numpy_history(hist: TrainHistory) -> dict[str, np.ndarray]:
    """The per-epoch lists of ``hist`` as numpy arrays (for the results store)."""
    return {
        k: np.asarray(v, dtype=np.float64) for k, v in hist.as_dict().items() if isinstance(v, list)
    }
