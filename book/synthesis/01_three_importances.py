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
# # One network, three notions of synaptic importance
#
# Each paper of this book singles out the synapses that matter, each in its own currency:
#
# - {cite:t}`schug2021`: synapses whose **release probability** $p$ the presynaptic rule has
#   driven up. The rule raises $p$ where the gradient $|\partial L/\partial\bar w|$ often exceeds
#   a threshold, and the paper links high $p$ to high Fisher information
#   ([Fig. 2 of Schug et al. 2021](https://doi.org/10.7554/eLife.69884));
# - {cite:t}`malkin2024`: synapses whose **optimised noise** $\sigma$ is small when reliability
#   costs $c\,\sigma^{-\rho}$; small $\sigma$ goes with high curvature (their Fig. 5a), and with
#   small adaptive learning rates (their Fig. 5c)
#   ([Fig. 5 of Malkin et al. 2024](https://doi.org/10.7554/eLife.92595));
# - {cite:t}`raman2021`: directions of high **curvature** of the loss (the Hessian), which
#   limit how much plasticity in them pays off.
#
# No paper compares these notions on the same synapses. This chapter does: one network is
# trained with Bernoulli synapses and the presynaptic rule, and *at its mean weights* $\bar w$
# we compute every measure, rank-correlate them, and remove synapses in the order each measure
# calls least important. As an external reference we add the pruning criterion of
# Bayes-by-backprop, the signal-to-noise ratio $|\mu|/\sigma$ {cite:p}`blundell2015`, and the
# second-order cost of deleting a synapse, $\tfrac12 H_{ii}\bar w_i^2$ ("Optimal Brain Damage",
# LeCun, Denker & Solla 1990). The measures live in `synlab.synthesis`, the experiment in
# `synlab.experiments.synthesis`.

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
import torch.nn.functional as F
from IPython.display import display

from synlab import synthesis as S
from synlab.costs import loglog_slope, predicted_slopes
from synlab.curvature import flatten_loss, hessian
from synlab.exercises import check
from synlab.plot import mark_profile, panel_label, panels, use_style
from synlab.results import results_for_chapter
from synlab.synapses import BernoulliLinear, mlp
from synlab.tables import Table, fmt, show

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The measures, on one set of weights
#
# Let $\bar w\in\mathbb R^n$ be the trained mean weights of a bias-free ReLU network and
# $L(w)=\frac1N\sum_n -\log q_w(y_n\mid x_n)$ its mean cross-entropy. Every measure is a vector
# indexed by the same synapses (`synlab.synthesis.synapse_index`: layer by layer, each weight
# matrix row-major), oriented so that larger means "more important":
#
# | measure | definition | source |
# |---|---|---|
# | $p_i$ | release probability after training with the presynaptic rule | {cite:t}`schug2021` |
# | $1/\sigma_i$ | $\sigma$ minimising $\mathbb E_\varepsilon L(\bar w+\sigma\odot\varepsilon)+\frac1N\sum_i c\,\sigma_i^{-\rho}$ at fixed $\mu=\bar w$ | {cite:t}`malkin2024` |
# | $F_{ii}$ | empirical Fisher $\frac1N\sum_n(\partial_i\log q(y_n\mid x_n))^2$ (true labels) | all three |
# | $H_{ii}$ | Hessian diagonal $\partial^2L/\partial w_i^2$ | {cite:t}`raman2021`, {cite:t}`malkin2024` |
# | $\lvert\bar w_i\rvert$ | magnitude (the synaptic energy of {cite:t}`schug2021`) | |
# | $\lvert\mu_i\rvert/\sigma_i$ | signal-to-noise ratio | {cite:t}`blundell2015` |
# | $\tfrac12H_{ii}\bar w_i^2$ | second-order loss increase when $w_i$ is deleted | LeCun et al. 1990 |
# | $1/\eta_i$ | $\eta_i=\eta/(\sqrt{\hat v_i}+\epsilon)$, Adam's step size after a short fine-tuning run | {cite:t}`malkin2024` |
#
# Design choices (ours, stated once): the curvature measures, the noise and Adam's learning rate
# are all evaluated on the **deterministic mean network** $w=\bar w$; the noise is optimised with
# $\mu$ **fixed** at $\bar w$ (not fine-tuned), so every column describes the same weights;
# Adam fine-tunes a *copy*. Lesions zero $\bar w_i$ in the mean network.
#
# ### The Hessian diagonal of a ReLU network is exact and cheap
#
# Write the Hessian of $L$ as the Gauss–Newton term plus a residual,
#
# $$
# \nabla^2 L = \frac1N\sum_n J_n^\top\big(\operatorname{diag} q_n - q_nq_n^\top\big)J_n
# + \frac1N\sum_n\sum_k \frac{\partial \ell_n}{\partial f_k}\,\nabla^2 f_k(x_n),
# $$
#
# with $J_n=\partial f(x_n)/\partial w$. In a bias-free ReLU network each *single* weight $w_i$
# enters the output piecewise linearly (a product of one linear map per layer, with ReLU gates
# that are locally constant), so $\partial^2 f_k/\partial w_i^2=0$ almost everywhere: the
# residual vanishes **on the diagonal**. The Gauss–Newton diagonal equals
# $\frac1N\sum_n\sum_c q_{nc}(\partial_i\log q_{nc})^2$, the Fisher with labels drawn from the
# model, and for a linear layer $z=Wa$ the per-example gradient is $\delta_n a_n^\top$, so the
# sum over examples is one matrix product $(q_c\odot\delta^{2})^\top a^{2}$ per class
# (`synlab.synthesis.gauss_newton_diag`). We check this against the dense Hessian of a small
# network, and see that it fails for sigmoid units:

