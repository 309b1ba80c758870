"""Checkers for the coursework exercises of every chapter.

In a chapter, after writing an answer, a student runs ``check("foundations.binomial_cv", cv)``.
A checker compares the answer with a reference on several cases and says *what* is wrong
(which case, what was expected, what was given, and a hint), not just "fail". Each book part
registers its checkers in its own module (``synlab/exercises/<part>.py``).

A checker is a function ``answer -> Feedback``; :func:`check` prints the feedback and
returns True/False so a cell can ``assert check(...)``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Feedback", "EXERCISES", "exercise", "check", "close", "PART_MODULES"]


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
#: the part modules whose import registers checkers
PART_MODULES: tuple[str, ...] = (
    "foundations",
    "schug2021",
    "schug2021_lifelong",
    "malkin2024",
    "raman2021",
    "synthesis",
)


def exercise(name: str) -> Callable[[Callable[[Any], Feedback]], Callable[[Any], Feedback]]:
    """Decorator registering a checker under ``name`` (``"<part>.<exercise>"``)."""

    def deco(fn: Callable[[Any], Feedback]) -> Callable[[Any], Feedback]:
        if name in EXERCISES:
            raise ValueError(f"an exercise named {name!r} is already registered")
        EXERCISES[name] = fn
        return fn

    return deco


def _load_parts() -> None:
    for mod in PART_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def check(name: str, answer: Any, *, quiet: bool = False) -> Feedback:
    """Check ``answer`` to exercise ``name``; prints the feedback and returns it (truthy if right)."""
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
