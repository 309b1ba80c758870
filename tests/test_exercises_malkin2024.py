"""Every malkin2024 checker: a right answer passes, a typical wrong answer gets its message."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from synlab.costs import optimal_sigma_linear, sigmas_at_equal_cost
from synlab.exercises import check

CASES = [
    (
        "malkin2024.quantal_moments",
        lambda N, p, q: (N * p * q, N * p * (1 - p) * q**2),
        lambda N, p, q: (N * p * q, N * p * q**2),
        "p(1 − p)",
    ),
    ("malkin2024.vesicle_exponent", lambda k: 2 - 2 * k / 3, lambda k: 2 * k / 3 - 2, "sign"),
    (
        "malkin2024.reliability_cost",
        lambda s, r, c: np.sum(c * s**-r),
        lambda s, r, c: np.sum(c * s**r),
        "smaller",
    ),
    (
        "malkin2024.budget_sigmas",
        lambda H, r, B: sigmas_at_equal_cost(H, r, B),
        lambda H, r, B: sigmas_at_equal_cost(H, r, B, homogeneous=True),
        "Lagrange",
    ),
    (
        "malkin2024.optimal_sigma",
        lambda H, r, c, l: optimal_sigma_linear(H, r, c, l),
        lambda H, r, c, l: (l * c * r / H) ** (1 / (1 + r)),
        "1/(1+ρ)",
    ),
    ("malkin2024.hessian_slope", lambda r: -1 / (2 + r), lambda r: 1 / (2 + r), "sign"),
    (
        "malkin2024.entropic_bound",
        lambda s, r: (s**-r - 1) / r,
        lambda s, r: (1 - s**r) / r,
        "not an upper",
    ),
    ("malkin2024.posterior_slope", lambda r: 2 / (2 + r), lambda r: 1 / (2 + r), "H^(−1/2)"),
    (
        "malkin2024.normalised_variability",
        lambda m, v: v / np.abs(m),
        lambda m, v: np.sqrt(v) / np.abs(m),
        "coefficient of variation",
    ),
    (
        "malkin2024.spearman",
        lambda x, y: np.corrcoef(rankdata(x), rankdata(y))[0, 1],
        lambda x, y: np.corrcoef(x, y)[0, 1],
        "rank them",
    ),
]


@pytest.mark.parametrize("name,right,wrong,message", CASES, ids=[c[0] for c in CASES])
def test_checker(name, right, wrong, message):
    assert check(name, right, quiet=True).ok
    fb = check(name, wrong, quiet=True)
    assert not fb.ok and message in fb.message


def test_checker_survives_a_crashing_answer():
    def bad(*args):
        raise RuntimeError("oops")

    fb = check("malkin2024.optimal_sigma", bad, quiet=True)
    assert not fb.ok and "RuntimeError" in fb.message
