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
# # The geometry of memory maintenance
#
# A network has learned a task. Its synapses keep changing anyway: task-independent
# *fluctuations* $\Delta\epsilon$ push the weights around, and *compensatory plasticity*
# $\Delta c$ pulls the task error back down. {cite:t}`raman2021` ask how large $\Delta c$
# should be, relative to $\Delta\epsilon$, for the error to settle as low as possible. The
# answer comes from the curvature of the loss landscape alone, and it is: no larger than the
# fluctuations, and usually smaller.
#
# This chapter derives the argument of Boxes 1–4 and Eqs. 1–14 of
# [Raman & O'Leary (2021)](https://doi.org/10.7554/eLife.62912) and checks every step
# numerically, on random quadratics and on the paper's 12-20-10 student–teacher network. The
# pictures of Figs. 2–4 are drawn from computed 2-D quadratic landscapes. Everything comes from
# `synlab.maintenance` and `synlab.curvature`.

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

from synlab import curvature as curv
from synlab import maintenance as mt
from synlab.exercises import check
from synlab.plot import panel_label, use_style
from synlab.synthesis import mean_se

use_style()
torch.set_num_threads(1)
DT = torch.float64

# %% [markdown]
# ## The set-up (Eq. 1, Box 1)
#
# Over a short interval the weights change by $\Delta w=\Delta c+\Delta\epsilon$ (Eq. 1). The
# task error $F[w]$ is smooth, so to second order (Eq. 2)
#
# $$\Delta F=\Delta\epsilon^\top\nabla F+\Delta c^\top\nabla F+\tfrac12\Delta c^\top\nabla^2F\,\Delta c
# +\tfrac12\Delta\epsilon^\top\nabla^2F\,\Delta\epsilon+\Delta c^\top\nabla^2F\,\Delta\epsilon
# +O(\lVert\Delta c+\Delta\epsilon\rVert^3).$$
#
# Fluctuations are task-independent: uncorrelated with the gradient and with the curvature
# seen by $\Delta c$ (Eqs. 3a–b); compensation goes downhill (Eq. 3c).
#
# The network is the paper's: 12 inputs, 20 sigmoid units, 10 linear outputs, a teacher of the
# same shape, 1000 standard-normal inputs, $F$ the mean squared error to the teacher's outputs.
# Check that the remainder of Eq. (2) shrinks like $\lVert\Delta w\rVert^3$:

# %%
task = mt.StudentTeacher(batch=1, seed=0)
f = task.loss_fn(0)
gen = torch.Generator().manual_seed(1)
w = task.theta_star[0] + 0.05 * torch.randn(task.n_weights, generator=gen, dtype=DT)
g, H = curv.gradient(f, w), curv.hessian(f, w)
direction = mt.unit_rows(torch.randn(1, task.n_weights, generator=gen, dtype=DT))[0]
steps = torch.tensor([0.4, 0.2, 0.1, 0.05], dtype=DT)
remainder = torch.stack(
    [
        f(w + s * direction) - f(w) - s * direction @ g - 0.5 * s**2 * direction @ H @ direction
        for s in steps
    ]
).abs()
orders = torch.log2(remainder[:-1] / remainder[1:])
print(
    "N =",
    task.n_weights,
    "weights;  |remainder| at ‖Δw‖ =",
    steps.tolist(),
    ":",
    remainder.tolist(),
)
print("halving ‖Δw‖ divides the remainder by 2^", [round(float(o), 2) for o in orders])
assert torch.all((orders > 2.5) & (orders < 3.5))

# %% [markdown]
# ## The curvature operator $Q_w$ (Box 2)
#
# Write $\hat v=v/\lVert v\rVert$. The curvature of the landscape along a direction is
#
# $$Q_w[v]=\hat v^\top\nabla^2F[w]\,\hat v ,$$
#
# the second derivative of $F$ along the unit vector $\hat v$ (Fig. 3a). It depends on the
# direction only, and it is a Rayleigh quotient, so $\lambda_{\min}\le Q_w[v]\le\lambda_{\max}$.
# Averaged over isotropic fluctuations, $\mathbb E[\hat\epsilon\hat\epsilon^\top]=I/N$, hence
# (Box 2 and Eq. 12)
#
# $$\mathbb E\big[Q_w[\Delta\epsilon]\big]=\frac{\operatorname{Tr}\nabla^2F[w]}{N},\qquad
# \mathbb E\big[F[w+\Delta\epsilon]-F[w]\big]\approx\frac{\lVert\Delta\epsilon\rVert^2}{2}\,
# \frac{\operatorname{Tr}\nabla^2F[w]}{N}.$$
#
# A state where this is positive is *partially trained*; where $\nabla^2F\succeq0$ it is
# *highly trained*. Both checks on the network, with the exact Hessian, Hutchinson's estimate of
# its trace {cite:p}`hutchinson1989`, and 2,000 white-noise directions:

