"""Tests for synlab.maintenance (Raman & O'Leary 2021): geometry, tasks, plasticity, simulator."""

from __future__ import annotations

import math

import pytest
import torch

from synlab import curvature as C
from synlab import maintenance as M

DT = torch.float64


def _quadratic(n=12, seed=0, spread=20.0, batch=1):
    return M.QuadraticTask.random(n, batch, spread=spread, seed=seed)


# ----------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_q_matches_curvature_module_and_ignores_length(seed):
    task = _quadratic(seed=seed)
    v = torch.randn(12, dtype=DT, generator=torch.Generator().manual_seed(seed))
    f = task.loss_fn(0)
    q = M.curvature_q(task.H, v)
    assert torch.allclose(q, C.curvature_along(f, task.theta_star[0] + 0.3, v), rtol=1e-10)
    assert torch.allclose(M.curvature_q(task.H, 7.5 * v), q, rtol=1e-12)
    lam = torch.linalg.eigvalsh(task.H)
    assert lam[0] - 1e-12 <= q <= lam[-1] + 1e-12  # a Rayleigh quotient


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_optimal_magnitude_equals_brute_force_line_search(seed):
    """Eq. (6) on a quadratic is exact: compare with a fine grid search of F(w + m ĉ)."""
    gen = torch.Generator().manual_seed(seed)
    task = _quadratic(seed=seed)
    w = torch.randn(1, 12, dtype=DT, generator=gen)
    g = task.gradient(w)[0]
    direction = (
        -g + 0.8 * g.norm() * M.unit_rows(torch.randn(1, 12, dtype=DT, generator=gen))[0]
    )  # a corrupted descent
    u = direction / direction.norm()
    assert float(u @ g) < 0
    m_star = float(M.optimal_magnitude(g, task.H, direction))
    grid = torch.linspace(0, 3 * m_star, 30001, dtype=DT)
    losses = task.loss(w + grid[:, None] * u)
    m_brute = float(grid[torch.argmin(losses)])
    assert m_brute == pytest.approx(m_star, abs=3 * m_star / 30000 + 1e-12)
    # and the first-order term of Box 3 vanishes there: d/dm E[ΔF] = ĉᵀ∇F + m Q = 0
    assert float(u @ g + m_star * M.curvature_q(task.H, u)) == pytest.approx(0, abs=1e-10)


def test_optimal_magnitude_rejects_nonpositive_curvature():
    H = torch.diag(torch.tensor([1.0, -1.0], dtype=DT))
    with pytest.raises(ValueError, match="positive curvature"):
        M.optimal_magnitude(
            torch.tensor([0.0, 1.0], dtype=DT), H, torch.tensor([0.0, -1.0], dtype=DT)
        )
    with pytest.raises(ValueError, match="Eq. \\(9\\)"):
        M.steady_state_ratio(1.0, -0.5)


def test_expected_q_of_white_noise_is_trace_over_n():
    """Eq. (12): E[Q[Δε]] = Tr(H)/N for isotropic fluctuations, within 4 standard errors."""
    task = _quadratic(n=30, seed=4, spread=50.0)
    eps = M.fluctuation((4000, 30), 0.1, torch.Generator().manual_seed(0))
    q = M.curvature_q(task.H, eps)
    target = float(torch.trace(task.H) / 30)
    se = float(q.std() / math.sqrt(len(q)))
    assert abs(float(q.mean()) - target) < 4 * se
    assert se < 0.05 * target  # the test has power: the mean is pinned to 5 %


def test_eq14_gradient_curvature_and_newton_on_quadratic():
    gen = torch.Generator().manual_seed(5)
    lam = torch.tensor([0.1, 0.5, 1.0, 2.0, 8.0], dtype=DT)
    task = M.QuadraticTask.random(5, 1, eigenvalues=lam, seed=5)
    evals, V = torch.linalg.eigh(task.H)
    c = torch.randn(5, dtype=DT, generator=gen)
    w = (V @ c).unsqueeze(0)
    g = task.gradient(w)[0]
    assert float(M.curvature_q(task.H, g)) == pytest.approx(
        float(M.gradient_curvature_quadratic(evals, c)), rel=1e-10
    )
    newton = M.newton_direction(task.H, g, damping=0.0)
    assert torch.allclose(newton, w[0], atol=1e-10)  # the Newton step points back to w* (Fig. 4d)
    assert float(M.curvature_q(task.H, newton)) == pytest.approx(
        float(M.newton_curvature_quadratic(evals, c)), rel=1e-10
    )
    # equal c_i: Q[∇F] ≥ Tr/N (Chebyshev) and the Newton direction has exactly average curvature
    ones = torch.ones(5, dtype=DT)
    assert M.gradient_curvature_quadratic(evals, ones) > evals.mean()
    assert float(M.newton_curvature_quadratic(evals, ones)) == pytest.approx(float(evals.mean()))


