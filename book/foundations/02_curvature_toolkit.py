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
# # Curvature toolkit
#
# All three papers of this book lean on the *curvature* of a loss surface. {cite:t}`schug2021`
# relate release probabilities to the Fisher information of a synapse, {cite:t}`malkin2024`
# find that optimal synaptic noise is small where the Hessian is large, and
# {cite:t}`raman2021` measure the curvature $Q_w[v]=\hat v^\top\nabla^2F[w]\,\hat v$ along the
# direction of synaptic fluctuations. This chapter builds the tools on a network small enough
# that every quantity can also be computed exactly (a 4-8-3 tanh classifier, 67 parameters,
# float64), and checks each fast method against the exact one:
#
# - gradient and Hessian-vector products (HVPs) against finite differences and the dense Hessian;
# - the Hessian against the generalised Gauss–Newton matrix, the Fisher and the *empirical*
#   Fisher {cite:p}`martens2020,kunstner2019`;
# - Hutchinson's trace estimator {cite:p}`hutchinson1989` and its variance;
# - top eigenvalues by Lanczos against a full eigendecomposition;
# - the curvature along a direction, pictured on a 2-D quadratic.
#
# Everything uses `synlab.curvature`; the toy problem comes from `synlab.experiments.foundations`.

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
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from synlab import curvature as curv
from synlab.exercises import check
from synlab.experiments.foundations import (
    fisher_matrices,
    fit_full_batch,
    gauss_newton_matrix,
    teacher_network,
    toy_classification,
)
from synlab.plot import panel_label, use_style
from synlab.synapses import mlp

use_style()
torch.manual_seed(0)
# torch 2.14 warns once, from inside its forward-mode AD, that torch.jit.script is deprecated: not ours to fix
warnings.filterwarnings(
    "ignore", message="`torch.jit.script` is deprecated", category=FutureWarning
)


def rel(a, b):
    """Relative Frobenius distance ‖a − b‖ / ‖b‖."""
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


# %% [markdown]
# ## A small, well-specified problem
#
# A *teacher* network $f_{\theta^\star}$ (4 inputs, 8 tanh units, 3 logits, with biases) labels
# 1,000 Gaussian inputs by **sampling** $y\sim\mathrm{softmax}(f_{\theta^\star}(x))$. A student
# of the same shape can represent the data-generating distribution exactly: the model is
# *well specified*, and $\theta^\star$ minimises the expected loss. The student starts at the
# teacher and is fitted to the finite sample with L-BFGS, which lands at the empirical minimum
# $\hat\theta$ near $\theta^\star$. The loss is the mean cross-entropy
# $\mathcal L(\theta)=\frac1n\sum_n-\log\mathrm{softmax}(f_\theta(x_n))_{y_n}$, turned into a
# function of one flat vector by `flatten_loss`.

# %%
teacher = teacher_network((4, 8, 3), seed=0)
x, y = toy_classification(teacher, 1000, seed=1)
student = teacher_network((4, 8, 3), seed=0)
grad_norm = fit_full_batch(student, x, y, max_iter=150)
f, theta = curv.flatten_loss(student, F.cross_entropy, x, y)
n_params = theta.numel()
print(
    f"{n_params} parameters, loss {float(f(theta)):.4f}, |gradient| after fitting {grad_norm:.1e}"
)
assert n_params == 4 * 8 + 8 + 8 * 3 + 3 and grad_norm < 0.05

# %% [markdown]
# ## Gradient and Hessian-vector products
#
# `gradient` is reverse-mode automatic differentiation; a central difference
# $\partial_i\mathcal L\approx[\mathcal L(\theta+he_i)-\mathcal L(\theta-he_i)]/2h$ has error
# $O(h^2)$. The Hessian-vector product $Hv$ is the directional derivative of the gradient,
# $Hv=\frac{d}{d\epsilon}\nabla\mathcal L(\theta+\epsilon v)|_{\epsilon=0}$, which `hvp`
# computes forward-over-reverse {cite:p}`martens2020` without forming $H$. We check it against
# the dense Hessian and against a central difference of gradients.

