#!/usr/bin/env bash
# Benchmark: one training epoch of fmnist-cnn (conv32-conv32-pool-conv64-conv64-pool-fc256-fc10,
# 60 000 Fashion-MNIST images, batch 64, Adam lr 1e-3, He init), fv-train against the same network
# and recipe in PyTorch on the CPU (tests/bench/train_epoch_torch.py, Debian python3-torch), with
# the same number of threads. Times cover the training steps only (not loading, not the test
# evaluation). BENCH_RUNS runs of each (bench_lib.sh), ours and PyTorch float interleaved, then
# PyTorch under autocast bf16 as many times; each time is the minimum of its runs. Prints
#   BENCH train-epoch ours=<s>s peer=<s>s ratio=<peer/ours> acc_ours=<test acc> acc_peer=<test acc>
#   INFO train-epoch cpu=... isa=... kernels=<the product path fv-train recorded> runs=N spreads
#   INFO train-epoch peer-bf16=<s>s ratio=<peer-bf16/ours> (PyTorch autocast bf16)
# fv-train runs as by default (--gemm auto: AMX tiles, else AVX512-BF16 vectors, both bf16x3, else
# OpenBLAS sgemm; FV_GEMM=sgemm|bf16|amx picks one). The peer is PyTorch's default (float); the
# second peer is its own mixed precision (oneDNN; on AMX tiles where the CPU has them).
# FV_BENCH_LIMIT=N trains on the first N images only (a shorter run on a busy machine).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/bench/bench_lib.sh"
THREADS=${FV_THREADS:-$(nproc)}
LIMIT=${FV_BENCH_LIMIT:-60000}
GEMM=${FV_GEMM:-auto}
DATA=${FMNIST_DATA:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
PEER="$ROOT/tests/bench/train_epoch_torch.py"

# ours_run: prints "<training seconds> <test accuracy> <product path>" of one fv-train epoch.
ours_run() {
  rm -rf "$tmp/model"
  "$BIN/fv-train" --epochs 1 --batch 64 --lr 0.001 --train-limit "$LIMIT" --log-every 0 --gemm "$GEMM" \
    --data "$DATA" "$tmp/model" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
  /usr/bin/python3 -c "
import json
s = json.loads(open('$tmp/model/train.jsonl').read().splitlines()[-1])
print(s['seconds'], s['test_accuracy'], s['gemm'])"
}

ours=() peer=() peer_bf=()
for _ in $(seq "$BENCH_RUNS"); do
  read -r t acc_ours gemm < <(ours_run)
  ours+=("$t")
  read -r _ t _ acc_peer < <(/usr/bin/python3 "$PEER" "$DATA" "$THREADS" 64 "$LIMIT")
  peer+=("$t")
done
for _ in $(seq "$BENCH_RUNS"); do
  read -r _ t _ acc_bf < <(/usr/bin/python3 "$PEER" "$DATA" "$THREADS" 64 "$LIMIT" bf16)
  peer_bf+=("$t")
done
o=$(bench_min "${ours[@]}") p=$(bench_min "${peer[@]}") b=$(bench_min "${peer_bf[@]}")

awk -v o="$o" -v p="$p" -v ao="$acc_ours" -v ap="$acc_peer" 'BEGIN {
  printf "BENCH train-epoch ours=%.2fs peer=%.2fs ratio=%.2f acc_ours=%.4f acc_peer=%.4f\n", o, p, p / o, ao, ap }'
bench_info train-epoch "$gemm" "images=$LIMIT" "threads=$THREADS" "ours=$(bench_range "${ours[@]}")s" \
  "peer=$(bench_range "${peer[@]}")s" "peer_bf16=$(bench_range "${peer_bf[@]}")s"
awk -v o="$o" -v p="$b" -v a="$acc_bf" -v n="$LIMIT" 'BEGIN {
  printf "INFO train-epoch peer-bf16=%.2fs ratio=%.2f acc=%.4f (PyTorch autocast bf16); ours %.0f images/s\n",
    p, p / o, a, n / o }'
