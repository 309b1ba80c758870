r"""Memory maintenance under ongoing synaptic change (Raman & O'Leary 2021).

A network has learned a task and must *keep* it while its weights :math:`w` are buffeted by
task-independent fluctuations :math:`\Delta\epsilon` and repaired by compensatory plasticity
:math:`\Delta c` (Eq. 1 of the paper)::

    w(t+1) = w(t) + Δc(t) + Δε(t)

Read top to bottom:

1. **Geometry** (Boxes 1–4): the curvature operator :math:`Q_w[v]=\hat v^\top\nabla^2F\,\hat v`
   (:func:`curvature_q`), the optimal compensatory magnitude (Eq. 6, :func:`optimal_magnitude`),
   the steady-state ratio (Eq. 9, :func:`steady_state_ratio`), the curvature of the gradient on
   a quadratic (Eq. 14, :func:`gradient_curvature_quadratic`) and the noise interpolation of
   SI Eq. 8 (:func:`noise_interpolation`). Pure functions of tensors.
2. **Tasks**: a batch of ``B`` independent problems, each a loss of one flat weight vector, so
   every quantity is a ``(B, N)`` tensor and repeats and sweep points run side by side.
   :class:`StudentTeacher` is the paper's task (a student network must reproduce the outputs of a
   teacher on 1000 fixed standard-normal inputs; nonlinear 12-20-10 with sigmoid hidden units and
   linear outputs, or linear 12→10). :class:`QuadraticTask` is
   :math:`F=\tfrac12(w-w^*)^\top H(w-w^*)`.
3. **Plasticity**: :func:`fluctuation` (white noise of exactly the set norm),
   :func:`compensation` (:math:`\Delta c=-\gamma_1\hat g+\gamma_2\hat\nu`), and the descent
   estimates of 0th- (:func:`zeroth_order_estimate`), 1st- (the gradient) and 2nd-order
   (:func:`newton_direction`) rules.
4. **Simulation**: :func:`simulate` runs the loop for the whole batch at once.

Reference: D. V. Raman, T. O'Leary (2021). Optimal plasticity for memory maintenance during
ongoing synaptic change. *eLife* 10:e62912. Facts taken from the authors' (Julia/Flux) code:
linear output layer, zero biases that are never changed, students initialised at the teacher's
weights × (1 + 0.001 ξ), loss = mean squared error over all outputs (Flux's ``mse``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "curvature_q",
    "optimal_magnitude",
    "steady_state_ratio",
    "gradient_curvature_quadratic",
    "newton_curvature_quadratic",
    "noise_interpolation",
    "expected_loss_change",
    "StudentTeacher",
    "QuadraticTask",
    "input_sqrt_covariance",
    "unit_rows",
    "fluctuation",
    "compensation",
    "zeroth_order_estimate",
    "newton_direction",
    "RULES",
    "simulate",
    "Trajectory",
    "optimal_ratio",
]

RULES = ("zeroth", "first", "second")


# ============================================================================ 1. geometry
def _as_batch(v: Tensor) -> tuple[Tensor, bool]:
    return (v.unsqueeze(0), True) if v.dim() == 1 else (v, False)


def curvature_q(H: Tensor, v: Tensor) -> Tensor:
    r"""The curvature operator :math:`Q[v]=\hat v^\top H\hat v`, :math:`\hat v=v/\lVert v\rVert`.

    ``H`` is ``(N, N)`` or a batch ``(B, N, N)``; ``v`` is ``(N,)`` or ``(B, N)``. Independent of
    the length of ``v`` (Box 2). ValueError for a zero direction.
    """
    vb, single = _as_batch(v)
    norms = vb.norm(dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("Q[v] is undefined for a zero direction v")
    u = vb / norms.unsqueeze(-1)
    Hu = torch.einsum("...ij,...j->...i", H, u)
    q = (u * Hu).sum(-1)
    return q[0] if single else q


def optimal_magnitude(grad: Tensor, H: Tensor, direction: Tensor) -> Tensor:
    r"""Eq. (6): the compensatory magnitude that most decreases :math:`F` along ``direction``.

    .. math:: \lVert\Delta c\rVert^* = \frac{-\hat c^\top\nabla F}{Q[\Delta c]}

    the root of :math:`\frac{d}{d\lVert\Delta c\rVert}\big(\lVert\Delta c\rVert\hat c^\top\nabla F
    +\tfrac12\lVert\Delta c\rVert^2 Q[\Delta c]\big)`. Requires :math:`Q[\Delta c]>0`.
    """
    cb, single = _as_batch(direction)
    gb = grad.unsqueeze(0) if grad.dim() == 1 else grad
    u = cb / cb.norm(dim=-1, keepdim=True)
    q = curvature_q(H, u)
    if bool((q <= 0).any()):
        raise ValueError("Eq. (6) needs positive curvature Q[Δc] > 0 along the direction")
    m = -(u * gb).sum(-1) / q
    return m[0] if single else m


def steady_state_ratio(q_fluctuation: Tensor | float, q_compensation: Tensor | float) -> Tensor:
    r"""Eq. (9a): :math:`\lVert\Delta
    c\rVert/\lVert\Delta\epsilon\rVert=\sqrt{Q[\Delta\epsilon]/Q[\Delta c]}`.

    The optimal magnitude ratio at steady-state error (both curvatures must be positive).
    """
    qe, qc = (
        torch.as_tensor(q_fluctuation, dtype=torch.float64),
        torch.as_tensor(q_compensation, dtype=torch.float64),
    )
    if bool((qe <= 0).any()) or bool((qc <= 0).any()):
        raise ValueError("Eq. (9) holds only when Q[Δε] > 0 and Q[Δc] > 0 (SI section 2.1)")
    return torch.sqrt(qe / qc)


def gradient_curvature_quadratic(eigenvalues: Tensor, c: Tensor) -> Tensor:
    r"""Eq. (14): curvature of the gradient of a quadratic, :math:`\sum c_i^2\lambda_i^3/\sum
    c_i^2\lambda_i^2`.

    ``c`` are the coordinates of :math:`w-w^*` in the eigenbasis of :math:`H` (last axis).
    """
    c2 = c**2
    return (c2 * eigenvalues**3).sum(-1) / (c2 * eigenvalues**2).sum(-1)


def newton_curvature_quadratic(eigenvalues: Tensor, c: Tensor) -> Tensor:
    r"""SI Eq. (6c) for a quadratic: the Newton step is :math:`w^*-w`, so
    :math:`Q=\sum c_i^2\lambda_i/\sum c_i^2`."""
    c2 = c**2
    return (c2 * eigenvalues).sum(-1) / c2.sum(-1)


def noise_interpolation(
    q_ideal: Tensor | float, q_noise: Tensor | float, noise_to_signal: Tensor | float
) -> Tensor:
    r"""SI Eq. (8): :math:`Q[\tilde c+\nu]` when :math:`\tilde c^\top H\nu=0` and :math:`\tilde
    c\perp\nu`.

    .. math:: Q[\Delta c]=\frac{Q[\tilde c]}{1+\rho^2}+\frac{Q[\nu]}{1+\rho^{-2}},
              \qquad \rho=\lVert\nu\rVert/\lVert\tilde c\rVert

    (for the paper's rule :math:`\rho=\gamma_2/\gamma_1`, the corruption).
    """
    r2 = torch.as_tensor(noise_to_signal, dtype=torch.float64) ** 2
    return torch.as_tensor(q_ideal, dtype=torch.float64) / (1 + r2) + torch.as_tensor(
        q_noise, dtype=torch.float64
    ) / (1 + 1 / r2)


def expected_loss_change(
    grad: Tensor, H: Tensor, dc: Tensor, eps_norm: float | Tensor, q_eps: float | Tensor
) -> Tensor:
    r"""Eq. (8) of Box 3: :math:`\mathbb E[\Delta F]=\Delta c^\top\nabla F+\tfrac12\lVert\Delta
    c\rVert^2Q[\Delta c]
    +\tfrac12\lVert\Delta\epsilon\rVert^2Q[\Delta\epsilon]` (second order, Eqs. 3a–b used)."""
    cb, single = _as_batch(dc)
    gb = grad.unsqueeze(0) if grad.dim() == 1 else grad
    out = (
        (cb * gb).sum(-1)
        + 0.5 * cb.norm(dim=-1) ** 2 * curvature_q(H, cb)
        + 0.5 * torch.as_tensor(eps_norm) ** 2 * q_eps
    )
    return out[0] if single else out


# ============================================================================ 2. tasks
def _xavier(
    shape: tuple[int, ...], fan_in: int, fan_out: int, gen: torch.Generator, dtype
) -> Tensor:
    """Glorot & Bengio (2010) uniform init, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Flux's
    default)."""
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return (torch.rand(shape, generator=gen, dtype=dtype) * 2 - 1) * a


def input_sqrt_covariance(
    n_in: int, condition: float, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Tensor:
    r"""A symmetric square root :math:`C^{1/2}` of an input covariance with condition number
    ``condition``: eigenvalues log-spaced from 1 to ``condition``, scaled to mean 1 (so
    :math:`\operatorname{Tr}C=n_\text{in}`, the isotropic inputs' total variance), in a random
    orthonormal basis (seeded). ``condition = 1`` gives the identity: the paper's white inputs.
    Inputs :math:`u=C^{1/2}z`, :math:`z\sim\mathcal N(0,I)`, then have covariance :math:`C`."""
    if not condition >= 1.0:
        raise ValueError(f"condition must be >= 1; got {condition}")
    gen = torch.Generator().manual_seed(seed)
    lam = torch.logspace(0.0, math.log10(condition), n_in, dtype=dtype)
    lam = lam / lam.mean()
    q, _ = torch.linalg.qr(torch.randn(n_in, n_in, generator=gen, dtype=dtype))
    return q @ torch.diag(lam.sqrt()) @ q.T


class StudentTeacher:
    r"""A batch of ``B`` independent student–teacher tasks (Raman & O'Leary 2021, Methods).

    Each task has its own teacher (Xavier-uniform weights, zero biases) and its own 1000
    standard-normal inputs :math:`u`. The loss of a flat weight vector :math:`w` (weights only;
    biases stay at zero and are never perturbed or compensated) is

    .. math::

        F[w]=\frac{1}{|\mathcal U|\,n_\text{out}}\sum_{u\in\mathcal U}\lVert
        y(w,u)-y(w^*,u)\rVert^2,

    with :math:`y=W_2\,\sigma(W_1u)` (``hidden=20``; linear output as in the authors' code) or
    :math:`y=Wu` (``hidden=None``, the linear network, for which :math:`F` is exactly quadratic).
    The mean over outputs (the code's ``mse``) rescales the paper's :math:`F` by
    :math:`1/n_\text{out}`, which changes no ratio of curvatures.

    Flat vectors are ``[vec(W1); vec(W2)]`` (row-major, as ``nn.Linear.weight``), shape ``(B, N)``;
    leading extra dimensions ``(..., B, N)`` are accepted by :meth:`loss`.
    """

    def __init__(
        self,
        batch: int = 1,
        *,
        n_in: int = 12,
        hidden: int | None = 20,
        n_out: int = 10,
        n_samples: int = 1000,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        input_condition: float = 1.0,
    ):
        for name, v in (
            ("batch", batch),
            ("n_in", n_in),
            ("n_out", n_out),
            ("n_samples", n_samples),
        ):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if hidden is not None and (not isinstance(hidden, int) or hidden < 1):
            raise ValueError(
                f"hidden must be a positive integer or None (linear network), got {hidden!r}"
            )
        gen = torch.Generator().manual_seed(seed)
        self.batch, self.n_in, self.hidden, self.n_out, self.n_samples = (
            batch,
            n_in,
            hidden,
            n_out,
            n_samples,
        )
        self.dtype = dtype
        if hidden is None:
            self.shapes = [(n_out, n_in)]
            w = [_xavier((batch, n_out, n_in), n_in, n_out, gen, dtype)]
        else:
            self.shapes = [(hidden, n_in), (n_out, hidden)]
            w = [
                _xavier((batch, hidden, n_in), n_in, hidden, gen, dtype),
                _xavier((batch, n_out, hidden), hidden, n_out, gen, dtype),
            ]
        self.sizes = [a * b for a, b in self.shapes]
        self.constant_hessian = hidden is None  # the linear network's F is exactly quadratic
        self.n_weights = sum(self.sizes)
        self.inputs = torch.randn(batch, n_samples, n_in, generator=gen, dtype=dtype)  # (B, S, I)
        if input_condition != 1.0:  # correlated inputs: u = C^{1/2} z (its own generator)
            self.inputs = self.inputs @ input_sqrt_covariance(
                n_in, input_condition, seed=seed + 7919, dtype=dtype
            )
        self.theta_star = torch.cat(
            [x.reshape(batch, -1) for x in w], dim=1
        )  # teacher weights (B, N)
        if device is not None:
            self.inputs, self.theta_star = self.inputs.to(device), self.theta_star.to(device)
        self.targets = self.forward(self.theta_star)  # teacher outputs (B, S, O)
        self.second_moment = (
            self.inputs.transpose(-1, -2) @ self.inputs / n_samples
        )  # Σ = UᵀU/S (B, I, I)

    # -- network
    def _split(self, theta: Tensor) -> list[Tensor]:
        if theta.shape[-1] != self.n_weights or theta.shape[-2] != self.batch:
            raise ValueError(
                f"theta must have shape (..., {self.batch}, {self.n_weights}), got "
                f"{tuple(theta.shape)}"
            )
        lead = theta.shape[:-1]
        return [
            p.reshape(*lead, *s)
            for p, s in zip(torch.split(theta, self.sizes, dim=-1), self.shapes)
        ]

    def forward(self, theta: Tensor) -> Tensor:
        """Outputs ``(..., B, S, n_out)`` of the networks with flat weights ``theta``."""
        ws = self._split(theta)
        if self.hidden is None:
            return self.inputs @ ws[0].transpose(-1, -2)
        a = torch.sigmoid(self.inputs @ ws[0].transpose(-1, -2))
        return a @ ws[1].transpose(-1, -2)

    def loss(self, theta: Tensor) -> Tensor:
        """:math:`F[w]` of every network, shape ``theta.shape[:-1]``."""
        if self.hidden is None:
            dw = self._split(theta)[0] - self._split(self.theta_star)[0]
            return (dw * (dw @ self.second_moment)).sum(dim=(-1, -2)) / self.n_out
        r = self.forward(theta) - self.targets
        return (r**2).mean(dim=(-1, -2))

    def value_and_gradient(
        self, theta: Tensor, sample_weights: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        r""":math:`F[w]` ``(B,)`` and :math:`\nabla F` ``(B, N)`` by hand-written backpropagation.

        ``sample_weights`` ``(B, S)`` (each row summing to 1) weight the inputs' squared errors
        instead of the plain mean: a bootstrap sample is the multinomial counts divided by S.

        With :math:`R=Y-Y^*` and :math:`\partial F/\partial Y=2R/(S\,n_\text{out})`:
        :math:`\partial F/\partial W_2=(\partial F/\partial Y)^\top A` and
        :math:`\partial F/\partial W_1=\big((\partial F/\partial Y)W_2\odot A(1-A)\big)^\top U`.
        For the linear network :math:`F=\frac1{n_\text{out}}\sum_o \Delta w_o^\top\Sigma\,\Delta
        w_o`
        with :math:`\Sigma=U^\top U/S` (computed once), so a step costs no pass over the inputs.
        Differentiable (forward mode too), so :meth:`hvp` is a ``jvp`` of the gradient.
        """
        ws = self._split(theta)
        if self.hidden is None:
            dw = ws[0] - self._split(self.theta_star)[0]  # (B, O, I)
            m = self.second_moment
            if sample_weights is not None:  # Σ_w = Uᵀ diag(w) U
                m = (self.inputs * sample_weights.unsqueeze(-1)).transpose(-1, -2) @ self.inputs
            dws = dw @ m  # (B, O, I)
            value = (dw * dws).sum(dim=(-1, -2)) / self.n_out
            return value, (2.0 / self.n_out) * dws.flatten(-2)
        a = torch.sigmoid(self.inputs @ ws[0].transpose(-1, -2))
        r = a @ ws[1].transpose(-1, -2) - self.targets
        if sample_weights is None:
            value = (r**2).mean(dim=(-1, -2))
            dy = (2.0 / (self.n_samples * self.n_out)) * r
        else:
            w = sample_weights.unsqueeze(-1)  # (B, S, 1)
            value = (w * r**2).sum(dim=(-1, -2)) / self.n_out
            dy = (2.0 / self.n_out) * w * r
        g2 = dy.transpose(-1, -2) @ a
        dz = (dy @ ws[1]) * a * (1 - a)
        g1 = dz.transpose(-1, -2) @ self.inputs
        return value, torch.cat([g1.flatten(-2), g2.flatten(-2)], dim=-1)

    def gradient(self, theta: Tensor) -> Tensor:
        r""":math:`\nabla F` of every network, shape ``(B, N)`` (see :meth:`value_and_gradient`)."""
        return self.value_and_gradient(theta)[1]

    def hvp(self, theta: Tensor, v: Tensor) -> Tensor:
        r""":math:`\nabla^2F\,v` for every network (forward-mode derivative of :meth:`gradient`)."""
        return torch.func.jvp(self.gradient, (theta,), (v.to(theta.dtype),))[1]

    def gnvp(self, theta: Tensor, v: Tensor) -> Tensor:
        r"""Gauss–Newton product :math:`G v=\frac{2}{S\,n_\text{out}}J^\top J v`,
        :math:`J=\partial y/\partial w` over all inputs: the Hessian without the term in the
        residuals (equal to it at :math:`w=w^*` and for the linear network)."""
        v = v.to(theta.dtype)
        out, jv = torch.func.jvp(self.forward, (theta,), (v,))
        _, vjp = torch.func.vjp(self.forward, theta)
        (gv,) = vjp(jv)
        return (2.0 / (self.n_samples * self.n_out)) * gv

    def hessian(self, theta: Tensor, chunk: int = 64) -> Tensor:
        """Dense Hessians ``(B, N, N)`` from ``N`` batched Hessian-vector products (small nets
        only)."""
        n = self.n_weights
        eye = torch.eye(n, dtype=theta.dtype, device=theta.device)
        cols = []
        for s in range(0, n, chunk):
            basis = eye[s : s + chunk].unsqueeze(1).expand(-1, self.batch, n)  # (k, B, N)
            cols.append(torch.func.vmap(lambda e: self.hvp(theta, e))(basis))
        return torch.cat(cols).permute(1, 0, 2).contiguous()  # H symmetric: rows = columns

    def loss_fn(self, b: int) -> Callable[[Tensor], Tensor]:
        """The loss of network ``b`` as a scalar function of one flat vector ``(N,)``.

        For :mod:`synlab.curvature` (``hessian``, ``curvature_along``, ``hutchinson_trace``).
        """
        if not 0 <= b < self.batch:
            raise ValueError(f"network index b must be in [0, {self.batch}), got {b}")
        x, y = self.inputs[b], self.targets[b]
        shapes, sizes, linear = self.shapes, self.sizes, self.hidden is None

        def f(theta: Tensor) -> Tensor:
            ws = [p.reshape(s) for p, s in zip(torch.split(theta, sizes), shapes)]
            out = x @ ws[0].T if linear else torch.sigmoid(x @ ws[0].T) @ ws[1].T
            return ((out - y) ** 2).mean()

        return f

    def initial_state(self, jitter: float = 1e-3, seed: int = 0) -> Tensor:
        r"""Students at the teacher: :math:`w_0=w^*\odot(1+\text{jitter}\,\xi)` (authors' code)."""
        gen = torch.Generator().manual_seed(seed)
        xi = torch.randn(self.theta_star.shape, generator=gen, dtype=self.dtype).to(
            self.theta_star.device
        )
        return self.theta_star * (1 + jitter * xi)


class QuadraticTask:
    r"""A batch of quadratics :math:`F[w]=\tfrac12(w-w^*)^\top H(w-w^*)` (Eq. 13: :math:`\nabla
    F=H(w-w^*)`).

    ``H`` is ``(N, N)`` (shared) or ``(B, N, N)``; ``theta_star`` is ``(B, N)``.
    """

    def __init__(self, H: Tensor, theta_star: Tensor):
        if theta_star.dim() != 2:
            raise ValueError(f"theta_star must be (B, N), got {tuple(theta_star.shape)}")
        if H.shape[-1] != theta_star.shape[-1] or H.shape[-2] != theta_star.shape[-1]:
            raise ValueError(
                f"H must be (N, N) or (B, N, N) with N={theta_star.shape[-1]}, got {tuple(H.shape)}"
            )
        self.H = H.to(theta_star.dtype)
        self.theta_star = theta_star
        self.batch, self.n_weights = theta_star.shape
        self.dtype = theta_star.dtype
        self.constant_hessian = True

    @classmethod
    def random(
        cls,
        n: int,
        batch: int = 1,
        *,
        eigenvalues: Tensor | None = None,
        spread: float = 10.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> QuadraticTask:
        """A random rotation of ``eigenvalues`` (default log-uniform in ``[1, spread]``), ``w* =
        0``."""
        gen = torch.Generator().manual_seed(seed)
        lam = (
            eigenvalues
            if eigenvalues is not None
            else spread ** torch.rand(n, generator=gen, dtype=dtype)
        )
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=dtype))
        H = q @ torch.diag(lam.to(dtype)) @ q.T
        return cls(0.5 * (H + H.T), torch.zeros(batch, n, dtype=dtype))

    def loss(self, theta: Tensor) -> Tensor:
        d = theta - self.theta_star
        return 0.5 * (d * self.hvp(theta, d)).sum(-1)

    def gradient(self, theta: Tensor) -> Tensor:
        return self.hvp(theta, theta - self.theta_star)

    def value_and_gradient(self, theta: Tensor) -> tuple[Tensor, Tensor]:
        d = theta - self.theta_star
        g = self.hvp(theta, d)
        return 0.5 * (d * g).sum(-1), g

    def hvp(self, theta: Tensor, v: Tensor) -> Tensor:
        return torch.einsum("...ij,...j->...i", self.H, v)

    def hessian(self, theta: Tensor) -> Tensor:
        return (
            self.H.expand(self.batch, self.n_weights, self.n_weights)
            if self.H.dim() == 2
            else self.H
        )

    def loss_fn(self, b: int) -> Callable[[Tensor], Tensor]:
        H = self.H if self.H.dim() == 2 else self.H[b]
        ws = self.theta_star[b]
        return lambda theta: 0.5 * (theta - ws) @ H @ (theta - ws)

    def initial_state(self, jitter: float = 1e-3, seed: int = 0) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        return self.theta_star + jitter * torch.randn(
            self.theta_star.shape, generator=gen, dtype=self.dtype
        )


# ============================================================================ 3. plasticity
def unit_rows(v: Tensor) -> Tensor:
    """Each row scaled to unit Euclidean norm (ValueError on a zero row)."""
    n = v.norm(dim=-1, keepdim=True)
    if bool((n == 0).any()):
        raise ValueError("cannot normalise a zero vector")
    return v / n


def fluctuation(
    shape: tuple[int, int],
    magnitude: Tensor | float,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    r"""White-noise fluctuations :math:`\Delta\epsilon=m\,\hat\xi`, :math:`\xi\sim\mathcal N(0,I)`:
    every row has norm ``m`` exactly."""
    m = torch.as_tensor(magnitude, dtype=dtype)
    if bool((m < 0).any()):
        raise ValueError("fluctuation magnitude must be >= 0")
    return unit_rows(torch.randn(shape, generator=generator, dtype=dtype)) * m.reshape(-1, 1)


def compensation(
    descent: Tensor,
    magnitude: Tensor | float,
    corruption: Tensor | float,
    generator: torch.Generator,
) -> Tensor:
    r"""The paper's compensatory step :math:`\Delta c=-\gamma_1\hat g+\gamma_2\hat\nu` (Methods).

    ``descent`` is the rule's estimate :math:`g` of an uphill direction (the gradient for a
    first-order rule); :math:`\nu\sim\mathcal N(0,I)`; :math:`\gamma_2/\gamma_1=` ``corruption``
    and :math:`\sqrt{\gamma_1^2+\gamma_2^2}=` ``magnitude``, i.e.
    :math:`\gamma_1=m/\sqrt{1+\kappa^2}`, :math:`\gamma_2=\kappa\gamma_1`. The component of
    :math:`\nu` along :math:`\hat g` is removed before normalising (a change of order
    :math:`1/\sqrt N` to the paper's white noise), so that :math:`\hat g\perp\hat\nu` and the
    step has *exactly* :math:`\lVert\Delta c\rVert=m`, :math:`\cos(\Delta c,-\hat g)=\gamma_1/m`.
    """
    dt = descent.dtype
    m = torch.as_tensor(magnitude, dtype=dt).reshape(-1, 1)
    k = torch.as_tensor(corruption, dtype=dt).reshape(-1, 1)
    if bool((m < 0).any()) or bool((k < 0).any()):
        raise ValueError("magnitude and corruption must be >= 0")
    g1 = m / torch.sqrt(1 + k**2)
    ghat = unit_rows(descent)
    nu = torch.randn(descent.shape, generator=generator, dtype=dt).to(descent.device)
    nu = unit_rows(nu - (nu * ghat).sum(-1, keepdim=True) * ghat)
    return -g1 * ghat + (k * g1) * nu


def zeroth_order_estimate(
    loss: Callable[[Tensor], Tensor],
    theta: Tensor,
    generator: torch.Generator,
    *,
    n_probes: int = 1,
    sigma: float = 1e-4,
) -> Tensor:
    r"""A 0th-order (weight-perturbation / REINFORCE-like) estimate of :math:`\nabla F`.

    .. math:: \hat g=\frac1K\sum_{k=1}^K\frac{F[w+\sigma\xi_k]-F[w-\sigma\xi_k]}{2\sigma}\,\xi_k,
              \qquad \xi_k\sim\mathcal N(0,I),

    unbiased to :math:`O(\sigma^2)` (:math:`\mathbb E[\xi\xi^\top]=I`) and built only from
    observed changes of the loss along random perturbations (Williams 1992; weight perturbation).
    With few probes its direction is close to random, which is the paper's point.
    """
    if not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes must be a positive integer, got {n_probes!r}")
    xi = torch.randn((n_probes, *theta.shape), generator=generator, dtype=theta.dtype).to(
        theta.device
    )
    df = (loss(theta + sigma * xi) - loss(theta - sigma * xi)) / (2 * sigma)  # (K, B)
    return (df.unsqueeze(-1) * xi).mean(0)


def newton_direction(
    H: Tensor | None, grad: Tensor, damping: float = 1e-3, eig: tuple[Tensor, Tensor] | None = None
) -> Tensor:
    r"""A regularised Newton direction :math:`(|H|+\mu I)^{-1}\nabla F` (SI section 2.2.2).

    :math:`|H|=V|\Lambda|V^\top` (absolute eigenvalues, "saddle-free" Newton) so the step
    descends also where :math:`H` is indefinite (high error); :math:`\mu=` ``damping`` ×
    :math:`\operatorname{Tr}|H|/N`. For :math:`H\succ0` and ``damping → 0`` this is
    :math:`H^{-1}\nabla F`, which on a quadratic points from :math:`w^*` to :math:`w` (Fig. 4d).
    ``eig = (eigenvalues, eigenvectors)`` of ``H`` may be passed instead (constant Hessians).
    """
    lam, V = eig if eig is not None else torch.linalg.eigh(H)
    a = lam.abs()
    mu = damping * a.mean(-1, keepdim=True)
    coef = (V.transpose(-1, -2) @ grad.unsqueeze(-1)).squeeze(-1) / (a + mu)
    return (V @ coef.unsqueeze(-1)).squeeze(-1)


# ============================================================================ 4. simulation
@dataclass
class Trajectory:
    """What :func:`simulate` returns: losses ``(T, B)``, final weights ``(B, N)``, optional
    traces."""

    loss: Tensor
    theta: Tensor
    weights: Tensor | None = None  # (T, B, k): the recorded weights
    dc_norm: Tensor | None = None  # (T, B) ‖Δc‖ realised
    de_norm: Tensor | None = None  # (T, B) ‖Δε‖ realised
    cos_descent: Tensor | None = None  # (T, B) cos(Δc, −ĝ)


def simulate(
    task,
    *,
    fluct_magnitude: Tensor | float,
    ratio: Tensor | float,
    corruption: Tensor | float = 0.0,
    n_steps: int,
    rule: str = "first",
    theta0: Tensor | None = None,
    seed: int = 0,
    record_weights: int = 0,
    record_norms: bool = False,
    n_probes: int = 1,
    newton_damping: float = 1e-3,
    bootstrap: bool = False,
) -> Trajectory:
    r"""Run :math:`w\leftarrow w+\Delta c+\Delta\epsilon` for every network of ``task`` at once.

    13 keyword parameters: Raman et al.'s knobs of one run (magnitudes, rule, recording), each
    named by the experiments' frozen configs at the call; an object would only move the names.

    Each step: the rule's descent estimate :math:`g` at :math:`w` (``"first"``: :math:`\nabla F`;
    ``"zeroth"``: :func:`zeroth_order_estimate`; ``"second"``: :func:`newton_direction`), then
    :math:`\Delta c=-\gamma_1\hat g+\gamma_2\hat\nu` of norm exactly
    ``ratio × fluct_magnitude`` (:func:`compensation`), and :math:`\Delta\epsilon` of norm exactly
    ``fluct_magnitude``.

    Args:
        task: a :class:`StudentTeacher` or :class:`QuadraticTask` with ``B`` networks.
        fluct_magnitude: :math:`\lVert\Delta\epsilon\rVert`, scalar or ``(B,)``.
        ratio: :math:`\lVert\Delta c\rVert/\lVert\Delta\epsilon\rVert`, scalar, ``(B,)`` or a
            schedule ``(n_steps, B)`` (Fig. 1b raises it in stages).
        corruption: :math:`\gamma_2/\gamma_1`, scalar or ``(B,)``.
        n_steps: number of steps :math:`T`.
        rule: ``"zeroth"``, ``"first"`` or ``"second"``.
        theta0: initial weights ``(B, N)``; default ``task.initial_state()``.
        record_weights: record the first ``k`` weights of every network at every step (Fig. 1c).
        record_norms: record realised ‖Δc‖, ‖Δε‖ and cos(Δc, −ĝ) (tests of exactness).
        bootstrap: each step, every network draws a bootstrap sample of its inputs (S indices
            with replacement, the authors' code) and uses it for the gradient and the recorded
            loss (first-order rule only). Off: every input, every step (the paper's Methods).

    Returns:
        :class:`Trajectory` with ``loss[t]`` = :math:`F` after step ``t``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    B, N = task.batch, task.n_weights
    dt = task.dtype
    gen = torch.Generator().manual_seed(seed)
    theta = (task.initial_state(seed=seed) if theta0 is None else theta0).clone()
    de_m = torch.as_tensor(fluct_magnitude, dtype=dt).expand(B).clone()
    r = torch.as_tensor(ratio, dtype=dt)
    sched = r.expand(n_steps, B) if r.dim() < 2 else r
    if sched.shape != (n_steps, B):
        raise ValueError(
            f"ratio must be a scalar, (B,) or (n_steps, B) = ({n_steps}, {B}); got {tuple(r.shape)}"
        )
    if bool((sched < 0).any()) or bool((de_m < 0).any()):
        raise ValueError("ratio and fluct_magnitude must be >= 0")
    kappa = torch.as_tensor(corruption, dtype=dt).expand(B).clone()
    eig = None  # a constant Hessian (quadratic task, linear network) is diagonalised once
    if rule == "second" and getattr(task, "constant_hessian", False):
        eig = torch.linalg.eigh(task.hessian(theta))
    losses = torch.empty(n_steps + 1, B, dtype=dt)  # losses[t] = F[w(t)], w(0) = theta0
    weights = torch.empty(n_steps, B, record_weights, dtype=dt) if record_weights else None
    norms = [torch.empty(n_steps, B, dtype=dt) for _ in range(3)] if record_norms else None
    if bootstrap and (rule != "first" or not hasattr(task, "n_samples")):
        raise ValueError("bootstrap needs the first-order rule on a StudentTeacher task")
    for t in range(n_steps):
        if bootstrap:
            S = task.n_samples
            idx = torch.randint(S, (B, S), generator=gen)
            w = torch.zeros(B, S, dtype=dt).scatter_add_(1, idx, torch.ones(B, S, dtype=dt)) / S
            losses[t], g = task.value_and_gradient(theta, w.to(theta.device))
        elif rule == "first":
            losses[t], g = task.value_and_gradient(theta)
        elif rule == "zeroth":
            losses[t] = task.loss(theta)
            g = zeroth_order_estimate(task.loss, theta, gen, n_probes=n_probes)
        else:
            losses[t], grad = task.value_and_gradient(theta)
            g = newton_direction(None if eig else task.hessian(theta), grad, newton_damping, eig)
        dc_m = sched[t] * de_m
        dc = compensation(g, dc_m, kappa, gen)
        de = fluctuation((B, N), de_m, gen, dt)
        if norms is not None:
            norms[0][t], norms[1][t] = dc.norm(dim=-1), de.norm(dim=-1)
            norms[2][t] = -(unit_rows(g) * dc).sum(-1) / dc.norm(dim=-1).clamp_min(1e-300)
        theta = theta + dc + de
        if weights is not None:
            weights[t] = theta[:, :record_weights]
    losses[n_steps] = task.loss(theta)
    return Trajectory(losses[1:], theta, weights, *(norms if norms else (None, None, None)))


def optimal_ratio(ratios: Tensor, steady_loss: Tensor) -> tuple[float, float]:
    r"""The ratio with the lowest mean steady-state loss, refined by a parabola through it and its
    neighbours.

    ``steady_loss`` is ``(n_ratios,)`` (already averaged over repeats). Returns ``(grid_argmin,
    refined)``; the refinement is done in :math:`\log F` and kept within the neighbouring grid
    points.
    """
    ratios = torch.as_tensor(ratios, dtype=torch.float64)
    y = torch.log(torch.as_tensor(steady_loss, dtype=torch.float64))
    i = int(torch.argmin(y))
    best = float(ratios[i])
    if 0 < i < len(ratios) - 1:
        x0, x1, x2 = (float(v) for v in ratios[i - 1 : i + 2])
        y0, y1, y2 = (float(v) for v in y[i - 1 : i + 2])
        den = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
        b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / den
        if a > 0:
            return best, min(max(-b / (2 * a), x0), x2)
    return best, best