# %%
eps = torch.randn(2000, task.n_weights, generator=gen, dtype=DT)
q_eps = curv.curvature_along(f, w, eps)
trace_over_n = float(torch.trace(H)) / task.n_weights
hutch = curv.hutchinson_trace(f, w, 200, generator=torch.Generator().manual_seed(2))
se = float(mean_se(q_eps.numpy())[1])
print(
    f"Tr(H)/N = {trace_over_n:.5f};  Hutchinson: {float(hutch.mean) / task.n_weights:.5f} "
    f"± {float(hutch.stderr) / task.n_weights:.5f};  mean Q[Δε] over 2000 draws = "
    f"{float(q_eps.mean()):.5f} ± {se:.5f}"
)
assert abs(float(q_eps.mean()) - trace_over_n) < 4 * se
lam = torch.linalg.eigvalsh(H)
assert float(lam[0]) - 1e-12 <= float(q_eps.min()) and float(q_eps.max()) <= float(lam[-1]) + 1e-12

# expected error increase from one fluctuation of norm 0.5 (Box 2), Monte Carlo vs formula
norm = 0.5
mc = float(torch.stack([f(w + norm * e) for e in mt.unit_rows(eps[:400])]).mean() - f(w))
print(
    f"E[ΔF] for ‖Δε‖ = {norm}: Monte Carlo {mc:.3e}, ½‖Δε‖²Tr(H)/N = {0.5 * norm**2 * trace_over_n:.3e}"
)
assert abs(mc - 0.5 * norm**2 * trace_over_n) < 0.25 * 0.5 * norm**2 * trace_over_n

# %% [markdown]
# The spectrum of this Hessian is very uneven: the mean eigenvalue (what fluctuations feel) is
# far below the largest ones. Keep this in mind — it will make compensation cheap.

# %%
print(
    f"eigenvalues of ∇²F: min {float(lam[0]):.2e}, mean {float(lam.mean()):.2e}, max "
    f"{float(lam[-1]):.2e}; "
    f"Q[∇F] = {float(curv.curvature_along(f, w, g)):.3f} = {float(curv.curvature_along(f, w, g)) / trace_over_n:.0f} × Tr(H)/N"
)

# %% [markdown]
# ## The optimal compensatory magnitude (Eq. 6, Box 3)
#
# Fix the direction $\hat c$ of compensation and ask for its best length. Inserting Eqs. (3)
# into Eq. (2) leaves (Box 3, Eq. 8)
#
# $$\mathbb E[\Delta F]=\lVert\Delta c\rVert\,\hat c^\top\nabla F+\tfrac12\lVert\Delta c\rVert^2Q_w[\Delta c]
# +\tfrac12\lVert\Delta\epsilon\rVert^2Q_w[\Delta\epsilon].$$
#
# Setting the derivative in $\lVert\Delta c\rVert$ to zero,
#
# $$\lVert\Delta c\rVert^*=\frac{-\hat c^\top\nabla F}{Q_w[\Delta c]}
# =\frac{-\hat c^\top\widehat{\nabla F}}{Q_w[\Delta c]}\,\lVert\nabla F\rVert ,\tag{6}$$
#
# large when the direction is accurate and the slope steep, small when the direction is curved
# (Fig. 3b). It does not depend on the fluctuations. On a quadratic Eq. (6) is exact, so a brute-force
# line search must find the same length:

# %%
lam2 = torch.tensor([1.0, 10.0], dtype=DT)
quad = mt.QuadraticTask.random(2, 1, eigenvalues=lam2, seed=4)
w2 = torch.tensor([[0.9, 0.5]], dtype=DT)
g2 = quad.gradient(w2)[0]
rng = torch.Generator().manual_seed(5)
results = []
for name, d in (
    ("exact gradient", -g2),
    ("corrupted gradient", -g2 / g2.norm() + 0.9 * torch.tensor([0.6, -0.8], dtype=DT)),
):
    m_star = float(mt.optimal_magnitude(g2, quad.H, d))
    grid = torch.linspace(0, 4 * m_star, 40001, dtype=DT)
    m_brute = float(grid[torch.argmin(quad.loss(w2 + grid[:, None] * d / d.norm()))])
    results.append((name, d, m_star))
    print(
        f"{name:>19}: Eq. (6) gives {m_star:.5f}, line search {m_brute:.5f}; Q = "
        f"{float(mt.curvature_q(quad.H, d)):.3f}"
    )
    assert abs(m_brute - m_star) < 1e-3 * m_star

# %% [markdown]
# The exact gradient is the better direction but the *shorter* optimal step: it points into the
# steep, highly curved wall of the valley (Fig. 4b). The optimal step ends where the path
# *kisses* a lower level set (Fig. 4a).


# %% tags=["hide-input"]
def contour(ax, task, lim=1.3):
    xs = torch.linspace(-lim, lim, 201, dtype=DT)
    X, Y = torch.meshgrid(xs, xs, indexing="xy")
    Z = task.loss(torch.stack([X, Y], -1).reshape(-1, 1, 2)).reshape(X.shape)
    ax.contourf(X, Y, Z, levels=np.geomspace(0.01, 10, 14), cmap="Blues_r", extend="both")
    ax.set_aspect("equal")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")


fig, axes = plt.subplots(1, 3, figsize=(12, 4))
ax = axes[0]
contour(ax, quad)
for (name, d, m), col in zip(results, ("C3", "C1")):
    end = w2[0] + m * d / d.norm()
    ax.annotate("", end.tolist(), w2[0].tolist(), arrowprops=dict(arrowstyle="->", color=col, lw=2))
    ax.plot(*end.tolist(), "o", color=col, label=f"{name}: ‖Δc‖* = {m:.2f}")
    level = float(quad.loss(end.unsqueeze(0)))
    xs = torch.linspace(-1.3, 1.3, 201, dtype=DT)
    X, Y = torch.meshgrid(xs, xs, indexing="xy")
    ax.contour(
        X,
        Y,
        quad.loss(torch.stack([X, Y], -1).reshape(-1, 1, 2)).reshape(X.shape),
        levels=[level],
        colors=col,
        linewidths=1,
    )
ax.plot(*w2[0].tolist(), "ko")
ax.legend(loc="lower left", fontsize=7)
ax.set_title("optimal steps kiss a level set")
panel_label(ax, "a")

# (b) loss along each direction (Fig. 3b): slope and curvature set the best length
ax = axes[1]
for (name, d, m), col in zip(results, ("C3", "C1")):
    s = torch.linspace(0, 2.5 * m, 200, dtype=DT)
    ax.plot(s, quad.loss(w2 + s[:, None] * d / d.norm()), color=col, label=name)
    ax.axvline(m, color=col, ls=":")
ax.set_xlabel("compensatory magnitude ‖Δc‖")
ax.set_ylabel("task error $F$")
ax.legend(fontsize=8)
ax.set_title("overshoot beyond ‖Δc‖*")
panel_label(ax, "b")

