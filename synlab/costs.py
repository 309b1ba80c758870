r"""Energetic costs of synaptic reliability (Malkin, O'Donnell, Houghton & Aitchison 2024).

Pure functions, no state. Read top to bottom:

1. **The quantal model.** A connection with ``N`` release sites, release probability ``p`` and
   quantal size ``q`` transmits a PSP with mean :math:`\mu = Npq` and variance
   :math:`\sigma^2 = Np(1-p)q^2` (:func:`quantal_mean`, :func:`quantal_variance`).
2. **Four mechanisms** that buy reliability (lower σ at fixed μ) and what each costs
   (:data:`MECHANISMS`). Each ``*_cost`` function below takes the *compensating variable* that a
   synapse changes to reach a given σ at fixed μ and returns the energy it pays; each
   ``*_sweep`` function varies σ at fixed μ through the quantal model and returns (σ, cost), so
   that a log–log fit of cost against σ recovers :math:`-\rho` (:func:`loglog_slope`).

   ============================  ====================================================  =====
   mechanism                     at fixed μ                                             ρ
   ============================  ====================================================  =====
   calcium efflux                N, q fixed; p varies; p/(1-p) ∝ [Ca]^4; cost ∝ [Ca]      1/2
   vesicle membrane              p fixed; N varies (N ∝ σ^-2), r³ ∝ μ/N; cost ∝ N r²    2/3
   actin                         as above; cost ∝ N r (filament length)                  4/3
   trafficking                   as above; cost ∝ N (vesicles moved)                     2
   ============================  ====================================================  =====

3. **The power-law reliability cost** used in training,
   :math:`C_\text{rel} = c\,\sigma^{-\rho}` per synapse (:func:`reliability_cost`), the L1
   magnitude cost (:func:`magnitude_cost`), and the full per-step objective scaling.
4. **The linear-model optimum** (Appendix 2): minimising
   :math:`\tfrac12 H\sigma^2 + \lambda c\sigma^{-\rho}` gives
   :math:`\sigma^* = (\lambda c\rho/H)^{1/(2+\rho)}` (:func:`optimal_sigma_linear`), hence the
   log–log slopes :math:`-1/(2+\rho)` against H and :math:`2/(2+\rho)` against the posterior
   s.d. :math:`1/\sqrt H` (:func:`predicted_slopes`).
5. **The entropic cost and the bound** (Appendix 4): the entropy of
   :math:`\mathcal N(\mu,\sigma^2)` enters the ELBO, giving the *entropic reliability cost*
   :math:`-\log\sigma` (up to a constant, :func:`entropic_cost`), and since
   :math:`\log x \le x - 1`,
   :math:`-\log\sigma = \tfrac1\rho\log\sigma^{-\rho} \le (\sigma^{-\rho}-1)/\rho`
   (:func:`power_law_bound`), with equality as ρ → 0 at fixed σ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Mechanism",
    "MECHANISMS",
    "RHOS",
    "quantal_mean",
    "quantal_variance",
    "quantal_sigma",
    "reliability_cost",
    "magnitude_cost",
    "calcium_cost",
    "vesicle_membrane_cost",
    "actin_cost",
    "trafficking_cost",
    "calcium_sweep",
    "vesicle_sweep",
    "mechanism_sweep",
    "loglog_slope",
    "optimal_sigma_linear",
    "linear_objective",
    "predicted_slopes",
    "entropic_cost",
    "power_law_bound",
    "c_grid",
    "quadratic_performance_cost",
    "sigmas_at_equal_cost",
]


def _floats(name: str, x) -> np.ndarray:
    """``x`` as a float array; a ValueError naming ``name`` if it is not numeric."""
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be a number or an array of numbers; got {x!r}")
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number or an array of numbers; got {x!r}") from err


def _finite_nonnegative(name: str, x) -> np.ndarray:
    a = _floats(name, x)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0; got {a.ravel()[:3].tolist()}")
    return a


def _positive(name: str, x) -> np.ndarray:
    a = _floats(name, x)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0; got {a.ravel()[:3].tolist()}")
    return a


def _probability_open(name: str, x) -> np.ndarray:
    a = _floats(name, x)
    if np.any(~np.isfinite(a)) or np.any(a <= 0) or np.any(a >= 1):
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {a.ravel()[:3].tolist()}")
    return a


def _probability(name: str, x, open_p: bool) -> np.ndarray:
    if open_p:
        return _probability_open(name, x)
    a = _floats(name, x)
    if np.any(~np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"{name} must lie in [0, 1]; got {a.ravel()[:3].tolist()}")
    return a


# ----------------------------------------------------------------------------- quantal model
def quantal_mean(N, p, q, *, open_p: bool = True):
    """Mean PSP of the binomial quantal model, :math:`\\mu = Npq`: the one copy in synlab.

    ``p`` in (0, 1), the range of the cost model; ``open_p=False`` allows [0, 1]
    (:func:`synlab.quantal.binomial_moments`).
    """
    return _positive("N", N) * _probability("p", p, open_p) * _positive("q", q)


def quantal_variance(N, p, q, *, open_p: bool = True):
    """PSP variance of the binomial quantal model, :math:`\\sigma^2 = Np(1-p)q^2` (one copy).

    ``p`` as in :func:`quantal_mean`.
    """
    p = _probability("p", p, open_p)
    return _positive("N", N) * p * (1 - p) * _positive("q", q) ** 2


def quantal_sigma(N, p, q):
    """PSP standard deviation :math:`\\sigma = q\\sqrt{Np(1-p)}`."""
    return np.sqrt(quantal_variance(N, p, q))


# ----------------------------------------------------------------------------- mechanisms
@dataclass(frozen=True)
class Mechanism:
    """A biophysical route to reliability: its name, exponent ρ and what is paid for."""

    name: str
    rho: float
    paid_for: str
    varies: str


#: The four mechanisms of Malkin et al. (2024), Fig. 1 (exponents from the quantal model).
MECHANISMS: dict[str, Mechanism] = {
    "calcium": Mechanism(
        "calcium efflux", 1 / 2, "pumping Ca²⁺ out; release odds p/(1−p) ∝ [Ca]⁴", "p (N, q fixed)"
    ),
    "membrane": Mechanism(
        "vesicle membrane", 2 / 3, "vesicle surface N r² with N r³ ∝ μ", "N (p fixed)"
    ),
    "actin": Mechanism("actin", 4 / 3, "filament length ∝ N r", "N (p fixed)"),
    "trafficking": Mechanism("trafficking", 2.0, "moving vesicles, ∝ N", "N (p fixed)"),
}
#: ρ of the four mechanisms, in the paper's column order (1/2, 2/3, 4/3, 2).
RHOS: tuple[float, ...] = tuple(m.rho for m in MECHANISMS.values())


def calcium_cost(p, hill: float = 4.0):
    """Energy of keeping release probability ``p``: ∝ [Ca], with p/(1−p) = [Ca]^hill.

    So cost ∝ (p/(1−p))^(1/hill). For p ≪ 1 (the regime of low release), σ² ≈ Npq² ∝ p at
    fixed N, q — but μ = Npq must stay fixed too, so the calcium mechanism is paired with a
    compensating change of q (or N·q): see :func:`calcium_sweep`.
    """
    p = _probability_open("p", p)
    hill = float(_positive("hill", hill))
    return (p / (1 - p)) ** (1.0 / hill)


def vesicle_membrane_cost(N, r):
    """Total vesicle membrane area :math:`N r^2` (r: vesicle radius)."""
    return _positive("N", N) * _positive("r", r) ** 2


def actin_cost(N, r):
    """Total actin filament length :math:`\\propto N r`."""
    return _positive("N", N) * _positive("r", r)


def trafficking_cost(N):
    """Vesicles trafficked, :math:`\\propto N`."""
    return _positive("N", N) * 1.0


def calcium_sweep(mu: float = 1.0, N: float = 1.0, p=None, hill: float = 4.0):
    r"""σ and calcium cost as p varies at fixed μ and N (q = μ/(Np) compensates).

    With q = μ/(Np): :math:`\sigma^2 = Np(1-p)q^2 = \mu^2(1-p)/(Np)`, so
    :math:`p/(1-p) = \mu^2/(N\sigma^2)` and cost :math:`\propto (p/(1-p))^{1/4} \propto \sigma^{-1/2}`:
    exactly ρ = 1/2 for every p (no small-p approximation needed).

    Returns ``(sigma, cost)`` arrays.
    """
    p = np.logspace(-3, np.log10(0.999), 60) if p is None else _probability_open("p", p)
    q = mu / (N * p)
    return quantal_sigma(N, p, q), calcium_cost(p, hill)


def vesicle_sweep(mechanism: str, mu: float = 1.0, p: float = 0.5, N=None):
    r"""σ and cost as the number of vesicles N varies at fixed μ and p.

    The quantal size is proportional to vesicle volume, q ∝ r³, and μ = Npq fixed gives
    :math:`r \propto N^{-1/3}`; :math:`\sigma^2 = Np(1-p)q^2 = \mu^2(1-p)/(Np) \propto N^{-1}`.
    Then membrane :math:`N r^2 \propto N^{1/3} \propto \sigma^{-2/3}`, actin
    :math:`N r \propto N^{2/3} \propto \sigma^{-4/3}` and trafficking :math:`N \propto \sigma^{-2}`.

    Returns ``(sigma, cost)`` arrays.
    """
    N = np.logspace(0, 4, 60) if N is None else _positive("N", N)
    q = mu / (N * p)
    r = q ** (1.0 / 3.0)  # q ∝ vesicle volume ∝ r³ (unit constant)
    sigma = quantal_sigma(N, p, q)
    if mechanism == "membrane":
        return sigma, vesicle_membrane_cost(N, r)
    if mechanism == "actin":
        return sigma, actin_cost(N, r)
    if mechanism == "trafficking":
        return sigma, trafficking_cost(N)
    raise ValueError(
        f"vesicle_sweep mechanism must be 'membrane', 'actin' or 'trafficking'; got {mechanism!r}"
    )


def mechanism_sweep(mechanism: str, mu: float = 1.0):
    """(σ, cost) at fixed μ for any of :data:`MECHANISMS` (varying its compensating variable)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}; choose one of {sorted(MECHANISMS)}")
    if mechanism == "calcium":
        return calcium_sweep(mu)
    return vesicle_sweep(mechanism, mu)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (x, y > 0)."""
    lx, ly = np.log(_positive("x", x)).ravel(), np.log(_positive("y", y)).ravel()
    if lx.size < 2 or lx.size != ly.size:
        raise ValueError(
            f"loglog_slope needs two or more (x, y) pairs; got {lx.size} x, {ly.size} y"
        )
    if np.ptp(lx) == 0:
        raise ValueError("loglog_slope needs x values that differ; all x are equal")
    return float(np.polyfit(lx, ly, 1)[0])


# ----------------------------------------------------------------------------- training costs
def reliability_cost(sigma, rho, c=1.0):
    r"""Power-law reliability cost :math:`c\,\sigma^{-\rho}` (elementwise; sum it over synapses).

    Works on numpy arrays, floats and torch tensors (differentiable for the latter).
    """
    rho_a = _positive("rho", rho)
    c_a = _finite_nonnegative("c", c)
    if hasattr(sigma, "pow") and not isinstance(sigma, np.ndarray):  # torch: keep the graph
        bad = ~(sigma.isfinite() & (sigma > 0))
        if bool(bad.any()):
            got = sigma.detach()[bad].flatten()[:3].tolist()
            raise ValueError(f"sigma must be finite and > 0; got {got}")
        return c * sigma ** (-rho)
    return c_a * _positive("sigma", sigma) ** (-rho_a)


def magnitude_cost(mu, l1: float = 0.01):
    """L1 magnitude cost :math:`l_1\\sum_i|\\mu_i|` (Malkin et al.: l1 = 0.01). Torch or numpy."""
    if l1 < 0:
        raise ValueError(f"l1 must be >= 0; got {l1}")
    if hasattr(mu, "abs") and not isinstance(mu, np.ndarray):
        return l1 * mu.abs().sum()
    return l1 * float(np.abs(np.asarray(mu, dtype=float)).sum())


def c_grid(lo: float = -2.0, hi: float = 4.0, step: float = 0.25) -> np.ndarray:
    """The paper's log grid of cost multipliers, 10^lo … 10^hi in steps of 10^step (25 values)."""
    if not hi > lo or not step > 0:
        raise ValueError(f"need hi > lo and step > 0; got lo={lo}, hi={hi}, step={step}")
    n = int(round((hi - lo) / step)) + 1
    return 10.0 ** np.linspace(lo, hi, n)