# %%
torch.manual_seed(0)
small = S.mean_network(mlp([6, 5, 4, 3], BernoulliLinear, p_init=0.5)).double()
x_s = torch.rand(50, 6, dtype=torch.float64)
y_s = torch.randint(0, 3, (50,))
f, theta = flatten_loss(small, F.cross_entropy, x_s, y_s)
h_dense = torch.diagonal(hessian(f, theta))
h_gn = S.gauss_newton_diag(small, x_s)
print(
    f"ReLU: max |H_ii - G_ii| = {float((h_dense - h_gn).abs().max()):.2e} (max H_ii "
    f"{float(h_dense.max()):.3f})"
)
assert torch.allclose(h_gn, h_dense, rtol=1e-8, atol=1e-12)
sig = torch.nn.Sequential(
    *(torch.nn.Sigmoid() if isinstance(m, torch.nn.ReLU) else m for m in small)
)
f2, th2 = flatten_loss(sig, F.cross_entropy, x_s, y_s)
gap = float((torch.diagonal(hessian(f2, th2)) - S.gauss_newton_diag(sig, x_s)).abs().max())
print(f"sigmoid: max |H_ii - G_ii| = {gap:.2e}")
assert gap > 1e-4

# %% [markdown]
# So the "Hessian" column below is exact, not an estimate. The usual estimator for large
# networks, Hutchinson's $\operatorname{diag}H\approx\frac1S\sum_s v_s\odot Hv_s$ with random
# $\pm1$ probes {cite:p}`hutchinson1989`, has per-entry variance $\frac1S\sum_{j\ne i}H_{ij}^2$;
# the experiment measures how well it ranks synapses.
#
# ## The experiment
#
# `synthesis_importance` trains a bias-free ReLU MLP with Bernoulli synapses and the presynaptic
# rule at Schug et al.'s energy-experiment settings (SGD, $\eta=0.05$, $p_\text{up}=p_\text{down}=0.07$,
# $g_\text{lim}=0.001$, batch 100, $p$ from $0.25$, $\ell_2=0.01$) and then computes every measure.
# Noise uses Malkin et al.'s cost with $\rho=1/2$ and $c=10^{-3}$ (their Fig. 5), normalised by
# $N=60{,}000$ as in their code. Profiles: *quick* is a 784-100-100-10 network on 5,000
# Fashion-MNIST images for 10 epochs; *full* is Schug et al.'s 784-200-200-10 for 50 epochs on the
# full Fashion-MNIST and on the 5,000-image **MNIST sample** (not full MNIST), three seeds each.

