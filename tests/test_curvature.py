"""Tests for synlab.curvature (float64 throughout).

References used as independent checks: ``torch.autograd.functional.hessian``,
central finite differences, closed-form quadratics, ``torch.linalg.eigh`` and
the ``curvlinops`` linear operators (Hessian, empirical Fisher).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from synlab import curvature as C

DT = torch.float64


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


def _mlp(seed: int = 0, sizes: tuple[int, int, int] = (3, 4, 2)) -> nn.Module:
    torch.manual_seed(seed)
    d_in, d_hidden, d_out = sizes
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.Tanh(), nn.Linear(d_hidden, d_out)).to(DT)


@pytest.fixture
def mse_problem():
    model = _mlp()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 3, generator=gen, dtype=DT)
    y = torch.randn(12, 2, generator=gen, dtype=DT)
    f, theta = C.flatten_loss(model, F.mse_loss, x, y)
    return model, x, y, f, theta


@pytest.fixture
def classification():
    model = _mlp(seed=3, sizes=(4, 5, 3))
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(16, 4, generator=gen, dtype=DT)
    y = torch.randint(0, 3, (16,), generator=gen)
    return model, x, y


def _quadratic(n: int = 6, seed: int = 0, definite: bool = False):
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=gen, dtype=DT)
    a = m @ m.T + n * torch.eye(n, dtype=DT) if definite else (m + m.T) / 2
    b = torch.randn(n, generator=gen, dtype=DT)

    def f(theta: torch.Tensor) -> torch.Tensor:
        return 0.5 * theta @ a @ theta + b @ theta

    theta = torch.randn(n, generator=gen, dtype=DT)
    return f, theta, a, b


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


# ---------------------------------------------------------------------------
# flatten_loss / unflatten
# ---------------------------------------------------------------------------


def test_flatten_loss_matches_model_loss(mse_problem):
    model, x, y, f, theta = mse_problem
    assert theta.shape == (sum(p.numel() for p in model.parameters()),)
    assert torch.allclose(f(theta), F.mse_loss(model(x), y))
    pieces = C.unflatten(model, theta)
    for (name, p), (name2, q) in zip(model.named_parameters(), pieces.items()):
        assert name == name2 and torch.equal(p.detach(), q)


def test_flatten_loss_subset_of_params(mse_problem):
    model, x, y, _, _ = mse_problem
    f, theta = C.flatten_loss(model, F.mse_loss, x, y, params=["2.weight"])
    assert theta.shape == (8,)
    assert torch.allclose(
        C.gradient(f, theta),
        torch.autograd.grad(F.mse_loss(model(x), y), model[2].weight)[0].reshape(-1),
    )
    with pytest.raises(ValueError, match="unknown parameter"):
        C.flatten_loss(model, F.mse_loss, x, y, params=["nope"])


def test_unflatten_rejects_wrong_length(mse_problem):
    model, *_ = mse_problem
    with pytest.raises(ValueError, match="entries"):
        C.unflatten(model, torch.zeros(5, dtype=DT))


# ---------------------------------------------------------------------------
# gradient, hvp, hessian
# ---------------------------------------------------------------------------


def test_gradient_quadratic():
    f, theta, a, b = _quadratic()
    assert _rel(C.gradient(f, theta), a @ theta + b) < 1e-12


def test_hessian_and_hvp_match_autograd_on_mlp(mse_problem):
    *_, f, theta = mse_problem
    reference = torch.autograd.functional.hessian(f, theta)
    dense = C.hessian(f, theta)
    assert _rel(dense, reference) < 1e-5
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=DT)
    assert _rel(C.hvp(f, theta, v), reference @ v) < 1e-5


def test_hessian_and_hvp_exact_on_quadratic():
    f, theta, a, _ = _quadratic(n=7)
    assert _rel(C.hessian(f, theta), a) < 1e-12
    v = torch.randn(7, generator=torch.Generator().manual_seed(9), dtype=DT)
    assert _rel(C.hvp(f, theta, v), a @ v) < 1e-12


def test_hvp_matches_central_differences(mse_problem):
    *_, f, theta = mse_problem
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(4), dtype=DT)
    h = 1e-5
    fd = (C.gradient(f, theta + h * v) - C.gradient(f, theta - h * v)) / (2 * h)
    assert _rel(C.hvp(f, theta, v), fd) < 1e-6


def test_hessian_matches_curvlinops(mse_problem):
    curvlinops = pytest.importorskip("curvlinops")
    model, x, y, f, theta = mse_problem
    params = [p for p in model.parameters() if p.requires_grad]
    operator = curvlinops.HessianLinearOperator(model, nn.MSELoss(), params, [(x, y)])
    dense = C.hessian(f, theta)
    identity = torch.eye(theta.numel(), dtype=DT)
    assert _rel(operator @ identity, dense) < 1e-10
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(6), dtype=DT)
    assert _rel(operator @ v, C.hvp(f, theta, v)) < 1e-10


def test_hessian_diag_exact(mse_problem):
    *_, f, theta = mse_problem
    assert _rel(C.hessian_diag(f, theta, chunk_size=5), C.hessian(f, theta).diagonal()) < 1e-10


# ---------------------------------------------------------------------------
# curvature along directions
# ---------------------------------------------------------------------------


def test_curvature_along_is_rayleigh_quotient():
    f, theta, a, _ = _quadratic(n=5)
    gen = torch.Generator().manual_seed(3)
    v = torch.randn(5, generator=gen, dtype=DT)
    expected = v @ a @ v / (v @ v)
    assert torch.allclose(C.curvature_along(f, theta, v), expected, rtol=1e-12)
    assert torch.allclose(C.curvature_along(f, theta, 7.5 * v), expected, rtol=1e-12)

    batch = torch.randn(4, 5, generator=gen, dtype=DT)
    values = C.curvature_along(f, theta, batch)
    expected_batch = torch.einsum("ki,ij,kj->k", batch, a, batch) / (batch**2).sum(1)
    assert values.shape == (4,)
    assert torch.allclose(values, expected_batch, rtol=1e-12)


def test_curvature_along_rejects_zero_and_bad_shapes():
    f, theta, _, _ = _quadratic(n=5)
    with pytest.raises(ValueError, match="zero"):
        C.curvature_along(f, theta, torch.zeros(5, dtype=DT))
    with pytest.raises(ValueError, match=r"row\(s\) \[1\]"):
        C.curvature_along(
            f, theta, torch.stack([torch.ones(5, dtype=DT), torch.zeros(5, dtype=DT)])
        )
    with pytest.raises(ValueError, match="shape"):
        C.curvature_along(f, theta, torch.ones(4, dtype=DT))


# ---------------------------------------------------------------------------
# Hutchinson estimators
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("distribution", ["rademacher", "normal"])
def test_hutchinson_trace_is_consistent(distribution):
    f, theta, a, _ = _quadratic(n=20, seed=11)
    trace = torch.trace(a)
    big = C.hutchinson_trace(
        f, theta, 2000, generator=torch.Generator().manual_seed(0), distribution=distribution
    )
    small = C.hutchinson_trace(
        f, theta, 50, generator=torch.Generator().manual_seed(0), distribution=distribution
    )
    assert big.n_samples == 2000
    assert abs(float(big.mean - trace)) <= 4 * float(big.stderr)
    assert float(big.stderr) < float(small.stderr)
    # deterministic for a seeded generator
    again = C.hutchinson_trace(
        f, theta, 2000, generator=torch.Generator().manual_seed(0), distribution=distribution
    )
    assert torch.equal(again.mean, big.mean)


def test_hutchinson_trace_exact_for_diagonal_matrix_with_rademacher():
    a = torch.diag(torch.arange(1.0, 6.0, dtype=DT))

    def f(theta):
        return 0.5 * theta @ a @ theta

    est = C.hutchinson_trace(
        f, torch.zeros(5, dtype=DT), 10, generator=torch.Generator().manual_seed(0)
    )
    assert torch.allclose(est.mean, torch.tensor(15.0, dtype=DT))
    assert float(est.stderr) < 1e-12


def test_hutchinson_diag_converges():
    f, theta, a, _ = _quadratic(n=8, seed=2)
    estimate = C.hutchinson_diag(f, theta, 4000, generator=torch.Generator().manual_seed(1))
    # per-entry standard deviation is sqrt(sum_{j != i} A_ij^2 / S)
    off = (a**2).sum(1) - a.diagonal() ** 2
    sd = torch.sqrt(off / 4000)
    assert bool(((estimate - a.diagonal()).abs() <= 5 * sd).all())


def test_hutchinson_bad_arguments():
    f, theta, _, _ = _quadratic(n=4)
    with pytest.raises(ValueError, match="n_samples"):
        C.hutchinson_trace(f, theta, 1)
    with pytest.raises(ValueError, match="distribution"):
        C.hutchinson_trace(f, theta, 10, distribution="uniform")
    with pytest.raises(ValueError, match="n_samples"):
        C.hutchinson_diag(f, theta, 0)


# ---------------------------------------------------------------------------
# eigenpairs
# ---------------------------------------------------------------------------


def _check_eigenpairs(values, vectors, dense, k):
    ref_values, ref_vectors = torch.linalg.eigh(dense)
    ref_values = ref_values.flip(0)[:k]
    ref_vectors = ref_vectors.flip(1)[:, :k].T
    assert values.shape == (k,) and vectors.shape == (k, dense.shape[0])
    assert torch.all(values[:-1] >= values[1:])
    assert torch.allclose(values, ref_values, rtol=1e-6, atol=1e-10)
    for u, w in zip(vectors, ref_vectors):
        assert abs(float(u @ w)) == pytest.approx(1.0, abs=1e-6)


def test_top_eigenpairs_mlp(mse_problem):
    *_, f, theta = mse_problem
    values, vectors = C.top_eigenpairs(f, theta, k=3, tol=0.0)
    _check_eigenpairs(values, vectors, C.hessian(f, theta), 3)


def test_top_eigenpairs_quadratic_including_k_equals_n():
    f, theta, a, _ = _quadratic(n=6, seed=5)
    values, vectors = C.top_eigenpairs(f, theta, k=2, tol=0.0)
    _check_eigenpairs(values, vectors, a, 2)
    values, vectors = C.top_eigenpairs(f, theta, k=6)
    _check_eigenpairs(values, vectors, a, 6)
    with pytest.raises(ValueError, match="k must be"):
        C.top_eigenpairs(f, theta, k=7)


# ---------------------------------------------------------------------------
# empirical Fisher
# ---------------------------------------------------------------------------


def _fisher_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    names = [n for n, _ in model.named_parameters()]
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(x.shape[0]):
        loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(loss, list(model.parameters()))
        for n, g in zip(names, grads):
            total[n] += g**2
    return {n: t / x.shape[0] for n, t in total.items()}


def test_empirical_fisher_matches_loop(classification):
    model, x, y = classification
    fisher = C.empirical_fisher_diag(model, x, y)
    loop = _fisher_loop(model, x, y)
    assert list(fisher) == list(loop)
    for name in loop:
        assert fisher[name].shape == loop[name].shape
        assert torch.allclose(fisher[name], loop[name], rtol=1e-10, atol=1e-14)
    chunked = C.empirical_fisher_diag(model, x, y, chunk_size=5)
    batched = C.empirical_fisher_diag(model, x, y, batch=7)  # uneven last batch
    for name in loop:
        assert torch.allclose(chunked[name], loop[name], rtol=1e-10, atol=1e-14)
        assert torch.allclose(batched[name], loop[name], rtol=1e-10, atol=1e-14)
    flat = C.empirical_fisher_diag(model, x, y, flat=True)
    assert torch.equal(flat, torch.cat([fisher[n].reshape(-1) for n in fisher]))


def test_empirical_fisher_matches_curvlinops_ef(classification):
    curvlinops = pytest.importorskip("curvlinops")
    model, x, y = classification
    params = list(model.parameters())
    ef = curvlinops.EFLinearOperator(model, nn.CrossEntropyLoss(), params, [(x, y)])
    n = sum(p.numel() for p in params)
    reference = (ef @ torch.eye(n, dtype=DT)).diagonal()
    assert _rel(C.empirical_fisher_diag(model, x, y, flat=True), reference) < 1e-10


class NoisyLinear(nn.Module):
    """Linear layer whose weights are multiplied by fresh Gaussian noise each forward."""

    def __init__(self, d_in: int, d_out: int, sigma: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in, dtype=DT) / d_in**0.5)
        self.bias = nn.Parameter(torch.zeros(d_out, dtype=DT))
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = 1.0 + self.sigma * torch.randn_like(self.weight)
        return F.linear(x, self.weight * noise, self.bias)


def _noisy_net(sigma: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(NoisyLinear(4, 6, sigma), nn.Tanh(), nn.Linear(6, 3)).to(DT)


def test_fisher_with_stochastic_layer_draws_noise_per_example():
    model = _noisy_net(sigma=0.5)
    x = torch.randn(1, 4, dtype=DT).repeat(8, 1)  # eight copies of one example
    y = torch.zeros(8, dtype=torch.long)
    torch.manual_seed(1)
    different = C.per_example_gradients(model, x, y, randomness="different")
    same = C.per_example_gradients(model, x, y, randomness="same")
    g_diff = different["0.weight"].reshape(8, -1)
    g_same = same["0.weight"].reshape(8, -1)
    # shared noise: identical examples give identical gradients
    assert torch.allclose(g_same, g_same[0].expand_as(g_same))
    # own noise per example: the gradients of identical examples differ
    assert float((g_diff - g_diff[0]).abs().max()) > 1e-6
    fisher = C.empirical_fisher_diag(model, x, y, randomness="different")
    assert all(torch.isfinite(t).all() for t in fisher.values())


def test_fisher_with_zero_noise_equals_deterministic_loop():
    model = _noisy_net(sigma=0.0)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(10, 4, generator=gen, dtype=DT)
    y = torch.randint(0, 3, (10,), generator=gen)
    fisher = C.empirical_fisher_diag(model, x, y, randomness="different")
    loop = _fisher_loop(model, x, y)
    for name in loop:
        assert torch.allclose(fisher[name], loop[name], rtol=1e-10, atol=1e-14)


def test_fisher_bad_arguments(classification):
    model, x, y = classification
    with pytest.raises(ValueError, match="randomness"):
        C.empirical_fisher_diag(model, x, y, randomness="sometimes")
    with pytest.raises(ValueError, match="method"):
        C.empirical_fisher_diag(model, x, y, method="sandwich")
    with pytest.raises(ValueError, match="batch"):
        C.empirical_fisher_diag(model, x, y, batch=0)
    with pytest.raises(ValueError, match="loss"):
        C.empirical_fisher_diag(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="number of examples"):
        C.empirical_fisher_diag(model, x, y[:-1])


# ---------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------


def test_bad_shapes_and_max_dim():
    f, theta, _, _ = _quadratic(n=5)
    with pytest.raises(ValueError, match=r"shape of theta \(5,\)"):
        C.hvp(f, theta, torch.ones(4, dtype=DT))
    with pytest.raises(ValueError, match="1-D"):
        C.hvp(f, theta.reshape(5, 1), torch.ones(5, 1, dtype=DT))
    with pytest.raises(ValueError, match="max_dim=3"):
        C.hessian(f, theta, max_dim=3)
    with pytest.raises(ValueError, match="max_dim"):
        C.hessian_diag(f, theta, max_dim=3)


def test_non_scalar_function_is_rejected():
    theta = torch.ones(3, dtype=DT)
    with pytest.raises(ValueError, match="scalar"):
        C.hvp(lambda t: t**2, theta, torch.ones(3, dtype=DT))
