# BENCH pack-occupancy: frame pixels / sheet pixels over all sheets, ours (fv-sprite layout:
# MaxRects, every heuristic and sort order, last sheet size searched) against npm
# maxrects-packer 2.7.4 (smart sizing, no rotation, no power of two, best of its two packing
# logics) on the same rectangles, both without padding, sheets of at most 4096 x 4096: a mixed
# random set (2000 rectangles: many small, some long, a few big) and the article's own frames
# (the atlases of its sheets, packed by tests/bench/sprite_lib.sh from the sprites stage's lists).
# Goal: ours >= the peer's occupancy (ratio >= 1).
. "$ROOT/tests/bench/sprite_lib.sh"
/usr/bin/python3 - "$W/random.tsv" <<'PY'
import random, sys
r = random.Random(20240601)
with open(sys.argv[1], 'w') as f:
    for i in range(2000):
        k = r.random()
        if k < 0.70: w, h = r.randint(8, 96), r.randint(8, 96)          # thumbnails, icons
        elif k < 0.85: w, h = r.randint(100, 600), r.randint(8, 48)     # long strips
        elif k < 0.95: w, h = r.randint(8, 48), r.randint(100, 600)
        else: w, h = r.randint(200, 700), r.randint(200, 700)           # big figures
        f.write('r%d\t%d\t%d\n' % (i, w, h))
PY
sets="$W/random.tsv"
/usr/bin/python3 -c '
import glob, json, sys
with open(sys.argv[1], "w") as f:
    for p in sorted(glob.glob(sys.argv[2] + "/*/sheet-*.json")):
        for fr in json.load(open(p))["frames"]: f.write("%s\t%d\t%d\n" % (fr["id"], fr["width"], fr["height"]))' "$W/article.tsv" "$W/packed"
sets="$sets $W/article.tsv"
cat >"$W/peer.mjs" <<'JS'
// the package is "type": "module": its ES build, logics by value (0: MAX_AREA, 1: MAX_EDGE)
import { readFileSync } from 'fs';
const { MaxRectsPacker } = await import(process.argv[2] + '/node_modules/maxrects-packer/dist/maxrects-packer.mjs');
const lines = readFileSync(process.argv[3], 'utf8').trim().split('\n');
const rects = lines.map(l => { const [id, w, h] = l.split('\t'); return { width: +w, height: +h, id }; });
let best = 0;
for (const logic of [0, 1]) {
  const p = new MaxRectsPacker(4096, 4096, 0, { smart: true, pot: false, square: false, allowRotation: false, border: 0, logic });
  p.addArray(rects.map(r => ({ ...r })));
  let used = 0, area = 0, placed = 0;
  for (const b of p.bins) { area += b.width * b.height; for (const r of b.rects) { used += r.width * r.height; placed++; } }
  if (placed !== rects.length) { console.error('peer: placed ' + placed + ' of ' + rects.length); process.exit(1); }
  best = Math.max(best, used / area);
}
console.log(best.toFixed(6));
JS
o_sum=0; p_sum=0; n=0; detail=""
for s in $sets; do
  o=$("$BIN/fv-sprite" layout "$s" --padding 0 | /usr/bin/python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["occupancy"])') || { echo "bench: fv-sprite layout failed" >&2; exit 1; }
  p=$(node "$W/peer.mjs" "$ROOT" "$s") || { echo "bench: maxrects-packer failed" >&2; exit 1; }
  detail="$detail $(basename "$s" .tsv):$o/$p"
  o_sum=$(echo "$o_sum + $o" | bc -l); p_sum=$(echo "$p_sum + $p" | bc -l); n=$((n + 1))
done
o=$(echo "100 * $o_sum / $n" | bc -l); p=$(echo "100 * $p_sum / $n" | bc -l)
printf 'BENCH pack-occupancy ours=%.2f%% peer=%.2f%% ratio=%.3f sets=%s\n' "$o" "$p" "$(echo "$o / $p" | bc -l)" "${detail# }"
