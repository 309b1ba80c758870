"""Exercise checkers of the Schug et al. 2021 lifelong-learning chapters.

Chapter 5 (consolidation): ``backward_transfer``, ``ewc_penalty``.
Chapter 6 (ablations): ``ghost_step``, ``t_statistic``.
Chapter 7 (perceptron): ``perceptron_step``, ``cover_fraction``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..continual import ewc_penalty as _ewc_penalty
from ..perceptron import perceptron_update
from ..rules import consolidation_factor, update_release_probability
from . import Feedback, Verdicts, close, exercise, wrong_number


def _matrices():
    rng = np.random.default_rng(0)
    yield np.array([[0.9, 0.1], [0.6, 0.95]])
    yield np.eye(3)
    for T in (4, 5):
        yield rng.uniform(0.4, 1.0, (T, T))


def _bwt(A):
    A = np.asarray(A, dtype=float)
    T = A.shape[0]
    return float(np.mean([A[T - 1, j] - A[j, j] for j in range(T - 1)]))


@exercise("schug2021_lifelong.backward_transfer")
def check_backward_transfer(fn) -> Verdicts:
    """``fn(A)`` → mean over j < T−1 of A[T−1, j] − A[j, j] (negative = forgetting)."""
    for A in _matrices():
        want = _bwt(A)
        got = fn(A.copy())
        with_last = float(A[-1].mean() - np.diag(A).mean())
        mistakes = [
            (
                with_last,
                " Hint: leave out the last task — it has not been followed by any other task.",
            ),
            (-want, " Hint: the sign — final accuracy minus accuracy right after learning."),
        ]
        says = lambda hint: f"for A =\n{np.round(A, 3)}\nexpected {want:.4f}, got {got}.{hint}"
        yield wrong_number(got, want, says, mistakes, mistake_tol=(1e-6, 1e-9))
    return Feedback(
        True, "backward transfer is the average change of old tasks' accuracy after all learning."
    )


@exercise("schug2021_lifelong.ewc_penalty")
def check_ewc_penalty(fn) -> Verdicts:
    """``fn(theta, theta_star, fisher, lam)`` → λ/2 Σ F (θ − θ*)² for flat tensors."""
    g = torch.Generator().manual_seed(1)
    for n, lam in ((3, 1.0), (10, 100.0), (50, 0.5)):
        star = torch.randn(n, generator=g)
        theta = star + torch.randn(n, generator=g)
        fisher = torch.rand(n, generator=g)
        want = float(_ewc_penalty({"w": theta}, [({"w": fisher}, {"w": star})], lam))
        got = fn(theta.clone(), star.clone(), fisher.clone(), lam)
        got = float(got)
        case = f"n={n}, λ={lam}: "
        mistakes = [
            (
                2 * want,
                f"{case}got {got:.4g}, twice the expected {want:.4g}. Hint: the factor 1/2.",
            ),
            (want / lam, f"{case}got {got:.4g}; you forgot the strength λ."),
        ]
        default = f"{case}expected {want:.6g}, got {got:.6g}."
        yield wrong_number(
            got, want, str, mistakes, default=default, tol=(1e-5, 1e-9), mistake_tol=(1e-5, 1e-9)
        )
    if float(fn(star, star, fisher, 10.0)) != 0.0:
        return Feedback(False, "the penalty must vanish at the anchor θ = θ*.")
    return Feedback(True, "this is the quadratic (Laplace) penalty EWC adds for each learned task.")


@exercise("schug2021_lifelong.ghost_step")
def check_ghost_step(fn) -> Feedback:
    """``fn(ghost_p, grad, lr, w)`` → (new ghost p, new weight) for the ghost control."""
    kw = dict(
        p_up=0.05, p_down=0.05, g_lim=0.001, p_min=0.25, p_max=1.0, p_freeze=0.9, headroom=True
    )
    g = torch.Generator().manual_seed(2)
    for case in range(3):
        p = torch.rand(20, generator=g) * 0.75 + 0.25
        grad = torch.randn(20, generator=g) * 0.002
        w = torch.randn(20, generator=g)
        want_p = update_release_probability(p, grad, **kw)
        want_w = w - 0.1 * consolidation_factor(p) * grad
        got = fn(p.clone(), grad.clone(), 0.1, w.clone())
        try:
            got_p, got_w = (torch.as_tensor(t, dtype=torch.float32) for t in got)
        except (TypeError, ValueError):
            return Feedback(False, "return a pair (new ghost p, new weight).")
        if not torch.allclose(got_p, want_p, atol=1e-6):
            bad = int((got_p - want_p).abs().argmax())
            return Feedback(
                False,
                f"case {case}: ghost p of synapse {bad} (p={p[bad]:.3f}, "
                f"|g|={grad[bad].abs():.4f}) "
                f"should become {want_p[bad]:.4f}, got {got_p[bad]:.4f}. Check the headroom factor "
                f"(1 − p), freezing at p ≥ 0.9 and the clamp to [0.25, 1].",
            )
        if not torch.allclose(got_w, want_w, atol=1e-6):
            if torch.allclose(got_w, w - 0.1 * consolidation_factor(want_p) * grad, atol=1e-6):
                return Feedback(
                    False,
                    f"case {case}: the weight step must use the ghost p *before* this step's "
                    "update.",
                )
            return Feedback(False, f"case {case}: weights wrong; expected w − lr·(1 − p̃)·g.")
    return Feedback(
        True, "the ghost control consolidates exactly like the model, but release stays at 0.5."
    )


@exercise("schug2021_lifelong.t_statistic")
def check_t_statistic(fn) -> Verdicts:
    """``fn(a, b)`` → Student's two-sample t with pooled variance (scipy.stats.ttest_ind)."""
    from scipy import stats

    cases = [
        ([82.9, 82.91, 82.89], [77.7, 77.2, 78.1]),
        ([1.0, 2.0, 4.0], [2.0, 2.5, 3.0, 5.0]),
        ([0.5, 0.6, 0.55, 0.7], [0.4, 0.45, 0.5]),
    ]
    for a, b in cases:
        want = float(stats.ttest_ind(a, b).statistic)
        got = fn(np.array(a), np.array(b))
        welch = float(stats.ttest_ind(a, b, equal_var=False).statistic)
        yield wrong_number(
            got,
            want,
            lambda hint: f"a={a}, b={b}: expected t = {want:.4f}, got {got}.{hint}",
            [(welch, " That is Welch's t; pool the variances.")],
            default=" Use the unbiased variances (ddof=1), pooled with weights n−1.",
            mistake_tol=(1e-6, 1e-9),
        )
    return Feedback(True, "pooled two-sample t statistic, as in the paper's independent t-tests.")


