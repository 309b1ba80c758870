"""Every Foundations checker: a right answer passes, typical wrong answers fail with a message naming the mistake."""

from __future__ import annotations

import math

import numpy as np
import pytest
from exercise_helpers import ok, wrong

from synlab.exercises import check


# ----------------------------------------------------------------------------- binomial CV
def test_binomial_cv():
    ok("foundations.binomial_cv", lambda N, p: math.sqrt((1 - p) / (N * p)))
    wrong("foundations.binomial_cv", lambda N, p: (1 - p) / (N * p), "squared", "expected")
    wrong(
        "foundations.binomial_cv",
        lambda N, p: math.sqrt(p / (N * (1 - p))) if p < 1 else 0.0,
        "swapped",
    )
    wrong("foundations.binomial_cv", lambda N, p: math.sqrt((1 - p) / p), "sqrt(N)")


def test_binomial_cv_reports_exceptions():
    fb = check("foundations.binomial_cv", lambda N, p: 1 / 0, quiet=True)
    assert not fb.ok and "ZeroDivisionError" in fb.message


def test_sites_for_cv():
    ok("foundations.sites_for_cv", lambda t, p: max(1, math.ceil((1 - p) / (p * t * t))))
    wrong(
        "foundations.sites_for_cv",
        lambda t, p: max(1, math.floor((1 - p) / (p * t * t))),
        "rounded down",
    )
    wrong("foundations.sites_for_cv", lambda t, p: (1 - p) / (p * t * t), "integer")
    wrong("foundations.sites_for_cv", lambda t, p: math.ceil((1 - p) / (p * t * t)), "N ≥ 1")
    wrong("foundations.sites_for_cv", lambda t, p: max(1, math.ceil((1 - p) / (p * t))), "target²")


# ----------------------------------------------------------------------------- curvature
def test_curvature_along():
    ok("foundations.curvature_along", lambda A, v: float(v @ A @ v / (v @ v)))
    wrong("foundations.curvature_along", lambda A, v: float(v @ A @ v), "normalise")
    wrong(
        "foundations.curvature_along",
        lambda A, v: float(v @ A @ v / np.linalg.norm(v)),
        "squared norm",
    )
    wrong(
        "foundations.curvature_along",
        lambda A, v: float(np.linalg.norm(A @ (v / np.linalg.norm(v)))),
        "project",
    )


def test_hutchinson_variance():
    def right(H):
        off = H - np.diag(np.diag(H))
        return 2 * float((off**2).sum())

    ok("foundations.hutchinson_variance", right)
    wrong("foundations.hutchinson_variance", lambda H: 2 * float((H**2).sum()), "gaussian")
    wrong("foundations.hutchinson_variance", lambda H: right(H) / 2, "factor 2")
    wrong("foundations.hutchinson_variance", lambda H: 2 * right(H), "twice")


# ----------------------------------------------------------------------------- information
def _mi(C):
    P = np.asarray(C, float) / np.sum(C)
    py, pz = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    m = P > 0
    return float((P[m] * np.log2(P[m] / (py @ pz)[m])).sum())


def test_mi_from_confusion():
    ok("foundations.mi_from_confusion", _mi)

    def nats(C):
        return _mi(C) * math.log(2)

    def no_skip(C):
        P = np.asarray(C, float) / np.sum(C)
        py, pz = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
        with np.errstate(all="ignore"):
            return float((P * np.log2(P / (py @ pz))).sum())

    wrong("foundations.mi_from_confusion", nats, "natural logarithm")
    wrong("foundations.mi_from_confusion", no_skip, "0·log 0")
    wrong("foundations.mi_from_confusion", lambda C: math.log2(len(C)), "upper bound")


def test_symmetric_mi():
    def right(K, a):
        out = math.log2(K)
        if a > 0:
            out += a * math.log2(a)
        if a < 1:
            out += (1 - a) * math.log2((1 - a) / (K - 1))
        return out

    ok("foundations.symmetric_mi", right)
    wrong("foundations.symmetric_mi", lambda K, a: right(K, a) * math.log(2), "bits")

    def no_split(K, a):
        out = math.log2(K)
        if a > 0:
            out += a * math.log2(a)
        if a < 1:
            out += (1 - a) * math.log2(1 - a)
        return out

    wrong("foundations.symmetric_mi", no_split, "K − 1")


@pytest.mark.parametrize(
    "name",
    [
        "foundations.binomial_cv",
        "foundations.sites_for_cv",
        "foundations.curvature_along",
        "foundations.hutchinson_variance",
        "foundations.mi_from_confusion",
        "foundations.symmetric_mi",
    ],
)
def test_non_function_answer_is_rejected_with_a_message(name):
    fb = check(name, 42, quiet=True)
    assert not fb.ok and "function" in fb.message
