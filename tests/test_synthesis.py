"""Tests of synlab.synthesis: importance measures on one network, and their comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from synlab import synthesis as S
from synlab.curvature import bias_free_layers, empirical_fisher_diag, flatten_loss, hessian
from synlab.synapses import BernoulliLinear, mlp


def _toy_data(n=64, d=12, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    return x, y


def _bernoulli_net(sizes=(12, 7, 5, 4), seed=0):
    torch.manual_seed(seed)
    model = mlp(list(sizes), BernoulliLinear, p_init=0.25)
    g = torch.Generator().manual_seed(seed + 1)
    for layer in bias_free_layers(model):
        layer.set_release_probability(0.25 + 0.75 * torch.rand(layer.p.shape, generator=g))
    return model


# ----------------------------------------------------------------------------- rank correlation
def test_spearman_matches_scipy_with_and_without_ties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    assert S.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    xt, yt = np.round(x), np.round(y * 2)  # many ties
    assert S.spearman(xt, yt) == pytest.approx(stats.spearmanr(xt, yt).statistic, abs=1e-12)


def test_spearman_closed_form_and_invariance():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])  # d = (1, -1, 1, -1, 0): 1 - 6*4/(5*24) = 0.8
    assert S.spearman(x, y) == pytest.approx(0.8)
    assert S.spearman(np.exp(x), y**3) == pytest.approx(0.8)  # monotone maps do not change ranks
    assert S.spearman(x, -y) == pytest.approx(-0.8)
    with pytest.raises(ValueError):
        S.spearman([1.0, 2.0], [1.0])


def test_rank_correlation_matrix_is_symmetric_and_agrees_with_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=100)
    scores = {"a": a, "b": a**3 + 0.1 * rng.normal(size=100), "c": rng.normal(size=100)}
    names, r = S.rank_correlation_matrix(scores)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(r, r.T)
    np.testing.assert_allclose(np.diag(r), 1.0)
    for i, u in enumerate(names):
        for j, v in enumerate(names):
            assert r[i, j] == pytest.approx(S.spearman(scores[u], scores[v]), abs=1e-12)


def test_importance_scores_orientation():
    m = {"p": np.array([0.2, 0.9]), "sigma": np.array([0.1, 1.0]), "adam_lr": np.array([1.0, 2.0])}
    s = S.importance_scores(m)
    assert s["p"][1] > s["p"][0]  # high p = important
    assert s["sigma"][0] > s["sigma"][1]  # low sigma = important
    assert s["adam_lr"][0] > s["adam_lr"][1]  # low learning rate = important
    with pytest.raises(ValueError):
        S.importance_scores({"unknown": np.ones(2)})


# ----------------------------------------------------------------------------- lesions
def test_lesion_order_lowest_first_with_random_ties():
    score = np.array([3.0, 1.0, 2.0, 1.0, 5.0])
    orders = {tuple(S.lesion_order(score, torch.Generator().manual_seed(s))) for s in range(20)}
    for o in orders:
        assert set(o[:2]) == {1, 3} and o[2:] == (2, 0, 4)
    assert len(orders) == 2  # both tie-breaks occur


def test_lesion_curve_bookkeeping_on_a_toy_linear_model():
    """Population loss of a linear model with unit-variance inputs after deleting a set S is
    sum_{i in S} w_i^2: the oracle order (smallest w^2 first) is best at every fraction."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(50, generator=g) * torch.logspace(-2, 0, 50)
    fractions = np.linspace(0, 1, 11)

    def neg_loss(v):
        return -float(((w - v) ** 2).sum())

    oracle = S.lesion_curve(neg_loss, w, S.lesion_order(w**2), fractions)
    # bookkeeping: exactly the k smallest w^2 are removed
    sq = np.sort((w**2).numpy())
    for f, val in zip(fractions, oracle):
        assert val == pytest.approx(-sq[: int(round(f * 50))].sum(), rel=1e-5, abs=1e-7)
    assert oracle[0] == 0 and oracle[-1] == pytest.approx(-float((w**2).sum()), rel=1e-6)
    for _s in range(5):
        rnd = S.lesion_curve(neg_loss, w, torch.randperm(50, generator=g).numpy(), fractions)
        assert np.all(oracle >= rnd - 1e-6)
        assert rnd[5] < oracle[5]
    assert np.all(w.numpy() == w.numpy())  # weights untouched
    reverse = S.lesion_curve(neg_loss, w, S.lesion_order(-(w**2)), fractions)
    assert np.all(reverse <= oracle + 1e-6)


