"""StackedMLP / train_stacked: K networks trained as one stack follow their solo runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from synlab.rules import PresynapticRule
from synlab.stacked import StackedMLP, train_stacked
from synlab.synapses import BernoulliLinear, mlp
from synlab.training import train_classifier


def _data(n=120, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (x[:, :c].argmax(1) + (x[:, -1] > 1).long()) % c
    return x, y


def _models(kind, seeds, sizes=(12, 16, 16, 3)):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        m = mlp(sizes, BernoulliLinear, p_init=0.25) if kind == "bernoulli" else mlp(sizes)
        out.append(m.double())
    return out


@pytest.mark.parametrize("consolidate", [False, True])
def test_stack_follows_solo_runs(consolidate):
    x, y = _data()
    seeds, lrs, wds = [3, 4, 3], [0.05, 0.05, 0.1], [0.0, 0.01, 0.001]
    rule = PresynapticRule(
        p_up=0.07,
        p_down=0.07,
        g_lim=0.001,
        p_min=0.25,
        p_max=1.0,
        p_freeze=0.9 if consolidate else 1.0,
        headroom=True,
        consolidate=consolidate,
    )
    solos = _models("bernoulli", seeds)
    stack = StackedMLP.from_models(solos)
    hists = train_stacked(
        stack,
        (x, y),
        epochs=3,
        seeds=seeds,
        batch_size=25,
        lr=lrs,
        weight_decay=wds,
        rule=rule,
        device="cpu",
    )
    for k, (model, s) in enumerate(zip(solos, seeds)):
        h = train_classifier(
            model,
            (x, y),
            epochs=3,
            batch_size=25,
            lr=lrs[k],
            weight_decay=wds[k],
            rule=rule,
            seed=s,
            device="cpu",
        )
        back = stack.to_models()[k]
        for a, b in zip(
            [m for m in model if isinstance(m, BernoulliLinear)],
            [m for m in back if isinstance(m, BernoulliLinear)],
        ):
            torch.testing.assert_close(b.weight, a.weight, rtol=0, atol=1e-10)
            torch.testing.assert_close(b.p, a.p, rtol=0, atol=1e-12)
        assert hists[k].loss == pytest.approx(h.loss, rel=1e-9)
        assert hists[k].mean_p == pytest.approx(h.mean_p, rel=1e-12)
        assert hists[k].steps == h.steps == 15
    # the rule really moved p, differently per member
    p_final = stack.ps[0]
    assert not torch.equal(p_final[0], p_final[1]) and float(p_final.max()) > 0.25


def test_deterministic_stack_follows_solo_sgd():
    x, y = _data(seed=1)
    seeds = [5, 6]
    solos = _models("linear", seeds)
    stack = StackedMLP.from_models(solos)
    train_stacked(
        stack,
        (x, y),
        epochs=2,
        seeds=seeds,
        batch_size=30,
        lr=0.1,
        weight_decay=[0.0, 0.05],
        device="cpu",
    )
    for k, (model, s) in enumerate(zip(solos, seeds)):
        train_classifier(
            model,
            (x, y),
            epochs=2,
            batch_size=30,
            lr=0.1,
            weight_decay=[0.0, 0.05][k],
            seed=s,
            device="cpu",
        )
        for a, b in zip(
            [m for m in model if isinstance(m, nn.Linear)],
            [m for m in stack.to_models()[k] if isinstance(m, nn.Linear)],
        ):
            torch.testing.assert_close(b.weight, a.weight, rtol=0, atol=1e-10)


def test_eval_mode_uses_mean_weights_and_masks_follow_p():
    solos = _models("bernoulli", [1, 2])
    stack = StackedMLP.from_models(solos).eval()
    x = torch.randn(7, 12, dtype=torch.float64)
    out = stack(x)
    for k, m in enumerate(solos):
        torch.testing.assert_close(out[k], m.eval()(x))
    with torch.no_grad():
        stack.p0[1].fill_(1.0)
    masks = stack.sample_masks([torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)])
    assert masks[0][1].eq(1).all()  # p = 1 always releases
    frac = float(masks[0][0].mean())
    assert abs(frac - 0.25) < 0.03  # 192 synapses at p = 0.25


def test_bad_input_is_rejected():
    solos = _models("bernoulli", [1, 2])
    stack = StackedMLP.from_models(solos)
    x, y = _data()
    with pytest.raises(ValueError, match="one seed per member"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1])
    with pytest.raises(ValueError, match="one value per member"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1, 2], lr=[0.1])
    with pytest.raises(ValueError, match="weight_decay >= 0"):
        train_stacked(stack, (x, y), epochs=1, seeds=[1, 2], weight_decay=-1.0)
    with pytest.raises(ValueError, match="inputs must have shape"):
        stack(torch.randn(3, 5, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match="same layers"):
        StackedMLP.from_models([solos[0], mlp((12, 8, 3), BernoulliLinear)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StackedMLP([torch.zeros(2, 3, 4)], [torch.full((2, 3, 4), 1.5)])
    det = StackedMLP.from_models(_models("linear", [1, 2]))
    with pytest.raises(ValueError, match="stochastic"):
        train_stacked(det, (x, y), epochs=1, seeds=[1, 2], rule=PresynapticRule())
    with pytest.raises(ValueError, match="bias-free"):
        StackedMLP.from_models([mlp((12, 3), bias=True)])
