"""Experiments of the raman2021 part: memory maintenance under ongoing synaptic change.

Raman & O'Leary (2021), *Optimal plasticity for memory maintenance during ongoing synaptic
change*, eLife 10:e62912. Simulations use :mod:`synlab.maintenance`; every unit runs all
compensation ratios and repeats of one sweep point as one batch of independent networks.

* ``raman_sweet_spot``   — Fig. 1b/c: compensation raised in stages at fixed fluctuations.
* ``raman_fig5_nonlinear`` / ``raman_fig5_linear`` — Fig. 5 and its figure supplement 1.
* ``raman_rules``        — the optimal ratio of 0th-, 1st- and 2nd-order rules, simulated on the
  linear (quadratic) network.
* ``raman_table2``       — Table 2 made numerical: Q[Δc]/Q[Δε] per rule and regime, and the
  noise interpolation of SI Eq. (8).

The module also holds :data:`TABLE1`, the paper's Table 1 (experimental estimates of the
fraction of synaptic change that is activity-independent) as data.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..maintenance import (
    StudentTeacher,
    compensation,
    newton_direction,
    noise_interpolation,
    optimal_ratio,
    simulate,
    unit_rows,
    zeroth_order_estimate,
)
from ..settings import PROFILES
from . import Experiment, register

__all__ = [
    "SweetSpotConfig",
    "Fig5Config",
    "RulesConfig",
    "Table2Config",
    "Study",
    "TABLE1",
    "RATIOS",
    "fraction_to_ratio",
    "AUTHORS_STORED",
    "AnisotropyConfig",
    "Eq9Config",
    "bootstrap_table",
    "crossing",
    "AGREEMENT_TOL",
    "authors_best_ratio",
    "agrees_with_authors",
    "fig5_summary",
    "anisotropy_curve",
]

#: Fig. 5: ‖Δc‖/‖Δε‖ ∈ {0.1, 0.4, …, 2.5} (paper, Fig. 5 x axis; authors' code)
RATIOS = tuple(round(0.1 + 0.3 * k, 2) for k in range(9))
_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: what each experiment registered by :func:`_register` is (``synlab list`` shows it)
_DESCRIPTIONS = {
    "raman_rules": "Raman & O'Leary 2021 Table 2 (quadratic column) simulated: optimal ratio of "
    "0th-, 1st- and 2nd-order compensation on the linear network",
    "raman_table2": "Raman & O'Leary 2021 Table 2 measured: Q[Δc]/Q[Δε] of 0th/1st/2nd-order rules "
    "per regime, and SI Eq. (8)",
    "raman_anisotropy": "Raman & O'Leary 2021, Fig. 5—supplement 1 explained: the linear network's "
    "optimal ratio against the input-covariance condition number (1 … 1e4), with Eq. 9",
    "raman_eq9_nonlinear": "Raman & O'Leary 2021 Fig. 5: Eq. 9's predicted optimum for the "
    "nonlinear network with Hessian and Gauss–Newton curvature, at the initial and the steady "
    "state",
}


def _sweep(key: str, field_name: str, cast=str):
    """The units of a sweep: ``{key: cast(v)}`` for each value ``v`` of the config's tuple
    ``field_name``."""
    return lambda cfg: [{key: cast(v)} for v in getattr(cfg, field_name)]


def _register(name: str, make_config, units, run_unit) -> None:
    """Register an experiment of this part, described in :data:`_DESCRIPTIONS`."""
    register(Experiment(name, _DESCRIPTIONS[name], make_config, units, run_unit, part="raman2021"))


def _one_thread(fn):
    """Run a unit with one torch thread on CPU: the batches here are small, and several threads
    on a shared 2-core machine were measured up to 50× slower than one (oversubscription)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(n)

    return wrapper


def _tiled(base: StudentTeacher, copies: int) -> StudentTeacher:
    """``copies`` blocks of ``base``'s networks in one task: network ``c * base.batch + r`` has
    the teacher and the inputs of ``base``'s network ``r`` (its own initial weights unused)."""
    task = StudentTeacher(
        batch=copies * base.batch,
        n_in=base.n_in,
        hidden=base.hidden,
        n_out=base.n_out,
        n_samples=base.n_samples,
        dtype=base.dtype,
    )
    task.inputs, task.theta_star = (
        base.inputs.repeat(copies, 1, 1),
        base.theta_star.repeat(copies, 1),
    )
    task.targets = base.targets.repeat(copies, 1, 1)
    task.second_moment = base.second_moment.repeat(copies, 1, 1)
    return task


