"""The stacked engine (synlab.fast.stacked) against the solo paths it replaces: K networks
trained as one stack follow their solo runs, in the energy sweeps (StackedMLP / train_stacked
against train_classifier) and in lifelong runs (train_sequentially_stacked against
train_sequentially)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_continual import _blob_task, _permuted_stream
from torch import nn

from synlab.continual import BGDStrategy, make_strategy, train_sequentially
from synlab.data import Task
from synlab.fast.stacked import (
    STACKABLE,
    LifelongStackSpec,
    MemberDraws,
    StackedMLP,
    train_sequentially_stacked,
    train_stacked,
)
from synlab.rules import PresynapticRule
from synlab.synapses import BernoulliLinear, mlp
from synlab.training import train_classifier


# ----------------------------------------------------------------------------- energy sweeps
def _data(n=120, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (x[:, :c].argmax(1) + (x[:, -1] > 1).long()) % c
    return x, y


def _models(kind, seeds, sizes=(12, 16, 16, 3)):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        m = mlp(sizes, BernoulliLinear, p_init=0.25) if kind == "bernoulli" else mlp(sizes)
        out.append(m.double())
    return out


@pytest.mark.parametrize("consolidate", [False, True])
def test_stack_follows_solo_runs(consolidate):
    x, y = _data()
    seeds, lrs, wds = [3, 4, 3], [0.05, 0.05, 0.1], [0.0, 0.01, 0.001]
    rule = PresynapticRule(
        p_up=0.07,
        p_down=0.07,
        g_lim=0.001,
        p_min=0.25,
        p_max=1.0,
        p_freeze=0.9 if consolidate else 1.0,
        headroom=True,
        consolidate=consolidate,
    )
    solos = _models("bernoulli", seeds)
    stack = StackedMLP.from_models(solos)
    hists = train_stacked(
        stack,
        (x, y),
        epochs=3,
        seeds=seeds,
        batch_size=25,
        lr=lrs,
        weight_decay=wds,
        rule=rule,
        device="cpu",
    )
    for k, (model, s) in enumerate(zip(solos, seeds)):
        h = train_classifier(
            model,
            (x, y),
            epochs=3,
            batch_size=25,
            lr=lrs[k],
            weight_decay=wds[k],
            rule=rule,
            seed=s,
            device="cpu",
        )
        back = stack.to_models()[k]
        for a, b in zip(
            [m for m in model if isinstance(m, BernoulliLinear)],
            [m for m in back if isinstance(m, BernoulliLinear)],
        ):
            torch.testing.assert_close(b.weight, a.weight, rtol=0, atol=1e-10)
            torch.testing.assert_close(b.p, a.p, rtol=0, atol=1e-12)
        assert hists[k].loss == pytest.approx(h.loss, rel=1e-9)
        assert hists[k].mean_p == pytest.approx(h.mean_p, rel=1e-12)
        assert hists[k].steps == h.steps == 15
    # the rule really moved p, differently per member
    p_final = stack.ps[0]
    assert not torch.equal(p_final[0], p_final[1]) and float(p_final.max()) > 0.25


def test_deterministic_stack_follows_solo_sgd():
    x, y = _data(seed=1)
    seeds = [5, 6]
    solos = _models("linear", seeds)
    stack = StackedMLP.from_models(solos)
    train_stacked(
        stack,
        (x, y),
        epochs=2,
        seeds=seeds,
        batch_size=30,
        lr=0.1,
        weight_decay=[0.0, 0.05],
        device="cpu",
    )
    for k, (model, s) in enumerate(zip(solos, seeds)):
        train_classifier(
            model,
            (x, y),
            epochs=2,
            batch_size=30,
            lr=0.1,
            weight_decay=[0.0, 0.05][k],
            seed=s,
            device="cpu",
        )
        for a, b in zip(
            [m for m in model if isinstance(m, nn.Linear)],
            [m for m in stack.to_models()[k] if isinstance(m, nn.Linear)],
        ):
            torch.testing.assert_close(b.weight, a.weight, rtol=0, atol=1e-10)


def test_eval_mode_uses_mean_weights_and_masks_follow_p():
    solos = _models("bernoulli", [1, 2])
    stack = StackedMLP.from_models(solos).eval()
    x = torch.randn(7, 12, dtype=torch.float64)
    out = stack(x)
    for k, m in enumerate(solos):
        torch.testing.assert_close(out[k], m.eval()(x))
    with torch.no_grad():
        stack.p0[1].fill_(1.0)
    gens = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]
    masks = stack.sample_masks(MemberDraws(gens, 2, torch.device("cpu")))
    assert masks[0][1].eq(1).all()  # p = 1 always releases
    frac = float(masks[0][0].mean())
    assert abs(frac - 0.25) < 0.03  # 192 synapses at p = 0.25


def test_bad_input_is_rejected():
    solos = _models("bernoulli", [1, 2])
    stack = StackedMLP.from_models(solos)
    x, y = _data()
    with pytest.raises(ValueError, match="one seed per member"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1])
    with pytest.raises(ValueError, match="one value per member"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1, 2], lr=[0.1])
    with pytest.raises(ValueError, match="weight_decay >= 0"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1, 2], weight_decay=-1.0)
    with pytest.raises(ValueError, match="inputs must have shape"):
        stack(torch.randn(3, 5, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match="same layers"):
        StackedMLP.from_models([solos[0], mlp((12, 8, 3), BernoulliLinear)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StackedMLP([torch.zeros(2, 3, 4)], [torch.full((2, 3, 4), 1.5)])
    det = StackedMLP.from_models(_models("linear", [1, 2]))
    with pytest.raises(ValueError, match="stochastic"):
        train_stacked(det, (x, y), epochs=1, seeds=[1, 2], rule=PresynapticRule())
    with pytest.raises(ValueError, match="bias-free"):
        StackedMLP.from_models([mlp((12, 3), bias=True)])


# ----------------------------------------------------------------------------- lifelong runs
KW = dict(epochs=2, batch_size=40, hidden=(12, 8), eval_every=7, curve_test=50)


def _spec(**kw) -> LifelongStackSpec:
    return LifelongStackSpec(**{**KW, **kw})


def _other_stream():
    """A second stream of the same shapes (members may bring different data, as seeds do)."""
    tasks = _permuted_stream(n_tasks=3, n=200)
    g = torch.Generator().manual_seed(3)
    p = torch.randperm(tasks[0].x_train.shape[1], generator=g)
    return [Task(t.name, t.x_train[:, p], t.y_train, t.x_test[:, p], t.y_test, 2) for t in tasks]


MEMBERS = {
    "presynaptic": [
        dict(lr=0.05, p_up=0.2, p_down=0.05, g_lim=1e-3, p_freeze=0.9),
        dict(lr=0.02, p_up=0.1, p_down=0.1, g_lim=1e-2, p_freeze=0.95),
        dict(lr=0.05, p_up=0.3, p_down=0.02, g_lim=1e-4, p_freeze=0.8),
    ],
    "stochastic": [
        dict(lr=0.05, p_up=0.2, p_down=0.05, g_lim=1e-3),
        dict(lr=0.01, p_up=0.05, p_down=0.2, g_lim=1e-2),
        dict(lr=0.03, p_up=0.1, p_down=0.1, g_lim=1e-4),
    ],
    "ghost": [
        dict(lr=0.05, p_up=0.2, p_down=0.05, g_lim=1e-3, p_freeze=0.9),
        dict(lr=0.02, p_up=0.1, p_down=0.1, g_lim=1e-2, p_freeze=0.95),
        dict(lr=0.05, p_up=0.3, p_down=0.02, g_lim=1e-4, p_freeze=0.8),
    ],
    "bgd": [
        dict(eta=1.0, sigma_init=0.05),
        dict(eta=0.5, sigma_init=0.02),
        dict(eta=2.0, sigma_init=0.08),
    ],
}


@pytest.mark.parametrize("method", STACKABLE)
def test_each_member_follows_its_solo_run_on_the_cpu(method):
    shared = _permuted_stream(n_tasks=3, n=200)
    streams = [shared, _other_stream(), shared]  # members 0 and 2 share one copy of their data
    seeds = [0, 1, 2]
    params = MEMBERS[method]
    stacked = train_sequentially_stacked(
        streams, method, params, seeds, _spec(test_samples=3, mc_samples=4)
    )
    for k in range(3):
        solo = train_sequentially(
            streams[k],
            make_strategy(method, params[k], test_samples=3, mc_samples=4),
            seed=seeds[k],
            **KW,
        )
        got = stacked[k]
        np.testing.assert_allclose(
            got.accuracy, solo.accuracy, atol=0.011
        )  # ≤ 2 of 200 test points
        np.testing.assert_allclose(got.curve_acc, solo.curve_acc, atol=0.041)  # ≤ 2 of 50
        np.testing.assert_array_equal(got.curve_step, solo.curve_step)
        np.testing.assert_array_equal(got.task_ends, solo.task_ends)
        assert got.steps_per_task == solo.steps_per_task
        assert sorted(got.curve_stats) == sorted(solo.curve_stats)
        for key in solo.curve_stats:
            np.testing.assert_allclose(
                got.curve_stats[key], solo.curve_stats[key], rtol=1e-3, atol=1e-4
            )
    # the members really differ (different hyperparameters, seeds or data)
    assert (
        len({tuple(r.curve_acc.ravel().round(6)) + tuple(r.accuracy.ravel()) for r in stacked}) == 3
    )


@pytest.mark.parametrize("member_streams", [True, False])
def test_stacked_learning_is_learning(member_streams):
    """Members learn the first task well above chance (presynaptic: raising their release
    probabilities; BGD: shrinking σ), with per-member random streams or one shared draw (a GPU's
    way)."""
    stream = _permuted_stream(n_tasks=2, n=400)
    params = [
        dict(lr=0.2, p_up=0.2, p_down=0.05, g_lim=1e-3, p_freeze=0.9),
        dict(lr=0.1, p_up=0.1, p_down=0.05, g_lim=1e-3, p_freeze=0.95),
    ]
    spec = LifelongStackSpec(
        epochs=3, batch_size=40, hidden=(16,), eval_every=10, curve_test=100, test_samples=3
    )
    kw = dict(member_streams=member_streams)
    for r in train_sequentially_stacked(
        [stream, stream], "presynaptic", params, [0, 1], spec, **kw
    ):
        assert r.accuracy[0, 0] > 0.8
        assert r.curve_stats["mean_p"][-1] > r.curve_stats["mean_p"][0]
    bgd = [dict(eta=1.0, sigma_init=0.3), dict(eta=2.0, sigma_init=0.3)]
    spec = replace(spec, mc_samples=3)
    for r in train_sequentially_stacked([stream, stream], "bgd", bgd, [0, 1], spec, **kw):
        assert r.accuracy[0, 0] > 0.8
        assert r.curve_stats["mean_sigma"][-1] < r.curve_stats["mean_sigma"][0]


def test_stacked_refuses_bad_input():
    stream = _permuted_stream(n_tasks=2, n=100)
    p = MEMBERS["presynaptic"][0]
    with pytest.raises(ValueError, match="cannot stack"):
        train_sequentially_stacked([stream], "ewc", [dict(lr=1e-3, lam=1.0)], [0])
    with pytest.raises(ValueError, match="one params dict and one seed"):
        train_sequentially_stacked([stream, stream], "presynaptic", [p], [0, 1])
    with pytest.raises(ValueError, match="same number of tasks"):
        train_sequentially_stacked([stream, stream[:1]], "presynaptic", [p, p], [0, 1])
    small = _blob_task("t", 50, 30, seed=1)
    with pytest.raises(ValueError, match="shapes differ"):
        train_sequentially_stacked([stream, [small, small]], "presynaptic", [p, p], [0, 1])
    with pytest.raises(ValueError, match="SGD"):
        train_sequentially_stacked([stream], "presynaptic", [dict(p, optimizer="adam")], [0])
    with pytest.raises(ValueError, match="positive"):
        train_sequentially_stacked([stream], "presynaptic", [p], [0], LifelongStackSpec(epochs=0))


def test_experiment_groups_return_what_their_units_return():
    """schug_tuning / schug_lifelong_table stack a group's trials or seeds on a GPU: on the CPU the
    stacked group gives each unit its solo result (MNIST sample, quick settings, two units)."""

    from synlab.experiments import get_experiment
    from synlab.experiments import schug2021_lifelong as L

    tuning = replace(L.tuning_config("quick"), n_trials=2, n_permuted=2)
    units = [{"dataset": "permuted_mnist", "method": "ghost", "trial": t} for t in range(2)]
    assert len({L._group_key(u) for u in units}) == 1
    exp = get_experiment("schug_tuning")
    stacked = exp.run_group(tuning, units)
    for unit, got in zip(units, stacked):
        solo = exp.run_unit(tuning, unit)
        assert got["params"] == solo["params"] and got["data_source"] == solo["data_source"]
        assert got["validation_accuracy"] == pytest.approx(solo["validation_accuracy"], abs=0.011)
    assert stacked[0]["params"] != stacked[1]["params"]

    table = replace(L.lifelong_config("quick"), seeds=(2019, 2020), n_permuted=2)
    units = [{"dataset": "permuted_mnist", "method": "bgd", "seed": s} for s in table.seeds]
    exp = get_experiment("schug_lifelong_table")
    for unit, got in zip(units, exp.run_group(table, units)):
        solo = exp.run_unit(table, unit)
        assert sorted(got) == sorted(solo)
        np.testing.assert_allclose(got["accuracy_matrix"], solo["accuracy_matrix"], atol=0.005)
        np.testing.assert_allclose(got["curve_mean_sigma"], solo["curve_mean_sigma"], rtol=1e-4)
    # EWC does not stack: each unit is its own group
    ewc = [{"dataset": "permuted_mnist", "method": "ewc", "seed": s} for s in table.seeds]
    assert len({L._group_key(u) for u in ewc}) == 2


def test_runner_stacks_tuning_trials_when_asked(tmp_path, monkeypatch):
    """With stack=0 (no limit) the runner trains a method's trials as one stack, stores each trial
    in its own unit (``stack`` in its provenance) and leaves unstackable methods solo."""

    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import load_results, run_experiment

    small = replace(L.tuning_config("quick"), methods=("ghost", "ewc"), n_trials=2, n_permuted=2)
    monkeypatch.setattr(L, "tuning_config", lambda profile: small)
    from synlab.experiments import EXPERIMENTS, get_experiment

    monkeypatch.setitem(
        EXPERIMENTS,
        "schug_tuning",
        replace(get_experiment("schug_tuning"), make_config=lambda p: small),
    )
    run_experiment("schug_tuning", "quick", root=tmp_path, progress=False, stack=0)
    res = load_results("schug_tuning", "quick", root=tmp_path)
    assert len(res.records) == 4
    stacked = {r.unit["method"]: r.provenance["stack"] for r in res.records}
    assert stacked == {"ghost": 2, "ewc": 1}
    assert {r.provenance["engine"] for r in res.records} == {"autograd"}
    assert all(0 <= r.result["validation_accuracy"] <= 1 for r in res.records)


@pytest.mark.parametrize("batch_sum", [False, True])
def test_stacked_bgd_compiled_follows_the_solo_runs(batch_sum):
    """compile=True: the stack's BGD step is synlab.continual.bgd_mlp_step compiled; members
    still follow their (autograd) solo runs up to float rounding, with the mean loss's gradient
    and with Zeno et al.'s summed one (``batch_sum``)."""
    stream = _permuted_stream(n_tasks=2, n=200)
    params = [dict(MEMBERS["bgd"][k], batch_sum=batch_sum) for k in (0, 2)]
    stacked = train_sequentially_stacked(
        [stream, stream], "bgd", params, [0, 1], _spec(test_samples=3, mc_samples=4), compile=True
    )
    for k, got in enumerate(stacked):
        solo = train_sequentially(
            stream,
            BGDStrategy(
                params[k]["eta"],
                params[k]["sigma_init"],
                mc_samples=4,
                test_samples=3,
                batch_sum=batch_sum,
                compile=False,
            ),
            seed=k,
            **KW,
        )
        assert (
            got.engine == "fused step, torch.compile" and solo.engine == "autograd, samples batched"
        )
        if batch_sum:  # it learns the first task in 10 steps (the mean form barely moves)
            assert solo.accuracy[0, 0] > 0.8
        np.testing.assert_allclose(got.accuracy, solo.accuracy, atol=0.011)
    mixed = [dict(params[0], batch_sum=True), dict(params[1], batch_sum=False)]
    with pytest.raises(ValueError, match="share mc_samples and batch_sum"):
        train_sequentially_stacked([stream, stream], "bgd", mixed, [0, 1], _spec(mc_samples=4))


