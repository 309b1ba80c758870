#!/usr/bin/env bash
# The Fashion-MNIST searches of issue 19 (`schug_tuning_fashion`) on a lent GPU machine, for as
# long as a time limit allows.
#
#   bash gpu/schug_fashion_tuning.sh LIMIT_S [PROFILE]      (PROFILE: full, default, or quick)
#
# Everything has stopped LIMIT_S seconds after the start (the lanes are stopped 20 s before, to
# clean up). Units finished by then are kept in $OUT/results/PROFILE/schug_tuning_fashion/ (JSON +
# NPZ, with provenance); $OUT/schug_fashion_manifest.json lists them per block; $OUT/logs/ has one
# log per lane. Copy them back into the repository with
#   cp -n <files_at>/results/full/schug_tuning_fashion/* results/full/schug_tuning_fashion/
# and commit; `python -m synlab run schug_tuning_fashion --profile full` then runs what is left.
#
# Data: the machine has no Fashion-MNIST and no network. Carry the four .gz files of Debian's
# dataset-fashion-mnist in .carry/data/FashionMNIST/raw/ (git-ignored; `bash gpu/carry_data.sh`
# puts them there, 30 MB); this script decompresses a private copy (so that other jobs reading
# the carried folder are not disturbed) and points SYNLAB_DATA_DIR at it.
# Provenance: a copy without .git names its commit in SYNLAB_GIT_COMMIT (set it when calling).
# Work split (see gpu/schug_fashion_tuning.py): the full model and BGD as GPU stacks of 20 trials,
# EWC and the deterministic baseline as solo runs on CPU cores (CPU_SOLO lanes, default: the cores
# not otherwise used, minus RESERVE=2) and, if GPU_SOLO=N is set, in N solo lanes on the GPU.
# SYNLAB_STACK_MAX=N splits a stack into pieces of N that land one after another.
set -euo pipefail
LIMIT=${1:?usage: gpu/schug_fashion_tuning.sh LIMIT_S [full|quick]}
PROFILE=${2:-full}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:?set OUT to the folder that comes back}
PY=${PYTHON:-python3}
START=$(date +%s)
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" SYNLAB_OFFLINE=1 SYNLAB_PROGRESS=0
if [ -z "${SYNLAB_GIT_COMMIT:-}" ] && ! git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
  echo "warning: no .git and no SYNLAB_GIT_COMMIT: provenance will say 'unknown'" >&2
fi

CARRY="$REPO/.carry/data/FashionMNIST/raw"
if [ -z "${SYNLAB_DATA_DIR:-}" ] && [ -f "$CARRY/train-images-idx3-ubyte.gz" ]; then
  DATA=$(mktemp -d "${TMPDIR:-/tmp}/synlab-fashion-XXXXXX")
  mkdir -p "$DATA/FashionMNIST/raw"
  "$PY" -c 'import gzip, pathlib, shutil, sys
src, dst = map(pathlib.Path, sys.argv[1:])
for f in src.glob("*.gz"):
    with gzip.open(f) as a, open(dst / f.stem, "wb") as b:
        shutil.copyfileobj(a, b)' "$CARRY" "$DATA/FashionMNIST/raw"
  [ -f "$CARRY/SOURCE" ] && cp "$CARRY/SOURCE" "$DATA/FashionMNIST/raw/SOURCE"
  export SYNLAB_DATA_DIR="$DATA"
  trap 'rm -rf "$DATA"' EXIT
fi
"$PY" -c "from synlab.data import load_dataset; load_dataset('fashion_mnist')"

ARGS=(--end "$((START + LIMIT))" --profile "$PROFILE" --out "$OUT" --gpu-solo "${GPU_SOLO:-0}"
  --reserve "${RESERVE:-2}")
[ -n "${CPU_SOLO:-}" ] && ARGS+=(--cpu "$CPU_SOLO")
"$PY" gpu/schug_fashion_tuning.py "${ARGS[@]}"
