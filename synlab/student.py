"""The student edition of the chapters, in nbgrader's format.

A chapter (``book/<part>/NN_name.ipynb``, the twin of the ``.py`` one edits) becomes two
notebooks:

* the **nbgrader source** (for instructors: ``course`` below), where nbgrader's markers say
  what the students get:

  - a code cell tagged ``solution`` keeps each function's signature and docstring; its body is
    a ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region (an nbgrader *autograded answer*);
  - a check cell (``assert check("<exercise>", fn)``) becomes an nbgrader *autograder test*
    worth one point: it shows the checker's message, ``check("<exercise>", fn)``, and asserts
    it inside a ``### BEGIN HIDDEN TESTS`` region, so a student's "Run all" reaches every check
    while autograding scores it;
  - a written solution (a Markdown ``{solution}`` directive) becomes a *manually graded answer*
    cell holding the worked answer;
  - a cell tagged ``book-only`` (code that uses a solution to illustrate or cross-check the
    book's numbers) is left out;
* the **student copy** (the release nbgrader's ``generate_assignment`` makes of the source):
  each solution region replaced by ``raise NotImplementedError()`` inside the function, each
  written answer by "YOUR ANSWER HERE", hidden tests removed, outputs cleared.

Both are plain Markdown for Jupyter and Colab: citations become text ("Schug et al. (2021)"),
exercise directives become headed sections, and their LaTeX is no longer inside a code fence.
The committed edition lives in ``student/<part>/NN_name.ipynb``; ``python -m synlab.student
edition --check`` regenerates it in memory and fails on a difference.

Command lines::

    python -m synlab student book/<part>/NN_name.ipynb -o copy.ipynb   # one student copy
    python -m synlab.student edition [--check]                         # the student/ folder
    python -m synlab.student course DIR [CHAPTER ...]                  # nbgrader source tree
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "EDITION_DIR",
    "read_bibliography",
    "to_markdown",
    "nbgrader_source",
    "release",
    "student_copy",
    "strip_solutions",
    "make_student_copy",
    "edition_path",
    "write_edition",
    "check_edition",
    "write_course",
    "main",
]

ROOT = Path(__file__).resolve().parent.parent
#: where the committed student edition lives, relative to the repository root
EDITION_DIR = "student"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"  # nbgrader's stub for Python
TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's stub for written answers
_NBGRADER = {"schema_version": 3, "task": False}

# ----------------------------------------------------------------------------- Markdown


def read_bibliography(path: Path | str | None = None) -> dict[str, tuple[str, str]]:
    """``key -> (authors as cited, year)`` from a BibTeX file (``book/references.bib``)."""
    bib = Path(path) if path is not None else ROOT / "book" / "references.bib"
    out: dict[str, tuple[str, str]] = {}
    for m in re.finditer(r"@\w+\{([^,\s]+),(.*?)\n\}", bib.read_text(), re.S):
        key, body = m.group(1), m.group(2)
        fields = dict(re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", body))
        names = [_plain(a.split(",")[0]) for a in fields.get("author", "").split(" and ")]
        names = [n for n in names if n]
        if not names:
            continue
        who = (
            names[0]
            if len(names) == 1
            else f"{names[0]} and {names[1]}"
            if len(names) == 2
            else f"{names[0]} et al."
        )
        out[key] = (who, fields.get("year", "n.d."))
    return out


_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303"}


def _plain(tex: str) -> str:
    """A BibTeX name in plain text: ``Sj{\\"o}str{\\"o}m`` -> ``Sjöström``."""
    import unicodedata

    tex = re.sub(
        r"\{?\\([\"'`^~])\{?(\w)\}?\}?", lambda m: m.group(2) + _ACCENTS[m.group(1)], tex.strip()
    )
    return unicodedata.normalize("NFC", tex.replace("{", "").replace("}", ""))


def _cite(kind: str, keys: str, bib: dict[str, tuple[str, str]]) -> str:
    refs = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bib:
            raise ValueError(f"citation key {key!r} is not in the bibliography")
        refs.append(bib[key])
    if kind == "t":
        return "; ".join(f"{who} ({year})" for who, year in refs)
    return "(" + "; ".join(f"{who}, {year}" for who, year in refs) + ")"


_EXERCISE = re.compile(r"^```\{exercise\}[ \t]*(.*?)\n(.*?)^```[ \t]*$", re.S | re.M)
_SOLUTION = re.compile(r"^```\{solution\}[ \t]*(\S*).*?\n(.*?)^```[ \t]*$\n?", re.S | re.M)
_OPTION = re.compile(r"^:(\w+):[ \t]*(.*)$", re.M)


def _directive_body(body: str) -> tuple[dict[str, str], str]:
    """MyST directive options (``:label: x`` lines at the top) and the rest of its body."""
    options: dict[str, str] = {}
    lines = body.split("\n")
    while lines and (m := _OPTION.match(lines[0])):
        options[m.group(1)] = m.group(2).strip()
        lines.pop(0)
    return options, "\n".join(lines).strip("\n")


def to_markdown(text: str, bib: dict[str, tuple[str, str]], counter: list[int]) -> str:
    """MyST (the book's Markdown) as plain Markdown that Jupyter renders.

    ``{cite:t}``/``{cite:p}`` become author-year text; an ``{exercise}`` directive becomes a
    heading "Exercise k: title" (``counter`` numbers them across a chapter) with an HTML anchor
    named by its label; ``{solution}`` directives are removed (see :func:`nbgrader_source`).
    """

    def exercise(m: re.Match[str]) -> str:
        counter[0] += 1
        options, body = _directive_body(m.group(2))
        title = m.group(1).strip()
        anchor = f' <a id="{options["label"]}"></a>' if "label" in options else ""
        head = f"### Exercise {counter[0]}" + (f": {title}" if title else "") + anchor
        return f"{head}\n\n{body}"

    text = _SOLUTION.sub("", text)
    text = _EXERCISE.sub(exercise, text)
    text = re.sub(r"\{cite:([tp])\}`([^`]+)`", lambda m: _cite(m.group(1), m.group(2), bib), text)
    leftover = re.search(r"\{[a-z]+(?::[a-z]+)?\}`|^```\{", text, re.M)
    if leftover:
        raise ValueError(
            f"MyST markup without a plain-Markdown form: {text[leftover.start() :][:60]!r}"
        )
    return text.strip("\n")


# ----------------------------------------------------------------------------- cells


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _markdown(source: str, cid: str, nbgrader: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {"nbgrader": {**_NBGRADER, **nbgrader}} if nbgrader else {}
    return {"cell_type": "markdown", "id": cid, "metadata": meta, "source": source}


def _code(source: str, cid: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cid,
        "metadata": meta,
        "outputs": [],
        "source": source,
    }


def _solution_regions(src: str) -> tuple[str, list[str]]:
    """A solution cell with each top-level function's body inside nbgrader's solution markers
    (the signature and docstring stay), and the names of those functions."""
    tree = ast.parse(src)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs or len(funcs) != len(tree.body):
        raise ValueError(
            f"a code cell tagged 'solution' must hold only function definitions: {src[:60]!r}"
        )
    lines = src.split("\n")
    for fn in reversed(funcs):  # bottom up: line numbers above stay valid
        body = fn.body
        if (
            isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
            and len(body) > 1
        ):
            body = body[1:]  # keep the docstring
        start, end = body[0].lineno - 1, fn.end_lineno
        indent = re.match(r"\s*", lines[start]).group(0)
        lines[start:end] = [
            indent + "### BEGIN SOLUTION",
            *lines[start:end],
            indent + "### END SOLUTION",
        ]
    return "\n".join(lines).strip("\n"), [fn.name for fn in funcs]


_CHECK = re.compile(r"^assert check\((\"[\w.]+\"), (\w+)\)$")


def _check_cell(src: str) -> tuple[str, str]:
    m = _CHECK.match(src.strip())
    if not m:
        raise ValueError(
            'a check cell must be exactly `assert check("<part>.<exercise>", fn)` (other code '
            f"goes in the next cell, tagged book-only): {src.strip()[:60]!r}"
        )
    name, fn = m.groups()
    return name.strip('"'), fn


def _is_check(cell: dict[str, Any]) -> bool:
    return cell.get("cell_type") == "code" and re.search(r"^\s*assert check\(", _source(cell), re.M)


def _markdown_cells(src: str, cid: str, bib, counter: list[int], labels: list[str]) -> list:
    """A markdown cell, split at each ``{solution}`` directive: the text before it, then a
    graded answer cell holding the solution (the directive's label goes into ``labels``)."""
    out, pos, k = [], 0, 0
    for m in [*_SOLUTION.finditer(src), None]:
        text = src[pos : m.start() if m else len(src)].strip("\n")
        if text.strip():
            out.append(_markdown(to_markdown(text, bib, counter), f"{cid}-{k}"))
            k += 1
        if m is None:
            return out
        pos, label = m.end(), m.group(1)
        _, answer = _directive_body(m.group(2))
        labels.append(label)
        grade = {"grade": True, "solution": True, "locked": False, "points": 1}
        out.append(
            _markdown(
                f"**Your answer to exercise {counter[0]}:**\n\n### BEGIN SOLUTION\n"
                + to_markdown(answer, bib, [0])
                + "\n### END SOLUTION",
                f"{label}-answer",
                {**grade, "grade_id": f"{label}-answer"},
            )
        )


def _code_cell(cell: dict[str, Any], src: str, tags: list[str], cid: str) -> tuple[dict, str]:
    """A code cell of the source edition and its kind: ``"solution"`` (the solution regions
    kept between nbgrader's markers), ``"check"`` (a locked, graded check with hidden tests) or
    ``"code"`` (as it is)."""
    # not the chapter's execution timestamps: re-executing a chapter leaves its copy unchanged
    drop = {"tags", "nbgrader", "execution"}
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k not in drop}
    keep = [t for t in tags if t not in {"solution", "hide-cell", "hide-input", "hide-output"}]
    if keep:
        meta["tags"] = keep
    if "solution" in tags:
        body, names = _solution_regions(src)
        gid = "-".join(names)
        meta["nbgrader"] = {
            **_NBGRADER,
            "grade": False,
            "solution": True,
            "locked": False,
            "grade_id": gid,
        }
        return _code(body, gid, meta), "solution"
    if _is_check(cell) or re.search(r"(^|[^\w.])check\(", src):
        name, fn = _check_cell(src)
        gid = "check-" + name.replace(".", "-")
        meta["nbgrader"] = {
            **_NBGRADER,
            "grade": True,
            "solution": False,
            "locked": True,
            "points": 1,
            "grade_id": gid,
        }
        test = (
            f'check("{name}", {fn})  # says what is right or wrong\n'
            f"### BEGIN HIDDEN TESTS\n"
            f'assert check("{name}", {fn}, quiet=True)\n'
            f"### END HIDDEN TESTS"
        )
        return _code(test, gid, meta), "check"
    return _code(src, cid, meta), "code"


def nbgrader_source(
    nb: dict[str, Any], *, chapter: str, bib: dict[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The chapter notebook ``nb`` in nbgrader's source format (see the module docstring)."""
    bib = read_bibliography() if bib is None else bib
    counter = [0]
    cells: list[dict[str, Any]] = []
    labels: list[str] = []
    kinds: list[str] = []
    for i, cell in enumerate(nb["cells"]):
        src, tags = _source(cell), _tags(cell)
        cid = f"c{i:03d}"
        if "book-only" in tags:
            continue
        if cell["cell_type"] == "markdown":
            cells += _markdown_cells(src, cid, bib, counter, labels)
            if i == 0:
                cells.append(_markdown(_edition_note(chapter), "student-note"))
            continue
        out, kind = _code_cell(cell, src, tags, cid)
        cells.append(out)
        kinds.append(kind)
    if not labels and {"solution", "check"}.isdisjoint(kinds):
        raise ValueError(
            "no exercises to turn into a student copy (no 'solution'-tagged code cells, check "
            "cells or {solution} directives)"
        )
    meta = {k: v for k, v in nb.get("metadata", {}).items() if k in {"kernelspec", "language_info"}}
    meta["synlab"] = {"chapter": chapter, "edition": "nbgrader source"}
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


def _edition_note(chapter: str) -> str:
    return (
        f"> **Student edition** of `{chapter}`, generated by `python -m synlab.student`. "
        "Write your code where a cell says `YOUR CODE HERE` and your answers where one says "
        f"{TEXT_STUB}. Each check cell runs the exercise's checker and says what is right or "
        'what to fix; "Run all" reaches every one of them.'
    )


def _replace_region(source: str, begin: str, end: str, stub: str | None) -> str:
    """nbgrader's rule: the lines from a ``begin`` line to an ``end`` line become ``stub``
    (indented like the ``begin`` line), or disappear when ``stub`` is None."""
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out += [indent + s for s in stub.split("\n")]
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def release(source: dict[str, Any]) -> dict[str, Any]:
    """The student copy of an nbgrader source notebook: what ``generate_assignment`` releases."""
    nb = copy.deepcopy(source)
    for cell in nb["cells"]:
        src = _source(cell)
        grader = cell.get("metadata", {}).get("nbgrader", {})
        if grader.get("solution"):
            stub = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
            new = _replace_region(src, "BEGIN SOLUTION", "END SOLUTION", stub)
            cell["source"] = new if new != src else stub
        if grader.get("grade") and cell["cell_type"] == "code":
            cell["source"] = _replace_region(
                cell["source"], "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", None
            ).rstrip("\n")
    nb["metadata"]["synlab"]["edition"] = "student copy"
    return nb


def student_copy(nb: dict[str, Any], *, chapter: str, bib: dict | None = None) -> dict[str, Any]:
    """The student copy of chapter notebook ``nb``."""
    return release(nbgrader_source(nb, chapter=chapter, bib=bib))


def strip_solutions(nb: dict[str, Any], *, chapter: str = "chapter") -> tuple[dict[str, Any], int]:
    """The student copy of ``nb`` and how many solutions (code and written) it removed."""
    out = student_copy(nb, chapter=chapter)
    removed = sum(
        1 for c in out["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    )
    return out, removed


# ----------------------------------------------------------------------------- files


def _read_chapter(chapter: str | Path) -> tuple[Path, dict[str, Any]]:
    src = Path(chapter)
    if src.suffix == ".py":
        src = src.with_suffix(".ipynb")
    if src.suffix != ".ipynb":
        raise ValueError(f"{chapter}: not a chapter (give book/<part>/NN_name.ipynb or its .py)")
    if not src.is_file():
        raise ValueError(f"{src}: no such notebook")
    try:
        nb = json.loads(src.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{src}: not a notebook (not UTF-8 text: {err.reason})") from err
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{src}: not a notebook (invalid JSON at line {err.lineno}, column {err.colno}: "
            f"{err.msg}; truncated?)"
        ) from err
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{src}: not a Jupyter notebook (no list of cells)")
    return src, nb


def _chapter_name(path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(ROOT).with_suffix(".py").as_posix()
    except ValueError:
        return path.with_suffix(".py").name


def _dump(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def make_student_copy(chapter: str | Path, output: str | Path) -> Path:
    """Write the student copy of ``chapter`` (``.ipynb``, or its ``.py`` twin) to ``output``.

    Refuses (``ValueError``, one line naming the path) an output that is not a ``.ipynb``
    file, that is a folder, or that is the chapter itself or its ``.py`` twin.
    """
    out = Path(output)
    if out.is_dir():
        raise ValueError(f"-o {output}: is a folder; give a file name ending in .ipynb")
    if out.suffix != ".ipynb":
        raise ValueError(f"-o {output}: the student copy is a notebook; give a .ipynb path")
    src, nb = _read_chapter(chapter)
    twins = {src.resolve(), src.with_suffix(".py").resolve(), Path(chapter).resolve()}
    if out.resolve() in twins:
        raise ValueError(f"-o {output}: would overwrite the chapter {src} or its .py twin")
    try:
        student = student_copy(nb, chapter=_chapter_name(src))
    except ValueError as err:
        raise ValueError(f"{src}: {err}") from err
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_dump(student), encoding="utf-8")
    except OSError as err:
        raise ValueError(f"-o {output}: cannot write ({err.strerror})") from err
    return out


def edition_path(chapter: Path, root: Path | None = None) -> Path:
    """``book/<part>/NN_name.ipynb`` -> ``student/<part>/NN_name.ipynb``."""
    root = root or ROOT
    rel = chapter.resolve().relative_to((root / "book").resolve())
    return root / EDITION_DIR / rel.with_suffix(".ipynb")


def _chapters(root: Path) -> list[Path]:
    return sorted((root / "book").glob("*/[0-9][0-9]_*.ipynb"))


def _edition(root: Path) -> dict[Path, str]:
    bib = read_bibliography(root / "book" / "references.bib")
    out = {}
    for ch in _chapters(root):
        _, nb = _read_chapter(ch)
        name = ch.resolve().relative_to(root.resolve()).with_suffix(".py").as_posix()
        try:
            out[edition_path(ch, root)] = _dump(student_copy(nb, chapter=name, bib=bib))
        except ValueError as err:
            raise ValueError(f"{ch}: {err}") from err
    return out


def write_edition(root: Path | str | None = None) -> list[Path]:
    """Regenerate ``student/`` from every chapter; returns the files written."""
    root = Path(root) if root is not None else ROOT
    files = _edition(root)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for old in sorted((root / EDITION_DIR).glob("*/*.ipynb")):
        if old not in files:
            old.unlink()
    return list(files)


def check_edition(root: Path | str | None = None) -> list[str]:
    """What differs between the committed ``student/`` and a fresh regeneration (empty if none)."""
    root = Path(root) if root is not None else ROOT
    files = _edition(root)
    problems = []
    for path, text in files.items():
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from its chapter")
    for old in sorted((root / EDITION_DIR).glob("*/*.ipynb")):
        if old not in files:
            problems.append(f"{old}: no chapter of that name")
    return problems


def write_course(
    course: Path | str, chapters: list[str | Path] | None = None, root: Path | str | None = None
) -> list[Path]:
    """An nbgrader course folder: ``source/<part>_NN_name/NN_name.ipynb`` per chapter (the
    nbgrader source) and an ``nbgrader_config.py`` if there is none."""
    root = Path(root) if root is not None else ROOT
    course = Path(course)
    bib = read_bibliography(root / "book" / "references.bib")
    paths = [Path(c) for c in chapters] if chapters else _chapters(root)
    written = []
    for ch in paths:
        src, nb = _read_chapter(ch)
        assignment = f"{src.parent.name}_{src.stem}"
        out = course / "source" / assignment / src.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_dump(nbgrader_source(nb, chapter=_chapter_name(src), bib=bib)))
        written.append(out)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(
            "# nbgrader settings for a course built from synlab's chapters\n"
            "c = get_config()  # noqa: F821\n"
            'c.CourseDirectory.course_id = "synlab"\n'
            "# the chapters read the book's committed paper-scale results: run nbgrader with\n"
            "# SYNLAB_RESULTS_DIR=<a synlab checkout>/results in its environment\n"
        )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synlab.student", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ed = sub.add_parser("edition", help=f"regenerate {EDITION_DIR}/ from every chapter")
    ed.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    co = sub.add_parser("course", help="write an nbgrader course folder (source/ notebooks)")
    co.add_argument("folder")
    co.add_argument("chapters", nargs="*", help="chapter notebooks (default: all)")
    one = sub.add_parser("copy", help="one student copy (as `python -m synlab student`)")
    one.add_argument("chapter")
    one.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "edition" and args.check:
            problems = check_edition()
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                print("regenerate with: python -m synlab.student edition", file=sys.stderr)
                return 1
            print(f"{EDITION_DIR}/ matches the chapters")
        elif args.command == "edition":
            print(f"wrote {len(write_edition())} student copies under {EDITION_DIR}/")
        elif args.command == "course":
            files = write_course(args.folder, args.chapters)
            print(f"wrote {len(files)} nbgrader source notebooks under {args.folder}/source/")
        else:
            print(f"student copy written to {make_student_copy(args.chapter, args.output)}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
