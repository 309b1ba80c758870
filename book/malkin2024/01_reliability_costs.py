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
# # What reliability costs
#
# A synapse can be made more reliable — its postsynaptic potential (PSP) less variable from trial
# to trial at the same mean — but only by paying energy. {cite:t}`malkin2024` identify four
# biophysical mechanisms that buy reliability and show that each costs a *power* of the PSP
# standard deviation, $\text{cost}\propto\sigma^{-\rho}$, with an exponent $\rho$ fixed by the
# biophysics. This chapter derives the four exponents from the binomial quantal model and checks
# each numerically, by varying the variable that a synapse changes to become more reliable at a
# fixed mean and fitting the slope of log cost against log σ — the content of
# [Fig. 1 of Malkin et al. (2024)](https://doi.org/10.7554/eLife.92595).
#
# Everything here is a closed form in `synlab.costs`; no network is trained.

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

import numpy as np
from IPython.display import display

from synlab import costs
from synlab.exercises import check
from synlab.plot import PALETTE, panel_label, panels, use_style
from synlab.tables import Table, fmt

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The quantal model at a fixed mean
#
# A connection has $N$ release sites; on each spike each site releases a vesicle with probability
# $p$, and each vesicle contributes a quantum $q$. The number released is Binomial$(N,p)$, so the PSP
# has
#
# $$\mu = Npq, \qquad \sigma^2 = Np(1-p)q^2 .$$
#
# Eliminating $q = \mu/(Np)$ gives the variance at a fixed mean,
#
# $$\sigma^2 = \frac{\mu^2}{N}\,\frac{1-p}{p}.$$
#
# So there are two routes to reliability at fixed $\mu$: raise $p$ (with $N$ fixed, $q$ shrinks to
# compensate) or raise $N$ (with $p$ fixed, smaller vesicles). Each route has a price.

# %%
N, p, q = 8.0, 0.3, 0.2
mu, var = costs.quantal_mean(N, p, q), costs.quantal_variance(N, p, q)
rng = np.random.default_rng(0)
psp = q * rng.binomial(int(N), p, size=400_000)
print(f"mean {mu:.4f} (simulated {psp.mean():.4f}), variance {var:.5f} (simulated {psp.var():.5f})")
assert abs(psp.mean() - mu) < 3e-3 and abs(psp.var() / var - 1) < 0.01
assert np.isclose(var, mu**2 / N * (1 - p) / p)

# %% [markdown]
# ## Four mechanisms, four exponents
#
# **Calcium efflux** ($\rho = 1/2$). Release probability rises steeply with presynaptic calcium:
# with a Hill coefficient of 4, the release odds are $p/(1-p)\propto[\mathrm{Ca}]^4$. Keeping calcium
# high means pumping it out after every spike, at a cost $\propto[\mathrm{Ca}]\propto(p/(1-p))^{1/4}$.
# From the variance at fixed mean, $p/(1-p) = \mu^2/(N\sigma^2)$, hence
# $\text{cost}\propto(\sigma^2)^{-1/4} = \sigma^{-1/2}$ — exactly, for every $p$.
#
# **Vesicles** ($p$ fixed, $N$ varies). $\sigma^2\propto 1/N$ at fixed $\mu$, so $N\propto\sigma^{-2}$.
# The quantal size is proportional to vesicle volume, $q\propto r^3$, and $\mu = Npq$ fixed forces
# $r\propto N^{-1/3}$. Then
#
# - **vesicle membrane** (surface to make): $Nr^2\propto N^{1/3}\propto\sigma^{-2/3}$, $\rho = 2/3$;
# - **actin** (filament length to hold vesicles, $\propto$ their total diameter): $Nr\propto N^{2/3}\propto\sigma^{-4/3}$, $\rho = 4/3$;
# - **trafficking** (vesicles moved): $N\propto\sigma^{-2}$, $\rho = 2$.
#
# The check: sweep the compensating variable ($p$ for calcium, $N$ otherwise) at a fixed mean,
# compute σ and the cost from the quantal model, and fit the log–log slope.

# %%
slopes = {}
for name, mech in costs.MECHANISMS.items():
    sigma, cost = costs.mechanism_sweep(name, mu=1.0)
    slopes[name] = costs.loglog_slope(sigma, cost)
    print(
        f"{mech.name:17s} varies {mech.varies:16s} fitted slope {slopes[name]:+.4f}   −ρ = "
        f"{-mech.rho:+.4f}"
    )
    assert abs(slopes[name] + mech.rho) < 1e-6

