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
# # The model and its learning rule
#
# {cite:t}`schug2021` give every synapse of a network a *release probability*: when the
# presynaptic neuron fires, the synapse transmits its strength with probability $p$ and nothing
# otherwise. The expected strength is learned by gradient descent; the release probability by a
# simple presynaptic rule — raise $p$ where the gradient is large, lower it elsewhere. This
# chapter writes the model down (Eqs. 1–9 of
# [Schug et al. 2021](https://doi.org/10.7554/eLife.69884)), checks the explicit update of the
# strength (Eqs. 8–9) against automatic differentiation, and works through the paper's argument
# (Materials and methods, "Link between release probabilities and Fisher information") that
# the rule makes $p$ track the Fisher information of a synapse.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from synlab.exercises import check
from synlab.importance import (
    lattice_stationary_distribution,
    prob_large_gradient_empirical,
    prob_large_gradient_gaussian,
    stationary_release_probability,
    strength_update,
)
from synlab.plot import panel_label, use_style
from synlab.rules import PresynapticRule, update_release_probability
from synlab.synapses import BernoulliLinear

use_style()
t_start = time.perf_counter()
torch.manual_seed(2019)

# %% [markdown]
# ## A synapse that sometimes fails
#
# Synapse $i$ has a strength $m_i$ and a release probability $p_i$. At every presynaptic spike a
# Bernoulli variable decides whether neurotransmitter is released (Eq. 1 of the paper):
#
# $$ w_i = r_i\, m_i, \qquad r_i \sim \mathrm{Bernoulli}(p_i), \qquad
#    \bar w_i = \mathbb E[w_i] = p_i m_i . $$
#
# A neuron sums its stochastic inputs and applies a nonlinearity, $a' = \sigma(\sum_i w_i a_i)$
# (Eq. 2). Because $\mathbb E[w_i] = \bar w_i$, the *mean* input is the one a deterministic
# network with weights $\bar w$ would receive; the failures add noise with variance
# $\operatorname{Var}[w_i] = p_i(1-p_i)m_i^2 = \bar w_i^2 (1-p_i)/p_i$, which vanishes only for
# $p_i = 1$. `synlab.synapses.BernoulliLinear` implements this layer. Its trained parameter is
# $\bar w$ (`weight`), $p$ is a buffer, and one release mask is drawn per forward pass and
# shared by the whole mini-batch, as in the authors' code (a DropConnect-style mask
# {cite:p}`wan2013`).

# %%
layer = BernoulliLinear(3, 1, p_init=torch.tensor([[0.25, 0.5, 1.0]]))
with torch.no_grad():
    layer.weight.copy_(torch.tensor([[0.4, -0.2, 0.1]]))
x = torch.tensor([[1.0, 1.0, 1.0]])
with torch.no_grad():
    samples = torch.cat([layer(x) for _ in range(20000)]).squeeze()
    var_theory = float((layer.weight**2 * (1 - layer.p) / layer.p).sum())
print(
    f"mean output {samples.mean():.4f} (expected weight sum {layer.weight.sum().item():.4f}), "
    f"variance {samples.var():.4f} (theory {var_theory:.4f})"
)
assert abs(samples.mean() - layer.weight.sum()) < 0.01
assert abs(samples.var() - var_theory) < 0.02

