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
# # Quantal release and synapse models
#
# A presynaptic spike does not transmit a fixed amount of signal. At the frog neuromuscular
# junction {cite:t}`delcastillo1954` found that end-plate potentials come in multiples of a
# unit, the *quantum*, and that the number of quanta varies from trial to trial as if each of
# $N$ release sites released a vesicle independently with probability $p$. This chapter derives
# the statistics of that **binomial quantal model**, simulates amplitude histograms like theirs,
# and shows that the two synapse models of this book are its two limits:
#
# - $N = 1$: the **Bernoulli synapse** of {cite:t}`schug2021` (`synlab.synapses.BernoulliLinear`),
#   which transmits its strength $m$ with probability $p$;
# - large $N$ at a fixed mean: the **Gaussian synapse** of {cite:t}`malkin2024`
#   (`synlab.synapses.GaussianLinear`), with mean $\mu$ and standard deviation $\sigma$ set by
#   $N$, $p$ and $q$.
#
# There is no paper figure to reproduce here: every claim is a closed form, checked
# numerically with an `assert`. The model lives in `synlab.quantal`.

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from synlab import quantal
from synlab.exercises import check
from synlab.plot import panel_label, use_style
from synlab.synapses import BernoulliLinear, GaussianLinear

use_style()

# %% [markdown]
# ## The binomial model and its moments
#
# Let $r_s\in\{0,1\}$ say whether site $s=1,\dots,N$ releases a vesicle, independently, with
# $P(r_s=1)=p$. The number of released vesicles is $K=\sum_s r_s\sim\mathrm{Bin}(N,p)$ and, if
# every vesicle adds the same quantum $q$, the postsynaptic potential (PSP) has amplitude
# $A=qK$. One site has $\mathbb E r_s = p$ and, since $r_s^2=r_s$,
# $\operatorname{Var} r_s = p - p^2 = p(1-p)$. Means add, and so do variances of independent
# variables, hence
#
# $$
# \mathbb E A = Npq,\qquad \operatorname{Var}A = q^2\sum_s\operatorname{Var}r_s = Np(1-p)\,q^2,
# \qquad
# \mathrm{CV} = \frac{\sqrt{\operatorname{Var}A}}{\mathbb E A} = \sqrt{\frac{1-p}{Np}} .
# $$
#
# The coefficient of variation (CV) does not depend on $q$: it measures *reliability*, and a
# synapse becomes more reliable with more sites ($\propto N^{-1/2}$) or a higher release
# probability. Check against the exact distribution
# $P(K=k)=\binom Nk p^k(1-p)^{N-k}$ and against simulation:

# %%
for N, p, q in [(1, 0.25, 2.0), (5, 0.2, 0.4), (20, 0.6, 0.1), (200, 0.05, 1.3)]:
    m = quantal.binomial_moments(N, p, q)
    k = np.arange(N + 1)
    pmf = quantal.binomial_pmf(N, p)
    mean_pmf = (pmf * q * k).sum()
    var_pmf = (pmf * (q * k - mean_pmf) ** 2).sum()
    a = quantal.sample_psp(N, p, q, 100_000, noise_sd=0.0, generator=0)
    print(
        f"N={N:3d} p={p:.2f} q={q}: mean {m.mean:.4f} (pmf {mean_pmf:.4f}, sampled "
        f"{a.mean():.4f}); "
        f"var {m.variance:.4f} (pmf {var_pmf:.4f}, sampled {a.var():.4f}); CV {m.cv:.3f}"
    )
    assert math.isclose(m.mean, mean_pmf, rel_tol=1e-10) and math.isclose(
        m.variance, var_pmf, rel_tol=1e-8
    )
    assert abs(float(a.mean()) - m.mean) < 5 * math.sqrt(m.variance / 100_000)
    assert math.isclose(float(a.var()), m.variance, rel_tol=0.03)
    assert math.isclose(m.cv, math.sqrt((1 - p) / (N * p)), rel_tol=1e-12)