def _known(profile: str) -> str:
    """``profile`` itself; a ValueError if it is neither ``quick`` nor ``full``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return profile


def _hidden(network: str) -> int | None:
    if network not in ("nonlinear", "linear"):
        raise ValueError(f"network must be 'nonlinear' or 'linear', got {network!r}")
    return 20 if network == "nonlinear" else None  # Methods: 12-20-10, or 12→10


# ----------------------------------------------------------------------------- Fig. 1b/c
@dataclass(frozen=True)
class SweetSpotConfig:
    """Fig. 1b/c: fixed fluctuations, compensation ratio raised in stages (exact gradient)."""

    network: str = "nonlinear"  # Fig. 1 uses the nonlinear network (Methods)
    fluct_norm: float = 2.0  # ‖Δε‖ = 2 "in the simulation of Figure 1" (Methods)
    stages: tuple[float, ...] = (
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
        1.5,
        2.0,
        3.0,
    )  # ratios, far below → far above 1 (Fig. 1b)
    steps_per_stage: int = 500  # "each stage is maintained so that task error can settle" (Fig. 1b)
    steady_fraction: float = 0.5  # the steady state of a stage: mean of its last half
    corruption: float = 0.0  # "In Figure 1, we set γ2 = 0" (Methods)
    repeats: int = 4  # the paper shows one run; we add repeats for error bars
    n_samples: int = 1000  # 1000 standard-normal inputs (Methods)
    record_weights: int = 6  # weights traced in Fig. 1c
    dtype: str = "float32"
    seed: int = 2021


def _sweet_spot_config(profile: str) -> SweetSpotConfig:
    if _known(profile) == "quick":
        return SweetSpotConfig(
            stages=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0), steps_per_stage=200, repeats=2
        )
    return SweetSpotConfig()


@_one_thread
def _run_sweet_spot(cfg: SweetSpotConfig, unit: dict) -> dict:
    task = StudentTeacher(
        batch=cfg.repeats,
        hidden=_hidden(cfg.network),
        n_samples=cfg.n_samples,
        seed=cfg.seed,
        dtype=_DTYPES[cfg.dtype],
    )
    S, T = len(cfg.stages), cfg.steps_per_stage
    sched = (
        torch.tensor(cfg.stages, dtype=task.dtype)
        .repeat_interleave(T)
        .unsqueeze(1)
        .expand(S * T, cfg.repeats)
    )
    tr = simulate(
        task,
        fluct_magnitude=cfg.fluct_norm,
        ratio=sched.contiguous(),
        corruption=cfg.corruption,
        n_steps=S * T,
        seed=cfg.seed + 1,
        record_weights=cfg.record_weights,
    )
    loss = tr.loss.double().numpy()  # (S*T, R)
    keep = max(1, int(round(cfg.steady_fraction * T)))
    stage_loss = loss.reshape(S, T, cfg.repeats)[:, T - keep :, :].mean(axis=1)  # (S, R)
    return {
        "stages": list(cfg.stages),
        "loss": loss,
        "stage_loss": stage_loss,
        "weights": tr.weights[:, 0, :].double().numpy(),  # (S*T, k) of the first repeat
        "best_stage_ratio": float(cfg.stages[int(np.argmin(stage_loss.mean(axis=1)))]),
        "n_weights": task.n_weights,
    }


register(
    Experiment(
        name="raman_sweet_spot",
        description="Raman & O'Leary 2021 Fig. 1b/c: steady-state error as compensation is raised in stages",
        make_config=_sweet_spot_config,
        units=lambda cfg: [{"network": cfg.network}],
        run_unit=_run_sweet_spot,
        part="raman2021",
    )
)


# ----------------------------------------------------------------------------- Fig. 5
@dataclass(frozen=True)
class Fig5Config:
    """Fig. 5 (nonlinear) / Fig. 5—figure supplement 1 (linear): steady error vs ‖Δc‖/‖Δε‖."""

    network: str = "nonlinear"
    corruptions: tuple[float, ...] = (
        0.1,
        20.0,
        50.0,
    )  # γ2/γ1; authors' code r = γ1/γ2 ∈ {10, 0.05, 0.02}
    ds: tuple[float, ...] = (0.01, 0.02, 0.03)  # ‖Δε‖ = d·√N (authors' code), Fig. 5 columns
    ratios: tuple[float, ...] = RATIOS  # Fig. 5 x axis
    n_steps: int = 8000  # "8000 timepoint ... simulation" (Fig. 5 legend)
    steady_window: int = 500  # "average task error of the last 500 timepoints" (Fig. 5 legend)
    repeats: int = 8  # "averaged across 8 simulation repeats" (Fig. 5 legend; the code uses 6)
    n_samples: int = 1000  # Methods
    q_probes: int = 16  # white-noise directions for Q[Δε] at the final states (ours)
    curve_every: int = 20  # loss curves stored every this many steps
    dtype: str = "float32"
    seed: int = 5


@dataclass(frozen=True)
class Fig5LinearConfig(Fig5Config):
    """Fig. 5—figure supplement 1: the linear network with its own corruption grid."""

    network: str = "linear"
    corruptions: tuple[float, ...] = (0.1, 1.0, 5.0)  # linear_figure.jl: γ2/γ1 ∈ {0.1, 1, 5}
    bootstrap: bool = False  # authors' code: a bootstrap sample of the 1000 inputs every step


def _fig5_config(network: str, bootstrap: bool = False):
    cls = Fig5LinearConfig if network == "linear" else Fig5Config
    extra = {"bootstrap": bootstrap} if network == "linear" else {}

    def make(profile: str) -> Fig5Config:
        if _known(profile) == "quick":
            return cls(
                network=network,
                corruptions=(0.1, 5.0) if network == "linear" else (0.1, 50.0),
                ds=(0.02,),
                ratios=(0.1, 0.4, 0.7, 1.0, 1.6, 2.5),
                n_steps=1000,
                steady_window=250,
                repeats=2,
                q_probes=8,
                **extra,
            )
        if bootstrap:  # the on/off table at the column of the authors' stored losses (d = 0.01)
            return cls(network=network, ds=(0.01,), **extra)
        return cls(network=network, **extra)

    return make


def _fig5_units(cfg: Fig5Config) -> list[dict]:
    return [
        {"network": cfg.network, "corruption": k, "d": d} for k in cfg.corruptions for d in cfg.ds
    ]


def _batched_q(task, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Q[v] for every network of the batch (one batched Hessian-vector product)."""
    u = unit_rows(v)
    return (u * task.hvp(theta, u)).sum(-1)