# ----------------------------------------------------------------------------- linear model
def linear_objective(sigma, H, rho, c=1.0, lam=1.0):
    r"""Per-synapse objective of the linear model: :math:`\tfrac12 H\sigma^2 + \lambda c\sigma^{-\rho}`."""
    sigma = _positive("sigma", sigma)
    rho, c, lam = (float(_positive(n, v)) for n, v in (("rho", rho), ("c", c), ("lam", lam)))
    H = _finite_nonnegative("H (Hessian diagonal)", H)
    return 0.5 * H * sigma**2 + lam * c * sigma ** (-rho)


def optimal_sigma_linear(H, rho, c=1.0, lam=1.0):
    r"""Closed-form minimiser of :func:`linear_objective`.

    Setting the derivative to zero, :math:`H\sigma = \lambda c\rho\,\sigma^{-\rho-1}`, so

    .. math:: \sigma^* = \left(\frac{\lambda c \rho}{H}\right)^{1/(2+\rho)}.
    """
    H = _positive("H (Hessian diagonal)", H)
    rho, c, lam = (float(_positive(n, v)) for n, v in (("rho", rho), ("c", c), ("lam", lam)))
    return (lam * c * rho / H) ** (1.0 / (2.0 + rho))


def predicted_slopes(rho: float) -> dict[str, float]:
    """Log–log slopes of the linear-model optimum: against H, input rate², posterior s.d.

    ``"hessian"``: d log σ / d log H = −1/(2+ρ); ``"posterior_sd"``: d log σ / d log σ_post =
    2/(2+ρ) (σ_post = H^(−1/2)); ``"input_rate"``: −2/(2+ρ) when H ∝ x̄² (linear unit, Appendix 5).
    """
    rho = float(rho)
    if rho <= 0:
        raise ValueError(f"rho must be > 0; got {rho}")
    return {"hessian": -1 / (2 + rho), "posterior_sd": 2 / (2 + rho), "input_rate": -2 / (2 + rho)}


