# Shared by the sprite benchmarks (sheet-bytes, encode-speed): lossless sheets to encode, in
# $W/sheets/*.png. The article's own sheets when it has been built with sprites (lossless sheets
# in build/article/sprites/lossless/*.png, as `fv-sprite pack` writes them); otherwise sheets
# packed from tiles of the reference images ../shared/reference/*.jpg (decoded with Debian's
# Python + PIL, cut into 128-pixel tiles, packed by `fv-sprite pack`), which stderr says.
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/sheets"
THREADS=${FV_THREADS:-$(nproc)}
export FV_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
if ls "$ROOT"/build/article/sprites/lossless/*.png >/dev/null 2>&1; then
  cp "$ROOT"/build/article/sprites/lossless/*.png "$W/sheets/"
else
  echo "bench: no sheets in build/article/sprites/lossless: packing tiles of ../shared/reference/*.jpg" >&2
  mkdir -p "$W/tiles"
  /usr/bin/python3 - "$ROOT/../shared/reference" "$W/tiles" <<'PY' || { echo "bench: cannot cut tiles" >&2; exit 1; }
import glob, os, sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
lines = []
for p in sorted(glob.glob(src + '/*.jpg')):
    im = Image.open(p).convert('RGB'); b = os.path.basename(p)[:-4]; t = 128
    for y in range(0, im.size[1] - t + 1, t):
        for x in range(0, im.size[0] - t + 1, t):
            n = '%s_%d_%d.png' % (b, y // t, x // t)
            im.crop((x, y, x + t, y + t)).save(os.path.join(out, n))
            lines.append('%s/%d/%d\t%s' % (b, y // t, x // t, n))
open(os.path.join(out, 'list.tsv'), 'w').write('\n'.join(lines) + '\n')
PY
  # 1024-pixel sheets: several sheets, as an article with many figures would have
  "$BIN/fv-sprite" pack "$W/tiles/list.tsv" "$W/packed" --max-size 1024x1024 >/dev/null || { echo "bench: fv-sprite pack failed" >&2; exit 1; }
  cp "$W"/packed/*.png "$W/sheets/"
fi
now() { date +%s.%N; }