@_one_thread
def _run_fig5(cfg: Fig5Config, unit: dict) -> dict:
    k, d = float(unit["corruption"]), float(unit["d"])
    seed = cfg.seed + 1000 * cfg.corruptions.index(k) + cfg.ds.index(d)
    nr, R = len(cfg.ratios), cfg.repeats
    # networks ordered ratio-major: b = i_ratio * R + repeat; repeat r has the same teacher at every ratio
    base = StudentTeacher(
        batch=R,
        hidden=_hidden(cfg.network),
        n_samples=cfg.n_samples,
        seed=seed,
        dtype=_DTYPES[cfg.dtype],
    )
    task = _tiled(base, nr)
    ratio = torch.tensor(cfg.ratios, dtype=task.dtype).repeat_interleave(R)
    tr = simulate(
        task,
        fluct_magnitude=d * math.sqrt(task.n_weights),
        ratio=ratio,
        corruption=k,
        n_steps=cfg.n_steps,
        seed=seed + 1,
        bootstrap=getattr(cfg, "bootstrap", False),
    )
    loss = tr.loss.double()
    steady = loss[-cfg.steady_window :].mean(0).reshape(nr, R).numpy()
    curve = loss.reshape(-1, cfg.curve_every, nr * R).mean(1).reshape(-1, nr, R).mean(-1).numpy()
    # curvatures at the final states: Q[-∇F], Q[Δc] (a fresh compensatory direction), Q[Δε] sampled
    th = tr.theta
    gen = torch.Generator().manual_seed(seed + 2)
    g = task.gradient(th)
    q_grad = _batched_q(task, th, g)
    q_dc = _batched_q(task, th, compensation(g, 1.0, k, gen))
    q_eps = torch.stack(
        [
            _batched_q(task, th, torch.randn(th.shape, generator=gen, dtype=th.dtype))
            for _ in range(cfg.q_probes)
        ]
    ).mean(0)
    mean = steady.mean(1)
    best, refined = optimal_ratio(torch.tensor(cfg.ratios), torch.tensor(mean))
    qe, qc = q_eps.double().reshape(nr, R).numpy(), q_dc.double().reshape(nr, R).numpy()
    return {
        "ratios": list(cfg.ratios),
        "steady": steady,
        "steady_mean": mean,
        "steady_sd": steady.std(1, ddof=1),
        "curve": curve,
        "optimal_ratio": best,
        "optimal_ratio_refined": refined,
        "q_grad": q_grad.double().reshape(nr, R).numpy(),
        "q_dc": qc,
        "q_eps": qe,
        "q_dc_eq8": noise_interpolation(q_grad.double(), q_eps.double(), k).reshape(nr, R).numpy(),
        "n_weights": task.n_weights,
    }


for _net, _name, _fig, _boot in (
    ("nonlinear", "raman_fig5_nonlinear", "Fig. 5", False),
    ("linear", "raman_fig5_linear", "Fig. 5—figure supplement 1", False),
    ("linear", "raman_fig5_linear_bootstrap", "Fig. 5—figure supplement 1, bootstrap inputs", True),
):
    register(
        Experiment(
            name=_name,
            description=f"Raman & O'Leary 2021 {_fig}: steady-state error vs ‖Δc‖/‖Δε‖ ({_net} network)",
            make_config=_fig5_config(_net, _boot),
            units=_fig5_units,
            run_unit=_run_fig5,
            part="raman2021",
        )
    )


# ----------------------------------------------------------------------------- rules (simulated)
@dataclass(frozen=True)
class _SteadyStateConfig:
    """What the linear-network ratio sweeps share with Fig. 5: simulations of ``n_steps`` steps,
    the steady state the mean of the last ``steady_window``, ``repeats`` networks per point."""

    n_steps: int = 8000  # as Fig. 5
    steady_window: int = 500  # as Fig. 5
    repeats: int = 8  # as Fig. 5
    n_samples: int = 1000
    dtype: str = "float64"


@dataclass(frozen=True)
class RulesConfig(_SteadyStateConfig):
    """The optimal ratio of 0th-, 1st- and 2nd-order rules on the linear (quadratic) network."""

    rules: tuple[str, ...] = ("zeroth", "first", "second")  # Table 2 rows
    d: float = 0.02  # middle column of Fig. 5—figure supplement 1
    ratios: tuple[float, ...] = (
        0.1,
        0.25,
        0.4,
        0.55,
        0.7,
        0.85,
        1.0,
        1.15,
        1.3,
        1.6,
        1.9,
        2.5,
    )  # finer than Fig. 5
    n_probes: int = 1  # 0th order: one random perturbation per step (REINFORCE-like)
    newton_damping: float = 1e-3  # 2nd order: (|H| + μ I)⁻¹∇F, μ = 1e-3·Tr|H|/N (ours)
    seed: int = 7