# ----------------------------------------------------------------------------- ELBO link
def entropic_cost(sigma):
    r"""Entropic reliability cost of a Gaussian synapse, :math:`-\log\sigma` (per synapse).

    The entropy of :math:`\mathcal N(\mu,\sigma^2)` is :math:`\tfrac12\log(2\pi e) + \log\sigma`; the
    negative ELBO contains minus the entropy, i.e. :math:`-\log\sigma` up to a constant.
    """
    if hasattr(sigma, "log") and not isinstance(sigma, np.ndarray):
        return -sigma.log()
    return -np.log(_positive("sigma", sigma))


def power_law_bound(sigma, rho):
    r"""The power-law upper bound on the entropic cost: :math:`(\sigma^{-\rho} - 1)/\rho`.

    From :math:`\log x \le x - 1` with :math:`x = \sigma^{-\rho}`:
    :math:`-\log\sigma = \tfrac1\rho\log\sigma^{-\rho} \le (\sigma^{-\rho}-1)/\rho`, equality at
    σ = 1 and, for fixed σ, in the limit ρ → 0. It is the reliability cost with
    :math:`c = 1/\rho` minus a constant, so the biological cost bounds the negative ELBO.
    """
    sigma = _positive("sigma", sigma)
    rho = _positive("rho", rho)
    return (sigma ** (-rho) - 1.0) / rho


