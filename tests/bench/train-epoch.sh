#!/usr/bin/env bash
# Benchmark: one training epoch of fmnist-cnn (conv32-conv32-pool-conv64-conv64-pool-fc256-fc10,
# 60 000 Fashion-MNIST images, batch 64, Adam lr 1e-3, He init), fv-train against the same network
# and recipe in PyTorch on the CPU (tests/bench/train_epoch_torch.py, Debian python3-torch), with
# the same number of threads. Times cover the training steps only (not loading, not the test
# evaluation). Prints
#   BENCH train-epoch ours=<s>s peer=<s>s ratio=<peer/ours> acc_ours=<test acc> acc_peer=<test acc>
# fv-train runs as by default: its products on AMX tiles in bf16x3 where the CPU has them (the
# INFO line says which ran). The peer is PyTorch's default (float); a second INFO line gives
# PyTorch under autocast bf16 (its own mixed precision, oneDNN on AMX) for comparison.
# FV_BENCH_LIMIT=N trains on the first N images only (a shorter run on a busy machine).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
THREADS=${FV_THREADS:-$(nproc)}
LIMIT=${FV_BENCH_LIMIT:-60000}
DATA=${FMNIST_DATA:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

"$BIN/fv-train" --epochs 1 --batch 64 --lr 0.001 --train-limit "$LIMIT" --log-every 0 --data "$DATA" "$tmp/model" 2>"$tmp/log" \
  || { cat "$tmp/log" >&2; exit 1; }
read -r ours acc_ours < <(/usr/bin/python3 -c "
import json
lines = [json.loads(l) for l in open('$tmp/model/train.jsonl')]
print(lines[-1]['seconds'], lines[0]['test_accuracy'])")
gemm=$(/usr/bin/python3 -c "
import json
print(json.loads(open('$tmp/model/train.jsonl').read().splitlines()[-1]).get('gemm', '?'))")

read -r _ peer _ acc_peer < <(/usr/bin/python3 "$ROOT/tests/bench/train_epoch_torch.py" "$DATA" "$THREADS" 64 "$LIMIT")

awk -v o="$ours" -v p="$peer" -v ao="$acc_ours" -v ap="$acc_peer" -v n="$LIMIT" -v t="$THREADS" -v g="$gemm" 'BEGIN {
  printf "BENCH train-epoch ours=%.2fs peer=%.2fs ratio=%.2f acc_ours=%.4f acc_peer=%.4f\n", o, p, p / o, ao, ap
  printf "INFO train-epoch %d images, %d threads, ours %.0f images/s, peer %.0f images/s\n", n, t, n / o, n / p
  printf "INFO train-epoch ours on %s\n", g
}'
read -r _ bf _ acc_bf < <(/usr/bin/python3 "$ROOT/tests/bench/train_epoch_torch.py" "$DATA" "$THREADS" 64 "$LIMIT" bf16)
awk -v o="$ours" -v p="$bf" -v a="$acc_bf" 'BEGIN {
  printf "INFO train-epoch peer-bf16=%.2fs ratio=%.2f acc=%.4f (PyTorch autocast bf16)\n", p, p / o, a }'
