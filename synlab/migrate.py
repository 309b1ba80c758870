"""The one migration tool of the results store: renames and backfills in stored units' JSON.

``python -m synlab.migrate [--root DIR] [--apply]`` lists (default) or applies every migration of
:data:`MIGRATIONS` to every stored unit under ``DIR`` (default: the full results' root). A
migration changes a unit's JSON only: never its arrays (the NPZ and its checksum stay as they
are), never its config or config hash (so no unit goes stale), and it keeps the provenance,
appending ``{"migration", "date", "changed"}`` to ``provenance["migrated_from"]``. A migration
already recorded in a unit is not applied again. Other issues add their key changes here, as
one more :class:`Migration`.

Migrations:

``engine-and-stack`` (2026-11)
    The run arguments that new units record in provenance: ``stack`` (older units wrote
    ``stacked_with`` only when a stack held more than one unit, so its absence means 1) and the
    engine. The engine is backfilled as ``engine_inferred`` (never as ``engine``, which only a
    run records) where it can be known: the experiment has had one engine only, or the unit's
    result names the step that ran (``"autograd"``, ``"fused step"``, ``"..., torch.compile"``;
    see :func:`_engine_from_label`).
    Units where neither holds are reported, not changed.
    Applied once to the committed store on 2026-11-30: 627 units migrated (426 of them with an
    ``engine_inferred``); 201 reported (the lifelong, ablation, tuning and regression units, whose
    experiments have had a compiled path beside the eager one).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .experiments import all_experiments
from .store import _load_payload, _replace_bytes, _stored, results_root

__all__ = ["Migration", "MIGRATIONS", "migrate_payload", "migrate_store", "MigrationReport"]


@dataclass(frozen=True)
class Migration:
    """``apply(payload, experiment)`` changes a unit's JSON payload in place and returns the
    provenance/result keys it changed (empty: nothing to do) and, if it could not do all it
    should, why (reported)."""

    name: str
    apply: Callable[[dict[str, Any], Any], tuple[list[str], str | None]]


def _engine_from_label(label: str, exp: Any) -> str | None:
    """The run argument (``--engine``) that gives the step a result's label names: a stack of
    the lifelong experiments runs its eager hand-derived step ("fused step") under ``autograd``,
    their only engine that is not compiled."""
    text = label.strip().lower()
    if "torch.compile" in text:
        return "compiled"
    if text.startswith("fused step") and (exp is None or "fused" in exp.engines):
        return "fused"
    if text.startswith(("autograd", "fused step")):
        return "autograd"
    return None


def _engine_and_stack(payload: dict[str, Any], exp: Any) -> tuple[list[str], str | None]:
    prov, changed, why = payload["provenance"], [], None
    if "stack" not in prov:
        prov["stack"] = int(prov.pop("stacked_with", 1))
        changed.append("stack")
    if "engine" not in prov and "engine_inferred" not in prov:
        label = payload["result"].get("engine")
        engine = _engine_from_label(label, exp) if isinstance(label, str) else None
        if engine is None and exp is not None and len(exp.engines) == 1:
            engine = exp.engines[0]
        if engine is None:
            why = "no engine recorded, and the experiment has had more than one"
        else:
            prov["engine_inferred"] = engine
            changed.append("engine_inferred")
    return changed, why


MIGRATIONS: tuple[Migration, ...] = (Migration("engine-and-stack", _engine_and_stack),)


def migrate_payload(
    payload: dict[str, Any], exp: Any, migrations=MIGRATIONS, date: str | None = None
) -> tuple[list[str], list[str]]:
    """Apply the migrations not yet recorded in ``payload``; (names applied, reasons reported)."""
    prov = payload["provenance"]
    done = {m.get("migration") for m in prov.get("migrated_from", [])}
    date = date or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    applied, reports = [], []
    for m in migrations:
        if m.name in done:
            continue
        changed, why = m.apply(payload, exp)
        if why:
            reports.append(f"{m.name}: {why}")
        if changed:
            prov.setdefault("migrated_from", []).append(
                {"migration": m.name, "date": date, "changed": sorted(changed)}
            )
            applied.append(m.name)
    return applied, reports


@dataclass
class MigrationReport:
    changed: list[Path] = field(default_factory=list)
    unchanged: int = 0
    reported: dict[str, list[Path]] = field(default_factory=dict)


def migrate_store(root: Path | str | None = None, *, apply: bool = False) -> MigrationReport:
    """Migrate every unit under ``<root>/<profile>/<experiment>/`` (``apply=False``: only say
    what would change). Experiments no longer registered are migrated without one."""
    base = Path(root) if root is not None else results_root("full")
    exps = all_experiments()
    report = MigrationReport()
    for folder in sorted(p for p in base.glob("*/*") if p.is_dir()):
        if folder.parent.name not in ("quick", "full"):
            continue
        exp = exps.get(folder.name)
        for path in _stored(folder).values():
            payload = _load_payload(path)
            applied, reasons = migrate_payload(payload, exp)
            for why in reasons:
                report.reported.setdefault(why, []).append(path)
            if not applied:
                report.unchanged += 1
                continue
            report.changed.append(path)
            if apply:
                text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n"
                _replace_bytes(path, text.encode())
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synlab.migrate", description=__doc__)
    ap.add_argument("--root", default=None, help="a results root (default: the full results')")
    ap.add_argument("--apply", action="store_true", help="write the changes (default: list)")
    args = ap.parse_args(argv)
    rep = migrate_store(args.root, apply=args.apply)
    verb = "migrated" if args.apply else "would migrate"
    print(f"{verb} {len(rep.changed)} unit(s); {rep.unchanged} already up to date")
    for why, paths in rep.reported.items():
        print(f"reported ({len(paths)} unit(s)): {why}; e.g. {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