# ----------------------------------------------------------------------------- two synapses (Fig. 4)
def quadratic_performance_cost(sigma, H):
    r"""Expected excess performance cost of noise on a quadratic loss: :math:`\tfrac12\sum_i H_i\sigma_i^2`.

    For :math:`L(w) = L^* + \tfrac12\sum_i H_i (w_i - w_i^*)^2` and :math:`w_i\sim\mathcal N(w_i^*,\sigma_i^2)`,
    :math:`\mathbb E[L] - L^* = \tfrac12\sum_i H_i\sigma_i^2` (last axis = synapses).
    """
    sigma = np.asarray(sigma, dtype=float)
    return 0.5 * np.sum(_positive("H", H) * sigma**2, axis=-1)


def sigmas_at_equal_cost(H, rho, budget, *, homogeneous: bool = False):
    r"""The σ's that spend a reliability budget :math:`\sum_i\sigma_i^{-\rho} = B` best.

    Homogeneous: one σ for all n synapses, :math:`\sigma = (B/n)^{-1/\rho}`. Heterogeneous: minimise
    :math:`\tfrac12\sum_i H_i\sigma_i^2` subject to the budget; the Lagrange condition
    :math:`H_i\sigma_i = \nu\rho\sigma_i^{-\rho-1}` gives :math:`\sigma_i = a H_i^{-1/(2+\rho)}`, with
    :math:`a` fixed by the budget: :math:`a = (B / \sum_i H_i^{\rho/(2+\rho)})^{-1/\rho}`.
    """
    H = _positive("H", H)
    rho, budget = float(rho), float(budget)
    if rho <= 0 or budget <= 0:
        raise ValueError(f"rho and budget must be > 0; got rho={rho}, budget={budget}")
    if homogeneous:
        return np.full_like(H, (budget / H.size) ** (-1.0 / rho))
    a = (budget / np.sum(H ** (rho / (2 + rho)))) ** (-1.0 / rho)
    return a * H ** (-1.0 / (2 + rho))
