# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Synaptic importance and sparsity
#
# After learning, which synapses are reliable? {cite:t}`schug2021` find that only a sparse subset
# reaches high release probability, that these synapses carry the network's function (removing
# the unreliable ones first barely hurts), that they hold most of the energy, and that they have
# the largest Fisher information — release probability marks *importance*. The sparsity is also
# visible per neuron: some neurons collect many important inputs, most very few. This chapter
# reproduces [Fig. 2a–d and Fig. 3a–c](https://doi.org/10.7554/eLife.69884) and Appendix 1—
# figures 1d and 2 from the plastic networks of the previous chapter's experiment.

# %%
# Runs only in Google Colab (a no-op anywhere else): fetches the book's repository at
# the ref the book was built from, installs synlab from it and points synlab at the committed
# paper-scale results. Generated from _config.yml by `python -m synlab.colab --write`.
import sys

if "google.colab" in sys.modules:
    import importlib.util
    import os
    import subprocess
    from pathlib import Path

    url = os.environ.get("SYNLAB_REPOSITORY", "https://github.com/synlab-book/synlab")
    repo = Path("synlab-repo").resolve()
    if not (repo / "pyproject.toml").is_file():
        repo.mkdir(exist_ok=True)
        for git in (["init", "-q"], ["fetch", "-q", "--depth", "1", url, "main"]):
            subprocess.run(["git", "-C", str(repo), *git], check=True)
        subprocess.run(["git", "-C", str(repo), "checkout", "-q", "FETCH_HEAD"], check=True)
    if importlib.util.find_spec("synlab") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(repo)], check=True)
    os.environ["SYNLAB_RESULTS_DIR"] = str(repo / "results")

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from synlab.chapter_tables import IMPORTANCE_L2
from synlab.exercises import check
from synlab.experiments.schug2021 import (
    LOG_ENERGY_BINS,
    LOG_FISHER_BINS,
    P_BINS,
    importance_summary,
)
from synlab.importance import importance_classes, important_counts, neuron_importance
from synlab.plot import PALETTE, mark_profile, panel_label, panels, use_style
from synlab.results import complete_subset, results_for_chapter
from synlab.synthesis import mean_se
from synlab.tables import Table, fmt, show

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The runs
#
# We use the plastic-release networks of `schug_energy_mnist` (previous chapter: same network,
# rule and training; the **MNIST 5,000-image sample**, not full MNIST). The paper does not say
# at which $\ell_2$ strength Fig. 2 and 3 were made; we show $\ell_2 = 0.01$ (our choice) and pool
# the seeds as the paper pools its three repetitions. A synapse is *important* ("high") when
# $p \ge 0.9$, the paper's boundary (Fig. 2a, dashed line). Each unit stored its final release
# probabilities (float16), lesion curves, and the energy and Fisher information of high- and
# low-$p$ synapses, so this chapter only reads and plots.

# %%
res = results_for_chapter("schug_energy_mnist")
L2 = IMPORTANCE_L2  # 0.01, our choice (the chapter's closing table uses the same)
runs = [r.result for r in res.records if r.unit["model"] == "plastic" and r.unit["l2"] == L2]
uniform_runs = [r.result for r in res.records if r.unit["model"] == "plastic_uniform"]
print(
    f"{len(runs)} plastic run(s) at l2 = {L2}, {len(uniform_runs)} with uniform initial p; data: "
    f"{res.data_sources}"
)
for r in runs:
    print(
        f"accuracy {r['accuracy']:.3f}; {100 * r['fraction_high']:.2f} % of synapses have p >= 0.9 "
        "and hold "
        f"{100 * r['energy_high_fraction']:.1f} % of the synaptic energy"
    )
assert runs and all(r["p_hist"].sum() == 784 * 200 + 200 * 200 + 200 * 10 for r in runs)

