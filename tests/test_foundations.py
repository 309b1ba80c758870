"""Foundations: the binomial quantal model, the layers as its limits, the curvature toys, the information experiment."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from synlab import quantal
from synlab.curvature import flatten_loss, hessian
from synlab.experiments import foundations as fx
from synlab.synapses import BernoulliLinear, GaussianLinear


# ----------------------------------------------------------------------------- quantal model
@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 200), p=st.floats(0.01, 0.99), q=st.floats(0.01, 10.0))
def test_moments_match_the_pmf(N, p, q):
    pmf = quantal.binomial_pmf(N, p)
    k = np.arange(N + 1)
    mean = float((pmf * k * q).sum())
    var = float((pmf * (k * q - mean) ** 2).sum())
    m = quantal.binomial_moments(N, p, q)
    assert math.isclose(pmf.sum(), 1.0, rel_tol=1e-9)
    assert math.isclose(m.mean, mean, rel_tol=1e-9)
    assert math.isclose(m.variance, var, rel_tol=1e-7, abs_tol=1e-12)
    assert math.isclose(m.cv, math.sqrt(var) / mean, rel_tol=1e-6)
    assert math.isclose(quantal.coefficient_of_variation(N, p), m.cv, rel_tol=1e-12)


def test_sampled_psp_moments_include_recording_noise():
    a = quantal.sample_psp(12, 0.3, 0.4, 200_000, noise_sd=0.1, generator=3)
    m = quantal.binomial_moments(12, 0.3, 0.4)
    assert a.dtype == torch.float64 and a.shape == (200_000,)
    assert abs(float(a.mean()) - m.mean) < 4 * math.sqrt((m.variance + 0.01) / 200_000)
    assert float(a.var()) == pytest.approx(m.variance + 0.01, rel=0.02)


def test_sampling_is_reproducible_with_a_seed():
    assert torch.equal(
        quantal.sample_psp(5, 0.5, 1.0, 100, 0.1, 7), quantal.sample_psp(5, 0.5, 1.0, 100, 0.1, 7)
    )
    assert not torch.equal(
        quantal.sample_psp(5, 0.5, 1.0, 100, 0.1, 7), quantal.sample_psp(5, 0.5, 1.0, 100, 0.1, 8)
    )


def test_psp_density_is_a_density_with_the_right_mean():
    x = np.linspace(-1, 6, 20001)
    d = quantal.psp_density(x, 5, 0.4, 1.0, 0.15)
    dx = x[1] - x[0]
    assert (d * dx).sum() == pytest.approx(1.0, abs=1e-4)
    assert (x * d * dx).sum() == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize(
    "bad",
    [
        dict(N=0, p=0.5, q=1.0),
        dict(N=2.5, p=0.5, q=1.0),
        dict(N=True, p=0.5, q=1.0),
        dict(N=3, p=1.2, q=1.0),
        dict(N=3, p=-0.1, q=1.0),
        dict(N=3, p=0.5, q=0.0),
        dict(N=3, p=0.5, q=-1.0),
        dict(N="3", p=0.5, q=1.0),
    ],
)
def test_invalid_parameters_raise_clear_errors(bad):
    with pytest.raises(ValueError, match="N|p|q"):
        quantal.binomial_moments(**bad)


def test_degenerate_probabilities():
    assert quantal.binomial_moments(4, 0.0, 1.0).cv == math.inf
    assert quantal.coefficient_of_variation(4, 1.0) == 0.0
    with pytest.raises(ValueError, match="p must be > 0"):
        quantal.coefficient_of_variation(4, 0.0)
    with pytest.raises(ValueError, match="deterministic"):
        quantal.gaussian_limit(4, 1.0, 1.0)


def test_bernoulli_synapse_is_the_n1_case():
    m = quantal.bernoulli_moments(0.25, 2.0)
    assert m.mean == pytest.approx(0.5) and m.variance == pytest.approx(0.25 * 0.75 * 4.0)


def test_ks_distance_obeys_berry_esseen_and_shrinks_like_inverse_sqrt_n():
    Ns = [4, 16, 64, 256, 1024]
    d = [quantal.ks_distance_to_gaussian(N, 0.3) for N in Ns]
    assert all(a > b for a, b in zip(d, d[1:]))
    assert all(di <= quantal.berry_esseen_bound(N, 0.3) for di, N in zip(d, Ns))
    scaled = [di * math.sqrt(N) for di, N in zip(d, Ns)]
    assert max(scaled) / min(scaled) < 1.2


def test_ks_distance_matches_a_sampled_ks_statistic():
    from scipy.stats import kstest, norm

    N, p = 50, 0.4
    k = quantal.sample_release_counts(N, p, 50_000, generator=0).numpy()
    g = quantal.gaussian_limit(N, p)
    stat = kstest(k, norm(g.mu, g.sigma).cdf).statistic
    assert stat == pytest.approx(quantal.ks_distance_to_gaussian(N, p), abs=0.01)


def test_quantal_size_for_mean_keeps_the_mean():
    for N in (1, 10, 100):
        q = quantal.quantal_size_for_mean(2.0, N, 0.3)
        assert quantal.binomial_moments(N, 0.3, q).mean == pytest.approx(2.0)


def test_bernoulli_layer_samples_have_the_predicted_moments():
    torch.manual_seed(1)
    layer = BernoulliLinear(6, 3, p_init=torch.rand(3, 6) * 0.7 + 0.2)
    x = torch.randn(6)
    y = quantal.sample_layer_outputs(layer, x, 40_000, generator=2)
    mean, var = quantal.layer_output_moments(layer, x)
    assert torch.allclose(y.mean(0), mean, atol=4 * float(var.max().sqrt()) / 200)
    assert torch.allclose(y.var(0), var, rtol=0.05)


def test_gaussian_layer_samples_have_the_predicted_moments():
    torch.manual_seed(1)
    layer = GaussianLinear(6, 3, sigma_init=0.3)
    x = torch.randn(6)
    y = quantal.sample_layer_outputs(layer, x, 4000, generator=2)
    mean, var = quantal.layer_output_moments(layer, x)
    assert torch.allclose(y.mean(0), mean, atol=4 * float(var.max().sqrt()) / math.sqrt(4000))
    assert torch.allclose(y.var(0), var, rtol=0.1)


def test_matched_gaussian_layer_has_the_bernoulli_layers_moments():
    torch.manual_seed(0)
    b = BernoulliLinear(5, 2, p_init=0.3)
    g = GaussianLinear(5, 2, sigma_init=0.1)
    with torch.no_grad():
        g.weight.copy_(b.weight)
    g.set_sigma(b.weight.abs() * math.sqrt(0.7 / 0.3))
    x = torch.randn(5)
    for a, c in zip(quantal.layer_output_moments(b, x), quantal.layer_output_moments(g, x)):
        assert torch.allclose(a, c, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- curvature toys
def test_gauss_newton_equals_model_fisher_and_hessian_at_the_teacher():
    teacher = fx.teacher_network((3, 4, 3), seed=0)
    x, y = fx.toy_classification(teacher, 1200, seed=1)
    fm = fx.fisher_matrices(teacher, x, y)
    G = fx.gauss_newton_matrix(teacher, x)
    assert torch.allclose(G, fm["model"], atol=1e-12)
    f, th = flatten_loss(teacher, F.cross_entropy, x, y)
    H = hessian(f, th)
    rel = lambda a, b: float(torch.linalg.norm(a - b) / torch.linalg.norm(b))  # noqa: E731
    # at the population optimum E[H] = F and E[F_emp] = F; finite samples agree to O(1/sqrt(n))
    assert rel(H, fm["model"]) < 0.15
    assert rel(fm["empirical"], fm["model"]) < 0.15
    # far from the optimum the empirical Fisher is a poor stand-in for the Fisher
    far = fx.teacher_network((3, 4, 3), seed=9, scale=3.0)
    fm_far = fx.fisher_matrices(far, x, y)
    assert rel(fm_far["empirical"], fm_far["model"]) > 2 * rel(fm["empirical"], fm["model"])


def test_fit_full_batch_reduces_the_gradient():
    teacher = fx.teacher_network((3, 4, 3), seed=0)
    x, y = fx.toy_classification(teacher, 300, seed=1)
    student = fx.teacher_network((3, 4, 3), seed=4)
    f, th = flatten_loss(student, F.cross_entropy, x, y)
    g0, loss0 = float(torch.func.grad(f)(th).norm()), float(f(th))
    g1 = fx.fit_full_batch(student, x, y, max_iter=60)
    assert g1 < 0.1 * g0
    with torch.no_grad():
        assert float(F.cross_entropy(student(x), y)) < loss0


def test_toy_labels_follow_the_teacher():
    teacher = fx.teacher_network((4, 8, 3), seed=0)
    x, y = fx.toy_classification(teacher, 20_000, seed=1)
    with torch.no_grad():
        p = torch.softmax(teacher(x), 1).mean(0)
    freq = torch.bincount(y, minlength=3).double() / len(y)
    assert torch.allclose(freq, p, atol=0.015)


# ----------------------------------------------------------------------------- information experiment
def test_information_configs_and_units():
    quick, full = fx.information_config("quick"), fx.information_config("full")
    assert len(fx.information_units(quick)) == 4 and len(fx.information_units(full)) == 18
    assert full.n_train is None and full.epochs == 20
    with pytest.raises(ValueError):
        fx.information_config("medium")
    with pytest.raises(ValueError, match="l2_values"):
        replace(quick, l2_values=(-1.0,))


def test_strong_l2_lowers_energy_and_information():
    from synlab.data import DataUnavailableError, load_dataset

    try:
        load_dataset("fashion_mnist", verbose=False)
    except DataUnavailableError:
        pytest.skip("Fashion-MNIST not available")
    cfg = replace(fx.information_config("quick"), n_train=1000, n_test=500, epochs=1)
    lo = fx.run_information_unit(cfg, {"l2": 0.0, "seed": 1})
    hi = fx.run_information_unit(cfg, {"l2": 0.5, "seed": 1})
    assert lo["accuracy"] > 0.3  # three times chance (0.1) after 10 SGD steps
    assert 0 <= lo["mi_soft_bits"] <= lo["mi_hard_bits"] + 1 <= lo["label_entropy_bits"] + 1
    assert hi["energy"] < 0.8 * lo["energy"]
    assert hi["mi_soft_bits"] < lo["mi_soft_bits"]
    assert lo["energy_per_bit"] == pytest.approx(lo["energy"] / lo["mi_soft_bits"])
    assert lo["confusion"].shape == (10, 10) and lo["confusion"].sum() == pytest.approx(1.0)
