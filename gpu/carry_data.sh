#!/usr/bin/env bash
# Put Fashion-MNIST where a GPU-machine job can carry it: .carry/data/FashionMNIST/raw/ (the
# four .gz files of Debian's dataset-fashion-mnist, about 30 MB, git-ignored), laid out as
# synlab.data reads a data directory (SYNLAB_DATA_PATH=.carry/data, or a copy of it), with a
# SOURCE file so that results name the package the files came from. Carry the folder with
# `carry: [".carry/data"]`.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=/usr/share/datasets/fashion-mnist
DEST="$REPO/.carry/data/FashionMNIST/raw"
if [ ! -f "$SRC/train-images-idx3-ubyte.gz" ]; then
  echo "no $SRC: apt-get install dataset-fashion-mnist (after apt-get update)" >&2
  exit 1
fi
mkdir -p "$DEST"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
  t10k-labels-idx1-ubyte; do
  cp "$SRC/$name.gz" "$DEST/$name.gz"
done
echo "from Debian package dataset-fashion-mnist, $SRC" >"$DEST/SOURCE"
du -sh "$REPO/.carry/data"