def _rules_config(profile: str) -> RulesConfig:
    if _known(profile) == "quick":
        return RulesConfig(
            ratios=(0.1, 0.4, 0.7, 1.0, 1.3, 1.9), n_steps=1000, steady_window=300, repeats=2
        )
    return RulesConfig()


@_one_thread
def _run_rules(cfg: RulesConfig, unit: dict) -> dict:
    rule = unit["rule"]
    seed = cfg.seed + cfg.rules.index(rule)
    nr, R = len(cfg.ratios), cfg.repeats
    base = StudentTeacher(
        batch=R, hidden=None, n_samples=cfg.n_samples, seed=cfg.seed, dtype=_DTYPES[cfg.dtype]
    )
    task = _tiled(base, nr)
    ratio = torch.tensor(cfg.ratios, dtype=task.dtype).repeat_interleave(R)
    tr = simulate(
        task,
        fluct_magnitude=cfg.d * math.sqrt(task.n_weights),
        ratio=ratio,
        n_steps=cfg.n_steps,
        rule=rule,
        seed=seed,
        n_probes=cfg.n_probes,
        newton_damping=cfg.newton_damping,
    )
    steady = tr.loss[-cfg.steady_window :].double().mean(0).reshape(nr, R).numpy()
    best, refined = optimal_ratio(torch.tensor(cfg.ratios), torch.tensor(steady.mean(1)))
    return {
        "ratios": list(cfg.ratios),
        "steady": steady,
        "steady_mean": steady.mean(1),
        "steady_sd": steady.std(1, ddof=1),
        "optimal_ratio": best,
        "optimal_ratio_refined": refined,
    }


_register("raman_rules", _rules_config, _sweep("rule", "rules"), _run_rules)


# ----------------------------------------------------------------------------- Table 2 (measured)
@dataclass(frozen=True)
class Table2Config:
    """Table 2 made numerical: Q[Δc]/Q[Δε] of each rule in three regimes, at displaced states.

    A regime is a network and an isotropic displacement w = w* + s·√N·ξ̂ from the teacher
    (the SI's premise: w − w* projects evenly on the Hessian's eigenvectors).
    """

    regimes: tuple[str, ...] = ("quadratic", "low_error", "high_error")  # Table 2 columns
    networks: tuple[str, ...] = ("linear", "nonlinear", "nonlinear")  # linear network = quadratic F
    displacements: tuple[float, ...] = (0.05, 1e-4, 0.3)  # s per regime (ours; F ≈ 0, 3e-8 and 0.3)
    n_networks: int = 8  # independent teachers per regime
    n_directions: int = 64  # random draws for Q[Δε] and the 0th-order rule
    n_probes: int = 1  # 0th order: perturbations per estimate
    newton_damping: float = 1e-3  # as RulesConfig
    corruptions: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 20.0, 50.0)  # SI Eq. (8) check
    n_samples: int = 1000
    seed: int = 11


def _table2_config(profile: str) -> Table2Config:
    if _known(profile) == "quick":
        return Table2Config(n_networks=1, n_directions=12, corruptions=(0.0, 0.3, 1.0, 3.0, 20.0))
    return Table2Config()


def _table2_network(cfg: Table2Config, f, th: torch.Tensor, zs: torch.Tensor, gen) -> dict:
    """Table 2's curvatures of one network (loss ``f`` at ``th``; ``zs`` its zeroth-order
    directions), drawing its probe and corruption directions from ``gen``."""
    from .. import curvature as C

    N = th.shape[-1]
    H = C.hessian(f, th)
    g = C.gradient(f, th)
    eps = torch.randn(cfg.n_directions, N, generator=gen, dtype=torch.float64)
    q_eps = C.curvature_along(f, th, eps)
    newton = newton_direction(H, g, cfg.newton_damping)
    row = {
        "loss": float(f(th)),
        "q_eps_trace": float(torch.trace(H) / N),  # Eq. (12)
        "q_eps": float(q_eps.mean()),
        "q_zeroth": float(C.curvature_along(f, th, zs).mean()),
        "q_first": float(C.curvature_along(f, th, g)),
        "q_second": float(C.curvature_along(f, th, newton)),
        "lambda_min": float(torch.linalg.eigvalsh(H)[0]),
    }
    # SI Eq. (8): Q of the corrupted first-order direction vs the interpolation formula
    dcs = torch.stack(
        [compensation(g.expand(cfg.n_directions, N), 1.0, k, gen) for k in cfg.corruptions]
    )
    row["q_dc"] = (
        C.curvature_along(f, th, dcs.reshape(-1, N))
        .reshape(len(cfg.corruptions), -1)
        .mean(1)
        .tolist()
    )
    row["q_dc_eq8"] = noise_interpolation(
        row["q_first"], row["q_eps_trace"], torch.tensor(cfg.corruptions)
    ).tolist()
    return row