# %% [markdown]
# ## Fig. 2a and App. 1—fig. 1d: few synapses become reliable
#
# Before learning every release probability is $0.25$ (or uniform on $[0.25, 1]$ in the appendix
# variant); afterwards most sit at the lower clamp and a small set is near 1.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
centres = 0.5 * (P_BINS[1:] + P_BINS[:-1])
for ax, group, title, label in [
    (axes[0], runs, r"initial $p = 0.25$", "a"),
    (axes[1], uniform_runs, r"initial $p \sim U[0.25, 1]$ (App. 1—fig. 1d)", "d"),
]:
    if not group:
        ax.set_visible(False)
        continue
    before = np.sum([r["p_hist_init"] for r in group], axis=0)
    after = np.sum([r["p_hist"] for r in group], axis=0)
    w = P_BINS[1] - P_BINS[0]
    ax.bar(centres, before / before.sum(), width=w, alpha=0.5, color="0.5", label="before learning")
    ax.bar(
        centres, after / after.sum(), width=w, alpha=0.7, color=PALETTE[0], label="after learning"
    )
    ax.axvline(0.9, color="k", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set(xlabel="release probability", ylabel="fraction of synapses", title=title)
    ax.legend(fontsize=8)
    panel_label(ax, label)
fig.tight_layout(rect=(0, 0.04, 1, 1))  # room for the profile stamp
mark_profile(fig, res)

# %% [markdown]
# ## Fig. 2b: lesions
#
# Remove synapses (set $\bar w = 0$) from the whole network in order of increasing release
# probability, ties in random order, and measure test accuracy with 10 sampled release masks;
# as a control remove them in random order. If $p$ marks importance, the low-$p$-first curve
# stays high much longer. (The grid of removed fractions and the pooled, network-wide order are
# our choices; the paper shows the curve only.)

# %% tags=["hide-input"]
fr = runs[0]["lesion_fractions"]
low = np.array([r["lesion_low_p_first"] for r in runs])
rnd = np.array([r["lesion_random"] for r in runs])
fig, ax = plt.subplots(figsize=(8, 3.6))
for curve, name, c in [
    (low, "low release probability first", PALETTE[0]),
    (rnd, "random order", PALETTE[3]),
]:
    m, se = mean_se(curve)
    ax.plot(100 * fr, m, "o-", ms=3, color=c, label=name)
    ax.fill_between(100 * fr, m - se, m + se, color=c, alpha=0.25)
ax.set(xlabel="synapses removed [%]", ylabel="test accuracy")
ax.legend(fontsize=8)
panel_label(ax, "b")
fig.tight_layout(rect=(0, 0.04, 1, 1))  # room for the profile stamp
mark_profile(fig, res)
area_low, area_rnd = np.trapezoid(low.mean(0), fr), np.trapezoid(rnd.mean(0), fr)
print(f"area under the lesion curve: low-p first {area_low:.3f}, random {area_rnd:.3f}")

# %% [markdown]
# ## Fig. 2c–d: energy and Fisher information of high- and low-$p$ synapses
#
# The energy of a synapse is $|\bar w|$; its Fisher information is the diagonal empirical
# Fisher $F_i = \frac1N\sum_n (\partial_{\bar w_i}\log q(y_n\mid x_n))^2$ computed per example
# (batch size 1, as in the authors' code) with a fresh release mask per example, on the first
# 1,000 test images (200 in the quick profile). Chapter 1 predicted: high $p$ ⇔ high $F$.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, prefix, bins, xlabel, label in [
    (axes[0], "energy", LOG_ENERGY_BINS, r"$\log_{10}$ synaptic energy $|\bar w|$", "c"),
    (axes[1], "logfisher", LOG_FISHER_BINS, r"$\log_{10}$ Fisher information", "d"),
]:
    x = 0.5 * (bins[1:] + bins[:-1])
    for group, c in [("low", PALETTE[3]), ("high", PALETTE[0])]:
        h = np.mean([r[f"{prefix}_hist_{group}"] for r in runs], axis=0)
        ax.fill_between(x, h, step="mid", alpha=0.5, color=c, label=f"{group} release probability")
    ax.set(xlabel=xlabel, ylabel="fraction of synapses")
    ax.legend(fontsize=8)
    panel_label(ax, label)
ax = axes[2]
edges = runs[0]["p_edges"]
mid = 0.5 * (edges[1:] + edges[:-1])
fisher_by_p = np.nanmean([r["fisher_by_p"] for r in runs], axis=0)
ax.semilogy(mid, fisher_by_p, "o-", color=PALETTE[0])
ax.set(xlabel="release probability (bin centre)", ylabel="mean Fisher information")
panel_label(ax, "d'")
fig.tight_layout(rect=(0, 0.04, 1, 1))  # room for the profile stamp
mark_profile(fig, res)
for group in ("high", "low"):
    print(
        f"{group:4s} p: median |w̄| = "
        f"{np.mean([10 ** r[f'energy_median_{group}'] for r in runs]):.2e}, "
        f"median F = {np.mean([10 ** r[f'logfisher_median_{group}'] for r in runs]):.2e}, "
        f"n = {sum(r[f'energy_n_{group}'] for r in runs)}"
    )

