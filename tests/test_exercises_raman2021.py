"""Each raman2021 checker accepts a right answer and explains a typical wrong one."""

from __future__ import annotations

import math

import torch

from synlab.exercises import check


def _unit(v):
    return v / v.norm()


def test_optimal_magnitude():
    right = lambda g, H, c: float(-(_unit(c) @ g) / (_unit(c) @ H @ _unit(c)))
    wrong = lambda g, H, c: float(-(c @ g) / (c @ H @ c))
    assert check("raman2021.optimal_magnitude", right, quiet=True)
    fb = check("raman2021.optimal_magnitude", wrong, quiet=True)
    assert not fb and "unnormalised" in fb.message


def test_steady_ratio():
    right = lambda H, c: math.sqrt(
        float(torch.trace(H)) / H.shape[0] / float(_unit(c) @ H @ _unit(c))
    )
    squared = lambda H, c: right(H, c) ** 2
    assert check("raman2021.steady_ratio", right, quiet=True)
    fb = check("raman2021.steady_ratio", squared, quiet=True)
    assert not fb and "square root" in fb.message


def test_expected_increase():
    right = lambda H, n: 0.5 * n**2 * float(torch.trace(H)) / H.shape[0]
    no_half = lambda H, n: n**2 * float(torch.trace(H)) / H.shape[0]
    assert check("raman2021.expected_increase", right, quiet=True)
    fb = check("raman2021.expected_increase", no_half, quiet=True)
    assert not fb and "½" in fb.message


def test_fluctuation():
    def right(n, d, gen):
        x = torch.randn(n, generator=gen, dtype=torch.float64)
        return d * math.sqrt(n) * x / x.norm()

    def per_vector(n, d, gen):
        x = torch.randn(n, generator=gen, dtype=torch.float64)
        return d * x / x.norm()

    assert check("raman2021.fluctuation", right, quiet=True)
    fb = check("raman2021.fluctuation", per_vector, quiet=True)
    assert not fb and "d·√N" in fb.message
    fb = check(
        "raman2021.fluctuation",
        lambda n, d, gen: d * torch.ones(n, dtype=torch.float64),
        quiet=True,
    )
    assert not fb


def test_corrupted_step():
    def right(g, nu, m, k):
        g1 = m / math.sqrt(1 + k**2)
        return -g1 * _unit(g) + k * g1 * _unit(nu)

    wrong = lambda g, nu, m, k: -m * _unit(g) + k * m * _unit(nu)
    assert check("raman2021.corrupted_step", right, quiet=True)
    fb = check("raman2021.corrupted_step", wrong, quiet=True)
    assert not fb and "γ1² + γ2² = m²" in fb.message


def test_noise_interpolation():
    right = lambda qc, qn, r: qc / (1 + r**2) + qn / (1 + r**-2)
    linear = lambda qc, qn, r: qc / (1 + r) + qn / (1 + 1 / r)
    assert check("raman2021.noise_interpolation", right, quiet=True)
    fb = check("raman2021.noise_interpolation", linear, quiet=True)
    assert not fb and "ρ²" in fb.message


def test_fraction_to_ratio():
    assert check("raman2021.fraction_to_ratio", lambda p: (100 - p) / p, quiet=True)
    fb = check("raman2021.fraction_to_ratio", lambda p: p / (100 - p), quiet=True)
    assert not fb and "activity-dependent" in fb.message


def test_implied_corruption():
    right = lambda a, r: math.sqrt((a - r**-2) / (r**-2 - 1))
    squared = lambda a, r: (a - r**-2) / (r**-2 - 1)
    assert check("raman2021.implied_corruption", right, quiet=True)
    fb = check("raman2021.implied_corruption", squared, quiet=True)
    assert not fb and "κ²" in fb.message


def test_fluctuation_needs_the_generator_and_gaussian_noise():
    def global_rng(n, d, gen):  # ignores gen: not reproducible from the given generator
        x = torch.randn(n, dtype=torch.float64)
        return d * math.sqrt(n) * x / x.norm()

    def uniform(n, d, gen):  # the right norm, but uniform noise: the wrong shape
        x = torch.rand(n, generator=gen, dtype=torch.float64) - 0.5
        return d * math.sqrt(n) * x / x.norm()

    def float32(n, d, gen):  # another right answer: float32 draws
        x = torch.randn(n, generator=gen)
        return d * math.sqrt(n) * x.double() / x.double().norm()

    fb = check("raman2021.fluctuation", global_rng, quiet=True)
    assert not fb and "generator=gen" in fb.message
    fb = check("raman2021.fluctuation", uniform, quiet=True)
    assert not fb and "kurtosis" in fb.message and "torch.rand" in fb.message
    assert check("raman2021.fluctuation", float32, quiet=True)
