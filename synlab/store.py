"""The results store's files: one JSON (+ NPZ) per run unit, with provenance, checked on read.

Layout (``<root>`` is ``results/`` in a source checkout, see :func:`results_root`)::

    <root>/<profile>/<experiment>/<unit-key>.json   scalars, lists, provenance
    <root>/<profile>/<experiment>/<unit-key>.npz    numpy arrays of that unit (if any)

Every read checks the unit: its JSON must parse, record the very unit asked for (keys are lossy:
a new unit whose key another unit holds is stored under ``<key>__<hash>``) and, with arrays, the
SHA-256 of its NPZ; otherwise a :class:`CorruptUnitError` names the file. This module knows
nothing of the registered experiments (it takes :class:`~synlab.experiments.Experiment` objects
where it needs one): running and loading by name live in :mod:`synlab.results`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .settings import PROFILES, settings
from .stamps import data_labels


# ----------------------------------------------------------------------------- hashing & keys
def _jsonable(obj: Any, numbers: bool = False) -> Any:
    """Convert configs/results to JSON-compatible values (dataclasses, tuples, numpy scalars).

    Non-finite floats become strings (``"nan"``), as config hashes have always been computed;
    with ``numbers=True`` (stored results) they stay floats and round-trip as numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name), numbers) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, numbers) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, numbers) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()  # a NaN item stays a float, as it always has
    if isinstance(obj, float) and not math.isfinite(obj) and not numbers:
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # torch / numpy arrays
        return obj.tolist()
    return obj


def config_hash(config: Any) -> str:
    """SHA-256 (first 16 hex digits) of the config's canonical JSON."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _select(
    units: list[dict[str, Any]], only: dict[str, Any] | None, name: str
) -> list[dict[str, Any]]:
    """The units matching every ``key: value`` of ``only`` (all units if ``only`` is empty)."""
    if not only:
        return units
    keys = set().union(*(u.keys() for u in units)) if units else set()
    bad = set(only) - keys
    if bad:
        raise ValueError(
            f"{name} has no unit coordinate {sorted(bad)}; its units have {sorted(keys)}"
        )
    chosen = [u for u in units if all(u.get(k) == v for k, v in only.items())]
    if not chosen:
        values = {k: sorted({str(u.get(k)) for u in units}) for k in only}
        raise ValueError(f"no unit of {name} matches {only}; values present: {values}")
    return chosen


def _canonical(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _is_fresh(
    exp: Any, cfg_json: dict[str, Any], chash: str, unit: dict[str, Any], provenance: dict[str, Any]
) -> bool:
    """A stored unit is fresh if it was computed with this config, or, for experiments that say
    which part of the config a unit depends on (``unit_config``), with that part unchanged."""
    if provenance.get("config_hash") == chash:
        return True
    if exp.unit_config is None or "config" not in provenance:
        return False
    return _canonical(exp.unit_config(provenance["config"], unit)) == _canonical(
        exp.unit_config(cfg_json, unit)
    )


def _config_json(cfg: Any) -> dict[str, Any]:
    """The config as it reads back from a stored unit's provenance (JSON round trip)."""
    return json.loads(json.dumps(_jsonable(cfg)))


def unit_key(unit: dict[str, Any]) -> str:
    """A readable, file-system-safe key for a unit, e.g. ``l2=0.01_seed=2019``.

    The key is lossy (floats keep 6 digits; ``'a b'`` and ``'a-b'``, ``0`` and ``'0'`` share
    one), so it only names a file: the file records the exact unit, which every read compares
    (:func:`read_unit`). A new unit whose key is taken by another unit is stored under
    :func:`suffixed_key` instead."""
    if not unit:
        return "all"
    parts = []
    for k in sorted(unit):
        v = unit[k]
        v = f"{v:g}" if isinstance(v, float) else str(v)
        parts.append(f"{k}={v}")
    key = re.sub(r"[^A-Za-z0-9=._+-]", "-", "_".join(parts))
    if len(key) > 120:
        key = key[:100] + "_" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return key


def suffixed_key(unit: dict[str, Any]) -> str:
    """The key of a unit whose readable key another unit holds: ``<key>__<hash of the unit>``."""
    return f"{unit_key(unit)}__{hashlib.sha256(_canonical(unit).encode()).hexdigest()[:10]}"


