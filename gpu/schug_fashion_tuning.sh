#!/usr/bin/env bash
# Issue 19's per-data-set tuning of the Schug baselines on a lent GPU machine, for as long as a
# time limit allows, through the executor of `synlab run` (issue 21).
#
#   bash gpu/schug_fashion_tuning.sh LIMIT_S [PROFILE]      (PROFILE: full, default, or quick)
#
# In order, while time is left (SCHUG_EXPS overrides the list): `schug_tuning_fashion` (the
# search), `schug_tuning_fashion_reference` (its 21st candidates) and
# `schug_lifelong_table_fashion_tuned` (the table's rows for the adopted pairs), each as
# `synlab run EXP --workers N --gpus-per-stack F`. The local pool puts each stack (the trials or
# seeds of the full model or of BGD on one data set) on the GPU, F of it each, and every unit that
# cannot stack (EWC, the deterministic baseline) on one of N CPU workers, side by side. Only the
# driver writes the results store ($SYNLAB_RESULTS_DIR, default $OUT/results), one unit as its
# task lands. LIMIT_S seconds after the start the driver gets SIGINT (as Ctrl-C): it kills the
# workers and exits, keeping every unit already stored; what was in flight is lost and a rerun
# computes only the missing units. gpu/lease.sh calls this and packs what it stored.
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
export SYNLAB_RESULTS_DIR="${SYNLAB_RESULTS_DIR:-$OUT/results}"
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
# the search, then its reference candidates, then the tuned table's adopted pairs (SCHUG_EXPS)
rc=0
for exp in ${SCHUG_EXPS:-schug_tuning_fashion schug_tuning_fashion_reference schug_lifelong_table_fashion_tuned}; do
  LEFT=$(( START + LIMIT - $(date +%s) - 30 ))
  [ "$LEFT" -gt 10 ] || break
  set +e
  timeout -s INT -k 20 "$LEFT" "$PY" -m synlab run "$exp" --profile "$PROFILE" \
    --workers "$WORKERS" --gpus-per-stack "${GPUS_PER_STACK:-0.25}"
  rc=$?
  set -e
  # 124: the time limit stopped the run (expected on a long search); stored units are kept
  [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] || break
done
"$PY" -m synlab status | grep -E "schug_(tuning_fashion|lifelong_table_fashion_tuned)" || true
[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] || exit "$rc"