# %% [markdown]
# ## Amplitude histograms
#
# Real recordings add noise of the amplifier and the membrane. With Gaussian recording noise
# $\eta\sim\mathcal N(0,s^2)$ the amplitude $A=qK+\eta$ has the density of a mixture of
# normals centred on the multiples of $q$, weighted by the binomial probabilities:
#
# $$
# f(a) = \sum_{k=0}^N \binom Nk p^k(1-p)^{N-k}\,\frac{1}{\sqrt{2\pi}\,s}
# \exp\!\Big(-\frac{(a-kq)^2}{2s^2}\Big).
# $$
#
# The histograms below (2,000 simulated trials each, $q = 1$, $s = 0.15$) show the peaks
# del Castillo and Katz saw: failures at 0, single quanta at $q$, and so on; the stems mark
# the binomial probabilities $P(K=k)$ (per unit amplitude, divided by the bin width so that
# they sit on the same scale).

# %% tags=["hide-input"]
cases = [(5, 0.2), (5, 0.6), (20, 0.3)]
q, noise = 1.0, 0.15
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=False)
for ax, (N, p), label in zip(axes, cases, "abc"):
    a = quantal.sample_psp(N, p, q, 2000, noise_sd=noise, generator=1).numpy()
    bins = np.arange(-0.5, N + 0.5 + 1e-9, 0.1)
    ax.hist(a, bins=bins, density=True, color="0.75", label="simulated trials")
    grid = np.linspace(-0.5, N * p + 4 * math.sqrt(N * p * (1 - p)) + 1, 600)
    ax.plot(grid, quantal.psp_density(grid, N, p, q, noise), lw=1.5, label="mixture density")
    k = np.arange(N + 1)
    pmf = quantal.binomial_pmf(N, p)
    ax.vlines(
        k * q,
        0,
        pmf / (math.sqrt(2 * math.pi) * noise),
        color="C3",
        lw=1,
        label="binomial $P(K=k)$ (scaled)",
    )
    ax.set_xlim(-0.6, grid[-1])
    ax.set_title(f"N = {N}, p = {p}")
    ax.set_xlabel("PSP amplitude (units of q)")
    panel_label(ax, label)
axes[0].set_ylabel("density")
axes[0].legend(fontsize=7, frameon=False)
fig.tight_layout()

# %% [markdown]
# The peak heights are the stems: with little noise, the mixture density at $kq$ is
# $\approx P(K=k)/(\sqrt{2\pi}s)$. A classic use of the histogram is the **method of
# failures**: the fraction of trials with no release, $P(K=0)=(1-p)^N$, can be read off the
# peak at zero (amplitudes below $q/2$). Check it on 20,000 trials:

# %%
for N, p in cases:
    a = quantal.sample_psp(N, p, q, 20_000, noise_sd=noise, generator=2)
    failures = float((a < q / 2).double().mean())
    expected = (1 - p) ** N
    se = math.sqrt(expected * (1 - expected) / 20_000)
    print(f"N={N:2d}, p={p}: failure fraction {failures:.4f}, (1-p)^N = {expected:.4f} ± {se:.4f}")
    assert (
        abs(failures - expected) < 4 * se + 1e-3
    )  # + misclassified noise tails (< 1e-3 at s = 0.15 q)

# %% [markdown]
# ## Limit 1: the Bernoulli synapse ($N=1$)
#
# With one release site of quantal size $m$ the synapse transmits $m$ with probability $p$ and
# nothing otherwise. This is the synapse of {cite:t}`schug2021`:
#
# $$
# \mathbb E[rm] = pm = \bar w,\qquad \operatorname{Var}[rm] = p(1-p)m^2 = \frac{1-p}{p}\,\bar w^2,
# \qquad \mathrm{CV}=\sqrt{\frac{1-p}{p}} .
# $$
#
# `BernoulliLinear` trains the expected weight $\bar w$ and transmits
# $y_i = \sum_j (r_{ij}/p_{ij})\,\bar w_{ij}x_j$, so for a fixed input $x$ the output has
#
# $$
# \mathbb E y_i = \sum_j \bar w_{ij}x_j,\qquad
# \operatorname{Var} y_i = \sum_j \frac{1-p_{ij}}{p_{ij}}\,\bar w_{ij}^2 x_j^2
# $$
#
# (independent synapses: variances add). We draw 50,000 independent release patterns of a
# layer with random release probabilities and compare:

# %%
torch.manual_seed(0)
bern = BernoulliLinear(8, 3, p_init=0.2 + 0.7 * torch.rand(3, 8))
x = torch.rand(8)
y_b = quantal.sample_layer_outputs(bern, x, 50_000, generator=3)
mean_b, var_b = quantal.layer_output_moments(bern, x)
print(
    "Bernoulli layer  mean: predicted",
    mean_b.numpy().round(4),
    " sampled",
    y_b.mean(0).numpy().round(4),
)
print(
    "                 var : predicted",
    var_b.numpy().round(4),
    " sampled",
    y_b.var(0).numpy().round(4),
)
assert torch.all((y_b.mean(0) - mean_b).abs() < 5 * (var_b / 50_000).sqrt())
assert torch.allclose(y_b.var(0), var_b, rtol=0.04)
m1 = quantal.bernoulli_moments(0.25, 2.0)
assert (m1.mean, m1.variance) == (0.5, 0.25 * 0.75 * 4.0)

# %% [markdown]
# ## Limit 2: the Gaussian synapse (large $N$)
#
# $K$ is a sum of $N$ independent variables, so by the central limit theorem
# $(K - Np)/\sqrt{Np(1-p)}$ approaches a standard normal as $N$ grows. Keep the mean PSP
# fixed at $\mu = Npq$ (shrink $q=\mu/(Np)$ as sites are added, at fixed $p$): then
#
# $$
# A\;\approx\;\mathcal N(\mu,\sigma^2),\qquad \sigma^2 = Np(1-p)q^2 = \frac{1-p}{Np}\,\mu^2 ,
# $$
#
# the synapse of {cite:t}`malkin2024`, who read $\sigma$ as the price of reliability: a more
# reliable synapse (smaller $\sigma$ at the same $\mu$) needs more sites or a higher $p$.
# How fast does the Gaussian become accurate? The Kolmogorov–Smirnov distance
# $D_N = \sup_x|F_K(x)-\Phi(\tfrac{x-Np}{\sqrt{Np(1-p)}})|$ is scale-free (the same for $A=qK$
# with any $q$), and the Berry–Esseen theorem bounds it for sums of i.i.d. variables:
#
# $$
# D_N \le C\,\frac{\mathbb E|r-p|^3}{\operatorname{Var}(r)^{3/2}\sqrt N}
# = C\,\frac{p^2+(1-p)^2}{\sqrt{Np(1-p)}},\qquad C \le 0.4748,
# $$
#
# using $\mathbb E|r-p|^3 = p(1-p)^3 + (1-p)p^3 = p(1-p)\,(p^2+(1-p)^2)$. So $D_N$ falls like
# $N^{-1/2}$. `quantal.ks_distance_to_gaussian` computes $D_N$ exactly (the supremum is
# reached at a jump of the step-function CDF):

# %% tags=["hide-input"]
p, mu = 0.3, 1.0
Ns = np.unique(np.logspace(0, 3.5, 15).astype(int))
D = np.array([quantal.ks_distance_to_gaussian(int(N), p) for N in Ns])
bound = np.array([quantal.berry_esseen_bound(int(N), p) for N in Ns])
slope = np.polyfit(np.log(Ns[Ns >= 10]), np.log(D[Ns >= 10]), 1)[0]
print(f"fitted slope of log D_N vs log N (N >= 10): {slope:.3f} (theory -0.5)")
assert np.all(D <= bound) and np.all(np.diff(D) < 0)
assert abs(slope + 0.5) < 0.05

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
ax = axes[0]
for N, color in zip([2, 8, 64], ["C0", "C1", "C2"]):
    qN = quantal.quantal_size_for_mean(mu, N, p)
    g = quantal.gaussian_limit(N, p, qN)
    k = np.arange(N + 1)
    ax.plot(
        k * qN, quantal.binomial_pmf(N, p) / qN, "o", ms=3, color=color, label=f"binomial, N = {N}"
    )
    grid = np.linspace(-0.5, 3, 400)
    ax.plot(
        grid,
        np.exp(-0.5 * ((grid - g.mu) / g.sigma) ** 2) / (math.sqrt(2 * math.pi) * g.sigma),
        color=color,
        lw=1,
    )
    assert math.isclose(g.mu, mu) and math.isclose(g.sigma**2, (1 - p) / (N * p) * mu**2)