# ----------------------------------------------------------------------------- provenance
def _git_commit() -> str:
    """HEAD of the checkout (``+dirty`` with uncommitted package changes); a copy without ``.git``
    (a GPU machine's, an unpacked archive) can name its commit in ``SYNLAB_GIT_COMMIT``."""
    named = settings().git_commit
    if named:
        return named
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if out.returncode != 0:
            return "unknown"
        commit = out.stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(here),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "synlab",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def results_root(profile: str) -> Path:
    """Where results of ``profile`` live.

    ``full`` results live in ``SYNLAB_RESULTS_DIR`` if set, else in the repository's
    ``results/`` folder (committed). ``quick`` results are cheap and never committed: they
    live in ``SYNLAB_CACHE_DIR`` if set, else ``~/.cache/synlab/results`` (full results too
    when synlab is installed without its repository, e.g. in Colab).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    s = settings()
    cache = s.cache_dir
    if profile == "quick":
        return cache
    if s.results_dir is not None:
        return s.results_dir
    repo_results = Path(__file__).resolve().parent.parent / "results"
    return repo_results if repo_results.is_dir() else cache


def chapter_profile() -> str:
    """The profile a chapter computes when it has no fresh full results: ``SYNLAB_PROFILE``."""
    return settings().profile


# ----------------------------------------------------------------------------- records
@dataclass
class UnitRecord:
    """One stored unit: its sweep coordinates, results and provenance."""

    unit: dict[str, Any]
    result: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def key(self) -> str:
        return unit_key(self.unit)


@dataclass
class ExperimentResults:
    """All units of one experiment and profile, plus the config they were run with."""

    experiment: str
    profile: str
    config: Any
    records: list[UnitRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def select(self, **coords: Any) -> list[UnitRecord]:
        """Records whose unit matches every given coordinate, e.g. ``select(seed=2019)``."""
        return [r for r in self.records if all(r.unit.get(k) == v for k, v in coords.items())]

    def values(self, name: str, **coords: Any) -> list[Any]:
        """``result[name]`` of every matching record, in unit order."""
        return [r.result[name] for r in self.select(**coords)]

    @property
    def data_sources(self) -> list[str]:
        """The data sets used, by canonical id (with checksum where recorded), never a path."""
        return data_labels(r.provenance for r in self.records)

    @property
    def wall_time_s(self) -> float:
        return float(sum(r.provenance.get("wall_time_s", 0.0) for r in self.records))

    def describe(self) -> str:
        """One paragraph of provenance for a chapter to print under its figures."""
        if not self.records:
            return f"{self.experiment} [{self.profile}]: no results"
        prov = self.records[0].provenance
        devices = sorted({r.provenance.get("device", "?") for r in self.records})
        dates = sorted(r.provenance.get("date", "?") for r in self.records)
        commits = sorted({r.provenance.get("git_commit", "?")[:12] for r in self.records})
        return (
            f"{self.experiment} — profile '{self.profile}', {len(self.records)} units, "
            f"config {prov.get('config_hash')}, synlab {prov.get('synlab_version')} "
            f"(commit {', '.join(commits)}), "
            f"data: {'; '.join(self.data_sources)}, device: {'; '.join(devices)}, "
            f"total wall time {self.wall_time_s / 60:.1f} min, computed {dates[0][:10]}"
            + (f" to {dates[-1][:10]}" if dates[-1][:10] != dates[0][:10] else "")
        )


class StoreError(ValueError):
    """A stored unit that cannot be trusted; the message names its file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


class CorruptUnitError(StoreError):
    """A unit file that cannot be read, or whose NPZ is missing, corrupt or not its own."""


class IncompleteResultsError(ValueError):
    """Stored results are missing or stale (a chapter then computes a fresh profile)."""


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        **{k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in arrays.items()},
    )
    return buf.getvalue()


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a hidden temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_unit(folder: Path, record: UnitRecord, key: str | None = None) -> Path:
    """Store one unit atomically as ``<key>.json`` (+ ``<key>.npz`` for its arrays); the path
    of its JSON. The key is the unit's readable key unless another unit holds it
    (:func:`store_key`). The JSON records the NPZ's SHA-256, so an interrupted rewrite can
    never leave a mixed pair that reads as complete; the JSON lands last and marks the unit done.
    """
    folder.mkdir(parents=True, exist_ok=True)
    key = key or store_key(folder, record.unit)
    arrays = {
        k: np.asarray(v) if not hasattr(v, "detach") else v
        for k, v in record.result.items()
        if isinstance(v, np.ndarray) or hasattr(v, "numpy")
    }
    rest = {k: v for k, v in record.result.items() if k not in arrays}
    payload = {
        "unit": _jsonable(record.unit),
        "result": _jsonable(rest, numbers=True),
        "arrays": sorted(arrays),
        "provenance": _jsonable(record.provenance),
    }
    json_path = folder / f"{key}.json"
    if arrays:
        blob = _npz_bytes(arrays)
        payload["npz_sha256"] = hashlib.sha256(blob).hexdigest()
        json_path.unlink(missing_ok=True)  # an old JSON never sits beside the new NPZ
        _replace_bytes(folder / f"{key}.npz", blob)
    else:
        (folder / f"{key}.npz").unlink(missing_ok=True)  # an earlier run's arrays, now replaced
    text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n"
    _replace_bytes(json_path, text.encode())
    return json_path