@pytest.mark.parametrize("method", ["presynaptic", "stochastic", "ghost"])
def test_compiled_bernoulli_step_follows_the_autograd_step(method):
    """compile=True: solo strategies and stacks run synlab.continual.presynaptic_mlp_step compiled,
    on the same release masks; both follow the autograd solo run up to float rounding."""
    stream = _permuted_stream(n_tasks=2, n=200)
    params = MEMBERS[method][:2]
    eager = [
        train_sequentially(stream, make_strategy(method, p, test_samples=3), seed=k, **KW)
        for k, p in enumerate(params)
    ]
    stacked = train_sequentially_stacked(
        [stream, stream], method, params, [0, 1], _spec(test_samples=3), compile=True
    )
    for k, p in enumerate(params):
        solo = train_sequentially(
            stream, make_strategy(method, p, test_samples=3, compile=True), seed=k, **KW
        )
        for got in (solo, stacked[k]):
            assert got.engine == "fused step, torch.compile"
            np.testing.assert_allclose(got.accuracy, eager[k].accuracy, atol=0.011)
            key = "mean_p"
            np.testing.assert_allclose(
                got.curve_stats[key], eager[k].curve_stats[key], rtol=1e-3, atol=1e-4
            )
    assert eager[0].engine == "autograd"