# %%
g = curv.gradient(f, theta)
h = 1e-5
eye = torch.eye(n_params, dtype=theta.dtype)
g_fd = torch.stack([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in eye])
H = curv.hessian(f, theta)
v = torch.randn(n_params, dtype=theta.dtype)
hv = curv.hvp(f, theta, v)
hv_fd = (curv.gradient(f, theta + h * v) - curv.gradient(f, theta - h * v)) / (2 * h)
print(f"gradient vs finite differences: max abs error {float((g - g_fd).abs().max()):.1e}")
print(
    f"HVP vs dense H v: relative error {rel(hv, H @ v):.1e}; vs finite differences: {rel(hv, hv_fd):.1e}"
)
print(f"Hessian symmetric to {float((H - H.T).abs().max()):.1e}")
assert (
    float((g - g_fd).abs().max()) < 1e-6
)  # finite differences: truncation O(h²) + round-off O(ε/h)
assert rel(hv, H @ v) < 1e-12 and rel(hv, hv_fd) < 1e-5
assert torch.allclose(H, H.T, atol=1e-12)

# %% [markdown]
# ### The spectrum, and directions of zero curvature
#
# The softmax does not change when the same number is added to every logit. Adding $c$ to all
# three output biases, or the same vector $u$ to all three rows of the output weights, leaves
# the loss unchanged *everywhere*: $8+1 = 9$ directions along which the curvature is exactly
# zero. The eigendecomposition shows them:

# %%
evals, evecs = torch.linalg.eigh(H)
names = [n for n, _ in student.named_parameters()]
shapes = {n: p.shape for n, p in student.named_parameters()}
sym = []
for j in range(9):  # the 9 softmax-shift directions, in flatten_loss order
    parts = {n: torch.zeros(shapes[n], dtype=theta.dtype) for n in names}
    if j < 8:
        parts["2.weight"][:, j] = 1.0
    else:
        parts["2.bias"][:] = 1.0
    sym.append(torch.cat([parts[n].reshape(-1) for n in names]))
sym = torch.stack(sym)
q_sym = curv.curvature_along(f, theta, sym)
print("eigenvalues: smallest", evals[:3].numpy().round(8), " largest", evals[-3:].numpy().round(4))
print("curvature along the softmax-shift directions:", float(q_sym.abs().max()))
print("eigenvalues with |λ| < 1e-10·λ_max:", int((evals.abs() < 1e-10 * evals[-1]).sum()))
assert float(q_sym.abs().max()) < 1e-12
assert int((evals.abs() < 1e-10 * evals[-1]).sum()) >= 9

# %% [markdown]
# ## Top eigenvalues by Lanczos
#
# For networks too large for a dense Hessian, `top_eigenpairs` runs the Lanczos method
# (ARPACK) on a linear operator that only performs HVPs. It finds the largest eigenvalues to
# the tolerance asked for:

# %%
vals, vecs = curv.top_eigenpairs(f, theta, k=3, tol=1e-8)
exact = evals.flip(0)[:3]
print("Lanczos:", vals.numpy().round(8))
print("eigh   :", exact.numpy().round(8))
assert torch.allclose(vals, exact, rtol=1e-6, atol=1e-8)
# eigenvectors up to sign: |<u_lanczos, u_eigh>| = 1 for the (well separated) top one
assert abs(float(vecs[0] @ evecs[:, -1])) > 1 - 1e-6

