# Shared by the render benchmarks (sourced after bench_lib.sh by fv-render.sh, fv-render-batch.sh,
# fv-render-diversity.sh; run alone it does nothing): their settings (BIN, MODEL, THREADS, STEPS,
# from ROOT and the environment), the late-layer recipe they time, one timed fv-render run, and
# this machine's sgemm rate, the yardstick of their effective GFLOP/s.
#
# Effective GFLOP/s = 2 * macs_per_forward * 2 * steps / seconds: the input-gradient backward of a
# convolution costs the same multiply-adds as its forward (no weight gradients are needed).

BIN=${BIN:-$ROOT/build/release/bin}
MODEL=${FV_MODEL_DIR:-$ROOT/.cache/models/mbv3-coco}
THREADS=${FV_THREADS:-$(nproc)}
STEPS=${FV_BENCH_STEPS:-512}
RENDER_LAYER=tower_0/extern1/BatchNorm/FusedBatchNorm

# render_recipe FILE MODEL_DIR STEPS CHANNEL...: a 128 px recipe on RENDER_LAYER with the robust
# transforms (the atlas's recipe for late layers, figures/hero.lua), one image per channel
# (batch = the number of channels), channel k's objective on image k.
render_recipe() {
  local file=$1 model=$2 steps=$3 objs= b=0 c
  shift 3
  for c in "$@"; do
    objs="$objs${objs:+, }{\"kind\": \"channel\", \"channel\": $c, \"batch\": $b}"
    b=$((b + 1))
  done
  cat >"$file" <<JSON
{"model": {"json": "$model/centernet.json", "bin": "$model/centernet.bin"},
 "layer": "$RENDER_LAYER", "size": 128, "steps": $steps, "seed": 1, "transforms": "robust",
 "batch": $b, "objectives": [$objs]}
JSON
}

# render_run BIN RECIPE OUT: runs fv-render and prints its wall seconds (the whole process:
# loading the model and planning included).
render_run() {
  local t0 t1
  t0=$(bench_now)
  "$1/fv-render" "$2" "$3" >/dev/null
  t1=$(bench_now)
  echo "$t1 - $t0" | bc -l
}

# render_field OUT KEY: a top-level field of OUT/render.json.
render_field() {
  /usr/bin/python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/render.json" "$2"
}

# render_sgemm THREADS TMPDIR: OpenBLAS's sgemm rate here in GFLOP/s (1024^3, best of 5 after a
# warm-up), by a tiny C program linked to the same OpenBLAS as the tools.
render_sgemm() {
  cat >"$2/sgemm.c" <<'C'
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
  cc -O2 $(pkg-config --cflags openblas) -o "$2/sgemm" "$2/sgemm.c" $(pkg-config --libs openblas)
  "$2/sgemm" "$1"
}
