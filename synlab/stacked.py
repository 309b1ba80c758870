r"""K bias-free ReLU networks with Bernoulli (or deterministic) synapses, trained as one stack.

The sweeps of Schug et al. (2021) train the same network many times (ℓ2 strengths × seeds).
:func:`train_stacked` runs :func:`synlab.training.train_classifier` for K such networks at once:
each layer's weights are a ``(K, out, in)`` tensor and every step is one batched matmul per
layer (``torch.bmm``), so a GPU sees K times the work per kernel.

Each member keeps its own randomness, drawn exactly as its solo run would draw it: a shuffling
generator and a release-mask generator both seeded with the member's seed, the masks drawn
layer by layer in the solo order. On the CPU the member therefore follows its solo trajectory
(up to the summation order of the batched matmul; tested in float64). On a GPU the mask
generator lives on the device and the streams differ from the CPU's, so members then match
solo runs in distribution.

Per member: learning rate, weight decay (ℓ2 added to the gradient, as ``torch.optim.SGD``
does), seed. Shared: architecture, data, batch size, epochs, and the release-probability rule.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rules import PresynapticRule, apply_release_rule
from .synapses import BernoulliLinear, mlp, release_mask, transmitted_weight
from .training import TrainHistory, _check_xy, _split_data

__all__ = ["StackedMLP", "train_stacked"]


class StackedMLP(nn.Module):
    """K bias-free ReLU MLPs of one architecture, weights stacked as ``(K, out, in)`` per layer.

    Build it from solo networks with :meth:`from_models` (each an ``nn.Sequential`` of bias-free
    :class:`~synlab.synapses.BernoulliLinear` or ``nn.Linear`` layers and ReLUs, as
    :func:`synlab.synapses.mlp` makes), train it with :func:`train_stacked`, and get the trained
    solo networks back with :meth:`to_models`. Deterministic stacks have ``p = None``.
    """

    def __init__(self, weights: Sequence[Tensor], ps: Sequence[Tensor] | None = None) -> None:
        super().__init__()
        if not weights:
            raise ValueError("need at least one layer")
        K = weights[0].shape[0]
        for i, w in enumerate(weights):
            if w.dim() != 3 or w.shape[0] != K:
                raise ValueError(
                    f"layer {i}: weights must have shape (K={K}, out, in); got {tuple(w.shape)}"
                )
            if i and w.shape[2] != weights[i - 1].shape[1]:
                raise ValueError(
                    f"layer {i} takes {w.shape[2]} inputs but layer {i - 1} gives {weights[i - 1].shape[1]}"
                )
        self.weights = nn.ParameterList([nn.Parameter(w.detach().clone()) for w in weights])
        self.stochastic = ps is not None
        if ps is not None:
            if len(ps) != len(weights) or any(p.shape != w.shape for p, w in zip(ps, weights)):
                raise ValueError(
                    "need one release-probability tensor per layer, shaped like its weights"
                )
            if any(bool(((p < 0) | (p > 1)).any()) for p in ps):
                raise ValueError("release probabilities must lie in [0, 1]")
            for i, p in enumerate(ps):
                self.register_buffer(f"p{i}", p.detach().clone())

    @property
    def K(self) -> int:
        return self.weights[0].shape[0]

    @property
    def ps(self) -> list[Tensor]:
        return [getattr(self, f"p{i}") for i in range(len(self.weights))] if self.stochastic else []

    @classmethod
    def from_models(cls, models: Sequence[nn.Module]) -> StackedMLP:
        """Stack solo networks (same architecture; all Bernoulli or all deterministic, bias-free)."""
        if not models:
            raise ValueError("need at least one model")
        layers = [
            [m for m in model.modules() if isinstance(m, (BernoulliLinear, nn.Linear))]
            for model in models
        ]
        kinds = {tuple(type(m) for m in ls) for ls in layers}
        shapes = {tuple(tuple(m.weight.shape) for m in ls) for ls in layers}
        if len(kinds) != 1 or len(shapes) != 1:
            raise ValueError("all models must have the same layers and shapes")
        first = layers[0]
        if len({type(m) for m in first}) != 1:
            raise ValueError(
                "mixing Bernoulli and deterministic layers in one network is not supported"
            )
        if any(m.bias is not None for m in first):
            raise ValueError("StackedMLP stacks bias-free networks (as in Schug et al.)")
        for model in models:
            acts = [m for m in model.children() if not isinstance(m, (BernoulliLinear, nn.Linear))]
            if any(not isinstance(a, nn.ReLU) for a in acts) or len(acts) != len(first) - 1:
                raise ValueError(
                    "StackedMLP expects Linear/ReLU stacks as built by synlab.synapses.mlp"
                )
        weights = [torch.stack([ls[i].weight.detach() for ls in layers]) for i in range(len(first))]
        ps = None
        if isinstance(first[0], BernoulliLinear):
            ps = [torch.stack([ls[i].p.detach() for ls in layers]) for i in range(len(first))]
        return cls(weights, ps)

    def to_models(self) -> list[nn.Sequential]:
        """The K members as solo networks (copies), Bernoulli layers if the stack is stochastic."""
        sizes = [self.weights[0].shape[2]] + [w.shape[1] for w in self.weights]
        out = []
        for k in range(self.K):
            model = mlp(sizes, BernoulliLinear) if self.stochastic else mlp(sizes)
            model = model.to(device=self.weights[0].device, dtype=self.weights[0].dtype)
            layers = [m for m in model.modules() if isinstance(m, (BernoulliLinear, nn.Linear))]
            with torch.no_grad():
                for i, layer in enumerate(layers):
                    layer.weight.copy_(self.weights[i][k])
                    if self.stochastic:
                        layer.p.copy_(self.ps[i][k])
            out.append(model)
        return out

    def sample_masks(self, generators: Sequence[torch.Generator] | None = None) -> list[Tensor]:
        """One release mask per member and layer, drawn member by member from its generator."""
        if not self.stochastic:
            return []
        masks = []
        for p in self.ps:
            if generators is None:
                u = torch.rand(p.shape, device=p.device, dtype=p.dtype)
            else:
                u = torch.stack(
                    [
                        torch.rand(p.shape[1:], device=p.device, dtype=p.dtype, generator=g)
                        for g in generators
                    ]
                )
            masks.append(release_mask(u, p, self.weights[0].dtype))
        return masks

    def forward(self, x: Tensor, masks: Sequence[Tensor] | None = None) -> Tensor:
        """Logits ``(K, B, C)`` for inputs ``(K, B, in)`` (or ``(B, in)``, shared by all members).

        With ``masks`` (one ``(K, out, in)`` tensor per layer) the members transmit through those
        release patterns; without, a stochastic stack draws fresh masks in training mode and uses
        the mean weights in eval mode.
        """
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, *x.shape)
        if x.dim() != 3 or x.shape[0] != self.K or x.shape[2] != self.weights[0].shape[2]:
            raise ValueError(
                f"inputs must have shape (K={self.K}, B, {self.weights[0].shape[2]}) or "
                f"(B, {self.weights[0].shape[2]}); got {tuple(x.shape)}"
            )
        if masks is None and self.stochastic and self.training:
            masks = self.sample_masks()
        h = x
        for i, w in enumerate(self.weights):
            if masks:
                p = self.ps[i]
                w = transmitted_weight(masks[i], w, p)
            h = torch.bmm(h, w.transpose(1, 2))
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h


def _per_member(value, K: int, name: str) -> list[float]:
    vals = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)] * K
    if len(vals) != K:
        raise ValueError(f"{name}: need one value per member (K = {K}); got {len(vals)}")
    return vals


def train_stacked(
    model: StackedMLP,
    data,
    *,
    epochs: int,
    seeds: Sequence[int],
    batch_size: int = 100,
    lr: float | Sequence[float] = 0.05,
    weight_decay: float | Sequence[float] = 0.0,
    rule: PresynapticRule | None = None,
    device: torch.device | str | None = None,
) -> list[TrainHistory]:
    """Train the K members of ``model`` in place, each as ``train_classifier(member, seed=seeds[k])``.

    Mini-batch SGD on each member's mean cross-entropy, ``weight_decay`` added to the gradient,
    the release-probability ``rule`` (if given; stochastic stacks only) applied to each member's
    gradient before the SGD step, as in :func:`synlab.training.train_classifier`. Returns one
    :class:`~synlab.training.TrainHistory` per member; their ``wall_time_s`` is the stack's
    wall time divided by K.
    """
    K = model.K
    if len(seeds) != K:
        raise ValueError(f"need one seed per member (K = {K}); got {len(seeds)}")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs}")
    if int(batch_size) != batch_size or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    lrs, wds = _per_member(lr, K, "lr"), _per_member(weight_decay, K, "weight_decay")
    if any(not v > 0 for v in lrs) or any(v < 0 for v in wds):
        raise ValueError(f"need lr > 0 and weight_decay >= 0 for every member; got {lrs}, {wds}")
    if rule is not None and not model.stochastic:
        raise ValueError("a release-probability rule needs a stochastic (Bernoulli) stack")
    from .device import default_device

    dev = torch.device(device) if device is not None else default_device()
    x, y, _, _ = _split_data(data)
    _check_xy(x, y, "training data")
    x, y = x.to(dev), y.to(dev)
    model.to(dev)
    dtype = model.weights[0].dtype
    lr_t = torch.tensor(lrs, device=dev, dtype=dtype).view(K, 1, 1)
    wd_t = torch.tensor(wds, device=dev, dtype=dtype).view(K, 1, 1)
    shufflers = [torch.Generator().manual_seed(int(s)) for s in seeds]
    maskers = (
        [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
        if model.stochastic
        else None
    )
    hists = [TrainHistory() for _ in range(K)]
    n = x.shape[0]
    t0 = time.perf_counter()
    model.train()
    for _ in range(int(epochs)):
        perm = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(dev)  # (K, n)
        tot_loss = torch.zeros(K, device=dev)
        tot_correct = torch.zeros(K, device=dev)
        for start in range(0, n, batch_size):
            idx = perm[:, start : start + batch_size]
            xb, yb = x[idx], y[idx]  # (K, B, D), (K, B)
            for w in model.weights:
                w.grad = None
            logits = model(xb, model.sample_masks(maskers))
            losses = F.cross_entropy(logits.transpose(1, 2), yb, reduction="none").mean(1)  # (K,)
            losses.sum().backward()
            with torch.no_grad():
                for i, w in enumerate(model.weights):
                    g = w.grad
                    if rule is not None:
                        p = model.ps[i]
                        new_p, g = apply_release_rule(
                            p, g, rule, consolidate=rule.consolidate, check=True
                        )
                        p.copy_(new_p)
                    w.sub_(lr_t * (g + wd_t * w))
            tot_loss += losses.detach() * idx.shape[1]
            tot_correct += (logits.detach().argmax(2) == yb).sum(1)
        for k in range(K):
            hists[k].steps += -(-n // batch_size)
            hists[k].loss.append(float(tot_loss[k]) / n)
            hists[k].train_accuracy.append(float(tot_correct[k]) / n)
            hists[k].mean_p.append(
                float(torch.cat([p[k].flatten() for p in model.ps]).mean())
                if model.stochastic
                else float("nan")
            )
    wall = time.perf_counter() - t0
    for h in hists:
        h.wall_time_s = wall / K
    return hists