def test_lesion_curves_on_a_sampled_linear_classifier():
    """Accuracy version: a linear classifier on data with known importance (input variance)."""
    g = torch.Generator().manual_seed(0)
    d = 40
    scale = torch.logspace(-2, 0, d)
    x = torch.randn(2000, d, generator=g) * scale
    w_true = torch.randn(2, d, generator=g)
    y = (x @ w_true.T).argmax(1)
    net = nn.Sequential(nn.Linear(d, 2, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(w_true)
    oracle = (w_true**2 * scale**2).reshape(-1)  # deletion cost of each synapse
    out = S.lesion_curves(
        net, x, y, {"oracle": oracle.numpy()}, [0.0, 0.5, 0.75], n_repeats=4, seed=0
    )
    assert out["oracle"][0] == out["random"][0] == 1.0
    assert out["oracle"][1] > out["random"][1] + 2 * out["random_se"][1]
    assert out["oracle"][2] > out["random"][2]
    assert torch.equal(net[0].weight, w_true)  # the network is restored


# ----------------------------------------------------------------------------- Adam
def test_adam_effective_lr_matches_hand_computation():
    torch.manual_seed(0)
    w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    opt = torch.optim.Adam([w], lr=0.01, betas=(0.9, 0.99), eps=1e-6)
    grads = [
        torch.tensor([1.0, 0.1, 0.0]),
        torch.tensor([-2.0, 0.2, 0.0]),
        torch.tensor([0.5, 0.3, 0.0]),
    ]
    v = torch.zeros(3)
    for gr in grads:
        opt.zero_grad()
        w.grad = gr.clone()
        opt.step()
        v = 0.99 * v + 0.01 * gr**2
    v_hat = v / (1 - 0.99**3)
    expected = 0.01 / (v_hat.sqrt() + 1e-6)
    (got,) = S.adam_effective_lr(opt)
    torch.testing.assert_close(got, expected)
    assert got[2] == pytest.approx(0.01 / 1e-6)  # never-used synapse: lr / eps
    # the update Adam took in its last step is eff_lr * m_hat
    assert got[0] < got[1]  # larger gradients, smaller steps


def test_adam_effective_lr_needs_state():
    w = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError):
        S.adam_effective_lr(torch.optim.Adam([w]))
    with pytest.raises(ValueError):
        S.adam_effective_lr(torch.optim.SGD([w], lr=0.1))


# ----------------------------------------------------------------------------- measures
def test_flat_order_is_the_synapse_index_table():
    model = _bernoulli_net()
    shapes = [tuple(m.weight.shape) for m in bias_free_layers(model)]
    table = S.synapse_index(shapes)
    w, p = S.mean_weights_flat(model), S.release_probabilities_flat(model)
    layers = bias_free_layers(model)
    assert len(table) == w.numel() == p.numel()
    for i in [0, 5, 83, 84, 100, 118, len(table) - 1]:
        l, post, pre = table[i]
        assert w[i] == layers[l].weight[post, pre]
        assert p[i] == layers[l].p[post, pre]
    back = S.unflat(w, shapes)
    assert all(torch.equal(a, m.weight) for a, m in zip(back, layers))


def test_measures_align_dead_input_synapses():
    """An input that is always 0 makes its synapses irrelevant: zero gradient, Fisher and Hessian
    at exactly the flat indices the table assigns to (layer 0, *, pre=dead); their optimised noise
    grows, their Adam learning rate is lr/eps."""
    model = _bernoulli_net()
    net = S.mean_network(model)
    x, y = _toy_data()
    dead = 3
    x[:, dead] = 0.0
    shapes = [tuple(m.weight.shape) for m in bias_free_layers(net)]
    table = S.synapse_index(shapes)
    is_dead = (table[:, 0] == 0) & (table[:, 2] == dead)
    fisher = empirical_fisher_diag(net, x, y, method="layerwise", flat=True)
    hess = S.gauss_newton_diag(net, x)
    data = S.Batches(x, y, batch_size=32)
    eta, _ = S.adam_finetune(net, data, steps=3, lr=1e-3)
    sigma, _ = S.optimise_noise(net, data, rho=0.5, c=1e-2, epochs=10, lr=0.05, sigma_init=0.3)
    n = len(table)
    for v in (fisher, hess, eta, sigma):
        assert v.shape == (n,)
    assert torch.all(fisher[is_dead] == 0) and torch.all(hess[is_dead] == 0)
    assert (fisher[~is_dead] > 0).float().mean() > 0.5
    assert torch.allclose(eta[is_dead], torch.tensor(1e-3 / 1e-8))
    # only the cost acts on a dead synapse: Adam moves its sigma up at the maximal rate, every step
    assert sigma[is_dead].min() >= torch.quantile(sigma[~is_dead], 0.9)
    assert sigma[is_dead].min() > sigma[~is_dead].median() * 1.5


def test_fisher_matches_per_example_gradients():
    model = _bernoulli_net()
    net = S.mean_network(model)
    x, y = _toy_data()
    ref = empirical_fisher_diag(net, x, y)
    fast = empirical_fisher_diag(net, x, y, method="layerwise", batch=20)
    assert list(fast) == list(ref)
    torch.testing.assert_close(
        empirical_fisher_diag(net, x, y, method="layerwise", batch=20, flat=True),
        S.flat(list(ref.values())),
        rtol=1e-4,
        atol=1e-8,
    )
    with pytest.raises(ValueError):
        empirical_fisher_diag(net, x, y, method="layerwise", params=["0.weight"])


def test_gauss_newton_is_the_hessian_diagonal_of_a_relu_net():
    model = _bernoulli_net(sizes=(6, 5, 4, 3))
    net = S.mean_network(model).double()
    x, y = _toy_data(n=40, d=6, c=3)
    x = x.double()
    f, theta = flatten_loss(net, F.cross_entropy, x, y)
    h = hessian(f, theta)
    gn = S.gauss_newton_diag(net, x)
    torch.testing.assert_close(gn, torch.diagonal(h), rtol=1e-8, atol=1e-10)
    assert torch.all(gn >= 0)
    idx = [0, 7, 31, len(theta) - 1]
    torch.testing.assert_close(S.exact_hessian_diag_at(net, x, y, idx), torch.diagonal(h)[idx])
    # with sigmoid units the curvature of the units adds a term: no longer equal
    sig = nn.Sequential(*(nn.Sigmoid() if isinstance(m, nn.ReLU) else m for m in net))
    f2, th2 = flatten_loss(sig, F.cross_entropy, x, y)
    assert not torch.allclose(
        S.gauss_newton_diag(sig, x), torch.diagonal(hessian(f2, th2)), rtol=1e-3
    )


def test_hutchinson_is_unbiased_on_average():
    model = _bernoulli_net(sizes=(4, 3, 2))
    net = S.mean_network(model).double()
    x, y = _toy_data(n=30, d=4, c=2)
    x = x.double()
    exact = S.gauss_newton_diag(net, x)
    few = S.hutchinson_hessian_diag(net, x, y, 10, generator=torch.Generator().manual_seed(0))
    many = S.hutchinson_hessian_diag(net, x, y, 1500, generator=torch.Generator().manual_seed(0))
    err_few, err_many = (float((e - exact).norm() / exact.norm()) for e in (few, many))
    assert err_many < 0.15 and err_many < err_few / 4


def test_mean_network_is_the_expected_forward_pass_of_the_first_layer():
    model = _bernoulli_net()
    net = S.mean_network(model)
    x, _ = _toy_data()
    assert torch.equal(S.mean_weights_flat(net), S.mean_weights_flat(model))
    with torch.no_grad():
        z_mean = net[0](x)
        z = torch.stack([model[0](x) for _ in range(800)]).mean(0)  # masks resampled per pass
    assert torch.allclose(z, z_mean, atol=0.1 * float(z_mean.abs().max()))
    assert not torch.allclose(
        model[0](x), z_mean, atol=0.1 * float(z_mean.abs().max())
    )  # one pass is noisy


def test_optimised_noise_is_smaller_where_curvature_is_larger():
    """Malkin et al.'s linear-model prediction on a real (tiny) network: sigma falls with H."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 8, generator=g) * torch.linspace(
        0.05, 1.0, 8
    )  # inputs of very different scales
    w_true = torch.randn(3, 8, generator=g)
    y = (x @ w_true.T).argmax(1)
    net = nn.Sequential(nn.Linear(8, 3, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(w_true * 3)
    sigma, losses = S.optimise_noise(
        net, S.Batches(x, y, batch_size=100), rho=0.5, c=1e-2, n_data=400, epochs=40, lr=0.05
    )
    hess = S.gauss_newton_diag(net, x)
    assert S.spearman(sigma.numpy(), hess.numpy()) < -0.7
    assert losses[-1] < losses[0]
    assert torch.equal(net[0].weight, w_true * 3)  # means stay fixed


def test_snr_and_obd():
    mu = torch.tensor([1.0, -2.0, 0.5])
    sigma = torch.tensor([0.5, 1.0, 0.1])
    torch.testing.assert_close(S.snr(mu, sigma), torch.tensor([2.0, 2.0, 5.0]))
    torch.testing.assert_close(
        S.obd_saliency(torch.tensor([2.0, 1.0, 4.0]), mu), torch.tensor([1.0, 2.0, 0.5])
    )
    with pytest.raises(ValueError):
        S.snr(mu, -sigma)


def test_subsample_indices():
    idx = S.subsample_indices(100, 30, seed=1)
    assert (
        len(set(idx.tolist())) == 30
        and idx.min() >= 0
        and idx.max() < 100
        and np.all(np.diff(idx) > 0)
    )
    assert len(S.subsample_indices(10, 30)) == 10


def test_mean_se():
    m, se = S.mean_se([np.array([1.0, 2.0]), np.array([3.0, 2.0])])
    np.testing.assert_allclose(m, [2.0, 2.0])
    np.testing.assert_allclose(se, [np.sqrt(2.0) / np.sqrt(2.0), 0.0])
    m1, se1 = S.mean_se([np.array([1.0, 5.0])])
    np.testing.assert_allclose(se1, 0.0)
    # scalars per repetition (a table's seeds): numpy scalars, nan for a single seed if asked
    m2, se2 = S.mean_se([1.0, 2.0, 6.0])
    assert m2 == 3.0 and se2 == pytest.approx(np.std([1.0, 2.0, 6.0], ddof=1) / np.sqrt(3))
    assert np.isnan(S.mean_se([4.0], single=np.nan)[1])
    with pytest.raises(ValueError):
        S.mean_se([])


def test_experiment_profiles_and_units():
    from synlab.experiments import get_experiment
    from synlab.experiments.synthesis import MEASURES, SynthesisConfig, synthesis_config

    exp = get_experiment("synthesis_importance")
    quick, full = synthesis_config("quick"), synthesis_config("full")
    assert exp.units(quick) == [{"dataset": "fashion_mnist", "seed": 2019}]
    assert len(exp.units(full)) == 6 and {u["dataset"] for u in exp.units(full)} == {
        "fashion_mnist",
        "mnist",
    }
    assert (
        full.sizes == (784, 200, 200, 10) and full.lr == 0.05 and full.p_up == full.p_down == 0.07
    )
    assert set(MEASURES) <= set(S.ORIENTATION)
    with pytest.raises(ValueError):
        SynthesisConfig(datasets=("cifar10",))
    with pytest.raises(ValueError):
        SynthesisConfig(rho=0.0)
    with pytest.raises(ValueError):
        synthesis_config("medium")
