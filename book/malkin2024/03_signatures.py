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
# # Signatures of importance
#
# Where does an energy-efficient network put its reliability? On the synapses that matter. This
# chapter measures, synapse by synapse, how the optimised noise σ relates to the synapse's
# *importance* (the curvature of the loss, estimated by squared gradients), to its *input rate*, and
# to its *learning rate* under Adam — [Fig. 5 and Appendix 6—figures 1–2 of Malkin et al. (2024)](https://doi.org/10.7554/eLife.92595)
# {cite:p}`malkin2024` — and derives the slopes a linear model predicts (Appendices 2 and 5), testing
# them on a network with no hidden layer.

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
from scipy.optimize import minimize_scalar

from synlab import costs
from synlab.chapter_tables import FIXED_C_LAYER, fractions_by_rho, signatures_comparison
from synlab.exercises import check
from synlab.plot import PALETTE, mark_profile, panel_label, panels, use_style
from synlab.results import results_for_chapter
from synlab.tables import show

use_style()
t_start = time.perf_counter()

# %% [markdown]
# ## The linear-model optimum (Appendix 2)
#
# Expand the performance cost to second order around the mean weights: with $w_i = \mu_i+\sigma_i\varepsilon_i$,
#
# $$\mathbb E_\varepsilon[L(w)] \approx L(\mu) + \tfrac12\sum_i H_{ii}\sigma_i^2,$$
#
# because the cross terms vanish in expectation ($\mathbb E[\varepsilon_i\varepsilon_j] = \delta_{ij}$). Each σ then
# solves its own one-dimensional problem,
#
# $$\min_{\sigma_i}\ \tfrac12 H_{ii}\sigma_i^2 + \lambda c\,\sigma_i^{-\rho}
#   \quad\Rightarrow\quad H_{ii}\sigma_i = \lambda c\rho\,\sigma_i^{-\rho-1}
#   \quad\Rightarrow\quad \sigma_i = \Big(\frac{\lambda c\rho}{H_{ii}}\Big)^{1/(2+\rho)} .$$
#
# So $\log\sigma_i = -\frac{1}{2+\rho}\log H_{ii} + \text{const}$: important synapses (large $H_{ii}$) are
# reliable, with a log–log slope of $-1/(2+\rho)$, between $-0.4$ ($\rho = 1/2$) and $-0.25$ ($\rho = 2$).

# %%
for rho in costs.RHOS:
    for H in (1e-3, 1.0, 50.0):
        closed = costs.optimal_sigma_linear(H, rho, c=0.5, lam=2.0)
        num = np.exp(
            minimize_scalar(
                lambda ls: float(costs.linear_objective(np.exp(ls), H, rho, 0.5, 2.0)),
                bounds=(-15, 15),
                method="bounded",
                options={"xatol": 1e-10},
            ).x
        )
        assert abs(num / closed - 1) < 1e-4
    print(
        f"ρ = {rho:.3g}: closed form matches numerical minimisation; slope against H = "
        f"{costs.predicted_slopes(rho)['hessian']:+.3f}"
    )

# %% [markdown]
# **Why input rate and learning rate follow.** For a synapse with presynaptic activity $x_j$ feeding a unit
# with output curvature $h$, $H_{ij} = \mathbb E[h\,x_j^2]$: a synapse whose input never fires has zero
# importance. And Adam divides the base step by the root-mean-square gradient
# ($\eta_i = \eta/(\sqrt{\hat v_i}+\epsilon)$); the mean squared gradient estimates the (empirical Fisher)
# Hessian diagonal, so important synapses get small learning rates. Prediction: σ falls with input
# rate and rises with learning rate.

# %% [markdown]
# ```{exercise} The optimal noise
# :label: ex-malkin-optimal-sigma
# Write `sigma_star(H, rho, c, lam)`, the minimiser of $\tfrac12H\sigma^2 + \lambda c\sigma^{-\rho}$.
# ```


