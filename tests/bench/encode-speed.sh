# BENCH encode-speed: seconds to encode all sheets, ours (fv-sprite encode: the whole search over
# formats and qualities) against `pngquant --quality=65-90` alone on each sheet, both with
# FV_THREADS = OMP_NUM_THREADS threads (pngquant's libimagequant uses OpenMP). The minimum of BENCH_RUNS
# runs each, interleaved (tests/bench/bench_lib.sh); the INFO line gives the CPU and the spread.
# Goal: not slower (ratio >= 1).
. "$ROOT/tests/bench/sprite_lib.sh"
ours_run() { rm -rf "$W/ours"; "$BIN/fv-sprite" encode "$W/ours" "$W"/sheets/*.png >/dev/null; }
peer_run() {
  rm -rf "$W/peer"; mkdir -p "$W/peer"
  for s in "$W"/sheets/*.png; do
    pngquant --quality=65-90 --force --output "$W/peer/$(basename "$s")" "$s" 2>/dev/null
    rc=$?; [ $rc -eq 0 ] || [ $rc -eq 99 ] || return 1 # 99: quality not reachable, still a full run
  done
}
. "$ROOT/tests/bench/bench_lib.sh"
timed() { # seconds of one run
  local t0 t1
  t0=$(bench_now); "$@" || { echo "bench: $1 failed" >&2; exit 1; }; t1=$(bench_now)
  echo "$t1 - $t0" | bc -l
}
o=(); p=()
for _ in $(seq "$BENCH_RUNS"); do
  x=$(timed ours_run) || exit 1; o+=("$x")
  x=$(timed peer_run) || exit 1; p+=("$x")
done
ours=$(bench_min "${o[@]}")
peer=$(bench_min "${p[@]}")
printf 'BENCH encode-speed ours=%.2fs peer=%.2fs ratio=%.2f sheets=%d threads=%d\n' "$ours" "$peer" \
  "$(echo "$peer / $ours" | bc -l)" "$(ls "$W"/sheets/*.png | wc -l)" "$THREADS"
bench_info encode-speed "libimagequant+libwebp+libjpeg-turbo+libpng" "ours=$(bench_range "${o[@]}")s" "peer=$(bench_range "${p[@]}")s"
