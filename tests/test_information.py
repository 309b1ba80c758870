"""Tests for synlab.information: entropy, mutual information and energy measures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from synlab import information as I

# ---------------------------------------------------------------------------
# entropy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 8, 10])
def test_entropy_uniform_is_log2_k(k):
    assert float(I.entropy(torch.full((k,), 1.0 / k))) == pytest.approx(math.log2(k), abs=1e-6)


def test_entropy_zero_terms_bases_and_batches():
    assert float(I.entropy([1.0, 0.0, 0.0])) == 0.0
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    assert float(I.entropy(p)) == pytest.approx(1.5)
    assert float(I.entropy(p, base=math.e)) == pytest.approx(1.5 * math.log(2))
    batch = torch.stack([p, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)])
    assert torch.allclose(I.entropy(batch), torch.tensor([1.5, 0.0], dtype=torch.float64))
    assert torch.allclose(I.entropy(batch.T, dim=0), torch.tensor([1.5, 0.0], dtype=torch.float64))


def test_entropy_rejects_bad_inputs():
    with pytest.raises(ValueError, match="negative"):
        I.entropy([1.2, -0.2])
    with pytest.raises(ValueError, match="sum to 1"):
        I.entropy([0.3, 0.3])
    with pytest.raises(ValueError, match="base"):
        I.entropy([0.5, 0.5], base=1.0)
    with pytest.raises(ValueError, match="dim"):
        I.entropy([0.5, 0.5], dim=1)


# ---------------------------------------------------------------------------
# mutual information
# ---------------------------------------------------------------------------


def test_mi_zero_for_product_joint():
    py = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    pyhat = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
    assert I.mutual_information_from_joint(torch.outer(py, pyhat)) == pytest.approx(0.0, abs=1e-12)


def test_mi_zero_for_independent_balanced_samples():
    # every (y, yhat) combination appears equally often: an exact product joint
    y = np.repeat(np.arange(3), 4)
    yhat = np.tile(np.arange(4), 3)
    assert I.mutual_information(y, yhat) == pytest.approx(0.0, abs=1e-12)


def test_mi_identity_predictions_equal_label_entropy():
    y = torch.tensor([0, 0, 1, 2, 2, 2, 3, 1])
    joint = I.joint_from_predictions(y, y)
    h_y = float(I.entropy(joint.sum(1)))
    assert I.mutual_information(y, y) == pytest.approx(h_y, abs=1e-12)
    assert I.conditional_entropy_from_joint(joint) == pytest.approx(0.0, abs=1e-12)
    # relabelled (permuted) predictions carry the same information
    assert I.mutual_information(y, (y + 1) % 4) == pytest.approx(h_y, abs=1e-12)


def test_mi_bounded_by_marginal_entropies():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=gen)
    yhat = torch.where(
        torch.rand(200, generator=gen) < 0.6, y, torch.randint(0, 4, (200,), generator=gen)
    )
    joint = I.joint_from_predictions(y, yhat)
    mi = I.mutual_information(y, yhat)
    assert 0 < mi <= min(float(I.entropy(joint.sum(1))), float(I.entropy(joint.sum(0)))) + 1e-12
    h_y = float(I.entropy(joint.sum(1)))
    assert I.conditional_entropy_from_joint(joint) == pytest.approx(h_y - mi)


def test_soft_one_hot_equals_hard():
    y = torch.tensor([0, 1, 2, 1, 0, 2, 2])
    yhat = torch.tensor([0, 2, 2, 1, 1, 2, 0])
    soft = torch.nn.functional.one_hot(yhat, 3).double()
    assert torch.allclose(
        I.joint_from_predictions(y, soft), I.joint_from_predictions(y, yhat, n_classes=3)
    )
    assert I.mutual_information(y, soft) == pytest.approx(
        I.mutual_information(y, yhat, n_classes=3)
    )


def test_soft_joint_is_class_averaged_outputs():
    y = torch.tensor([0, 0, 1])
    probs = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]], dtype=torch.float64)
    joint = I.joint_from_predictions(y, probs)
    # P(y=0)=2/3 with P(yhat|y=0) = (0.7, 0.3); P(y=1)=1/3 with (0.2, 0.8)
    expected = torch.tensor(
        [[2 / 3 * 0.7, 2 / 3 * 0.3], [1 / 3 * 0.2, 1 / 3 * 0.8]], dtype=torch.float64
    )
    assert torch.allclose(joint, expected)
    p_hat = expected.sum(0)
    cond = expected / expected.sum(1, keepdim=True)
    mi = float((expected * torch.log2(cond / p_hat)).sum())
    assert I.mutual_information(y, probs) == pytest.approx(mi, abs=1e-12)
    # uniform soft outputs carry no information
    assert I.mutual_information(y, torch.full((3, 2), 0.5)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60),
)
def test_mi_property_nonnegative_and_bounded(data):
    y = np.array([a for a, _ in data])
    yhat = np.array([b for _, b in data])
    joint = I.joint_from_predictions(y, yhat, n_classes=5)
    mi = I.mutual_information(y, yhat, n_classes=5)
    h_y = float(I.entropy(joint.sum(1)))
    h_yhat = float(I.entropy(joint.sum(0)))
    assert mi >= 0.0
    assert mi <= min(h_y, h_yhat) + 1e-9


def test_mi_rejects_bad_inputs():
    y = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="same length"):
        I.mutual_information(y, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must be in"):
        I.mutual_information(y, torch.full((3, 2), 0.5))
    with pytest.raises(ValueError, match=">= 0"):
        I.mutual_information(torch.tensor([-1, 0, 1]), y)
    with pytest.raises(ValueError, match="sum to 1"):
        I.mutual_information(y, torch.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="integer"):
        I.mutual_information(y, torch.tensor([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match="n_classes"):
        I.mutual_information(y, torch.full((3, 3), 1 / 3), n_classes=4)
    with pytest.raises(ValueError, match="predictions must be in"):
        I.mutual_information(y, torch.tensor([0, 1, 5]), n_classes=3)
    with pytest.raises(ValueError, match="empty"):
        I.mutual_information([], [])


# ---------------------------------------------------------------------------
# energy
# ---------------------------------------------------------------------------


class MeanWeightLayer(nn.Module):
    """Stand-in for a Bernoulli synapse layer: mean_weight = p * m."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.m = nn.Parameter(torch.randn(d_out, d_in, dtype=torch.float64))
        self.p = torch.full((d_out, d_in), 0.25, dtype=torch.float64)
        self.inner = nn.Linear(d_in, d_out).double()  # must not be counted twice

    @property
    def mean_weight(self) -> torch.Tensor:
        return self.p * self.m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.mean_weight)


