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
# # Energy efficiency looks Bayesian
#
# The signatures of the previous chapter — less noise at synapses with high input rates, lower
# learning rates at less noisy synapses — are exactly what *Bayesian synapses*, whose noise encodes
# uncertainty about the right weight, predict {cite:p}`aitchison2021`. This chapter shows why: the
# energy-efficient objective has the form of the variational-Bayes objective (the ELBO) with a
# different reliability term, and the power-law cost bounds the ELBO's entropic one
# ([Appendix 4, Fig. 7 and Appendix 4—figure 1 of Malkin et al. 2024](https://doi.org/10.7554/eLife.92595);
# {cite:t}`malkin2024`). We then compare energy-efficient σ with the posterior σ of Bayes-by-backprop
# {cite:p}`blundell2015` synapse by synapse.

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

from synlab import costs
from synlab.exercises import check
from synlab.plot import PALETTE, mark_profile, panel_label, panels, use_style
from synlab.results import results_for_chapter
from synlab.tables import Table, fmt, show

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The ELBO and the entropic reliability cost
#
# Variational Bayes fits a distribution $Q(w) = \prod_i\mathcal N(w_i;\mu_i,\sigma_i^2)$ to the posterior by
# maximising
#
# $$\mathrm{ELBO} = \mathbb E_Q[\log p(\mathcal D\mid w)] + \mathbb E_Q[\log p(w)] + \mathrm H[Q].$$
#
# Read against the energy-efficient objective: the first term is minus the performance cost; a Laplace
# prior $p(w)\propto e^{-l_1|w|}$ gives (at $|\mu|\gg\sigma$) the L1 magnitude cost; and the entropy
# $\mathrm H[Q] = \sum_i\big(\log\sigma_i + \tfrac12\log 2\pi e\big)$ rewards noise — an *entropic* reliability
# cost $-\sum_i\log\sigma_i$ where the biology has $\lambda\sum_i c\,\sigma_i^{-\rho}$.
#
# **The bound.** Since $\log x\le x - 1$ for $x>0$, with $x = \sigma^{-\rho}$,
#
# $$-\log\sigma = \frac1\rho\log\sigma^{-\rho} \le \frac{\sigma^{-\rho}-1}{\rho},$$
#
# so the power-law cost with $c = 1/\rho$ (minus a constant) is an upper bound on the entropic cost,
# tight at σ = 1 and, for fixed σ, as ρ → 0. The overall biological cost therefore bounds the negative
# ELBO, which bounds the negative log evidence: lowering it tightens a guarantee on inference.

# %% tags=["hide-input"]
sig = np.logspace(-4, 2, 300)[:, None]
rho_grid = np.linspace(0.01, 4, 200)[None, :]
gap = costs.power_law_bound(sig, rho_grid) - costs.entropic_cost(sig)
print(f"min gap over {gap.size} grid points: {gap.min():.2e} (≥ 0: the bound holds)")
assert gap.min() >= -1e-12
assert np.allclose(costs.power_law_bound(0.05, 1e-7), costs.entropic_cost(0.05), rtol=1e-5)

fig, ax = plt.subplots(figsize=(5.5, 3.8))
s = np.logspace(-2, 1, 200)
ax.semilogx(s, costs.entropic_cost(s), "k-", lw=2.5, label="entropic: −log σ")
for i, rho in enumerate(costs.RHOS):
    ax.semilogx(
        s, costs.power_law_bound(s, rho), color=PALETTE[i], label=f"(σ^−ρ − 1)/ρ, ρ = {rho:.2g}"
    )
ax.set(ylim=(-3, 8), xlabel="σ", ylabel="reliability cost")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ```{exercise} The bound
# :label: ex-malkin-entropic-bound
# Write `bound(sigma, rho)`, a power-law upper bound on $-\log\sigma$ that becomes tight as ρ → 0.
# ```


# %% tags=["solution", "hide-cell"]
def bound(sigma, rho):
    return (sigma**-rho - 1) / rho


# %%
assert check("malkin2024.entropic_bound", bound)

# %% [markdown]
# ```{solution} ex-malkin-entropic-bound
# :class: dropdown
# Apply $\log x\le x-1$ to $x=\sigma^{-\rho}$ and divide by ρ. As ρ → 0, $\sigma^{-\rho} = e^{-\rho\log\sigma}
# = 1 - \rho\log\sigma + O(\rho^2)$, so the bound → $-\log\sigma$.
# ```

# %% [markdown]
# ## Fig. 7: energy-efficient σ against posterior σ
#
# In the quadratic approximation the variational posterior of a synapse has
# $\sigma_\text{post}^2 = 1/(N H_{ii})$ (minimise $\tfrac12NH\sigma^2 - \log\sigma$), while the energy-efficient
# σ is $(\lambda c\rho/NH_{ii})^{1/(2+\rho)}$. Eliminating $H_{ii}$:
#
# $$\log\sigma = \frac{2}{2+\rho}\log\sigma_\text{post} + \text{const},$$
#
# a slope below one that tends to one as ρ → 0 — the energy-efficient noise is a *compressed* copy of the
# posterior uncertainty. We test it in the no-hidden-layer network, where one ensemble trains a member
# per ρ and a Bayes-by-backprop member (entropic cost, λ = 1) on the same data with the same initial
# weights. Noise model: one weight sample per mini-batch.