# %% [markdown]
# ## Hessian, Gauss–Newton, Fisher and empirical Fisher
#
# Write $z_n=f_\theta(x_n)$ for the logits, $\pi_n=\mathrm{softmax}(z_n)$, $J_n=\partial z_n/\partial\theta$
# and $e_y$ for the one-hot label. For $\ell_n=-\log\pi_{n,y_n}$,
# $\nabla_z\ell_n=\pi_n-e_{y_n}$ and $\nabla_z^2\ell_n=\operatorname{diag}\pi_n-\pi_n\pi_n^\top$,
# so the chain rule splits the Hessian in two:
#
# $$
# H=\frac1n\sum_n J_n^\top\big(\operatorname{diag}\pi_n-\pi_n\pi_n^\top\big)J_n
# \;+\;\frac1n\sum_n\sum_c(\pi_{nc}-[y_n=c])\,\nabla^2_\theta z_{nc}
# \;=\;G+R .
# $$
#
# $G$ is the **generalised Gauss–Newton** matrix (the Hessian of the linearised network), always
# positive semi-definite. The **Fisher** is the covariance of the score under the *model's own*
# labels, $\mathcal F=\frac1n\sum_n\mathbb E_{c\sim\pi_n}[\nabla\ell_n(c)\nabla\ell_n(c)^\top]$;
# since $\nabla_\theta\ell_n(c)=J_n^\top(\pi_n-e_c)$ and
# $\mathbb E_{c\sim\pi_n}[(\pi_n-e_c)(\pi_n-e_c)^\top]=\operatorname{diag}\pi_n-\pi_n\pi_n^\top$,
# the Fisher equals the Gauss–Newton matrix exactly for the softmax cross-entropy
# {cite:p}`martens2020`:
#
# $$\mathcal F = G .$$
#
# The **empirical Fisher** $\hat{\mathcal F}=\frac1n\sum_n\nabla\ell_n(y_n)\nabla\ell_n(y_n)^\top$
# uses the *observed* labels instead. When the model is well specified and $\theta=\theta^\star$,
# the labels are draws from $\pi_n$, so $\mathbb E[\hat{\mathcal F}]=\mathcal F$ and
# $\mathbb E[R]=0$ (because $\mathbb E[\pi_n-e_{y_n}]=0$): all three agree in expectation. Away
# from the optimum, or for a misspecified model, $\hat{\mathcal F}$ need not resemble $H$
# {cite:p}`kunstner2019` — yet it is what EWC and Schug et al.'s importance measure use.

# %%
fm = fisher_matrices(student, x, y)
G = gauss_newton_matrix(student, x)
print(f"Gauss–Newton vs Fisher: relative difference {rel(G, fm['model']):.1e}")
assert rel(G, fm["model"]) < 1e-12

rows = []


def compare(label, model, xs, ys):
    fn, th = curv.flatten_loss(model, F.cross_entropy, xs, ys)
    Hm = curv.hessian(fn, th)
    mats = fisher_matrices(model, xs, ys)
    row = (
        label,
        rel(mats["model"], Hm),
        rel(mats["empirical"], Hm),
        rel(mats["empirical"], mats["model"]),
    )
    rows.append(row)
    return Hm, mats


H_min, fm_min = compare("well specified, at the fitted minimum", student, x, y)
far = teacher_network((4, 8, 3), seed=7, scale=2.0)
H_far, fm_far = compare("well specified, random parameters", far, x, y)
linear = mlp((4, 3), bias=True).double()
fit_full_batch(linear, x, y, max_iter=150)
H_lin, fm_lin = compare("misspecified (linear softmax), at its minimum", linear, x, y)
print(f"{'':48s} |F−H|/|H|  |F̂−H|/|H|  |F̂−F|/|F|")
for label, a, b, c in rows:
    print(f"{label:48s} {a:9.3f}  {b:9.3f}  {c:9.3f}")
assert rows[0][1] < 0.05 and rows[0][2] < 0.3  # near the optimum all three agree
assert rows[1][2] > 2 * rows[0][2]  # far from it the empirical Fisher does not
assert rows[2][1] < 1e-10  # a linear model has R = 0: H = G = F exactly ...
assert rows[2][3] > rows[0][3]  # ... but the misspecified model's empirical Fisher is further off

# %% [markdown]
# The table reads: near the minimum of the well-specified model, Hessian, Fisher and empirical
# Fisher differ only by sampling noise. At random parameters the empirical Fisher is far from
# both (the residual $\pi_n-e_{y_n}$ is large and systematic). For the linear softmax model the
# Hessian *is* the Fisher ($R=0$, the logits are linear in $\theta$), but the data were not
# generated by a linear model, and the empirical Fisher is further from it.
#
# How fast does $\hat{\mathcal F}$ approach $\mathcal F$ at the true parameters $\theta^\star$?
# Each term is an independent draw with mean $\mathcal F$, so the relative error should shrink
# like $n^{-1/2}$:

# %% tags=["hide-input"]
ns = [250, 1000, 4000]
errs = []
for n in ns:
    xn, yn = toy_classification(teacher, n, seed=10 + n)
    mats = fisher_matrices(teacher, xn, yn)
    errs.append(rel(mats["empirical"], mats["model"]))
slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
print("n:", ns, " |F̂−F|/|F| at θ*:", np.round(errs, 4), f" slope {slope:.2f} (theory -0.5)")
assert abs(slope + 0.5) < 0.15

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for ax, (Hm, mats, title), label in zip(
    axes[:2],
    [(H_min, fm_min, "at the fitted minimum"), (H_far, fm_far, "at random parameters")],
    "ab",
):
    d = torch.diagonal(Hm)
    ax.loglog(
        d.clamp_min(1e-8),
        torch.diagonal(mats["model"]).clamp_min(1e-8),
        ".",
        ms=5,
        label="Fisher $\\mathcal{F}_{ii}$",
    )
    ax.loglog(
        d.clamp_min(1e-8),
        torch.diagonal(mats["empirical"]).clamp_min(1e-8),
        "x",
        ms=4,
        label="empirical Fisher $\\hat{\\mathcal{F}}_{ii}$",
    )
    lim = [1e-5, float(d.max()) * 3]
    ax.plot(lim, lim, "k:", lw=1)
    ax.set_xlabel("Hessian diagonal $H_{ii}$")
    ax.set_ylabel("Fisher diagonal")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    panel_label(ax, label)
ax = axes[2]
ax.loglog(
    ns,
    errs,
    "o-",
    label="$\\|\\hat{\\mathcal{F}}-\\mathcal{F}\\|/\\|\\mathcal{F}\\|$ at $\\theta^\\star$",
)
ax.loglog(ns, errs[0] * (np.array(ns) / ns[0]) ** -0.5, "k:", label="$\\propto n^{-1/2}$")
ax.set_xticks(ns, [f"{n:,}" for n in ns])
ax.set_xticks([], minor=True)
ax.set_xlabel("examples n")
ax.set_ylabel("relative distance")
ax.legend(fontsize=8, frameon=False)
panel_label(ax, "c")
fig.tight_layout()

# %% [markdown]
# In panels a and b, points on the left edge have $H_{ii}\le10^{-8}$ (zero, or negative where
# the Hessian is indefinite); they are drawn at $10^{-8}$.
#
# ## Hutchinson's trace estimator
#
# For a random probe $v$ with $\mathbb E[vv^\top]=I$,
# $\mathbb E[v^\top Hv]=\sum_{ij}H_{ij}\mathbb E[v_iv_j]=\operatorname{tr}H$
# {cite:p}`hutchinson1989`: averaging $S$ quadratic forms, each one HVP, estimates the trace,
# with standard error $\hat s/\sqrt S$. Its variance depends on the probe. For Gaussian probes
# $\operatorname{Var}[v^\top Hv]=2\lVert H\rVert_F^2$; for Rademacher probes ($v_i=\pm1$) the
# diagonal is read exactly ($v_i^2=1$) and only the off-diagonal terms fluctuate (see the
# exercise below): $\operatorname{Var}[v^\top Hv]=2\sum_{i\ne j}H_{ij}^2$.

