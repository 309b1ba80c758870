"""Property-based tests (hypothesis): costs, the release rule, quantal moments, information
measures and unit keys hold their laws for any valid input, and refuse invalid ones.

Every property is bounded (``max_examples``, ``deadline``) so CI time stays predictable."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from synlab import costs, results
from synlab.information import entropy, mutual_information_from_joint
from synlab.quantal import binomial_moments
from synlab.rules import update_release_probability

BOUNDED = settings(
    max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
positive = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)
non_finite_or_nonpositive = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0])


# ----------------------------------------------------------------------------- costs
@BOUNDED
@given(st.lists(positive, min_size=1, max_size=8), st.floats(0.05, 4), st.floats(0, 100))
def test_reliability_cost_numpy_and_torch_agree_and_fall_with_sigma(sigmas, rho, c):
    s = np.array(sigmas)
    np_cost = costs.reliability_cost(s, rho, c)
    t_cost = costs.reliability_cost(torch.tensor(s, dtype=torch.float64), rho, c)
    np.testing.assert_allclose(t_cost.numpy(), np_cost, rtol=1e-12)
    assert np.all(np_cost >= 0)
    bigger = costs.reliability_cost(s * 2, rho, c)
    assert np.all(bigger <= np_cost)


@BOUNDED
@given(non_finite_or_nonpositive, st.booleans())
def test_reliability_cost_refuses_bad_sigma_on_both_paths(bad, use_torch):
    s = torch.tensor([1.0, bad]) if use_torch else np.array([1.0, bad])
    with pytest.raises(ValueError, match="sigma"):
        costs.reliability_cost(s, 0.5)


@BOUNDED
@given(positive, positive, st.floats(0.1, 3), positive)
def test_optimal_sigma_minimises_the_linear_objective(H, c, rho, lam):
    s = costs.optimal_sigma_linear(H, rho, c, lam)
    f = costs.linear_objective(s, H, rho, c, lam)
    for k in (0.9, 1.1):
        assert f <= costs.linear_objective(s * k, H, rho, c, lam) * (1 + 1e-12)


# ----------------------------------------------------------------------------- release rule
@BOUNDED
@given(
    st.lists(st.floats(0.25, 1.0), min_size=1, max_size=12),
    st.floats(-1, 1, allow_nan=False),
    st.floats(0, 0.5),
    st.floats(0, 0.5),
    st.floats(0, 0.1),
)
def test_release_rule_keeps_p_in_its_bounds(ps, g, p_up, p_down, g_lim):
    p = torch.tensor(ps, dtype=torch.float64)
    grad = torch.full_like(p, g)
    new = update_release_probability(p, grad, p_up=p_up, p_down=p_down, g_lim=g_lim)
    assert torch.isfinite(new).all() and (new >= 0.25 - 1e-12).all() and (new <= 1 + 1e-12).all()
    moved_up = abs(g) > g_lim
    assert (new >= p - 1e-12).all() if moved_up else (new <= p + 1e-12).all()


@BOUNDED
@given(st.sampled_from(["p_up", "p_down", "g_lim"]), non_finite_or_nonpositive)
def test_release_rule_refuses_non_finite_or_negative_constants(name, bad):
    args = dict(p_up=0.1, p_down=0.1, g_lim=0.01)
    args[name] = bad
    p = torch.full((3,), 0.5)
    if bad == 0.0:  # zero is a valid step or threshold
        update_release_probability(p, torch.zeros(3), **args)
        return
    with pytest.raises(ValueError, match=name):
        update_release_probability(p, torch.zeros(3), **args)


# ----------------------------------------------------------------------------- quantal
@BOUNDED
@given(st.integers(1, 500), st.floats(0.001, 1.0), positive)
def test_binomial_moments_match_the_pmf(N, p, q):
    m = binomial_moments(N, p, q)
    k = np.arange(N + 1)
    pmf = binom.pmf(k, N, p)
    assert m.mean == pytest.approx(float((pmf * k * q).sum()), rel=1e-9)
    assert m.variance == pytest.approx(
        float((pmf * (k * q - m.mean) ** 2).sum()), rel=1e-6, abs=1e-12
    )
    assert m.cv == pytest.approx(math.sqrt(m.variance) / m.mean, rel=1e-9)


@BOUNDED
@given(st.sampled_from([math.nan, math.inf, -0.1, 1.5]))
def test_binomial_moments_refuse_bad_p(p):
    with pytest.raises(ValueError, match="p"):
        binomial_moments(5, p, 1.0)


# ----------------------------------------------------------------------------- information
tables = (
    st.integers(2, 4)
    .flatmap(
        lambda n: st.lists(st.floats(0, 1), min_size=n * n, max_size=n * n).map(
            lambda v, n=n: np.array(v).reshape(n, n)
        )
    )
    .filter(lambda t: t.sum() > 1e-3)
)


@BOUNDED
@given(tables)
def test_mutual_information_is_bounded_by_the_entropies(table):
    joint = table / table.sum()
    mi = mutual_information_from_joint(joint)
    hx = float(entropy(joint.sum(1)))
    hy = float(entropy(joint.sum(0)))
    assert 0 <= mi <= min(hx, hy) + 1e-9
    perm = np.random.default_rng(0).permutation(len(joint))
    assert mutual_information_from_joint(joint[perm]) == pytest.approx(mi, abs=1e-9)
    independent = np.outer(joint.sum(1), joint.sum(0))
    assert mutual_information_from_joint(independent) == pytest.approx(0, abs=1e-9)


@BOUNDED
@given(tables)
def test_mutual_information_float32_agrees_with_float64(table):
    joint = table / table.sum()
    mi32 = mutual_information_from_joint(torch.tensor(joint, dtype=torch.float32))
    assert math.isfinite(mi32) and mi32 == pytest.approx(
        mutual_information_from_joint(joint), abs=1e-5
    )


# ----------------------------------------------------------------------------- unit keys
values = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet="ab -_0.=/", max_size=6),
)
units = st.dictionaries(st.sampled_from(["lr", "seed", "mode"]), values, min_size=1, max_size=3)


@settings(
    max_examples=25, deadline=10000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(units, min_size=1, max_size=5, unique_by=results._canonical))
def test_every_unit_is_stored_and_read_back_as_itself(tmp_path_factory, batch):
    folder = tmp_path_factory.mktemp("store")
    for i, unit in enumerate(batch):
        key = results.unit_key(unit)
        assert re.fullmatch(r"[A-Za-z0-9=._+-]+", key) and len(key) <= 120
        rec = results.UnitRecord(unit=unit, result={"i": i}, provenance={})
        results.write_unit(folder, rec)
    for i, unit in enumerate(batch):
        got = results.find_unit(folder, unit)
        assert got is not None and got.result["i"] == i and got.unit == unit
    assert len(list(folder.glob("*.json"))) == len(batch)
