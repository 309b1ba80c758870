"""Exercise checkers of the schug2021 part (Schug, Benzing & Steger 2021, chapters 1–4)."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

from ..importance import importance_classes as _classes
from ..importance import important_counts
from ..importance import strength_update as _strength_update
from ..information import mutual_information
from . import Feedback, Verdicts, exercise, wrong_number


def _num(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _number(what: str, fn, *args) -> float | Feedback:
    """``fn(*args)`` as a float, or the failing Feedback that says ``what`` gave no number."""
    try:
        return float(fn(*args))
    except (TypeError, ValueError) as err:
        return Feedback(False, f"{what} did not return a number: {err}")


# ----------------------------------------------------------------------------- chapter 1
@exercise("schug2021.strength_update")
def check_strength_update(fn) -> Feedback:
    """``fn(m, p_old, p_new, grad_m, lr)`` -> the new strength m' (Eq. 9), on tensors."""
    g = torch.Generator().manual_seed(3)

    def one_synapse(p_new, grad_m, name):  # m = 0.8, p_old = 0.5, lr = 0.1
        return (
            torch.tensor([0.8]),
            torch.tensor([0.5]),
            torch.tensor([p_new]),
            torch.tensor([grad_m]),
            0.1,
            name,
        )

    cases = [
        one_synapse(0.5, 0.0, "no gradient, p unchanged"),
        one_synapse(0.57, 0.0, "no gradient, p rises"),
        one_synapse(0.5, 0.2, "p unchanged, gradient 0.2"),
    ]
    m = torch.randn(5, generator=g, dtype=torch.float64)
    p0 = 0.25 + 0.75 * torch.rand(5, generator=g, dtype=torch.float64)
    p1 = (p0 + 0.07 * torch.sign(torch.randn(5, generator=g, dtype=torch.float64))).clamp(0.25, 1.0)
    cases.append(
        (m, p0, p1, torch.randn(5, generator=g, dtype=torch.float64), 0.05, "random synapses")
    )
    for m, p0, p1, gm, lr, name in cases:
        want = _strength_update(m.double(), p0.double(), p1.double(), gm.double(), lr)
        got = _num(fn(m, p0, p1, gm, lr))
        if got.shape != tuple(want.shape) or not np.allclose(
            got, want.numpy(), rtol=1e-6, atol=1e-9
        ):
            hint = ""
            if name == "no gradient, p rises":
                hint = (
                    " Hint: with no gradient the expected weight p·m is unchanged, so m must "
                    "shrink by p/p'."
                )
            elif name.startswith("p unchanged"):
                hint = (
                    " Hint: the SGD step acts on w̄ with ∂L/∂w̄ = (1/p)·∂L/∂m, and m' = w̄'/p' — the "
                    "gradient term carries 1/(p·p')."
                )
            return Feedback(
                False,
                f"case '{name}': expected {want.numpy().round(6).tolist()}, got "
                f"{np.round(got, 6).tolist()}.{hint}",
            )
    return Feedback(True, "m' = (p/p')·m − η/(p·p')·∂L/∂m, Eq. 9 of the paper.")


@exercise("schug2021.prob_large_gradient")
def check_prob_large_gradient(fn) -> Verdicts:
    """``fn(fisher, g_lim)`` -> P(|g| > g_lim) for g ~ N(0, F) with F = fisher."""
    for fisher, g_lim in [(1.0, 1.0), (1e-6, 1e-3), (4e-6, 1e-3), (1e-8, 1e-3), (0.3, 0.0)]:
        want = math.erfc(g_lim / math.sqrt(2 * fisher))
        got = _number(f"fn({fisher}, {g_lim})", fn, fisher, g_lim)
        if isinstance(got, Feedback):
            return got
        mistakes = [
            (
                math.erfc(g_lim / math.sqrt(fisher)),
                " Hint: the standard deviation is sqrt(F) and erfc takes x/(sqrt(2)·σ).",
            ),
            (1 - want, " Hint: that is P(|g| <= g_lim), the complement."),
            (want / 2, " Hint: count both tails, g > g_lim and g < −g_lim."),
        ]
        says = lambda hint: (
            f"F = {fisher:g}, g_lim = {g_lim:g}: expected {want:.6g}, got {got:.6g}.{hint}"
        )
        yield wrong_number(got, want, says, mistakes, tol=(1e-6, 1e-12), mistake_tol=(1e-6, 1e-12))
    return Feedback(
        True, "P(|g| > g_lim) = erfc(g_lim / sqrt(2F)), increasing in the Fisher information F."
    )