# %% [markdown]
# ### Fig. 1c: cost against σ
#
# Each curve is normalised to cost 1 at σ = 1 so the four power laws can share axes. Steeper curves
# (larger ρ) punish reliability more severely.

# %% tags=["hide-input"]
fig, axes = panels(2, height=3.0, letters=False)
ax = axes[0]
for i, (name, mech) in enumerate(costs.MECHANISMS.items()):
    sigma, cost = costs.mechanism_sweep(name, mu=1.0)
    order = np.argsort(sigma)
    ref = np.interp(0.0, np.log(sigma[order]), np.log(cost[order]))
    ax.loglog(
        sigma[order],
        cost[order] / np.exp(ref),
        color=PALETTE[i],
        lw=2,
        label=f"{mech.name}, ρ = {mech.rho:.2g}",
    )
ax.set(xlabel="PSP s.d. σ (μ = 1)", ylabel="reliability cost (normalised)", title="quantal model")
ax.legend(fontsize=8)
panel_label(ax, "c")
ax = axes[1]
s = np.logspace(-2, 1, 100)
for i, rho in enumerate(costs.RHOS):
    ax.loglog(s, costs.reliability_cost(s, rho), color=PALETTE[i], lw=2, label=f"ρ = {rho:.2g}")
ax.set(xlabel="σ", ylabel=r"$c\,\sigma^{-\rho}$ ($c = 1$)", title="the cost used in training")
ax.legend(fontsize=8)

# %% [markdown]
# ## The cost a network pays
#
# In the networks of the next chapters each synapse $i$ is Gaussian, $w_i\sim\mathcal N(\mu_i,\sigma_i^2)$
# (the large-$N$ limit of the quantal model, see the Foundations chapter), and pays
#
# $$C_\text{rel} = \lambda\sum_i c\,\sigma_i^{-\rho},$$
#
# with one ρ per network (one dominant mechanism) and λ setting how much energy matters
# relative to performance. Training will trade this against the classification loss.

# %% [markdown]
# ```{exercise} Quantal moments
# :label: ex-malkin-quantal-moments
# Write `moments(N, p, q)` returning the mean and variance of the quantal PSP.
# ```


# %% tags=["solution", "hide-cell"]
def moments(N, p, q):
    return N * p * q, N * p * (1 - p) * q**2


# %%
assert check("malkin2024.quantal_moments", moments)

# %% [markdown]
# ```{solution} ex-malkin-quantal-moments
# :class: dropdown
# The number of vesicles released is a sum of $N$ independent Bernoulli($p$) variables, with mean
# $Np$ and variance $Np(1-p)$; multiplying by $q$ scales the mean by $q$ and the variance by $q^2$.
# ```

# %% [markdown]
# ```{exercise} A mechanism of your own
# :label: ex-malkin-vesicle-exponent
# Suppose a cost scales as $N r^k$ (e.g. $k = 2$ membrane, $k = 1$ actin, $k = 0$ trafficking). At
# fixed $\mu$ and $p$ (with $q\propto r^3$), what is ρ? Write `rho_of_k(k)`.
# ```


# %% tags=["solution", "hide-cell"]
def rho_of_k(k):
    return 2 - 2 * k / 3


# %%
assert check("malkin2024.vesicle_exponent", rho_of_k)

# %% [markdown]
# ```{solution} ex-malkin-vesicle-exponent
# :class: dropdown
# $r\propto N^{-1/3}$, so $Nr^k\propto N^{1-k/3}$; with $N\propto\sigma^{-2}$ the cost is
# $\sigma^{-2(1-k/3)}$: $\rho = 2 - 2k/3$.
# ```

# %% [markdown]
# ## Summary
#
# The fitted slopes are the ones computed above.

# %% tags=["hide-input"]
summary = Table(["The paper's claim or number", "Ours: fitted log–log slope", "The gap"])
claims = {
    "calcium": (
        "Calcium efflux: cost ∝ σ^(−1/2)",
        "none: exact, for every p (no small-p approximation)",
    ),
    "membrane": ("Vesicle membrane: ρ = 2/3", "none (q ∝ r³, unit constants)"),
    "actin": ("Actin: ρ = 4/3", "none"),
    "trafficking": ("Trafficking: ρ = 2", "none"),
}
for name, (claim, gap) in claims.items():
    summary.add(claim, fmt(slopes[name], 4), gap)
summary.add(
    "Fig. 1c: four power laws",
    "panel c",
    "we plot the quantal-model sweeps, normalised at σ = 1; the paper's absolute scales are not "
    "given",
)
display(summary)

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
