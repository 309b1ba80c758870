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
# # Information and energy
#
# {cite:t}`schug2021` ask how much *task-relevant information* a network extracts per unit of
# *energy* its synapses cost. This chapter defines both sides. Information is Shannon's
# {cite:p}`shannon1948`: the mutual information $I(Y;Z)$ between the label $Y$ of an image and
# the network's output $Z$, in bits, computed from hard (arg-max) or soft (softmax) outputs.
# Energy is the synaptic cost $E=\sum|\bar w|$, motivated by the finding that reversing the ion
# fluxes of synaptic transmission dominates the brain's energy budget {cite:p}`harris2012`, and
# by the single-synapse argument that unreliable release can *raise* the information
# transmitted per unit energy {cite:p}`levy2002`.
#
# We check the information measures against closed forms, then train a deterministic,
# bias-free ReLU network on Fashion-MNIST at several L2 strengths and plot information against
# energy — the shape of [Fig. 1a of Schug et al. 2021](https://doi.org/10.7554/eLife.69884)
# for the deterministic network (their stochastic models come in the Schug part of the book).

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
from IPython.display import display

from synlab import information as info
from synlab.exercises import check
from synlab.plot import mark_profile, panel_label, use_style
from synlab.results import results_for_chapter
from synlab.synapses import BernoulliLinear, mlp
from synlab.synthesis import mean_se
from synlab.tables import Table, fmt, show

use_style()
# no ipywidgets here: tqdm.auto falls back to text bars (and warns); progress bars are off in the book anyway
warnings.filterwarnings("ignore", message="IProgress not found")

# %% [markdown]
# ## Entropy
#
# The entropy of a discrete distribution, $H(p)=-\sum_ip_i\log_2p_i$ (with $0\log0=0$), is the
# average number of bits needed to encode a draw. Closed forms to check: a uniform
# distribution on $K$ outcomes has $H=\log_2K$ (the maximum); a certain outcome has $H=0$; a
# coin with bias $\varepsilon$ has the binary entropy $h(\varepsilon)=-\varepsilon\log_2\varepsilon-(1-\varepsilon)\log_2(1-\varepsilon)$.

# %%
for K in (2, 10, 37):
    assert math.isclose(
        float(info.entropy(torch.full((K,), 1.0 / K, dtype=torch.float64))),
        math.log2(K),
        rel_tol=1e-12,
    )
assert float(info.entropy(torch.tensor([0.0, 1.0, 0.0]))) == 0.0
eps = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
h = info.entropy(torch.stack([eps, 1 - eps], 1))
assert torch.allclose(h, -(eps * torch.log2(eps) + (1 - eps) * torch.log2(1 - eps)))
rng = np.random.default_rng(0)
for _ in range(100):  # no distribution on 10 outcomes beats the uniform one
    p = rng.dirichlet(np.ones(10) * 0.5)
    assert float(info.entropy(p)) <= math.log2(10) + 1e-12
print("entropy: uniform, certain, binary and the maximum-entropy bound check out")

# %% [markdown]
# ## Mutual information between labels and outputs
#
# $$
# I(Y;Z)=H(Y)-H(Y\mid Z)=\sum_{y,z}P(y,z)\log_2\frac{P(y,z)}{P(y)P(z)}
# $$
#
# is what the output $Z$ tells about the label $Y$: 0 bits if they are independent, $H(Y)$ if
# $Z$ determines $Y$ (here $\log_2 10\approx3.32$ bits for ten balanced classes), and in between
# otherwise. For a classifier, the joint $P(y,z)$ is estimated on a test set. **Hard**: $Z$ is
# the arg-max class, so $P(y,z)$ is the normalised confusion matrix. **Soft** (Schug et al.'s
# choice, authors' code): $P(z\mid y)$ is the softmax output averaged over the test images of
# class $y$, so a network that is right but unsure carries less information than its
# arg-max suggests. Closed-form checks:
#
# - independence: $P(y,z)=P(y)P(z)\Rightarrow I=0$;
# - a perfect classifier: $I=H(Y)$;
# - a binary symmetric channel (two balanced classes, each flipped with probability
#   $\varepsilon$): $I=1-h(\varepsilon)$;
# - one-hot "soft" outputs give the hard value; uniform softmax outputs give 0.

