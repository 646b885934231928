#!/usr/bin/env bash
# Benchmark: one 512-step 128 px channel visualization of tower_0/extern1/BatchNorm/FusedBatchNorm
# (robust transforms), fv-render against the same recipe in PyTorch on the CPU
# (tests/bench/fv_render_torch.py, Debian python3-torch), with the same number of threads; each
# the minimum of BENCH_RUNS runs, ours and PyTorch's interleaved (tests/bench/bench_lib.sh).
# Prints
#   BENCH fv-render ours=<s>s peer=<s>s ratio=<peer/ours>
#   INFO fv-render cpu=... kernels=<what fv-render ran on> ... ours=<GFLOP/s> sgemm=<GFLOP/s>
#     fraction=<ours/sgemm> spread_ours=<min-max s> spread_peer=<min-max s>
# (effective rate against OpenBLAS's sgemm here: tests/bench/render_lib.sh). FV_BENCH_STEPS
# shortens the run (the INFO line says how many steps ran).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CH=150
. "$ROOT/tests/bench/bench_lib.sh"
. "$ROOT/tests/bench/render_lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

render_recipe "$tmp/recipe.json" "$MODEL" "$STEPS" "$CH"
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
ours=() peer=()
for _ in $(seq "$BENCH_RUNS"); do
  ours+=("$(render_run "$BIN" "$tmp/recipe.json" "$tmp/out")")
  peer+=("$(/usr/bin/python3 "$ROOT/tests/bench/fv_render_torch.py" "$MODEL/centernet.json" "$MODEL/centernet.bin" \
    "$RENDER_LAYER" "$CH" 128 "$STEPS" "$THREADS" robust | sed -nE 's/^seconds ([0-9.]+).*/\1/p')")
done
macs=$(render_field "$tmp/out" macs_per_forward)
kernels=$(render_field "$tmp/out" kernels)
sgemm=$(render_sgemm "$THREADS" "$tmp")
o=$(bench_min "${ours[@]}") p=$(bench_min "${peer[@]}")

awk -v o="$o" -v p="$p" 'BEGIN { printf "BENCH fv-render ours=%.2fs peer=%.2fs ratio=%.2f\n", o, p, p / o }'
rate=$(awk -v o="$o" -v m="$macs" -v n="$STEPS" 'BEGIN { printf "%.2f", 2 * m * 2 * n / o / 1e9 }')
bench_info fv-render "$kernels" threads="$THREADS" steps="$STEPS" mmac_per_forward="$(awk -v m="$macs" 'BEGIN { printf "%.1f", m / 1e6 }')" \
  ours="${rate}GFLOP/s" sgemm="${sgemm}GFLOP/s" fraction="$(awk -v r="$rate" -v s="$sgemm" 'BEGIN { printf "%.2f", r / s }')" \
  spread_ours="$(bench_range "${ours[@]}")s" spread_peer="$(bench_range "${peer[@]}")s"