ax.set_xlabel("PSP amplitude A (mean fixed at μ = 1)")
ax.set_ylabel("density (pmf / q)")
ax.set_xlim(-0.5, 3)
ax.legend(fontsize=8, frameon=False)
panel_label(ax, "a")
ax = axes[1]
ax.loglog(Ns, D, "o-", label="exact KS distance $D_N$")
ax.loglog(Ns, bound, "--", color="0.4", label="Berry–Esseen bound")
ax.set_xlabel("release sites N")
ax.set_ylabel("KS distance to the Gaussian")
ax.legend(fontsize=8, frameon=False)
panel_label(ax, "b")
fig.tight_layout()

# %% [markdown]
# With recording noise or many synapses summed on a dendrite, the Gaussian is better still.
# A sampled KS statistic agrees with the exact distance (up to sampling error):

# %%
from scipy.stats import kstest, norm  # noqa: E402

N = 50
k = quantal.sample_release_counts(N, p, 40_000, generator=4).numpy()
g = quantal.gaussian_limit(N, p)
stat = kstest(k, norm(g.mu, g.sigma).cdf).statistic
print(
    f"N = {N}: sampled KS statistic {stat:.4f}, exact D_N {quantal.ks_distance_to_gaussian(N, p):.4f}"
)
assert abs(stat - quantal.ks_distance_to_gaussian(N, p)) < 0.01

# %% [markdown]
# ### A Gaussian layer matched to a Bernoulli layer
#
# `GaussianLinear` samples $w_{ij}=\mu_{ij}+\sigma_{ij}\varepsilon_{ij}$, so its output has
# $\mathbb E y_i=\sum_j\mu_{ij}x_j$ and $\operatorname{Var}y_i=\sum_j\sigma_{ij}^2x_j^2$. Setting
# $\mu=\bar w$ and $\sigma_{ij}=|\bar w_{ij}|\sqrt{(1-p_{ij})/p_{ij}}$ (the Bernoulli synapse's
# standard deviation) gives a layer with **the same output mean and variance** as the
# Bernoulli layer above, though not the same distribution: a Bernoulli output is a sum of a
# few two-valued terms, the Gaussian output is normal.

# %% tags=["hide-input"]
gauss = GaussianLinear(8, 3, sigma_init=0.1)
with torch.no_grad():
    gauss.weight.copy_(bern.weight)