# %% [markdown]
# ## Two learning rules
#
# The expected strength follows stochastic gradient descent on the cross-entropy loss
# $L(\bar w, p)$ (Eq. 3 = Eq. 6):
#
# $$ \bar w_i^{(t+1)} = \bar w_i^{(t)} - \eta\, g_i, \qquad g_i = \frac{\partial L}{\partial \bar w_i}. $$
#
# The release probability uses the same gradient, but only its size (Eq. 4 = Eq. 7):
#
# $$ p_i^{(t+1)} = \begin{cases} p_i^{(t)} + p_{\rm up} & |g_i| > g_{\lim},\\
#                                p_i^{(t)} - p_{\rm down} & |g_i| \le g_{\lim}, \end{cases}
#    \qquad\text{clamped to } [0.25,\,1]. $$
#
# A synapse that keeps receiving large updates is being *used*; it becomes reliable. The paper
# fixes $p_{\rm up}=p_{\rm down}=0.07$, $g_{\lim}=0.001$ for the energy experiments and starts
# every synapse at $p = 0.25$. Two details come from the authors' code rather than the text
# (see the book's code notes): the step is multiplied by the *headroom* $(1-p_i)$, and synapses
# above a threshold $p_{\rm freeze}$ can be frozen (used only in the lifelong-learning chapters).
# `synlab.rules.update_release_probability` implements all of this as a pure function:

# %%
p = torch.tensor([0.25, 0.25, 0.60, 0.97])
g = torch.tensor([0.0, 0.01, 0.0, 0.01])  # gradients; g_lim = 0.001
plain = update_release_probability(p, g, p_up=0.07, p_down=0.07, g_lim=0.001)
headroom = update_release_probability(p, g, p_up=0.07, p_down=0.07, g_lim=0.001, headroom=True)
print("p before      ", [round(v, 4) for v in p.tolist()])
print("rule (Eq. 4)  ", [round(v, 4) for v in plain.tolist()])
print("with headroom ", [round(v, 4) for v in headroom.tolist()])
assert torch.allclose(plain, torch.tensor([0.25, 0.32, 0.53, 1.0]))
assert torch.allclose(
    headroom, torch.tensor([0.25, 0.25 + 0.07 * 0.75, 0.60 - 0.07 * 0.40, 0.97 + 0.07 * 0.03])
)
rule = PresynapticRule()  # the energy experiments' constants
print(rule)

# %% [markdown]
# ## What happens to the strength? (Eqs. 8–9)
#
# Only $\bar w$ and $p$ are updated; the strength $m = \bar w / p$ follows. After one step,
#
# $$ m_i^{(t+1)} = \frac{\bar w_i^{(t+1)}}{p_i^{(t+1)}} = \frac{1}{p_i^{(t+1)}}\Big(p_i^{(t)} m_i^{(t)} - \eta g_i\Big). $$
#
# With the chain rule $g_i = \frac{\partial L}{\partial \bar w_i} =
# \frac{\partial L}{\partial m_i}\frac{\partial m_i}{\partial \bar w_i} = \frac{1}{p_i}\frac{\partial L}{\partial m_i}$
# (at fixed $p$),
#
# $$ m_i^{(t+1)} = \frac{p_i^{(t)}}{p_i^{(t+1)}}\, m_i^{(t)} - \frac{\eta}{p_i^{(t+1)}p_i^{(t)}}\,
#    \frac{\partial L}{\partial m_i}. $$
#
# Two effects: a presynaptic change rescales the strength so that the *expected* weight is kept
# ($p$ up, $m$ down), and the postsynaptic gradient step on $m$ is amplified by $1/(p\,p')$ —
# unreliable synapses move their strength fastest. We check the identity numerically: compute
# $\partial L/\partial m$ and $\partial L/\partial \bar w$ with autograd for one sampled release
# pattern, apply the rule, and compare with `synlab.importance.strength_update`.

# %%
gen = torch.Generator().manual_seed(0)
layer = BernoulliLinear(8, 5, p_init=0.25 + 0.75 * torch.rand(5, 8, generator=gen)).double()
xb = torch.randn(16, 8, generator=gen, dtype=torch.float64)
yb = torch.randint(0, 5, (16,), generator=gen)
mask = layer.sample_mask(generator=gen)  # one release pattern, shared by the mini-batch
p_old = layer.p.clone()


def loss_from_wbar(wbar):
    return torch.nn.functional.cross_entropy(xb @ (mask * wbar / p_old).T, yb)


