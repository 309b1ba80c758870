#!/usr/bin/env bash
# One lent GPU call that does all of issue 19's and issue 20's GPU work side by side, and packs
# what it stored into at most 8 files that come back (the device tool returns files no more than
# two folders below $OUT, so unit files under $OUT/results/full/<exp>/ must travel as archives).
#
#   OUT=... SYNLAB_GIT_COMMIT=<sha> bash gpu/lease.sh LIMIT_S [PROFILE]
#
# LIMIT_S: seconds from the start until everything still running is stopped (SIGINT, as Ctrl-C)
# and the results are packed; give the device call about 40 s more. PROFILE: full (default) or
# quick (to try this script on a CPU machine). In order:
#   1. (STAGES containing "bench"; default "bench,runs") issue 20: the merged stacked engine's
#      GPU ratios (bench_stacked.py, bench_continual_stacked.py), alone on the machine, at most
#      BENCH_S seconds each (default 45);
#   2. (STAGES containing "runs") issue 19, side by side: the three pending Malkin experiments
#      (one process each, GPU, via
#      gpu/malkin_fidelity.sh, falling back to --engine fused if the compiled engine fails within
#      90 s) and Schug's per-data-set tuning: the search, its reference, the tuned table
#      (gpu/schug_fashion_tuning.sh: stacks on the GPU, the rest
#      on WORKERS CPU workers, default 8, at nice 5 so the Malkin launch threads keep their cores);
#   3. $OUT/malkin.tgz, $OUT/schug.tgz (the unit files this call stored, with provenance;
#      checkpoints of stopped units are left out), $OUT/logs.tgz and $OUT/summary.txt.
# The store starts as a copy of the committed results/, so a call computes only what is missing.
# Back here: tar -xzf <files_at>/malkin.tgz -C results/ (same for schug.tgz), then commit.
set -uo pipefail
LIMIT=${1:?usage: OUT=... bash gpu/lease.sh LIMIT_S [full|quick]}
PROFILE=${2:-full}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:?set OUT to the folder that comes back}
export PYTHON=${PYTHON:-python3} PYTHONUNBUFFERED=1 SYNLAB_CACHE_DIR=$OUT/results
START=$(date +%s)
cd "$REPO"
logs=$OUT/logs
mkdir -p "$logs" "$OUT/results"
# the store starts as the committed one, so that only missing units are computed; what comes
# back is what this call stored (newer than the marker)
cp -r results/. "$OUT/results/"
touch "$OUT/.marker"
left() { local s=$((START + LIMIT - $(date +%s))); echo $((s > 1 ? s : 1)); }
{
  echo "start $(date -u +%FT%TZ) commit ${SYNLAB_GIT_COMMIT:-unset} profile $PROFILE limit ${LIMIT}s"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
} >"$OUT/summary.txt" 2>&1

# 1. issue 20's measurement, alone on the GPU (STAGES=bench: only this; STAGES=runs: skip it)
STAGES=${STAGES:-bench,runs}
[[ $STAGES == *bench* ]] && for b in "bench_stacked.py --k 10 --steps 100" "bench_continual_stacked.py --k 10 --steps 100"; do
  echo "=== benchmarks/$b" >>"$logs/bench.log"
  PYTHONPATH=$REPO timeout "${BENCH_S:-45}" "$PYTHON" benchmarks/$b >>"$logs/bench.log" 2>&1 ||
    echo "(stopped or failed: rc $?)" >>"$logs/bench.log"
done

# 2. issue 19's runs, side by side
[[ $STAGES == *runs* ]] || { tar -czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$logs" "$OUT/results" "$OUT/.marker"; cat "$OUT/summary.txt"; exit 0; }
malkin() { # one experiment; the fused engine if the compiled one fails early
  local exp=$1 t0 rc
  t0=$(date +%s)
  timeout -s INT -k 20 "$(left)" bash gpu/malkin_fidelity.sh "$PROFILE" "$exp" >"$logs/$exp.log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ $(($(date +%s) - t0)) -lt 90 ]; then
    echo "=== compiled engine failed (rc $rc): retrying with --engine fused" >>"$logs/$exp.log"
    ENGINE=fused timeout -s INT -k 20 "$(left)" bash gpu/malkin_fidelity.sh "$PROFILE" "$exp" \
      >>"$logs/$exp.log" 2>&1
    rc=$?
  fi
  echo "$exp rc $rc after $(($(date +%s) - t0)) s" >>"$OUT/summary.txt"
}
pids=()
for exp in malkin2024_tradeoff_lowcost malkin2024_tradeoff_lowcost_fashion \
  malkin2024_signatures_s_fashion; do
  malkin "$exp" &
  pids+=($!)
done
(
  WORKERS=${WORKERS:-8}
  export RESERVE=$(($(nproc) - WORKERS))
  nice -n 5 bash gpu/schug_fashion_tuning.sh "$(($(left) - 10))" "$PROFILE" >"$logs/schug.log" 2>&1
  echo "schug (gpu/schug_fashion_tuning.sh) rc $?" >>"$OUT/summary.txt"
) &
pids+=($!)
wait "${pids[@]}"

# 3. pack what was stored (each archive well under the 16 MiB a returned file may have)
store=$OUT/results
new() { (cd "$store" && find . -newer "$OUT/.marker" -type f -path "./*/$1*" -not -path '*/partial/*' | sort); }
for group in malkin schug; do
  files=$(new "${group/malkin/malkin2024}_")
  [ -n "$files" ] && tar -czf "$OUT/$group.tgz" -C "$store" $files
done
{
  echo "end $(date -u +%FT%TZ) after $(($(date +%s) - START)) s"
  (new "" | grep '\.json$' | sed 's/^/stored /')
  ls -la "$OUT"
} >>"$OUT/summary.txt" 2>&1
tar -czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$logs"
rm -rf "$store" "$OUT/.marker"
cat "$OUT/summary.txt"
