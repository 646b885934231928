#!/usr/bin/env bash
# Benchmark: t-SNE of the 10,000 Fashion-MNIST test images reduced to 256 dimensions by PCA (by
# fv-tsne --pca-only, once; the same FVF1 features go to both), perplexity 30, 1000 iterations,
# same thread count: fv-tsne (FFT-accelerated) against scikit-learn's Barnes-Hut TSNE
# (tests/bench/tsne_sklearn.py, Debian python3-sklearn). Times cover the t-SNE only; each is the
# minimum of BENCH_RUNS runs, ours and the peer's interleaved (tests/bench/bench_lib.sh).
# Prints BENCH tsne-10k ours=<s>s peer=<s>s ratio=<peer/ours> kl_ours=<kl> kl_peer=<kl>
# (both KL divergences as each tool reports it for its own result; every run gives the same),
# then INFO with the CPU, the kernels fv-tsne ran and the spread.
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/bench/bench_lib.sh"
THREADS=${FV_THREADS:-$(nproc)}
ITERS=${TSNE_BENCH_ITERS:-1000}
DATA=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
"$BIN/fv-tsne" --idx "$DATA/t10k-images-idx3-ubyte.gz" --pca 256 --pca-only --features-out "$tmp/f.fvf"
o=(); p=()
for _ in $(seq "$BENCH_RUNS"); do
  t0=$(bench_now)
  "$BIN/fv-tsne" "$tmp/f.fvf" --iters "$ITERS" -o "$tmp/ours.fvf" --json "$tmp/ours.json"
  t1=$(bench_now)
  o+=("$(echo "$t1 - $t0" | bc -l)")
  read -r _ s _ kl_peer < <(/usr/bin/python3 "$ROOT/tests/bench/tsne_sklearn.py" "$tmp/f.fvf" "$ITERS" "$THREADS")
  p+=("$s")
done
kl_ours=$(sed -nE 's/.*"kl_divergence": ([0-9.e+-]+).*/\1/p' "$tmp/ours.json")
kernels=$(sed -nE 's/.*"kernels": "([^"]+)".*/\1/p' "$tmp/ours.json")
awk -v o="$(bench_min "${o[@]}")" -v p="$(bench_min "${p[@]}")" -v ko="$kl_ours" -v kp="$kl_peer" 'BEGIN {
  printf "BENCH tsne-10k ours=%.2fs peer=%.2fs ratio=%.2f kl_ours=%.4f kl_peer=%.4f\n", o, p, p / o, ko, kp }'
bench_info tsne-10k "$kernels" "threads=$THREADS" "ours=$(bench_range "${o[@]}")s" "peer=$(bench_range "${p[@]}")s"