# (c) Fig. 4c/d: a fluctuation, then the best gradient step vs the Newton step
ax = axes[2]
contour(ax, quad)
start = torch.tensor([[0.15, -0.05]], dtype=DT)
kick = torch.tensor([[0.45, 0.35]], dtype=DT)
after = start + kick
ga = quad.gradient(after)[0]
m_gd = float(mt.optimal_magnitude(ga, quad.H, -ga))
newton = -mt.newton_direction(quad.H, ga.unsqueeze(0), damping=0.0)[0]
ax.annotate(
    "", after[0].tolist(), start[0].tolist(), arrowprops=dict(arrowstyle="->", color="k", lw=2)
)
ax.annotate(
    "",
    (after[0] - m_gd * ga / ga.norm()).tolist(),
    after[0].tolist(),
    arrowprops=dict(arrowstyle="->", color="C3", lw=2),
)
ax.annotate(
    "",
    (after[0] + newton).tolist(),
    after[0].tolist(),
    arrowprops=dict(arrowstyle="->", color="C2", lw=2),
)
ax.plot([], [], "k-", label=f"fluctuation ‖Δε‖ = {float(kick.norm()):.2f}")
ax.plot([], [], "C3-", label=f"gradient, ‖Δc‖* = {m_gd:.2f}")
ax.plot([], [], "C2-", label=f"Newton step, ‖Δc‖ = {float(newton.norm()):.2f}")
ax.legend(loc="lower left", fontsize=7)
ax.set_title("gradient compensates with less")
panel_label(ax, "c")
fig.tight_layout()
plt.show()

# %% [markdown]
# In panel c the Newton step $-\nabla^2F^{-1}\nabla F$ walks straight back to the minimum, undoing
# the whole fluctuation (Fig. 4d), whereas the best gradient step is much shorter than the
# fluctuation it repairs (Fig. 4c).

# %% [markdown]
# ## The optimal ratio at steady state (Eq. 9, Box 4)
#
# At steady state $\mathbb E[\Delta F]=0$. Insert the optimal magnitude, which makes the linear
# term equal to $-\lVert\Delta c\rVert^{*2}Q_w[\Delta c]$:
#
# $$0=-\tfrac12\lVert\Delta c\rVert^{*2}Q_w[\Delta c]+\tfrac12\lVert\Delta\epsilon\rVert^2Q_w[\Delta\epsilon]
# \quad\Longrightarrow\quad
# \frac{\lVert\Delta c\rVert^{*}}{\lVert\Delta\epsilon\rVert}=\sqrt{\frac{Q_w[\Delta\epsilon]}{Q_w[\Delta c]}} .\tag{9}$$
#
# Compensation should outcompete fluctuations only if it points in a *less* curved direction
# than they do (Eq. 11). Check the algebra on the network: pick the gradient direction, put the
# state where its optimal length makes $\mathbb E[\Delta F]$ vanish, and compare.

# %%
q_c = float(curv.curvature_along(f, w, -g))
m_opt = float(mt.optimal_magnitude(g, H, -g))
eps_for_steady = m_opt * math.sqrt(q_c / trace_over_n)  # the ‖Δε‖ for which this state is steady
expected_dF = mt.expected_loss_change(g, H, -m_opt * g / g.norm(), eps_for_steady, trace_over_n)
ratio9 = float(mt.steady_state_ratio(trace_over_n, q_c))
print(
    f"‖Δc‖* = {m_opt:.4f}, steady for ‖Δε‖ = {eps_for_steady:.4f}: E[ΔF] = "
    f"{float(expected_dF):.2e}; "
    f"‖Δc‖*/‖Δε‖ = {m_opt / eps_for_steady:.4f}, Eq. (9): {ratio9:.4f}"
)
scale = 0.5 * eps_for_steady**2 * trace_over_n  # the size of each term of Box 4
assert abs(float(expected_dF)) < 1e-8 * scale and abs(m_opt / eps_for_steady - ratio9) < 1e-10

# %% [markdown]
# ### During learning (Eq. 10)
#
# If instead the optimally compensated error is still falling, $\mathbb E[\Delta F]<0$, the same
# algebra gives $\lVert\Delta c\rVert^{*2}Q[\Delta c]>\lVert\Delta\epsilon\rVert^2Q[\Delta\epsilon]$:
#
# $$\frac{\lVert\Delta c\rVert^{*2}}{\lVert\Delta\epsilon\rVert^2}\ \ge\ \frac{Q_w[\Delta\epsilon]}{Q_w[\Delta c]} .\tag{10}$$
#
# Learning calls for more plasticity than maintenance. Far from the teacher, with the same
# fluctuation size:

