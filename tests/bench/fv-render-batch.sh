#!/usr/bin/env bash
# Benchmark: the renderer's throughput, for an atlas (every channel of a layer): 8 channels of
# tower_0/extern1/BatchNorm/FusedBatchNorm optimized together as one batch of 8 images, 512 steps,
# 128 px, robust transforms (the late layers' recipe, figures/hero.lua), fv-render against the same
# batch in PyTorch on the CPU (tests/bench/fv_render_torch.py in batch mode), same threads; and
# fv-render at batch 1 (channel 150 alone) for our own gain from batching; and, as the atlas's
# scheduler runs its jobs (as many at once as there are cores, one thread each), one batch-8
# render per thread side by side, its images per second on the INFO line (side=, for THREADS
# renders). Each time is the minimum of BENCH_RUNS runs, ours (batch 8), PyTorch's, ours
# (batch 1) and ours side by side interleaved.
# Prints
#   BENCH fv-render-batch ours=<images/s> peer=<images/s> ratio=<ours/peer>
#   INFO fv-render-batch cpu=... kernels=... batch1=<images/s> gain=<batch 8 / batch 1>
#     side=<images/s of THREADS one-thread batch-8 renders at once>
#     ours=<GFLOP/s> sgemm=<GFLOP/s> fraction=<ours/sgemm> spread_*=<min-max s>
# Effective GFLOP/s as in tests/bench/render_lib.sh, over the batch's multiply-adds. FV_BENCH_STEPS
# shortens the run (the INFO line says how many steps ran).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CHANNELS=(150 330 390 90 12 200 271 444) # the first four: the hero figure's late row
. "$ROOT/tests/bench/bench_lib.sh"
. "$ROOT/tests/bench/render_lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

render_recipe "$tmp/b8.json" "$MODEL" "$STEPS" "${CHANNELS[@]}"
render_recipe "$tmp/b1.json" "$MODEL" "$STEPS" "${CHANNELS[0]}"
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
list=$(IFS=,; echo "${CHANNELS[*]}")
b8=() peer=() b1=() side=()
# THREADS renders of the batch at once, one thread each: the wall seconds until the last ends.
side_by_side() {
  local t0 t1 k p pids=
  t0=$(bench_now)
  for k in $(seq "$THREADS"); do FV_THREADS=1 "$BIN/fv-render" "$tmp/b8.json" "$tmp/side$k" >/dev/null & pids="$pids $!"; done
  for p in $pids; do wait "$p" || { echo "bench: fv-render side by side failed" >&2; exit 1; }; done
  t1=$(bench_now)
  echo "$t1 - $t0" | bc -l
}
for _ in $(seq "$BENCH_RUNS"); do
  b8+=("$(render_run "$BIN" "$tmp/b8.json" "$tmp/out8")")
  peer+=("$(/usr/bin/python3 "$ROOT/tests/bench/fv_render_torch.py" "$MODEL/centernet.json" "$MODEL/centernet.bin" \
    "$RENDER_LAYER" "$list" 128 "$STEPS" "$THREADS" robust | sed -nE 's/^seconds ([0-9.]+).*/\1/p')")
  b1+=("$(render_run "$BIN" "$tmp/b1.json" "$tmp/out1")")
  side+=("$(side_by_side)")
done
macs=$(render_field "$tmp/out8" macs_per_forward)
kernels=$(render_field "$tmp/out8" kernels)
sgemm=$(render_sgemm "$THREADS" "$tmp")
n=${#CHANNELS[@]} t8=$(bench_min "${b8[@]}") tp=$(bench_min "${peer[@]}") t1=$(bench_min "${b1[@]}") ts=$(bench_min "${side[@]}")

awk -v n="$n" -v o="$t8" -v p="$tp" 'BEGIN {
  printf "BENCH fv-render-batch ours=%.2fimages/s peer=%.3fimages/s ratio=%.2f\n", n / o, n / p, p / o }'
rate=$(awk -v o="$t8" -v m="$macs" -v s="$STEPS" 'BEGIN { printf "%.2f", 2 * m * 2 * s / o / 1e9 }')
bench_info fv-render-batch "$kernels" threads="$THREADS" steps="$STEPS" batch="$n" \
  batch1="$(awk -v t="$t1" 'BEGIN { printf "%.2f", 1 / t }')images/s" \
  gain="$(awk -v n="$n" -v o="$t8" -v t="$t1" 'BEGIN { printf "%.2f", n / o * t }')" \
  side="$(awk -v n="$n" -v k="$THREADS" -v s="$ts" 'BEGIN { printf "%.2f", n * k / s }')images/s" \
  ours="${rate}GFLOP/s" sgemm="${sgemm}GFLOP/s" fraction="$(awk -v r="$rate" -v s="$sgemm" 'BEGIN { printf "%.2f", r / s }')" \
  spread_ours="$(bench_range "${b8[@]}")s" spread_peer="$(bench_range "${peer[@]}")s" spread_batch1="$(bench_range "${b1[@]}")s" spread_side="$(bench_range "${side[@]}")s"
