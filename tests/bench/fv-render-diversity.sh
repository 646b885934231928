#!/usr/bin/env bash
# Benchmark: one diversity job of the atlas (atlas/atlas.lua, pipeline/atlas/plan.lua): 2 channels
# of tower_0/MobilenetV3/expanded_conv_13/expand/BatchNorm/FusedBatchNorm x a diversity set of 4,
# batch 8, 128 px, 512 steps, robust transforms, diversity weight 7; fv-render against the same in
# PyTorch on the CPU (tests/bench/fv_render_torch.py with its diversity weight), with the same
# threads; each the minimum of BENCH_RUNS runs, interleaved (tests/bench/bench_lib.sh). Prints
#   BENCH fv-render-diversity ours=<s>s peer=<s>s ratio=<peer/ours>
#   INFO fv-render-diversity cpu=... kernels=... threads=... steps=... spread_ours=... spread_peer=...
# FV_BENCH_STEPS shortens the run (the INFO line says how many steps ran).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LAYER=tower_0/MobilenetV3/expanded_conv_13/expand/BatchNorm/FusedBatchNorm
. "$ROOT/tests/bench/bench_lib.sh"
. "$ROOT/tests/bench/render_lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/recipe.json" <<JSON
{"model": {"json": "$MODEL/centernet.json", "bin": "$MODEL/centernet.bin"},
 "layer": "$LAYER", "size": 128, "steps": $STEPS, "seed": 2, "transforms": "robust", "batch": 8,
 "objectives": [{"kind": "channel", "channel": 0, "batch": [0, 1, 2, 3]},
                {"kind": "channel", "channel": 1, "batch": [4, 5, 6, 7]},
                {"kind": "diversity", "layer": "$LAYER", "weight": 7}]}
JSON
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
ours=() peer=()
for _ in $(seq "$BENCH_RUNS"); do
  ours+=("$(render_run "$BIN" "$tmp/recipe.json" "$tmp/out")")
  peer+=("$(/usr/bin/python3 "$ROOT/tests/bench/fv_render_torch.py" "$MODEL/centernet.json" "$MODEL/centernet.bin" \
    "$LAYER" 0,0,0,0,1,1,1,1 128 "$STEPS" "$THREADS" robust 7 | sed -nE 's/^seconds ([0-9.]+).*/\1/p')")
done
kernels=$(render_field "$tmp/out" kernels)
o=$(bench_min "${ours[@]}") p=$(bench_min "${peer[@]}")
awk -v o="$o" -v p="$p" 'BEGIN { printf "BENCH fv-render-diversity ours=%.2fs peer=%.2fs ratio=%.2f\n", o, p, p / o }'
bench_info fv-render-diversity "$kernels" threads="$THREADS" steps="$STEPS" batch=8 \
  spread_ours="$(bench_range "${ours[@]}")s" spread_peer="$(bench_range "${peer[@]}")s"
