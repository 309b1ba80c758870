"""Golden results (tests/golden.py): the quick profile of every experiment, recorded as fixtures,
is what the code computes now. ``make test-quick`` checks the store its chapters computed
(``--golden-store``); the unit suite recomputes a few cheap experiments and tests the comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import golden
import numpy as np
import pytest
import torch

from synlab.experiments import all_experiments
from synlab.results import UnitRecord, run_experiment, write_unit

#: experiments cheap enough (seconds on one core) to recompute in the unit suite
CHEAP = ("raman_sweet_spot", "raman_rules")

#: experiments whose quick profile has no fixture (each other quick profile has one; each takes
#: under two minutes on this 2-core machine). A new experiment records its fixture with
#: ``python tests/golden.py record STORE NAME``. A fixture recorded from part of a profile says so
#: in its ``subset`` field (schug_energy_mnist: 9 of its 10 units;
#: malkin2024_tradeoff_lowcost_fashion: 2 of its 4). schug_lifelong_table_fashion_tuned's quick
#: profile runs the adopted values (``_TUNED_FASHION``): its fixture was recorded once the last
#: (data set, method) pair was adopted (issue 19); a new adoption changes it.
NO_FIXTURE_YET: set[str] = set()


def test_fixtures_cover_every_experiment_but_the_listed_gap():
    """Every fixture names a registered experiment; every experiment without one is listed."""
    names, fixtures = set(all_experiments()), set(golden.fixture_names())
    assert fixtures <= names, f"fixtures of unknown experiments: {sorted(fixtures - names)}"
    assert names - fixtures == NO_FIXTURE_YET


def test_fixtures_stay_small():
    total = sum(p.stat().st_size for p in golden.FIXTURES.rglob("*") if p.is_file())
    assert total < 4_000_000, f"tests/golden/quick holds {total / 1e6:.1f} MB"


def test_cpu_vendors_own_fixtures_are_of_shared_experiments():
    """A vendor's own fixture (quick/<vendor>/) replaces a shared one and holds the same units;
    a shared fixture never names that vendor too (the two would disagree on which holds)."""
    for path in golden.FIXTURES.glob("*/*.json"):
        shared = json.loads((golden.FIXTURES / path.name).read_text())
        own = json.loads(path.read_text())
        assert golden.vendors(own) == [path.parent.name], path
        assert path.parent.name not in golden.vendors(shared), path
        assert own["units"].keys() == shared["units"].keys(), path


def test_store_matches_golden(request):
    store = request.config.getoption("--golden-store")
    if not store:
        pytest.skip("no --golden-store given (make test-quick passes the store it computed)")
    computed = {p.name for p in (Path(store) / "quick").iterdir() if p.is_dir()}
    unknown = computed - set(golden.fixture_names()) - NO_FIXTURE_YET
    assert not unknown, f"computed, but no fixture and not in NO_FIXTURE_YET: {sorted(unknown)}"
    names = sorted(computed & set(golden.fixture_names()))
    assert names, f"{store} holds none of the experiments with a fixture"
    failures = [f for c in golden.check(store, names) for f in c.failures]
    assert not failures, "\n".join(failures)


def _recorded_threads(name: str) -> int | None:
    import json

    doc = json.loads(golden.fixture_file(name).read_text())
    devices = {u.get("device") or "" for u in doc["units"].values()}
    found = {int(m.group(1)) for d in devices for m in [re.search(r"(\d+) torch thread", d)] if m}
    return found.pop() if len(found) == 1 else None


@pytest.mark.slow
@pytest.mark.parametrize("name", CHEAP)
def test_cheap_experiment_recomputes_to_its_fixture(name, tmp_path):
    """Recomputed now, on the CPU with the default engine, the units match their fixture
    bitwise, or within the tolerance stated per quantity (tests/golden.py)."""
    threads = _recorded_threads(name)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)  # as recorded: a sum split otherwise rounds otherwise
    try:
        run_experiment(name, "quick", root=tmp_path, progress=False)
    finally:
        torch.set_num_threads(before)
    c = golden.compare_units(name, golden.store_units(tmp_path, name), strict=True)
    assert c.ok, "\n".join(c.failures)
    assert c.bitwise > 0


#: per paper, the cheapest committed full unit computed on a CPU (its provenance wall time, on
#: the lead's 2-core machine): recomputed now with the same engine and torch threads, it must
#: match the committed unit bitwise (or within TOLERANCES). The first runs in the unit suite; the
#: others only with ``--golden-full`` (``make golden-full``), as they take minutes.
FULL_UNITS = {
    "schug": ("schug_perceptron_load", "model=standard_n_patterns=20", 0.4),
    "raman": ("raman_table2", "regime=quadratic", 28.2),
    "malkin": ("malkin2024_linear", "lam=100", 222.1),
}


def _threads(device: str) -> int | None:
    m = re.search(r"(\d+) torch thread", device or "")
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("paper", sorted(FULL_UNITS))
def test_committed_full_unit_recomputes(paper, tmp_path, request):
    """One committed full unit per paper, recomputed into a temporary store (never into
    results/full) on the CPU, equals the committed one."""
    name, key, seconds = FULL_UNITS[paper]
    if seconds > 20 and not request.config.getoption("--golden-full"):
        pytest.skip(f"{name} {key} takes ~{seconds:.0f} s: make golden-full runs it")
    committed = golden.store_units(golden.ROOT / "results", name, "full")[key]
    prov = committed.provenance
    assert str(prov.get("device", "")).startswith("cpu"), f"{name} {key} was not computed on a CPU"
    engine = prov.get("engine") or prov.get("engine_inferred")
    before = torch.get_num_threads()
    torch.set_num_threads(_threads(prov["device"]) or before)
    try:
        run_experiment(
            name, "full", root=tmp_path, only=committed.unit, progress=False, engine=engine
        )
    finally:
        torch.set_num_threads(before)
    got = golden.store_units(tmp_path, name, "full")
    assert list(got) == [key]
    now = got[key].provenance["config_hash"]
    assert now == prov["config_hash"], f"the committed {name} {key} is stale ({now})"
    c = golden.compare_records(name, got, {key: committed})
    assert c.ok, "\n".join(c.failures)
    assert c.bitwise > 0


def _toy_store(
    root, values: np.ndarray, acc: float, data: str = "none (synthetic)", name: str = "toy"
):
    rec = UnitRecord(
        unit={"seed": 1},
        result={"acc": acc, "curve": values, "big": np.arange(1000, dtype=np.float32) * acc},
        provenance={
            "config_hash": "x",
            "device": "cpu (2 logical cores, 1 torch threads)",
            "data_source": data,
        },
    )
    write_unit(root / "quick" / name, rec)


def test_compare_is_bitwise_then_within_tolerance_then_fails(tmp_path):
    """The comparison says bitwise for the same numbers, within tolerance for a last-bit change,
    and fails, naming unit and quantity, for a real change or a missing quantity."""
    curve = np.linspace(0, 1, 10, dtype=np.float32)
    _toy_store(tmp_path / "a", curve, 0.5)
    golden.record(tmp_path / "a", ["toy"], dest=tmp_path / "fix")

    same = golden.check(tmp_path / "a", ["toy"], dest=tmp_path / "fix")[0]
    assert same.ok and same.bitwise == 3 and not same.within

    _toy_store(tmp_path / "b", np.nextafter(curve, np.float32(2)), 0.5 + 1e-12)
    near = golden.check(tmp_path / "b", ["toy"], dest=tmp_path / "fix")[0]
    assert near.ok and {w.split()[-1] for w in near.within} == {"acc", "curve"}

    far = curve.copy()
    far[3] += 0.01
    _toy_store(tmp_path / "c", far, 0.5)
    bad = golden.check(tmp_path / "c", ["toy"], dest=tmp_path / "fix")[0]
    assert not bad.ok and any("seed=1 curve" in f for f in bad.failures)

    _toy_store(tmp_path / "d", curve, 0.6)  # the large array is compared by sample and stats
    bad = golden.check(tmp_path / "d", ["toy"], dest=tmp_path / "fix")[0]
    assert {f.split()[2].rstrip(":") for f in bad.failures} == {"acc", "big"}

    _toy_store(tmp_path / "e", curve, 0.5, data="MNIST (torchvision files in /x)")
    other = golden.check(tmp_path / "e", ["toy"], dest=tmp_path / "fix")[0]
    assert not other.ok and "computed from other data (mnist;" in other.failures[0]


def test_fixture_from_another_cpu_vendor_is_compared_by_structure(tmp_path, monkeypatch):
    """A fixture names the CPU vendor it was recorded on. Recomputed on another vendor, numbers
    are not compared (a quick run's discrete outcomes part ways there), but units, kinds, dtypes
    and shapes still are; ``strict`` compares numbers anyway, and the same vendor always does."""
    curve = np.linspace(0, 1, 10, dtype=np.float32)
    _toy_store(tmp_path / "a", curve, 0.5)
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "AuthenticAMD")
    golden.record(tmp_path / "a", ["toy"], dest=tmp_path / "fix")
    assert json.loads((tmp_path / "fix" / "toy.json").read_text())["cpu"] == "AuthenticAMD"
    _toy_store(tmp_path / "b", curve + 0.25, 0.7)  # other numbers, same structure
    _toy_store(tmp_path / "c", curve[:5], 0.5)  # another shape
    assert not golden.check(tmp_path / "b", ["toy"], dest=tmp_path / "fix")[0].ok
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "GenuineIntel")
    across = golden.check(tmp_path / "b", ["toy"], dest=tmp_path / "fix")[0]
    assert across.ok and len(across.structural) == 3 and across.bitwise == 0
    assert not golden.compare_units(
        "toy", golden.store_units(tmp_path / "b", "toy"), tmp_path / "fix", strict=True
    ).ok
    shape = golden.check(tmp_path / "c", ["toy"], dest=tmp_path / "fix")[0]
    assert [f.split()[2] for f in shape.failures] == ["curve:"]


def test_record_cpu_shares_a_matching_fixture_and_keeps_its_own_otherwise(tmp_path, monkeypatch):
    """On a second vendor, record_cpu adds the vendor to a shared fixture its store matches, and
    writes the vendor's own fixture where the store differs; that one is then compared strictly
    there (and only there), and re-recording the shared fixture drops it as stale."""
    curve = np.linspace(0, 1, 10, dtype=np.float32)
    for name in ("same", "moved"):
        _toy_store(tmp_path / "amd", curve, 0.5, name=name)
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "AuthenticAMD")
    fix = tmp_path / "fix"
    golden.record(tmp_path / "amd", ["same", "moved"], dest=fix)

    _toy_store(tmp_path / "intel", curve, 0.5, name="same")
    _toy_store(tmp_path / "intel", curve + 0.25, 0.7, name="moved")
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "GenuineIntel")
    how = golden.record_cpu(tmp_path / "intel", dest=fix)
    assert how == {"moved": "own (3 differ)", "same": "shared"}
    assert json.loads((fix / "same.json").read_text())["cpu"] == ["AuthenticAMD", "GenuineIntel"]
    assert golden.fixture_file("moved", fix) == fix / "GenuineIntel" / "moved.json"

    here = golden.check(tmp_path / "intel", ["same", "moved"], dest=fix)
    assert all(c.ok and c.bitwise == 3 and not c.structural for c in here)
    _toy_store(tmp_path / "intel2", curve + 0.5, 0.7, name="moved")  # strict on Intel now
    assert not golden.check(tmp_path / "intel2", ["moved"], dest=fix)[0].ok
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "AuthenticAMD")  # AMD: the shared one
    assert not golden.check(tmp_path / "intel", ["moved"], dest=fix)[0].ok
    assert golden.check(tmp_path / "amd", ["same", "moved"], dest=fix)[0].ok

    golden.record(tmp_path / "amd", ["moved"], dest=fix)  # the code changed: re-recorded
    assert golden.vendor_files("moved", fix) == []
    monkeypatch.setattr(golden, "cpu_vendor", lambda: "GenuineIntel")
    assert golden.check(tmp_path / "intel", ["moved"], dest=fix)[0].structural


def test_subset_fixture_allows_more_units_but_checks_its_own(tmp_path):
    """A fixture recorded from some units only (--subset) accepts a store with more units, still
    compares the ones it has strictly, and still fails where one of its units is missing."""
    curve = np.linspace(0, 1, 10, dtype=np.float32)
    _toy_store(tmp_path / "a", curve, 0.5)
    golden.record(tmp_path / "a", ["toy"], dest=tmp_path / "fix")
    more = tmp_path / "more"
    _toy_store(more, curve, 0.5)
    write_unit(more / "quick" / "toy", UnitRecord({"seed": 2}, {"acc": 1.0}, {"device": "cpu"}))
    assert not golden.check(more, ["toy"], dest=tmp_path / "fix")[0].ok  # a whole fixture

    golden.record(tmp_path / "a", ["toy"], dest=tmp_path / "sub", subset="costly")
    assert golden.check(more, ["toy"], dest=tmp_path / "sub")[0].ok
    changed = tmp_path / "changed"
    _toy_store(changed, curve, 0.7)
    assert not golden.check(changed, ["toy"], dest=tmp_path / "sub")[0].ok
    empty = tmp_path / "other"
    write_unit(empty / "quick" / "toy", UnitRecord({"seed": 2}, {"acc": 1.0}, {"device": "cpu"}))
    bad = golden.check(empty, ["toy"], dest=tmp_path / "sub")[0]
    assert any("not in the store" in f for f in bad.failures)
