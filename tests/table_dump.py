"""Dump every registered table builder's output, built from the committed results, to one file.

A refactoring aid for ``synlab/chapter_tables.py``: dump before a change, dump after, and compare
the two files byte for byte (``cmp``). ``tests/test_tables.py`` checks the same outputs against
what the chapters' notebooks show; this dump also covers a builder that no notebook shows yet and
counts how often each builder reads a results store through ``signatures_comparison``::

    PYTHONPATH=$PWD python tests/table_dump.py /tmp/before.md
    SYNLAB_CACHE_DIR=$(mktemp -d) PYTHONPATH=$PWD python tests/table_dump.py /tmp/q.md quick

The second form relabels the committed full results as ``quick`` (nothing is computed), so the
builders take their other-profile branches; with an empty cache folder no other quick result is
found, so the "not stored" branches run too. A builder that raises is dumped as its exception.
"""

from __future__ import annotations

import sys
from pathlib import Path


def dump(label: str = "full") -> str:
    """Every registered builder's Markdown, in name order, under a ``## name`` heading, built
    from the committed full results labelled as profile ``label``."""
    from synlab.results import ExperimentResults, load_results
    from synlab.tables import TABLES, _load_builders, build

    _load_builders()
    cache: dict[str, object] = {}
    parts = []
    for name in sorted(TABLES):
        b = TABLES[name]
        for e in b.experiments:
            if e not in cache:
                r = load_results(e, "full")
                cache[e] = ExperimentResults(r.experiment, label, r.config, r.records)
        try:
            out = build(name, *(cache[e] for e in b.experiments))
        except Exception as err:  # noqa: BLE001  (a failing builder is part of the dump)
            out = f"RAISES {type(err).__name__}: {err}"
        parts.append(f"## {name}\n\n{out}\n")
    return "\n".join(parts)


def count_calls(module, func_name: str, prefix: str) -> int:
    """How often building every table whose name starts with ``prefix`` calls ``func_name``."""
    from synlab.results import load_results
    from synlab.tables import TABLES, _load_builders, build

    _load_builders()
    original = getattr(module, func_name)
    calls = 0

    def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    setattr(module, func_name, counted)
    try:
        results = {}
        for name in sorted(n for n in TABLES if n.startswith(prefix)):
            exps = TABLES[name].experiments
            for e in exps:
                results.setdefault(e, load_results(e, "full"))
            build(name, *(results[e] for e in exps))
    finally:
        setattr(module, func_name, original)
    return calls


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(dump(*sys.argv[2:3]), encoding="utf-8")
    print(f"wrote {sys.argv[1]}")
