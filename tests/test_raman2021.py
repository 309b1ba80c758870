"""The raman2021 experiments: paper-valued configs, units, and small real runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synlab.experiments import get_experiment
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
