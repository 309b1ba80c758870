"""The results store: caching per unit, provenance, resume after interruption, staleness."""

from dataclasses import dataclass, replace

import numpy as np
import pytest

from synlab import results
from synlab.__main__ import main
from synlab.experiments import EXPERIMENTS, Experiment, get_experiment, register

CALLS: list = []


@dataclass(frozen=True)
class ToyConfig:
    seeds: tuple = (0, 1)
    scales: tuple = (1.0, 2.0)
    fail_at: tuple | None = None


def _units(cfg):
    return [{"scale": s, "seed": d} for s in cfg.scales for d in cfg.seeds]


def _run(cfg, unit):
    if cfg.fail_at is not None and (unit["scale"], unit["seed"]) == tuple(cfg.fail_at):
        raise KeyboardInterrupt
    CALLS.append(dict(unit))
    rng = np.random.default_rng(unit["seed"])
    return {
        "value": unit["scale"] * 10 + unit["seed"],
        "array": rng.normal(size=5),
        "data_source": "toy data",
    }


@pytest.fixture
def toy(tmp_path, monkeypatch):
    CALLS.clear()
    exp = Experiment(
        "toy_test",
        "toy",
        lambda profile: ToyConfig(seeds=(0,) if profile == "quick" else (0, 1)),
        _units,
        _run,
        part="tests",
    )
    monkeypatch.setitem(EXPERIMENTS, "toy_test", exp)
    return exp, tmp_path


def test_runs_every_unit_once_and_caches(toy):
    exp, root = toy
    res = results.run_experiment("toy_test", "full", root=root)
    assert len(res) == 4 and len(CALLS) == 4
    assert res.values("value", scale=2.0) == [20, 21]
    again = results.run_experiment("toy_test", "full", root=root)
    assert len(CALLS) == 4  # nothing recomputed
    np.testing.assert_array_equal(again.records[1].result["array"], res.records[1].result["array"])


def test_provenance_recorded(toy):
    _, root = toy
    rec = results.run_experiment("toy_test", "full", root=root).records[0]
    prov = rec.provenance
    for key in (
        "config",
        "config_hash",
        "synlab_version",
        "git_commit",
        "data_source",
        "device",
        "wall_time_s",
        "date",
    ):
        assert key in prov
    assert prov["data_source"] == "toy data" and prov["config"]["seeds"] == [0, 1]


def test_interrupted_run_loses_only_unit_in_flight(toy):
    exp, root = toy
    failing = ToyConfig(seeds=(0, 1), fail_at=(2.0, 0))
    with pytest.raises(KeyboardInterrupt):
        results.run_experiment("toy_test", "full", root=root, config=failing)
    assert len(CALLS) == 2  # (1, 0) and (1, 1) finished before the interrupt
    files = sorted(p.name for p in (root / "full" / "toy_test").glob("*"))
    assert files == [
        "scale=1_seed=0.json",
        "scale=1_seed=0.npz",
        "scale=1_seed=1.json",
        "scale=1_seed=1.npz",
    ]
    assert not list((root / "full" / "toy_test").glob(".*"))  # no half-written files


def test_register_rejects_duplicate_names(toy):
    exp, _ = toy
    with pytest.raises(ValueError, match="already registered"):
        register(replace(exp, description="another"))


def test_resume_with_same_config_runs_only_missing(toy, monkeypatch):
    exp, root = toy
    state = {"n": 0}

    def flaky(cfg, unit):
        state["n"] += 1
        if state["n"] == 3:
            raise KeyboardInterrupt
        return _run(cfg, unit)

    monkeypatch.setitem(EXPERIMENTS, "toy_test", replace(exp, run_unit=flaky))
    with pytest.raises(KeyboardInterrupt):
        results.run_experiment("toy_test", "full", root=root)
    assert len(CALLS) == 2
    CALLS.clear()
    res = results.run_experiment("toy_test", "full", root=root)
    assert len(res) == 4 and [c["scale"] for c in CALLS] == [
        2.0,
        2.0,
    ]  # only the 2 missing units ran


def test_staleness_detected(toy, monkeypatch):
    exp, root = toy
    results.run_experiment("toy_test", "full", root=root)
    results.load_results("toy_test", "full", root=root)  # fresh: loads
    monkeypatch.setitem(
        EXPERIMENTS,
        "toy_test",
        replace(
            exp, make_config=lambda p: ToyConfig(seeds=(0, 1), scales=(1.0, 2.0), fail_at=(7, 7))
        ),
    )
    with pytest.raises(ValueError, match="stale"):
        results.load_results("toy_test", "full", root=root)
    row = [
        r
        for r in results.experiment_status(root=root)
        if r["experiment"] == "toy_test" and r["profile"] == "full"
    ][0]
    assert row["stale"] == 4 and row["done"] == 0


