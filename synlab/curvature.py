r"""Curvature of a loss surface: gradients, Hessian-vector products, traces,
eigenpairs and the diagonal empirical Fisher.

Most functions here act on a scalar function :math:`F:\mathbb{R}^n\to\mathbb{R}`
of **one flat parameter vector** :math:`\theta`, so the same code serves a 2-D
quadratic in a chapter and a neural network (turned into such a function with
:func:`flatten_loss`). Everything is built on :mod:`torch.func`:

* :func:`hvp` computes :math:`\nabla^2 F(\theta)\,v` forward-over-reverse,
  i.e. as the directional derivative of the gradient,
  :math:`\frac{d}{d\epsilon}\nabla F(\theta+\epsilon v)\big|_{\epsilon=0}`
  (Pearlmutter 1994), without forming the Hessian.
* :func:`curvature_along` is the curvature operator
  :math:`Q_\theta[v] = \hat v^\top \nabla^2 F(\theta)\,\hat v`,
  :math:`\hat v = v/\lVert v\rVert`, used by Raman & O'Leary (2021) to relate
  synaptic noise to the flatness of the loss along the noise direction.
* :func:`hutchinson_trace` and :func:`hutchinson_diag` are the randomised
  estimators :math:`\operatorname{tr} H = \mathbb{E}[v^\top H v]` and
  :math:`\operatorname{diag} H = \mathbb{E}[v\odot Hv]` for probes with
  :math:`\mathbb{E}[vv^\top]=I` (Hutchinson 1989; Bekas, Kokiopoulou & Saad 2007).
* :func:`top_eigenpairs` runs the implicitly restarted Lanczos method of ARPACK
  (``scipy.sparse.linalg.eigsh``) on a linear operator that only performs HVPs.
* :func:`empirical_fisher_diag` is the diagonal of the empirical Fisher
  :math:`\frac1N\sum_n \nabla_\theta \log p(y_n|x_n)^{\odot 2}` from per-example
  gradients (``vmap`` over ``grad``); it works for layers that sample noise in
  ``forward`` (Kirkpatrick et al. 2017 use this diagonal for EWC; Schug et al.
  2021 relate it to synaptic reliability).

References
----------
* B. A. Pearlmutter (1994). Fast exact multiplication by the Hessian.
  *Neural Computation* 6(1):147-160.
* M. F. Hutchinson (1989). A stochastic estimator of the trace of the influence
  matrix for Laplacian smoothing splines. *Commun. Stat. Simul. Comput.* 18(3).
* C. Bekas, E. Kokiopoulou, Y. Saad (2007). An estimator for the diagonal of a
  matrix. *Applied Numerical Mathematics* 57(11-12):1214-1229.
* R. B. Lehoucq, D. C. Sorensen, C. Yang (1998). *ARPACK Users' Guide*. SIAM.
* D. V. Raman, T. O'Leary (2021). Frozen algorithms: how the brain's wiring
  facilitates learning. *Current Opinion in Neurobiology* 67:207-214; and
  D. V. Raman, A. P. Rotondo, T. O'Leary (2019). Fundamental bounds on learning
  performance in neural circuits. *PNAS* 116(21):10537-10546.
* J. Kirkpatrick et al. (2017). Overcoming catastrophic forgetting in neural
  networks. *PNAS* 114(13):3521-3526.
* S. Schug, F. Benzing, A. Steger (2021). Presynaptic stochasticity improves
  energy efficiency and helps alleviate the stability-plasticity dilemma.
  *eLife* 10:e69884.
* F. Kunstner, L. Balles, P. Hennig (2019). Limitations of the empirical Fisher
  approximation for natural gradient descent. *NeurIPS*.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, jacrev, jvp, vmap

from .synapses import synapse_layers

__all__ = [
    "TraceEstimate",
    "flatten_loss",
    "unflatten",
    "gradient",
    "hvp",
    "hessian",
    "hessian_diag",
    "curvature_along",
    "hutchinson_probes",
    "hutchinson_trace",
    "hutchinson_diag",
    "top_eigenpairs",
    "per_example_gradients",
    "empirical_fisher_diag",
    "squared_gradient_sum",
]

ScalarFn = Callable[[Tensor], Tensor]

_DISTRIBUTIONS = ("rademacher", "normal")
_RANDOMNESS = ("different", "same", "error")
_FISHER_LOSSES = ("nll", "mse")


class TraceEstimate(NamedTuple):
    r"""Result of :func:`hutchinson_trace`.

    Attributes:
        mean: the estimate :math:`\frac1S\sum_s v_s^\top H v_s` (0-dim tensor).
        stderr: its standard error :math:`\hat\sigma/\sqrt{S}` with
            :math:`\hat\sigma` the sample standard deviation of the
            :math:`v_s^\top H v_s` (0-dim tensor).
        n_samples: the number :math:`S` of probe vectors.
    """

    mean: Tensor
    stderr: Tensor
    n_samples: int


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------


def _check_theta(theta: Tensor) -> None:
    if not isinstance(theta, Tensor):
        raise ValueError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if theta.dim() != 1:
        raise ValueError(
            f"theta must be a flat 1-D parameter vector, got shape {tuple(theta.shape)}; "
            "use flatten_loss() to turn a model into a function of one vector"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must have a floating dtype, got {theta.dtype}")


def _check_vector(theta: Tensor, v: Tensor, name: str = "v") -> None:
    if not isinstance(v, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if v.shape != theta.shape:
        raise ValueError(
            f"{name} must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}"
        )


def _check_positive_int(value: int, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_distribution(distribution: str) -> None:
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}")


def _grad_fn(f: ScalarFn) -> ScalarFn:
    """Gradient function used inside forward-over-reverse products.

    ``jacrev`` rather than ``grad``: with torch 2.14, ``jvp(grad(f))`` fails
    ("ZeroTensors are immutable") when ``f`` contains
    ``mse_loss(reduction="mean")``; ``jacrev`` of a scalar function gives the
    same gradient and does not hit that path.
    """
    return jacrev(f)


def _quiet_jvp(*args, **kwargs):
    """``jvp`` without torch 2.14's spurious "`torch.jit.script` is deprecated" FutureWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        return jvp(*args, **kwargs)