m = layer.strength.detach().clone().requires_grad_(True)
(grad_m,) = torch.autograd.grad(loss_from_wbar(p_old * m), m)
wbar = layer.weight.detach().clone().requires_grad_(True)
(grad_w,) = torch.autograd.grad(loss_from_wbar(wbar), wbar)
lr = 0.05
p_new = update_release_probability(
    p_old, grad_w, p_up=0.07, p_down=0.07, g_lim=float(grad_w.abs().median())
)
m_next_sgd = (wbar.detach() - lr * grad_w) / p_new  # Eq. 8: SGD on w̄, then divide by the new p
m_next_eq9 = strength_update(m.detach(), p_old, p_new, grad_m, lr)
print(f"max |g - (1/p) dL/dm| = {(grad_w - grad_m / p_old).abs().max():.2e}")
print(
    f"max |m' (Eq. 8) - m' (Eq. 9)| = {(m_next_sgd - m_next_eq9).abs().max():.2e}; "
    f"{int((p_new != p_old).sum())} of {p_old.numel()} release probabilities changed"
)
assert torch.allclose(grad_w, grad_m / p_old, atol=1e-12)
assert torch.allclose(m_next_sgd, m_next_eq9, atol=1e-12)

# %% [markdown]
# ```{exercise} The strength update
# :label: ex-schug-strength-update
# Write `strength_update(m, p_old, p_new, grad_m, lr)` returning $m^{(t+1)}$ from Eq. 9, for
# tensors of equal shape. Before coding: if there is no gradient and $p$ rises from 0.5 to
# 0.57, what happens to $m$, and why must it?
# ```


# %% tags=["solution", "hide-cell"]
def my_strength_update(m, p_old, p_new, grad_m, lr):
    return p_old / p_new * m - lr / (p_old * p_new) * grad_m


# %%
assert check("schug2021.strength_update", my_strength_update)

# %% [markdown]
# ```{solution} ex-schug-strength-update
# :class: dropdown
# $m' = \frac{p}{p'} m - \frac{\eta}{p p'}\partial L/\partial m$. With no gradient,
# $\bar w' = \bar w$, so $p' m' = p m$ and $m' = m \cdot 0.5/0.57 \approx 0.877\,m$: the strength
# shrinks so the expected transmission — and the function the network computes on average — is
# unchanged. Presynaptic plasticity alone redistributes reliability and strength, not the mean.
# ```

# %% [markdown]
# ## Why release probabilities track the Fisher information
#
# The *diagonal empirical Fisher information* of synapse $i$ is the mean squared gradient of the
# log-likelihood over the data, $F_i = \mathbb E_{(X,y)}[g_i(X,y)^2]$
# {cite:p}`martens2020,kunstner2019` — the same gradients the rule sees. It measures how
# sensitive the network is to changes of that synapse; elastic weight consolidation
# {cite:p}`kirkpatrick2017` protects synapses with large $F_i$. Let
# $p_i^+ = \Pr[|g_i| > g_{\lim}] = \Pr[g_i^2 > g_{\lim}^2]$ be the probability that $p_i$ goes up
# at a step (the paper's Eq. 10). If $p_i^+$ is increasing in $\mathbb E[g_i^2] = F_i$, synapses
# with larger Fisher information are pushed up more often and end up with larger release
# probabilities.
#
# The assumption is not true for every distribution, but it is for the usual families. For a
# Gaussian gradient $g_i \sim \mathcal N(\mu_i, \sigma_i^2)$ with $\sigma_i \gg |\mu_i|$,
# $F_i = \mu_i^2 + \sigma_i^2 \approx \sigma_i^2$ and
#
# $$ p_i^+ = \Pr[|g_i| > g_{\lim}] \approx \operatorname{erfc}\!\Big(\frac{g_{\lim}}{\sqrt{2}\,\sigma_i}\Big)
#    = \operatorname{erfc}\!\Big(\frac{g_{\lim}}{\sqrt{2F_i}}\Big), $$
#
# increasing in $F_i$ because erfc is decreasing. (With a mean, $p^+ =
# \frac12\operatorname{erfc}\frac{g_{\lim}-\mu}{\sqrt2\sigma} + \frac12\operatorname{erfc}\frac{g_{\lim}+\mu}{\sqrt2\sigma}$.)
# We check the closed form and the monotonicity by sampling Gaussian and Laplace gradients
# (same $F$) and counting how often $|g| > g_{\lim}$.