# %%
res = results_for_chapter("synthesis_importance")
datasets = sorted({r.unit["dataset"] for r in res.records}, key=lambda d: d != "fashion_mnist")
DATA_LABEL = {
    "fashion_mnist": "Fashion-MNIST",
    "mnist": "MNIST sample (5,000 images, not full MNIST)",
}
recs = {d: res.select(dataset=d) for d in datasets}
first = recs[datasets[0]][0].result
names = list(first["names"])
runs = Table(
    ["data", "seed", "synapses", "accuracy (stochastic)", "accuracy (mean network)", "mean p"]
    + ["p ≥ 0.9", "at p_min", "zero curvature"],
    align="lrrrrrrrr",
)
for d in datasets:
    for r in recs[d]:
        out = r.result
        runs.add(
            DATA_LABEL[d].split(" (")[0],
            r.unit["seed"],
            f"{out['n_synapses']:,}",
            fmt(out["stochastic_accuracy"], 3),
            fmt(out["mean_accuracy"], 3),
            fmt(out["mean_p"]),
            *(f"{fmt(100 * out[k], 1)} %" for k in ("fraction_p_high", "fraction_p_min")),
            f"{fmt(100 * out['fraction_zero_curvature'], 1)} %",
        )
display(runs)

# %% [markdown]
# Checks on the trained network: the exact diagonal from Hessian-vector products
# $e_i^\top He_i$ on a few synapses (the largest and some random ones) equals the Gauss–Newton
# diagonal; Hutchinson's estimate from the stored number of probes does not rank synapses well.

# %%
checks = Table(
    ["data", "seed", "exact $H_{ii}$", "Gauss–Newton $G_{ii}$"]
    + [f"Hutchinson ({res.config.hutchinson_probes} probes)", "its Spearman", "its rel. error"],
    align="lrlllrr",
    note="The first three checked synapses of each run.",
)
for d in datasets:
    for r in recs[d]:
        out = r.result
        ex, gn = out["hvp_check_exact"], out["hvp_check_gauss_newton"]
        assert np.allclose(ex, gn, rtol=1e-3, atol=1e-6 * max(ex.max(), 1e-12)), (ex, gn)
        checks.add(
            DATA_LABEL[d].split(" (")[0],
            r.unit["seed"],
            *(", ".join(f"{v:.3g}" for v in a[:3]) for a in (ex, gn, out["hvp_check_hutchinson"])),
            fmt(out["hutchinson_spearman"]),
            fmt(out["hutchinson_rel_error"]),
        )
display(checks)

# %% [markdown]
# ## Do the measures agree?
#
# Spearman's rank correlation $\rho_s$ (the Pearson correlation of ranks, ties sharing their
# average rank) is the right summary: the measures live on wildly different scales and are
# related, if at all, monotonically. Panel a uses all synapses; panel b only those with non-zero
# curvature (synapses from always-black border pixels have $F=H=0$ and tie).

# %% tags=["hide-input"]
LABELS = {
    "p": "$p$",
    "sigma": r"$1/\sigma$",
    "fisher": "$F$",
    "hessian": "$H$",
    "abs_w": r"$|\bar w|$",
    "snr": r"$|\mu|/\sigma$",
    "obd": r"$\frac{1}{2}H\bar w^2$",
    "adam_lr": r"$1/\eta_{\rm Adam}$",
}
corr, corr_se = S.mean_se([r.result["corr"] for r in recs[datasets[0]]])
corr_act, _ = S.mean_se([r.result["corr_active"] for r in recs[datasets[0]]])
fig, axes = panels(2, ncols=1, height=4.2, letters=False)
for ax, mat, title, lab in zip(
    axes, (corr, corr_act), ("all synapses", "synapses with $H_{ii}>0$"), "ab"
):
    im = ax.imshow(mat, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), [LABELS[n] for n in names], rotation=45)
    ax.set_yticks(range(len(names)), [LABELS[n] for n in names])
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                f"{mat[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(mat[i, j]) > 0.6 else "black",
            )
    ax.set_title(f"Spearman $\\rho_s$, {title}\n({DATA_LABEL[datasets[0]]})")
    panel_label(ax, lab)
