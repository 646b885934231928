#!/usr/bin/env bash
# Benchmark: one 512-step 128 px channel visualization of tower_0/extern1/BatchNorm/FusedBatchNorm
# (robust transforms), fv-render against the same recipe in PyTorch on the CPU
# (tests/bench/fv_render_torch.py, Debian python3-torch), with the same number of threads.
# Prints
#   BENCH fv-render ours=<s>s peer=<s>s ratio=<peer/ours>
#   INFO fv-render ours=<GFLOP/s> sgemm=<GFLOP/s> ...   (effective rate vs OpenBLAS sgemm here)
# Effective GFLOP/s = 2 * macs_per_forward * 2 * steps / seconds: the input-gradient backward of a
# convolution costs the same multiply-adds as its forward (no weight gradients are needed).
# The sgemm rate is measured by a tiny C program linked to the same OpenBLAS (1024^3, best of 5).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
MODEL=${FV_MODEL_DIR:-$ROOT/.cache/models/mbv3-coco}
THREADS=${FV_THREADS:-$(nproc)}
STEPS=${FV_BENCH_STEPS:-512}
LAYER=tower_0/extern1/BatchNorm/FusedBatchNorm
CH=150
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/recipe.json" <<JSON
{"model": {"json": "$MODEL/centernet.json", "bin": "$MODEL/centernet.bin"},
 "layer": "$LAYER", "size": 128, "steps": $STEPS, "seed": 1, "transforms": "robust",
 "objectives": [{"kind": "channel", "channel": $CH}]}
JSON
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
t0=$(date +%s.%N)
"$BIN/fv-render" "$tmp/recipe.json" "$tmp/out"
t1=$(date +%s.%N)
ours=$(echo "$t1 - $t0" | bc -l)
macs=$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/out/render.json'))['macs_per_forward'])")

peer=$(/usr/bin/python3 "$ROOT/tests/bench/fv_render_torch.py" "$MODEL/centernet.json" "$MODEL/centernet.bin" \
  "$LAYER" "$CH" 128 "$STEPS" "$THREADS" robust | sed -nE 's/^seconds ([0-9.]+).*/\1/p')

cat >"$tmp/sgemm.c" <<'C'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    int n = 1024, th = atoi(argv[1]);
    openblas_set_num_threads(th);
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 1e9;
    for (int r = 0; r < 6; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (r > 0 && s < best) best = s;
    }
    printf("%.2f\n", 2.0 * n * n * n / best / 1e9);
    return c[0] < -1;
}
C
cc -O2 $(pkg-config --cflags openblas) -o "$tmp/sgemm" "$tmp/sgemm.c" $(pkg-config --libs openblas)
sgemm=$("$tmp/sgemm" "$THREADS")

awk -v o="$ours" -v p="$peer" -v m="$macs" -v s="$sgemm" -v n="$STEPS" -v t="$THREADS" 'BEGIN {
  printf "BENCH fv-render ours=%.2fs peer=%.2fs ratio=%.2f\n", o, p, p / o
  g = 2 * m * 2 * n / o / 1e9
  printf "INFO fv-render ours=%.2fGFLOP/s sgemm=%.2fGFLOP/s fraction=%.2f (threads %d, %.1f MMAC per forward)\n", g, s, g / s, t, m / 1e6
}'