# %%
g_lim = 1e-3
fisher = np.logspace(-8, -4, 25)
closed = prob_large_gradient_gaussian(0.0, torch.tensor(np.sqrt(fisher)), g_lim).numpy()
gen = torch.Generator().manual_seed(1)
gauss = np.array(
    [
        float(
            prob_large_gradient_empirical(
                math.sqrt(f) * torch.randn(20000, generator=gen, dtype=torch.float64), g_lim
            )
        )
        for f in fisher
    ]
)
lap = torch.distributions.Laplace(0.0, 1.0)
torch.manual_seed(1)
laplace = np.array(
    [
        float(
            prob_large_gradient_empirical(math.sqrt(f / 2) * lap.sample((20000,)).double(), g_lim)
        )
        for f in fisher
    ]
)  # Laplace(0, b) has E[g^2] = 2 b^2
print("closed form vs Gaussian samples: max difference", np.abs(closed - gauss).max().round(4))
assert np.abs(closed - gauss).max() < 0.02
assert np.all(np.diff(closed) > 0) and np.all(
    np.diff(laplace[laplace > 0.01]) > 0
)  # sampling noise below 1 %

# %% [markdown]
# The rule turns $p^+$ into a release probability. If at every step synapse $i$ goes up with
# probability $q = p_i^+$ and down otherwise, $p_i$ is a random walk between the clamps. For
# $p_{\rm up} = p_{\rm down} = \delta$ it moves on the levels $p_{\min} + k\delta$, and detailed
# balance, $\pi_k\, q = \pi_{k+1}(1-q)$, gives a geometric stationary law
# $\pi_k \propto \big(q/(1-q)\big)^k$: below $q = 1/2$ the synapse sits near $p_{\min}$, above it
# near $p_{\max}$. `stationary_release_probability` simulates the rule as used in the energy
# experiments (with the code's headroom factor) and without it.

# %% tags=["hide-input"]
q = np.linspace(0.02, 0.98, 25)
mean_p_plain = stationary_release_probability(q).numpy()
mean_p_head = stationary_release_probability(q, headroom=True).numpy()
levels = 0.25 + 0.07 * np.arange(
    11
)  # 0.25 ... 0.95: the lattice of the plain rule below the top clamp
lattice = np.array([lattice_stationary_distribution(v, len(levels)) @ levels for v in q])
assert np.all(np.diff(mean_p_plain) > 0) and np.all(np.diff(mean_p_head) > 0)
assert np.abs(mean_p_plain - lattice).max() < 0.06  # the top clamp at 1.0 is the only difference

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
ax = axes[0]
ax.semilogx(fisher, closed, "k-", label=r"Gaussian, erfc$(g_{\lim}/\sqrt{2F})$")
ax.semilogx(fisher, gauss, "o", ms=4, label="Gaussian samples")
ax.semilogx(fisher, laplace, "s", ms=4, label="Laplace samples")
ax.axvline(g_lim**2, color="0.6", ls=":", lw=1)
ax.set(
    xlabel=r"Fisher information $F=\mathbb{E}[g^2]$",
    ylabel=r"$p^+ = P(|g|>g_{\lim})$",
    title=r"up-step probability ($g_{\lim}=10^{-3}$)",
)
ax.legend(fontsize=8)
panel_label(ax, "a")
ax = axes[1]
ax.plot(q, mean_p_plain, "o-", ms=3, label="rule (Eq. 4)")
ax.plot(q, lattice, "k--", lw=1, label="geometric law on the lattice")
ax.plot(q, mean_p_head, "s-", ms=3, label=r"with headroom $(1-p)$ (code)")
ax.set(
    xlabel=r"$p^+$",
    ylabel="long-run mean release probability",
    title=r"$p_{up}=p_{down}=0.07$, clamp [0.25, 1]",
)
ax.legend(fontsize=8)
panel_label(ax, "b")
fig.tight_layout()