# %% [markdown]
# Panel d' bins all synapses by release probability and averages their Fisher information: a
# monotone rise is the chapter 1 prediction in its plainest form.

# %% [markdown]
# ## Fig. 3 and App. 1—fig. 2: sparsity per neuron
#
# For every neuron count its important inputs (synapses onto it with $p \ge 0.9$). As a
# baseline, shuffle all release probabilities of the weight matrix: the same number of
# important synapses, placed uniformly. The paper compares the two distributions with a
# two-sample Kolmogorov–Smirnov test (second layer: $D = 0.505$, $p < 0.01$), calls a neuron
# *high* (*low*) importance when its count lies more than two baseline standard deviations above
# (below) the baseline mean, and correlates each hidden neuron's important inputs with its
# important outputs (first hidden layer $r = 0.9390$, second $r = 0.7999$).

# %% tags=["hide-input"]
run = runs[0]
n_layers = len([k for k in run if k.startswith("p_layer")])
fig, axes = panels(n_layers, height=2.8, letters=False)
for i, ax in enumerate(axes):
    c, cs = run[f"neuron_counts{i}"], run[f"neuron_counts_shuffled{i}"]
    bins = np.arange(0, max(c.max(), cs.max()) + 2) - 0.5
    ax.hist(cs, bins=bins, alpha=0.5, color="0.5", label="shuffled")
    ax.hist(c, bins=bins, alpha=0.6, color=PALETTE[0], label="learned")
    ax.set(
        xlabel=f"weight matrix {i + 1}",
        ylabel="neurons" if i == 0 else None,
        title=f"KS D = {run[f'ks_D{i}']:.3f}, p = {run[f'ks_p{i}']:.2g}",
    )
    ax.title.set_fontsize(8.5)
axes[0].legend(fontsize=7.5)
fig.supxlabel("important inputs per neuron", fontsize=10)
panel_label(axes[0], "a")
mark_profile(fig, res)
classes_table = Table(
    ["weight matrix", "learned: low / medium / high", "shuffled: low / medium / high"],
    align="lrr",
    note="Neurons per importance class, mean over the runs.",
)
for i in range(n_layers):
    cl = np.mean([r[f"neuron_classes{i}"] for r in runs], axis=0)
    cls = np.mean([r[f"neuron_classes_shuffled{i}"] for r in runs], axis=0)
    classes_table.add(i + 1, *(" / ".join(fmt(v, 1) for v in x) for x in (cl, cls)))
display(classes_table)

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, n_layers - 1, figsize=(5 * (n_layers - 1), 3.6))
for i, ax in enumerate(np.atleast_1d(axes)):
    ax.scatter(run[f"inout_in{i}"], run[f"inout_out{i}"], s=8, color=PALETTE[0])
    ax.set(
        xlabel="important inputs",
        ylabel="important outputs",
        title=f"hidden layer {i + 1}: r = {run[f'inout_r{i}']:.3f}",
    )
panel_label(np.atleast_1d(axes)[0], "c")
fig.tight_layout(rect=(0, 0.04, 1, 1))  # room for the profile stamp
mark_profile(fig, res)

# %% [markdown]
# ```{exercise} Important inputs per neuron
# :label: ex-schug-important-inputs
# A layer's release probabilities form a matrix `p` of shape (out, in), row $j$ holding the
# synapses *onto* neuron $j$. Write `important_inputs(p, threshold)` returning, for every
# neuron, how many of its inputs have $p \ge$ `threshold`.
# ```


# %% tags=["solution", "hide-cell"]
def important_inputs(p, threshold):
    return (p >= threshold).sum(1)


# %%
assert check("schug2021.important_inputs", important_inputs)

# %% [markdown]
# ```{solution} ex-schug-important-inputs
# :class: dropdown
# Sum the boolean matrix `p >= threshold` along each row. Summing along columns instead counts
# the important *outputs* of each presynaptic neuron — the other half of Fig. 3c. Careful with
# floating point: `p` is stored in float32, where `0.9` is `0.89999998`; synlab's
# `important_counts` compares with a tolerance of $10^{-6}$.
# ```

# %% [markdown]
# ```{exercise} Low, medium and high importance
# :label: ex-schug-classes
# Write `classes(counts, baseline, n_std)` returning `[n_low, n_medium, n_high]`: a neuron is
# high (low) importance when its count exceeds (falls below) the baseline mean by more than
# `n_std` baseline standard deviations. How many high-importance neurons do you expect in the
# shuffled baseline itself, for 200 neurons and `n_std = 2`?
# ```