@_one_thread
def _run_table2(cfg: Table2Config, unit: dict) -> dict:
    i = cfg.regimes.index(unit["regime"])
    network, s = cfg.networks[i], cfg.displacements[i]
    task = StudentTeacher(
        batch=cfg.n_networks,
        hidden=_hidden(network),
        n_samples=cfg.n_samples,
        seed=cfg.seed + i,
        dtype=torch.float64,
    )
    gen = torch.Generator().manual_seed(cfg.seed + 100 + i)
    N = task.n_weights
    theta = task.theta_star + s * math.sqrt(N) * unit_rows(
        torch.randn(task.theta_star.shape, generator=gen, dtype=torch.float64)
    )
    zeroth = torch.stack(
        [
            zeroth_order_estimate(task.loss, theta, gen, n_probes=cfg.n_probes)
            for _ in range(cfg.n_directions)
        ]
    )  # (n_directions, B, N)
    rows = [
        _table2_network(cfg, task.loss_fn(b), theta[b], zeroth[:, b], gen)
        for b in range(cfg.n_networks)
    ]
    res = {k: np.asarray([row[k] for row in rows]) for k in rows[0]}
    res.update(
        {
            "corruptions": list(cfg.corruptions),
            "network": network,
            "displacement": s,
            "n_weights": N,
        }
    )
    return res


_register("raman_table2", _table2_config, _sweep("regime", "regimes"), _run_table2)


# ----------------------------------------------------------------------------- Table 1 (data)
@dataclass(frozen=True)
class Study:
    """One row of Table 1 of Raman & O'Leary (2021)."""

    reference: str  # as cited in Table 1 of the paper
    system: str
    baseline_change: str  # "total baseline synaptic change", abridged from the table
    independent_percent: tuple[float, ...] = field(
        default=()
    )  # % activity/learning-independent (per measure)
    measure: tuple[str, ...] = field(default=())  # what the percentage refers to


#: Table 1 of Raman & O'Leary (2021), transcribed from the paper; "NA" rows have no percentages.
TABLE1: tuple[Study, ...] = (
    Study("Pfeiffer et al., 2018", "adult mouse hippocampus", "40% turnover over 4 days"),
    Study(
        "Loewenstein et al., 2011",
        "adult mouse auditory cortex",
        ">70% of spines changed size by >50% over 20 days",
    ),
    Study(
        "Zuo et al., 2005",
        "adult mouse barrel, motor and frontal cortex",
        "3–5% turnover over 2 weeks; 73.9 ± 2.8% of spines stable over 18 months",
    ),
    Study(
        "Nagaoka et al., 2016",
        "adult mouse visual cortex",
        "8% (deprived) / 15% (enriched) turnover per 2 days; 7–8% with spiking suppressed",
        (50.0,),
        ("turnover",),
    ),
    Study(
        "Quinn et al., 2019",
        "rat hippocampal culture, glutamatergic synapses",
        "28 ± 3.7% formed, 28.6 ± 2.3% eliminated per 24 h",
        (75.0,),
        ("turnover",),
    ),
    Study(
        "Yasumatsu et al., 2008",
        "rat hippocampal CA1 culture",
        "32.8 ± 3.7% vs 22.0 ± 3.6% turnover per day (control vs NMDAR block)",
        (67.0, 50.0),
        ("turnover", "spine-head volume (lower bound, >50%)"),
    ),
    Study(
        "Dvorkin and Ziv, 2016",
        "mouse cortical culture",
        "covariance of commonly innervated vs other synapses",
        (63.0,),
        ("plasticity (62–64%)",),
    ),
    Study(
        "Minerbi et al., 2009",
        "rat cortical culture",
        "relative synaptic remodelling 0.4 (control) vs 0.3 (TTX) after 30 h",
        (75.0,),
        ("plasticity",),
    ),
    Study(
        "Kasthuri et al., 2015",
        "adult mouse neocortex (EM, post mortem)",
        "124 redundant synapse pairs (analysed by Dvorkin and Ziv, 2016)",
        (77.0, 66.0),
        ("PSD size (r² = 0.23)", "spine volume (r² = 0.34)"),
    ),
    Study(
        "Ziv and Brenner, 2018",
        "literature review",
        "spontaneous and activity history-dependent remodelling of similar magnitude",
        (50.0,),
        ("review",),
    ),
)


def fraction_to_ratio(independent_percent: float | np.ndarray) -> float | np.ndarray:
    r"""‖Δc‖/‖Δε‖ implied by a percentage :math:`p` of activity-independent change.

    Reading "activity-dependent" as compensatory and the percentages as shares of the total
    magnitude of change, :math:`\lVert\Delta c\rVert/\lVert\Delta\epsilon\rVert=(100-p)/p`.
    (If they were shares of the variance of independent processes, the ratio would be
    :math:`\sqrt{(100-p)/p}`; both are ≤ 1 exactly when :math:`p\ge50\%`.)
    """
    p = np.asarray(independent_percent, dtype=float)
    if np.any((p <= 0) | (p > 100)):
        raise ValueError("percentages must be in (0, 100]")
    r = (100.0 - p) / p
    return float(r) if r.ndim == 0 else r