@exercise("schug2021_lifelong.perceptron_step")
def check_perceptron_step(fn) -> Feedback:
    """``fn(w, X, y)`` (w (N,), X (B, N), y (B,)) → averaged Rosenblatt update (η = 1)."""
    g = torch.Generator().manual_seed(3)
    for B, N in ((5, 10), (5, 50), (1, 7)):
        w = torch.randn(N, generator=g)
        X = torch.randint(0, 2, (B, N), generator=g).float() * 2 - 1
        y = torch.randint(0, 2, (B,), generator=g).float() * 2 - 1
        want = perceptron_update(w[None], X[None], y[None])[0]
        got = torch.as_tensor(fn(w.clone(), X.clone(), y.clone()), dtype=torch.float32)
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-6):
            if got.shape == want.shape and torch.allclose(got, want * B, atol=1e-6):
                return Feedback(
                    False, f"B={B}: your update is B times too large — average over the batch."
                )
            all_ = (X * y[:, None]).mean(0)
            if got.shape == want.shape and torch.allclose(got, all_, atol=1e-6):
                return Feedback(False, f"B={B}: only misclassified patterns (y·h ≤ 0) contribute.")
            return Feedback(
                False,
                f"B={B}, N={N}: expected {want[:4].tolist()}…, got {got.flatten()[:4].tolist()}….",
            )
    return Feedback(True, "averaging over 5 patterns makes |g_i| graded, so Eq. 4 can use it.")


def _cover(P: int, N: int) -> float:
    return 2 * sum(math.comb(P - 1, k) for k in range(N)) / 2**P


@exercise("schug2021_lifelong.cover_fraction")
def check_cover_fraction(fn) -> Feedback:
    """``fn(P, N)`` → fraction of the 2^P dichotomies of P points in general position that a
    perceptron with N inputs (no threshold) realises: 2^{1−P} Σ_{k<N} C(P−1, k) (Cover 1965)."""
    for P, N in ((1, 1), (3, 2), (10, 5), (20, 10), (40, 20), (30, 20), (200, 100), (2000, 1000)):
        want = _cover(P, N)
        got = fn(P, N)
        if not close(got, want, rel=1e-6, abs_=1e-12):
            hint = ""
            if P == 2 * N:
                hint = " Hint: at P = 2N exactly half of the labellings are separable."
            return Feedback(False, f"P={P}, N={N}: expected {want:.6g}, got {got}.{hint}")
    return Feedback(True, "C(P, N)/2^P falls from 1 to 0 around P = 2N: the perceptron's capacity.")
