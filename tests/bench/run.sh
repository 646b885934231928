#!/usr/bin/env bash
# Runs the benchmarks: every tests/bench/<name>.sh prints one line
#   BENCH <name> ours=<value><unit> peer=<value><unit> ratio=<r>   (r > 1: we win)
# Usage: tests/bench/run.sh OUT_DIR [NAME]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-build/release}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
export ROOT BIN=$OUT/bin
bash "$ROOT/pipeline/setup.sh" --bench || exit 1
status=0
for s in "$ROOT"/tests/bench/*.sh; do
  name=$(basename "$s" .sh)
  # run.sh itself and the *_lib.sh files the benchmarks source are not benchmarks
  case $name in run | *_lib) continue ;; esac
  [ -n "${2:-}" ] && [ "$name" != "$2" ] && continue
  bash "$s" || { echo "BENCH $name failed (exit $?)"; status=1; }
done
exit $status