def _hvp_single(g: ScalarFn, theta: Tensor, v: Tensor) -> Tensor:
    hv = _quiet_jvp(g, (theta,), (v,))[1]
    if hv.shape != theta.shape:
        raise ValueError(
            f"f must return a scalar; its derivative has shape {tuple(hv.shape)} "
            f"instead of theta's {tuple(theta.shape)}"
        )
    return hv


def _hvp_rows(f: ScalarFn, theta: Tensor, vs: Tensor, chunk_size: int | None) -> Tensor:
    """Hessian-vector products with every row of ``vs`` (``vmap`` over ``jvp``).

    ``f`` must be deterministic (``vmap`` refuses random operations).
    """
    g = _grad_fn(f)
    out = vmap(lambda u: _quiet_jvp(g, (theta,), (u,))[1], chunk_size=chunk_size)(vs)
    if out.shape != vs.shape:
        raise ValueError(
            f"f must return a scalar; got products of shape {tuple(out.shape)} "
            f"for directions of shape {tuple(vs.shape)}"
        )
    return out


def _probes(theta: Tensor, n: int, distribution: str, generator: torch.Generator | None) -> Tensor:
    """``n`` random probe rows with :math:`\\mathbb{E}[vv^\\top] = I`."""
    shape = (n, theta.numel())
    if distribution == "rademacher":
        bits = torch.randint(0, 2, shape, generator=generator, device=theta.device)
        return (2 * bits - 1).to(theta.dtype)
    return torch.randn(shape, generator=generator, device=theta.device, dtype=theta.dtype)


# ----------------------------------------------------------------------------
# models as functions of one flat vector
# ----------------------------------------------------------------------------


