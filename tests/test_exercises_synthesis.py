"""Every synthesis checker: a right answer passes, typical wrong answers fail with a message naming the mistake."""

from __future__ import annotations

import math

import numpy as np
from exercise_helpers import ok, wrong
from scipy import stats

from synlab.exercises import check


def _pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_spearman():
    ok("synthesis.spearman", lambda x, y: _pearson(stats.rankdata(x), stats.rankdata(y)))
    wrong("synthesis.spearman", _pearson, "pearson correlation of the values")
    wrong(
        "synthesis.spearman",
        lambda x, y: _pearson(
            np.argsort(np.argsort(x, kind="stable")), np.argsort(np.argsort(y, kind="stable"))
        ),
        "ties",
        "average",
    )

    def formula(x, y):
        rx, ry = stats.rankdata(x), stats.rankdata(y)
        n = len(x)
        return 1 - 6 * float(((rx - ry) ** 2).sum()) / (n * (n * n - 1))

    wrong("synthesis.spearman", formula, "only without ties")
    fb = check("synthesis.spearman", lambda x, y: 1 / 0, quiet=True)
    assert not fb.ok and "ZeroDivisionError" in fb.message


def test_sigma_slope():
    ok("synthesis.sigma_slope", lambda rho: -1 / (2 + rho))
    wrong("synthesis.sigma_slope", lambda rho: 1 / (2 + rho), "sign")
    wrong("synthesis.sigma_slope", lambda rho: -0.5, "entropic")
    wrong("synthesis.sigma_slope", lambda rho: -2 / (2 + rho), "variance")
    wrong("synthesis.sigma_slope", lambda rho: -1 / (1 + rho), "exponent")


def test_snr_entropic():
    ok("synthesis.snr_entropic", lambda mu, H, lam: abs(mu) * math.sqrt(H / lam))
    wrong("synthesis.snr_entropic", lambda mu, H, lam: mu * mu * H / lam, "square root")
    wrong("synthesis.snr_entropic", lambda mu, H, lam: mu * math.sqrt(H / lam), "|μ|")
    wrong("synthesis.snr_entropic", lambda mu, H, lam: abs(mu) * math.sqrt(lam / H), "swapped")
    wrong("synthesis.snr_entropic", lambda mu, H, lam: abs(mu) * H / lam, "sqrt(λ/h)")
