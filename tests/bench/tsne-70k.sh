#!/usr/bin/env bash
# Benchmark: t-SNE of all 70,000 Fashion-MNIST images (train + test) after PCA to 50 components,
# 750 iterations (openTSNE's default), ours only; the time covers everything from reading the
# IDX files to writing the embedding. No peer runs here: the goal is an absolute 60 s, so
# ratio = 60 / ours (> 1: the goal is met). The time is the minimum of BENCH_RUNS runs
# (tests/bench/bench_lib.sh). Prints
#   BENCH tsne-70k ours=<s>s peer=n/a ratio=<60/ours> kl_ours=<kl> goal=60s
# then INFO with the CPU, the kernels fv-tsne ran and the spread.
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/bench/bench_lib.sh"
THREADS=${FV_THREADS:-$(nproc)}
DATA=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
o=()
for _ in $(seq "$BENCH_RUNS"); do
  t0=$(bench_now)
  "$BIN/fv-tsne" --idx "$DATA/train-images-idx3-ubyte.gz" --idx "$DATA/t10k-images-idx3-ubyte.gz" --pca 50 \
    -o "$tmp/ours.fvf" --json "$tmp/ours.json"
  t1=$(bench_now)
  o+=("$(echo "$t1 - $t0" | bc -l)")
done
ours=$(bench_min "${o[@]}")
kl=$(sed -nE 's/.*"kl_divergence": ([0-9.e+-]+).*/\1/p' "$tmp/ours.json")
kernels=$(sed -nE 's/.*"kernels": "([^"]+)".*/\1/p' "$tmp/ours.json")
awk -v o="$ours" -v k="$kl" 'BEGIN {
  printf "BENCH tsne-70k ours=%.2fs peer=n/a ratio=%.2f kl_ours=%.4f goal=60s\n", o, 60 / o, k }'
bench_info tsne-70k "$kernels" "threads=$THREADS" "ours=$(bench_range "${o[@]}")s"