# %% tags=["solution", "hide-cell"]
def sigma_star(H, rho, c, lam):
    return (lam * c * rho / H) ** (1 / (2 + rho))


# %%
assert check("malkin2024.optimal_sigma", sigma_star)

# %% [markdown]
# ```{solution} ex-malkin-optimal-sigma
# :class: dropdown
# $\frac{d}{d\sigma}\big(\tfrac12H\sigma^2 + \lambda c\sigma^{-\rho}\big) = H\sigma - \lambda c\rho\sigma^{-\rho-1} = 0$
# gives $\sigma^{2+\rho} = \lambda c\rho/H$; the second derivative is positive, so it is the minimum.
# ```

# %% [markdown]
# ```{exercise} The predicted slope
# :label: ex-malkin-hessian-slope
# Write `slope(rho)`, the predicted $d\log\sigma/d\log H$.
# ```


# %% tags=["solution", "hide-cell"]
def slope(rho):
    return -1 / (2 + rho)


# %%
assert check("malkin2024.hessian_slope", slope)

# %% [markdown]
# ```{solution} ex-malkin-hessian-slope
# :class: dropdown
# Take logs of the closed form: $\log\sigma = \frac{1}{2+\rho}(\log\lambda c\rho - \log H)$.
# ```

# %% [markdown]
# ## Fig. 5: the trained network
#
# Heterogeneous 784-100-100-10 networks, one per ρ, are trained together as one ensemble. Then,
# for ten more epochs, the weights stay fixed (as in the authors' code; the fixed-c extension kept
# training) while we average, per synapse of every weight layer: the squared gradient of μ (the
# empirical-Fisher estimate of $H_{ii}$), Adam's learning rate $\eta/(\sqrt{\hat v}+\epsilon)$, and the presynaptic activation
# over the same epochs (the input rate, the authors' definition). Noise model: one weight sample
# per mini-batch. The quick profile trains a few dozen steps on a few hundred images, so σ is
# still far from its optimum; the full profile trains for the paper's 150,000 steps (750 epochs
# of the 4,000-image MNIST sample).
#
# **Which cost weight.** The authors' code writes the reliability cost as
# $\frac1\rho(s/\sigma)^\rho$ and fixes $s = 10^{-3}$ for every ρ. In our notation that is a cost
# weight $\lambda c = s^\rho/\rho$: $10^{-1.20}$, $10^{-1.82}$, $10^{-4.12}$ and $10^{-6.30}$ for
# $\rho = \tfrac12, \tfrac23, \tfrac43, 2$. An earlier version of this chapter fixed
# $\lambda c = 10^{-3}$ for every ρ instead, and read a trend from it. The two settings put the
# networks at different points of their trade-off curves. From the optimum above, with s fixed,
#
# $$\sigma_i^{2+\rho} = \frac{s^\rho}{H_{ii}},$$
#
# the same noise scale s for every ρ. With $\lambda c = 10^{-3}$ fixed, ρ = ½ pays about
# $60\times$ *less* cost than with the authors' s, and ρ = 2 about $2000\times$ *more*. So the
# ρ = 2 network sits much further toward the noisy end of its curve than the authors' does, and
# a trend across ρ then mixes the effect of ρ with that move. Experiment
# `malkin2024_signatures_s` runs the authors' setting (s × 1, × 10 and ÷ 10, all three layers).
# `malkin2024_signatures` (c fixed, second layer only) stays as an extension, because it shows
# this move along the curve.

# %% tags=["hide-output"]
res = results_for_chapter("malkin2024_signatures")  # c fixed: the extension
if res.profile != "full":
    # no paper-scale results here at all: compute the s-fixed run's quick profile as well
    results_for_chapter("malkin2024_signatures_s")
cmp = signatures_comparison(res)
s_run = cmp["runs"]["malkin2024_signatures_s"]
print(
    "s fixed:",
    s_run["n"],
    "of",
    s_run["expected"],
    f"units stored ({res.profile} profile); c fixed:",
    len(res.records),
    "units",
)

