"""Exercise checkers of the Foundations part.

Each checker takes the student's function, tries it on several cases and says which case
failed, what was expected, what was given, and what the usual mistake behind that number is.
"""

from __future__ import annotations

import math

import numpy as np

from . import Feedback, call, close, exercise, known_mistake


# ----------------------------------------------------------------------------- 01 quantal release
@exercise("foundations.binomial_cv")
def check_binomial_cv(cv) -> Feedback:
    """``cv(N, p)`` = sqrt((1 − p) / (N p))."""
    cases = [(1, 0.5), (10, 0.2), (4, 0.9), (100, 0.05), (3, 1.0)]
    for N, p in cases:
        expected = math.sqrt((1 - p) / (N * p))
        given = call(cv, N, p)
        if not close(given, expected, rel=1e-6, abs_=1e-12):
            hint = known_mistake(
                given,
                "CV = standard deviation / mean, with sd = q·sqrt(Np(1−p)) and mean = Npq.",
                [
                    (
                        expected**2,
                        "you returned the squared CV (variance / mean²): take the square root.",
                    ),
                    (
                        math.sqrt(N * p * (1 - p)),
                        "you returned the standard deviation of the count, not divided by its "
                        "mean Np.",
                    ),
                    (
                        math.sqrt(p / (N * (1 - p))) if p < 1 else math.inf,
                        "p and 1 − p are swapped: the CV grows as release becomes *less* likely.",
                    ),
                    (
                        math.sqrt((1 - p) / p) if N > 1 else None,
                        "this is the CV of a single site: N independent sites divide the CV by "
                        "sqrt(N).",
                    ),
                ],
            )
            return Feedback(
                False, f"cv(N={N}, p={p}): expected {expected:.6g}, got {given!r}. Hint: {hint}"
            )
    return Feedback(
        True, f"cv matches sqrt((1−p)/(Np)) on {len(cases)} cases, including p = 1 (CV 0)."
    )


@exercise("foundations.sites_for_cv")
def check_sites_for_cv(sites_for_cv) -> Feedback:
    """``sites_for_cv(target, p)``: the smallest integer N with CV(N, p) ≤ target."""
    cases = [(0.4, 0.5), (0.1, 0.3), (0.3, 0.8), (1.0, 0.6), (0.07, 0.05), (2.0, 1.0)]
    for target, p in cases:
        exact = (1 - p) / (p * target**2)
        expected = max(1, math.ceil(exact - 1e-9))
        given = call(sites_for_cv, target, p)
        try:
            g = float(given)
            ok = g == expected and float(given) == int(given)
        except (TypeError, ValueError):
            g, ok = None, False
        if not ok:
            hint = known_mistake(
                g,  # None when the answer is not a number
                "solve sqrt((1−p)/(Np)) ≤ target for N: N ≥ (1−p)/(p·target²), then round *up* "
                "to an integer ≥ 1.",
                [
                    (
                        lambda g: not g.is_integer(),
                        "N counts release sites: return an integer (round the bound up with "
                        "math.ceil).",
                    ),
                    (
                        lambda g: g < 1,
                        "a synapse has at least one release site: N ≥ 1 (clamp with max(1, ...)).",
                    ),
                    (
                        lambda g: g == math.floor(exact) and g < expected,
                        "you rounded down: that N gives a CV just above the target. Round up.",
                    ),
                    (
                        math.ceil((1 - p) / (p * target)),
                        "the CV is a square root: the bound has target² in the denominator, not "
                        "target.",
                    ),
                ],
                rel=1e-9,
            )
            return Feedback(
                False,
                f"sites_for_cv(target={target}, p={p}): expected N = {expected} "
                f"(bound {exact:.4g}), got {given!r}. Hint: {hint}",
            )
    return Feedback(True, f"the smallest N meeting the target CV is right on {len(cases)} cases.")


# ----------------------------------------------------------------------------- 02 curvature
_Q_CASES = [
    (np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([1.0, 0.0])),
    (np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([1.0, 1.0])),
    (np.array([[2.0, 1.5], [1.5, 4.0]]), np.array([0.3, -2.0])),
    (np.array([[2.0, 1.5], [1.5, 4.0]]), np.array([5.0, 5.0])),
]


