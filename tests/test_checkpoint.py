"""Checkpoints within a unit (synlab.checkpoint): a run stopped after some epochs and resumed
gives the same numbers, bitwise, as one that was never stopped; the runner keeps the file until
the unit is stored and records the stopped segments in its provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from synlab.checkpoint import Checkpoint, describe
from synlab.ensemble import (
    GaussianEnsembleMLP,
    NoiseSource,
    SynapseStats,
    TrainSpec,
    train_ensemble,
)
from synlab.experiments import Experiment
from synlab.results import experiment_status, read_unit, run_experiment


class _Stop(Exception):
    """Stands for the session ending in the middle of a unit."""


def _setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 6, generator=g)
    y = torch.randint(0, 3, (48,), generator=g)
    model = GaussianEnsembleMLP(3, [6, 5, 3], source=NoiseSource(3, 7), sigma_init=0.05)
    stats = SynapseStats(model, (0, 1), start_epoch=1)
    return model, stats, x, y


SPEC = TrainSpec(epochs=4, batch_size=12, lr=1e-2, lam=[0.1, 1.0, 3.0], rho=0.5, data_seed=2)


def _stop_in_epoch(epoch: int, inner):
    def hook(state):
        if state.epoch == epoch:
            raise _Stop
        inner(state)

    return hook


@pytest.mark.parametrize("engine", ["autograd", "fused"])
def test_a_resumed_training_equals_an_unbroken_one_bitwise(tmp_path, engine):
    model, stats, x, y = _setup()
    whole = train_ensemble(model, x, y, SPEC, on_step=stats.on_step, engine=engine)

    ck = Checkpoint(tmp_path / "unit.pt", {"unit": "u"}, every_s=0.0)
    first, first_stats, _, _ = _setup()
    with pytest.raises(_Stop):  # stopped in the third epoch: two are saved
        train_ensemble(
            first,
            x,
            y,
            SPEC,
            on_step=_stop_in_epoch(2, first_stats.on_step),
            engine=engine,
            checkpoint=ck.include(stats=first_stats),
        )
    assert (tmp_path / "unit.pt").exists()

    again, again_stats, _, _ = _setup()  # a new process: fresh objects, the file on disk
    resumed = Checkpoint(tmp_path / "unit.pt", {"unit": "u"}, every_s=0.0)
    hist = train_ensemble(
        again,
        x,
        y,
        SPEC,
        on_step=again_stats.on_step,
        engine=engine,
        checkpoint=resumed.include(stats=again_stats),
    )
    assert [s["epochs_done"] for s in resumed.segments] == [2]
    assert hist.steps == whole.steps and hist.epoch_nll == whole.epoch_nll
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    for l, d in stats.result().items():
        for k, v in d.items():
            assert torch.equal(v, again_stats.result()[l][k]), (l, k)
    # and the stop mattered: without the checkpoint the same call starts from scratch
    fresh, _, _, _ = _setup()
    train_ensemble(fresh, x, y, SPEC, engine=engine, checkpoint=None)
    assert torch.equal(fresh.mu[0], model.mu[0])  # (sanity: the run is deterministic)


def test_a_checkpoint_of_another_run_is_not_used(tmp_path, capsys):
    model, _, x, y = _setup()
    ck = Checkpoint(tmp_path / "unit.pt", {"config_hash": "a", "engine": "fused"}, every_s=0.0)
    short = TrainSpec(epochs=2, batch_size=12, lr=1e-2, lam=1.0, rho=0.5)
    with pytest.raises(_Stop):
        train_ensemble(model, x, y, short, on_step=_stop_in_epoch(1, lambda s: None), checkpoint=ck)
    other = Checkpoint(tmp_path / "unit.pt", {"config_hash": "b", "engine": "fused"})
    assert other.resume({"model": _setup()[0]}) == 0
    assert "differs in config_hash" in capsys.readouterr().out
    (tmp_path / "unit.pt").write_bytes(b"torn")
    assert ck.resume({"model": model}) == 0
    assert "unreadable" in capsys.readouterr().out


def test_no_save_before_every_s_nor_after_the_last_epoch(tmp_path):
    model, _, x, y = _setup()
    slow = Checkpoint(tmp_path / "a.pt", {}, every_s=3600.0)
    train_ensemble(model, x, y, SPEC, checkpoint=slow)
    assert not (tmp_path / "a.pt").exists()
    eager = Checkpoint(tmp_path / "b.pt", {}, every_s=0.0)
    train_ensemble(_setup()[0], x, y, SPEC, checkpoint=eager)
    saved = torch.load(tmp_path / "b.pt", weights_only=True)
    assert saved["epochs_done"] == SPEC.epochs - 1  # the last epoch's state is the result


# ------------------------------------------------------------------------- through the runner
@dataclass(frozen=True)
class _Cfg:
    epochs: int = 5
    stop_at: int = -1  # a run-time switch of the test, not part of the science


def _count_units(cfg):
    return [{"seed": 0}]


def _count(cfg, unit, *, checkpoint=None):
    """A resumable toy: sums a random stream epoch by epoch, saving the generator and the sum."""
    gen = torch.Generator().manual_seed(unit["seed"])
    acc = _Acc()
    parts = {"gen": gen, "acc": acc}
    first = 0 if checkpoint is None else checkpoint.resume(parts)
    for epoch in range(first, cfg.epochs):
        if epoch == _STOP["at"]:
            raise _Stop
        acc.total += float(torch.rand(1, generator=gen))
        if checkpoint is not None:
            checkpoint.epoch_done(epoch + 1, parts, last=epoch + 1 == cfg.epochs)
    return {"total": acc.total, "resumed_at": first}


class _Acc:
    def __init__(self):
        self.total = 0.0

    def state_dict(self):
        return {"total": self.total}

    def load_state_dict(self, state):
        self.total = float(state["total"])


_STOP = {"at": -1}

COUNT = Experiment(
    "test_resumable_count",
    "a resumable toy",
    lambda profile: _Cfg(),
    _count_units,
    _count,
    resumable=True,
)


def test_the_runner_resumes_a_stopped_unit_and_records_its_segments(tmp_path, monkeypatch):
    monkeypatch.setattr("synlab.checkpoint.DEFAULT_EVERY_S", 0.0)
    import synlab.experiments as ex

    monkeypatch.setitem(ex.EXPERIMENTS, COUNT.name, COUNT)
    root = tmp_path / "results"
    unbroken = run_experiment(COUNT.name, "full", root=tmp_path / "other").records[0]
    _STOP["at"] = 3
    try:
        with pytest.raises(_Stop):  # in process, the error itself comes through
            run_experiment(COUNT.name, "full", root=root)
    finally:
        _STOP["at"] = -1
    partial = list((root / "partial" / "full" / COUNT.name).glob("*.pt"))
    assert len(partial) == 1  # three epochs kept
    (row,) = [
        r
        for r in experiment_status(root)
        if r["experiment"] == COUNT.name and r["profile"] == "full"
    ]
    assert row["in_progress"] == partial
    assert describe(partial[0]).startswith("seed=0: 3 epochs done, saved ")
    rec = run_experiment(COUNT.name, "full", root=root).records[0]
    assert rec.result["resumed_at"] == 3
    assert rec.result["total"] == unbroken.result["total"]  # bitwise: the same float
    assert [s["epochs_done"] for s in rec.provenance["segments"]] == [3]
    assert "segments" not in unbroken.provenance
    assert not partial[0].exists()  # stored, so the checkpoint is gone
    on_disk = read_unit(next((root / "full" / COUNT.name).glob("*.json")))
    assert json.dumps(on_disk.provenance["segments"]) == json.dumps(rec.provenance["segments"])


# ----------------------------------------------------------------------------- lifelong runs
def _lifelong_stream(T=3, n=120, dim=12):
    """T permuted copies of a two-class Gaussian task (labels flipped on odd tasks)."""
    from synlab.data import Task

    g = torch.Generator().manual_seed(5)
    y = torch.randint(0, 2, (n + 60,), generator=g)
    x = torch.randn(n + 60, dim, generator=g) + 2.0 * (2 * y[:, None].float() - 1)
    tasks = []
    for k in range(T):
        p = torch.randperm(dim, generator=g)
        yk = 1 - y if k % 2 else y
        tasks.append(Task(f"t{k}", x[:n, p], yk[:n], x[n:, p], yk[n:], n_classes=2))
    return tasks


def _strategies():
    from synlab.continual import (
        BGDStrategy,
        DeterministicStrategy,
        EWCStrategy,
        GhostStrategy,
        PresynapticStrategy,
    )

    return {
        "deterministic-adam": lambda: DeterministicStrategy(1e-2, "adam"),
        "presynaptic": lambda: PresynapticStrategy(0.05, test_samples=3),
        "stochastic": lambda: PresynapticStrategy(0.05, consolidate=False, test_samples=3),
        "ghost": lambda: GhostStrategy(0.05, test_samples=3),
        "ewc": lambda: EWCStrategy(1e-2, lam=50.0, fisher_samples=40),
        "bgd": lambda: BGDStrategy(1.0, 0.05, mc_samples=3, test_samples=3, batch_sum=True),
    }


@pytest.mark.parametrize("kind", sorted(_strategies()))
def test_a_resumed_lifelong_run_equals_an_unbroken_one_bitwise(tmp_path, kind):
    """Stopped in the third of three tasks, a lifelong run resumes after the second (its
    strategy, curves, data order and torch's global generator as saved) and ends with the same
    accuracy matrix, curves and statistics, bitwise, as a run never stopped."""
    from synlab.continual import train_sequentially

    make, tasks = _strategies()[kind], _lifelong_stream()
    kw = dict(epochs=2, batch_size=10, seed=3, hidden=(10,), eval_every=5, curve_test=30)
    whole = train_sequentially(tasks, make(), **kw)

    steps_per_task = kw["epochs"] * len(tasks[0].y_train) // kw["batch_size"]
    stopping = make()
    calls = {"n": 0}
    inner = type(stopping).train_step

    def train_step(x, y):
        calls["n"] += 1
        if calls["n"] == 2 * steps_per_task + 3:  # in the third task
            raise _Stop
        return inner(stopping, x, y)

    stopping.train_step = train_step
    ck = Checkpoint(tmp_path / "unit.pt", {"unit": kind}, every_s=0.0)
    with pytest.raises(_Stop):
        train_sequentially(tasks, stopping, checkpoint=ck, **kw)

    resumed = Checkpoint(tmp_path / "unit.pt", {"unit": kind}, every_s=0.0)
    again = train_sequentially(tasks, make(), checkpoint=resumed, **kw)
    assert [(s["epochs_done"], s["what"]) for s in resumed.segments] == [(2, "task")]
    assert describe(tmp_path / "unit.pt").startswith("unit: 2 tasks done, saved ")
    np.testing.assert_array_equal(again.accuracy, whole.accuracy)
    np.testing.assert_array_equal(again.curve_step, whole.curve_step)
    np.testing.assert_array_equal(again.curve_acc, whole.curve_acc)
    np.testing.assert_array_equal(again.task_ends, whole.task_ends)
    assert set(again.curve_stats) == set(whole.curve_stats)
    for key, values in whole.curve_stats.items():
        np.testing.assert_array_equal(again.curve_stats[key], values)
    assert whole.accuracy[0, 0] > 0.5  # it learned: the comparison is of a real run


def test_a_lifelong_run_stopped_before_its_first_save_starts_over(tmp_path):
    """No task ended before the stop: nothing is saved, and a second run starts from task 0."""
    from synlab.continual import DeterministicStrategy, train_sequentially

    tasks = _lifelong_stream()
    kw = dict(epochs=1, batch_size=30, seed=3, hidden=(10,), eval_every=3, curve_test=30)
    stopping = DeterministicStrategy(1e-2, "adam")

    def stop_at_once(x, y):
        raise _Stop

    stopping.train_step = stop_at_once
    ck = Checkpoint(tmp_path / "unit.pt", {"unit": "u"}, every_s=0.0)
    with pytest.raises(_Stop):
        train_sequentially(tasks, stopping, checkpoint=ck, **kw)
    assert not (tmp_path / "unit.pt").exists()
    res = train_sequentially(tasks, DeterministicStrategy(1e-2, "adam"), checkpoint=ck, **kw)
    assert ck.segments == [] and res.accuracy.shape == (3, 3)


def test_a_continuous_stream_refuses_a_checkpoint(tmp_path):
    from synlab.continual import DeterministicStrategy, train_sequentially
    from synlab.data import ContinuousPermutedStream

    stream = ContinuousPermutedStream(_lifelong_stream(T=2), 10, steps_per_task=4, transition=2)
    ck = Checkpoint(tmp_path / "unit.pt", {"unit": "u"})
    with pytest.raises(ValueError, match="continuous stream has no task ends"):
        train_sequentially(stream, DeterministicStrategy(), checkpoint=ck)


def test_the_lifelong_experiments_with_task_ends_are_resumable():
    """Every lifelong experiment whose units learn task after task takes a checkpoint in its
    run functions (the runner passes one to a resumable experiment); the continuous stream,
    with no task ends, does not."""
    import inspect

    from synlab.experiments import all_experiments

    lifelong = {n: e for n, e in all_experiments().items() if e.engines == ("autograd", "compiled")}
    lifelong = {n: e for n, e in lifelong.items() if e.part == "schug2021"}
    assert "schug_tuning_bgd_summed" in lifelong and len(lifelong) >= 15
    for name, exp in lifelong.items():
        assert exp.resumable == (name != "schug_lifelong_continuous"), name
        for fn in filter(None, (exp.run_unit, exp.run_group)):
            takes = "checkpoint" in inspect.signature(fn).parameters
            assert takes == exp.resumable, (name, fn.__name__)