def _load_payload(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CorruptUnitError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise CorruptUnitError(path, f"not valid JSON ({err.msg}, line {err.lineno})") from err
    except OSError as err:
        raise CorruptUnitError(path, f"cannot be read ({err.strerror or err})") from err
    if not isinstance(payload, dict):
        raise CorruptUnitError(path, "not a unit record (a JSON object was expected)")
    kinds = {"unit": dict, "result": dict, "provenance": dict, "arrays": list}
    for name, kind in kinds.items():
        if not isinstance(payload.get(name, [] if name == "arrays" else None), kind):
            raise CorruptUnitError(path, f"not a unit record (no {name!r} {kind.__name__})")
    return payload


def _load_arrays(path: Path, payload: dict[str, Any]) -> dict[str, np.ndarray]:
    npz_path = path.with_suffix(".npz")
    if not payload.get("arrays"):
        return {}
    if not npz_path.is_file():
        raise CorruptUnitError(path, f"its arrays file {npz_path.name} is missing")
    digest = payload.get("npz_sha256")
    if digest is not None and _sha256_file(npz_path) != digest:
        raise CorruptUnitError(
            path, f"{npz_path.name} is not the arrays file written with it (checksum differs)"
        )
    try:  # units stored before checksums are verified by opening every array
        with np.load(npz_path, allow_pickle=False) as npz:
            return {k: npz[k] for k in payload["arrays"]}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise CorruptUnitError(path, f"{npz_path.name} cannot be read ({err})") from err


def read_unit(path: Path, unit: dict[str, Any] | None = None) -> UnitRecord | None:
    """The unit stored at ``path`` (JSON and NPZ, both checked); ``None`` if the file holds
    another unit than ``unit`` (two units sharing a lossy key). Raises
    :class:`CorruptUnitError` naming the file when either file cannot be trusted."""
    payload = _load_payload(Path(path))
    if unit is not None and _canonical(payload["unit"]) != _canonical(unit):
        return None
    result = dict(payload["result"])
    result.update(_load_arrays(Path(path), payload))
    return UnitRecord(unit=payload["unit"], result=result, provenance=payload["provenance"])


def store_key(folder: Path, unit: dict[str, Any]) -> str:
    """The key to store ``unit`` under: its readable key, unless a readable file there holds
    another unit (then :func:`suffixed_key`). A corrupt file there is quarantined first
    (``folder`` is ``<root>/<profile>/<experiment>``)."""
    key = unit_key(unit)
    path = folder / f"{key}.json"
    if not path.is_file():
        return key
    try:
        held = _load_payload(path)["unit"]
    except CorruptUnitError as err:  # never written over: kept in <root>/quarantine/
        print(f"{err}; moved it to {quarantine(path, folder.parent.parent)}")
        return key
    return key if _canonical(held) == _canonical(unit) else suffixed_key(unit)


def find_unit(folder: Path, unit: dict[str, Any]) -> UnitRecord | None:
    """The stored record of ``unit`` in ``folder`` (None if not stored); raises
    :class:`CorruptUnitError` for a file of this unit that cannot be trusted."""
    for key in (unit_key(unit), suffixed_key(unit)):
        path = folder / f"{key}.json"
        if path.is_file():
            rec = read_unit(path, unit)
            if rec is not None:
                return rec
    return None


def quarantine(path: Path, root: Path) -> Path:
    """Move a unit's files (JSON and NPZ) into ``<root>/quarantine/`` (git-ignored), keeping
    their profile/experiment folders and a time stamp; never deletes anything. The new folder."""
    path = Path(path)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        rel = Path(path.parent.name)
    dest = Path(root) / "quarantine" / rel / stamp
    dest.mkdir(parents=True, exist_ok=True)
    for twin in (path.with_suffix(".json"), path.with_suffix(".npz")):
        if twin.exists():
            shutil.move(str(twin), dest / twin.name)
    return dest


# kept for callers of the earlier private names
_write_unit = write_unit


def _read_unit(path: Path) -> UnitRecord:
    rec = read_unit(path)
    assert rec is not None  # no unit to compare with: never None
    return rec


def _stored(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def complete_subset_of(
    exp: Any, profile: str = "full", *, root: Path | str | None = None, **coords: Any
) -> ExperimentResults | None:
    """The stored units of experiment ``exp`` matching ``coords``, if *every* expected unit that
    matches is stored and fresh; else ``None`` (see :func:`synlab.results.complete_subset`)."""
    cfg = exp.make_config(profile)
    wanted = [u for u in exp.units(cfg) if all(u.get(k) == v for k, v in coords.items())]
    if not wanted:
        raise ValueError(f"no unit of {exp.name} [{profile}] matches {coords}")
    folder = (Path(root) if root is not None else results_root(profile)) / profile / exp.name
    chash, cfg_json = config_hash(cfg), _config_json(cfg)
    records = []
    for unit in wanted:  # only these need to be there and fresh; the rest of the sweep may be stale
        rec = find_unit(folder, unit)
        if rec is None or not _is_fresh(exp, cfg_json, chash, unit, rec.provenance):
            return None
        records.append(rec)
    return ExperimentResults(exp.name, profile, cfg, records)