@exercise("foundations.curvature_along")
def check_curvature_along(q_fn) -> Feedback:
    """``q_fn(A, v)`` = v̂ᵀ A v̂ with v̂ = v / |v| (A symmetric, numpy arrays)."""
    for i, (A, v) in enumerate(_Q_CASES, 1):
        vhat = v / np.linalg.norm(v)
        expected = float(vhat @ A @ vhat)
        given = call(q_fn, A.copy(), v.copy())
        if not close(given, expected, rel=1e-8, abs_=1e-10):
            vAv = float(v @ A @ v)
            hint = known_mistake(
                given,
                "normalise the direction first, v̂ = v/‖v‖, then compute v̂ᵀ A v̂.",
                [
                    (
                        vAv,
                        "you did not normalise v: vᵀAv grows with ‖v‖², but curvature is a "
                        "property of the direction only.",
                    ),
                    (
                        vAv / float(np.linalg.norm(v)),
                        "you divided by ‖v‖ once; v̂ᵀAv̂ = vᵀAv/‖v‖² (divide by the squared norm).",
                    ),
                    (
                        float(np.linalg.norm(A @ vhat)),
                        "‖Av̂‖ is the stretch of v̂, not the curvature: project back onto v̂, "
                        "i.e. v̂ᵀ(Av̂).",
                    ),
                ],
                rel=1e-8,
            )
            return Feedback(
                False,
                f"case {i}: A = {A.tolist()}, v = {v.tolist()}: expected Q = {expected:.6g}, "
                f"got {given!r}. Hint: {hint}",
            )
    return Feedback(
        True,
        f"Q_w[v] is right on {len(_Q_CASES)} cases (it always lies between the extreme "
        "eigenvalues).",
    )


def _test_matrices() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    mats = [np.diag([1.0, 2.0, 3.0]), np.array([[2.0, 1.0], [1.0, 2.0]])]
    for n in (4, 6):
        B = rng.standard_normal((n, n))
        mats.append((B + B.T) / 2)
    return mats


@exercise("foundations.hutchinson_variance")
def check_hutchinson_variance(var_fn) -> Feedback:
    """``var_fn(H)`` = Var[vᵀHv] for Rademacher v = 2 Σ_{i≠j} H_ij² (H symmetric)."""
    for i, H in enumerate(_test_matrices(), 1):
        off = H - np.diag(np.diag(H))
        expected = float(2 * (off**2).sum())
        given = call(var_fn, H.copy())
        if not close(given, expected, rel=1e-8, abs_=1e-10):
            hint = known_mistake(
                given,
                "expand vᵀHv = Σ_i H_ii v_i² + Σ_{i≠j} H_ij v_i v_j; with v_i = ±1 the first sum "
                "is the trace exactly, and the cross terms v_i v_j are ±1 with zero mean and "
                "pairwise uncorrelated.",
                [
                    (
                        float(2 * (H**2).sum()),
                        "2‖H‖_F² is the variance for *Gaussian* probes; Rademacher probes have "
                        "v_i² = 1 exactly, so the diagonal contributes no variance: drop the H_ii "
                        "terms.",
                    ),
                    (
                        float((off**2).sum()),
                        "each unordered pair {i, j} appears twice (H_ij v_i v_j + H_ji v_j v_i = "
                        "2H_ij v_i v_j), so Var = Σ_{i<j} 4H_ij² = 2 Σ_{i≠j} H_ij²: you are "
                        "missing the factor 2.",
                    ),
                    (
                        float(4 * (off**2).sum()),
                        "you counted each pair twice *and* doubled: Σ_{i≠j} already includes both "
                        "(i, j) and (j, i).",
                    ),
                ],
                rel=1e-8,
            )
            return Feedback(
                False,
                f"matrix {i} (shape {H.shape}): expected variance {expected:.6g}, got {given!r}. "
                f"Hint: {hint}",
            )
    return Feedback(
        True,
        "Var[vᵀHv] = 2 Σ_{i≠j} H_ij² for Rademacher probes on every test matrix, "
        "diagonal matrices included (variance 0: the estimate is exact).",
    )


# ----------------------------------------------------------------------------- 03 information
def _mi_bits(counts: np.ndarray) -> float:
    P = counts / counts.sum()
    py, pz = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    m = P > 0
    return float((P[m] * np.log2(P[m] / (py @ pz)[m])).sum())


_CONFUSIONS = [
    np.array([[50, 0], [0, 50]]),
    np.array([[25, 25], [25, 25]]),
    np.array([[40, 10], [5, 45]]),
    np.array([[30, 5, 0], [2, 20, 8], [0, 10, 25]]),
    np.array([[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 5, 5], [0, 0, 5, 5]]),
]


