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
# # The data
#
# The simulations of the previous chapters make two predictions that can be tested without measuring a
# synapse's importance: **less variable synapses learn less**, and **synapses with higher input rates are
# less variable**. [Fig. 6 of Malkin et al. (2024)](https://doi.org/10.7554/eLife.92595) {cite:p}`malkin2024`
# sets them beside two published data sets:
#
# - paired recordings in rat visual cortex (layer 5) before and after spike-timing-dependent plasticity
#   {cite:p}`sjostrom2001`, as curated by {cite:t}`costa2017` (public on Dryad,
#   [doi:10.5061/dryad.p286g](https://doi.org/10.5061/dryad.p286g)); the selection of recordings is the one
#   used by {cite:t}`schug2021`;
# - connections in mouse V1 layer 2/3 with PSP mean and variance and the presynaptic cell's activity from
#   calcium imaging {cite:p}`ko2013`, as analysed by {cite:t}`aitchison2021`.
#
# synlab ships copies of both data sets (CC BY 4.0, from the public repository of Malkin et al.,
# JamesMalkin/EfficientBayes); `synlab.data.reference_path` returns the shipped copy, or your own
# copy if you put one in a synlab data directory. The cell below prints the attribution.

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
from scipy.stats import spearmanr

from synlab.data import reference_attribution
from synlab.exercises import check
from synlab.experiments.malkin2024 import experimental_data
from synlab.plot import PALETTE, mark_profile, panel_label, use_style
from synlab.results import results_for_chapter
from synlab.tables import Table, fmt

use_style()
t_start = time.perf_counter()
data = experimental_data()
for name in ("Sjostrom2001_LTP_schug.csv", "ko2013"):
    print("Data:", reference_attribution(name))
for key, cols in data.items():
    print(f"{key}: {len(next(iter(cols.values())))} recordings")

# %% [markdown]
# ## Measuring reliability and learning rate
#
# In the quantal model a connection with release probability $p$ has PSP variance
# $\sigma^2 = Np(1-p)q^2$ and mean $\mu = Npq$, so its **normalised variance** is
# $\sigma^2/\mu = q(1-p)$: it falls as $p$ rises. High release probability means a reliable synapse. In
# the Sjöström recordings we take the release probability before plasticity as reliability and the
# magnitude of the relative change of strength, $|\Delta w|/w$, as the learning rate. In the Ko data we
# take $\sigma^2/\mu$ of the PSP as variability and the presynaptic cell's mean inferred activity
# (the file's `foopsi_mean`, deconvolved calcium) as input rate.

# %% [markdown]
# ```{exercise} Normalised variability
# :label: ex-malkin-normalised-variability
# Write `normalised_variability(mean, var)`, returning $\sigma^2/|\mu|$ per synapse.
# ```


# %% tags=["solution", "hide-cell"]
def normalised_variability(mean, var):
    return np.asarray(var, dtype=float) / np.abs(np.asarray(mean, dtype=float))


# %%
assert check("malkin2024.normalised_variability", normalised_variability)

# %% [markdown]
# ```{solution} ex-malkin-normalised-variability
# :class: dropdown
# Divide the variance by the magnitude of the mean. With the quantal model this is $q(1-p)$, so it
# measures unreliability at a given quantal size.
# ```

# %% [markdown]
# ```{exercise} A rank correlation
# :label: ex-malkin-spearman
# With a few dozen recordings and heavy tails, a rank correlation is the honest summary. Write
# `spearman(x, y)` without calling `scipy.stats.spearmanr` (assume no ties).
# ```


# %% tags=["solution", "hide-cell"]
def spearman(x, y):
    rx = np.argsort(np.argsort(x))
    ry = np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


# %%
assert check("malkin2024.spearman", spearman)

# %% [markdown]
# ```{solution} ex-malkin-spearman
# :class: dropdown
# Replace each value by its rank (`argsort` of `argsort`) and take Pearson's correlation of the ranks.
# ```

# %% [markdown]
# ## Fig. 6, beside the simulations
#
# Left: the data. Right: the same relationships in the simulated networks of the chapter
# *Signatures of importance* (second-layer synapses, $\rho = 1/2$, $\lambda = 0.001$): Adam's
# learning rate against σ, and σ against the presynaptic input rate.

