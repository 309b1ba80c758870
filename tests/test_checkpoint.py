"""Checkpoints within a unit (synlab.checkpoint): a run stopped after some epochs and resumed
gives the same numbers, bitwise, as one that was never stopped; the runner keeps the file until
the unit is stored and records the stopped segments in its provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