# %% tags=["solution", "hide-cell"]
def classes(counts, baseline, n_std):
    mu, sd = np.mean(baseline), np.std(baseline)
    low = int((np.asarray(counts) < mu - n_std * sd).sum())
    high = int((np.asarray(counts) > mu + n_std * sd).sum())
    return [low, len(counts) - low - high, high]


# %%
assert check("schug2021.importance_classes", classes)

# %% tags=["book-only"]
c0, cs0 = run["neuron_counts1"], run["neuron_counts_shuffled1"]
assert list(classes(c0, cs0, 2.0)) == importance_classes(c0, cs0, 2.0).tolist()
assert np.array_equal(important_counts(run["p_layer1"], 0.9)[0], c0)
assert np.isclose(
    neuron_importance(run["p_layer1"], 0.9, seed=2019)["ks_D"], run["ks_D1"], atol=0.05
)

# %% [markdown]
# ```{solution} ex-schug-classes
# :class: dropdown
# The baseline count of a neuron is roughly binomial, close to Gaussian when it is not tiny, so
# about $2.3\,\%$ of its neurons lie above mean + 2 sd: four or five of 200. The learned network has
# many more neurons in both tails — neuron-level sparsity. When almost no synapse is important
# (as early in training) the baseline counts are mostly 0 and the Gaussian intuition fails.
# ```

# %% [markdown]
# ## Summary, and the same measures on the full Fashion-MNIST set
#
# The MNIST runs above use the 5,000-image sample (2,000 SGD steps per network). The same
# experiment on the full Fashion-MNIST set (`schug_energy_fashion`, 60,000 training images, the
# paper's 30,000 steps per network) stored every one of these measures; the table below shows
# its plastic runs at the same $\ell_2$ once all three seeds are committed. The paper reports
# Figs. 2–3 for MNIST only, so the Fashion-MNIST column is our extension, not a reproduction.

# %%
mnist_name = "MNIST sample" if any("sample" in d for d in res.data_sources) else "MNIST"
summaries = {f"{mnist_name}, {res.profile} profile": importance_summary(res, L2)}
print("MNIST data:", res.data_sources)
fres = complete_subset(
    "schug_energy_fashion", model="plastic", l2=L2
)  # all its seeds committed, else None
if fres is not None:
    summaries[f"Fashion-MNIST, {fres.profile} profile"] = importance_summary(fres, L2)
    print("Fashion-MNIST data:", fres.data_sources)
else:
    print(
        "schug_energy_fashion: the plastic runs at this l2 are not all committed yet; only MNIST "
        "is shown"
    )
rows = [
    ("runs (seeds)", "n_runs", "{:d}"),
    ("test accuracy", "accuracy", "{:.3f}"),
    ("synapses with p ≥ 0.9", "fraction_high", "{:.1%}"),
    ("their share of the energy", "energy_high_fraction", "{:.1%}"),
    ("lesion area, low p first", "lesion_area_low_p", "{:.3f}"),
    ("lesion area, random", "lesion_area_random", "{:.3f}"),
    ("median |w̄|, high / low p", ("energy_median_high", "energy_median_low"), "{:.2e} / {:.2e}"),
    ("median Fisher, high / low p", ("fisher_median_high", "fisher_median_low"), "{:.2e} / {:.2e}"),
    ("KS D per weight matrix", "ks_D", None),
    ("in/out r per hidden layer", "inout_r", None),
]
table = Table(["", *summaries], align="l" + "r" * len(summaries))
for label, key, form in rows:
    cells = []
    for s in summaries.values():
        if form is None:
            cells.append(", ".join(fmt(v, 3) for v in s[key]))
        elif isinstance(key, tuple):
            cells.append(form.format(*(s[k] for k in key)))
        else:
            cells.append(form.format(s[key]))
    table.add(label, *cells)
display(table)
for (
    name,
    s,
) in summaries.items():  # the paper's qualitative claims, on every paper-scale result shown
    if "full profile" not in name:
        continue  # a quick run (240 SGD steps) trains too little for them to be expected
    assert s["lesion_area_low_p"] > s["lesion_area_random"]
    assert s["fisher_median_high"] > s["fisher_median_low"]
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")

# %% tags=["hide-input"]
show("schug2021.importance.closing", res)
