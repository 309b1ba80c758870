"""Tests of the standard and consolidated stochastic perceptron (synlab.perceptron)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synlab.perceptron import (
    PerceptronParams,
    perceptron_accuracy,
    perceptron_update,
    random_patterns,
    train_perceptron_sequentially,
)


def test_update_only_from_errors_and_averaged():
    x = torch.tensor([[[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]]])  # (R=1, B=2, N=3)
    y = torch.tensor([[1.0, -1.0]])
    w = torch.tensor([[1.0, 0.0, 0.0]])  # h = (1, 1): first right, second wrong
    g = perceptron_update(w, x, y, lr=1.0)
    torch.testing.assert_close(g, (-1.0 * x[0, 1] / 2)[None])
    assert torch.all(perceptron_update(w, x[:, :1], y[:, :1]) == 0)
    with pytest.raises(ValueError):
        perceptron_update(w[0], x, y)


def test_standard_perceptron_learns_separable_set():
    x, y = random_patterns(4, 1, 20, 100, seed=0)  # load 0.2, far below capacity 2N
    res = train_perceptron_sequentially(
        x, y, consolidated=False, params=PerceptronParams(passes=25)
    )
    np.testing.assert_array_equal(res["accuracy"][:, 0, 0], 1.0)
    assert res["first_task"].shape == (4, 26) and np.all(res["first_task"][:, 0] <= 1)


def test_repetitions_are_independent():
    x, y = random_patterns(3, 2, 10, 50, seed=1)
    p = PerceptronParams(
        passes=3, lr=5.0
    )  # integer weights: exact arithmetic, no ties broken by rounding
    both = train_perceptron_sequentially(x, y, consolidated=False, params=p, seed=5)
    one = train_perceptron_sequentially(x[1:2], y[1:2], consolidated=False, params=p, seed=5)
    np.testing.assert_allclose(both["accuracy"][1], one["accuracy"][0])


def test_consolidation_retains_first_task_at_low_load():
    x, y = random_patterns(
        10, 5, 20, 200, seed=2
    )  # 5 × 20 patterns, N = 200: a quarter of capacity 2N
    p = PerceptronParams(passes=10)
    std = train_perceptron_sequentially(x, y, consolidated=False, params=p)
    con = train_perceptron_sequentially(x, y, consolidated=True, params=p)
    assert con["accuracy"][:, -1, 0].mean() > std["accuracy"][:, -1, 0].mean() + 0.03
    assert np.all(con["mean_p"] >= 0.25) and np.all(std["mean_p"] == 1.0)
    assert np.all(
        np.diff(con["mean_p"].mean(0)) >= -0.05
    )  # release becomes reliable as memories accumulate


def test_sampled_accuracy_equals_mean_accuracy_when_release_is_certain():
    x, y = random_patterns(2, 1, 30, 40, seed=3)
    w = torch.randn(2, 40)
    a0 = perceptron_accuracy(w, x[:, 0], y[:, 0])
    a1 = perceptron_accuracy(w, x[:, 0], y[:, 0], p=torch.ones(2, 40), samples=4)
    torch.testing.assert_close(a0, a1)


def test_params_validation():
    with pytest.raises(ValueError):
        PerceptronParams(batch=0)
    x, y = random_patterns(1, 1, 7, 10)
    with pytest.raises(ValueError, match="multiple"):
        train_perceptron_sequentially(x, y, consolidated=False)
