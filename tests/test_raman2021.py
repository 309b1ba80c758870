"""The raman2021 experiments: paper-valued configs, units, and small real runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synlab.experiments import all_experiments, get_experiment
from synlab.experiments.raman2021 import RATIOS, TABLE1, fraction_to_ratio
from synlab.results import run_experiment

NAMES = (
    "raman_sweet_spot",
    "raman_fig5_nonlinear",
    "raman_fig5_linear",
    "raman_rules",
    "raman_table2",
)


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_quick_smaller_than_full(name):
    exp = get_experiment(name)
    quick, full = exp.make_config("quick"), exp.make_config("full")
    assert exp.part == "raman2021"
    assert len(exp.units(quick)) <= len(exp.units(full))
    assert dataclasses.asdict(quick) != dataclasses.asdict(full)


def test_fig5_full_config_is_the_papers_grid():
    cfg = get_experiment("raman_fig5_nonlinear").make_config("full")
    assert RATIOS == (0.1, 0.4, 0.7, 1.0, 1.3, 1.6, 1.9, 2.2, 2.5)
    assert (
        cfg.ratios == RATIOS
        and cfg.corruptions == (0.1, 20.0, 50.0)
        and cfg.ds == (0.01, 0.02, 0.03)
    )
    assert (cfg.n_steps, cfg.steady_window, cfg.repeats) == (8000, 500, 8)
    assert len(get_experiment("raman_fig5_linear").units(cfg)) == 9


def test_fig5_unit_runs_and_reports_consistent_numbers(tmp_path):
    exp = get_experiment("raman_fig5_nonlinear")
    cfg = dataclasses.replace(
        exp.make_config("quick"),
        corruptions=(0.1,),
        ratios=(0.1, 0.7, 2.5),
        n_steps=150,
        steady_window=50,
        repeats=2,
        n_samples=100,
        q_probes=4,
        curve_every=10,
    )
    res = run_experiment(exp.name, "quick", config=cfg, root=tmp_path)
    r = res.records[0].result
    assert r["steady"].shape == (3, 2) and r["curve"].shape == (15, 3)
    assert np.allclose(r["steady_mean"], r["steady"].mean(1))
    # at 0.1 the gradient cannot keep up and at 2.5 it overshoots: the middle is best
    assert r["steady_mean"][1] < r["steady_mean"][0] and r["steady_mean"][1] < r["steady_mean"][2]
    # the compensatory direction (κ = 0.1) is far more curved than white noise on this network
    assert np.all(r["q_grad"] > 3 * r["q_eps"])
    assert np.allclose(r["q_dc"], r["q_dc_eq8"], rtol=0.2)


def test_sweet_spot_is_below_one(tmp_path):
    exp = get_experiment("raman_sweet_spot")
    cfg = dataclasses.replace(
        exp.make_config("quick"), stages=(0.1, 0.5, 1.0, 2.0), steps_per_stage=100, n_samples=100
    )
    r = run_experiment(exp.name, "quick", config=cfg, root=tmp_path).records[0].result
    assert r["stage_loss"].shape == (4, 2) and r["weights"].shape == (400, cfg.record_weights)
    assert r["best_stage_ratio"] < 1.0


def test_table1_transcription_and_ratios():
    assert len(TABLE1) == 10
    pct = [p for s in TABLE1 for p in s.independent_percent]
    assert len(pct) == 9 and min(pct) == 50.0 and max(pct) == 77.0
    assert all(len(s.independent_percent) == len(s.measure) for s in TABLE1)
    ratios = fraction_to_ratio(np.array(pct))
    assert np.all(ratios <= 1.0) and fraction_to_ratio(50.0) == 1.0
    with pytest.raises(ValueError):
        fraction_to_ratio(0.0)


# ----------------------------------------------------------------------------- issue 19
def test_linear_fig5_uses_the_linear_grid_and_bootstrap_is_an_option():
    from synlab.experiments.raman2021 import AUTHORS_STORED

    lin = get_experiment("raman_fig5_linear").make_config("full")
    boot = get_experiment("raman_fig5_linear_bootstrap").make_config("full")
    non = get_experiment("raman_fig5_nonlinear").make_config("full")
    assert lin.corruptions == (0.1, 1.0, 5.0) and lin.network == "linear" and not lin.bootstrap
    assert boot.bootstrap and dataclasses.replace(boot, bootstrap=False, ds=lin.ds) == lin
    assert boot.ds == (0.01,)  # the column of the authors' stored losses
    assert non.corruptions == (0.1, 20.0, 50.0) and not hasattr(non, "bootstrap")
    assert (lin.n_steps, lin.steady_window, lin.repeats) == (8000, 500, 8)
    stored = AUTHORS_STORED["linear_losses_k0.1_d0.01"]
    assert len(stored["loss"]) == len(stored["ratios"]) == 9
    assert stored["ratios"][int(np.argmin(stored["loss"]))] == 0.7  # the stored optimum
    assert AUTHORS_STORED["best_ratio"][("linear", 0.1)][1] == (0.77, 0.78)


def test_stored_nonlinear_units_keep_their_config():
    import json
    from pathlib import Path

    from synlab.results import config_hash

    stored = sorted(
        (Path(__file__).parent.parent / "results/full/raman_fig5_nonlinear").glob("*.json")
    )
    if not stored:
        pytest.skip("no stored raman_fig5_nonlinear units")
    prov = json.loads(stored[0].read_text())["provenance"]
    cfg = get_experiment("raman_fig5_nonlinear").make_config("full")
    assert prov["config_hash"] == config_hash(cfg)


def test_bootstrap_gradient_is_the_weighted_one_and_unbiased():
    import torch

    from synlab.maintenance import StudentTeacher

    for hidden in (None, 20):
        task = StudentTeacher(batch=2, hidden=hidden, n_samples=50, seed=3)
        theta = task.initial_state(jitter=0.05, seed=1)
        v, g = task.value_and_gradient(theta)
        w = torch.full((2, 50), 1 / 50, dtype=task.dtype)
        vw, gw = task.value_and_gradient(theta, w)
        assert torch.allclose(v, vw) and torch.allclose(g, gw)
        # weights on the first half only = the loss of the first half of the inputs
        w = torch.zeros(2, 50, dtype=task.dtype)
        w[:, :25] = 1 / 25
        half = StudentTeacher(batch=2, hidden=hidden, n_samples=50, seed=3)
        half.inputs, half.targets, half.n_samples = task.inputs[:, :25], task.targets[:, :25], 25
        half.second_moment = half.inputs.transpose(-1, -2) @ half.inputs / 25
        assert torch.allclose(task.value_and_gradient(theta, w)[1], half.gradient(theta))


def test_bootstrap_simulation_runs_and_defaults_stay_bit_identical():
    import torch

    from synlab.maintenance import StudentTeacher, simulate

    task = StudentTeacher(batch=3, hidden=None, n_samples=200, seed=0)
    kw = dict(fluct_magnitude=0.05, ratio=1.0, corruption=0.1, n_steps=60, seed=4)
    a, b = simulate(task, **kw), simulate(task, **kw, bootstrap=False)
    assert torch.equal(a.loss, b.loss)
    c = simulate(task, **kw, bootstrap=True)
    assert not torch.equal(a.loss, c.loss) and torch.isfinite(c.loss).all()
    with pytest.raises(ValueError, match="bootstrap"):
        simulate(task, **kw, rule="zeroth", bootstrap=True)


def test_input_covariance_family_has_the_stated_condition_number():
    import torch

    from synlab.maintenance import StudentTeacher, input_sqrt_covariance

    for kappa in (1.0, 100.0, 1e4):
        r = input_sqrt_covariance(12, kappa, seed=2)
        ev = torch.linalg.eigvalsh(r @ r)
        assert ev.max() / ev.min() == pytest.approx(kappa, rel=1e-8)
        assert ev.mean() == pytest.approx(1.0)
    white = StudentTeacher(batch=1, hidden=None, seed=5)
    same = StudentTeacher(batch=1, hidden=None, seed=5, input_condition=1.0)
    assert torch.equal(white.inputs, same.inputs)  # the paper's white inputs are untouched
    aniso = StudentTeacher(batch=1, hidden=None, seed=5, input_condition=1e3)
    ev = torch.linalg.eigvalsh(aniso.second_moment[0])
    assert ev.max() / ev.min() > 300  # the sample covariance follows C
    with pytest.raises(ValueError):
        input_sqrt_covariance(12, 0.5)


def test_gauss_newton_equals_the_hessian_at_the_teacher():
    import torch

    from synlab.maintenance import StudentTeacher

    task = StudentTeacher(batch=2, hidden=20, n_samples=100, seed=1)
    v = torch.randn(2, task.n_weights, dtype=task.dtype, generator=torch.Generator().manual_seed(0))
    th = task.theta_star
    assert torch.allclose(task.gnvp(th, v), task.hvp(th, v), atol=1e-10)
    off = task.initial_state(jitter=0.5, seed=2)  # residuals ≠ 0: the two differ
    assert not torch.allclose(task.gnvp(off, v), task.hvp(off, v), atol=1e-6)
    # Gauss–Newton is positive semi-definite
    assert ((v * task.gnvp(off, v)).sum(-1) >= 0).all()


def test_anisotropy_moves_the_optimum_below_one(tmp_path):
    """White inputs: every direction is equally curved and the optimum sits at 1 (Eq. 9);
    a condition number of 100 makes the gradient more curved than noise and the optimum falls."""
    from synlab.experiments.raman2021 import crossing

    exp = get_experiment("raman_anisotropy")
    cfg = dataclasses.replace(
        exp.make_config("quick"), ratios=(0.3, 0.6, 1.0, 1.5), n_steps=800, steady_window=300,
        n_samples=200,
    )  # fmt: skip
    res = run_experiment(exp.name, "quick", config=cfg, root=tmp_path)
    white, aniso = (r.result for r in res.records)
    assert white["optimal_ratio"][0] == 1.0 and aniso["optimal_ratio"][0] < 1.0
    assert abs(white["eq9_ratio"][0] - 1.0) < 0.05 and aniso["eq9_ratio"][0] < 0.9
    assert crossing([1, 10, 100], [1.0, 0.9, 0.6], 0.77) == pytest.approx(10 ** (1 + 0.13 / 0.3))
    assert crossing([1, 10], [1.0, 0.9], 0.77) is None


def test_eq9_nonlinear_reports_each_curvature_choice(tmp_path):
    exp = get_experiment("raman_eq9_nonlinear")
    cfg = dataclasses.replace(exp.make_config("quick"), n_steps=200, n_samples=100)
    r = run_experiment(exp.name, "quick", config=cfg, root=tmp_path).records[0].result
    for state in ("initial", "steady"):
        for m in ("H", "GN"):
            ratio = r[f"{state}_{m}_ratio"]
            assert ratio.shape == (2,) and np.all((ratio > 0) & (ratio < 2))
            # SI Eq. 8 and the sampled compensatory directions agree on Q[Δc]
            assert np.allclose(ratio, r[f"{state}_{m}_ratio_eq8"], rtol=0.3)
    # at the teacher the residuals vanish: Hessian and Gauss–Newton agree
    assert np.allclose(r["initial_H_q_eps"], r["initial_GN_q_eps"], rtol=1e-3)


# ------------------------------------------------- chapter 3's generated tables: their wording
def _fake_anisotropy(refined, eq9, conditions=(1.0, 10.0, 100.0)):
    from types import SimpleNamespace as NS

    from synlab.results import ExperimentResults

    cfg = get_experiment("raman_anisotropy").make_config("full")
    recs = [
        NS(
            unit={"condition": k},
            result={
                "optimal_ratio": np.array([round(r, 1)]),
                "optimal_ratio_refined": np.array([r]),
                "eq9_ratio": np.array([e]),
                "hessian_condition": k * 1.1,
            },
        )
        for k, r, e in zip(conditions, refined, eq9, strict=True)
    ]
    return ExperimentResults("raman_anisotropy", "full", cfg, recs)


def test_anisotropy_table_says_where_the_optimum_crosses_the_authors_value_or_that_it_does_not():
    from synlab.experiments.raman2021 import anisotropy_curve
    from synlab.tables import build

    res = _fake_anisotropy([1.0, 0.8, 0.6], [0.98, 0.7, 0.5], conditions=(100.0, 1.0, 10.0))
    c = anisotropy_curve(res)
    assert c["condition"].tolist() == [1.0, 10.0, 100.0]  # ordered by κ, whatever the unit order
    assert c["refined"].tolist() == [0.8, 0.6, 1.0]
    md = build(
        "raman2021.precise_rules.anisotropy", _fake_anisotropy([1.0, 0.8, 0.6], [0.98, 0.7, 0.5])
    )
    # 0.77 is crossed between κ = 10 and 100 (at 10^1.15) by the simulation, between 1 and 10
    # (at 10^0.75) by Eq. 9; the authors' value is marked as theirs
    assert "The simulated optimum crosses" in md and "at cond Σ ≈ 14.1" in md
    assert "Eq. 9's prediction crosses" in md and "at cond Σ ≈ 5.6" in md
    assert '<span class="paper">0.77</span>' in md and "never" not in md
    md = build(
        "raman2021.precise_rules.anisotropy", _fake_anisotropy([1.0, 0.95, 0.9], [1.0, 0.9, 0.85])
    )
    assert "The simulated optimum never crosses" in md and "it stays above it" in md
    assert "cond Σ ≈" not in md


def test_agreement_with_the_authors_stored_optimum():
    from synlab.experiments.raman2021 import agrees_with_authors, authors_best_ratio

    assert authors_best_ratio("nonlinear", 0.1) == (0.50, 0.52)
    assert agrees_with_authors([0.487, 0.491], "nonlinear", 0.1) is True  # within 0.05
    assert agrees_with_authors([0.82, 0.93], "nonlinear", 50.0) is True  # the ranges overlap
    assert agrees_with_authors([0.40, 0.44], "nonlinear", 0.1) is False  # 0.06 below theirs
    assert agrees_with_authors([0.58], "nonlinear", 0.1) is False  # 0.06 above
    assert agrees_with_authors([1.0], "linear", 0.1) is False  # the published script's optimum
    assert agrees_with_authors([0.5], "nonlinear", 7.0) is None  # nothing stored there


def test_fig5_summary_reads_the_optimum_and_eq9_at_the_grid_optimum():
    from types import SimpleNamespace as NS

    from synlab.experiments.raman2021 import fig5_summary

    def rec(k, d, best):
        mean = np.array([3.0, 1.0, 2.0]) if best == 1 else np.array([1.0, 2.0, 3.0])
        q_eps = np.array([[1.0, 1.0], [4.0, 4.0], [1.0, 1.0]])
        q_dc = np.array([[1.0, 1.0], [16.0, 16.0], [9.0, 9.0]])
        return NS(
            unit={"corruption": k, "d": d},
            result={"steady_mean": mean, "optimal_ratio": 0.4, "optimal_ratio_refined": 0.45,
                    "q_eps": q_eps, "q_dc": q_dc, "q_grad": 25 * q_eps},
        )  # fmt: skip

    rows = fig5_summary(NS(records=[rec(50.0, 0.01, 0), rec(0.1, 0.02, 1)]))
    assert [(r["corruption"], r["d"]) for r in rows] == [(0.1, 0.02), (50.0, 0.01)]
    assert rows[0]["eq9"] == pytest.approx(0.5)  # √(4/16) at the grid optimum (index 1)
    assert rows[1]["eq9"] == pytest.approx(1.0) and rows[0]["steady_error"] == 1.0
    assert rows[0]["grad_curvature"] == pytest.approx(25.0)


#: every registered experiment of the Raman part (a new one is checked without editing this file)
RAMAN_EXPERIMENTS = sorted(n for n, e in all_experiments().items() if e.part == "raman2021")


@pytest.mark.parametrize("name", RAMAN_EXPERIMENTS)
def test_config_frozen_and_unknown_profile_refused(name):
    exp = get_experiment(name)
    cfg = exp.make_config("quick")
    first = dataclasses.fields(cfg)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cfg, first, getattr(cfg, first))
    assert exp.make_config("full") != cfg
    with pytest.raises(ValueError, match="unknown profile 'Full'"):
        exp.make_config("Full")