def test_incomplete_results_refused_and_chapter_falls_back(toy, capsys):
    exp, root = toy
    with pytest.raises(ValueError, match="incomplete"):
        results.load_results("toy_test", "full", root=root)
    res = results.results_for_chapter("toy_test", root=root)
    out = capsys.readouterr().out
    assert res.profile == "quick" and "NOT paper-scale" in out and "toy-data" in out


def test_unknown_experiment_and_profile():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="unknown profile"):
        results.results_root("medium")
    assert main(["run", "nope"]) == 2


def test_cli_list_and_run_and_status(toy, capsys, monkeypatch):
    _, root = toy
    monkeypatch.setenv("SYNLAB_RESULTS_DIR", str(root))
    monkeypatch.setenv("SYNLAB_GIT_COMMIT", "0" * 40)  # a clean commit: dirty units fail --check
    assert main(["list"]) == 0
    assert "toy_test" in capsys.readouterr().out
    assert main(["run", "toy_test", "--profile", "full"]) == 0
    assert "4 units" in capsys.readouterr().out
    assert main(["status", "--check"]) == 0


def test_unit_key_is_stable_and_safe():
    assert results.unit_key({"seed": 1, "l2": 0.001}) == "l2=0.001_seed=1"
    long = results.unit_key({"x": "a" * 300})
    assert len(long) <= 120
    assert results.config_hash(ToyConfig()) == results.config_hash(ToyConfig())
    assert results.config_hash(ToyConfig()) != results.config_hash(ToyConfig(seeds=(5,)))


def test_complete_subset_only_when_every_matching_unit_is_stored(toy):
    exp, root = toy
    results.run_experiment("toy_test", "full", root=root)
    for path in (root / "full" / "toy_test").glob(
        "scale=2_seed=1.*"
    ):  # as if that unit were still running
        path.unlink()
    done = results.complete_subset("toy_test", root=root, scale=1.0)
    assert (
        done is not None
        and [r.unit["seed"] for r in done.records] == [0, 1]
        and done.profile == "full"
    )
    assert results.complete_subset("toy_test", root=root, scale=2.0) is None  # (2, 1) missing
    assert results.complete_subset("toy_test", root=root) is None  # the whole sweep is incomplete
    with pytest.raises(ValueError, match="no unit"):
        results.complete_subset("toy_test", root=root, scale=3.0)


GROUPS: list = []


def _run_group(cfg, units):
    GROUPS.append([dict(u) for u in units])
    return [_run(cfg, u) for u in units]


@pytest.mark.parametrize(
    "stack, stacked", [(0, True), (2, True), (1, False), (None, False)]
)  # None on a CPU: no stacking
def test_stacked_groups_store_each_unit(tmp_path, monkeypatch, stack, stacked):
    CALLS.clear()
    GROUPS.clear()
    exp = Experiment(
        "toy_stack",
        "toy",
        lambda profile: ToyConfig(),
        _units,
        _run,
        part="tests",
        run_group=_run_group,
        group_key=lambda u: u["scale"],
    )
    monkeypatch.setitem(EXPERIMENTS, "toy_stack", exp)
    monkeypatch.setenv("SYNLAB_DEVICE", "cpu")
    res = results.run_experiment("toy_stack", "full", root=tmp_path, stack=stack)
    assert len(res) == 4 and len(CALLS) == 4
    assert res.values("value", scale=2.0) == [20, 21]  # same results either way
    assert all(r.provenance["engine"] == "autograd" for r in res.records)
    if stacked:
        assert [[u["seed"] for u in g] for g in GROUPS] == [[0, 1], [0, 1]]
        assert all(r.provenance["stack"] == 2 for r in res.records)
    else:
        assert GROUPS == [] and all(r.provenance["stack"] == 1 for r in res.records)
    results.run_experiment("toy_stack", "full", root=tmp_path)
    assert len(CALLS) == 4  # resumes from the stored units


def test_stack_limit_splits_groups(tmp_path, monkeypatch):
    """stack=3 cuts every group into stacks of at most 3 units; a bad value is an error."""
    CALLS.clear()
    GROUPS.clear()
    exp = Experiment(
        "toy_stack",
        "toy",
        lambda profile: ToyConfig(),
        _units,
        _run,
        part="tests",
        run_group=_run_group,
        group_key=lambda u: 0,
    )  # all four units in one group
    monkeypatch.setitem(EXPERIMENTS, "toy_stack", exp)
    res = results.run_experiment("toy_stack", "full", root=tmp_path, stack=3)
    assert [len(g) for g in GROUPS] == [3] and len(CALLS) == 4  # 3 stacked, the fourth alone
    assert sorted(r.provenance["stack"] for r in res.records) == [1, 3, 3, 3]
    with pytest.raises(ValueError, match="stack must be 0"):
        results.run_experiment("toy_stack", "full", root=tmp_path / "other", stack=-1)