# %% tags=["hide-input"]
sim = results_for_chapter("malkin2024_signatures")
s0 = sim.select(c_factor=1.0)[0].result
corr = {}
fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
ax = axes[0, 0]
for key, col, label in (("sjostrom_ltp", PALETTE[3], "LTP"), ("sjostrom_ltd", PALETTE[0], "LTD")):
    d = data[key]
    ax.loglog(d["pr"], np.abs(d["dw_rel"]), "o", color=col, label=label)
    corr[key] = spearmanr(d["pr"], np.abs(d["dw_rel"])).statistic
ax.set(
    xlabel="release probability before (reliability)",
    ylabel="|relative change of strength|",
    title="Sjöström et al. 2001",
)
ax.legend(fontsize=8)
panel_label(ax, "a")
ax = axes[0, 1]
sig, lr = s0["sigma_0"], s0["adam_lr_0"]
ok = (sig > 0) & (lr > 0)
ax.loglog(sig[ok], lr[ok], ".", ms=1.5, alpha=0.25, color=PALETTE[2])
corr["sim_lr"] = spearmanr(sig[ok], lr[ok]).statistic
ax.set(xlabel="σ (variability)", ylabel="Adam learning rate", title="simulation")
ax = axes[1, 0]
k = data["ko2013"]
nv = k["var"] / np.abs(k["mean"])
ax.loglog(k["rate"], nv, "o", color=PALETTE[4])
corr["ko2013"] = spearmanr(k["rate"], nv).statistic
ax.set(
    xlabel="presynaptic activity (foopsi mean)",
    ylabel="normalised variance σ²/μ",
    title="Ko et al. 2013",
)
panel_label(ax, "b")
ax = axes[1, 1]
rate = s0["input_rate_0"]
ok = (rate > 0) & (sig > 0)
ax.loglog(rate[ok], sig[ok], ".", ms=1.5, alpha=0.25, color=PALETTE[2])
corr["sim_rate"] = spearmanr(rate[ok], sig[ok]).statistic
ax.set(xlabel="input rate", ylabel="σ", title="simulation")
fig.tight_layout()
mark_profile(fig, sim)
NAMES = {
    "sjostrom_ltp": "Sjöström et al. 2001, LTP: |Δw/w| vs release probability",
    "sjostrom_ltd": "Sjöström et al. 2001, LTD: |Δw/w| vs release probability",
    "sim_lr": "simulation: Adam learning rate vs σ",
    "ko2013": "Ko et al. 2013: σ²/μ vs presynaptic activity",
    "sim_rate": "simulation: σ vs input rate",
}
display(
    Table(["relationship", "Spearman"], [(NAMES[k], fmt(v, 3, sign=True)) for k, v in corr.items()])
)
assert corr["sjostrom_ltp"] < 0 and corr["ko2013"] < 0  # the two experimental trends of Fig. 6

# %% [markdown]
# Reliability and learning rate are anticorrelated in the LTP recordings, and variability falls with
# presynaptic activity in the Ko data — the directions the energy-efficient networks predict (and, as
# the previous chapter showed, the directions Bayesian synapses predict). The LTD recordings are few
# (14) and their correlation is weaker.

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
summary = Table(["The paper's claim or number", "Ours", "The gap"])
summary.add(
    "Fig. 6a: learning rate falls with reliability (Sjöström et al. 2001, via Schug et al. 2021)",
    f"Spearman {fmt(corr['sjostrom_ltp'], 2, sign=True)} (LTP), "
    f"{fmt(corr['sjostrom_ltd'], 2, sign=True)} (LTD)",
    "same recordings; our learning-rate proxy is the relative change of strength; LTD shown "
    "separately",
)
summary.add(
    "Fig. 6b: variability falls with input rate (Ko et al. 2013, via Aitchison et al. 2021)",
    f"Spearman {fmt(corr['ko2013'], 2, sign=True)}",
    "we use σ²/μ and the file's `foopsi_mean` as rate; the paper's exact normalisation is not "
    "restated",
)
same = np.sign(corr["sim_lr"]) == -np.sign(corr["sjostrom_ltp"]) and np.sign(
    corr["sim_rate"]
) == np.sign(corr["ko2013"])
summary.add(
    "Simulations predict both trends",
    f"{sim.profile} profile of the signatures experiment (ρ = ½, λ = {sim.config.lam:g}): σ vs "
    f"learning rate Spearman {fmt(corr['sim_lr'], 2, sign=True)}, σ vs input rate "
    f"{fmt(corr['sim_rate'], 2, sign=True)}",
    ("the same signs as the data" if same else "NOT the signs of the data")
    + "; the simulation is on the MNIST sample",
)
display(summary)

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
