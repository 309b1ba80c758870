r"""Information and energy measures for networks of (stochastic) synapses.

* :func:`entropy` -- Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i`
  (Shannon 1948; Cover & Thomas 2006, ch. 2).
* :func:`joint_from_predictions`, :func:`mutual_information`,
  :func:`conditional_entropy_from_joint` -- plug-in estimates from a data set of true
  labels :math:`Y` and network outputs :math:`\hat Y`. For soft outputs the
  joint is :math:`P(y,\hat y) = P(y)\,P(\hat y\mid y)` with
  :math:`P(\hat y\mid y)` the softmax output averaged over the examples of
  class :math:`y`, as in Schug, Benzing & Steger (2021). Plug-in estimates
  are biased upwards for small samples (Paninski 2003).
* :func:`synaptic_energy` -- :math:`\sum |\bar w|` over all synapses, the
  metabolic cost of maintaining synaptic strength used by Schug et al. (2021);
  :func:`activity_energy` -- their "activity-based" alternative (Appendix 1,
  figure 1b), :math:`|\bar w_{ij}|` weighted by presynaptic activity.
* :func:`energy_per_bit` and :func:`bits_per_energy` -- the efficiency ratios.

References
----------
* C. E. Shannon (1948). A mathematical theory of communication.
  *Bell System Technical Journal* 27:379-423, 623-656.
* T. M. Cover, J. A. Thomas (2006). *Elements of Information Theory*, 2nd ed. Wiley.
* L. Paninski (2003). Estimation of entropy and mutual information.
  *Neural Computation* 15(6):1191-1253.
* S. Schug, F. Benzing, A. Steger (2021). Presynaptic stochasticity improves
  energy efficiency and helps alleviate the stability-plasticity dilemma.
  *eLife* 10:e69884.
* J. J. Harris, R. Jolivet, D. Attwell (2012). Synaptic energy use and supply.
  *Neuron* 75(5):762-777.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from .synapses import synapse_layers

__all__ = [
    "entropy",
    "joint_from_predictions",
    "mutual_information_from_joint",
    "mutual_information",
    "conditional_entropy_from_joint",
    "synaptic_energy",
    "activity_energy",
    "energy_per_bit",
    "bits_per_energy",
]

ArrayLike = Tensor | np.ndarray | list | tuple

_SUM_TOL = 1e-6
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def _check_base(base: float) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise ValueError(f"base must be a number > 0 and != 1, got {base!r}")
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"base must be a finite number > 0 and != 1, got {base!r}")
    return float(base)


def _as_float(x: ArrayLike, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in _INT_DTYPES):
        raise ValueError(f"{name} must be numeric, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return t


def _as_labels(x: ArrayLike, name: str) -> Tensor:
    """1-D integer class indices (integer-valued floats are accepted)."""
    t = torch.as_tensor(x)
    if t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {tuple(t.shape)}")
    if t.is_floating_point():
        if not torch.isfinite(t).all() or not torch.equal(t, t.round()):
            raise ValueError(f"{name} must contain integer class indices")
        t = t.long()
    elif t.dtype not in _INT_DTYPES:
        raise ValueError(f"{name} must contain integer class indices, got dtype {t.dtype}")
    t = t.long()
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f"{name} must be >= 0, got minimum {int(t.min())}")
    return t


def _check_distribution(p: Tensor, dim: int, name: str) -> None:
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries (minimum {float(p.min()):.3g})")
    sums = p.sum(dim=dim)
    bad = (sums - 1).abs() > _SUM_TOL
    if bad.any():
        worst = float(sums[bad].flatten()[0])
        raise ValueError(
            f"{name} must sum to 1 along dim {dim} (tolerance {_SUM_TOL}); found a sum of "
            f"{worst:.9g}"
        )


# ----------------------------------------------------------------------------
# entropy and mutual information
# ----------------------------------------------------------------------------


def entropy(p: ArrayLike, *, base: float = 2.0, dim: int = -1) -> Tensor:
    r"""Shannon entropy of probability vector(s).

    .. math::
        H(p) = -\sum_i p_i \log_b p_i, \qquad 0 \log 0 := 0 .

    Args:
        p: probabilities; entries :math:`\ge 0` summing to 1 along ``dim``
            (tolerance :math:`10^{-6}`); any further dimensions are a batch.
        base: logarithm base :math:`b` (2 gives bits, :math:`e` nats).
        dim: the dimension holding the distribution.

    Returns:
        tensor with ``dim`` removed (0-dim for a single vector).

    Raises:
        ValueError: for negative entries, wrong sums, an invalid base or ``dim``.
    """
    base = _check_base(base)
    t = _as_float(p, "p")
    if t.dim() == 0:
        raise ValueError("p must have at least one dimension (a probability vector)")
    if not -t.dim() <= dim < t.dim():
        raise ValueError(f"dim={dim} is out of range for p with {t.dim()} dimension(s)")
    _check_distribution(t, dim, "p")
    return -torch.special.xlogy(t, t).sum(dim=dim) / math.log(base)


def joint_from_predictions(
    labels: ArrayLike, predictions: ArrayLike, *, n_classes: int | None = None
) -> Tensor:
    r"""Plug-in joint distribution :math:`P(y, \hat y)` of labels and predictions.

    * Hard predictions (1-D integer class indices): the normalised confusion
      matrix, :math:`P(y,\hat y) = \frac1N\#\{n: y_n=y,\ \hat y_n=\hat y\}`.
    * Soft predictions (an ``(N, C)`` matrix of probabilities, e.g. softmax
      outputs): :math:`P(\hat y\mid y)` is the mean output over the examples
      of class :math:`y` and :math:`P(y)` the empirical label frequency, so
      :math:`P(y,\hat y) = P(y)P(\hat y\mid y) = \frac1N\sum_{n:y_n=y}
      p_n(\hat y)` (Schug et al. 2021). One-hot rows reproduce the hard case.

    Args:
        labels: true class indices, shape ``(N,)``.
        predictions: predicted class indices ``(N,)`` or probabilities ``(N, C)``.
        n_classes: number of classes :math:`C`; default: the number of columns
            of soft predictions, or ``1 + max(labels, predictions)`` for hard ones.

    Returns:
        float64 tensor ``(C, C)``; rows index :math:`y`, columns :math:`\hat y`.

    Raises:
        ValueError: on mismatched lengths, labels out of range, rows of soft
        predictions that are not probability vectors, or an empty data set.
    """
    y = _as_labels(labels, "labels")
    if y.numel() == 0:
        raise ValueError("labels is empty; need at least one example")
    pred = torch.as_tensor(predictions)
    if pred.dim() not in (1, 2):
        raise ValueError(
            "predictions must be class indices of shape (N,) or probabilities of shape (N, C), "
            f"got shape {tuple(pred.shape)}"
        )
    if pred.shape[0] != y.shape[0]:
        raise ValueError(
            f"labels and predictions must have the same length, got {y.shape[0]} and "
            f"{pred.shape[0]}"
        )
    if n_classes is not None and (
        isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1
    ):
        raise ValueError(f"n_classes must be a positive integer or None, got {n_classes!r}")

    if pred.dim() == 1:
        yhat = _as_labels(pred, "predictions")
        c = n_classes if n_classes is not None else int(max(y.max(), yhat.max())) + 1
        if int(yhat.max()) >= c:
            raise ValueError(
                f"predictions must be in [0, {c - 1}] (n_classes={c}), got {int(yhat.max())}"
            )
        soft = torch.nn.functional.one_hot(yhat, c).to(torch.float64)
    else:
        soft = _as_float(pred, "predictions").to(torch.float64)
        c = soft.shape[1]
        if n_classes is not None and n_classes != c:
            raise ValueError(f"n_classes={n_classes} but predictions have {c} columns")
        _check_distribution(soft, 1, "each row of predictions")
    if int(y.max()) >= c:
        raise ValueError(f"labels must be in [0, {c - 1}] (n_classes={c}), got {int(y.max())}")
    onehot_y = torch.nn.functional.one_hot(y, c).to(torch.float64)
    return onehot_y.T @ soft.to(onehot_y.device) / y.shape[0]


def mutual_information_from_joint(joint: ArrayLike, *, base: float = 2.0) -> float:
    r"""Mutual information of a joint table :math:`P(y,\hat y)`.

    .. math::
        I(Y;\hat Y) = \sum_{y,\hat y} P(y,\hat y)
        \log_b \frac{P(y,\hat y)}{P(y)P(\hat y)}
        = \sum_{y,\hat y} P(y,\hat y)\log_b\frac{P(\hat y\mid y)}{P(\hat y)},

    with the marginals taken from the table and :math:`0\log 0 := 0`. Negative
    rounding residue (of order machine precision) is returned as 0.

    Raises:
        ValueError: if ``joint`` is not a 2-D table of probabilities summing to 1.
    """
    base = _check_base(base)
    p = _as_float(joint, "joint").to(torch.float64)
    if p.dim() != 2:
        raise ValueError(f"joint must be a 2-D table, got shape {tuple(p.shape)}")
    _check_distribution(p.reshape(-1), -1, "joint")
    py = p.sum(dim=1, keepdim=True)
    pyhat = p.sum(dim=0, keepdim=True)
    mask = p > 0
    # in log space: the product of two tiny marginals (1e-300 each) would underflow to 0
    log_ratio = (
        torch.log(p[mask]) - torch.log(py.expand_as(p)[mask]) - torch.log(pyhat.expand_as(p)[mask])
    )
    mi = float((p[mask] * log_ratio).sum()) / math.log(base)
    return max(mi, 0.0)


def mutual_information(
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    n_classes: int | None = None,
    base: float = 2.0,
) -> float:
    r"""Plug-in mutual information :math:`I(Y;\hat Y)` between labels and outputs.

    The joint comes from :func:`joint_from_predictions` (hard: confusion
    matrix; soft: :math:`P(y)\,P(\hat y\mid y)` with class-averaged softmax
    outputs, as in Schug et al. 2021) and
    :math:`I = \sum P(y,\hat y)\log_b \frac{P(\hat y\mid y)}{P(\hat y)}`.
    Satisfies :math:`0 \le I \le \min(H(Y), H(\hat Y))`.

    Returns:
        the estimate as a Python float, in bits for ``base=2``.
    """
    joint = joint_from_predictions(labels, predictions, n_classes=n_classes)
    return mutual_information_from_joint(joint, base=base)


def conditional_entropy_from_joint(joint: ArrayLike, *, base: float = 2.0) -> float:
    r"""Conditional entropy :math:`H(Y\mid\hat Y) = H(Y) - I(Y;\hat Y)` of a joint table.

    .. math::
        H(Y\mid\hat Y) = -\sum_{y,\hat y} P(y,\hat y)\log_b P(y\mid\hat y):

    the uncertainty about the label that remains after seeing the network output. From labels
    and outputs, pass ``joint_from_predictions(labels, predictions)``, the joint of
    :func:`mutual_information`.
    """
    p = _as_float(joint, "joint").to(torch.float64)
    mi = mutual_information_from_joint(p, base=base)  # checks the table
    return max(float(entropy(p.sum(dim=1), base=base)) - mi, 0.0)


# ----------------------------------------------------------------------------
# energy
# ----------------------------------------------------------------------------


def _mean_weight(module: nn.Module) -> Tensor | None:
    """The expected weight matrix of a synapse layer, or ``None`` if not one."""
    if hasattr(module, "mean_weight"):
        w = module.mean_weight
        if callable(w) and not isinstance(w, Tensor):
            w = w()
        if not isinstance(w, Tensor):
            raise ValueError(
                f"{type(module).__name__}.mean_weight must be a tensor, got {type(w).__name__}"
            )
        return w
    if isinstance(module, nn.Linear):
        return module.weight
    return None


def synaptic_energy(model_or_weights: nn.Module | Iterable[Tensor]) -> Tensor:
    r"""Synaptic (maintenance) energy :math:`E = \sum_{\ell}\sum_{ij} |\bar w^{(\ell)}_{ij}|`.

    :math:`\bar w` is the expected synaptic strength: ``mean_weight`` of layers
    that define it (Bernoulli synapses: :math:`\bar w = p\,m`; Gaussian:
    :math:`\bar w = \mu`), otherwise the ``weight`` of ``nn.Linear`` layers.
    Biases are excluded. This is the energy measure of Schug et al. (2021).
    The result is differentiable, so it can serve as an energy regulariser.

    Args:
        model_or_weights: a module, or an iterable of weight tensors.

    Raises:
        ValueError: if no synapse layer/weight is found.
    """
    if isinstance(model_or_weights, nn.Module):
        weights = [_mean_weight(m) for m in synapse_layers(model_or_weights)]
    elif isinstance(model_or_weights, Tensor):
        weights = [model_or_weights]
    else:
        try:
            weights = list(model_or_weights)
        except TypeError as err:
            raise ValueError(
                "expected an nn.Module or an iterable of tensors, got "
                f"{type(model_or_weights).__name__}"
            ) from err
        bad = [type(w).__name__ for w in weights if not isinstance(w, Tensor)]
        if bad:
            raise ValueError(f"weights must be tensors, got {bad}")
    if not weights:
        raise ValueError("no synapse weights found (no nn.Linear or layer with mean_weight)")
    return sum(w.abs().sum() for w in weights)


def activity_energy(model: nn.Module, inputs: Tensor) -> Tensor:
    r"""Activity-based synaptic energy (Schug et al. 2021, Appendix 1-figure 1b).

    Each synapse costs in proportion to its expected strength times the
    presynaptic activity it transmits:

    .. math::
        E_\text{act} = \frac1B \sum_{b=1}^B \sum_\ell \sum_{ij}
        |\bar w^{(\ell)}_{ij}|\,|x^{(\ell)}_{bj}|,

    where :math:`x^{(\ell)}_b` is the input of synapse layer :math:`\ell`
    for example :math:`b` (recorded with forward hooks during one forward pass
    of ``inputs``) and :math:`\bar w^{(\ell)}` its ``mean_weight`` (or the
    ``weight`` of an ``nn.Linear``), shape ``(out, in)``. Extra leading
    dimensions of a layer input are treated as more examples. Layers that
    sample noise do so in this forward pass, so downstream activities are
    one sample; call under ``torch.no_grad()`` and in the desired train/eval
    mode.

    Raises:
        ValueError: if the model has no synapse layer or a weight is not 2-D.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    layers = synapse_layers(model)
    if not layers:
        raise ValueError("no synapse layers found (no nn.Linear or layer with mean_weight)")
    terms: list[Tensor] = []

    def hook(module: nn.Module, args: tuple, _output: object) -> None:
        if not args or not isinstance(args[0], Tensor):
            raise ValueError(f"{type(module).__name__} was called without a tensor input")
        w = _mean_weight(module)
        if w.dim() != 2:
            raise ValueError(
                f"{type(module).__name__}: activity energy needs a 2-D (out, in) weight, "
                f"got shape {tuple(w.shape)}"
            )
        x = args[0].reshape(-1, w.shape[1])
        terms.append((x.abs() @ w.abs().sum(dim=0)).mean())

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if not terms:
        raise ValueError("no synapse layer was called in the forward pass")
    return sum(terms)