# %% tags=["hide-input"]
tr = float(torch.trace(H))
off = H - torch.diag(torch.diagonal(H))
var_rad, var_gauss = 2 * float((off**2).sum()), 2 * float((H**2).sum())
S = 300
# relative standard error of a sample variance of S Gaussian-probe forms v^T H v = sum_i lam_i z_i^2:
# cumulants k2 = 2 sum lam^2, k4 = 48 sum lam^4, Var(s^2) ~ (k4 + 2 k2^2) / S (used as a guide for both probes)
k2, k4 = 2 * float((evals**2).sum()), 48 * float((evals**4).sum())
var_se = math.sqrt((k4 + 2 * k2**2) / S) / k2
gen = torch.Generator().manual_seed(0)
est_r = curv.hutchinson_trace(f, theta, S, generator=gen, distribution="rademacher")
est_g = curv.hutchinson_trace(f, theta, S, generator=gen, distribution="normal")
print(f"exact trace {tr:.4f}")
for name, est, var in [("Rademacher", est_r, var_rad), ("Gaussian", est_g, var_gauss)]:
    sample_var = float(est.stderr) ** 2 * S
    print(
        f"{name:10s}: {float(est.mean):.4f} ± {float(est.stderr):.4f}  "
        f"(per-probe variance {sample_var:.3f}, theory {var:.3f})"
    )
    assert abs(float(est.mean) - tr) < 4 * float(est.stderr)
    assert abs(sample_var / var - 1) < 4 * var_se  # 4 standard errors of a sample variance
assert est_r.stderr < est_g.stderr

# running estimate
gen = torch.Generator().manual_seed(1)
probes = (2 * torch.randint(0, 2, (S, n_params), generator=gen) - 1).to(theta.dtype)
forms = (probes * (probes @ H)).sum(1)
running = forms.cumsum(0) / torch.arange(1, S + 1)
se = math.sqrt(var_rad) / torch.arange(1, S + 1).sqrt()
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(running.numpy(), label="running Hutchinson estimate (Rademacher)")
ax.fill_between(
    np.arange(S), (tr - 2 * se).numpy(), (tr + 2 * se).numpy(), color="0.85", label="exact ± 2 SE"
)
ax.axhline(tr, color="k", lw=1)
ax.set_xlabel("probes S")
ax.set_ylabel("trace of H")
ax.legend(fontsize=8, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Curvature along a direction
#
# {cite:t}`raman2021` measure how the loss bends along a direction $v$ of weight change:
#
# $$
# Q_w[v]=\hat v^\top\nabla^2F[w]\,\hat v,\qquad\hat v=v/\lVert v\rVert,
# $$
#
# the second derivative of $F$ along the unit vector $\hat v$. Writing
# $\hat v=\sum_i c_iu_i$ in the orthonormal eigenvectors of $H$ ($\sum_ic_i^2=1$) gives
# $Q=\sum_i\lambda_ic_i^2$, a weighted average of the eigenvalues: always between
# $\lambda_{\min}$ and $\lambda_{\max}$, equal to them along the eigenvectors. On the 2-D
# quadratic $F(w)=\tfrac12 w^\top Aw$ with eigenvalues $4$ and $0.5$, $Q$ along the direction
# at angle $\varphi$ from the steep eigenvector is
# $Q(\varphi)=\lambda_1\cos^2\varphi+\lambda_2\sin^2\varphi$:

# %% tags=["hide-input"]
lam = torch.tensor([4.0, 0.5], dtype=torch.float64)
angle = math.radians(30)
U = torch.tensor(
    [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64
)
A = U @ torch.diag(lam) @ U.T


def quad(w):
    return 0.5 * w @ A @ w


w0 = torch.zeros(2, dtype=torch.float64)
phis = torch.linspace(0, math.pi, 181, dtype=torch.float64)
dirs = torch.stack(
    [torch.cos(phis + angle), torch.sin(phis + angle)], 1
)  # angle phi from the steep axis u_1
Q = curv.curvature_along(quad, w0, dirs)
assert torch.allclose(Q, lam[0] * torch.cos(phis) ** 2 + lam[1] * torch.sin(phis) ** 2, atol=1e-12)
assert float(Q.min()) >= float(lam.min()) - 1e-12 and float(Q.max()) <= float(lam.max()) + 1e-12
assert math.isclose(
    float(curv.curvature_along(quad, w0, 3.7 * U[:, 0])), 4.0
)  # length of v does not matter

fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
ax = axes[0]
grid = torch.linspace(-2, 2, 201, dtype=torch.float64)
W1, W2 = torch.meshgrid(grid, grid, indexing="xy")
Z = 0.5 * (A[0, 0] * W1**2 + 2 * A[0, 1] * W1 * W2 + A[1, 1] * W2**2)
ax.contour(W1.numpy(), W2.numpy(), Z.numpy(), levels=np.linspace(0.1, 4, 10), cmap="Greys")
for i, (color, name) in enumerate(
    [
        ("C3", "high curvature, $Q=\\lambda_{\\max}=4$"),
        ("C0", "low curvature, $Q=\\lambda_{\\min}=0.5$"),
    ]
):
    u = U[:, i].numpy()
    ax.annotate("", xy=1.5 * u, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=color, lw=2))
    ax.plot([], [], color=color, lw=2, label=name)
d = dirs[60].numpy()
ax.annotate("", xy=1.5 * d, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="C2", lw=2))
ax.plot([], [], color="C2", lw=2, label=f"$\\varphi$ = 60°: Q = {float(Q[60]):.2f}")
ax.set_aspect("equal")
ax.set_xlabel("$w_1$")
ax.set_ylabel("$w_2$")
ax.legend(fontsize=8, loc="lower right", frameon=True)
panel_label(ax, "a")
ax = axes[1]
ax.plot(np.degrees(phis.numpy()), Q.numpy())
ax.axhline(float(lam.max()), color="C3", ls=":", lw=1)
ax.axhline(float(lam.min()), color="C0", ls=":", lw=1)
ax.set_xlabel("angle φ from the steepest direction (degrees)")
ax.set_ylabel("$Q_w[v]$")
panel_label(ax, "b")
fig.tight_layout()