fig.colorbar(im, ax=axes, shrink=0.8)
mark_profile(fig, res)
plt.show()
R = dict(zip(names, corr))
rs = {(a, b): R[a][names.index(b)] for a in names for b in names}
assert np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1)
for d in datasets[1:]:  # the second data set of the full profile, as numbers
    other, _ = S.mean_se([r.result["corr"] for r in recs[d]])
    display(
        Table(
            ["", *(LABELS[n] for n in names)],
            [[LABELS[a], *(fmt(v) for v in row)] for a, row in zip(names, other)],
            note=f"Spearman $\\rho_s$, all synapses, {DATA_LABEL[d]}",
            align="l" + "r" * len(names),
        )
    )
# the qualitative statements of the discussion below, re-checked on the profile shown
assert rs["fisher", "hessian"] > 0.9  # Fisher and Hessian rank alike
assert rs["sigma", "hessian"] > 0.5  # low optimised noise where the curvature is high
assert rs["p", "hessian"] > 0.3  # high release probability where the curvature is high
assert rs["adam_lr", "fisher"] > 0.5  # small Adam steps where the Fisher is large
print(
    f"rho_s with H: 1/sigma {rs['sigma', 'hessian']:.2f}, p {rs['p', 'hessian']:.2f}, |w| "
    f"{rs['abs_w', 'hessian']:.2f}"
)

# %% [markdown]
# Per-synapse scatter plots on 20,000 random synapses (the stored sample) show the shape of each
# relation. Panel b carries the linear-model prediction of Malkin et al. (Appendix 2):
# minimising $\tfrac12H\sigma^2+\lambda c\sigma^{-\rho}$ gives $\sigma^*\propto H^{-1/(2+\rho)}$.

# %% tags=["hide-input"]
st = {k[len("store_") :]: v.astype(np.float64) for k, v in first.items() if k.startswith("store_")}
rho = res.config.rho


def lg(v):
    return np.log10(np.clip(v, 1e-30, None))


fig, axes = panels(4, ncols=2, height=2.8, letters=False)
pos = st["hessian"] > 0
axes[0].hexbin(st["p"][pos], lg(st["fisher"][pos]), gridsize=30, bins="log", cmap="viridis")
axes[0].set(
    xlabel="release probability $p$",
    ylabel=r"$\log_{10}F_{ii}$",
    title=f"Schug: $\\rho_s$ = {rs['p', 'fisher']:.2f}",
)
axes[1].hexbin(
    lg(st["hessian"][pos]), lg(st["sigma"][pos]), gridsize=30, bins="log", cmap="viridis"
)
slope_fit, slope_pred = first["sigma_H_slope"], first["sigma_H_slope_predicted"]
hx = np.linspace(*np.quantile(lg(st["hessian"][pos]), [0.02, 0.98]), 10)
y0 = np.median(lg(st["sigma"][pos])) - slope_pred * np.median(lg(st["hessian"][pos]))
axes[1].plot(hx, y0 + slope_pred * hx, "r--", label=f"linear model, slope {slope_pred:.2f}")
axes[1].set(
    xlabel=r"$\log_{10}H_{ii}$",
    ylabel=r"$\log_{10}\sigma_i$",
    title=f"Malkin: fitted slope {slope_fit:.2f}",
)
axes[1].legend(fontsize=7.5, loc="lower left")
axes[2].hexbin(
    lg(st["adam_lr"][pos]), lg(st["sigma"][pos]), gridsize=30, bins="log", cmap="viridis"
)
axes[2].set(
    xlabel=r"$\log_{10}\eta_{\rm Adam}$",
    ylabel=r"$\log_{10}\sigma_i$",
    title=f"Malkin 5c: $\\rho_s$ = {S.spearman(st['adam_lr'][pos], st['sigma'][pos]):.2f}",
)
axes[3].hexbin(lg(st["obd"][pos]), lg(st["snr"][pos]), gridsize=30, bins="log", cmap="viridis")
axes[3].set(
    xlabel=r"$\log_{10}\,\frac{1}{2}H\bar w^2$",
    ylabel=r"$\log_{10}|\mu|/\sigma$",
    title=f"cost vs SNR: $\\rho_s$ = {rs['obd', 'snr']:.2f}",
)
for ax, lab in zip(axes, "abcd"):
    panel_label(ax, lab)
