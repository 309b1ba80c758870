#!/usr/bin/env bash
# The Fashion-MNIST searches of issue 19 (`schug_tuning_fashion`) on a lent GPU machine, for as
# long as a time limit allows, through the executor of `synlab run` (issue 21).
#
#   bash gpu/schug_fashion_tuning.sh LIMIT_S [PROFILE]      (PROFILE: full, default, or quick)
#
# One command: `synlab run schug_tuning_fashion --workers N --gpus-per-stack F`. The local pool
# puts each stack (the trials of the full model or of BGD on one data set) on the GPU, F of it
# each, and every unit that cannot stack (EWC, the deterministic baseline) on one of N CPU
# workers, side by side. Only the driver writes the results store, one unit as its task lands.
# LIMIT_S seconds after the start the driver gets SIGINT (as Ctrl-C): it kills the workers and
# exits, keeping every unit already stored; what was in flight is lost and a rerun computes only
# the missing units. Units land in $OUT/results/PROFILE/schug_tuning_fashion/ (JSON + NPZ, with
# provenance); copy them back with
#   cp -n <files_at>/results/full/schug_tuning_fashion/* results/full/schug_tuning_fashion/
# and commit; `python -m synlab run schug_tuning_fashion --profile full` runs what is left.
#
# Data: the machine has no Fashion-MNIST and no network. Carry .carry/data (`python
# gpu/make_carry.py` writes it; git-ignored); this script decompresses a private copy, so that
# other jobs reading the carried folder are not disturbed.
# Provenance: a copy without .git names its commit in SYNLAB_GIT_COMMIT (set it when calling).
# Settings: RESERVE=2 cores left free (default), GPUS_PER_STACK=0.25 (four stacks share the GPU).
set -euo pipefail
LIMIT=${1:?usage: gpu/schug_fashion_tuning.sh LIMIT_S [full|quick]}
PROFILE=${2:-full}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:?set OUT to the folder that comes back}
PY=${PYTHON:-python3}
START=$(date +%s)
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" SYNLAB_OFFLINE=1 TQDM_DISABLE=1
export SYNLAB_RESULTS_DIR="$OUT/results"
if [ -z "${SYNLAB_GIT_COMMIT:-}" ] && ! git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
  echo "warning: no .git and no SYNLAB_GIT_COMMIT: provenance will say 'unknown'" >&2
fi

CARRY="$REPO/.carry/data/FashionMNIST/raw"
if [ -z "${SYNLAB_DATA_PATH:-}" ] && [ -f "$CARRY/train-images-idx3-ubyte.gz" ]; then
  DATA=$(mktemp -d "${TMPDIR:-/tmp}/synlab-fashion-XXXXXX")
  mkdir -p "$DATA/FashionMNIST/raw"
  "$PY" -c 'import gzip, pathlib, shutil, sys
src, dst = map(pathlib.Path, sys.argv[1:])
for f in src.glob("*.gz"):
    with gzip.open(f) as a, open(dst / f.stem, "wb") as b:
        shutil.copyfileobj(a, b)' "$CARRY" "$DATA/FashionMNIST/raw"
  [ -f "$CARRY/SOURCE" ] && cp "$CARRY/SOURCE" "$DATA/FashionMNIST/raw/SOURCE"
  export SYNLAB_DATA_PATH="$DATA"
  trap 'rm -rf "$DATA"' EXIT
fi
"$PY" -c "from synlab.data import load_dataset; load_dataset('fashion_mnist')"

WORKERS=$(( $(nproc) - ${RESERVE:-2} ))
[ "$WORKERS" -ge 1 ] || WORKERS=1
LEFT=$(( START + LIMIT - $(date +%s) - 30 ))   # 30 s for the driver to stop its workers
[ "$LEFT" -gt 0 ] || { echo "no time left after the data set-up" >&2; exit 1; }
set +e
timeout -s INT -k 20 "$LEFT" "$PY" -m synlab run schug_tuning_fashion --profile "$PROFILE" \
  --workers "$WORKERS" --gpus-per-stack "${GPUS_PER_STACK:-0.25}"
rc=$?
set -e
"$PY" -m synlab status | grep schug_tuning_fashion || true
# 124: the time limit stopped the run (expected on a long search); units already stored are kept
[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] || exit "$rc"
