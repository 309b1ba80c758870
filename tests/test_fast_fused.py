"""The fused training step: hand-derived gradients equal autograd's, trajectories equal."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from synlab.ensemble import (
    GaussianEnsembleMLP,
    NoiseSource,
    SynapseStats,
    TrainSpec,
    train_ensemble,
)
from synlab.fast import fused


def _toy(n=60, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, x[:, :classes].argmax(1).long()


def test_softplus_matches_torch_including_tiny_and_large_arguments():
    phi = torch.cat(
        [torch.linspace(-40, 40, 2001), torch.tensor([-100.0, -20.0, 0.0, 25.0])]
    ).double()
    ref = torch.nn.functional.softplus(phi)
    assert torch.allclose(fused.softplus(phi), ref, rtol=1e-12, atol=0)
    phi32 = torch.linspace(-30, 30, 1001)
    assert torch.allclose(
        fused.softplus(phi32), torch.nn.functional.softplus(phi32), rtol=2e-6, atol=0
    )


@pytest.mark.parametrize("noise", ["weight", "local"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", ["cross_entropy", "gaussian"])
def test_fused_training_equals_autograd_training(noise, bias, loss):
    """Same init and same noise stream: the two engines follow the same trajectory (float64)."""
    x, y = _toy()
    if loss == "gaussian":
        y = torch.sin(x[:, :2]).double()
    K = 4
    out = 2 if loss == "gaussian" else 3
    kw = dict(
        bias=bias,
        sigma_init=0.05,
        mu_init=(-0.4, 0.4),
        noise=noise,
        dtype=torch.float64,
        homogeneous=[False, True, False, True],
        relu_after=(0, 1),
    )
    a = GaussianEnsembleMLP(K, [6, 5, 4, out], source=NoiseSource(K, 3), **kw)
    b = copy.deepcopy(a)  # parameters and the noise generator's state
    spec = TrainSpec(
        epochs=3,
        batch_size=12,
        lr=1e-2,
        lr_phi=3e-2,
        lam=[0.1, 0.5, 2.0, 1.0],
        rho=[0.5, 2 / 3, 2.0, 4 / 3],
        entropic=[False, False, True, False],
        l1=0.05,
        n_data=60,
        c=1.5,
        loss=loss,
        obs_sd=0.7,
        data_seed=5,
    )
    sa, sb = SynapseStats(a, (0, 1), start_epoch=2), SynapseStats(b, (0, 1), start_epoch=2)
    ha = train_ensemble(a, x.double(), y, spec, engine="autograd", on_step=sa.on_step)
    hb = train_ensemble(b, x.double(), y, spec, engine="fused", on_step=sb.on_step)
    moved = 0.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, rtol=1e-9, atol=1e-11)
    for pa, p0 in zip(
        a.phi, GaussianEnsembleMLP(K, [6, 5, 4, out], source=NoiseSource(K, 3), **kw).phi
    ):
        moved = max(moved, float((pa - p0).detach().abs().max()))
    assert moved > 1e-2  # the test exercises real training, not a frozen network
    np.testing.assert_allclose(ha.epoch_nll, hb.epoch_nll, rtol=1e-9)
    ra, rb = sa.result(), sb.result()
    assert set(ra) == {0, 1} and sa.n == sb.n == 5  # the last epoch's 5 steps
    for l in ra:
        for key, v in ra[l].items():
            assert torch.allclose(v, rb[l][key], rtol=1e-8, atol=1e-12), (l, key)


def test_unknown_engine_is_rejected():
    x, y = _toy(n=10)
    ens = GaussianEnsembleMLP(2, [6, 3], source=NoiseSource(2, 0))
    with pytest.raises(ValueError, match="engine"):
        train_ensemble(ens, x, y, TrainSpec(epochs=1), engine="magic")


def test_softplus_and_sigmoid_share_one_exponential():
    phi = torch.linspace(-40, 40, 4001).double()
    sp, sg = fused.softplus_and_sigmoid(phi)
    assert torch.allclose(sp, torch.nn.functional.softplus(phi), rtol=1e-12, atol=0)
    assert torch.allclose(sg, torch.sigmoid(phi), rtol=1e-12, atol=1e-300)


def test_compiled_step_follows_the_eager_step():
    """torch.compile of the fused step: same trajectory as eager (float rounding), same noise."""
    x, y = _toy(n=40)
    a = GaussianEnsembleMLP(
        3, [6, 5, 3], source=NoiseSource(3, 1), sigma_init=0.05, mu_init=(-0.4, 0.4)
    )
    b = copy.deepcopy(a)
    spec = TrainSpec(
        epochs=2,
        batch_size=10,
        lr=1e-2,
        lam=[0.1, 1.0, 3.0],
        rho=[0.5, 2.0, 4 / 3],
        n_data=40,
        data_seed=2,
    )
    train_ensemble(a, x, y, spec, engine="fused", compile=False)
    torch._dynamo.utils.counters.clear()
    train_ensemble(b, x, y, spec, engine="fused", compile=True)
    # at most one compilation for all 8 steps (none if an earlier test compiled this spec): the
    # frozen StepSpec and the 0-d step tensor cause no recompile per step
    assert torch._dynamo.utils.counters["frames"]["ok"] <= 1
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, rtol=1e-4, atol=1e-6)
