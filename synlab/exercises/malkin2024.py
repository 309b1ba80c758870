"""Exercise checkers of the malkin2024 part of the book (Malkin et al. 2024)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..costs import optimal_sigma_linear, power_law_bound, sigmas_at_equal_cost
from . import Feedback, Verdicts, close, exercise, wrong_number

#: the (relative, absolute) tolerance of most checks here
_TIGHT = (1e-9, 1e-9)


def _num(f, *args):
    return float(np.asarray(f(*args), dtype=float))


# ----------------------------------------------------------------------------- chapter 1
@exercise("malkin2024.quantal_moments")
def quantal_moments(answer) -> Verdicts:
    """``answer(N, p, q) -> (mean, variance)`` of the binomial quantal model."""
    for N, p, q in [(1, 0.5, 1.0), (10, 0.2, 0.3), (50, 0.9, 0.05)]:
        got = answer(N, p, q)
        try:
            m, v = (float(g) for g in got)
        except (TypeError, ValueError):
            return Feedback(False, "return a pair (mean, variance)")
        case = f"for N={N}, p={p}, q={q}"
        yield wrong_number(
            m,
            N * p * q,
            lambda _: (
                f"{case} the mean should be {N * p * q:g}; you gave {m:g}. Each of N sites "
                "releases with probability p a quantum of size q."
            ),
            tol=_TIGHT,
        )
        variance = N * p * (1 - p) * q**2
        bernoulli = f"you returned N p q² = {v:g}: a Bernoulli count has variance p(1 − p), not p."
        yield wrong_number(
            v,
            variance,
            lambda hint: f"{case} {hint}",
            [(N * p * q**2 if p != 0 else None, bernoulli)],
            default=f"the variance should be {variance:g}; you gave {v:g}. "
            "Hint: the release count is Binomial(N, p), scaled by q.",
            tol=_TIGHT,
            mistake_tol=_TIGHT,
        )
    return Feedback(True, "μ = Npq and σ² = Np(1 − p)q².")


@exercise("malkin2024.vesicle_exponent")
def vesicle_exponent(answer) -> Verdicts:
    """``answer(k) -> rho`` for a cost ∝ N r^k at fixed μ and p (q ∝ r³)."""
    for k in (0.0, 1.0, 2.0, 3.0, 0.5):
        expected = 2 - 2 * k / 3
        got = _num(answer, k)
        yield wrong_number(
            got,
            expected,
            lambda hint: f"for k = {k} expected ρ = {expected:g}; you gave {got:g}. {hint}",
            [(-expected, "Check the sign: the cost falls as σ grows, so ρ > 0 for k < 3.")],
            default="Write r ∝ N^(−1/3) (μ = Npq fixed, q ∝ r³) and σ ∝ N^(−1/2), then cost ∝ "
            "N^(1 − k/3).",
            tol=_TIGHT,
            mistake_tol=(1e-6, 1e-9),
        )
    return Feedback(
        True, "ρ = 2 − 2k/3: trafficking (k = 0) 2, actin (k = 1) 4/3, membrane (k = 2) 2/3."
    )


# ----------------------------------------------------------------------------- chapter 2
@exercise("malkin2024.reliability_cost")
def reliability_cost_ex(answer) -> Verdicts:
    """``answer(sigmas, rho, c) -> total cost`` Σ c σ^−ρ."""
    cases = [
        (np.array([0.1, 1.0, 2.0]), 0.5, 1.0),
        (np.array([0.01, 0.3]), 2.0, 3.0),
        (np.array([0.5]), 4 / 3, 0.1),
    ]
    for s, rho, c in cases:
        expected = float(np.sum(c * s**-rho))
        got = _num(answer, s, rho, c)
        yield wrong_number(
            got,
            expected,
            str,  # each hint below is the whole message
            [
                (
                    float(np.sum(c * s**rho)),
                    f"for σ={s.tolist()}, ρ={rho:g} you used σ^(+ρ): reliability should cost "
                    "more for *smaller* σ.",
                )
            ],
            default=f"for σ={s.tolist()}, ρ={rho:g}, c={c:g} expected {expected:g}; you gave "
            f"{got:g}. Sum c·σ^(−ρ) over synapses.",
            tol=_TIGHT,
            mistake_tol=_TIGHT,
        )
    return Feedback(True, "C = Σ_i c σ_i^(−ρ).")


@exercise("malkin2024.budget_sigmas")
def budget_sigmas(answer) -> Verdicts:
    """``answer(H, rho, budget) -> sigmas`` minimising ½ΣHσ² with Σσ^−ρ = budget."""
    for H, rho, B in [(np.array([10.0, 0.1]), 0.5, 20.0), (np.array([1.0, 4.0, 0.25]), 2.0, 30.0)]:
        expected = sigmas_at_equal_cost(H, rho, B)
        got = np.asarray(answer(H, rho, B), dtype=float)
        if got.shape != expected.shape:
            return Feedback(
                False, f"return one σ per synapse (shape {expected.shape}); got shape {got.shape}"
            )
        spent = float(np.sum(got**-rho))
        case = f"for H={H.tolist()}, ρ={rho:g}"
        says = lambda _: f"{case} your σ's spend Σσ^−ρ = {spent:g}, not the budget {B:g}."
        yield wrong_number(spent, B, says, tol=(1e-6, 0.0))
        if not np.allclose(got, expected, rtol=1e-6):
            want, gave = np.round(expected, 5).tolist(), np.round(got, 5).tolist()
            return Feedback(
                False,
                f"{case} expected σ = {want}; you gave {gave}. "
                "Hint: Lagrange gives σ_i ∝ H_i^(−1/(2+ρ)).",
            )
    return Feedback(True, "σ_i = a·H_i^(−1/(2+ρ)), with a set by the budget.")


# ----------------------------------------------------------------------------- chapter 3
@exercise("malkin2024.optimal_sigma")
def optimal_sigma(answer) -> Verdicts:
    """``answer(H, rho, c, lam) -> sigma*`` of ½Hσ² + λcσ^−ρ."""
    for H, rho, c, lam in [(1.0, 0.5, 1.0, 1.0), (20.0, 2.0, 0.1, 3.0), (1e-3, 4 / 3, 2.0, 0.01)]:
        expected = float(optimal_sigma_linear(H, rho, c, lam))
        got = _num(answer, H, rho, c, lam)
        one_over_one_plus_rho = (lam * c * rho / H) ** (1 / (1 + rho))
        yield wrong_number(
            got,
            expected,
            str,  # the hint below is the whole message
            [
                (
                    one_over_one_plus_rho,
                    "your exponent is 1/(1+ρ): differentiate ½Hσ² to Hσ, and λcσ^−ρ to "
                    "−λcρσ^(−ρ−1).",
                )
            ],
            default=f"for H={H:g}, ρ={rho:g}, c={c:g}, λ={lam:g} expected σ* = {expected:.6g}; "
            f"you gave {got:.6g}. Set the derivative to zero.",
            tol=(1e-8, 1e-9),
            mistake_tol=_TIGHT,
        )
    return Feedback(True, "σ* = (λcρ/H)^(1/(2+ρ)).")


@exercise("malkin2024.hessian_slope")
def hessian_slope(answer) -> Verdicts:
    """``answer(rho) -> d log σ / d log H``."""
    yield from _slope_verdicts(
        answer,
        (0.5, 2 / 3, 4 / 3, 2.0),
        lambda rho: -1 / (2 + rho),
        lambda rho: (
            f"for ρ = {rho:g} you have the right size but the wrong sign: more "
            "important synapses (larger H) are less noisy."
        ),
    )
    return Feedback(True, "log σ = −log H/(2+ρ) + const.")


def _slope_verdicts(answer, rhos, slope, hint_for_1_over_2_plus_rho) -> Iterator[Feedback | None]:
    """The verdict on ``answer(ρ)`` for each ρ of ``rhos``: right if ``slope(ρ)``; the slope
    1/(2+ρ) is a known mistake, explained by ``hint_for_1_over_2_plus_rho(ρ)``."""
    for rho in rhos:
        got, expected = _num(answer, rho), slope(rho)
        hint = hint_for_1_over_2_plus_rho(rho)
        default = f"for ρ = {rho:g} expected {expected:.6g}; you gave {got:.6g}."
        mistakes = [(1 / (2 + rho), hint)]
        yield wrong_number(
            got, expected, str, mistakes, default=default, tol=_TIGHT, mistake_tol=(1e-6, 1e-9)
        )


# ----------------------------------------------------------------------------- chapter 4
@exercise("malkin2024.entropic_bound")
def entropic_bound(answer) -> Feedback:
    """``answer(sigma, rho) -> upper bound on −log σ`` of the form (σ^−ρ − 1)/ρ."""
    for s in (0.01, 0.3, 1.0, 3.0):
        for rho in (0.5, 2.0):
            got = _num(answer, s, rho)
            expected = float(power_law_bound(s, rho))
            if got < -math.log(s) - 1e-12:
                return Feedback(
                    False,
                    f"at σ={s:g}, ρ={rho:g} your value {got:.6g} is below "
                    f"−log σ = {-math.log(s):.6g}: not an upper bound. "
                    "Use log x ≤ x − 1 with x = σ^(−ρ).",
                )
            if not close(got, expected, rel=1e-9, abs_=1e-12):
                return Feedback(
                    False, f"at σ={s:g}, ρ={rho:g} expected {expected:.6g}; you gave {got:.6g}."
                )
    return Feedback(True, "−log σ ≤ (σ^(−ρ) − 1)/ρ, tight at σ = 1 and as ρ → 0.")


@exercise("malkin2024.posterior_slope")
def posterior_slope(answer) -> Verdicts:
    """``answer(rho) -> d log σ / d log σ_post`` with σ_post = H^(−1/2)."""
    yield from _slope_verdicts(
        answer,
        (0.5, 2 / 3, 4 / 3, 2.0, 0.01),
        lambda rho: 2 / (2 + rho),
        lambda rho: "that is the slope against H^(−1); σ_post = H^(−1/2) doubles it.",
    )
    return Feedback(True, "slope 2/(2+ρ) < 1, tending to 1 as ρ → 0.")


# ----------------------------------------------------------------------------- chapter 5
@exercise("malkin2024.normalised_variability")
def normalised_variability(answer) -> Feedback:
    """``answer(mean, var) -> var / |mean|`` elementwise (the quantal model's q(1 − p))."""
    mean, var = np.array([0.3, 1.2, -0.5]), np.array([0.2, 0.1, 0.05])
    got = np.asarray(answer(mean, var), dtype=float)
    expected = var / np.abs(mean)
    if got.shape != expected.shape:
        return Feedback(False, f"return one value per synapse, shape {expected.shape}")
    if np.allclose(got, np.sqrt(var) / np.abs(mean)):
        return Feedback(
            False,
            "you returned the coefficient of variation σ/μ; here we normalise the variance: "
            "σ²/|μ|.",
        )
    if not np.allclose(got, expected):
        want, gave = np.round(expected, 4).tolist(), np.round(got, 4).tolist()
        return Feedback(False, f"expected {want}; got {gave} (use |mean|: a mean can be negative).")
    return Feedback(True, "σ²/μ = q(1 − p) in the quantal model: it falls as p rises.")


@exercise("malkin2024.spearman")
def spearman(answer) -> Verdicts:
    """``answer(x, y) -> Spearman rank correlation`` (no ties)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    for n in (5, 30):
        x = rng.standard_normal(n)
        y = x + rng.standard_normal(n)
        expected = float(spearmanr(x, y).statistic)
        got = _num(answer, x, y)
        pearson = float(np.corrcoef(x, y)[0, 1])
        pearson_hint = "that is Pearson's correlation of the values; rank them first."
        default = f"for n = {n} expected {expected:.6f}; you gave {got:.6f}."
        mistakes = [(pearson, pearson_hint)]
        yield wrong_number(
            got, expected, str, mistakes, default=default, tol=_TIGHT, mistake_tol=_TIGHT
        )
    return Feedback(True, "Spearman's ρ is Pearson's correlation of the ranks.")
