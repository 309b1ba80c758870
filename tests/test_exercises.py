"""The exercise framework (part-specific checkers have their own tests; student copies:
tests/test_student.py)."""

import pytest

from synlab import exercises
from synlab.exercises import EXERCISES, Feedback, check, close, exercise


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


def test_every_registered_checker_is_loaded():
    exercises._load_parts()
    assert all(name.count(".") >= 1 for name in EXERCISES)