def test_noise_interpolation_exact_for_orthogonal_h_orthogonal_noise():
    """SI Eq. (8) is exact when ν ⊥ c̃ and c̃ᵀHν = 0: take both along different eigenvectors."""
    lam = torch.tensor([0.5, 2.0, 3.0, 7.0], dtype=DT)
    H = torch.diag(lam)
    c_tilde = torch.tensor([0.0, 0.0, 0.0, 2.0], dtype=DT)  # Q = 7
    for rho in (0.1, 1.0, 4.0):
        nu = rho * 2.0 * torch.tensor([0.6, 0.8, 0.0, 0.0], dtype=DT)  # Q = 0.36·0.5 + 0.64·2
        q_nu = 0.36 * 0.5 + 0.64 * 2.0
        expected = M.noise_interpolation(7.0, q_nu, rho)
        assert float(M.curvature_q(H, c_tilde + nu)) == pytest.approx(float(expected), rel=1e-12)
    # it interpolates monotonically from Q[c̃] to Q[ν]
    qs = M.noise_interpolation(7.0, 1.0, torch.tensor([0.01, 0.5, 1.0, 3.0, 100.0]))
    assert (
        torch.all(qs[1:] < qs[:-1])
        and qs[0] == pytest.approx(7.0, rel=1e-3)
        and qs[-1] == pytest.approx(1.0, rel=1e-3)
    )


# ----------------------------------------------------------------------------- tasks
@pytest.mark.parametrize("hidden", [20, None])
def test_student_teacher_derivatives_match_autograd(hidden):
    task = M.StudentTeacher(batch=3, n_in=5, hidden=hidden and 6, n_out=4, n_samples=50, seed=1)
    gen = torch.Generator().manual_seed(2)
    theta = task.theta_star + 0.1 * torch.randn(task.theta_star.shape, dtype=DT, generator=gen)
    value, g = task.value_and_gradient(theta)
    v = torch.randn(theta.shape, dtype=DT, generator=gen)
    hv = task.hvp(theta, v)
    for b in range(3):
        f = task.loss_fn(b)
        assert float(value[b]) == pytest.approx(float(f(theta[b])), rel=1e-12)
        assert torch.allclose(g[b], C.gradient(f, theta[b]), atol=1e-13)
        assert torch.allclose(hv[b], C.hvp(f, theta[b], v[b]), atol=1e-12)
    assert torch.allclose(task.loss(theta), value)
    assert torch.allclose(task.hessian(theta)[1], C.hessian(task.loss_fn(1), theta[1]), atol=1e-12)


def test_student_teacher_setup_follows_the_paper():
    task = M.StudentTeacher(batch=2, seed=0)
    assert task.n_weights == 12 * 20 + 20 * 10 and task.inputs.shape == (2, 1000, 12)
    lin = M.StudentTeacher(batch=2, hidden=None, seed=0)
    assert lin.n_weights == 120 and lin.constant_hessian
    assert torch.all(task.loss(task.theta_star) == 0)  # the teacher is the optimum
    a = math.sqrt(6 / (12 + 20))  # Xavier-uniform bound of the first layer
    assert float(task.theta_star[:, :240].abs().max()) <= a
    w0 = task.initial_state(seed=3)
    rel = w0 / task.theta_star - 1
    assert float(rel.std()) == pytest.approx(1e-3, rel=0.1)  # student = teacher × (1 + 0.001 ξ)
    with pytest.raises(ValueError, match="hidden"):
        M.StudentTeacher(hidden=0)
    with pytest.raises(ValueError, match="shape"):
        task.loss(torch.zeros(3, 440, dtype=DT))


# ----------------------------------------------------------------------------- plasticity
def test_step_magnitudes_and_corruption_are_exact():
    task = M.StudentTeacher(batch=6, n_samples=100, seed=3)
    d = 0.02
    ratios = torch.tensor([0.1, 0.5, 1.0, 1.0, 2.5, 2.5], dtype=DT)
    kappa = torch.tensor([0.0, 0.1, 1.0, 20.0, 50.0, 3.0], dtype=DT)
    tr = M.simulate(
        task,
        fluct_magnitude=d * math.sqrt(440),
        ratio=ratios,
        corruption=kappa,
        n_steps=20,
        record_norms=True,
        seed=1,
    )
    de = d * math.sqrt(440)
    assert torch.allclose(tr.de_norm, torch.full_like(tr.de_norm, de), rtol=1e-12)
    assert torch.allclose(tr.dc_norm, (ratios * de).expand(20, 6), rtol=1e-12)
    # γ1 = ‖Δc‖ cos(Δc, −ĝ) = ‖Δc‖/√(1+κ²), so γ2/γ1 = κ exactly
    assert torch.allclose(tr.cos_descent, (1 / torch.sqrt(1 + kappa**2)).expand(20, 6), atol=1e-12)


