r"""Experiments and small worked problems of the Foundations part.

* ``foundations_information`` — a deterministic, bias-free ReLU MLP trained on Fashion-MNIST
  with SGD for a range of L2 strengths; each unit records test accuracy, the mutual
  information :math:`I(Y;Z)` between labels and outputs (hard and soft, bits), and the
  synaptic energy :math:`\sum|\bar w|` (Schug et al. 2021, Fig. 1a, for the deterministic
  network only). Units: one L2 strength × one seed.
* A toy classification problem for the *Curvature toolkit* chapter: a small teacher network
  whose softmax generates the labels (so a student of the same shape is *well specified*),
  a full-batch fit to a tight minimum, and the curvature matrices that chapter compares —
  empirical Fisher, model ("true") Fisher and generalised Gauss–Newton — built from
  :mod:`synlab.curvature`'s per-example gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from ..curvature import per_example_gradients
from ..data import prepare_dataset
from ..device import default_device
from ..information import joint_from_predictions, mutual_information_from_joint, synaptic_energy
from ..synapses import mlp
from . import Experiment, register

__all__ = [
    "InformationConfig",
    "information_config",
    "information_units",
    "run_information_unit",
    "train_classifier",
    "evaluate_information",
    "teacher_network",
    "toy_classification",
    "fit_full_batch",
    "fisher_matrices",
    "gauss_newton_matrix",
]


# =============================================================================== information
@dataclass(frozen=True)
class InformationConfig:
    """Config of ``foundations_information`` (defaults: the ``full`` profile).

    The L2 sweep, learning rate, batch size and seeds follow Schug et al.'s energy experiment
    (authors' code, ``exp_energy.sh``: SGD lr 0.05, batch 100, weight decay
    {0, 0.001, 0.005, 0.01, 0.05, 0.1}, seeds 2019–2021); the network is smaller than their
    784-200-200-10 and the data set is Fashion-MNIST rather than MNIST (full MNIST is not
    available offline here), so the numbers are not theirs.
    """

    sizes: tuple[int, ...] = (
        784,
        100,
        10,
    )  # one hidden layer of 100 ReLUs, no biases (this book's choice)
    lr: float = 0.05  # Schug et al. code, exp_energy.sh
    batch_size: int = 100  # Schug et al. code
    epochs: int = 20  # fewer than the paper's 50: the curve's shape is settled by then
    l2_values: tuple[float, ...] = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1)  # Schug et al. code
    seeds: tuple[int, ...] = (2019, 2020, 2021)  # Schug et al. code
    dataset: str = "fashion_mnist"
    n_train: int | None = None  # None = the whole training set (60,000)
    n_test: int | None = None  # None = the whole test set (10,000)
    subsample_seed: int = 0

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or self.sizes[0] != 784 or self.sizes[-1] != 10:
            raise ValueError(f"sizes must go from 784 inputs to 10 classes; got {self.sizes}")
        if not self.lr > 0 or self.batch_size < 1 or self.epochs < 1:
            raise ValueError(
                f"need lr > 0, batch_size >= 1, epochs >= 1; got {self.lr}, {self.batch_size}, {self.epochs}"
            )
        if not self.l2_values or any(v < 0 for v in self.l2_values):
            raise ValueError(
                f"l2_values must be a non-empty tuple of numbers >= 0; got {self.l2_values}"
            )
        if not self.seeds:
            raise ValueError("seeds must not be empty")


def information_config(profile: str) -> InformationConfig:
    """``full``: whole Fashion-MNIST, 20 epochs, 6 L2 values × 3 seeds; ``quick``: ≤ 30 s on 2 cores."""
    if profile == "full":
        return InformationConfig()
    if profile == "quick":
        return InformationConfig(
            epochs=2, l2_values=(0.0, 0.005, 0.05, 0.1), seeds=(2019,), n_train=5000, n_test=2000
        )
    raise ValueError(f"unknown profile {profile!r}; choose 'quick' or 'full'")


def information_units(config: InformationConfig) -> list[dict]:
    """One unit per (L2 strength, seed)."""
    return [{"l2": float(l2), "seed": int(s)} for l2 in config.l2_values for s in config.seeds]


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    l2: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    r"""Mini-batch SGD on the cross-entropy with L2 as weight decay, :math:`w \leftarrow w - \eta(\nabla\mathcal L + \lambda w)`.

    Returns the mean training loss of each epoch. Shuffling is seeded by ``seed``.
    """
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0; got {l2}")
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=l2)
    g = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g).to(y.device)
        total = 0.0
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(y))
    return losses


@torch.no_grad()
def evaluate_information(model: nn.Module, x: Tensor, y: Tensor, n_classes: int = 10) -> dict:
    r"""Accuracy, :math:`I(Y;Z)` (bits) for hard (arg-max) and soft (softmax, Schug et al.) outputs, energy.

    Returns a dict with ``accuracy``, ``mi_hard_bits``, ``mi_soft_bits``, ``energy``
    (:math:`\sum|\bar w|`), ``energy_per_bit`` (energy / soft MI; ``inf`` when the MI is 0),
    ``label_entropy_bits`` (the ceiling :math:`H(Y)`) and the hard joint table ``confusion``.
    """
    model.eval()
    probs = torch.softmax(model(x).double(), dim=1).cpu()
    labels = y.cpu()
    pred = probs.argmax(dim=1)
    joint_hard = joint_from_predictions(labels, pred, n_classes=n_classes)
    joint_soft = joint_from_predictions(labels, probs, n_classes=n_classes)
    mi_hard = mutual_information_from_joint(joint_hard)
    mi_soft = mutual_information_from_joint(joint_soft)
    energy = float(synaptic_energy(model).detach())
    py = joint_hard.sum(dim=1)
    h_y = float(-(py[py > 0] * torch.log2(py[py > 0])).sum())
    return {
        "accuracy": float((pred == labels).double().mean()),
        "mi_hard_bits": mi_hard,
        "mi_soft_bits": mi_soft,
        "energy": energy,
        "energy_per_bit": energy / mi_soft if mi_soft > 0 else math.inf,
        "label_entropy_bits": h_y,
        "confusion": joint_hard.numpy(),
    }


def run_information_unit(config: InformationConfig, unit: dict) -> dict:
    """Train one network (``unit = {"l2", "seed"}``) and measure information and energy on the test set."""
    device = default_device()
    ds = prepare_dataset(
        config.dataset, n_train=config.n_train, n_test=config.n_test, seed=config.subsample_seed
    ).to(device)
    torch.manual_seed(unit["seed"])
    model = mlp(config.sizes, nn.Linear, activation=nn.ReLU, bias=False).to(device)
    losses = train_classifier(
        model,
        ds.x_train,
        ds.y_train,
        lr=config.lr,
        l2=unit["l2"],
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=unit["seed"],
    )
    out = evaluate_information(model, ds.x_test, ds.y_test, n_classes=config.sizes[-1])
    out["train_loss"] = losses
    out["n_synapses"] = int(sum(p.numel() for p in model.parameters()))
    out["data_source"] = ds.source
    return out


INFORMATION = register(
    Experiment(
        name="foundations_information",
        description="Information I(Y;Z) vs synaptic energy of a deterministic bias-free ReLU MLP on Fashion-MNIST "
        "across L2 strengths (shape of Schug et al. 2021 Fig. 1a, deterministic network)",
        make_config=information_config,
        units=information_units,
        run_unit=run_information_unit,
        part="foundations",
    )
)


# =============================================================================== curvature toys
def teacher_network(
    sizes: tuple[int, ...] = (4, 8, 3), *, seed: int = 0, scale: float = 2.0
) -> nn.Sequential:
    """A float64 tanh MLP with biases, weights ~ N(0, scale²/fan_in): logits of a teacher (or a student)."""
    g = torch.Generator().manual_seed(seed)
    net = mlp(sizes, nn.Linear, activation=nn.Tanh, bias=True).double()
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=g, dtype=torch.float64)
                    * scale
                    / math.sqrt(layer.in_features)
                )
                layer.bias.copy_(
                    0.5 * torch.randn(layer.bias.shape, generator=g, dtype=torch.float64)
                )
    return net


@torch.no_grad()
def toy_classification(teacher: nn.Module, n: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    r"""``n`` inputs :math:`x\sim\mathcal N(0, I)` and labels *sampled* from the teacher, :math:`y\sim\mathrm{softmax}(f(x))`.

    Sampling the labels (rather than taking the arg-max) makes a student of the teacher's
    shape a well-specified model of the data: the teacher is its population optimum.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    first = next(m for m in teacher.modules() if isinstance(m, nn.Linear))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, first.in_features, generator=g, dtype=torch.float64)
    probs = torch.softmax(teacher(x), dim=1)
    y = torch.multinomial(probs, 1, generator=g).squeeze(1)
    return x, y


