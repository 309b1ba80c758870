"""Checkers for the coursework exercises of every chapter.

In a chapter, after writing an answer, a student runs ``check("foundations.binomial_cv", cv)``.
A checker compares the answer with a reference on several cases and says *what* is wrong
(which case, what was expected, what was given, and a hint), not just "fail". Each book part
registers its checkers in its own module (``synlab/exercises/<part>.py``).

A checker is a function ``answer -> Feedback``; :func:`check` prints the feedback and
returns True/False so a cell can ``assert check(...)``. A checker that tries several cases may
instead be a generator: it yields one verdict per case (None when the case is right, e.g. from
:func:`wrong_number`) and returns the Feedback for an answer right on every case.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# every book part has one module here and one in synlab.experiments, under the same name
from ..experiments import PART_MODULES

__all__ = [
    "Feedback",
    "EXERCISES",
    "exercise",
    "check",
    "close",
    "call",
    "known_mistake",
    "wrong_number",
    "Verdicts",
    "PART_MODULES",
]


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker: ``ok`` and a message that says what to fix."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return ("✔ Correct. " if self.ok else "✘ Not yet. ") + self.message


EXERCISES: dict[str, Callable[[Any], Feedback]] = {}


#: a checker written as a generator: a verdict per case (None: right), then the final Feedback
Verdicts = Generator[Feedback | None, None, Feedback]


def exercise(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Feedback]]:
    """Decorator registering a checker under ``name`` (``"<part>.<exercise>"``); a generator
    checker (see the module's docstring) is registered, and returned, as a plain checker."""

    def deco(fn: Callable[[Any], Any]) -> Callable[[Any], Feedback]:
        if name in EXERCISES:
            raise ValueError(f"an exercise named {name!r} is already registered")
        checker = _first_wrong(fn) if inspect.isgeneratorfunction(fn) else fn
        EXERCISES[name] = checker
        return checker

    return deco


def _first_wrong(cases: Callable[[Any], Verdicts]) -> Callable[[Any], Feedback]:
    """The checker that runs the generator checker ``cases`` up to its first failing verdict
    (later cases are not tried) or, when every case is right, to its final Feedback."""

    @functools.wraps(cases)
    def checker(answer: Any) -> Feedback:
        verdicts = cases(answer)
        try:
            while (verdict := next(verdicts)) is None:
                pass
        except StopIteration as done:
            return done.value
        verdicts.close()
        return verdict

    return checker


def _load_parts() -> None:
    for mod in PART_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def check(name: str, answer: Any, *, quiet: bool = False) -> Feedback:
    """Check ``answer`` to exercise ``name``; prints the feedback and returns it (truthy if
    right)."""
    _load_parts()
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {', '.join(sorted(EXERCISES))}")
    try:
        fb = EXERCISES[name](answer)
    except Exception as err:  # noqa: BLE001 - a student's code may raise anything; say so
        fb = Feedback(False, f"your answer raised {type(err).__name__}: {err}")
    if not quiet:
        print(fb)
    return fb


def close(given: Any, expected: float, *, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    """``given`` is a finite number within ``rel``/``abs_`` of ``expected``."""
    try:
        g = float(given)
    except (TypeError, ValueError):
        return False
    return math.isfinite(g) and math.isclose(g, expected, rel_tol=rel, abs_tol=abs_)


def call(fn: Any, *args: Any) -> Any:
    """``fn(*args)``, after making sure the student's answer is a function at all."""
    if not callable(fn):
        raise TypeError(f"expected a function, got {type(fn).__name__}")
    return fn(*args)


#: a known mistake: the number it gives, None (not telling in this case), or a function of the
#: given number that returns that number or a verdict (True/False)
Mistake = float | None | Callable[[float], Any]


def known_mistake(
    given: Any,
    default: str,
    mistakes: Sequence[tuple[Mistake, str]],
    *,
    rel: float = 1e-6,
    abs_: float = 0.0,
) -> str:
    """The hint for a wrong ``given``: that of the first known mistake it matches, else ``default``.

    ``mistakes`` lists ``(mistake, hint)`` pairs in the order they are tried. A mistake is

    * the number that mistake produces: ``given`` matches it within ``rel`` / ``abs_``;
    * ``None``: this mistake cannot be told from the right answer in this case, skip it;
    * a function of the given number ``g``, called only when its turn comes (for a value that
      is expensive, or that may fail to exist): it returns either the number the mistake
      produces, or True/False for a test of its own (such as ``lambda g: g < 1``).

    An answer that is not a number, or a mistake value that cannot be computed (TypeError or
    ValueError), gets the ``default`` hint.
    """
    try:
        g = float(given)
        for mistake, hint in mistakes:
            value = mistake(g) if callable(mistake) else mistake
            if isinstance(value, bool | np.bool_):
                if value:
                    return hint
            elif value is not None and math.isclose(g, value, rel_tol=rel, abs_tol=abs_):
                return hint
    except (TypeError, ValueError):
        pass
    return default


def wrong_number(
    given: Any,
    expected: float,
    says: Callable[[str], str],
    mistakes: Sequence[tuple[Mistake, str]] = (),
    *,
    default: str = "",
    tol: tuple[float, float] = (1e-6, 1e-9),
    mistake_tol: tuple[float, float] = (1e-6, 0.0),
) -> Feedback | None:
    """The verdict on a number: None when ``given`` is within ``tol`` = (rel, abs) of
    ``expected`` (see :func:`close`), else a failing :class:`Feedback` whose message is
    ``says(hint)``, ``hint`` being :func:`known_mistake`'s for ``mistakes`` and ``default``,
    matched within ``mistake_tol`` = (rel, abs).

    A failing Feedback is falsy, so test the result with ``is not None``.
    """
    if close(given, expected, rel=tol[0], abs_=tol[1]):
        return None
    rel, abs_ = mistake_tol
    return Feedback(False, says(known_mistake(given, default, mistakes, rel=rel, abs_=abs_)))