# %% [markdown]
# Panel a: the probability of an up-step grows monotonically with the Fisher information for
# both families; it changes fastest when $\sqrt F$ is near $g_{\lim}$, so $g_{\lim}$ sets which
# synapses count as important. Panel b: the long-run release probability grows with that
# probability. Chained together, synapses with larger Fisher information settle at larger $p$ —
# which chapter 3 tests on trained networks (Fig. 2d of the paper). The argument is about single
# examples; with mini-batches of 100 the gradient is an average, still a common stand-in for the
# Fisher (paper, "Practical approximation").

# %% [markdown]
# ```{exercise} The up-step probability
# :label: ex-schug-prob-large
# Write `prob_large(fisher, g_lim)` returning $\Pr[|g| > g_{\lim}]$ for $g \sim \mathcal N(0, F)$
# (use `math.erfc`). What is it at $F = g_{\lim}^2$?
# ```


# %% tags=["solution", "hide-cell"]
def prob_large(fisher, g_lim):
    return math.erfc(g_lim / math.sqrt(2 * fisher))


# %%
assert check("schug2021.prob_large_gradient", prob_large)

# %% [markdown]
# ```{solution} ex-schug-prob-large
# :class: dropdown
# $\Pr[|g|>g_{\lim}] = 2\Pr[g > g_{\lim}] = 2\cdot\tfrac12\operatorname{erfc}(g_{\lim}/(\sqrt2\sigma))
# = \operatorname{erfc}(g_{\lim}/\sqrt{2F})$. At $F = g_{\lim}^2$ this is
# $\operatorname{erfc}(1/\sqrt2) \approx 0.317$, the probability of a standard normal leaving
# $[-1, 1]$. With $p_{\rm up}=p_{\rm down}$ a synapse needs $p^+ > 1/2$ to drift upward, i.e.
# $g_{\lim}/\sqrt{2F} < \operatorname{erfc}^{-1}(1/2) \approx 0.477$, or $\sqrt F > 1.48\,g_{\lim}$.
# ```

# %% [markdown]
# ## Summary
#
# | The paper's claim or number | Ours | The gap |
# |---|---|---|
# | Eq. 1: $\bar w = p\,m$, mean of the stochastic weight | mean and variance of a `BernoulliLinear` output match $\bar w$ and $\sum \bar w^2(1-p)/p$ (20,000 samples) | none |
# | Eqs. 6–7: SGD on $\bar w$, $p \pm 0.07$ by $\lvert g\rvert \gtrless g_{\lim}$, clamp to $[0.25, 1]$ | `update_release_probability`, checked on hand cases | the authors' code also scales the step by $(1-p)$; the energy experiments here follow the code and say so |
# | Eqs. 8–9: explicit update of $m$ | equal to SGD-on-$\bar w$ then $m=\bar w/p'$ to $10^{-12}$ with autograd gradients | none |
# | Eq. 10 and the erfc argument: $p^+$ increases with $F$ | closed form and Gaussian/Laplace samples, monotone over four decades of $F$ | the argument is for per-example gradients; training uses mini-batch means |
# | "synapses with larger Fisher information obtain high release probabilities" | the rule's long-run mean $p$ increases monotonically with $p^+$ (simulation and the geometric lattice law) | stationary analysis of one synapse with independent steps; real gradients are correlated in time |

# %%
print(f"chapter executed in {time.perf_counter() - t_start:.1f} s")
