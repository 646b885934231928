# Shared by the sprite benchmarks (sheet-bytes, encode-speed): the article's real sheets,
# lossless, in $W/sheets/*.png. The sprites stage keeps each figure's frame list in
# .cache/gen/sprites/<figure>.tsv; `fv-sprite pack` packs a list exactly as the stage does and
# writes the lossless sheets that the stage's encoder starts from. The article is built first
# (a no-op when `make article` has run; otherwise this renders it, which stderr says).
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/sheets"
THREADS=${FV_THREADS:-$(nproc)}
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
(cd "$ROOT" && lua5.4 build.lua) || { echo "bench: the article does not build" >&2; exit 1; }
for list in "$ROOT"/.cache/gen/sprites/*.tsv; do
  [ -f "$list" ] || { echo "bench: no sprite lists in .cache/gen/sprites" >&2; exit 1; }
  fig=$(basename "$list" .tsv)
  "$BIN/fv-sprite" pack "$list" "$W/packed/$fig" >/dev/null || { echo "bench: fv-sprite pack $list failed" >&2; exit 1; }
  for sh in "$W/packed/$fig"/sheet-*.png; do cp "$sh" "$W/sheets/$fig-$(basename "$sh")"; done
done
now() { date +%s.%N; }
