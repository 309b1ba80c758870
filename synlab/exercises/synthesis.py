"""Exercise checkers of the synthesis part of the book.

Each checker tries the student's function on several cases and says which case failed, what
was expected, what was given, and the usual mistake behind that number.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import Feedback, Verdicts, call, exercise, wrong_number

# ----------------------------------------------------------------------------- Spearman by hand
_SPEARMAN_CASES = [
    ("no ties", [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.0]),
    ("reversed", [0.1, 0.5, 0.2, 0.9], [9.0, 5.0, 8.0, 1.0]),
    ("monotone but not linear", [1.0, 2.0, 3.0, 4.0, 10.0], [1.0, 4.0, 9.0, 16.0, 1000.0]),
    (
        "ties (many release probabilities sit at p_min)",
        [0.25, 0.25, 0.25, 0.6, 1.0, 1.0],
        [0.3, 0.1, 0.2, 0.5, 0.9, 0.4],
    ),
    ("ties in both", [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0], [5.0, 6.0, 5.0, 7.0, 7.0, 7.0, 8.0]),
]


def _ordinal_ranks(a):
    return np.argsort(np.argsort(a, kind="stable"), kind="stable") + 1.0


def _pearson(a, b):
    a, b = np.asarray(a, float) - np.mean(a), np.asarray(b, float) - np.mean(b)
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def _spearman_without_ties(x, y):
    """1 − 6Σd²/(n(n²−1)) on the average ranks: Spearman's correlation only if nothing ties."""
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    n = len(x)
    return 1 - 6 * float(((rx - ry) ** 2).sum()) / (n * (n * n - 1))


def _spearman_mistakes(x, y):
    """The known mistakes of :func:`check_spearman` for the arrays ``x`` and ``y``."""
    return [
        (
            _pearson(x, y),
            "this is the Pearson correlation of the values themselves: correlate "
            "their ranks instead.",
        ),
        (
            _pearson(_ordinal_ranks(x), _ordinal_ranks(y)),
            "ties are broken by position (argsort of argsort): tied values must share "
            "the average of their ranks (scipy.stats.rankdata does this).",
        ),
        (
            lambda g: _spearman_without_ties(x, y),
            "1 − 6Σd²/(n(n²−1)) is exact only without ties; with ties use the Pearson "
            "correlation of the average ranks.",
        ),
    ]


@exercise("synthesis.spearman")
def check_spearman(spearman) -> Verdicts:
    """``spearman(x, y)``: Pearson correlation of the average ranks (ties share their mean rank)."""
    for name, x, y in _SPEARMAN_CASES:
        expected = float(stats.spearmanr(x, y).statistic)
        given = call(spearman, np.array(x), np.array(y))
        yield wrong_number(
            given,
            expected,
            lambda hint: (
                f"case '{name}': x={x}, y={y}: expected {expected:.6f}, got {given!r}. Hint: {hint}"
            ),
            _spearman_mistakes(x, y),
            default="rank both arrays (1 = smallest), give tied values the mean of the ranks they "
            "occupy, then take the Pearson correlation of the two rank vectors.",
            tol=(1e-9, 1e-9),
            mistake_tol=(1e-9, 0.0),
        )
    return Feedback(
        True,
        f"your Spearman correlation matches scipy on {len(_SPEARMAN_CASES)} cases, ties included.",
    )


# ----------------------------------------------------------------------------- sigma-Hessian slope
@exercise("synthesis.sigma_slope")
def check_sigma_slope(slope) -> Verdicts:
    """``slope(rho)`` = d log σ* / d log H for σ* minimising ½Hσ² + λcσ^(−ρ): −1/(2+ρ)."""
    cases = [0.5, 2 / 3, 4 / 3, 2.0, 0.1, 5.0]
    for rho in cases:
        expected = -1.0 / (2.0 + rho)
        given = call(slope, rho)
        exponent_hint = "check the exponent: σ·σ^(ρ+1) = σ^(2+ρ)."
        yield wrong_number(
            given,
            expected,
            lambda hint: (
                f"slope(rho={rho:.4g}): expected {expected:.6f}, got {given!r}. Hint: {hint}"
            ),
            [
                (
                    -expected,
                    "wrong sign: more curvature means *less* noise, so the slope is negative.",
                ),
                (
                    lambda g: math.isclose(g, -0.5, rel_tol=1e-9),
                    "−1/2 is the slope of the posterior s.d. 1/√H (the entropic limit ρ → 0); "
                    "the power-law cost changes the exponent to −1/(2+ρ).",
                ),
                (-1.0 / rho, exponent_hint),
                (-1.0 / (1.0 + rho), exponent_hint),
                (-2.0 / (2.0 + rho), "that is the slope of σ² (the variance), not of σ."),
            ],
            default="set d/dσ [½Hσ² + λcσ^(−ρ)] = 0: Hσ = λcρσ^(−ρ−1), so σ^(2+ρ) = λcρ/H. "
            "Take logs and read off the coefficient of log H.",
            tol=(1e-6, 1e-12),
        )
    return Feedback(
        True,
        "d log σ*/d log H = −1/(2+ρ): with ρ = 1/2 a tenfold curvature lowers σ by 10^0.4 ≈ 2.5×.",
    )


# ------------------------------------------------------------------------ why SNR pruning works
@exercise("synthesis.snr_entropic")
def check_snr_entropic(snr) -> Verdicts:
    """``snr(mu, H, lam)``: |μ|/σ* for σ* minimising ½Hσ² − λ log σ, i.e. |μ|·sqrt(H/λ)."""
    cases = [
        (1.0, 1.0, 1.0),
        (0.5, 4.0, 1.0),
        (-2.0, 0.25, 0.5),
        (0.1, 100.0, 0.01),
        (-0.3, 1e-3, 2.0),
    ]
    for mu, H, lam in cases:
        expected = abs(mu) * math.sqrt(H / lam)
        given = call(snr, mu, H, lam)
        yield wrong_number(
            given,
            expected,
            lambda hint: (
                f"snr(mu={mu}, H={H}, lam={lam}): expected {expected:.6g}, got {given!r}. "
                f"Hint: {hint}"
            ),
            [
                (expected**2, "you returned (μ/σ)² = Hμ²/λ; take the square root."),
                (
                    mu * math.sqrt(H / lam) if mu < 0 else None,
                    "use |μ|: a strong negative weight is as important as a strong positive one.",
                ),
                (
                    abs(mu) * math.sqrt(lam / H),
                    "H and λ are swapped: more curvature means less noise, hence a larger SNR.",
                ),
                (abs(mu) * H / lam, "σ* = sqrt(λ/H), not λ/H."),
            ],
            default="minimise ½Hσ² − λ log σ: Hσ = λ/σ, so σ*² = λ/H (the Laplace posterior "
            "variance); then divide |μ| by σ*.",
            tol=(1e-6, 1e-12),
        )
    return Feedback(
        True,
        "|μ|/σ* = |μ|·sqrt(H/λ): its square is 2/λ times the deletion cost ½Hμ², so pruning "
        "the lowest SNR first is Optimal Brain Damage in disguise.",
    )
