"""Student copies of chapters: the same notebook with every solution removed.

Conventions (used by every chapter):

* a Markdown cell whose text contains a ```` ```{solution} ```` (or ``{solution-start}``)
  directive is a written solution: it is dropped;
* a code cell tagged ``solution`` is a coded solution: its source is replaced by a stub that
  keeps the cell's first line (the signature or assignment) and raises ``NotImplementedError``
  so the student sees where to write;
* everything else (text, exercises, ``check(...)`` cells) is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["strip_solutions", "make_student_copy"]

STUB = "# YOUR ANSWER HERE (the solution was removed from this student copy)\nraise NotImplementedError\n"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _is_solution_markdown(cell: dict) -> bool:
    return cell.get("cell_type") == "markdown" and (
        "{solution}" in _source(cell) or "{solution-start}" in _source(cell)
    )


def _is_solution_code(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and "solution" in cell.get("metadata", {}).get(
        "tags", []
    )


def strip_solutions(nb: dict) -> tuple[dict, int]:
    """Return a copy of notebook ``nb`` (nbformat dict) without solutions, and how many were removed."""
    out = dict(nb)
    cells, removed = [], 0
    for cell in nb["cells"]:
        if _is_solution_markdown(cell):
            removed += 1
            continue
        if _is_solution_code(cell):
            removed += 1
            first = _source(cell).lstrip().splitlines()[0] if _source(cell).strip() else ""
            head = f"# {first}\n" if first.startswith(("def ", "class ")) else ""
            meta = dict(cell.get("metadata", {}))
            meta["tags"] = [
                t for t in meta.get("tags", []) if t not in {"solution", "hide-cell", "hide-input"}
            ] + ["student"]
            cells.append(
                {
                    "cell_type": "code",
                    "metadata": meta,
                    "source": head + STUB,
                    "outputs": [],
                    "execution_count": None,
                    **({"id": cell["id"]} if "id" in cell else {}),
                }
            )
            continue
        cell = dict(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    out["cells"] = cells
    return out, removed


def make_student_copy(chapter: str | Path, output: str | Path) -> Path:
    """Write the student copy of ``chapter`` (``.ipynb``, or its ``.py`` twin) to ``output``."""
    src = Path(chapter)
    if src.suffix == ".py":
        src = src.with_suffix(".ipynb")
    if src.suffix != ".ipynb" or not src.is_file():
        raise ValueError(
            f"{chapter} is not a chapter notebook (expected an existing book/<part>/NN_name.ipynb)"
        )
    nb = json.loads(src.read_text())
    student, removed = strip_solutions(nb)
    if removed == 0:
        raise ValueError(
            f"{src} has no solutions to remove (no {{solution}} cells or 'solution'-tagged code cells)"
        )
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n")
    return out
