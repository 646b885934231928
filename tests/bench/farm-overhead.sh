#!/usr/bin/env bash
# BENCH farm-overhead: the test article (--quick, 75 jobs) rendered through a two-node Slurm
# cluster on this machine (tests/slurm-cluster.sh, one CPU per node, `--farm slurm --tasks 2`)
# against `--jobs 2` locally, same machine, same run, each from an empty cache, interleaved,
# best of three. ratio = local / farm (goal >= 0.9: the scheduler costs at most 10 %).
# Prints
#   BENCH farm-overhead ours=<s>s peer=<s>s ratio=<local/farm>
#   INFO farm-overhead <per-job overhead> ... (and the CPU)
# The per-job overhead is (farm - local) / jobs: what the farm adds to each job (submission,
# the queue on the shared store, verifying results) beyond the same jobs run here.
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNS=${FV_BENCH_RUNS:-3}
. "$ROOT/tests/slurm-cluster.sh"
W=$(mktemp -d)
C=$(mktemp -d /tmp/fv-slurm.XXXXXX)
trap 'slurm_stop "$C"; rm -rf "$W" "$C"' EXIT
if ! slurm_start "$C"; then echo "BENCH farm-overhead skipped: $SLURM_WHY"; exit 0; fi
mkdir -p "$W/p"
cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$W/p/"

now() { date +%s.%N; }
# seconds of one build from an empty store; extra arguments go to build.lua
timed() {
  rm -rf "$W/store" "$W/p/.cache" "$W/p/build"
  local t0 t1
  t0=$(now)
  (cd "$W/p" && FV_CACHE="$W/store" lua5.4 "$ROOT/build.lua" --quick "$@" >"$W/log" 2>&1) ||
    { echo "bench: build failed ($*): $(tail -2 "$W/log")" >&2; exit 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
timed --jobs 2 >/dev/null # warm the page cache and the model
locals=() farms=()
for _ in $(seq "$RUNS"); do
  locals+=("$(timed --jobs 2)")
  farms+=("$(timed --farm slurm --tasks 2)")
done
jobs=$(sed -nE 's/.*article: ([0-9]+) jobs.*/\1/p' "$W/log")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
printf '%s\n' "${locals[@]}" >"$W/l"; printf '%s\n' "${farms[@]}" >"$W/f"
awk -v jobs="$jobs" -v cpu="$cpu" -v runs="$RUNS" '
  NR == FNR { l[FNR] = $1; next } { f[FNR] = $1 }
  END {
    lmin = l[1]; lmax = l[1]; fmin = f[1]; fmax = f[1]
    for (i = 2; i <= runs; i++) {
      if (l[i] < lmin) lmin = l[i]; if (l[i] > lmax) lmax = l[i]
      if (f[i] < fmin) fmin = f[i]; if (f[i] > fmax) fmax = f[i]
    }
    printf "BENCH farm-overhead ours=%.2fs peer=%.2fs ratio=%.2f\n", fmin, lmin, lmin / fmin
    printf "INFO farm-overhead %+.3f s per job (%d jobs; below 0: within the noise); farm %.2f-%.2f s, local %.2f-%.2f s over %d runs; two slurmd of one CPU each against --jobs 2 on %s\n",
      (fmin - lmin) / jobs, jobs, fmin, fmax, lmin, lmax, runs, cpu
  }' "$W/l" "$W/f"
