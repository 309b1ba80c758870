"""Reliability costs (Malkin et al. 2024): exponents, linear-model optimum, the ELBO bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from synlab import costs


@pytest.mark.parametrize("name", list(costs.MECHANISMS))
def test_cost_exponent_from_quantal_derivation(name):
    sigma, cost = costs.mechanism_sweep(name, mu=2.0)
    # the mean really is held fixed along the sweep: σ spans orders of magnitude
    assert sigma.max() / sigma.min() > 10
    assert costs.loglog_slope(sigma, cost) == pytest.approx(-costs.MECHANISMS[name].rho, abs=1e-6)


def test_sweeps_hold_the_mean_fixed():
    p = np.logspace(-3, -0.01, 20)
    mu, N = 1.7, 3.0
    q = mu / (N * p)
    assert np.allclose(costs.quantal_mean(N, p, q), mu)
    Ns = np.logspace(0, 3, 10)
    assert np.allclose(costs.quantal_mean(Ns, 0.4, mu / (Ns * 0.4)), mu)


def test_quantal_moments_and_validation():
    assert costs.quantal_mean(10, 0.5, 0.2) == pytest.approx(1.0)
    assert costs.quantal_variance(10, 0.5, 0.2) == pytest.approx(10 * 0.25 * 0.04)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        costs.quantal_variance(10, 1.0, 0.2)
    # the closed range of synlab.quantal: deterministic synapses at p = 0 and p = 1
    assert costs.quantal_variance(10, 1.0, 0.2, open_p=False) == 0.0
    assert costs.quantal_mean(10, 0.0, 0.2, open_p=False) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        costs.quantal_mean(10, 1.5, 0.2, open_p=False)
    with pytest.raises(ValueError, match="mechanism"):
        costs.vesicle_sweep("calcium")


def test_rhos_in_paper_order():
    assert np.allclose(costs.RHOS, [1 / 2, 2 / 3, 4 / 3, 2])
    grid = costs.c_grid()
    assert len(grid) == 25 and grid[0] == pytest.approx(1e-2) and grid[-1] == pytest.approx(1e4)


@pytest.mark.parametrize("rho", costs.RHOS)
@pytest.mark.parametrize("H", [1e-3, 0.5, 40.0])
def test_optimal_sigma_matches_numerical_minimum(rho, H):
    c, lam = 0.3, 2.0
    closed = costs.optimal_sigma_linear(H, rho, c, lam)
    res = minimize_scalar(
        lambda ls: float(costs.linear_objective(np.exp(ls), H, rho, c, lam)),
        bounds=(-20, 20),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert np.exp(res.x) == pytest.approx(closed, rel=1e-4)


@pytest.mark.parametrize("rho", costs.RHOS)
def test_predicted_hessian_slope(rho):
    H = np.logspace(-4, 2, 30)
    s = costs.optimal_sigma_linear(H, rho)
    assert costs.loglog_slope(H, s) == pytest.approx(
        costs.predicted_slopes(rho)["hessian"], abs=1e-9
    )
    assert costs.loglog_slope(H**-0.5, s) == pytest.approx(2 / (2 + rho), abs=1e-9)


def test_bound_on_a_grid():
    sigma = np.logspace(-4, 2, 200)[:, None]
    rho = np.linspace(0.01, 4, 100)[None, :]
    gap = costs.power_law_bound(sigma, rho) - costs.entropic_cost(sigma)
    assert np.all(gap >= -1e-12)
    # tight at σ = 1 and as ρ → 0
    assert costs.power_law_bound(1.0, 1.3) == pytest.approx(costs.entropic_cost(1.0), abs=1e-12)
    assert costs.power_law_bound(0.1, 1e-6) == pytest.approx(costs.entropic_cost(0.1), rel=1e-4)
    # the gap shrinks monotonically as ρ decreases
    g = costs.power_law_bound(0.05, np.array([2.0, 1.0, 0.5, 0.1])) - costs.entropic_cost(0.05)
    assert np.all(np.diff(g) < 0)


def test_reliability_cost_torch_and_numpy():
    s = torch.tensor([0.1, 1.0], requires_grad=True)
    c = costs.reliability_cost(s, 0.5, 2.0)
    c.sum().backward()
    assert np.allclose(c.detach().numpy(), 2.0 * np.array([0.1, 1.0]) ** -0.5)
    assert np.allclose(s.grad.numpy(), -0.5 * 2.0 * np.array([0.1, 1.0]) ** -1.5)
    with pytest.raises(ValueError):
        costs.reliability_cost(np.array([0.0, 1.0]), 0.5)
    assert costs.magnitude_cost(np.array([1.0, -2.0]), 0.01) == pytest.approx(0.03)


@pytest.mark.parametrize("rho", [0.5, 2.0])
def test_heterogeneous_sigmas_beat_homogeneous_at_equal_budget(rho):
    H = np.array([10.0, 0.1])  # an important and an unimportant synapse (Fig. 4)
    budget = 20.0
    het = costs.sigmas_at_equal_cost(H, rho, budget)
    hom = costs.sigmas_at_equal_cost(H, rho, budget, homogeneous=True)
    for s in (het, hom):
        assert np.sum(s**-rho) == pytest.approx(budget)
    assert costs.quadratic_performance_cost(het, H) < costs.quadratic_performance_cost(hom, H)
    assert het[0] < het[1]  # the important synapse is made more reliable
    # het is optimal: random budget-respecting perturbations never do better
    rng = np.random.default_rng(0)
    for _ in range(50):
        t = het * np.exp(0.2 * rng.standard_normal(2))
        t *= (np.sum(t**-rho) / budget) ** (1 / rho)
        assert (
            costs.quadratic_performance_cost(t, H)
            >= costs.quadratic_performance_cost(het, H) - 1e-12
        )