# %%
py, pz = (
    torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64),
    torch.tensor([0.6, 0.1, 0.3], dtype=torch.float64),
)
assert info.mutual_information_from_joint(torch.outer(py, pz)) < 1e-12
labels = torch.arange(10).repeat(50)
assert math.isclose(info.mutual_information(labels, labels), math.log2(10), rel_tol=1e-12)
for e in (0.0, 0.1, 0.25, 0.5):
    joint = torch.tensor([[1 - e, e], [e, 1 - e]], dtype=torch.float64) / 2
    h_e = float(info.entropy(torch.tensor([e, 1 - e], dtype=torch.float64)))
    assert math.isclose(info.mutual_information_from_joint(joint), 1 - h_e, abs_tol=1e-12)
gen = torch.Generator().manual_seed(0)
y_true = torch.randint(0, 10, (2000,), generator=gen)
logits = 3.0 * torch.nn.functional.one_hot(y_true, 10) + torch.randn(2000, 10, generator=gen)
probs = torch.softmax(logits.double(), 1)
hard = info.mutual_information(y_true, probs.argmax(1), n_classes=10)
soft = info.mutual_information(y_true, probs)
one_hot = info.mutual_information(y_true, torch.nn.functional.one_hot(probs.argmax(1), 10).double())
uniform = info.mutual_information(y_true, torch.full((2000, 10), 0.1, dtype=torch.float64))
print(
    f"noisy toy classifier: hard I = {hard:.3f} bits, soft I = {soft:.3f} bits, H(Y) = {math.log2(10):.3f}"
)
assert math.isclose(one_hot, hard, rel_tol=1e-12) and uniform < 1e-12
assert 0 < soft < hard < math.log2(10)

# %% [markdown]
# For this toy classifier the soft estimate is the smaller one: averaging the softmax keeps
# the probability mass the network puts on wrong classes even when the arg-max is right. This
# is not a law (a confident but often wrong network can have soft above hard), but it is the
# typical case for trained networks below.
#
# ## Synaptic energy
#
# Following {cite:t}`schug2021`, the energy of a network is the total expected synaptic
# strength, $E=\sum_{\ell,ij}|\bar w^{(\ell)}_{ij}|$: the postsynaptic current a synapse causes
# on average, which sets the ion flux the cell must pump back {cite:p}`harris2012`. For a
# Bernoulli synapse that is $|\bar w|=p\,|m|$: releasing less often saves energy in proportion,
# the mechanism behind the energy savings of stochastic release {cite:p}`levy2002`.
# `synaptic_energy` reads $\bar w$ from every synapse layer (biases excluded):

# %%
torch.manual_seed(0)
net = mlp([6, 4, 2], BernoulliLinear, p_init=0.5)
by_hand = sum(
    float((layer.p * layer.strength).abs().sum().detach())
    for layer in net
    if isinstance(layer, BernoulliLinear)
)
energy_net = float(info.synaptic_energy(net).detach())
assert math.isclose(energy_net, by_hand, rel_tol=1e-6)
assert math.isclose(info.energy_per_bit(2.0, 10.0), 5.0)
print(f"energy of a 6-4-2 Bernoulli network: {energy_net:.3f} = Σ p|m|")