mark_profile(fig, res)
plt.show()
upper = pos & (st["hessian"] > np.median(st["hessian"][pos]))
slope_upper = loglog_slope(st["hessian"][upper], st["sigma"][upper])
print(
    f"sigma-H log-log slope: fitted {slope_fit:.3f} (all synapses with H > 0), "
    f"{slope_upper:.3f} (H above its median)\nlinear model -1/(2+rho) = {slope_pred:.3f}"
)
assert slope_pred == predicted_slopes(rho)["hessian"]

# %% [markdown]
# ## Which order of removal hurts least?
#
# Each curve removes synapses (sets $\bar w_i=0$) lowest-importance first according to one
# measure; the grey band is random order (mean ± SE). Ties (many synapses sit at $p=p_\min$)
# are broken at random, repeatedly. With several seeds the band is the SE over seeds.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.5), squeeze=False)
for ax, d, lab in zip(axes[0], datasets, "ab"):
    rr = [r.result for r in recs[d]]
    fr = rr[0]["lesion_fractions"]
    for name in names + ["random"]:
        if len(rr) > 1:
            m, se = S.mean_se([o[f"lesion_{name}"] for o in rr])
        else:
            m, se = rr[0][f"lesion_{name}"], rr[0][f"lesion_{name}_se"]
        if name == "random":
            ax.fill_between(fr, m - se, m + se, color="0.6", alpha=0.5)
            ax.plot(fr, m, color="0.4", lw=2, label="random")
        else:
            ls = "--" if name in ("snr", "obd", "abs_w") else "-"
            ax.errorbar(fr, m, yerr=se, ls=ls, marker="o", ms=3, capsize=2, label=LABELS[name])
    ax.set(
        xlabel="fraction of synapses removed",
        ylabel="test accuracy (mean network)",
        title=DATA_LABEL[d],
    )
    ax.legend(fontsize=8, ncol=2)
    panel_label(ax, lab)
fig.tight_layout()
mark_profile(fig, res)
plt.show()
rr = [r.result for r in recs[datasets[0]]]
fr = rr[0]["lesion_fractions"]
k = int(np.argmin(np.abs(fr - 0.9)))
at90 = {n: float(np.mean([o[f"lesion_{n}"][k] for o in rr])) for n in names + ["random"]}
print(f"accuracy after removing {fr[k]:.0%} of synapses ({datasets[0]}):")
ranked = sorted(at90.items(), key=lambda t: -t[1])
for row in (ranked[:5], ranked[5:]):
    print("  " + ", ".join(f"{n} {v:.3f}" for n, v in row))
assert all(at90[n] >= at90["random"] - 0.02 for n in names), (
    "some importance order is worse than random"
)

# %% [markdown]
# ## Where they agree, where they do not
#
# Read the numbers above with the profile in mind. The statements below are generated from the
# results this page shows (with the full profile: 784-200-200-10, 50 epochs, 3 seeds;
# Fashion-MNIST and the MNIST sample), and the `assert`s under the heat map re-check the robust
# ones. In the quick profile (a small, briefly trained network) magnitude and curvature are
# nearly unrelated and $p$ lags further behind σ; both gaps shrink with training.

# %% tags=["hide-input"]
show("synthesis.importances.agreement", res)

# %% [markdown]
# **Predictions for experiments at one synapse.** If synapses implement any of these
# schemes, then across synapses (i) release probability and the inverse quantal CV should be
# positively rank-correlated, but only moderately — $p$ saturates; (ii) plasticity rate
# (the size of induced LTP/LTD, as in {cite:t}`sjostrom2001`) should fall with both,
# consistent with the negative correlation Schug et al. and Malkin et al. report; (iii) PSP
# amplitude alone should predict none of them well, while amplitude/SD (1/CV) should predict
# which synapses survive pruning.
#
# ## Exercises
#
# ```{exercise} Spearman's correlation by hand
# :label: ex-synthesis-spearman
# Write `spearman(x, y)`: rank each array (1 = smallest), give tied values the **average** of
# the ranks they occupy, and return the Pearson correlation of the two rank vectors. Why is
# $1-6\sum_i d_i^2/(n(n^2-1))$ not enough for release probabilities?
# ```


# %% tags=["solution", "hide-cell"]
def spearman(x, y):
    def ranks(a):
        a = np.asarray(a, dtype=float)
        order = np.argsort(a, kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(1, len(a) + 1)
        for v in np.unique(a):  # ties share their mean rank
            r[a == v] = r[a == v].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / np.sqrt((rx * rx).sum() * (ry * ry).sum()))