# ============================================================================= issue 19: fidelity
#: The authors' stored results (``data/linear_call.bson``, ``data/nonlinear_call.bson`` in
#: Dhruva2/OptimalPlasticityRatios, written by an earlier, unpublished version of their code), as
#: read for synlab (``code_facts.md``): the best ratio on the grid 0.1 … 2.5 and its refinement by
#: a parabola through the three best points, per network and corruption γ₂/γ₁; and the stored
#: linear losses at γ₂/γ₁ = 0.1, d = 0.01 over the ratio grid. These are the AUTHORS' numbers.
AUTHORS_STORED = {
    "source": "Raman & O'Leary, stored results in Dhruva2/OptimalPlasticityRatios (data/*.bson)",
    "best_ratio": {
        # (network, corruption): ((grid best low, high), (refined low, high))
        ("linear", 0.1): ((0.7, 0.7), (0.77, 0.78)),
        ("linear", 1.0): ((1.0, 1.0), (0.86, 0.92)),
        ("linear", 5.0): ((1.0, 1.3), (1.06, 1.22)),
        ("nonlinear", 0.1): ((0.4, 0.4), (0.50, 0.52)),
        ("nonlinear", 20.0): ((1.0, 1.0), (1.00, 1.06)),
        ("nonlinear", 50.0): ((0.7, 1.0), (0.82, 0.88)),
    },
    "linear_losses_k0.1_d0.01": {
        "ratios": RATIOS,
        "loss": (0.395, 0.0352, 0.0255, 0.0285, 0.0368, 0.0472, 0.0609, 0.076, 0.0937),
    },
}


def bootstrap_table(res_off, res_on) -> list[dict]:
    """Bootstrap sampling off (``raman_fig5_linear``) against on (``raman_fig5_linear_bootstrap``):
    one row per (corruption, d) with the best ratio on the grid, its refinement and the mean
    steady loss at the best ratio, for both, and the authors' stored refinement beside them."""
    on = {(r.unit["corruption"], r.unit["d"]): r.result for r in res_on.records}
    rows = []
    for rec in res_off.records:
        key = (rec.unit["corruption"], rec.unit["d"])
        if key not in on:
            continue
        a, b = rec.result, on[key]
        authors = AUTHORS_STORED["best_ratio"].get(("linear", float(key[0])))
        rows.append(
            {
                "corruption": float(key[0]),
                "d": float(key[1]),
                "best_off": float(a["optimal_ratio"]),
                "refined_off": float(a["optimal_ratio_refined"]),
                "loss_off": float(np.min(a["steady_mean"])),
                "best_on": float(b["optimal_ratio"]),
                "refined_on": float(b["optimal_ratio_refined"]),
                "loss_on": float(np.min(b["steady_mean"])),
                "authors_refined": authors[1] if authors else None,
            }
        )
    return rows


# ----------------------------------------------------------------------------- anisotropy
@dataclass(frozen=True)
class AnisotropyConfig(_SteadyStateConfig):
    """Why the linear network's optimum is 1 with white inputs, and what anisotropy does.

    Family (one, named): the input covariance C has eigenvalues log-spaced from 1 to κ (its
    condition number), scaled to mean 1, in a random basis (:func:`input_sqrt_covariance`).
    κ = 1 is the paper's white inputs. The linear network's Hessian is (2/n_out) I ⊗ C, so
    κ is also the Hessian's condition number.
    """

    conditions: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 1e3, 1e4)
    corruptions: tuple[float, ...] = (0.1,)  # where the authors' stored optimum is 0.77
    d: float = 0.01  # the column of the authors' stored losses
    # 0.1 … 1.5 in steps of 0.1, then 2.0 and 2.5 (the optimum never exceeds 1 here)
    ratios: tuple[float, ...] = tuple(round(0.1 * k, 2) for k in range(1, 16)) + (2.0, 2.5)
    seed: int = 19


def _anisotropy_config(profile: str) -> AnisotropyConfig:
    if _known(profile) == "quick":
        return AnisotropyConfig(
            conditions=(1.0, 100.0),
            corruptions=(0.1,),
            ratios=(0.2, 0.5, 0.8, 1.0, 1.3, 2.0),
            n_steps=1500,
            steady_window=300,
            repeats=2,
        )
    return AnisotropyConfig()


