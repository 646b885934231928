# Shared by the benchmarks (sourced): the CPU they ran on, and the minimum of several runs.
# Machines are noisy (the same run can take 1.6 s or 3 s an hour apart), so a benchmark runs ours
# and the peer BENCH_RUNS times (default 3), interleaved (ours, peer, ours, peer, ...), takes the
# minimum of each, and gives the spread on its INFO line.
BENCH_RUNS=${FV_BENCH_RUNS:-3}

# bench_cpu: the CPU's model name and its family and model numbers, e.g. "AMD EPYC 9R14 96-Core
# Processor, family 25 model 17". A virtual machine may name only "AMD EPYC": the numbers still
# tell the generations apart (AMD family 25 is Zen 3 and Zen 4, whose 512-bit operations take two
# passes through 256-bit units; family 26 is Zen 5).
bench_cpu() {
  awk -F': *' '/^model name/ && !n { n = $2 } /^cpu family/ && f == "" { f = $2 }
    /^model[[:space:]]*:/ && m == "" { m = $2 }
    END { printf "%s%s\n", n, (f != "" ? ", family " f " model " m : "") }' /proc/cpuinfo
}

# bench_isa: the vector and matrix units the CPU offers, of those our kernels use, best first
# (amx, avx512-bf16, avx512, avx2); which of them a tool actually ran is the tool's to say.
bench_isa() {
  local f out=
  f=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  case $f in *" amx_tile "*) out=$out,amx ;; esac
  case $f in *" avx512_bf16 "*) out=$out,avx512-bf16 ;; esac
  case $f in *" avx512f "*) out=$out,avx512 ;; esac
  case $f in *" avx2 "*) out=$out,avx2 ;; esac
  [ -n "$out" ] && echo "${out#,}" || echo none
}

# bench_now: seconds since the epoch, to the nanosecond.
bench_now() { date +%s.%N; }

# bench_min V...: the smallest; bench_max V...: the largest.
bench_min() { printf '%s\n' "$@" | sort -g | head -n 1; }
bench_max() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# bench_range V...: "min-max" with two decimals (three under 0.1), for INFO lines.
bench_range() {
  awk -v a="$(bench_min "$@")" -v b="$(bench_max "$@")" 'BEGIN {
    f = (b < 0.1) ? "%.3f" : "%.2f"; printf f "-" f "\n", a, b }'
}

# bench_info NAME KERNELS [MORE...]: the INFO line every speed benchmark prints: the CPU, its
# units, the kernels that ran (as the tool reported them) and the number of runs.
bench_info() {
  local name=$1 kernels=$2; shift 2
  printf 'INFO %s cpu="%s" isa=%s kernels=%s runs=%s%s\n' "$name" "$(bench_cpu)" "$(bench_isa)" \
    "$kernels" "$BENCH_RUNS" "${*:+ $*}"
}