# %%
assert check("synthesis.spearman", spearman)

# %% tags=["book-only"]
print("on the stored synapses, rho_s(p, F) =", round(spearman(st["p"], st["fisher"]), 3))

# %% [markdown]
# ```{solution} ex-synthesis-spearman
# :class: dropdown
# Without ties the ranks are a permutation of $1..n$ and $\sum_i(r_i-s_i)^2$ determines the
# Pearson correlation of the ranks, giving $1-6\sum d_i^2/(n(n^2-1))$. With ties the rank
# variance is smaller than $(n^2-1)/12$ and the shortcut is biased. In the trained network most
# synapses sit at $p=p_\min$ — one huge tie — so only the average-rank definition is right.
# ```


# %% [markdown]
# ```{exercise} The slope of noise against curvature
# :label: ex-synthesis-slope
# In the diagonal linear model each synapse minimises $\tfrac12H\sigma^2+\lambda c\,\sigma^{-\rho}$.
# Write `slope(rho)`, the predicted $d\log\sigma^*/d\log H$, and compare it with the fitted
# slope in panel b above.
# ```


# %% tags=["solution", "hide-cell"]
def slope(rho):
    return -1.0 / (2.0 + rho)


# %%
assert check("synthesis.sigma_slope", slope)

# %% tags=["book-only"]
print(f"predicted {slope(rho):.3f}, fitted on the network {first['sigma_H_slope']:.3f}")

# %% [markdown]
# ```{solution} ex-synthesis-slope
# :class: dropdown
# $\frac{d}{d\sigma}\big[\tfrac12H\sigma^2+\lambda c\sigma^{-\rho}\big]=H\sigma-\lambda c\rho\sigma^{-\rho-1}=0$
# gives $\sigma^{*\,2+\rho}=\lambda c\rho/H$, so $\log\sigma^*=\frac{1}{2+\rho}\log(\lambda c\rho)-\frac{1}{2+\rho}\log H$:
# slope $-1/(2+\rho)$ ($-0.4$ for $\rho=1/2$). The network's slope is flatter because off-diagonal
# curvature lets other synapses absorb one synapse's noise, and because σ of weakly curved
# synapses converges slowly.
# ```


# %% [markdown]
# ```{exercise} Why does signal-to-noise pruning work?
# :label: ex-synthesis-snr
# Bayes-by-backprop {cite:p}`blundell2015` uses the entropic cost $-\lambda\log\sigma$ (the
# $\rho\to0$ limit of the power law). For one synapse with curvature $H$ minimise
# $\tfrac12H\sigma^2-\lambda\log\sigma$ and write `snr(mu, H, lam)` $=|\mu|/\sigma^*$. Compare
# $(|\mu|/\sigma^*)^2$ with the deletion cost $\tfrac12H\mu^2$.
# ```


# %% tags=["solution", "hide-cell"]
def snr(mu, H, lam):
    return abs(mu) * np.sqrt(H / lam)


# %%
assert check("synthesis.snr_entropic", snr)

# %% [markdown]
# ```{solution} ex-synthesis-snr
# :class: dropdown
# $H\sigma=\lambda/\sigma$ gives $\sigma^{*2}=\lambda/H$, the Laplace posterior variance, so
# $(|\mu|/\sigma^*)^2=H\mu^2/\lambda=\frac{2}{\lambda}\cdot\tfrac12H\mu^2$: ranking by SNR *is*
# ranking by the second-order deletion cost (Optimal Brain Damage). With the power-law cost,
# $\sigma^*\propto H^{-1/(2+\rho)}$ and $(\mu/\sigma^*)^2\propto\mu^2H^{2/(2+\rho)}$: still
# increasing in both magnitude and curvature, which is why the SNR and deletion-cost curves in
# the lesion figure nearly coincide.
# ```

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
show("synthesis.importances.summary", res)

# %% [markdown]
# Profile: the figures are stamped. The full profile (committed) is a 784-200-200-10 network on
# full Fashion-MNIST and on the **MNIST sample** (5,000 images, not full MNIST), 3 seeds each;
# the quick profile is a 784-100-100-10 network on 5,000 Fashion-MNIST images — not paper scale.

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
