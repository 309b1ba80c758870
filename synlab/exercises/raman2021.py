"""Exercise checkers of the raman2021 part of the book (Raman & O'Leary 2021).

Each checker calls the student's function on several cases, compares with a reference built
from :mod:`synlab.maintenance`, and names the case, the expected and the given value and a hint.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..maintenance import curvature_q, noise_interpolation, optimal_magnitude
from . import Feedback, Verdicts, exercise, wrong_number

__all__: list[str] = []


def _quadratic_case(seed: int, n: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    H = q @ torch.diag(torch.logspace(-1, 1, n, dtype=torch.float64)) @ q.T
    g = torch.randn(n, generator=gen, dtype=torch.float64)
    direction = -g + 0.5 * g.norm() * torch.randn(
        n, generator=gen, dtype=torch.float64
    ) / math.sqrt(n)
    return 0.5 * (H + H.T), g, 3.0 * direction  # not a unit vector on purpose


def _judge(given, expected: float, case: str, default: str, mistakes, *, shown="", rel=1e-6):
    """:func:`wrong_number` with the message of this part: the case, the expected value (as
    ``shown``, else to 6 digits), the given one, and the hint (``default`` or a mistake's)."""
    shown = shown or f"{expected:.6g}"
    return wrong_number(
        given,
        expected,
        lambda hint: f"{case}: expected {shown}, got {given!r}. Hint: {hint}.",
        mistakes,
        default=default,
        tol=(rel, 1e-9),
        mistake_tol=(rel, 1e-9),
    )


@exercise("raman2021.optimal_magnitude")
def _check_optimal_magnitude(fn) -> Verdicts:
    """Eq. (6): ‖Δc‖* = −ĉᵀ∇F / Q[Δc]."""
    for seed in range(4):
        H, g, c = _quadratic_case(seed)
        expected = float(optimal_magnitude(g, H, c))
        given = fn(g.clone(), H.clone(), c.clone())
        unnormalised = float(-(c @ g) / (c @ H @ c))
        yield _judge(
            given,
            expected,
            f"case {seed}",
            "set d/dm [m ĉᵀ∇F + ½ m² Q[ĉ]] = 0 and solve for m",
            [
                (
                    unnormalised,
                    "you seem to use the unnormalised direction: both the slope and Q take "
                    "ĉ = c/‖c‖",
                )
            ],
        )
    return Feedback(
        True,
        "optimal_magnitude agrees with Eq. (6) on 4 random quadratics (and rescaling c changes "
        "nothing).",
    )


@exercise("raman2021.steady_ratio")
def _check_steady_ratio(fn) -> Verdicts:
    """Eq. (9) with Eq. (12): ‖Δc‖/‖Δε‖ = √(Tr(H)/N / Q[Δc])."""
    for seed in range(4):
        H, g, c = _quadratic_case(seed + 10)
        expected = math.sqrt(float(torch.trace(H)) / H.shape[0] / float(curvature_q(H, c)))
        given = fn(H.clone(), c.clone())
        mistakes = [
            (expected**2, "you returned the ratio of squared magnitudes; take the square root"),
            (
                1 / expected,
                "the ratio is inverted: more curvature along Δc means *less* compensation",
            ),
        ]
        default = "Q[Δε] is Tr(H)/N in expectation (Eq. 12) and Q[Δc] = ĉᵀHĉ"
        yield _judge(given, expected, f"case {seed}", default, mistakes)
    return Feedback(True, "steady_ratio matches √(Q[Δε]/Q[Δc]) with Q[Δε] = Tr(H)/N.")


@exercise("raman2021.expected_increase")
def _check_expected_increase(fn) -> Verdicts:
    """Box 2: E[F(w+Δε) − F(w)] = ½‖Δε‖² Tr(H)/N at a minimum."""
    for seed, norm in ((0, 0.1), (1, 1.0), (2, 2.5)):
        H, _, _ = _quadratic_case(seed + 20, n=8)
        expected = 0.5 * norm**2 * float(torch.trace(H)) / 8
        given = fn(H.clone(), norm)
        mistakes = [
            (2 * expected, "the second-order term of the Taylor expansion carries a factor ½"),
            (8 * expected, "E[Δε Δεᵀ] = ‖Δε‖² I / N: divide the trace by N"),
            (expected / norm, "the increase scales with ‖Δε‖², not ‖Δε‖"),
        ]
        default = "expand F(w+Δε) to second order and average over isotropic directions"
        yield _judge(given, expected, f"‖Δε‖ = {norm}", default, mistakes)
    return Feedback(True, "expected_increase = ½‖Δε‖² Tr(H)/N, the uphill drift of Box 2.")


@exercise("raman2021.fluctuation")
def _check_fluctuation(fn) -> Feedback:
    """Δε with ‖Δε‖ = d·√N exactly, drawn with the given generator, and an isotropic Gaussian
    direction: each component of √N·û follows the exact marginal of a uniform direction."""

    def draw(n, d, gen):
        return torch.as_tensor(fn(n, d, gen), dtype=torch.float64).reshape(-1)

    for n, d in ((440, 0.02), (120, 0.01)):
        gen = torch.Generator().manual_seed(0)
        rows = torch.stack([draw(n, d, gen) for _ in range(300)])
        if rows.shape[1] != n:
            return Feedback(
                False, f"N = {n}: expected a vector of {n} weights, got {rows.shape[1]}."
            )
        norms = rows.norm(dim=1)
        want = d * math.sqrt(n)
        if not torch.allclose(norms, torch.full_like(norms, want), rtol=1e-6):
            hint = (
                "you used ‖Δε‖ = d; the paper's magnitude is d·√N, i.e. d per weight"
                if torch.allclose(norms, torch.full_like(norms, d), rtol=1e-6)
                else "normalise white noise to unit length, then scale"
            )
            return Feedback(
                False,
                f"N = {n}, d = {d}: every step should have norm {want:.5g}, got norms from "
                f"{float(norms.min()):.5g} to {float(norms.max()):.5g}. Hint: {hint}.",
            )
        if float(rows[:, 0].std()) < 1e-12:
            return Feedback(
                False, "every call returned the same vector: draw fresh noise with the generator."
            )
        twins = [draw(n, d, torch.Generator().manual_seed(7)) for _ in range(2)]
        if not torch.allclose(twins[0], twins[1], rtol=0, atol=1e-12):
            return Feedback(
                False,
                f"N = {n}: two generators seeded alike gave different steps, so the noise does "
                "not come from `gen`. Hint: torch.randn(N, generator=gen).",
            )
        wrong_direction = _direction_mistake(rows / norms[:, None])
        if wrong_direction is not None:
            return wrong_direction
    return Feedback(
        True,
        "exact magnitude d·√N, drawn reproducibly from `gen`, and an isotropic Gaussian "
        "direction, as in the paper's Methods.",
    )


def _direction_mistake(u: torch.Tensor) -> Feedback | None:
    """What is wrong with the directions ``u`` (one unit vector per row) of
    :func:`_check_fluctuation`'s draws, or None when they look uniform on the sphere."""
    from scipy import stats

    draws, n = u.shape
    # each component of û has mean 0 and s.d. 1/√N: its average over the draws (300) stays
    # below 6/√(draws N)
    if float(u.mean(0).abs().max()) > 6 / math.sqrt(draws * n):
        return Feedback(
            False,
            f"N = {n}: the direction is not isotropic (mean component "
            f"{float(u.mean(0).abs().max()):.3g}). Hint: draw ξ ~ N(0, I).",
        )
    # a uniform direction on the sphere: (û_i + 1)/2 ~ Beta((N-1)/2, (N-1)/2) exactly
    comp = ((u.flatten() + 1) / 2).numpy()
    ks = stats.kstest(comp, stats.beta((n - 1) / 2, (n - 1) / 2).cdf).statistic
    if ks > 0.02:
        z = u.flatten() * math.sqrt(n)
        kurt = float((z**4).mean() / (z**2).mean() ** 2)
        return Feedback(
            False,
            f"N = {n}: the components of the direction are not distributed as for white "
            f"Gaussian noise (Kolmogorov-Smirnov distance {ks:.3f}; kurtosis {kurt:.2f}, "
            "where Gaussian noise gives 3 and uniform noise 1.8). Hint: draw ξ ~ N(0, I) "
            "with torch.randn, not torch.rand.",
        )
    return None


@exercise("raman2021.corrupted_step")
def _check_corrupted_step(fn) -> Feedback:
    """Δc = −γ1 ĝ + γ2 ν̂, γ2/γ1 = κ, γ1² + γ2² = m² (ν orthogonal to g given)."""
    gen = torch.Generator().manual_seed(3)
    for m, kappa in ((1.0, 0.1), (0.5, 20.0), (2.0, 1.0)):
        g = torch.randn(50, generator=gen, dtype=torch.float64)
        nu = torch.randn(50, generator=gen, dtype=torch.float64)
        nu = nu - (nu @ g) / (g @ g) * g
        g1 = m / math.sqrt(1 + kappa**2)
        expected = -g1 * g / g.norm() + kappa * g1 * nu / nu.norm()
        given = torch.as_tensor(fn(g.clone(), nu.clone(), m, kappa), dtype=torch.float64)
        if given.shape != expected.shape or not torch.allclose(given, expected, atol=1e-10):
            wrong = -m * g / g.norm() + kappa * m * nu / nu.norm()
            if given.shape == wrong.shape and torch.allclose(given, wrong, atol=1e-10):
                hint = "γ1 = m and γ2 = κ m give ‖Δc‖ = m√(1+κ²); split m so that γ1² + γ2² = m²"
            else:
                hint = "normalise g and ν, then γ1 = m/√(1+κ²) and γ2 = κ γ1"
            norm = float(given.norm()) if given.numel() else float("nan")
            return Feedback(
                False, f"m = {m}, κ = {kappa}: expected ‖Δc‖ = {m}, got {norm:.4g}. Hint: {hint}."
            )
    return Feedback(True, "the compensatory step has magnitude m and corruption γ2/γ1 = κ.")


@exercise("raman2021.noise_interpolation")
def _check_noise_interpolation(fn) -> Verdicts:
    """SI Eq. (8)."""
    for qc, qn, rho in ((1.0, 0.03, 0.1), (1.0, 0.03, 1.0), (0.2, 0.19, 3.0), (5.0, 1.0, 50.0)):
        expected = float(noise_interpolation(qc, qn, rho))
        given = fn(qc, qn, rho)
        linear = qc / (1 + rho) + qn / (1 + 1 / rho)
        yield _judge(
            given,
            expected,
            f"Q[c̃]={qc}, Q[ν]={qn}, ρ={rho}",
            "expand (c̃+ν)ᵀH(c̃+ν)/‖c̃+ν‖² with c̃ ⊥ ν and c̃ᵀHν = 0",
            [(linear, "weights depend on ρ² = ‖ν‖²/‖c̃‖² (squared norms), not on ρ")],
        )
    return Feedback(True, "Q[Δc] interpolates between Q[c̃] and Q[ν] as SI Eq. (8) says.")


@exercise("raman2021.fraction_to_ratio")
def _check_fraction_to_ratio(fn) -> Verdicts:
    """p % activity-independent change → ‖Δc‖/‖Δε‖ = (100 − p)/p."""
    for p in (50.0, 63.0, 75.0, 77.0):
        expected = (100 - p) / p
        given = fn(p)
        inverse = p / (100 - p), "that is ‖Δε‖/‖Δc‖; compensation is the activity-dependent part"
        default = "‖Δc‖ ∝ the activity-dependent share (100 − p), ‖Δε‖ ∝ p"
        yield _judge(given, expected, f"p = {p}%", default, [inverse], shown=f"{expected:.4g}")
    return Feedback(True, "every study with p ≥ 50 % implies ‖Δc‖/‖Δε‖ ≤ 1.")


@exercise("raman2021.implied_corruption")
def _check_implied_corruption(fn) -> Verdicts:
    """Invert Eqs. (9) and SI (8): κ² = (a − 1/r²)/(1/r² − 1)."""
    for a, r in ((33.0, 0.5), (33.0, 0.9), (4.0, 0.6), (1.5, 0.95)):
        x = 1 / r**2
        expected = math.sqrt((a - x) / (x - 1))
        given = fn(a, r)
        yield _judge(
            given,
            expected,
            f"a = {a}, r = {r}",
            "set 1/r² = Q[Δc]/Q[Δε] = (a + κ²)/(1 + κ²) (Eq. 8 with Q[ν] = Q[Δε]) and solve for κ",
            [(expected**2, "you returned κ²; take the square root")],
            shown=f"κ = {expected:.5g}",
            rel=1e-5,
        )
    # consistency: the formula and Eq. (8) agree
    a, r = 10.0, 0.7
    k = float(fn(a, r))
    back = math.sqrt(1 / float(noise_interpolation(a, 1.0, k)))
    if not np.isclose(back, r, rtol=1e-5):
        return Feedback(
            False, f"plugging your κ = {k:.4g} back into Eq. (9) gives r = {back:.4g}, not {r}."
        )
    return Feedback(True, "κ reproduces the measured ratio through Eqs. (8) and (9).")