# %% [markdown]
# The slope of log σ against log H, as a fraction of the prediction $-1/(2+\rho)$, per layer: the
# authors' released arrays (black), ours with s fixed, the same on full Fashion-MNIST (a control:
# the 4,000-image MNIST sample is memorised, the paper's full MNIST is not), and ours with c fixed
# (second layer only).
# Whether each is rising or falling with ρ is decided by `synlab.chapter_tables.trend` from these
# numbers.

# %% tags=["hide-input"]
curves = (
    ("authors' arrays", cmp["authors"], dict(color="k", marker="o")),
    ("ours, s fixed", s_run["stats"].get(1.0, {}), dict(color=PALETTE[2], marker="s")),
    (
        "ours, s fixed, Fashion-MNIST",
        cmp["runs"]["malkin2024_signatures_s_fashion"]["stats"].get(1.0, {}),
        dict(color=PALETTE[1], marker="D", ls=":"),
    ),
    ("ours, c fixed", cmp["c_fixed"].get(1.0, {}), dict(color="0.55", marker="^", ls="--")),
)
fig, axes = panels(3, ncols=3, height=2.6)
for layer, ax in enumerate(axes):
    for label, st, style in curves:
        rr, fr = fractions_by_rho(st, layer)
        if rr:
            ax.plot(rr, fr, label=label, **style)
    ax.axhline(1, color="0.8", lw=0.8)
    ax.set(title=f"layer {layer + 1}", xlabel="ρ", ylim=(0, 1.2))
axes[0].set_ylabel("slope / (−1/(2+ρ))")
axes[FIXED_C_LAYER].legend(fontsize=7)  # the layer every source reports
mark_profile(fig, s_run["res"] or res)
plt.show()

# %% tags=["hide-input"]
show("malkin2024.signatures.trend", res)

# %% [markdown]
# Per ρ and layer, σ against the Hessian estimate (Fig. 5a):

# %% tags=["hide-input"]
show("malkin2024.signatures.fig5", res)

# %% [markdown]
# And against the input rate and the learning rate (Fig. 5b–c). The quadratic approximation
# predicts slopes of $-2/(2+\rho)$ against the input rate ($H \propto x^2$) and $+2/(2+\rho)$
# against Adam's learning rate ($\eta_i \propto H_{ii}^{-1/2}$).

# %% tags=["hide-input"]
show("malkin2024.signatures.rates", res)

# %% [markdown]
# The synapses themselves, for the second layer: with s fixed when that run is stored, otherwise
# the fixed-c extension (the title says which).


# %% tags=["hide-input"]
def binned(x, y, bins=12):
    """Median of y in log-spaced bins of x (for display)."""
    x, y = np.asarray(x), np.asarray(y)
    ok = (x > 0) & (y > 0)
    edges = np.quantile(np.log(x[ok]), np.linspace(0, 1, bins + 1))
    idx = np.clip(np.digitize(np.log(x[ok]), edges[1:-1]), 0, bins - 1)
    xm = np.array([np.exp(np.median(np.log(x[ok][idx == b]))) for b in range(bins)])
    ym = np.array([np.exp(np.median(np.log(y[ok][idx == b]))) for b in range(bins)])
    return xm, ym