def test_synaptic_energy_of_linear_stack_is_hand_sum():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    hand = model[0].weight.abs().sum() + model[2].weight.abs().sum()
    assert torch.allclose(I.synaptic_energy(model), hand)
    assert torch.allclose(I.synaptic_energy([model[0].weight, model[2].weight]), hand)
    # differentiable (usable as a regulariser)
    I.synaptic_energy(model).backward()
    assert torch.equal(model[0].weight.grad, model[0].weight.sign())


def test_synaptic_energy_uses_mean_weight():
    torch.manual_seed(0)
    layer = MeanWeightLayer(3, 2)
    model = nn.Sequential(layer, nn.Linear(2, 1).double())
    hand = (0.25 * layer.m).abs().sum() + model[1].weight.abs().sum()
    assert torch.allclose(I.synaptic_energy(model), hand)


def test_synaptic_energy_rejects_bad_inputs():
    with pytest.raises(ValueError, match="no synapse"):
        I.synaptic_energy(nn.ReLU())
    with pytest.raises(ValueError, match="tensors"):
        I.synaptic_energy([torch.ones(2), 3.0])
    with pytest.raises(ValueError, match="iterable"):
        I.synaptic_energy(3.0)


def test_activity_energy_matches_hand_computation():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    w1, w2 = model[0].weight.detach(), model[2].weight.detach()
    h = torch.relu(x @ w1.T + model[0].bias.detach())
    hand = 0.0
    for b in range(5):
        for i in range(4):
            for j in range(3):
                hand += abs(float(w1[i, j])) * abs(float(x[b, j]))
        for i in range(2):
            for j in range(4):
                hand += abs(float(w2[i, j])) * abs(float(h[b, j]))
    hand /= 5
    with torch.no_grad():
        assert float(I.activity_energy(model, x)) == pytest.approx(hand, rel=1e-12)
    # hooks are removed afterwards
    assert not model[0]._forward_hooks and not model[2]._forward_hooks


def test_activity_energy_uses_mean_weight():
    torch.manual_seed(2)
    layer = MeanWeightLayer(3, 2)
    x = torch.randn(4, 3, dtype=torch.float64)
    hand = (x.abs() @ layer.mean_weight.abs().T).sum(1).mean()
    with torch.no_grad():
        assert torch.allclose(I.activity_energy(layer, x), hand)


def test_efficiency_ratios():
    assert I.energy_per_bit(2.0, 10.0) == pytest.approx(5.0)
    assert I.bits_per_energy(2.0, 10.0) == pytest.approx(0.2)
    assert I.bits_per_energy(0.0, 10.0) == 0.0
    with pytest.raises(ValueError, match="energy must be > 0"):
        I.energy_per_bit(1.0, 0.0)
    with pytest.raises(ValueError, match="energy must be > 0"):
        I.bits_per_energy(1.0, -1.0)
    with pytest.raises(ValueError, match="information_bits must be > 0"):
        I.energy_per_bit(0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        I.energy_per_bit(1.0, float("nan"))
