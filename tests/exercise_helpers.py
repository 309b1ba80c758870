"""Assertions shared by the exercise-checker tests: a right answer passes, a wrong one is told why."""

from synlab.exercises import check


def ok(name, answer):
    """``answer`` passes checker ``name``."""
    fb = check(name, answer, quiet=True)
    assert fb.ok, fb.message
    return fb


def wrong(name, answer, *needles):
    """``answer`` fails checker ``name`` and the message mentions every ``needle`` (case-insensitive)."""
    fb = check(name, answer, quiet=True)
    assert not fb.ok
    for needle in needles:
        assert needle.lower() in fb.message.lower(), fb.message
    return fb