# %% tags=["hide-output"]
lin = results_for_chapter("malkin2024_linear")

# %% tags=["hide-input"]
fig, axes = panels(2 * len(lin.records), ncols=2, height=2.6, letters=False)
fitted = {}
for row, rec in enumerate(lin.records):
    r = rec.result
    s_post = r["sigma_bayes"]
    ax = axes[2 * row]
    for k, rho in enumerate(np.asarray(r["rhos"])):
        s_eff = r[f"sigma_{k}"]
        ax.loglog(s_post, s_eff, ".", ms=1.5, alpha=0.3, color=PALETTE[k])
        fitted[(rec.unit["lam"], rho)] = costs.loglog_slope(s_post, s_eff)
        ax.plot(
            [],
            [],
            "o",
            color=PALETTE[k],
            label=f"ρ = {rho:.2g}: slope {fitted[(rec.unit['lam'], rho)]:.2f}",
        )
    ax.set(
        xlabel="posterior σ (Bayes-by-backprop)",
        ylabel="energy-efficient σ",
        title=f"λ = {rec.unit['lam']:g}",
    )
    ax.legend(fontsize=7.5)
    ax = axes[2 * row + 1]
    rr = np.asarray(r["rhos"])
    ax.plot(rr, [fitted[(rec.unit["lam"], v)] for v in rr], "o", color=PALETTE[2], label="fitted")
    g = np.linspace(0.3, 2.2, 50)
    ax.plot(g, 2 / (2 + g), "k-", label="2/(2+ρ)")
    ax.set(xlabel="ρ", ylabel="slope", ylim=(0, 1.1))
    ax.legend(fontsize=8)
panel_label(axes[0], "a")
panel_label(axes[1], "b")
mark_profile(fig, lin)
plt.show()
slope_table = Table(["λ", "ρ", "fitted slope", "analytic 2/(2+ρ)"], align="rrrr")
for (lam, rho), v in fitted.items():
    slope_table.add(f"{lam:g}", f"{rho:.3g}", fmt(v, 3), fmt(2 / (2 + rho), 3))
display(slope_table)

# %% [markdown]
# ```{exercise} The slope against the posterior
# :label: ex-malkin-posterior-slope
# Write `posterior_slope(rho)`, the predicted $d\log\sigma/d\log\sigma_\text{post}$.
# ```


# %% tags=["solution", "hide-cell"]
def posterior_slope(rho):
    return 2 / (2 + rho)


# %%
assert check("malkin2024.posterior_slope", posterior_slope)

# %% [markdown]
# ```{solution} ex-malkin-posterior-slope
# :class: dropdown
# $\log\sigma = -\frac{1}{2+\rho}\log H + c_1$ and $\log\sigma_\text{post} = -\frac12\log H + c_2$, so
# $d\log\sigma/d\log\sigma_\text{post} = \frac{1/(2+\rho)}{1/2} = \frac{2}{2+\rho}$.
# ```

# %% [markdown]
# ## Appendix 4—figure 1: predictive distributions
#
# A 1-D regression toy (our choice; 40 points of $\sin 3x$ with a gap in the middle, Gaussian likelihood
# with known noise $0.1$, a 1-50-1 ReLU network): variational Bayes against our cost for each ρ, trained as
# one ensemble. Bands: 5–95 % of the predictions under the weight noise.

# %% tags=["hide-output"]
reg = results_for_chapter("malkin2024_regression")

# %% tags=["hide-input"]
r = reg.records[0].result
names = ["variational Bayes"] + [f"energy-efficient, ρ = {v:.2g}" for v in r["rhos"]]
order = [len(r["rhos"])] + list(range(len(r["rhos"])))
fig, axes = panels(len(order), ncols=3, height=2.2, letters=False, sharey=True)
for ax, k, name in zip(axes, order, names):
    ax.fill_between(r["grid"], r["q05"][k], r["q95"][k], color=PALETTE[0], alpha=0.3)
    ax.plot(r["grid"], r["median"][k], color=PALETTE[0])
    ax.plot(r["x"], r["y"], "k.", ms=4)
    ax.set(xlabel="x", ylim=(-2.5, 2.5))
    ax.set_title(name, fontsize=9)
axes[0].set_ylabel("prediction")
axes[3].set_ylabel("prediction")
mark_profile(fig, reg)
plt.show()
gap_region = np.abs(r["grid"]) < 0.2
data_region = (np.abs(r["grid"]) > 0.4) & (np.abs(r["grid"]) < 0.9)
sd_table = Table(["model", "predictive s.d. in the gap", "near data"], align="lrr")
for k, name in zip(order, names, strict=True):
    sd_table.add(
        name, fmt(r["sd"][k][gap_region].mean(), 3), fmt(r["sd"][k][data_region].mean(), 3)
    )
display(sd_table)

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
show("malkin2024.bayesian.closing", lin)

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
