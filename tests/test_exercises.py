"""The exercise framework (part-specific checkers have their own tests; student copies:
tests/test_student.py)."""

import pytest

from synlab import exercises
from synlab.exercises import EXERCISES, Feedback, check, close, exercise, wrong_number


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


def test_wrong_number_is_none_when_right_and_names_the_mistake_when_wrong():
    says = lambda hint: f"expected 2, got it wrong. {hint}"
    mistakes = [(-2.0, "sign"), (lambda g: g > 100, "far too large")]
    assert wrong_number(2.0 + 1e-9, 2.0, says, mistakes) is None
    assert wrong_number(-2.0, 2.0, says, mistakes).message == "expected 2, got it wrong. sign"
    assert wrong_number(1e3, 2.0, says, mistakes).message.endswith("far too large")
    fb = wrong_number("two", 2.0, says, mistakes, default="a number, please")
    assert not fb and fb.message.endswith("a number, please")
    # the right answer's tolerance and the mistakes' are separate
    assert wrong_number(2.1, 2.0, says, tol=(0.1, 0.0)) is None
    assert wrong_number(-2.1, 2.0, says, mistakes, mistake_tol=(0.1, 0.0)).message.endswith("sign")
    assert wrong_number(-2.1, 2.0, says, mistakes).message.endswith("wrong. ")


def test_a_generator_checker_stops_at_its_first_failing_case(monkeypatch):
    monkeypatch.setattr(exercises, "EXERCISES", dict(EXERCISES))  # registers into a copy
    tried = []

    @exercise("test.cube")
    def checker(fn):
        for x in (1.0, 2.0, 3.0):
            tried.append(x)
            yield wrong_number(fn(x), x**3, lambda hint: f"for x = {x}: {hint}", default="cube it")
        return Feedback(True, "x³ for every case.")

    assert check("test.cube", lambda x: x**3, quiet=True).ok and tried == [1.0, 2.0, 3.0]
    tried.clear()
    fb = check("test.cube", lambda x: x**2, quiet=True)  # right at x = 1, wrong at x = 2
    assert not fb and fb.message == "for x = 2.0: cube it" and tried == [1.0, 2.0]
    assert checker(lambda x: x**3).ok  # the decorated name is a plain checker too