# %% [markdown]
# ## Information against energy on Fashion-MNIST
#
# The experiment `foundations_information` trains a bias-free 784-100-10 ReLU network with
# SGD (learning rate <span class="paper">0.05</span>, batch 100, as in Schug et al.'s energy experiment) for several L2
# strengths $\lambda$; L2 (weight decay) pulls weights towards 0 and so trades energy against
# accuracy. Each unit (one $\lambda$ × one seed) records test accuracy, $I(Y;Z)$ hard and soft,
# and $E$. Schug et al. used MNIST and a 784-200-200-10 network for 50 epochs; we use
# Fashion-MNIST (available offline in full), a smaller network and, in the quick profile, a
# 5,000-image subset for 2 epochs.

# %% tags=["hide-input"]
res = results_for_chapter("foundations_information")
cfg = res.config
l2s = sorted({r.unit["l2"] for r in res.records})


def by_l2(name):
    means, ses = zip(*(mean_se(res.values(name, l2=l2)) for l2 in l2s))
    return np.array(means), np.array(ses)


energy, energy_se = by_l2("energy")
mi_soft, mi_soft_se = by_l2("mi_soft_bits")
mi_hard, mi_hard_se = by_l2("mi_hard_bits")
acc, _ = by_l2("accuracy")
h_y = float(res.records[0].result["label_entropy_bits"])
sweep = Table(["L2", "accuracy", "I soft (bits)", "I hard (bits)", "energy", "energy / bit"])
for i, l2 in enumerate(l2s):
    sweep.add(
        f"{l2:g}",
        fmt(acc[i], 3),
        fmt(mi_soft[i], 3),
        fmt(mi_hard[i], 3),
        fmt(energy[i], 1),
        fmt(energy[i] / mi_soft[i], 1),
    )
display(sweep)

# checks on every unit: information bounded by H(Y), hard MI recomputed from the stored confusion matrix
for r in res.records:
    assert (
        0 <= r.result["mi_soft_bits"] <= h_y + 1e-9 and 0 <= r.result["mi_hard_bits"] <= h_y + 1e-9
    )
    assert math.isclose(
        info.mutual_information_from_joint(torch.as_tensor(r.result["confusion"])),
        r.result["mi_hard_bits"],
        rel_tol=1e-9,
    )
# the trade-off: stronger L2, less energy and less (soft) information
assert np.all(np.diff(energy) < 0), "energy should fall as the L2 strength grows"
assert mi_soft[-1] < mi_soft[0] and acc.max() > 0.5
assert all(r.result["mi_soft_bits"] < r.result["mi_hard_bits"] for r in res.records)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
ax.errorbar(
    energy, mi_soft, xerr=energy_se, yerr=mi_soft_se, fmt="o-", label="soft output (Schug et al.)"
)
ax.errorbar(
    energy, mi_hard, xerr=energy_se, yerr=mi_hard_se, fmt="s--", label="hard output (arg-max)"
)
for e, m, l2 in zip(energy, mi_soft, l2s):
    ax.annotate(f"λ={l2:g}", (e, m), textcoords="offset points", xytext=(4, -12), fontsize=7)
ax.axhline(h_y, color="0.5", ls=":", lw=1, label="H(Y)")
ax.set_xlabel("energy  $\\sum|\\bar w|$")
ax.set_ylabel("mutual information I(Y;Z) (bits)")
ax.set_title("deterministic network", fontsize=10)
ax.legend(fontsize=8, frameon=False)
panel_label(ax, "a")
ax = axes[1]
ax.plot(range(len(l2s)), mi_soft / energy * 1000, "o-")
ax.set_xticks(range(len(l2s)), [f"{v:g}" for v in l2s])
ax.set_xlabel("L2 strength λ")
ax.set_ylabel("I / E  (bits per $10^3$ energy)")
panel_label(ax, "b")
fig.tight_layout()
mark_profile(fig, res)

# %% [markdown]
# Panel a is the deterministic curve of Schug et al.'s Fig. 1a: stronger L2 buys a cheaper
# network at the price of information. Panel b is their Fig. 1b / Appendix 1—figure 1a
# measure, information per energy. Whether stochastic, plastic release moves this curve to
# the left (the same information for less energy) is the subject of the Schug part of the book.
#
# ## Exercises
#
# ```{exercise} Mutual information of a confusion matrix
# :label: ex-foundations-mi
# Write `mi_from_confusion(counts)` returning $I(Y;Z)$ in bits from a matrix of counts
# (rows: true label, columns: output). Make sure empty cells do not produce `nan`.
# ```