def test_compensation_components():
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(5, 50, dtype=DT, generator=gen)
    dc = M.compensation(g, 2.0, 3.0, gen)
    ghat = M.unit_rows(g)
    gamma1 = -(dc * ghat).sum(-1)
    gamma2 = (dc + gamma1[:, None] * ghat).norm(dim=-1)
    assert torch.allclose(gamma1, torch.full((5,), 2 / math.sqrt(10), dtype=DT))
    assert torch.allclose(gamma2 / gamma1, torch.full((5,), 3.0, dtype=DT))
    with pytest.raises(ValueError):
        M.compensation(g, -1.0, 0.0, gen)


def test_zeroth_order_estimate_is_unbiased_but_single_probe_is_nearly_random():
    task = _quadratic(n=40, seed=6)
    w = torch.randn(1, 40, dtype=DT, generator=torch.Generator().manual_seed(1))
    g = task.gradient(w)
    gen = torch.Generator().manual_seed(2)
    many = M.zeroth_order_estimate(task.loss, w, gen, n_probes=4000)
    assert float(torch.nn.functional.cosine_similarity(many, g)) > 0.9
    ones = torch.stack([M.zeroth_order_estimate(task.loss, w, gen)[0] for _ in range(400)])
    cos = torch.nn.functional.cosine_similarity(ones, g.expand_as(ones))
    assert float(cos.abs().mean()) < 0.3  # one probe ≈ a random direction (E|cos| ≈ √(2/(πN)))
    assert float((ones @ g[0]).min()) >= 0  # but it never points uphill of −∇F... (sign follows ΔF)
    q = M.curvature_q(task.H, ones)
    se = float(q.std() / 20)
    assert abs(float(q.mean()) - float(torch.trace(task.H) / 40)) < 4 * se + 0.05 * float(
        torch.trace(task.H) / 40
    )


def test_newton_direction_descends_when_hessian_is_indefinite():
    H = torch.diag(torch.tensor([2.0, -1.0, 0.5], dtype=DT))
    g = torch.tensor([1.0, 1.0, -1.0], dtype=DT)
    n = M.newton_direction(H, g, damping=0.0)
    assert torch.allclose(n, torch.tensor([0.5, 1.0, -2.0], dtype=DT))
    assert float(n @ g) > 0  # −n is a descent direction


# ----------------------------------------------------------------------------- simulation
def _sweep(kappa, n=30, repeats=3, steps=900, window=500, seed=0):
    ratios = torch.tensor([0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5], dtype=DT)
    lam = torch.logspace(-1, 1, n, dtype=DT)
    base = M.QuadraticTask.random(n, 1, eigenvalues=lam, seed=3)
    task = M.QuadraticTask(base.H, torch.zeros(len(ratios) * repeats, n, dtype=DT))
    tr = M.simulate(
        task,
        fluct_magnitude=0.01,
        ratio=ratios.repeat_interleave(repeats),
        corruption=kappa,
        n_steps=steps,
        seed=seed,
    )
    steady = tr.loss[-window:].mean(0).reshape(len(ratios), repeats).mean(1)
    return task, tr, ratios, steady, lam


def test_eq9_predicts_the_simulated_optimal_ratio_on_a_quadratic():
    task, tr, ratios, steady, lam = _sweep(0.0)
    best, refined = M.optimal_ratio(ratios, steady)
    g = task.gradient(tr.theta).reshape(len(ratios), -1, task.n_weights)
    i = int(torch.argmin(steady))
    predicted = float(M.steady_state_ratio(lam.mean(), M.curvature_q(task.H, g[i]).mean()))
    assert refined < 0.9  # exact gradients: the sweet spot is below one
    assert predicted == pytest.approx(refined, abs=0.15)


def test_optimal_ratio_rises_toward_one_with_corruption():
    _, _, ratios, s0, _ = _sweep(0.0)
    _, _, _, s5, _ = _sweep(5.0)
    r0 = M.optimal_ratio(ratios, s0)[1]
    r5 = M.optimal_ratio(ratios, s5)[1]
    assert r0 < r5 and 0.8 <= r5 <= 1.2


def test_simulate_validates_arguments():
    task = _quadratic()
    with pytest.raises(ValueError, match="rule"):
        M.simulate(task, fluct_magnitude=0.1, ratio=1.0, n_steps=2, rule="third")
    with pytest.raises(ValueError, match="ratio"):
        M.simulate(task, fluct_magnitude=0.1, ratio=torch.ones(3, 2), n_steps=2)
    with pytest.raises(ValueError, match=">= 0"):
        M.simulate(task, fluct_magnitude=-0.1, ratio=1.0, n_steps=2)


def test_optimal_ratio_refines_within_neighbours():
    r = torch.tensor([0.1, 0.4, 0.7, 1.0])
    best, refined = M.optimal_ratio(r, torch.exp((r - 0.5) ** 2))
    assert best == pytest.approx(0.4) and refined == pytest.approx(0.5, abs=1e-6)