# %%
w_far = task.theta_star[0] + 0.5 * torch.randn(task.n_weights, generator=gen, dtype=DT)
g_far, H_far = curv.gradient(f, w_far), curv.hessian(f, w_far)
qe_far = float(torch.trace(H_far)) / task.n_weights
m_far = float(mt.optimal_magnitude(g_far, H_far, -g_far))
dF_far = float(
    mt.expected_loss_change(g_far, H_far, -m_far * g_far / g_far.norm(), eps_for_steady, qe_far)
)
lhs, rhs = (m_far / eps_for_steady) ** 2, qe_far / float(curv.curvature_along(f, w_far, g_far))
print(
    f"F = {float(f(w_far)):.3f}: E[ΔF] = {dF_far:.3e} < 0 and ‖Δc‖*²/‖Δε‖² = {lhs:.3f} ≥ "
    f"Q[Δε]/Q[Δc] = {rhs:.4f}"
)
assert dF_far < 0 and lhs >= rhs

# %% [markdown]
# ## Why the gradient is a curved direction (Eqs. 13–14)
#
# On a quadratic $F=\tfrac12(w-w^*)^\top H(w-w^*)$ the gradient is $H(w-w^*)$ (Eq. 13). Write
# $w-w^*=\sum_ic_iv_i$ in the eigenbasis $Hv_i=\lambda_iv_i$. Then $\nabla F=\sum_ic_i\lambda_iv_i$
# and
#
# $$Q_w[\nabla F]=\frac{\sum_ic_i^2\lambda_i^3}{\sum_ic_i^2\lambda_i^2}. \tag{14}$$
#
# Multiplying by $H$ magnifies the steep components, so the gradient leans towards the curved
# directions. With equal $c_i$ (a displacement that does not prefer any direction), Chebyshev's
# sum inequality gives $\sum\lambda^3/\sum\lambda^2\ge\sum\lambda/N=\mathbb E\,Q[\Delta\epsilon]$,
# and the gap widens with the spread of the eigenvalues. The Newton direction instead has
# $Q=\sum c_i^2\lambda_i/\sum c_i^2$, equal to $\operatorname{Tr}H/N$ for equal $c_i$ (SI
# Eq. 6c), so its optimal ratio is one.

# %% tags=["hide-input"]
n = 50
spreads = np.array([1, 2, 5, 10, 30, 100, 300, 1000.0])
ratio_grad, ratio_newton = [], []
for s in spreads:
    lam_s = torch.logspace(0, math.log10(s), n, dtype=DT)
    c = torch.ones(n, dtype=DT)
    ratio_grad.append(
        float(mt.steady_state_ratio(lam_s.mean(), mt.gradient_curvature_quadratic(lam_s, c)))
    )
    ratio_newton.append(
        float(mt.steady_state_ratio(lam_s.mean(), mt.newton_curvature_quadratic(lam_s, c)))
    )
# Eq. (14) against a direct computation on a rotated quadratic with random c
q14 = mt.QuadraticTask.random(n, 1, eigenvalues=torch.logspace(0, 2, n, dtype=DT), seed=6)
evals, V = torch.linalg.eigh(q14.H)
c = torch.randn(n, generator=gen, dtype=DT)
direct = float(mt.curvature_q(q14.H, q14.gradient((V @ c).unsqueeze(0))[0]))
print(
    f"Eq. (14): {float(mt.gradient_curvature_quadratic(evals, c)):.6f}; direct v̂ᵀHv̂: {direct:.6f}"
)
assert abs(direct - float(mt.gradient_curvature_quadratic(evals, c))) < 1e-9 * direct
assert all(r <= 1 + 1e-12 for r in ratio_grad) and np.all(np.diff(ratio_grad) < 0)

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogx(spreads, ratio_grad, "o-", label="gradient (1st order)")
ax.semilogx(spreads, ratio_newton, "s--", label="Newton (2nd order)")
ax.axhline(1, color="0.5", lw=0.8)
ax.set_xlabel(r"eigenvalue spread $\lambda_{\max}/\lambda_{\min}$ (log-spaced, N = 50)")
ax.set_ylabel(r"optimal $\|\Delta c\|/\|\Delta\epsilon\|$ (Eq. 9)")
ax.set_title("a more anisotropic landscape needs less compensation")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercises
#
# ```{exercise} The optimal compensatory magnitude
# :label: ex-raman-optimal-magnitude
# Write `optimal_magnitude(g, H, c)` returning $\lVert\Delta c\rVert^*$ of Eq. (6) for a gradient
# `g`, Hessian `H` and a (not necessarily unit) direction `c` (torch tensors).
# ```


