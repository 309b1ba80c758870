"""Faults a hostile but fair user meets: corrupt or mixed unit files, colliding unit keys,
non-finite results, broken data folders and bad arguments to public functions.

Each test states what the user sees (a one-line message that names the file or argument, or
a correct result) and checks that nothing stored was lost."""

from __future__ import annotations

import gzip
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from synlab import costs, data, results
from synlab import store as store_module
from synlab.__main__ import main
from synlab.experiments import EXPERIMENTS, Experiment

CALLS: list[dict] = []


@dataclass(frozen=True)
class FaultConfig:
    units: tuple = ({"seed": 0}, {"seed": 1})


def _run(cfg, unit):
    CALLS.append(dict(unit))
    return {"value": float(len(CALLS)), "arr": np.arange(3.0) + len(CALLS), "data_source": "t"}


def _register(monkeypatch, units, run=_run, name="fault_test"):
    exp = Experiment(
        name, "faults", lambda profile: FaultConfig(tuple(units)), lambda c: list(c.units), run
    )
    monkeypatch.setitem(EXPERIMENTS, name, exp)
    return exp


@pytest.fixture
def store(tmp_path, monkeypatch):
    CALLS.clear()
    _register(monkeypatch, [{"seed": 0}, {"seed": 1}])
    monkeypatch.setenv("SYNLAB_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SYNLAB_GIT_COMMIT", "f" * 40)
    results.run_experiment("fault_test", "full", root=tmp_path)
    results.run_experiment("fault_test", "quick", root=tmp_path)
    return tmp_path


def _folder(root, profile="full"):
    return root / profile / "fault_test"


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.startswith("error: ")
    assert len(err.splitlines()) == 1, err
    return err


def _quarantined(root) -> list[Path]:
    return sorted((root / "quarantine").rglob("*.*"))


