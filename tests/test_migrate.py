"""synlab.migrate, on a copy of every committed unit: old -> migrated -> loaded, with the same
arrays, fresh, and the migration recorded; applying it twice changes nothing more."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synlab import migrate
from synlab.results import experiment_status, read_unit, status_failures
from synlab.store import _replace_bytes

COMMITTED = Path(__file__).resolve().parent.parent / "results"


def _as_before(payload: dict) -> dict:
    """The unit as it was before ``engine-and-stack``, rebuilt from what the migration recorded:
    drop the keys it added and give back ``stacked_with`` (written only for stacks of more than
    one unit; every committed unit before the migration followed that rule)."""
    prov = payload["provenance"]
    record = [m for m in prov.get("migrated_from", []) if m["migration"] == "engine-and-stack"]
    assert record, "every unit written before the migration records it"
    prov["migrated_from"].remove(record[0])
    if not prov["migrated_from"]:
        del prov["migrated_from"]
    if "engine_inferred" in record[0]["changed"]:
        del prov["engine_inferred"]
    if "stack" in record[0]["changed"]:
        stack = prov.pop("stack")
        if stack != 1:
            prov["stacked_with"] = stack
    return payload


def _migrated(prov: dict) -> bool:
    return any(m["migration"] == "engine-and-stack" for m in prov.get("migrated_from", []))


@pytest.mark.slow
def test_every_committed_unit_migrates_and_loads_the_same(tmp_path):
    """The committed store was migrated once (2026-11-30). Rebuild each unit's pre-migration JSON,
    migrate that copy again, and require exactly the committed units back (but the migration's
    date), with the same arrays, fresh; applying it twice changes nothing more."""
    root = tmp_path / "results"
    shutil.copytree(COMMITTED / "full", root / "full")
    everything = {p: read_unit(p) for p in sorted((root / "full").glob("*/*.json"))}
    assert migrate.migrate_store(root).changed == []  # the committed store is up to date
    # Units written after the migration record engine and stack themselves, never inferred.
    native = {p: u for p, u in everything.items() if not _migrated(u.provenance)}
    for path, unit in native.items():
        assert unit.provenance["engine"] in ("autograd", "fused", "compiled"), path
        assert isinstance(unit.provenance["stack"], int), path
        assert "engine_inferred" not in unit.provenance, path
    committed = {p: u for p, u in everything.items() if p not in native}
    assert len(committed) > 600

    for path in committed:
        payload = _as_before(json.loads(path.read_text()))
        text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n"
        _replace_bytes(path, text.encode())
    before = {p: read_unit(p) for p in committed}  # loads: the NPZ checksum still matches

    dry = migrate.migrate_store(root)  # a dry run writes nothing
    assert all(read_unit(p).provenance == r.provenance for p, r in before.items())

    done = migrate.migrate_store(root, apply=True)
    assert sorted(done.changed) == sorted(dry.changed) == sorted(committed)
    for path, old in before.items():
        new = read_unit(path)  # JSON and NPZ both checked (the NPZ checksum is unchanged)
        assert new.unit == old.unit and new.result.keys() == old.result.keys()
        for k, v in old.result.items():
            if isinstance(v, np.ndarray):
                assert np.array_equal(new.result[k], v, equal_nan=True), (path, k)
            else:
                assert json.dumps(new.result[k]) == json.dumps(v), (path, k)
        prov = new.provenance
        kept = {k: v for k, v in old.provenance.items() if k != "stacked_with"}
        assert {k: prov[k] for k in kept} == kept  # nothing of the old provenance is lost
        assert prov["stack"] == old.provenance.get("stacked_with", 1)
        assert prov["migrated_from"][-1]["migration"] == "engine-and-stack"
        if "engine_inferred" in prov:
            assert prov["engine_inferred"] in ("autograd", "fused", "compiled")
        want = dict(committed[path].provenance)
        want["migrated_from"] = prov["migrated_from"][:-1] + [
            dict(want["migrated_from"][-1], date=prov["migrated_from"][-1]["date"])
        ]
        assert prov == want, path  # the migration gives exactly the committed unit
    reported = [p for paths in done.reported.values() for p in paths]
    assert all("engine_inferred" not in read_unit(p).provenance for p in reported)

    # still fresh: status --check on the migrated copy finds nothing it did not find before
    rows = experiment_status(root)
    assert [f for f in status_failures(rows) if "stale" in f or "corrupt" in f] == []

    again = migrate.migrate_store(root, apply=True)
    assert again.changed == [] and again.unchanged == len(everything)


def test_engine_inference_from_the_recorded_step():
    from synlab.experiments import get_experiment

    tradeoff, table = get_experiment("malkin2024_tradeoff"), get_experiment("schug_lifelong_table")
    label = migrate._engine_from_label
    assert label("fused step, torch.compile, one ensemble of 200 members", tradeoff) == "compiled"
    assert label("autograd, one ensemble of 9 members", tradeoff) == "autograd"
    assert label("fused step", tradeoff) == "fused"
    assert label("fused step", table) == "autograd"  # a lifelong stack's eager step
    assert label("something else", table) is None
    payload = {"unit": {}, "result": {}, "provenance": {"stacked_with": 4}}
    applied, reports = migrate.migrate_payload(payload, table, date="2026-11-30")
    assert applied == ["engine-and-stack"] and payload["provenance"]["stack"] == 4
    assert "engine_inferred" not in payload["provenance"] and "more than one" in reports[0]
    solo = {"unit": {}, "result": {}, "provenance": {}}
    migrate.migrate_payload(solo, get_experiment("raman_rules"), date="2026-11-30")
    assert solo["provenance"]["engine_inferred"] == "autograd" and solo["provenance"]["stack"] == 1
    assert migrate.migrate_payload(solo, None) == ([], [])  # recorded: never applied twice