def _linear_eq9(task, theta, corruption: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 9 on the linear network at states ``theta``: Q[Δε] = Tr H/N (exact, constant H),
    Q[∇F] at each state, Q[Δc] by SI Eq. 8, and the predicted ratio √(Q[Δε]/Q[Δc])."""
    H = task.hessian(theta)
    q_eps = torch.diagonal(H, dim1=-2, dim2=-1).sum(-1).double() / task.n_weights
    g = task.gradient(theta)
    q_grad = _batched_q(task, theta, g).double()
    q_dc = noise_interpolation(q_grad, q_eps, corruption)
    return q_grad.numpy(), q_dc.numpy(), np.sqrt((q_eps / q_dc).numpy())


@_one_thread
def _run_anisotropy(cfg: AnisotropyConfig, unit: dict) -> dict:
    kappa = float(unit["condition"])
    i = cfg.conditions.index(kappa)
    nr, R, nk = len(cfg.ratios), cfg.repeats, len(cfg.corruptions)
    dt = _DTYPES[cfg.dtype]
    base = StudentTeacher(
        batch=R, hidden=None, n_samples=cfg.n_samples, seed=cfg.seed + i, dtype=dt,
        input_condition=kappa,
    )  # fmt: skip
    # networks ordered (corruption, ratio, repeat); repeat r has one teacher and input set
    task = _tiled(base, nk * nr)
    ratio = torch.tensor(cfg.ratios, dtype=dt).repeat_interleave(R).repeat(nk)
    corr = torch.tensor(cfg.corruptions, dtype=dt).repeat_interleave(nr * R)
    tr = simulate(
        task,
        fluct_magnitude=cfg.d * math.sqrt(task.n_weights),
        ratio=ratio,
        corruption=corr,
        n_steps=cfg.n_steps,
        seed=cfg.seed + 100 + i,
    )
    steady = tr.loss[-cfg.steady_window :].double().mean(0).reshape(nk, nr, R).numpy()
    mean = steady.mean(-1)
    H = base.hessian(base.theta_star)
    ev = torch.linalg.eigvalsh(H[0]).numpy()
    out = {
        "condition": kappa,
        "corruptions": list(cfg.corruptions),
        "ratios": list(cfg.ratios),
        "steady": steady,
        "steady_mean": mean,
        "hessian_condition": float(ev.max() / ev.min()),
        "input_cov_eigenvalues": torch.linalg.eigvalsh(base.second_moment[0]).numpy(),
    }
    best, refined, pred = [], [], []
    for j, k in enumerate(cfg.corruptions):
        b, r = optimal_ratio(torch.tensor(cfg.ratios), torch.tensor(mean[j]))
        best.append(b)
        refined.append(r)
        # Eq. 9 at the steady states of the networks run at the grid optimum
        ib = int(np.argmin(mean[j]))
        sl = slice((j * nr + ib) * R, (j * nr + ib + 1) * R)
        _, _, p = _linear_eq9(base, tr.theta[sl], k)
        pred.append(float(np.mean(p)))
    out.update(optimal_ratio=np.array(best), optimal_ratio_refined=np.array(refined),
               eq9_ratio=np.array(pred))  # fmt: skip
    return out


_register(
    "raman_anisotropy",
    _anisotropy_config,
    _sweep("condition", "conditions", float),
    _run_anisotropy,
)


def crossing(x, y, level: float) -> float | None:
    """The first x (interpolated linearly in log x) where y crosses ``level``; None if it never
    does on the grid. For the anisotropy sweep: the condition number where the optimum reaches
    the authors' stored 0.77."""
    lx, y = np.log10(np.asarray(x, dtype=float)), np.asarray(y, dtype=float) - level
    for a in range(len(y) - 1):
        if y[a] == 0:
            return float(10 ** lx[a])
        if y[a] * y[a + 1] < 0:
            t = y[a] / (y[a] - y[a + 1])
            return float(10 ** (lx[a] + t * (lx[a + 1] - lx[a])))
    return float(10 ** lx[-1]) if y[-1] == 0 else None


#: How close our best ratio must be to the authors' stored range to "agree": a sixth of the grid
#: step 0.3 (the refinement by a parabola is not finer than that).
AGREEMENT_TOL = 0.05


def authors_best_ratio(network: str, corruption: float) -> tuple[float, float] | None:
    """The authors' stored refined best ratio (low, high) for a network and γ₂/γ₁, or None."""
    got = AUTHORS_STORED["best_ratio"].get((network, float(corruption)))
    return None if got is None else got[1]


def agrees_with_authors(values, network: str, corruption: float, tol: float = AGREEMENT_TOL):
    """Whether our optima (over d) agree with the authors' stored refined range: True if the range
    of ``values`` overlaps the authors' range or lies within ``tol`` of it, False if not, None if
    the authors stored nothing for this network and corruption."""
    rng = authors_best_ratio(network, corruption)
    if rng is None:
        return None
    v = np.atleast_1d(np.asarray(values, dtype=float))
    gap = max(v.min() - rng[1], rng[0] - v.max(), 0.0)
    return bool(gap <= tol + 1e-12)


def fig5_summary(res) -> list[dict]:
    """One row per unit of ``raman_fig5_*``, ordered by (γ₂/γ₁, d): the best ratio on the grid, its
    refinement, the Eq. 9 prediction at the grid optimum (OUR calculation, from the curvatures
    measured at the end of the runs), the mean steady error there and Q[∇F]/Q[Δε]."""
    rows = []
    for rec in res.records:
        r = rec.result
        mean = np.asarray(r["steady_mean"], dtype=float)
        ib = int(np.argmin(mean))
        q_eps, q_dc = np.asarray(r["q_eps"])[ib].mean(), np.asarray(r["q_dc"])[ib].mean()
        rows.append(
            {
                "corruption": float(rec.unit["corruption"]),
                "d": float(rec.unit["d"]),
                "best": float(r["optimal_ratio"]),
                "refined": float(r["optimal_ratio_refined"]),
                "eq9": float(np.sqrt(q_eps / q_dc)) if q_eps > 0 and q_dc > 0 else float("nan"),
                "steady_error": float(mean[ib]),
                "grad_curvature": float((np.asarray(r["q_grad"]) / np.asarray(r["q_eps"])).mean()),
            }
        )
    return sorted(rows, key=lambda row: (row["corruption"], row["d"]))


def anisotropy_curve(res, corruption: float = 0.1) -> dict[str, np.ndarray]:
    """The anisotropy sweep at one γ₂/γ₁, ordered by κ: ``condition`` (κ of the input covariance),
    ``hessian_condition`` (measured), ``best`` (grid), ``refined`` (simulated optimum) and
    ``eq9`` (our Eq. 9 at the steady states of the grid optimum)."""
    j = list(res.config.corruptions).index(corruption)
    recs = sorted(res.records, key=lambda rec: float(rec.unit["condition"]))
    pick = lambda key: np.array([float(np.atleast_1d(r.result[key])[j]) for r in recs])  # noqa: E731
    return {
        "condition": np.array([float(r.unit["condition"]) for r in recs]),
        "hessian_condition": np.array([float(r.result["hessian_condition"]) for r in recs]),
        "best": pick("optimal_ratio"),
        "refined": pick("optimal_ratio_refined"),
        "eq9": pick("eq9_ratio"),
    }


# ----------------------------------------------------------------------------- Eq. 9, nonlinear
@dataclass(frozen=True)
class Eq9Config:
    """Eq. 9 for the nonlinear network with several curvature choices, beside the simulation.

    Networks are run at the simulated optimum ratio to steady state (as Fig. 5); at the initial
    states (students at the teacher) and at the final states we measure Q[Δε] (mean curvature of
    white noise, Tr/N), Q[∇F] and Q along fresh compensatory directions, each with the Hessian
    and with the Gauss–Newton matrix, and give √(Q[Δε]/Q[Δc]) for each choice.
    """

    corruption: float = 0.1  # Fig. 5's low-corruption column, where the simulated optimum is 0.49
    ds: tuple[float, ...] = (0.01, 0.02, 0.03)
    ratio: float = 0.5  # near the simulated optimum (0.49)
    n_steps: int = 8000
    repeats: int = 8
    n_samples: int = 1000
    n_directions: int = 16  # fresh compensatory directions per state
    dtype: str = "float64"
    seed: int = 23


def _eq9_config(profile: str) -> Eq9Config:
    if _known(profile) == "quick":
        return Eq9Config(ds=(0.02,), n_steps=600, repeats=2, n_directions=4, n_samples=300)
    return Eq9Config()


def _dense(prod, theta: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """The matrix ``(B, N, N)`` of a batched matrix-vector product ``prod(theta, v)``."""
    B, N = theta.shape
    eye = torch.eye(N, dtype=theta.dtype)
    cols = []
    for s in range(0, N, chunk):
        basis = eye[s : s + chunk].unsqueeze(1).expand(-1, B, N)
        cols.append(torch.func.vmap(lambda e: prod(theta, e))(basis))
    return torch.cat(cols).permute(1, 0, 2).contiguous()


def _curvatures(task, theta, corruption, n_directions, gen) -> dict[str, np.ndarray]:
    """Per network: Q[Δε] = Tr/N, Q[∇F] and mean Q[Δc] over fresh compensatory directions, with the
    Hessian ("H") and the Gauss–Newton matrix ("GN"), from the dense matrices."""
    N = task.n_weights
    g = task.gradient(theta)
    dirs = [unit_rows(compensation(g, 1.0, corruption, gen)) for _ in range(n_directions)]
    out = {}
    for name, prod in (("H", task.hvp), ("GN", task.gnvp)):
        M = _dense(prod, theta)
        M = 0.5 * (M + M.transpose(-1, -2))
        q = lambda v: torch.einsum("bi,bij,bj->b", v, M, v)  # noqa: E731
        out[f"q_eps_{name}"] = (torch.diagonal(M, dim1=-2, dim2=-1).sum(-1) / N).numpy()
        out[f"q_grad_{name}"] = q(unit_rows(g)).numpy()
        out[f"q_dc_{name}"] = torch.stack([q(v) for v in dirs]).mean(0).numpy()
        ev = torch.linalg.eigvalsh(M)
        out[f"lambda_min_{name}"] = ev[:, 0].numpy()
        out[f"lambda_max_{name}"] = ev[:, -1].numpy()
    return out


@_one_thread
def _run_eq9(cfg: Eq9Config, unit: dict) -> dict:
    d = float(unit["d"])
    i = cfg.ds.index(d)
    dt = _DTYPES[cfg.dtype]
    task = StudentTeacher(batch=cfg.repeats, hidden=20, n_samples=cfg.n_samples,
                          seed=cfg.seed + i, dtype=dt)  # fmt: skip
    theta0 = task.initial_state(seed=cfg.seed + 50 + i)
    tr = simulate(
        task,
        fluct_magnitude=d * math.sqrt(task.n_weights),
        ratio=cfg.ratio,
        corruption=cfg.corruption,
        n_steps=cfg.n_steps,
        theta0=theta0,
        seed=cfg.seed + 100 + i,
    )
    gen = torch.Generator().manual_seed(cfg.seed + 200 + i)
    out = {"d": d, "corruption": cfg.corruption, "ratio": cfg.ratio,
           "steady_loss": tr.loss[-500:].double().mean(0).numpy()}  # fmt: skip
    for state, th in (("initial", theta0), ("steady", tr.theta)):
        c = _curvatures(task, th, cfg.corruption, cfg.n_directions, gen)
        for name in ("H", "GN"):
            qe, qg, qc = c[f"q_eps_{name}"], c[f"q_grad_{name}"], c[f"q_dc_{name}"]
            eq8 = noise_interpolation(torch.tensor(qg), torch.tensor(qe), cfg.corruption).numpy()
            out[f"{state}_{name}_q_eps"] = qe
            out[f"{state}_{name}_q_grad"] = qg
            out[f"{state}_{name}_q_dc"] = qc
            out[f"{state}_{name}_ratio"] = np.sqrt(np.clip(qe, 0, None) / qc)  # Δc sampled
            out[f"{state}_{name}_ratio_eq8"] = np.sqrt(np.clip(qe, 0, None) / eq8)
    return out


_register("raman_eq9_nonlinear", _eq9_config, _sweep("d", "ds", float), _run_eq9)
