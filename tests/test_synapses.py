import pytest
import torch
from torch import nn

from synlab.synapses import BernoulliLinear, GaussianLinear, inverse_softplus, mlp, synapse_layers


def test_bernoulli_eval_uses_mean_weight():
    layer = BernoulliLinear(5, 3, p_init=0.5).eval()
    x = torch.randn(4, 5)
    assert torch.allclose(layer(x), x @ layer.weight.T)


def test_bernoulli_sample_is_unbiased():
    torch.manual_seed(1)
    layer = BernoulliLinear(4, 2, p_init=0.3)
    x = torch.randn(1, 4)
    outs = torch.stack([layer(x) for _ in range(20000)])
    mean = outs.mean(0)
    se = outs.std(0) / 20000**0.5
    assert ((mean - x @ layer.weight.T).abs() < 5 * se).all()


def test_bernoulli_explicit_mask_and_strength():
    layer = BernoulliLinear(3, 2, p_init=torch.tensor([[0.25, 0.5, 1.0], [1.0, 0.5, 0.25]]))
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    x = torch.ones(1, 3)
    expected = (mask * layer.strength).sum(1)
    assert torch.allclose(layer(x, mask=mask)[0], expected)
    assert torch.allclose(layer.strength * layer.p, layer.weight)


def test_bernoulli_mask_rate_matches_p():
    layer = BernoulliLinear(200, 100, p_init=0.3)
    assert abs(layer.sample_mask().mean().item() - 0.3) < 0.01


def test_bernoulli_per_example_masks_differ():
    layer = BernoulliLinear(50, 20, p_init=0.5, mask_per="example")
    x = torch.ones(2, 50)
    y = layer(x)
    assert not torch.allclose(y[0], y[1])


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bernoulli_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BernoulliLinear(3, 2, p_init=p)


def test_bernoulli_shape_errors():
    layer = BernoulliLinear(3, 2)
    with pytest.raises(ValueError, match="last dimension 3"):
        layer(torch.ones(4, 5))
    with pytest.raises(ValueError, match="shape"):
        layer.set_release_probability(torch.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="mask"):
        layer(torch.ones(1, 3), mask=torch.ones(3, 3))


def test_gaussian_sigma_init_and_softplus_inverse():
    layer = GaussianLinear(10, 4, sigma_init=1e-4)
    assert torch.allclose(layer.sigma, torch.full((4, 10), 1e-4), rtol=1e-3)
    s = torch.tensor([1e-6, 0.1, 1.0, 30.0], dtype=torch.float64)
    assert torch.allclose(torch.nn.functional.softplus(inverse_softplus(s)), s, rtol=1e-9)


def test_gaussian_reparameterisation_gradients():
    layer = GaussianLinear(3, 2, sigma_init=0.5).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    eps = torch.randn(2, 3, dtype=torch.float64)
    layer(x, noise=eps).sum().backward()
    # d/dmu sum(x (mu + sigma eps)^T) = sum_b x_b ; d/dphi = sum_b x_b * eps * sigmoid(phi)
    assert torch.allclose(layer.weight.grad, x.sum(0).expand(2, 3))
    expected = x.sum(0) * eps * torch.sigmoid(layer.weight_rho.detach())
    assert torch.allclose(layer.weight_rho.grad, expected)


def test_gaussian_local_and_weight_noise_same_marginal():
    torch.manual_seed(0)
    w = GaussianLinear(6, 1, sigma_init=0.3, noise="weight")
    l = GaussianLinear(6, 1, sigma_init=0.3, noise="local")
    l.load_state_dict(w.state_dict())
    x = torch.randn(1, 6)
    a = torch.stack([w(x) for _ in range(20000)]).flatten()
    b = l(x.expand(20000, 6)).flatten()
    assert abs(a.mean() - b.mean()) < 0.02 and abs(a.std() / b.std() - 1) < 0.03
    assert abs(a.std().item() - (0.3 * x.norm()).item()) < 0.03 * (0.3 * x.norm()).item()


def test_gaussian_bad_inputs():
    with pytest.raises(ValueError, match="sigma_init"):
        GaussianLinear(3, 2, sigma_init=0.0)
    with pytest.raises(ValueError, match="sigma_init"):
        GaussianLinear(3, 2, sigma_init=-1.0)
    layer = GaussianLinear(3, 2)
    with pytest.raises(ValueError, match="noise must have shape"):
        layer(torch.ones(1, 3), noise=torch.ones(3, 2))
    with pytest.raises(ValueError, match="> 0"):
        layer.set_sigma(-0.1)


def test_mlp_builder_shapes_and_layers():
    net = mlp([784, 200, 200, 10], BernoulliLinear)
    assert len(synapse_layers(net)) == 3 and isinstance(net[1], nn.ReLU)
    assert net(torch.zeros(2, 784)).shape == (2, 10)
    g = mlp([12, 20, 10], GaussianLinear, activation=nn.Sigmoid, bias=True, mu_init=(-0.1, 0.1))
    assert g[0].weight.abs().max() <= 0.1 and g[0].bias is not None
    with pytest.raises(ValueError):
        mlp([10])
