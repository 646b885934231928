#!/usr/bin/env bash
# Benchmark: t-SNE of the 10,000 Fashion-MNIST test images reduced to 256 dimensions by PCA (by
# fv-tsne --pca-only, once; the same FVF1 features go to both), perplexity 30, 1000 iterations,
# same thread count: fv-tsne (FFT-accelerated) against scikit-learn's Barnes-Hut TSNE
# (tests/bench/tsne_sklearn.py, Debian python3-sklearn). Times cover the t-SNE only.
# Prints BENCH tsne-10k ours=<s>s peer=<s>s ratio=<peer/ours> kl_ours=<kl> kl_peer=<kl>
# (both KL divergences as each tool reports it for its own result).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
THREADS=${FV_THREADS:-$(nproc)}
ITERS=${TSNE_BENCH_ITERS:-1000}
DATA=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
"$BIN/fv-tsne" --idx "$DATA/t10k-images-idx3-ubyte.gz" --pca 256 --pca-only --features-out "$tmp/f.fvf"
t0=$(date +%s.%N)
"$BIN/fv-tsne" "$tmp/f.fvf" --iters "$ITERS" -o "$tmp/ours.fvf" --json "$tmp/ours.json"
t1=$(date +%s.%N)
ours=$(echo "$t1 - $t0" | bc -l)
kl_ours=$(sed -nE 's/.*"kl_divergence": ([0-9.e+-]+).*/\1/p' "$tmp/ours.json")
read -r _ peer _ kl_peer < <(/usr/bin/python3 "$ROOT/tests/bench/tsne_sklearn.py" "$tmp/f.fvf" "$ITERS" "$THREADS")
awk -v o="$ours" -v p="$peer" -v ko="$kl_ours" -v kp="$kl_peer" 'BEGIN {
  printf "BENCH tsne-10k ours=%.2fs peer=%.2fs ratio=%.2f kl_ours=%.4f kl_peer=%.4f\n", o, p, p / o, ko, kp }'