def _selected_parameters(model: nn.Module, names: Sequence[str] | None) -> list[tuple[str, Tensor]]:
    named = dict(model.named_parameters())
    if names is None:
        chosen = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not chosen:
            raise ValueError("model has no parameters with requires_grad=True")
        return chosen
    if isinstance(names, str):
        raise ValueError(f"params must be a sequence of parameter names, got the string {names!r}")
    names = list(names)
    if not names:
        raise ValueError("params must name at least one parameter")
    unknown = [n for n in names if n not in named]
    if unknown:
        raise ValueError(f"unknown parameter name(s) {unknown}; the model has {list(named)}")
    if len(set(names)) != len(names):
        raise ValueError(f"params contains duplicate names: {names}")
    return [(n, named[n]) for n in names]


def unflatten(
    model: nn.Module, theta: Tensor, names: Sequence[str] | None = None
) -> dict[str, Tensor]:
    r"""Split a flat vector into per-parameter tensors shaped like ``model``'s.

    Inverse of the concatenation
    :math:`\theta = [\operatorname{vec}(W_1); \operatorname{vec}(b_1); \dots]`
    used by :func:`flatten_loss`. The returned tensors are views of ``theta``, so
    gradients flow through them.

    Args:
        model: the module whose parameter shapes are used.
        theta: 1-D tensor with as many entries as the chosen parameters.
        names: parameter names in the order in which they were concatenated;
            default: all ``requires_grad`` parameters in ``named_parameters()`` order.

    Returns:
        ``{name: tensor}`` with each tensor of its parameter's shape.

    Raises:
        ValueError: if ``theta`` is not 1-D or its length does not match.
    """
    _check_theta(theta)
    chosen = _selected_parameters(model, names)
    sizes = [p.numel() for _, p in chosen]
    total = sum(sizes)
    if theta.numel() != total:
        raise ValueError(
            f"theta has {theta.numel()} entries but the chosen parameters have {total}"
        )
    pieces = torch.split(theta, sizes)
    return {n: piece.view(p.shape) for (n, p), piece in zip(chosen, pieces)}