CORRUPTIONS = {
    "truncated": lambda t: t[: len(t) // 2],
    "empty": lambda t: b"",
    "non-utf8": lambda t: b"\xff\xfe" + t[2:],
    "empty-object": lambda t: b"{}",
}


# ----------------------------------------------------------------------------- unit JSON
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_json_full_unit_is_named_kept_and_recomputed_only_when_asked(store, capsys, kind):
    path = _folder(store) / "seed=0.json"
    bad = CORRUPTIONS[kind](path.read_bytes())
    path.write_bytes(bad)
    capsys.readouterr()
    # run: one line naming the file; the file stays as it was; nothing is computed
    n = len(CALLS)
    assert main(["run", "fault_test", "--profile", "full"]) == 2
    err = _one_error_line(capsys)
    assert str(path) in err and "--recompute" in err
    assert path.read_bytes() == bad and len(CALLS) == n
    # status --check fails naming the file; plain status still works for every experiment
    assert main(["status", "--check"]) == 1
    assert str(path) in capsys.readouterr().out
    # --recompute: the bad file goes to the git-ignored quarantine (never deleted), unit recomputed
    assert main(["run", "fault_test", "--profile", "full", "--recompute"]) == 0
    kept = [p for p in _quarantined(store) if p.name == "seed=0.json"]
    assert len(kept) == 1 and kept[0].read_bytes() == bad
    assert len(CALLS) == n + 1 and results.load_results("fault_test", "full", root=store)
    assert main(["status", "--check"]) == 0


def test_corrupt_quick_unit_is_quarantined_and_recomputed_at_once(store, capsys):
    path = _folder(store, "quick") / "seed=1.json"
    path.write_text('{"unit": {"seed": 1}, "result": ')
    res = results.run_experiment("fault_test", "quick", root=store)
    assert len(res) == 2 and CALLS[-1] == {"seed": 1}
    assert "moved it to" in capsys.readouterr().out
    assert any(p.name == "seed=1.json" for p in _quarantined(store))


# ----------------------------------------------------------------------------- NPZ
@pytest.mark.parametrize("damage", ["missing", "garbage", "half-written"])
def test_missing_or_garbage_npz_is_named_by_status_and_chapters(store, capsys, damage):
    npz = _folder(store) / "seed=1.npz"
    if damage == "missing":
        npz.unlink()
    elif damage == "garbage":
        npz.write_bytes(b"not a zip file at all")
    else:
        npz.write_bytes(npz.read_bytes()[:40])
    capsys.readouterr()
    assert main(["status", "--check"]) == 1
    assert str(_folder(store) / "seed=1.json") in capsys.readouterr().out
    # a chapter fails naming the file: it never falls back to quick numbers
    with pytest.raises(results.CorruptUnitError, match=r"seed=1\.json") as err:
        results.results_for_chapter("fault_test", root=store)
    assert "seed=1.npz" in str(err.value)
    assert "NOT paper-scale" not in capsys.readouterr().out


def test_legacy_unit_without_checksum_is_verified_by_opening_its_npz(store):
    path = _folder(store) / "seed=0.json"
    payload = json.loads(path.read_text())
    del payload["npz_sha256"]  # as every unit stored before checksums
    path.write_text(json.dumps(payload))
    assert results.find_unit(_folder(store), {"seed": 0}) is not None
    assert main(["status", "--check"]) == 0
    (_folder(store) / "seed=0.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(results.CorruptUnitError, match="cannot be read"):
        results.find_unit(_folder(store), {"seed": 0})


# ----------------------------------------------------------------------------- pairs
def test_mixed_pair_never_reads_as_complete(store):
    folder = _folder(store)
    old_json = (folder / "seed=0.json").read_bytes()
    results.run_experiment("fault_test", "full", root=store, force=True)  # new pair
    (folder / "seed=0.json").write_bytes(old_json)  # an old JSON beside the new NPZ
    with pytest.raises(results.CorruptUnitError, match="checksum differs"):
        results.find_unit(folder, {"seed": 0})


def test_write_killed_between_npz_and_json_leaves_the_unit_missing(store, monkeypatch):
    folder = _folder(store)
    real = results._replace_bytes

    def killed(path, blob):
        if path.suffix == ".json":
            raise KeyboardInterrupt  # killed after the NPZ landed
        real(path, blob)

    monkeypatch.setattr(store_module, "_replace_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        results.run_experiment("fault_test", "full", root=store, force=True)
    monkeypatch.setattr(store_module, "_replace_bytes", real)
    assert results.find_unit(folder, {"seed": 0}) is None  # not complete: it will be rerun
    assert results.find_unit(folder, {"seed": 1}) is not None  # the other unit is untouched
    row = [r for r in results.experiment_status(store) if r["experiment"] == "fault_test"][1]
    assert row["orphaned"] == 1 and row["missing"] == 1
    n = len(CALLS)
    results.run_experiment("fault_test", "full", root=store)
    assert len(CALLS) == n + 1 and not list(folder.glob(".*.tmp"))


# ----------------------------------------------------------------------------- keys
COLLIDING = [
    {"lr": 0.1234567},
    {"lr": 0.1234568},
    {"lr": "a b"},
    {"lr": "a-b"},
    {"lr": 0},
    {"lr": "0"},
]


def test_colliding_keys_each_unit_computed_and_read_back_as_itself(tmp_path, monkeypatch):
    CALLS.clear()
    _register(monkeypatch, COLLIDING, run=lambda c, u: {"lr": u["lr"], "arr": np.array([1.0])})
    res = results.run_experiment("fault_test", "full", root=tmp_path)
    assert [r.result["lr"] for r in res] == [u["lr"] for u in COLLIDING]
    assert [r.unit for r in res] == COLLIDING
    files = sorted(p.name for p in _folder(tmp_path).glob("*.json"))
    assert len(files) == 6 and "lr=0.123457.json" in files  # the first keeps the readable key
    again = results.run_experiment("fault_test", "full", root=tmp_path)
    assert [r.unit for r in again] == COLLIDING
    row = [r for r in results.experiment_status(tmp_path) if r["profile"] == "full"]
    row = [r for r in row if r["experiment"] == "fault_test"][0]
    assert row["done"] == 6 and row["orphaned"] == 0


def test_a_stored_record_of_another_unit_is_never_returned(tmp_path, monkeypatch):
    CALLS.clear()
    _register(monkeypatch, [{"lr": 0.1234567}])
    results.run_experiment("fault_test", "full", root=tmp_path)
    _register(monkeypatch, [{"lr": 0.1234568}])  # same readable key, another unit
    res = results.run_experiment("fault_test", "full", root=tmp_path)
    assert len(CALLS) == 2 and res.records[0].unit == {"lr": 0.1234568}
    old = json.loads((_folder(tmp_path) / "lr=0.123457.json").read_text())
    assert old["unit"] == {"lr": 0.1234567}  # the other unit's file is kept, not overwritten


# ----------------------------------------------------------------------------- numbers
def test_non_finite_results_round_trip_as_numbers(tmp_path, monkeypatch):
    def run(cfg, unit):
        return {"curve": [0.9, math.nan, 0.8], "best": math.inf, "worst": -math.inf}

    _register(monkeypatch, [{"seed": 0}], run=run)
    results.run_experiment("fault_test", "full", root=tmp_path)
    rec = results.load_results("fault_test", "full", root=tmp_path).records[0]
    curve = np.asarray(rec.result["curve"])
    assert curve.dtype == np.float64 and np.isnan(curve[1]) and curve[[0, 2]].tolist() == [0.9, 0.8]
    assert rec.result["best"] == math.inf and rec.result["worst"] == -math.inf


# ----------------------------------------------------------------------------- CLI
def test_cli_data_unavailable_is_one_line_and_debug_shows_the_traceback(
    tmp_path, monkeypatch, capsys
):
    def needs_data(cfg, unit):
        return {"n": len(data.load_dataset("mnist").y_train)}

    _register(monkeypatch, [{"seed": 0}], run=needs_data)
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "nodata"))
    data._load_cached.cache_clear()
    assert main(["run", "fault_test"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: MNIST is not available") and "Traceback" not in err
    with pytest.raises(data.DataUnavailableError):
        main(["--debug", "run", "fault_test"])


def test_cli_bad_device_setting_names_the_setting(tmp_path, monkeypatch, capsys):
    _register(monkeypatch, [{"seed": 0}])
    monkeypatch.setenv("SYNLAB_DEVICE", "gpu")
    assert main(["run", "fault_test"]) == 2
    assert "SYNLAB_DEVICE='gpu'" in _one_error_line(capsys)


def test_cli_unwritable_results_folder_names_the_path(tmp_path, monkeypatch, capsys):
    _register(monkeypatch, [{"seed": 0}])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(blocker))
    assert main(["run", "fault_test"]) == 1
    assert str(blocker) in _one_error_line(capsys)


# ----------------------------------------------------------------------------- data
def _idx(folder: Path, n_img=30, n_lab=30, gz=False, truncate=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        img = rng.integers(0, 256, size=(n_img, 28, 28), dtype=np.uint8)
        payloads = {
            f"{prefix}-images-idx3-ubyte": b"\0\0\x08\x03"
            + np.array([n_img, 28, 28], ">u4").tobytes()
            + img.tobytes(),
            f"{prefix}-labels-idx1-ubyte": b"\0\0\x08\x01"
            + np.array([n_lab], ">u4").tobytes()
            + (np.arange(n_lab) % 10).astype(np.uint8).tobytes(),
        }
        for name, blob in payloads.items():
            if gz:
                blob = gzip.compress(blob)
                blob = blob[: len(blob) // 2] if truncate else blob
                (folder / f"{name}.gz").write_bytes(blob)
            else:
                (folder / name).write_bytes(blob)


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    data._load_cached.cache_clear()
    yield tmp_path
    data._load_cached.cache_clear()


def test_truncated_gz_is_named_and_skipped_for_the_next_source(dirs, monkeypatch, capsys):
    _idx(dirs / "cache" / "MNIST" / "raw", gz=True, truncate=True)
    _idx(dirs / "extra" / "MNIST" / "raw", gz=True)
    monkeypatch.setenv(
        "SYNLAB_DATA_PATH", os.pathsep.join([str(dirs / "cache"), str(dirs / "extra")])
    )
    before = _listing(dirs / "extra")
    ds = data.load_dataset("mnist")
    out = capsys.readouterr().out
    assert "skipping" in out and "train-images-idx3-ubyte.gz" in out and "truncated" in out
    assert len(ds.y_train) == 30 and str(dirs / "extra") in ds.source
    assert _listing(dirs / "extra") == before  # nothing written into a source folder
    assert not list(dirs.rglob("*.tmp"))


def test_read_only_data_folder_uses_a_temporary_cache(dirs, monkeypatch, capsys):
    debian = dirs / "debian"
    _idx(debian, gz=True)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", debian)
    monkeypatch.setattr(data, "_writable", lambda folder: Path(folder) != dirs / "cache")
    before = _listing(debian)
    ds = data.load_dataset("fashion_mnist")
    assert "not writable" in capsys.readouterr().out and len(ds.y_test) == 30
    assert not (dirs / "cache" / "FashionMNIST").exists()
    assert (
        dirs / "tmp" / "synlab-data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    ).is_file()
    assert _listing(debian) == before


@pytest.mark.parametrize("n_img, n_lab", [(60, 50), (50, 60)])
def test_image_and_label_counts_are_cross_checked(dirs, capsys, n_img, n_lab):
    _idx(dirs / "cache" / "MNIST" / "raw", n_img=n_img, n_lab=n_lab)
    with pytest.raises(data.DataUnavailableError, match=f"{n_lab} labels for the {n_img} images"):
        data.load_dataset("mnist")
    assert "train-labels-idx1-ubyte" in capsys.readouterr().out


# ----------------------------------------------------------------------------- functions
def test_nan_and_inf_rejected_where_finite_values_are_required():
    from synlab.ensemble import GaussianEnsembleMLP
    from synlab.rules import update_release_probability
    from synlab.synapses import BernoulliLinear, GaussianLinear

    layer = GaussianLinear(3, 2)
    for bad in (math.nan, math.inf, 0.0, -1.0):
        with pytest.raises(ValueError, match="sigma must be finite and > 0"):
            layer.set_sigma(bad)
        with pytest.raises(ValueError, match="sigma_init"):
            GaussianLinear(3, 2, sigma_init=bad)
        with pytest.raises(ValueError, match="sigma_init must be a finite number"):
            GaussianEnsembleMLP(2, [3, 2], sigma_init=bad)
    assert torch.isfinite(layer.sigma).all()
    p, g = torch.full((2, 3), 0.5), torch.zeros(2, 3)
    rule = dict(p_up=0.1, p_down=0.1, g_lim=0.01)
    for name in rule:
        with pytest.raises(ValueError, match=name):
            update_release_probability(p, g, **{**rule, name: math.nan})
    with pytest.raises(ValueError, match="grad contains NaN"):
        update_release_probability(p, g.index_fill(0, torch.tensor([0]), math.nan), **rule)
    bern = BernoulliLinear(3, 2)
    with pytest.raises(ValueError, match="release mask holds 0"):
        bern(torch.ones(1, 3), mask=torch.full((2, 3), 2.0))


@pytest.mark.parametrize("sigma", [0.0, -0.5, math.nan, math.inf])
def test_reliability_cost_same_checks_on_numpy_and_torch(sigma):
    for value in (np.array([1.0, sigma]), torch.tensor([1.0, sigma])):
        with pytest.raises(ValueError, match="sigma must be finite and > 0"):
            costs.reliability_cost(value, 0.5)
    for kwargs, name in (({"rho": 0.0}, "rho"), ({"rho": 0.5, "c": -1.0}, "c")):
        with pytest.raises(ValueError, match=name):
            costs.reliability_cost(torch.tensor([1.0]), **kwargs)


def test_linear_objective_and_other_costs_name_bad_parameters():
    for rho in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="rho"):
            costs.linear_objective(1.0, 1.0, rho)
    with pytest.raises(ValueError, match="rho must be a number"):
        costs.linear_objective(1.0, 1.0, "half")
    with pytest.raises(ValueError, match="hill"):
        costs.calcium_cost(0.5, hill=0)
    with pytest.raises(ValueError, match="x values that differ"):
        costs.loglog_slope([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    from synlab.synapses import BernoulliLinear

    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        BernoulliLinear("784", 10)


def test_mutual_information_of_a_tiny_cell_is_finite_and_right_in_both_precisions():
    from synlab.information import mutual_information_from_joint

    eps = 1e-300
    exact = 2 * eps * math.log2(1 / eps)  # two cells of weight ε on the diagonal of a 3×3 table
    joint = np.array([[eps, 0, 0], [0, eps, 0], [0, 0, 1 - 2 * eps]])
    mi = mutual_information_from_joint(joint)
    assert math.isfinite(mi) and mi == pytest.approx(exact, rel=1e-9)
    small = np.array([[1e-30, 0], [0, 1 - 1e-30]])
    mi64 = mutual_information_from_joint(small)
    mi32 = mutual_information_from_joint(torch.tensor(small, dtype=torch.float32))
    assert mi64 == pytest.approx(1e-30 * math.log2(1e30), rel=1e-9)
    assert mi32 == pytest.approx(mi64, rel=1e-6)


def test_writing_over_a_corrupt_unit_keeps_it_in_quarantine(store):
    path = _folder(store) / "seed=0.json"
    path.write_bytes(b"\x00garbage")
    rec = results.UnitRecord(unit={"seed": 0}, result={"value": 1.0}, provenance={})
    results.write_unit(_folder(store), rec)  # as an executor storing a unit would
    kept = [p for p in _quarantined(store) if p.name == "seed=0.json"]
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00garbage"
    assert results.find_unit(_folder(store), {"seed": 0}).result == {"value": 1.0}