def test_engine_is_an_argument_checked_against_the_experiment(tmp_path, monkeypatch):
    """An engine the experiment does not declare is a one-line error naming what it has; a
    declared one reaches run_unit and is recorded in provenance, outside the config hash."""
    seen = []

    def run(cfg, unit, *, engine):
        seen.append(engine)
        return _run(cfg, unit)

    exp = Experiment(
        "toy_engines", "toy", lambda p: ToyConfig(), _units, run, engines=("autograd", "fused")
    )
    monkeypatch.setitem(EXPERIMENTS, "toy_engines", exp)
    with pytest.raises(ValueError, match="toy_engines has no engine 'compiled'; its engines: "):
        results.run_experiment("toy_engines", "full", root=tmp_path, engine="compiled")
    assert not seen
    res = results.run_experiment("toy_engines", "full", root=tmp_path, engine="fused")
    assert set(seen) == {"fused"} and {r.provenance["engine"] for r in res} == {"fused"}
    n = len(seen)
    again = results.run_experiment("toy_engines", "full", root=tmp_path, engine="autograd")
    assert len(seen) == n and len(again) == 4  # the engine is no part of the hash: all fresh
    assert exp.engine(None, "cpu") == "autograd" and exp.engine(None, "cuda") == "autograd"
    with pytest.raises(ValueError, match="engines must be some of"):
        Experiment("x", "x", lambda p: None, _units, _run, engines=("jit",))


def test_stack_flag_and_group_pairing_validated(monkeypatch):
    with pytest.raises(ValueError, match="go together"):
        Experiment("x", "x", lambda p: None, _units, _run, run_group=_run_group)


@dataclass(frozen=True)
class PerMethodConfig:
    methods: tuple = ("a", "b")
    params: tuple = (("a", 1.0), ("b", 2.0))


def _pm_run(cfg, unit):
    CALLS.append(dict(unit))
    return {"value": dict(cfg.params)[unit["method"]]}


def _pm_unit_config(config, unit):
    return {"param": dict(config["params"])[unit["method"]]}


def test_unit_config_keeps_untouched_units_fresh(tmp_path, monkeypatch):
    CALLS.clear()
    exp = Experiment(
        "toy_pm",
        "toy",
        lambda profile: PerMethodConfig(),
        lambda c: [{"method": m} for m in c.methods],
        _pm_run,
        part="tests",
        unit_config=_pm_unit_config,
    )
    monkeypatch.setitem(EXPERIMENTS, "toy_pm", exp)
    results.run_experiment("toy_pm", "full", root=tmp_path)
    assert len(CALLS) == 2
    # retune method b only: a's unit stays fresh, b's is stale
    monkeypatch.setitem(
        EXPERIMENTS,
        "toy_pm",
        replace(exp, make_config=lambda p: PerMethodConfig(params=(("a", 1.0), ("b", 5.0)))),
    )
    assert results.complete_subset("toy_pm", root=tmp_path, method="a").values("value") == [1.0]
    assert results.complete_subset("toy_pm", root=tmp_path, method="b") is None
    with pytest.raises(ValueError, match="stale"):
        results.load_results("toy_pm", root=tmp_path)
    row = [
        r
        for r in results.experiment_status(tmp_path)
        if r["experiment"] == "toy_pm" and r["profile"] == "full"
    ][0]
    assert (row["done"], row["stale"]) == (1, 1)
    res = results.run_experiment("toy_pm", "full", root=tmp_path)
    assert CALLS[2:] == [{"method": "b"}]  # only b recomputed
    assert res.values("value") == [1.0, 5.0]
    # without unit_config, any change of the config makes every unit stale
    monkeypatch.setitem(
        EXPERIMENTS,
        "toy_pm",
        replace(
            exp,
            unit_config=None,
            make_config=lambda p: PerMethodConfig(params=(("a", 1.0), ("b", 7.0))),
        ),
    )
    assert results.complete_subset("toy_pm", root=tmp_path, method="a") is None


def test_only_restricts_the_run_and_checks_its_keys(toy):
    _, root = toy
    res = results.run_experiment("toy_test", "full", root=root, only={"scale": 2.0})
    assert sorted(CALLS, key=str) == [{"scale": 2.0, "seed": 0}, {"scale": 2.0, "seed": 1}]
    assert res.values("value") == [20, 21]
    with pytest.raises(ValueError, match="no unit coordinate"):
        results.run_experiment("toy_test", "full", root=root, only={"colour": "red"})
    with pytest.raises(ValueError, match="no unit of toy_test matches"):
        results.run_experiment("toy_test", "full", root=root, only={"scale": 3.0})
    from synlab.__main__ import _parse_only

    assert _parse_only(["scale=2", "name=bgd", "x=0.5"]) == {"scale": 2, "name": "bgd", "x": 0.5}
    with pytest.raises(SystemExit):
        _parse_only(["scale"])


def test_git_commit_can_be_named_by_a_copy_without_git(monkeypatch):
    from synlab import results as R

    monkeypatch.setenv("SYNLAB_GIT_COMMIT", "abc123 (copied tree)")
    assert R._git_commit() == "abc123 (copied tree)"
    monkeypatch.delenv("SYNLAB_GIT_COMMIT")
    assert R._git_commit() != "abc123 (copied tree)"