def fit_full_batch(
    model: nn.Module, x: Tensor, y: Tensor, *, max_iter: int = 500, tol: float = 1e-10
) -> float:
    r"""Minimise the mean cross-entropy over the whole batch with L-BFGS; returns the final :math:`\lVert\nabla\mathcal L\rVert`."""
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-14,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    norm = math.sqrt(sum(float((p.grad**2).sum()) for p in model.parameters()))
    opt.zero_grad(set_to_none=True)
    return norm


def _flat_per_example(grads: dict[str, Tensor]) -> Tensor:
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)


def fisher_matrices(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    r"""Empirical and model Fisher matrices (parameters in ``flatten_loss`` order).

    With :math:`g_n(c) = \nabla_\theta\log\operatorname{softmax}(f_\theta(x_n))_c` and
    :math:`\pi_{nc}` the model's probability of class :math:`c`:

    .. math::
        \hat{\mathcal F} = \frac1N\sum_n g_n(y_n)g_n(y_n)^\top \;\text{(empirical: the data's labels)},\qquad
        \mathcal F = \frac1N\sum_n\sum_c \pi_{nc}\, g_n(c)g_n(c)^\top \;\text{(model: labels drawn from the model)}.

    The expectation over :math:`c` is taken exactly (all classes), not by sampling.
    """
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    n, n_classes = probs.shape
    g_emp = _flat_per_example(per_example_gradients(model, x, y, randomness="error"))
    empirical = g_emp.T @ g_emp / n
    fisher = torch.zeros_like(empirical)
    for c in range(n_classes):
        gc = _flat_per_example(
            per_example_gradients(model, x, torch.full_like(y, c), randomness="error")
        )
        fisher += (gc * probs[:, c : c + 1]).T @ gc / n
    return {"empirical": empirical.detach(), "model": fisher.detach()}


def gauss_newton_matrix(model: nn.Module, x: Tensor) -> Tensor:
    r"""Generalised Gauss–Newton matrix of the mean softmax cross-entropy.

    .. math:: G = \frac1N\sum_n J_n^\top\big(\operatorname{diag}\pi_n - \pi_n\pi_n^\top\big)J_n,
              \qquad J_n = \partial f_\theta(x_n)/\partial\theta,

    the Hessian with the network linearised (the second derivatives of the logits dropped).
    For the softmax cross-entropy it equals the model Fisher exactly (Martens 2020).
    """
    params = {k: v.detach() for k, v in model.named_parameters()}

    def logits(p: dict[str, Tensor], xi: Tensor) -> Tensor:
        return functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0)

    jac = vmap(jacrev(logits), in_dims=(None, 0))(params, x)  # name -> (N, C, *shape)
    J = torch.cat([j.reshape(j.shape[0], j.shape[1], -1) for j in jac.values()], dim=2)  # (N, C, P)
    with torch.no_grad():
        pi = torch.softmax(model(x), dim=1)
    h_out = torch.diag_embed(pi) - pi.unsqueeze(2) * pi.unsqueeze(1)  # (N, C, C)
    return torch.einsum("ncp,ncd,ndq->pq", J, h_out, J).detach() / x.shape[0]