def test_a_run_whose_weights_go_non_finite_says_so():
    """A BGD run with an absurd η goes non-finite in its first task.
    It says so: a warning, and the task in its result (alone, and as one member of a stack, where
    the other member is untouched); a run that stays finite records nothing. The experiments'
    results carry it only when it happened, so results that did not diverge keep their keys."""
    from synlab.experiments.schug2021_lifelong import _sequential_result, _trial_result

    stream = _permuted_stream(n_tasks=3, n=200)
    good, bad = dict(eta=1.0, sigma_init=0.05), dict(eta=1e36, sigma_init=0.05)
    with pytest.warns(RuntimeWarning, match="non-finite during task 1 of 3; every accuracy"):
        r = train_sequentially(stream, make_strategy("bgd", bad, mc_samples=4), seed=0, **KW)
    assert r.diverged_task == 0
    out = _sequential_result(r)
    assert out["diverged"] is True and out["diverged_task"] == 0
    assert _trial_result(out, bad, "src")["diverged_task"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = train_sequentially(stream, make_strategy("bgd", good, mc_samples=4), seed=0, **KW)
    assert r.diverged_task is None
    assert not {"diverged", "diverged_task"} & set(_sequential_result(r))
    spec = _spec(mc_samples=4)
    with pytest.warns(RuntimeWarning, match=r"\(member 2 of 2\): the weights went non-finite"):
        stack = train_sequentially_stacked([stream, stream], "bgd", [good, bad], [0, 1], spec)
    assert [m.diverged_task for m in stack] == [None, 0]
