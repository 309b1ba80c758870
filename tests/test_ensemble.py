"""The batched ensemble of Gaussian-synapse MLPs: exact per member, reparameterised, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synlab.ensemble import (
    GaussianEnsembleMLP,
    NoiseSource,
    StackedAdam,
    SynapseStats,
    TrainSpec,
    ensemble_objective,
    evaluate_ensemble,
    train_ensemble,
)
from synlab.synapses import GaussianLinear, mlp


def _toy(n=64, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, :classes].argmax(1)).long()
    return x, y


def test_member_equals_solo_gaussianlinear_network():
    """Same init, same noise, same batches: member k of the ensemble == a solo synlab network."""
    torch.manual_seed(1)
    x, y = _toy()
    K, sizes = 3, [6, 5, 3]
    ens = GaussianEnsembleMLP(K, sizes, bias=False, sigma_init=0.05, source=NoiseSource(K, 3))
    k = 1
    solo = mlp(sizes, GaussianLinear, bias=False, sigma_init=0.05)
    with torch.no_grad():
        for l, layer in enumerate([m for m in solo if isinstance(m, GaussianLinear)]):
            layer.weight.copy_(ens.mu[l][k])
            layer.weight_rho.copy_(ens.phi[l][k])
    lam = torch.tensor([0.1, 0.5, 2.0])
    rho = torch.tensor([0.5, 2 / 3, 2.0])
    opt_e = StackedAdam([(list(ens.parameters()), 1e-2)])
    opt_s = StackedAdam([(list(solo.parameters()), 1e-2)])
    layers = [m for m in solo if isinstance(m, GaussianLinear)]
    g = torch.Generator().manual_seed(7)
    for _step in range(15):
        idx = torch.randperm(x.shape[0], generator=g)[:8]
        noise = [torch.randn(K, *m.shape[1:], generator=g) for m in ens.mu]
        # ensemble step with explicit noise
        opt_e.zero_grad()
        out = ens(x[idx], noise=noise)
        nll = (
            nn.functional.cross_entropy(out.reshape(-1, 3), y[idx].repeat(K), reduction="none")
            .view(K, -1)
            .sum(1)
        )
        rel = sum((s ** -rho.view(-1, 1, 1)).flatten(1).sum(1) for s in ens.sigmas())
        (nll + 0.01 * lam * rel).sum().backward()
        opt_e.step()
        # solo step with member k's noise
        opt_s.zero_grad()
        h = x[idx]
        for i, layer in enumerate(layers):
            h = layer(h, noise=noise[i][k])
            if i < len(layers) - 1:
                h = torch.relu(h)
        loss = nn.functional.cross_entropy(h, y[idx], reduction="sum")
        loss = loss + 0.01 * lam[k] * sum((layer.sigma ** -rho[k]).sum() for layer in layers)
        loss.backward()
        opt_s.step()
    for l, layer in enumerate(layers):
        assert torch.allclose(ens.mu[l][k], layer.weight, atol=1e-5)
        assert torch.allclose(ens.phi[l][k], layer.weight_rho, atol=1e-5)


def test_member_equals_solo_run_with_per_member_seeds():
    x, y = _toy(n=40)
    kw = dict(bias=True, sigma_init=0.05, mu_init=(-0.3, 0.3))
    big = GaussianEnsembleMLP(
        3, [6, 4, 3], source=NoiseSource(3, per_member=True, seeds=[10, 11, 12]), **kw
    )
    solo = GaussianEnsembleMLP(
        1, [6, 4, 3], source=NoiseSource(1, per_member=True, seeds=[11]), **kw
    )
    assert torch.equal(big.mu[0][1], solo.mu[0][0])
    common = dict(epochs=2, batch_size=10, lr=1e-2, rho=0.5, data_seed=4)
    train_ensemble(big, x, y, TrainSpec(lam=[0.1, 1.0, 3.0], **common))
    train_ensemble(solo, x, y, TrainSpec(lam=1.0, **common))
    for l in range(2):
        assert torch.allclose(big.mu[l][1], solo.mu[l][0], atol=1e-6)
        assert torch.allclose(big.phi[l][1], solo.phi[l][0], atol=1e-6)
        assert not torch.allclose(
            big.phi[l][0], solo.phi[l][0], atol=1e-6
        )  # other λ, other trajectory


@pytest.mark.parametrize("noise", ["weight", "local"])
def test_reparameterisation_gradients(noise):
    """d E[f(w)]/dσ by reparameterisation equals the closed form for a linear unit: E[(xᵀw)²]."""
    torch.manual_seed(0)
    K, n_in = 2, 4
    ens = GaussianEnsembleMLP(
        K,
        [n_in, 1],
        bias=False,
        sigma_init=0.3,
        mu_init=(-0.5, 0.5),
        noise=noise,
        source=NoiseSource(K, 5),
    )
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    if noise == "local":  # one sample per example: 20000 examples
        out = ens(x.expand(20000, -1))
    else:  # one weight sample per forward pass: 4000 passes
        out = torch.cat([ens(x) for _ in range(4000)], dim=1)
    loss = (out**2).mean(1).sum()
    loss.backward()
    mu, sig = ens.mu[0].detach(), ens.weight_sigmas()[0].detach()
    # E[(xᵀw)²] = (xᵀμ)² + Σ x_j² σ_j²  →  d/dσ_j = 2 x_j² σ_j, d/dμ_j = 2 (xᵀμ) x_j
    dsig = 2 * x[0] ** 2 * sig[:, 0]
    dphi = dsig * torch.sigmoid(ens.phi[0].detach()[:, 0])
    dmu = 2 * (mu[:, 0] @ x[0]).unsqueeze(-1) * x[0]
    assert torch.allclose(ens.phi[0].grad[:, 0], dphi, rtol=0.15, atol=0.05)
    assert torch.allclose(ens.mu[0].grad[:, 0], dmu, rtol=0.1, atol=0.05)


def test_weight_noise_gradient_is_exact_for_a_fixed_sample():
    K = 2
    ens = GaussianEnsembleMLP(K, [3, 1], bias=False, sigma_init=0.2, source=NoiseSource(K, 0))
    x = torch.tensor([[1.0, 2.0, -1.0]])
    eps = [torch.randn(K, 1, 3)]
    out = ens(x, noise=eps)[:, 0, 0]
    out.sum().backward()
    sig = torch.nn.functional.softplus(ens.phi[0].detach())
    # out = xᵀ(μ + σ ε)  →  d out/dφ = x ε sigmoid(φ)
    assert torch.allclose(
        ens.phi[0].grad, x * eps[0] * torch.sigmoid(ens.phi[0].detach()), atol=1e-6
    )
    assert torch.allclose(
        out.detach(), ((ens.mu[0].detach() + sig * eps[0]) * x).sum(-1)[:, 0], atol=1e-6
    )


def test_homogeneous_members_share_the_rms_sigma():
    ens = GaussianEnsembleMLP(2, [5, 4, 3], homogeneous=[True, False], source=NoiseSource(2, 0))
    with torch.no_grad():
        ens.phi[0].normal_(-3, 1)
        sig = ens.sigmas()
        rms = ens.sigma_rms()
    for s in sig:
        assert torch.allclose(s[0], rms[0].expand_as(s[0]))
    assert not torch.allclose(sig[0][1], rms[1].expand_as(sig[0][1]))
    raw = torch.cat([s[0].flatten() for s in ens.raw_sigmas()])
    assert float(rms[0]) == pytest.approx(float(raw.detach().pow(2).mean().sqrt()), rel=1e-6)


def test_objective_and_validation():
    x, y = _toy(n=10)
    ens = GaussianEnsembleMLP(2, [6, 3], source=NoiseSource(2, 0), sigma_init=0.1)
    lam, rho = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.5])
    spec = TrainSpec(epochs=1, l1=0.0, n_data=10)
    total, nll, cost = ensemble_objective(ens, x, y, lam=lam, rho=rho, spec=spec)
    n_par = ens.n_parameters_per_member()
    assert torch.allclose(cost, lam * n_par * 0.1**-0.5, rtol=1e-4)
    ent = torch.tensor([True, False])
    _, _, cost_e = ensemble_objective(ens, x, y, lam=lam, rho=rho, entropic=ent, spec=spec)
    assert cost_e[0] == pytest.approx(-n_par * np.log(0.1), rel=1e-4)
    with pytest.raises(ValueError, match="one value per member"):
        train_ensemble(ens, x, y, TrainSpec(epochs=1, lam=[1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="rho must be > 0"):
        train_ensemble(ens, x, y, TrainSpec(epochs=1, rho=[0.5, 0.0]))
    with pytest.raises(ValueError, match="track_layers"):
        SynapseStats(ens, (1,))
    with pytest.raises(ValueError, match="loss"):
        TrainSpec(epochs=1, loss="hinge")
    with pytest.raises(ValueError, match="inputs must be"):
        ens(torch.zeros(4, 7))
    with pytest.raises(ValueError, match="noise must be"):
        GaussianEnsembleMLP(2, [6, 3], noise="bad")


def test_training_reduces_loss_and_evaluates():
    x, y = _toy(n=200)
    ens = GaussianEnsembleMLP(2, [6, 16, 3], source=NoiseSource(2, 0), sigma_init=1e-3)
    spec = TrainSpec(epochs=7, batch_size=20, lr=1e-2, lam=1e-3, rho=0.5, n_data=200)
    stats = SynapseStats(ens, (1,), start_epoch=6)
    seen = []
    h = train_ensemble(ens, x, y, spec, on_step=lambda s: (seen.append(s.step), stats.on_step(s)))
    assert seen == list(range(1, 71)) and h.steps == 70 and stats.n == 10  # last epoch only
    nll = np.asarray(h.epoch_nll)
    assert np.all(nll[-1] < nll[0])
    ev = evaluate_ensemble(ens, x, y, n_samples=3)
    assert np.all(ev["acc_avg"] > 0.6)
    acc = stats.result()[1]
    assert acc["grad_sq"].shape == ens.mu[1].shape
    assert torch.all(acc["adam_lr"] > 0) and torch.all(acc["input_rate"] >= 0)


def test_stacked_adam_matches_torch_adam():
    torch.manual_seed(0)
    a = torch.randn(3, 4, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    mine, ref = StackedAdam([([a], 1e-2)]), torch.optim.Adam([b], lr=1e-2)
    for _step in range(5):
        target = torch.randn(3, 4)
        for p, opt in ((a, mine), (b, ref)):
            opt.zero_grad()
            ((p - target) ** 3).abs().sum().backward()
            opt.step()
    assert torch.allclose(a, b, atol=1e-6)
    v_hat = ref.state[b]["exp_avg_sq"] / (1 - 0.999**5)
    assert torch.allclose(mine.learning_rates(a), 1e-2 / (v_hat.sqrt() + 1e-8), rtol=1e-5)