# %% tags=["solution", "hide-cell"]
def optimal_magnitude(g, H, c):
    c_hat = c / c.norm()
    return float(-(c_hat @ g) / (c_hat @ H @ c_hat))


# %%
assert check("raman2021.optimal_magnitude", optimal_magnitude)

# %% [markdown]
# ```{solution} ex-raman-optimal-magnitude
# :class: dropdown
# Along $w+m\hat c$ the error changes by $m\,\hat c^\top\nabla F+\tfrac12m^2\hat c^\top H\hat c$; its
# derivative in $m$ vanishes at $m^*=-\hat c^\top\nabla F/Q[\hat c]$. Both the slope and the
# curvature use the *unit* vector: with an unnormalised $c$ you get $m^*/\lVert c\rVert$.
# ```


# %% [markdown]
# ```{exercise} The steady-state ratio
# :label: ex-raman-steady-ratio
# Write `steady_ratio(H, c)` returning the optimal $\lVert\Delta c\rVert/\lVert\Delta\epsilon\rVert$
# of Eq. (9) for compensation along `c` and isotropic fluctuations (use Eq. 12 for
# $Q[\Delta\epsilon]$). Then: for $H=\operatorname{diag}(1,10)$, what is it along $(0,1)$ and
# along $(1,0)$?
# ```


# %% tags=["solution", "hide-cell"]
def steady_ratio(H, c):
    c_hat = c / c.norm()
    return math.sqrt(float(torch.trace(H)) / H.shape[0] / float(c_hat @ H @ c_hat))


# %%
assert check("raman2021.steady_ratio", steady_ratio)

# %% tags=["book-only"]
Hd = torch.diag(torch.tensor([1.0, 10.0], dtype=DT))
print(
    "along the steep axis:",
    steady_ratio(Hd, torch.tensor([0.0, 1.0], dtype=DT)),
    " along the flat axis:",
    steady_ratio(Hd, torch.tensor([1.0, 0.0], dtype=DT)),
)

# %% [markdown]
# ```{solution} ex-raman-steady-ratio
# :class: dropdown
# $Q[\Delta\epsilon]=\operatorname{Tr}H/N=5.5$. Along the steep axis $Q=10$ and the ratio is
# $\sqrt{0.55}\approx0.74$; along the flat axis $Q=1$ and it is $\sqrt{5.5}\approx2.3$. Compensating
# along a flat direction would require *more* plasticity than the fluctuations — but a downhill
# rule is dragged towards steep directions (Eq. 14), which is the paper's point.
# ```

# %% [markdown]
# ## Summary
#
# | the paper's claim | ours | gap |
# |---|---|---|
# | Eq. (2): second-order expansion of $\Delta F$ | remainder shrinks as $\lVert\Delta w\rVert^{3}$ on the 12-20-10 network | none |
# | Eq. (12): $\mathbb E\,Q[\Delta\epsilon]=\operatorname{Tr}\nabla^2F/N$ | 2,000 white-noise directions; Hutchinson estimate | within 4 s.e. |
# | Eq. (6): optimal magnitude $-\hat c^\top\nabla F/Q[\Delta c]$ | equals a 40,001-point line search on a quadratic | $<10^{-3}$ relative (grid) |
# | Eq. (9): steady-state ratio $\sqrt{Q[\Delta\epsilon]/Q[\Delta c]}$ | Box 4 algebra checked to $10^{-8}$ relative | a check of the algebra; the simulation test is in chapter 3 |
# | Eq. (10): more plasticity while learning | holds at a displaced state ($F\approx$ printed) | one state, not a proof |
# | Eq. (14) and Chebyshev: the gradient is more curved than average | exact; ratio falls with eigenvalue spread, Newton stays at 1 | equal $c_i$ assumed, as in the SI |
# | Figs. 2–4 (schematics) | drawn from a computed 2-D quadratic ($\lambda=1,10$) | illustrations, not data |
#
# On the paper's nonlinear network the gradient direction is about 30 times more curved than a
# random one (printed above), so Eq. (9) predicts a ratio of roughly $1/\sqrt{30}\approx0.2$ for
# exact gradients near the teacher — the next chapters test this by simulation.
