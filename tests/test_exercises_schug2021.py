"""Each schug2021 checker accepts a right answer and explains a typical wrong one."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

from synlab.exercises import check


def test_strength_update():
    assert check(
        "schug2021.strength_update",
        lambda m, p, p1, gm, lr: p / p1 * m - lr / (p * p1) * gm,
        quiet=True,
    )
    fb = check(
        "schug2021.strength_update", lambda m, p, p1, gm, lr: p / p1 * m - lr / p1 * gm, quiet=True
    )
    assert not fb and "1/(p·p')" in fb.message
    fb = check(
        "schug2021.strength_update", lambda m, p, p1, gm, lr: m - lr / (p * p1) * gm, quiet=True
    )
    assert not fb and "shrink" in fb.message


def test_prob_large_gradient():
    assert check(
        "schug2021.prob_large_gradient", lambda F, g: math.erfc(g / math.sqrt(2 * F)), quiet=True
    )
    fb = check(
        "schug2021.prob_large_gradient", lambda F, g: math.erfc(g / math.sqrt(F)), quiet=True
    )
    assert not fb and "sqrt(2)" in fb.message
    fb = check(
        "schug2021.prob_large_gradient",
        lambda F, g: 0.5 * math.erfc(g / math.sqrt(2 * F)),
        quiet=True,
    )
    assert not fb and "both tails" in fb.message


def _soft_mi(labels, probs, base=2.0):
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=float)
    joint = np.stack([probs[labels == c].sum(0) for c in range(probs.shape[1])]) / len(labels)
    py, pz = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (py * pz)[nz])).sum() / math.log(base))


def test_soft_mutual_information():
    assert check("schug2021.soft_mutual_information", _soft_mi, quiet=True)
    fb = check("schug2021.soft_mutual_information", lambda y, p: _soft_mi(y, p, math.e), quiet=True)
    assert not fb and "nats" in fb.message
    fb = check(
        "schug2021.soft_mutual_information",
        lambda y, p: _soft_mi(y, np.eye(p.shape[1])[np.asarray(p).argmax(1)]),
        quiet=True,
    )
    assert not fb and "arg-max" in fb.message


def test_matched_release_probability():
    assert check(
        "schug2021.matched_release_probability",
        lambda ps: torch.cat([p.flatten() for p in ps]).mean(),
        quiet=True,
    )
    fb = check(
        "schug2021.matched_release_probability",
        lambda ps: torch.stack([p.mean() for p in ps]).mean(),
        quiet=True,
    )
    assert not fb and "layer means" in fb.message


def test_important_inputs():
    assert check("schug2021.important_inputs", lambda p, t: (p >= t).sum(1), quiet=True)
    fb = check("schug2021.important_inputs", lambda p, t: (p >= t).sum(0), quiet=True)
    assert not fb and "rows" in fb.message
    fb = check("schug2021.important_inputs", lambda p, t: (p > t).sum(1), quiet=True)
    assert not fb and ">=" in fb.message


def _classes(counts, baseline, n_std):
    mu, sd = np.mean(baseline), np.std(baseline)
    lo, hi = int((counts < mu - n_std * sd).sum()), int((counts > mu + n_std * sd).sum())
    return [lo, len(counts) - lo - hi, hi]


def test_importance_classes():
    assert check("schug2021.importance_classes", _classes, quiet=True)
    fb = check("schug2021.importance_classes", lambda c, b, n: _classes(c, c, n), quiet=True)
    assert not fb and "baseline" in fb.message


def test_relative_change():
    assert check("schug2021.relative_change", lambda b, a: np.abs(a - b) / b, quiet=True)
    fb = check("schug2021.relative_change", lambda b, a: (a - b) / b, quiet=True)
    assert not fb and "absolute" in fb.message
    fb = check("schug2021.relative_change", lambda b, a: np.abs(a - b) / a, quiet=True)
    assert not fb and "before" in fb.message


def test_pearson_r():
    assert check("schug2021.pearson_r", lambda x, y: stats.pearsonr(x, y).statistic, quiet=True)
    fb = check(
        "schug2021.pearson_r",
        lambda x, y: np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)),
        quiet=True,
    )
    assert not fb and "means" in fb.message