def energy_per_bit(information_bits: float | Tensor, energy: float | Tensor) -> float | Tensor:
    r"""Energy spent per bit of information, :math:`E / I`.

    Raises:
        ValueError: unless ``energy > 0`` and ``information_bits > 0``.
    """
    _check_positive(energy, "energy")
    _check_positive(information_bits, "information_bits")
    return energy / information_bits


def bits_per_energy(information_bits: float | Tensor, energy: float | Tensor) -> float | Tensor:
    r"""Information per unit energy, :math:`I / E` (the efficiency of Schug et al. 2021).

    Raises:
        ValueError: unless ``energy > 0`` and ``information_bits >= 0``.
    """
    _check_positive(energy, "energy")
    _check_nonnegative(information_bits, "information_bits")
    return information_bits / energy


def _values(x: float | Tensor, name: str) -> Tensor:
    if isinstance(x, bool) or not isinstance(x, (int, float, Tensor)):
        raise ValueError(f"{name} must be a number or tensor, got {type(x).__name__}")
    t = torch.as_tensor(x).detach()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {x!r}")
    return t


def _check_positive(x: float | Tensor, name: str) -> None:
    if not (_values(x, name) > 0).all():
        raise ValueError(f"{name} must be > 0, got {x!r}")


def _check_nonnegative(x: float | Tensor, name: str) -> None:
    if not (_values(x, name) >= 0).all():
        raise ValueError(f"{name} must be >= 0, got {x!r}")