def second_layer(res, s_run):
    """(which run, ρ values, per ρ the arrays sigma, grad_sq, input_rate, adam_lr)."""
    layer = FIXED_C_LAYER
    rec = next((r for r in (s_run["res"] or []) if r.unit["s_factor"] == 1.0), None)
    if rec is not None:
        r = rec.result
        out = []
        for j in range(len(r["rhos"])):
            rate = r[f"input_abs_{j}_{layer}"]
            cols = r[f"idx_{j}_{layer}"] % rate.size  # weights are stored (out, in), row-major
            out.append(
                {
                    "sigma": r[f"sigma_{j}_{layer}"],
                    "grad_sq": r[f"grad_sq_{j}_{layer}"],
                    "input_rate": rate[cols],
                    "adam_lr": r[f"adam_lr_{j}_{layer}"],
                }
            )
        return "s fixed", np.asarray(r["rhos"]), out
    r = res.select(c_factor=1.0)[0].result
    keys = ("sigma", "grad_sq", "input_rate", "adam_lr")
    out = [{k: r[f"{k}_{j}"] for k in keys} for j in range(len(r["rhos"]))]
    return "c fixed", np.asarray(r["rhos"]), out


which, rhos, arrays = second_layer(res, s_run)
fig, flat = panels(3 * len(rhos), ncols=3, height=2.1, letters=False)
axes = np.array(flat).reshape(len(rhos), 3)
for k, rho in enumerate(rhos):
    sig = arrays[k]["sigma"]
    for j, (key, label) in enumerate(
        (
            ("grad_sq", "Hessian estimate (mean g²)"),
            ("input_rate", "input rate"),
            ("adam_lr", "Adam learning rate"),
        )
    ):
        x = arrays[k][key]
        ok = (x > 0) & (sig > 0)
        ax = axes[k, j]
        ax.loglog(x[ok], sig[ok], ".", ms=1.5, alpha=0.25, color=PALETTE[k])
        xm, ym = binned(x[ok], sig[ok])
        ax.loglog(xm, ym, "k-o", ms=3)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())  # decades only: narrow ranges overlap
        ax.set(
            xlabel=label if k == len(rhos) - 1 else None,
            ylabel=f"ρ = {rho:.2g}: σ" if j == 0 else None,
        )
axes[0, 1].set_title(f"layer 2, {which}", fontsize=9)
for j, letter in enumerate("abc"):
    panel_label(axes[0, j], letter)
mark_profile(fig, s_run["res"] if which == "s fixed" else res)
plt.show()

# %% [markdown]
# ## Appendix 6—figure 2: robustness to the cost
#
# The same networks with s multiplied by 10 and divided by 10 (and, in the extension, c): the
# signs of the relationships should not change.

# %% tags=["hide-input"]
show("malkin2024.signatures.app6", res)

# %% [markdown]
# ## Appendix 5: the network with no hidden layer
#
# In a softmax regression (784 → 10) the quadratic approximation is closest to exact, so the slope of
# log σ against log $H_{ii}$ should approach $-1/(2+\rho)$. One ensemble holds a member per ρ (and a
# Bayes-by-backprop member used in the next chapter).

# %% tags=["hide-input"]
lin = results_for_chapter("malkin2024_linear")
lres = lin.records[0].result
lin_slopes = {}
for k, rho in enumerate(np.asarray(lres["rhos"])):
    H, s = lres[f"grad_sq_{k}"], lres[f"sigma_{k}"]
    ok = (H > 0) & (s > 0) & (H > np.quantile(H[H > 0], 0.05))
    lin_slopes[rho] = costs.loglog_slope(H[ok], s[ok])
    print(
        f"ρ = {rho:.3g}: fitted slope {lin_slopes[rho]:+.3f}, "
        f"predicted {costs.predicted_slopes(rho)['hessian']:+.3f}"
    )
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(
    list(lin_slopes),
    list(lin_slopes.values()),
    "o",
    color=PALETTE[2],
    label="no-hidden-layer network",
)
rr = np.linspace(0.4, 2.1, 50)
ax.plot(rr, -1 / (2 + rr), "k-", label="−1/(2+ρ)")
ax.set(xlabel="ρ", ylabel="slope of log σ vs log H")
ax.legend(fontsize=8)
fig.tight_layout()
mark_profile(fig, lin)
assert all(v < 0 for v in lin_slopes.values())  # σ falls with importance for every ρ

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
show("malkin2024.signatures.closing", res, lin)

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