gauss.set_sigma(bern.weight.abs() * ((1 - bern.p) / bern.p).sqrt())
y_g = quantal.sample_layer_outputs(gauss, x, 20_000, generator=5)
mean_g, var_g = quantal.layer_output_moments(gauss, x)
print(
    "Gaussian layer   mean: predicted",
    mean_g.numpy().round(4),
    " sampled",
    y_g.mean(0).numpy().round(4),
)
print(
    "                 var : predicted",
    var_g.numpy().round(4),
    " sampled",
    y_g.var(0).numpy().round(4),
)
assert torch.allclose(mean_g, mean_b, atol=1e-6) and torch.allclose(var_g, var_b, rtol=1e-5)
assert torch.all((y_g.mean(0) - mean_g).abs() < 5 * (var_g / 20_000).sqrt())
assert torch.allclose(y_g.var(0), var_g, rtol=0.05)

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.hist(y_b[:, 0].numpy(), bins=80, density=True, alpha=0.6, label="BernoulliLinear")
ax.hist(y_g[:, 0].numpy(), bins=80, density=True, alpha=0.6, label="GaussianLinear (matched σ)")
ax.axvline(float(mean_b[0]), color="k", lw=1, ls=":")
ax.set_xlabel("output $y_1$ for a fixed input")
ax.set_ylabel("density")
ax.legend(fontsize=8, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Exercises
#
# ```{exercise} Coefficient of variation
# :label: ex-foundations-cv
# Derive the CV of the binomial synapse, $\mathrm{CV}=\sqrt{\operatorname{Var}A}/\mathbb E A$,
# from the moments of a single release site, then write `cv(N, p)` (it should work for
# $p = 1$ too, where release never fails).
# ```


# %% tags=["solution", "hide-cell"]
def cv(N, p):
    return math.sqrt((1 - p) / (N * p))


# %%
assert check("foundations.binomial_cv", cv)

# %% [markdown]
# ```{solution} ex-foundations-cv
# :class: dropdown
# A site releases with $r\sim\mathrm{Bernoulli}(p)$: $\mathbb E r=p$ and, as $r^2=r$,
# $\operatorname{Var}r=p-p^2=p(1-p)$. With $N$ independent sites and $A=q\sum_s r_s$,
# $\mathbb E A=Npq$ and $\operatorname{Var}A=Np(1-p)q^2$, so
# $\mathrm{CV}=q\sqrt{Np(1-p)}/(Npq)=\sqrt{(1-p)/(Np)}$, independent of $q$. At $p=1$ it is 0.
# ```


# %% [markdown]
# ```{exercise} How many release sites for a reliable synapse?
# :label: ex-foundations-sites
# A synapse has release probability $p$. What is the smallest number of release sites $N$ that
# brings its CV to at most a target value $c$? Write `sites_for_cv(c, p)` returning that
# integer (a synapse has at least one site). For $p = 0.3$, how many sites give a CV of 0.1?
# ```


# %% tags=["solution", "hide-cell"]
def sites_for_cv(c, p):
    return max(1, math.ceil((1 - p) / (p * c**2)))


# %%
assert check("foundations.sites_for_cv", sites_for_cv)

# %% tags=["book-only"]
print("p = 0.3, CV <= 0.1 needs N =", sites_for_cv(0.1, 0.3), "sites")

# %% [markdown]
# ```{solution} ex-foundations-sites
# :class: dropdown
# $\sqrt{(1-p)/(Np)}\le c \iff N \ge (1-p)/(p\,c^2)$; the smallest integer is
# $N=\max\big(1,\lceil (1-p)/(p c^2)\rceil\big)$. For $p=0.3$, $c=0.1$:
# $0.7/(0.3\cdot 0.01)=233.3$, so $N=234$ — reliable transmission is expensive when release
# is unreliable, the trade-off {cite:t}`malkin2024` turn into a cost on $\sigma$.
# ```

# %% [markdown]
# ## Summary
#
# No paper figure is reproduced here; these are the claims this chapter checked.
#
# | claim | ours | tolerance / gap |
# |---|---|---|
# | binomial mean $Npq$, variance $Np(1-p)q^2$ | equal to the sums over the exact pmf; 100,000 sampled PSPs agree | pmf: $10^{-8}$ relative; samples: 5 standard errors (mean), 3 % (variance) |
# | CV $=\sqrt{(1-p)/(Np)}$, independent of $q$ | checked on four $(N,p,q)$ | $10^{-12}$ |
# | amplitude histogram = binomial-weighted mixture of normals | simulated histograms follow the density; failure fraction $=(1-p)^N$ | 4 standard errors (20,000 trials) |
# | $N=1$: Bernoulli synapse, mean $p m=\bar w$; `BernoulliLinear` output mean and variance | 50,000 sampled release patterns | 5 standard errors (mean), 4 % (variance) |
# | large $N$: Gaussian synapse; KS distance below Berry–Esseen, $\propto N^{-1/2}$ | exact $D_N$ for $N$ up to 3,162; fitted slope printed above | slope within $0.05$ of $-1/2$ |
# | `GaussianLinear` with $\sigma=\lvert\bar w\rvert\sqrt{(1-p)/p}$ matches the Bernoulli layer's mean and variance | exact, and 20,000 samples | $10^{-5}$ exact; 5 % sampled |
#
# Everything here is exact or simulated at full size: there is no quick/full distinction in
# this chapter.