def flatten_loss(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    inputs: Tensor,
    targets: Tensor,
    *,
    params: Sequence[str] | None = None,
) -> tuple[ScalarFn, Tensor]:
    r"""Turn ``loss_fn(model(inputs), targets)`` into a function of one flat vector.

    .. math::
        F(\theta) = \ell\big(f_{\theta}(X),\, Y\big),\qquad
        \theta_0 = [\operatorname{vec}(p_1); \dots; \operatorname{vec}(p_m)]

    where :math:`p_1,\dots,p_m` are the chosen parameters. Parameters that are
    not chosen and all buffers keep their current values (``functional_call``).

    Args:
        model: the network.
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar.
        inputs: the batch passed to ``model``.
        targets: the targets passed to ``loss_fn``.
        params: names of the parameters to vary; default: every parameter with
            ``requires_grad=True``, in ``named_parameters()`` order.

    Returns:
        ``(f, theta0)``: ``f(theta)`` evaluates the loss, ``theta0`` is a detached
        copy of the current parameter values.

    Raises:
        ValueError: on unknown parameter names or a model without trainable parameters.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise ValueError("loss_fn must be callable as loss_fn(outputs, targets)")
    chosen = _selected_parameters(model, params)
    names = [n for n, _ in chosen]
    theta0 = torch.cat([p.detach().reshape(-1) for _, p in chosen]).clone()

    def f(theta: Tensor) -> Tensor:
        return loss_fn(functional_call(model, unflatten(model, theta, names), (inputs,)), targets)

    return f, theta0


# ----------------------------------------------------------------------------
# derivatives
# ----------------------------------------------------------------------------


def gradient(f: ScalarFn, theta: Tensor) -> Tensor:
    r"""Gradient :math:`\nabla F(\theta)` of a scalar function of a flat vector."""
    _check_theta(theta)
    return grad(f)(theta)


def hvp(f: ScalarFn, theta: Tensor, v: Tensor) -> Tensor:
    r"""Hessian-vector product :math:`\nabla^2 F(\theta)\,v`, forward-over-reverse.

    .. math::
        \nabla^2 F(\theta)\,v = \frac{d}{d\epsilon}
        \nabla F(\theta + \epsilon v)\Big|_{\epsilon=0}

    computed as a ``jvp`` (forward mode) of the reverse-mode gradient, at a cost
    of a small multiple of one gradient and without forming the Hessian.

    Raises:
        ValueError: if ``v`` does not have the shape of ``theta`` or ``f`` is not scalar.
    """
    _check_theta(theta)
    _check_vector(theta, v)
    return _hvp_single(_grad_fn(f), theta, v.to(theta.dtype))


def hessian(f: ScalarFn, theta: Tensor, *, max_dim: int = 5000) -> Tensor:
    r"""Dense Hessian :math:`\nabla^2 F(\theta) \in \mathbb{R}^{n\times n}`.

    Uses ``torch.func.hessian`` (``jacfwd(jacrev(f))``). Memory grows as
    :math:`n^2`, so this is for small problems only.

    Raises:
        ValueError: if :math:`n` exceeds ``max_dim``.
    """
    _check_theta(theta)
    _check_positive_int(max_dim, "max_dim")
    n = theta.numel()
    if n > max_dim:
        raise ValueError(
            f"dense Hessian refused: theta has n={n} entries > max_dim={max_dim} "
            f"(would need an {n}x{n} matrix); use hvp, top_eigenpairs or "
            "hutchinson_trace instead, or raise max_dim"
        )
    with warnings.catch_warnings():  # torch 2.14's spurious torch.jit.script FutureWarning
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        return torch.func.hessian(f)(theta)


def hessian_diag(
    f: ScalarFn, theta: Tensor, *, max_dim: int = 5000, chunk_size: int | None = 64
) -> Tensor:
    r"""Exact diagonal :math:`H_{ii} = e_i^\top \nabla^2 F(\theta)\, e_i`.

    Computed from :math:`n` HVPs with the unit vectors :math:`e_i`, batched
    ``chunk_size`` at a time, so memory stays :math:`O(\text{chunk}\cdot n)`;
    time is :math:`n` HVPs, so this is for small problems only.

    Raises:
        ValueError: if :math:`n` exceeds ``max_dim``.
    """
    _check_theta(theta)
    _check_positive_int(max_dim, "max_dim")
    if chunk_size is not None:
        _check_positive_int(chunk_size, "chunk_size")
    n = theta.numel()
    if n > max_dim:
        raise ValueError(
            f"exact Hessian diagonal refused: n={n} > max_dim={max_dim} "
            "(needs n HVPs); use hutchinson_diag or raise max_dim"
        )
    step = n if chunk_size is None else chunk_size
    pieces = []
    for start in range(0, n, step):
        idx = torch.arange(start, min(start + step, n), device=theta.device)
        basis = torch.zeros(len(idx), n, dtype=theta.dtype, device=theta.device)
        basis[torch.arange(len(idx)), idx] = 1.0
        pieces.append(_hvp_rows(f, theta, basis, None)[torch.arange(len(idx)), idx])
    return torch.cat(pieces).detach()


def curvature_along(
    f: ScalarFn, theta: Tensor, v: Tensor, *, chunk_size: int | None = 64
) -> Tensor:
    r"""Curvature of :math:`F` along direction(s) ``v``.

    .. math::
        Q_\theta[v] = \hat v^\top \nabla^2 F(\theta)\,\hat v,
        \qquad \hat v = \frac{v}{\lVert v\rVert},

    the curvature operator of Raman & O'Leary (2021): the second derivative of
    :math:`F` along the unit direction :math:`\hat v`.

    Args:
        f: scalar, deterministic function of a flat vector.
        theta: the point, shape ``(n,)``.
        v: one direction ``(n,)`` or a batch ``(k, n)`` (one per row).
        chunk_size: how many directions are pushed through ``vmap`` at once.

    Returns:
        a 0-dim tensor for one direction, a ``(k,)`` tensor for a batch.

    Raises:
        ValueError: for a wrong shape or a zero direction.
    """
    _check_theta(theta)
    if chunk_size is not None:
        _check_positive_int(chunk_size, "chunk_size")
    if not isinstance(v, Tensor):
        raise ValueError(f"v must be a torch.Tensor, got {type(v).__name__}")
    single = v.dim() == 1
    batch = v.unsqueeze(0) if single else v
    if batch.dim() != 2 or batch.shape[1] != theta.numel() or batch.shape[0] == 0:
        raise ValueError(
            f"v must have shape (n,) or (k, n) with n={theta.numel()} and k >= 1, "
            f"got {tuple(v.shape)}"
        )
    batch = batch.to(theta.dtype)
    norms = torch.linalg.vector_norm(batch, dim=1)
    if bool((norms == 0).any()):
        zero_rows = torch.nonzero(norms == 0).flatten().tolist()
        raise ValueError(
            f"curvature along a zero vector is undefined (zero direction at row(s) {zero_rows})"
        )
    units = batch / norms.unsqueeze(1)
    result = (units * _hvp_rows(f, theta, units, chunk_size)).sum(dim=1)
    return result[0] if single else result


# ----------------------------------------------------------------------------
# randomised estimators
# ----------------------------------------------------------------------------


def hutchinson_probes(
    f: ScalarFn,
    theta: Tensor,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
    distribution: str = "rademacher",
    chunk_size: int | None = 64,
) -> tuple[Tensor, Tensor]:
    r"""Random probes :math:`v_s` (rows of ``V``, :math:`\mathbb E[vv^\top] = I`) and their
    products :math:`H v_s` (rows of ``VH``): what :func:`hutchinson_trace` and
    :func:`hutchinson_diag` average.

    Args:
        f: scalar, deterministic function of a flat vector.
        theta: the point.
        n_samples: number of probes :math:`S`.
        generator: ``torch.Generator`` for reproducible probes (on ``theta``'s
            device); ``None`` uses the global generator.
        distribution: ``"rademacher"`` (:math:`\pm1`) or ``"normal"``.
        chunk_size: how many probes are pushed through ``vmap`` at once.

    Returns:
        ``(V, VH)``, each of shape ``(S, theta.numel())``.
    """
    _check_theta(theta)
    _check_distribution(distribution)
    if chunk_size is not None:
        _check_positive_int(chunk_size, "chunk_size")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    probes = _probes(theta, n_samples, distribution, generator)
    return probes, _hvp_rows(f, theta, probes, chunk_size)


def hutchinson_trace(f: ScalarFn, theta: Tensor, n_samples: int = 100, **probing) -> TraceEstimate:
    r"""Hutchinson's unbiased estimate of :math:`\operatorname{tr}\nabla^2 F(\theta)`.

    .. math::
        \operatorname{tr} H = \mathbb{E}_v[v^\top H v]
        \approx \frac1S \sum_{s=1}^S v_s^\top H v_s,
        \qquad \mathbb{E}[vv^\top] = I,

    with Rademacher (:math:`\pm1`, variance :math:`2\sum_{i\ne j}H_{ij}^2`
    per probe, the smallest possible) or standard normal probes
    (variance :math:`2\lVert H\rVert_F^2`). The standard error is the sample
    standard deviation of the :math:`v_s^\top H v_s` over :math:`\sqrt S`.

    Args:
        f, theta: as for :func:`hutchinson_probes`.
        n_samples: number of probes :math:`S \ge 2`.
        probing: ``generator``, ``distribution`` (default ``"rademacher"``) and ``chunk_size``
            of :func:`hutchinson_probes` (their one home, shared with :func:`hutchinson_diag`).

    Returns:
        :class:`TraceEstimate` ``(mean, stderr, n_samples)``.
    """
    _check_positive_int(n_samples, "n_samples", minimum=2)
    probes, products = hutchinson_probes(f, theta, n_samples, **probing)
    samples = (probes * products).sum(dim=1).detach()
    return TraceEstimate(samples.mean(), samples.std(correction=1) / n_samples**0.5, n_samples)


def hutchinson_diag(f: ScalarFn, theta: Tensor, n_samples: int = 100, **probing) -> Tensor:
    r"""Randomised estimate of the Hessian diagonal (Bekas et al. 2007).

    .. math::
        \operatorname{diag} H = \mathbb{E}_v[v \odot Hv]
        \approx \frac1S\sum_{s=1}^S v_s \odot H v_s .

    With Rademacher probes the estimate of :math:`H_{ii}` has variance
    :math:`\frac1S\sum_{j\ne i} H_{ij}^2` (exact for diagonal :math:`H`).
    Arguments as for :func:`hutchinson_trace` (here ``n_samples >= 1``).

    Returns:
        tensor of ``theta``'s shape.
    """
    _check_positive_int(n_samples, "n_samples")
    probes, products = hutchinson_probes(f, theta, n_samples, **probing)
    return (probes * products).mean(dim=0).detach()


# ----------------------------------------------------------------------------
# eigenpairs
# ----------------------------------------------------------------------------


def top_eigenpairs(
    f: ScalarFn,
    theta: Tensor,
    k: int = 1,
    *,
    tol: float = 1e-6,
    max_iter: int | None = None,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""The ``k`` largest (algebraic) eigenpairs of :math:`\nabla^2 F(\theta)`.

    Solves :math:`H u_i = \lambda_i u_i`, :math:`\lambda_1\ge\dots\ge\lambda_k`,
    with ARPACK's implicitly restarted Lanczos method
    (``scipy.sparse.linalg.eigsh(which="LA")``) on a ``LinearOperator`` whose
    matvec is :func:`hvp`; the Hessian is never formed. When ``k`` equals
    :math:`n` (which ARPACK cannot do) the dense Hessian is diagonalised instead.

    Args:
        f: scalar function of a flat vector.
        theta: the point.
        k: number of eigenpairs, :math:`1\le k\le n`.
        tol: relative accuracy of the eigenvalues asked of ARPACK (0 = machine precision).
        max_iter: maximum number of Arnoldi update iterations (default: ARPACK's ``10 n``).
        seed: seed of the starting vector, so that results are reproducible.

    Returns:
        ``(values, vectors)``: ``values`` of shape ``(k,)`` sorted in descending
        order, ``vectors`` of shape ``(k, n)`` with unit-norm eigenvectors as rows
        (each determined up to sign).

    Raises:
        ValueError: for ``k`` outside :math:`[1, n]`, negative ``tol``, bad ``max_iter``.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    _check_theta(theta)
    n = theta.numel()
    _check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be between 1 and n={n}, got k={k}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    if max_iter is not None:
        _check_positive_int(max_iter, "max_iter")

    if k == n:
        values, vectors = torch.linalg.eigh(hessian(f, theta, max_dim=n))
        order = torch.argsort(values, descending=True)
        return values[order].detach(), vectors[:, order].T.contiguous().detach()

    g = _grad_fn(f)

    def matvec(x: np.ndarray) -> np.ndarray:
        v = torch.as_tensor(np.asarray(x).reshape(-1), dtype=theta.dtype, device=theta.device)
        return _hvp_single(g, theta, v).detach().cpu().numpy().astype(np.float64)

    operator = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    values, vectors = eigsh(operator, k=k, which="LA", tol=tol, maxiter=max_iter, v0=v0)
    order = np.argsort(values)[::-1]
    values_t = torch.as_tensor(values[order].copy(), dtype=theta.dtype, device=theta.device)
    vectors_t = torch.as_tensor(vectors[:, order].T.copy(), dtype=theta.dtype, device=theta.device)
    return values_t, vectors_t


# ----------------------------------------------------------------------------
# empirical Fisher
# ----------------------------------------------------------------------------


def _per_example_loss(
    loss: str | Callable[[Tensor, Tensor], Tensor],
) -> Callable[[Tensor, Tensor], Tensor]:
    if callable(loss):
        return loss
    if loss == "nll":

        def nll(logits: Tensor, target: Tensor) -> Tensor:
            log_p = torch.log_softmax(logits, dim=-1)
            return -log_p.gather(-1, target.long().reshape(-1, 1)).sum()

        return nll
    if loss == "mse":

        def gaussian_nll(output: Tensor, target: Tensor) -> Tensor:
            return 0.5 * ((output - target.reshape(output.shape)) ** 2).sum()

        return gaussian_nll
    raise ValueError(f"loss must be one of {_FISHER_LOSSES} or a callable, got {loss!r}")


def per_example_gradients(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    loss: str | Callable[[Tensor, Tensor], Tensor] = "nll",
    params: Sequence[str] | None = None,
    randomness: str = "different",
    chunk_size: int | None = None,
) -> dict[str, Tensor]:
    r"""Per-example gradients :math:`g_n = \nabla_\theta \ell(f_\theta(x_n), y_n)`.

    Each example is run through ``model`` on its own as a batch of one
    (``vmap`` of ``grad`` of a ``functional_call``), so for ``loss="nll"``
    :math:`\ell = -\log\operatorname{softmax}(f_\theta(x_n))_{y_n}` and for
    ``loss="mse"`` :math:`\ell = \tfrac12\lVert f_\theta(x_n)-y_n\rVert^2`
    (Gaussian negative log-likelihood, unit variance). A callable
    ``loss(output, target)`` on a batch of one is also accepted.

    ``randomness`` is passed to ``vmap``: with ``"different"`` every example
    draws its own noise in layers that sample in ``forward``; with ``"same"``
    all examples share one sample; ``"error"`` refuses random operations.
    Modules whose forward mixes examples (BatchNorm in training mode) are not
    supported.

    Returns:
        ``{name: tensor}`` with shape ``(N, *param.shape)``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None:
        _check_positive_int(chunk_size, "chunk_size")
    if not isinstance(inputs, Tensor) or not isinstance(targets, Tensor):
        raise ValueError("inputs and targets must be torch.Tensors")
    if inputs.dim() == 0 or targets.dim() == 0:
        raise ValueError("inputs and targets need a leading example dimension")
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            f"inputs and targets must have the same number of examples, got "
            f"{inputs.shape[0]} and {targets.shape[0]}"
        )
    if inputs.shape[0] == 0:
        raise ValueError("need at least one example")
    loss_fn = _per_example_loss(loss)
    chosen = _selected_parameters(model, params)
    weights = {n: p.detach() for n, p in chosen}

    def example_loss(w: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        out = functional_call(model, w, (x.unsqueeze(0),))
        return loss_fn(out, y.unsqueeze(0))

    per_example = vmap(
        grad(example_loss),
        in_dims=(None, 0, 0),
        randomness=randomness,
        chunk_size=chunk_size,
    )
    return per_example(weights, inputs, targets)


_FISHER_METHODS = ("per_example", "layerwise")


def empirical_fisher_diag(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    method: str = "per_example",
    batch: int | None = None,
    flat: bool = False,
    loss: str | Callable[[Tensor, Tensor], Tensor] = "nll",
    params: Sequence[str] | None = None,
    randomness: str = "different",
    chunk_size: int | None = None,
) -> dict[str, Tensor] | Tensor:
    r"""Diagonal of the empirical Fisher information: the one entry point of synlab.

    .. math::
        \hat F_{ii} = \frac1N \sum_{n=1}^N
        \Big(\frac{\partial}{\partial\theta_i} \log p_\theta(y_n\mid x_n)\Big)^2,

    with :math:`\log p_\theta(y\mid x) = \log\operatorname{softmax}(f_\theta(x))_y`
    for ``loss="nll"`` (the model returns logits). This uses the true labels,
    hence "empirical" (Kunstner et al. 2019); it is the diagonal used by EWC.

    ``method``:

    * ``"per_example"`` squares the per-example gradients of
      :func:`per_example_gradients` (any model, ``loss``, ``params``, ``randomness`` and
      ``chunk_size``, which it shares); with stochastic layers and ``randomness="different"``
      every example sees its own noise sample.
    * ``"layerwise"`` uses :func:`squared_gradient_sum`: one backward pass per batch, exact for
      the weights of bias-free synapse layers (the only parameters it returns; ``loss="nll"``,
      ``params=None``). The same numbers as ``"per_example"`` up to float rounding, much faster.

    ``batch``: examples per pass (bounds the memory of per-example gradients); ``None`` = all.
    Batch results are combined weighted by size: ``"per_example"`` adds each batch mean times
    ``len(batch)/N``; ``"layerwise"`` adds the batch sums and divides by ``N`` once.
    ``flat``: one vector (in the order of :func:`flatten_loss` with the same ``params``, so it
    lines up with ``theta0`` and :func:`hessian_diag`) instead of ``{name: tensor}``.

    Returns:
        ``{name: tensor}`` with one tensor of each chosen parameter's shape, or a flat tensor.
    """
    if method not in _FISHER_METHODS:
        raise ValueError(f"method must be one of {_FISHER_METHODS}; got {method!r}")
    n = targets.shape[0]
    if inputs.shape[0] != n:
        raise ValueError(
            f"inputs and targets must have the same number of examples, got "
            f"{inputs.shape[0]} and {n}"
        )
    if n == 0:
        raise ValueError("need at least one example")
    size = n if batch is None else batch
    if size < 1:
        raise ValueError("batch must be >= 1")
    if method == "layerwise":
        if params is not None or loss != "nll":
            raise ValueError("method='layerwise' takes the synapse weights and loss='nll' only")
        names = {id(p): k for k, p in model.named_parameters()}
        total: list[Tensor] = []
        for i in range(0, n, size):
            parts = _squared_gradient_sums(model, inputs[i : i + size], targets[i : i + size])
            total = parts if not total else [a + b for a, b in zip(total, parts)]
        out = {names[id(m.weight)]: t / n for m, t in zip(bias_free_layers(model), total)}
    else:
        out: dict[str, Tensor] = {}
        for i in range(0, n, size):
            grads = per_example_gradients(
                model,
                inputs[i : i + size],
                targets[i : i + size],
                loss=loss,
                params=params,
                randomness=randomness,
                chunk_size=chunk_size,
            )
            m = len(targets[i : i + size])
            for k, g in grads.items():
                part = (g**2).mean(dim=0).detach()
                out[k] = part if batch is None else out.get(k, 0) + part * m / n
    return _concat(out.values()) if flat else out


def bias_free_layers(model: nn.Module) -> list[nn.Module]:
    """The synapse layers of ``model``; an error if there are none or one has a bias."""
    layers = synapse_layers(model)
    if not layers:
        raise ValueError("the model has no synapse layers")
    for layer in layers:
        if getattr(layer, "bias", None) is not None:
            raise ValueError(
                "synthesis measures assume bias-free layers (the networks of Schug et al.)"
            )
    return layers


def _squared_gradient_sums(
    net: nn.Module, x: Tensor, targets: Tensor, weights: Tensor | None = None
) -> list[Tensor]:
    layers = bias_free_layers(net)
    inputs: list[Tensor] = []
    outputs: list[Tensor] = []

    def hook(module, args, out):
        inputs.append(args[0].detach())
        out.retain_grad()
        outputs.append(out)

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            logits = net(x)
            nll = F.cross_entropy(logits, targets, reduction="sum")
            grads = torch.autograd.grad(nll, outputs)
    finally:
        for h in handles:
            h.remove()
    w = torch.ones(x.shape[0], device=x.device, dtype=x.dtype) if weights is None else weights
    return [((w[:, None] * d**2).T @ a**2).detach() for d, a in zip(grads, inputs)]


def squared_gradient_sum(
    net: nn.Module, x: Tensor, targets: Tensor, weights: Tensor | None = None
) -> Tensor:
    r""":math:`\sum_n w_n\,(\partial\ell_n/\partial W_{ij})^2` for every synapse of a bias-free MLP.

    Flat, layer by layer. :math:`\ell_n = -\log\operatorname{softmax}(f(x_n))_{t_n}`. For a
    linear layer :math:`z = W a` the per-example gradient is the outer product
    :math:`\delta_n a_n^\top` with :math:`\delta_n = \partial\ell_n/\partial z_n`, so

    .. math:: \sum_n w_n (\delta_{n,i} a_{n,j})^2
              = \big[(w\odot\delta^{\odot 2})^\top a^{\odot 2}\big]_{ij}

    needs one backward pass of the summed loss (examples do not interact) instead of :math:`N`
    per-example gradients (Goodfellow 2015). Same result as squaring
    :func:`per_example_gradients` (checked in the tests).
    """
    return _concat(_squared_gradient_sums(net, x, targets, weights))


def _concat(tensors: Iterable[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])