@exercise("foundations.mi_from_confusion")
def check_mi_from_confusion(mi_fn) -> Feedback:
    """``mi_fn(counts)`` = I(Y; Z) in bits from a confusion matrix of counts (rows: label,
    columns: output)."""
    for i, C in enumerate(_CONFUSIONS, 1):
        expected = _mi_bits(C.astype(float))
        given = call(mi_fn, C.copy())
        if not close(given, expected, rel=1e-6, abs_=1e-9):
            hint = known_mistake(
                given,
                "normalise the counts to a joint P(y, z), take the marginals P(y) (row sums) and "
                "P(z) (column sums), and sum P log2[P / (P(y)P(z))] over the non-zero cells.",
                [
                    (
                        expected * math.log(2) if expected > 0 else None,
                        "you used the natural logarithm (nats): use log2 for bits (1 nat = 1/ln 2 "
                        "bits).",
                    ),
                    (
                        lambda g: not math.isfinite(g),
                        "zero cells give 0·log 0: skip them (the limit is 0) instead of computing "
                        "log(0).",
                    ),
                    (
                        float(np.log2(C.shape[0])),
                        "log2(K) is the entropy of uniform labels, an upper bound, not the "
                        "information the outputs carry.",
                    ),
                    (
                        lambda g: _mi_unnormalised(C) if C.sum() != 1 else None,
                        "the counts must be normalised to probabilities (divide by the total) "
                        "before use.",
                    ),
                ],
            )
            return Feedback(
                False,
                f"confusion matrix {i} {C.tolist()}: expected I = {expected:.6g} bits, "
                f"got {given!r}. Hint: {hint}",
            )
    return Feedback(
        True,
        f"I(Y;Z) is right on {len(_CONFUSIONS)} confusion matrices, including a perfect (1 bit) "
        "and a useless (0 bits) classifier.",
    )


def _mi_unnormalised(C: np.ndarray) -> float:
    P = C.astype(float)
    py, pz = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    m = P > 0
    with np.errstate(all="ignore"):
        return float((P[m] * np.log2(P[m] / (py @ pz)[m])).sum())


def symmetric_mi_reference(K: int, a: float) -> float:
    """I(Y;Z) in bits for K balanced classes, accuracy a, errors spread evenly over the K − 1
    other classes."""
    terms = [a * math.log2(a) if a > 0 else 0.0]
    if a < 1:
        terms.append((1 - a) * math.log2((1 - a) / (K - 1)))
    return math.log2(K) + sum(terms)


@exercise("foundations.symmetric_mi")
def check_symmetric_mi(mi_fn) -> Feedback:
    """``mi_fn(K, a)`` = log2 K + a log2 a + (1 − a) log2((1 − a)/(K − 1))."""
    cases = [(2, 0.5), (2, 0.9), (10, 0.1), (10, 0.85), (10, 1.0), (4, 0.0)]
    for K, a in cases:
        expected = symmetric_mi_reference(K, a)
        given = call(mi_fn, K, a)
        if not close(given, expected, rel=1e-6, abs_=1e-9):
            error_mass_unsplit = (  # the error mass 1 − a put on one class
                math.log2(K)
                + (a * math.log2(a) if a > 0 else 0)
                + ((1 - a) * math.log2(1 - a) if a < 1 else 0)
            )
            hint = known_mistake(
                given,
                "I = H(Z) − H(Z|Y): the outputs are uniform, H(Z) = log2 K; given the label, the "
                "output is right with probability a and each of the K − 1 wrong classes has "
                "(1 − a)/(K − 1).",
                [
                    (
                        expected * math.log(2) if expected > 0 else None,
                        "natural logarithm used: the answer is wanted in bits (log2).",
                    ),
                    (
                        error_mass_unsplit if K > 2 else None,
                        "the error mass 1 − a is spread over K − 1 classes: each gets "
                        "(1 − a)/(K − 1), not 1 − a.",
                    ),
                    (
                        lambda g: not math.isfinite(g),
                        "for a = 0 or a = 1 one term is 0·log 0 = 0: treat it separately.",
                    ),
                ],
            )
            return Feedback(
                False,
                f"K={K}, accuracy a={a}: expected I = {expected:.6g} bits, got {given!r}. "
                f"Hint: {hint}",
            )
    return Feedback(
        True,
        f"the symmetric-channel information is right on {len(cases)} cases "
        "(note a = 1/K gives 0 bits and a = 1 gives log2 K).",
    )
