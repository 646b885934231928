# BENCH encode-speed: seconds to encode all sheets, ours (fv-sprite encode: the whole search over
# formats and qualities) against `pngquant --quality=65-90` alone on each sheet, both with
# FV_THREADS = OMP_NUM_THREADS threads (pngquant's libimagequant uses OpenMP). Best of 3 runs each.
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
best() { # best of 3, seconds
  local b="" t0 t1 d
  for _ in 1 2 3; do
    t0=$(now); "$@" || { echo "bench: $1 failed" >&2; exit 1; }; t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
  done
  echo "$b"
}
ours=$(best ours_run)
peer=$(best peer_run)
printf 'BENCH encode-speed ours=%.2fs peer=%.2fs ratio=%.2f sheets=%d threads=%d\n' "$ours" "$peer" \
  "$(echo "$peer / $ours" | bc -l)" "$(ls "$W"/sheets/*.png | wc -l)" "$THREADS"