# %% [markdown]
# On the network the same holds in 67 dimensions. Along the top eigenvector $Q=\lambda_{\max}$;
# along a random isotropic direction $\mathbb E[Q]=\operatorname{tr}H/n$ (each
# $\mathbb E[c_i^2]=1/n$), far below $\lambda_{\max}$ — most directions are flat, which is why
# random synaptic fluctuations hurt less than fluctuations aligned with the steep directions.

# %%
rand_dirs = torch.randn(
    400, n_params, dtype=theta.dtype, generator=torch.Generator().manual_seed(3)
)
q_rand = curv.curvature_along(f, theta, rand_dirs)
q_top = float(curv.curvature_along(f, theta, vecs[0]))
print(
    f"Q along the top eigenvector {q_top:.4f} (λ_max {float(evals[-1]):.4f}); "
    f"mean Q along random directions {float(q_rand.mean()):.4f} (tr H / n = {tr / n_params:.4f})"
)
assert math.isclose(q_top, float(evals[-1]), rel_tol=1e-6)
assert abs(float(q_rand.mean()) - tr / n_params) < 4 * float(q_rand.std()) / math.sqrt(400)
assert float(q_rand.max()) <= float(evals[-1]) and float(q_rand.min()) >= float(evals[0])

# %% [markdown]
# ## Exercises
#
# ```{exercise} Curvature along a direction
# :label: ex-foundations-q
# Write `q_along(A, v)` returning $Q=\hat v^\top A\hat v$ for a symmetric matrix `A` and a
# direction `v` (numpy arrays; `v` need not have unit length). Then compute $Q$ for
# $A=\begin{pmatrix}3&0\\0&1\end{pmatrix}$ along $v=(1,1)$ by hand.
# ```


# %% tags=["solution", "hide-cell"]
def q_along(A, v):
    v = np.asarray(v, dtype=float)
    vhat = v / np.linalg.norm(v)
    return float(vhat @ A @ vhat)


# %%
assert check("foundations.curvature_along", q_along)

# %% tags=["book-only"]
print("Q along (1, 1) for diag(3, 1):", q_along(np.diag([3.0, 1.0]), np.array([1.0, 1.0])))

# %% [markdown]
# ```{solution} ex-foundations-q
# :class: dropdown
# $\hat v=(1,1)/\sqrt2$, so $Q=\tfrac12(3+1)=2$: the average of the two eigenvalues, since
# $(1,1)$ makes equal angles with both eigenvectors. Forgetting to normalise gives
# $v^\top Av=4$, twice too large — $Q$ must not depend on the length of $v$.
# ```


