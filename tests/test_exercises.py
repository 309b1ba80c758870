"""The exercise framework and student copies (part-specific checkers have their own tests)."""

import json

import pytest

from synlab import exercises
from synlab.__main__ import main
from synlab.exercises import EXERCISES, Feedback, check, close, exercise
from synlab.student import STUB, make_student_copy, strip_solutions


@pytest.fixture
def square_exercise(monkeypatch):
    def checker(fn):
        for x in (0.0, 1.5, -2.0):
            if not close(fn(x), x * x):
                return Feedback(
                    False, f"for x = {x} expected {x * x}, got {fn(x)}; hint: multiply x by itself"
                )
        return Feedback(True, "x² for every case.")

    monkeypatch.setitem(EXERCISES, "test.square", checker)
    return "test.square"


def test_right_answer_passes_and_prints(square_exercise, capsys):
    fb = check(square_exercise, lambda x: x**2)
    assert fb and fb.ok and "✔ Correct" in capsys.readouterr().out


def test_wrong_answer_says_what_is_wrong(square_exercise, capsys):
    fb = check(square_exercise, lambda x: 2 * x)
    assert not fb
    out = capsys.readouterr().out
    assert "✘ Not yet" in out and "x = 1.5 expected 2.25, got 3.0" in out


def test_answer_that_raises_is_reported(square_exercise):
    fb = check(square_exercise, lambda x: 1 / 0, quiet=True)
    assert not fb and "ZeroDivisionError" in fb.message


def test_unknown_exercise_and_duplicates(square_exercise):
    with pytest.raises(ValueError, match="unknown exercise 'nope.nothing'"):
        check("nope.nothing", 1)
    with pytest.raises(ValueError, match="already registered"):
        exercise(square_exercise)(lambda a: Feedback(True, ""))


def test_close():
    assert (
        close(1.0, 1.0 + 1e-9)
        and not close(1.0, 1.1)
        and not close("a", 1.0)
        and not close(float("nan"), 1.0)
    )


def _notebook():
    md = lambda s: {"cell_type": "markdown", "metadata": {}, "source": s}  # noqa: E731
    code = lambda s, tags=(): {
        "cell_type": "code",
        "metadata": {"tags": list(tags)},
        "source": s,  # noqa: E731
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
        "execution_count": 3,
    }
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            md("# Title"),
            md("```{exercise} Square\n:label: ex-sq\nWrite `sq(x)`.\n```"),
            code("def sq(x):\n    return x * x\n", tags=("solution", "hide-cell")),
            code("check('test.square', sq)"),
            md("```{solution} ex-sq\n:class: dropdown\nMultiply.\n```"),
        ],
    }


def test_strip_solutions():
    student, removed = strip_solutions(_notebook())
    assert removed == 2
    sources = [c["source"] for c in student["cells"]]
    assert not any("{solution}" in s for s in sources) and not any(
        "return x * x" in s for s in sources
    )
    stub = student["cells"][2]
    assert stub["source"] == "# def sq(x):\n" + STUB and "student" in stub["metadata"]["tags"]
    assert "{exercise}" in sources[1] and "check('test.square', sq)" in sources[3]
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")


def test_student_cli(tmp_path):
    src = tmp_path / "ch.ipynb"
    src.write_text(json.dumps(_notebook()))
    out = tmp_path / "out" / "student.ipynb"
    assert main(["student", str(src.with_suffix(".py")), "-o", str(out)]) == 0
    assert "{solution}" not in out.read_text()
    assert main(["student", str(tmp_path / "missing.ipynb"), "-o", str(out)]) == 2
    nosol = tmp_path / "nosol.ipynb"
    nosol.write_text(json.dumps({**_notebook(), "cells": _notebook()["cells"][:2]}))
    with pytest.raises(ValueError, match="no solutions"):
        make_student_copy(nosol, out)


def test_every_registered_checker_is_loaded():
    exercises._load_parts()
    assert all(name.count(".") >= 1 for name in EXERCISES)