# %% tags=["solution", "hide-cell"]
def mi_from_confusion(counts):
    P = np.asarray(counts, dtype=float)
    P = P / P.sum()
    py, pz = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    return float((P[nz] * np.log2(P[nz] / (py @ pz)[nz])).sum())


# %%
assert check("foundations.mi_from_confusion", mi_from_confusion)

# %% tags=["book-only"]
r0 = res.records[0]
assert math.isclose(
    mi_from_confusion(r0.result["confusion"]), r0.result["mi_hard_bits"], rel_tol=1e-9
)

# %% [markdown]
# ```{solution} ex-foundations-mi
# :class: dropdown
# Normalise the counts to $P(y,z)$, take the row and column sums as $P(y)$ and $P(z)$ and sum
# $P(y,z)\log_2\frac{P(y,z)}{P(y)P(z)}$ over the non-zero cells (the limit of $x\log x$ at 0 is
# 0). Applied to a stored confusion matrix it reproduces the experiment's hard MI.
# ```


# %% [markdown]
# ```{exercise} A symmetric classifier
# :label: ex-foundations-symmetric
# A classifier on $K$ balanced classes is right with probability $a$ and otherwise outputs one
# of the $K-1$ wrong classes uniformly at random. Show that
# $I(Y;Z)=\log_2K+a\log_2a+(1-a)\log_2\frac{1-a}{K-1}$ and write `symmetric_mi(K, a)`. What
# accuracy gives 0 bits? How much information does a 10-class classifier with 85 % accuracy
# carry?
# ```


# %% tags=["solution", "hide-cell"]
def symmetric_mi(K, a):
    out = math.log2(K)
    if a > 0:
        out += a * math.log2(a)
    if a < 1:
        out += (1 - a) * math.log2((1 - a) / (K - 1))
    return out


# %%
assert check("foundations.symmetric_mi", symmetric_mi)

# %% tags=["book-only"]
print(f"K = 10, a = 0.85: I = {symmetric_mi(10, 0.85):.3f} bits (of log2 10 = {math.log2(10):.3f})")
# Fano's inequality: at a given accuracy, uniformly spread errors carry the least information
for r in res.records:
    err = 1 - r.result["accuracy"]
    h_err = -(err * math.log2(err) + (1 - err) * math.log2(1 - err))
    fano = r.result["label_entropy_bits"] - h_err - err * math.log2(9)
    assert r.result["mi_hard_bits"] >= fano - 1e-9
    print(
        f"L2 = {r.unit['l2']:g}: hard I = {r.result['mi_hard_bits']:.3f} bits >= Fano bound {fano:.3f} bits"
    )

# %% [markdown]
# ```{solution} ex-foundations-symmetric
# :class: dropdown
# By symmetry the outputs are uniform, $H(Z)=\log_2K$. Given $Y$, the output is right with
# probability $a$ and each wrong class has $(1-a)/(K-1)$, so
# $H(Z\mid Y)=-a\log_2a-(1-a)\log_2\frac{1-a}{K-1}$, and $I=H(Z)-H(Z\mid Y)$ is the formula.
# It is 0 at chance, $a=1/K$; at $a=0.85$, $K=10$: $I\approx2.34$ bits. Compare the hard MI
# of the trained networks with this value at their accuracy: it is larger, because real errors
# are not uniform (shirts are confused with T-shirts, not with boots). In fact the formula is a
# lower bound at any accuracy — Fano's inequality, $H(Y\mid Z)\le h(1-a)+(1-a)\log_2(K-1)$ —
# which the cell above checks for every trained network.
# ```

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
show("foundations.information.closing", res)
