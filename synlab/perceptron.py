r"""The standard and the presynaptically consolidated stochastic perceptron (Schug et al. 2021,
Fig. 5b/c).

A perceptron with :math:`N` inputs memorises random patterns :math:`x\in\{-1,1\}^N` with random
labels :math:`y\in\{-1,1\}` (Methods, Eq. 11): :math:`\hat y = \mathrm{sign}(\sum_i w_i x_i)`.
Rosenblatt's rule, averaged over mini-batches of ``batch`` patterns (the paper: 5), gives the
update of the expected strengths

.. math:: g_i = \frac{\eta}{B}\sum_{b=1}^{B} \mathbb 1[y_b\,h_b \le 0]\; y_b\,x_{b,i},
          \qquad h_b = \sum_i w_i x_{b,i}.

The *stochastic* perceptron transmits through Bernoulli synapses, :math:`w_i = r_i\bar w_i/p_i`
with :math:`r_i\sim\mathrm{Bernoulli}(p_i)` (one release pattern per pattern presented);
:math:`g_i` drives the release probabilities by Eq. 4
and, with consolidation, :math:`\bar w_i \leftarrow \bar w_i + (1-p_i)\,g_i` (Eq. 5, with the
old :math:`p_i`), release probabilities frozen above :math:`p_\mathrm{freeze}`: both steps are
:func:`synlab.rules.apply_release_rule`, the transmission
:func:`synlab.synapses.transmitted_weight`. The standard perceptron is the same loop with
deterministic weights and :math:`\bar w_i \leftarrow \bar w_i + g_i`.

Everything is vectorised over independent repetitions (leading dimension ``R``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .rules import PresynapticRule, apply_release_rule
from .synapses import release_mask, transmitted_weight

__all__ = [
    "random_patterns",
    "perceptron_update",
    "PerceptronParams",
    "train_perceptron_sequentially",
    "perceptron_accuracy",
]


def random_patterns(
    n_reps: int, n_tasks: int, n_patterns: int, n_inputs: int, seed: int = 0, dtype=torch.float32
) -> tuple[Tensor, Tensor]:
    """Random ±1 patterns and labels: ``x`` (R, T, P, N) and ``y`` (R, T, P)."""
    for name, v in (
        ("n_reps", n_reps),
        ("n_tasks", n_tasks),
        ("n_patterns", n_patterns),
        ("n_inputs", n_inputs),
    ):
        if int(v) != v or v <= 0:
            raise ValueError(f"{name} must be a positive integer; got {v}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (n_reps, n_tasks, n_patterns, n_inputs), generator=g).to(dtype) * 2 - 1
    y = torch.randint(0, 2, (n_reps, n_tasks, n_patterns), generator=g).to(dtype) * 2 - 1
    return x, y


def perceptron_update(w: Tensor, x: Tensor, y: Tensor, lr: float = 1.0) -> Tensor:
    r"""Rosenblatt's update averaged over a mini-batch: :math:`\frac{\eta}{B}\sum_b \mathbb 1[y_b
    h_b\le0]\,y_b x_b`.

    ``w`` (R, N) are the weights used for the forward pass (sampled or deterministic),
    ``x`` (R, B, N), ``y`` (R, B). Returns the update (R, N). A pattern exactly on the
    boundary (:math:`h = 0`) counts as an error, so learning starts from ``w = 0``.
    """
    if x.dim() != 3 or w.shape != (x.shape[0], x.shape[2]) or y.shape != x.shape[:2]:
        raise ValueError(
            f"need w (R, N), x (R, B, N), y (R, B); got {tuple(w.shape)}, {tuple(x.shape)}, "
            f"{tuple(y.shape)}"
        )
    h = torch.einsum("rbn,rn->rb", x, w)
    wrong = (y * h <= 0).to(x.dtype)
    return lr * torch.einsum("rb,rbn->rn", wrong * y, x) / x.shape[1]


@torch.no_grad()
def perceptron_accuracy(
    w_bar: Tensor,
    x: Tensor,
    y: Tensor,
    p: Tensor | None = None,
    samples: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Accuracy per repetition on patterns ``x`` (R, P, N), labels ``y`` (R, P).

    With ``p`` and ``samples > 0`` the output is computed through sampled release patterns
    (one pattern per draw, shared by all test patterns, as a mini-batch shares its mask in the
    MLP) and the accuracy averaged over ``samples`` draws; otherwise the expected weights
    ``w_bar`` are used.
    """
    if p is None or samples == 0:
        return (torch.sign(torch.einsum("rpn,rn->rp", x, w_bar)) == y).float().mean(-1)
    u = torch.rand((samples, *p.shape), generator=generator, dtype=x.dtype)
    h = torch.einsum("rpn,srn->srp", x, transmitted_weight(release_mask(u, p, x.dtype), w_bar, p))
    accs = (torch.sign(h) == y).float().mean(-1)
    return accs.mean(0)


@dataclass(frozen=True)
class PerceptronParams:
    """Metaplasticity constants of the perceptron experiment (Schug et al. 2021, Methods)."""

    lr: float = 1.0  # η; the sign perceptron started at w = 0 is invariant to it (our choice)
    batch: int = 5  # updates averaged over 5 patterns (Methods)
    passes: int = 25  # passes through each task's patterns (Methods)
    g_lim: float = 0.1  # Methods
    p_up: float = 0.2  # Methods
    p_down: float = 0.2  # Methods
    p_min: float = 0.25  # Methods
    p_freeze: float = 0.9  # Methods
    headroom: bool = (
        True  # the (1 − p) scaling of Δp, as in the authors' MLP code (our assumption here)
    )
    eval_samples: int = 10  # sampled release patterns per accuracy evaluation (our choice)

    def __post_init__(self):
        if self.batch <= 0 or self.passes <= 0 or self.lr <= 0:
            raise ValueError(
                f"batch, passes and lr must be positive; got {self.batch}, {self.passes}, {self.lr}"
            )
        if not 0 < self.p_min <= self.p_freeze <= 1:
            raise ValueError(f"need 0 < p_min <= p_freeze <= 1; got {self.p_min}, {self.p_freeze}")

    @property
    def rule(self) -> PresynapticRule:
        """The release rule (Eq. 4) with consolidation (Eq. 5) of these constants (p_max = 1)."""
        return PresynapticRule(
            p_up=self.p_up,
            p_down=self.p_down,
            g_lim=self.g_lim,
            p_min=self.p_min,
            p_max=1.0,
            p_freeze=self.p_freeze,
            headroom=self.headroom,
            consolidate=True,
        )


@torch.no_grad()
def train_perceptron_sequentially(
    x: Tensor,
    y: Tensor,
    *,
    consolidated: bool,
    params: PerceptronParams = PerceptronParams(),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train R perceptrons in parallel on T tasks in sequence.

    ``consolidated=False``: the standard perceptron (deterministic weights, averaged updates).
    ``consolidated=True``: Bernoulli synapses with presynaptic plasticity and consolidation.

    Returns ``accuracy`` (R, T, T) — accuracy on task j after learning task i —,
    ``first_task`` (R, T·passes + 1) accuracy on task 0 after every pass, and ``mean_p``
    (R, T) the mean release probability after each task (1 for the standard perceptron).
    """
    if x.dim() != 4 or y.shape != x.shape[:3]:
        raise ValueError(
            f"need x (R, T, P, N) and y (R, T, P); got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    R, T, P, N = x.shape
    B = params.batch
    if P % B:
        raise ValueError(f"the number of patterns per task ({P}) must be a multiple of batch={B}")
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(R, N, dtype=x.dtype)
    p = torch.full((R, N), params.p_min if consolidated else 1.0, dtype=x.dtype)
    samples = params.eval_samples if consolidated else 0
    rule = params.rule

    def acc_on(j):
        return perceptron_accuracy(w, x[:, j], y[:, j], p if consolidated else None, samples, gen)

    acc = np.zeros((R, T, T))
    first = [acc_on(0).numpy()]
    mean_p = np.zeros((R, T))
    for t in range(T):
        for _ in range(params.passes):
            order = torch.randperm(P, generator=gen)
            for s in range(0, P, B):
                xb, yb = x[:, t, order[s : s + B]], y[:, t, order[s : s + B]]
                if consolidated:
                    r = release_mask(torch.rand((R, N), generator=gen, dtype=x.dtype), p, x.dtype)
                    g = perceptron_update(transmitted_weight(r, w, p), xb, yb, params.lr)
                    p, g = apply_release_rule(p, g, rule, consolidate=True, check=True)
                    w += g
                else:
                    w += perceptron_update(w, xb, yb, params.lr)
            first.append(acc_on(0).numpy())
        acc[:, t] = torch.stack([acc_on(j) for j in range(T)], -1).numpy()
        mean_p[:, t] = p.mean(-1).numpy()
    return {"accuracy": acc, "first_task": np.stack(first, -1), "mean_p": mean_p}
