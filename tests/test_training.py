"""Tests of synlab.training: the SGD loop with the presynaptic rule, and evaluation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from synlab.information import mutual_information
from synlab.rules import PresynapticRule
from synlab.synapses import BernoulliLinear, mlp
from synlab.training import evaluate, sampling, train_classifier


def _blobs(n=400, d=10, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(c, d, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    x = centres[y] + torch.randn(n, d, generator=g)
    return x, y


def test_training_learns_and_is_seeded():
    x, y = _blobs()
    accs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mlp([10, 16, 3], BernoulliLinear, p_init=0.5)
        hist = train_classifier(
            model,
            (x[:200], y[:200], x, y),
            epochs=3,
            batch_size=20,
            lr=0.1,
            seed=3,
            device="cpu",
            eval_every=3,
            n_eval_samples=4,
        )
        accs.append(hist.test_accuracy[-1])
        assert hist.steps == 3 * 10
        assert hist.loss[-1] < hist.loss[0]
    assert accs[0] == accs[1]  # same seed, same result
    assert accs[0] > 0.8


def test_rule_sees_loss_gradient_not_weight_decay():
    """With a huge weight decay but zero data gradient the rule must only step down."""
    torch.manual_seed(0)
    model = mlp([4, 3], BernoulliLinear, p_init=0.6)
    x = torch.zeros(8, 4)  # zero inputs: the loss gradient wrt the weights is exactly 0
    y = torch.zeros(8, dtype=torch.long)
    rule = PresynapticRule(p_up=0.1, p_down=0.1, g_lim=1e-6)
    w0 = model[0].weight.detach().clone()
    train_classifier(
        model, (x, y), epochs=1, batch_size=8, lr=0.1, weight_decay=1.0, rule=rule, device="cpu"
    )
    assert torch.allclose(model[0].p, torch.full_like(model[0].p, 0.5))
    assert torch.allclose(model[0].weight, 0.9 * w0)  # SGD step on the decay alone


def test_deterministic_model_without_rule():
    x, y = _blobs(seed=1)
    torch.manual_seed(0)
    model = mlp([10, 8, 3])
    hist = train_classifier(model, (x, y), epochs=3, batch_size=50, lr=0.1, seed=0, device="cpu")
    assert all(math.isnan(v) for v in hist.mean_p)
    ev = evaluate(model, x, y, n_samples=10)
    assert 0 <= ev.mutual_information <= math.log2(3) + 1e-9
    assert ev.accuracy == ev.sample_accuracy  # one pass for a deterministic model


def test_evaluate_averages_samples_and_restores_mode():
    x, y = _blobs(n=100)
    torch.manual_seed(0)
    model = mlp([10, 8, 3], BernoulliLinear, p_init=0.3)
    model.train()
    ev = evaluate(model, x, y, n_samples=6)
    assert model.training and not model[0].sample_in_eval
    assert torch.allclose(ev.probs.sum(1), torch.ones(100), atol=1e-5)
    assert math.isclose(
        ev.mutual_information,
        mutual_information(y, ev.probs.double() / ev.probs.double().sum(1, keepdim=True)),
        rel_tol=1e-9,
    )
    # mean-weight evaluation is deterministic; sampled evaluation is not
    a = evaluate(model, x, y, stochastic=False).probs
    b = evaluate(model, x, y, stochastic=False).probs
    assert torch.equal(a, b)
    with sampling(model):
        assert model[0].sample_in_eval and not model.training


def test_validation_errors():
    x, y = _blobs(n=10)
    model = mlp([10, 3])
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(model, (x, y), epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="test data"):
        train_classifier(model, (x, y), epochs=1, eval_every=1)
    with pytest.raises(ValueError, match="inputs"):
        train_classifier(model, (x, y[:5]), epochs=1)
    with pytest.raises(ValueError, match="n_samples"):
        evaluate(model, x, y, n_samples=0)
    with pytest.raises(ValueError, match="data must be"):
        train_classifier(model, x, epochs=1)
    assert isinstance(model, nn.Module)


def test_cpu_threads_restores():
    from synlab.training import cpu_threads

    old = torch.get_num_threads()
    with cpu_threads(1, "cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with pytest.raises(ValueError):
        with cpu_threads(0, "cpu"):
            pass