# %% [markdown]
# ```{exercise} Variance of Hutchinson's estimator
# :label: ex-foundations-hutchinson
# Show that for a Rademacher probe ($v_i=\pm1$ independently with probability ½) and a
# symmetric $H$, $\operatorname{Var}[v^\top Hv]=2\sum_{i\ne j}H_{ij}^2$, and write
# `rademacher_variance(H)` computing it. Why is the estimator exact for a diagonal $H$?
# ```


# %% tags=["solution", "hide-cell"]
def rademacher_variance(H):
    H = np.asarray(H, dtype=float)
    off = H - np.diag(np.diag(H))
    return float(2 * (off**2).sum())


# %%
assert check("foundations.hutchinson_variance", rademacher_variance)

# %% tags=["book-only"]
assert math.isclose(rademacher_variance(H.numpy()), var_rad, rel_tol=1e-12)

# %% [markdown]
# ```{solution} ex-foundations-hutchinson
# :class: dropdown
# $v^\top Hv=\sum_iH_{ii}v_i^2+\sum_{i\ne j}H_{ij}v_iv_j=\operatorname{tr}H+2\sum_{i<j}H_{ij}v_iv_j$
# because $v_i^2=1$. The products $v_iv_j$ ($i<j$) are $\pm1$ with mean 0, and any two distinct
# pairs are uncorrelated ($\mathbb E[v_iv_jv_kv_l]=0$ unless the pairs coincide). Hence
# $\operatorname{Var}=4\sum_{i<j}H_{ij}^2=2\sum_{i\ne j}H_{ij}^2$. For a diagonal $H$ this is 0:
# every probe returns the trace exactly. Gaussian probes add the diagonal's fluctuation,
# $\operatorname{Var}=2\lVert H\rVert_F^2$, which is why Rademacher probes are preferred.
# ```

# %% [markdown]
# ## Summary
#
# No paper figure is reproduced here; these are the identities this chapter checked, on a
# 4-8-3 tanh network (67 parameters, float64, 1,000 examples).
#
# | claim | ours | tolerance / gap |
# |---|---|---|
# | autodiff gradient = finite differences | max abs error printed above | $<10^{-6}$ (the accuracy of a central difference with $h=10^{-5}$ here) |
# | HVP = dense $Hv$ = finite difference of gradients | relative errors printed above | $10^{-12}$ / $10^{-5}$ |
# | softmax shift invariance gives 9 exactly flat directions | $Q=0$ along all 9 | $10^{-12}$ |
# | Lanczos top-3 eigenvalues = `eigh` | identical to print precision | $10^{-6}$ relative |
# | Gauss–Newton = Fisher for the softmax cross-entropy {cite:p}`martens2020` | exact | $10^{-12}$ |
# | at the minimum of a well-specified model, $H\approx\mathcal F\approx\hat{\mathcal F}$ | table above | $<5\,\%$ ($\mathcal F$ vs $H$), $<30\,\%$ ($\hat{\mathcal F}$, sampling noise of 1,000 labels) |
# | the empirical Fisher departs from $H$ away from the optimum or under misspecification {cite:p}`kunstner2019` | table above | qualitative (more than twice the error at the minimum) |
# | $\lVert\hat{\mathcal F}-\mathcal F\rVert\propto n^{-1/2}$ at $\theta^\star$ | fitted slope printed above | within $0.15$ of $-1/2$ |
# | Hutchinson trace unbiased, variance $2\sum_{i\ne j}H_{ij}^2$ (Rademacher), $2\lVert H\rVert_F^2$ (Gaussian) | 300 probes each | mean within 4 SE; sample variance within 4 SE of the theory |
# | $\lambda_{\min}\le Q_w[v]\le\lambda_{\max}$, $Q(\varphi)=\lambda_1\cos^2\varphi+\lambda_2\sin^2\varphi$ | 2-D quadratic; 400 random directions on the network | $10^{-12}$; mean within 4 SE of $\operatorname{tr}H/n$ |
#
# The fitted "minimum" is an L-BFGS solution with the gradient norm printed at the top, not an
# exact stationary point. Nothing here depends on the quick/full profile.