# ----------------------------------------------------------------------------- chapter 2
@exercise("schug2021.soft_mutual_information")
def check_soft_mutual_information(fn) -> Verdicts:
    """``fn(labels, probs)`` -> soft I(Y; Ŷ) in bits (class-averaged softmax outputs)."""
    rng = np.random.default_rng(0)
    cases = {
        "perfect, uniform labels": (np.arange(4), np.eye(4)),
        "uninformative outputs": (np.array([0, 1, 0, 1]), np.full((4, 2), 0.5)),
    }
    y = rng.integers(0, 3, 60)
    logits = rng.normal(size=(60, 3)) + 2 * np.eye(3)[y]
    cases["random soft outputs"] = (y, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    for name, (labels, probs) in cases.items():
        want = mutual_information(torch.as_tensor(labels), torch.as_tensor(probs))
        got = _number(f"case '{name}'", fn, torch.as_tensor(labels), torch.as_tensor(probs))
        if isinstance(got, Feedback):
            return got
        hard = mutual_information(
            torch.as_tensor(labels), torch.as_tensor(probs.argmax(1)), n_classes=probs.shape[1]
        )
        mistakes = [
            (want * math.log(2), " Hint: you answered in nats; use log base 2 for bits."),
            (
                hard,
                " Hint: that is the hard (arg-max) estimate; average the softmax outputs "
                "per class instead.",
            ),
        ]
        says = lambda hint: f"case '{name}': expected {want:.6f} bits, got {got:.6f}.{hint}"
        yield wrong_number(got, want, says, mistakes, tol=(1e-5, 1e-9), mistake_tol=(1e-5, 1e-9))
    return Feedback(
        True, "I = Σ P(y)P(ŷ|y) log2 P(ŷ|y)/P(ŷ) with P(ŷ|y) the class-averaged softmax."
    )


@exercise("schug2021.matched_release_probability")
def check_matched_release_probability(fn) -> Verdicts:
    """``fn(list_of_p_tensors)`` -> the single p of the fixed control: the mean over all
    synapses."""
    g = torch.Generator().manual_seed(1)
    ps = [
        0.25 + 0.75 * torch.rand(30, 20, generator=g),
        torch.full((5, 30), 0.9),
        torch.full((2, 5), 1.0),
    ]
    want = float(torch.cat([p.flatten() for p in ps]).mean())
    got = _number("your function", fn, ps)
    if isinstance(got, Feedback):
        return got
    layer_mean = float(torch.stack([p.mean() for p in ps]).mean())
    mean_of_means = (
        " Hint: that is the mean of the layer means; weight each layer by its number of synapses."
    )
    says = lambda hint: f"expected {want:.5f}, got {got:.5f}.{hint}"
    yield wrong_number(
        got, want, says, [(layer_mean, mean_of_means)], tol=(1e-5, 0.0), mistake_tol=(1e-5, 0.0)
    )
    return Feedback(
        True,
        "The matched control uses the mean release probability over every synapse of the network.",
    )


# ----------------------------------------------------------------------------- chapter 3
@exercise("schug2021.important_inputs")
def check_important_inputs(fn) -> Feedback:
    """``fn(p, threshold)`` -> number of important (p >= threshold) inputs of each neuron; p is
    (out, in)."""
    p = torch.tensor([[0.95, 0.25, 0.9], [0.25, 0.25, 0.3], [1.0, 0.99, 0.91], [0.5, 0.89, 0.9]])
    for thr in (0.9, 0.5):
        want, wrong_axis = important_counts(p, thr)
        got = _num(fn(p, thr))
        if got.shape != want.shape or not np.array_equal(got, want):
            hint = ""
            if got.shape == wrong_axis.shape and np.array_equal(got, wrong_axis):
                hint = (
                    " Hint: rows of p are the postsynaptic neurons; count along each row (its "
                    "inputs)."
                )
            elif got.shape == want.shape and np.array_equal(got, (p > thr).sum(1).numpy()):
                hint = " Hint: 'at least' the threshold: use >=."
            return Feedback(
                False, f"threshold {thr}: expected {want.tolist()}, got {got.tolist()}.{hint}"
            )
    return Feedback(
        True,
        "Counting along the rows of the (out, in) matrix gives the important inputs per neuron.",
    )


@exercise("schug2021.importance_classes")
def check_importance_classes(fn) -> Feedback:
    """``fn(counts, baseline, n_std)`` -> [n_low, n_medium, n_high] neurons relative to the
    baseline."""
    rng = np.random.default_rng(4)
    baseline = rng.binomial(200, 0.05, size=200)
    counts = np.concatenate(
        [rng.binomial(200, 0.05, 150), rng.integers(25, 40, 30), np.zeros(20, dtype=int)]
    )
    for n_std in (2.0, 1.0):
        want = _classes(counts, baseline, n_std)
        got = _num(fn(counts, baseline, n_std))
        if got.shape != (3,) or not np.array_equal(got, want):
            own = _classes(counts, counts, n_std)
            hint = (
                " Hint: mean and standard deviation come from the shuffled baseline, not from the "
                "counts."
                if got.shape == (3,) and np.array_equal(got, own)
                else ""
            )
            return Feedback(
                False, f"n_std = {n_std}: expected {want.tolist()}, got {got.tolist()}.{hint}"
            )
    return Feedback(
        True,
        "Low/high importance: more than n_std baseline standard deviations below/above the "
        "baseline mean.",
    )


# ----------------------------------------------------------------------------- chapter 4
@exercise("schug2021.relative_change")
def check_relative_change(fn) -> Feedback:
    """``fn(w_before, w_after)`` -> |w_after − w_before| / w_before (arrays)."""
    wb = np.array([0.05, 0.2, 0.1, 0.3])
    wa = np.array([0.1, 0.15, 0.1, 0.6])
    want = np.abs(wa - wb) / wb
    got = _num(fn(wb, wa))
    if got.shape != want.shape or not np.allclose(got, want):
        hint = ""
        if got.shape == want.shape and np.allclose(got, (wa - wb) / wb):
            hint = (
                " Hint: LTD recordings shrink; the size of the change is what matters — take the "
                "absolute value."
            )
        elif got.shape == want.shape and np.allclose(got, np.abs(wa - wb) / wa):
            hint = " Hint: relative to the strength before plasticity."
        return Feedback(
            False, f"expected {want.round(4).tolist()}, got {np.round(got, 4).tolist()}.{hint}"
        )
    return Feedback(True, "|Δw|/w_before, pooled over LTP and LTD.")


@exercise("schug2021.pearson_r")
def check_pearson_r(fn) -> Verdicts:
    """``fn(x, y)`` -> Pearson's correlation coefficient."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.1, 0.9, 40)
    cases = {
        "negative trend": (x, 1.0 - x + 0.2 * rng.normal(size=40)),
        "offset data": (x + 10.0, 3 * x + 0.5 * rng.normal(size=40) + 100.0),
    }
    for name, (a, b) in cases.items():
        want = float(stats.pearsonr(a, b).statistic)
        got = _number(f"case '{name}'", fn, a, b)
        if isinstance(got, Feedback):
            return got
        uncentred = float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))
        mistakes = [
            (uncentred, " Hint: subtract the means first."),
            (
                lambda g: abs(g) > 1,
                " Hint: divide the covariance by both standard deviations; r lies in [−1, 1].",
            ),
        ]
        says = lambda hint: f"case '{name}': expected r = {want:.6f}, got {got:.6f}.{hint}"
        yield wrong_number(got, want, says, mistakes)
    return Feedback(True, "r = cov(x, y) / (σ_x σ_y).")
