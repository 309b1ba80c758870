"""Each checker of the lifelong-learning chapters accepts a right answer and explains a typical wrong one."""

from __future__ import annotations

import math

import numpy as np

from synlab.exercises import check
from synlab.rules import consolidation_factor, update_release_probability


def test_backward_transfer():
    right = lambda A: float(np.mean([A[-1, j] - A[j, j] for j in range(len(A) - 1)]))  # noqa: E731
    assert check("schug2021_lifelong.backward_transfer", right, quiet=True)
    fb = check(
        "schug2021_lifelong.backward_transfer",
        lambda A: float(A[-1].mean() - np.diag(A).mean()),
        quiet=True,
    )
    assert not fb and "last task" in fb.message


def test_ewc_penalty():
    right = lambda t, s, f, lam: 0.5 * lam * (f * (t - s) ** 2).sum()  # noqa: E731
    assert check("schug2021_lifelong.ewc_penalty", right, quiet=True)
    fb = check(
        "schug2021_lifelong.ewc_penalty",
        lambda t, s, f, lam: lam * (f * (t - s) ** 2).sum(),
        quiet=True,
    )
    assert not fb and "1/2" in fb.message


def test_ghost_step():
    kw = dict(
        p_up=0.05, p_down=0.05, g_lim=0.001, p_min=0.25, p_max=1.0, p_freeze=0.9, headroom=True
    )

    def right(p, g, lr, w):
        return update_release_probability(p, g, **kw), w - lr * consolidation_factor(p) * g

    def late(p, g, lr, w):
        new = update_release_probability(p, g, **kw)
        return new, w - lr * consolidation_factor(new) * g

    assert check("schug2021_lifelong.ghost_step", right, quiet=True)
    fb = check("schug2021_lifelong.ghost_step", late, quiet=True)
    assert not fb and "before" in fb.message


def test_t_statistic():
    def right(a, b):
        na, nb = len(a), len(b)
        sp = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
        return (a.mean() - b.mean()) / math.sqrt(sp * (1 / na + 1 / nb))

    def welch(a, b):
        return (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))

    assert check("schug2021_lifelong.t_statistic", right, quiet=True)
    fb = check("schug2021_lifelong.t_statistic", welch, quiet=True)
    assert not fb and "Welch" in fb.message


def test_perceptron_step():
    def right(w, X, y):
        wrong = (y * (X @ w) <= 0).float()
        return (wrong * y) @ X / len(y)

    assert check("schug2021_lifelong.perceptron_step", right, quiet=True)
    fb = check(
        "schug2021_lifelong.perceptron_step",
        lambda w, X, y: (y * (X @ w) <= 0).float() * y @ X,
        quiet=True,
    )
    assert not fb and "average" in fb.message


def test_cover_fraction():
    right = lambda P, N: 2 * sum(math.comb(P - 1, k) for k in range(N)) / 2**P  # noqa: E731
    assert check("schug2021_lifelong.cover_fraction", right, quiet=True)
    fb = check(
        "schug2021_lifelong.cover_fraction", lambda P, N: 1.0 if P < 2 * N else 0.0, quiet=True
    )
    assert not fb and "P=" in fb.message
