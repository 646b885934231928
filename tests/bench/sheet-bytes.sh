# BENCH sheet-bytes: total bytes of the encoded sheets, ours (fv-sprite encode: smallest format
# meeting SSIM >= 0.97) against `pngquant --quality=65-90` then `optipng -o2` on the same lossless
# sheets (where pngquant refuses a sheet, exit 99, the pipeline keeps the lossless PNG and
# optipng recompresses it). The SSIM of each result against the lossless sheet is measured by
# scikit-image (not by our code) and printed on the line (the lowest over the sheets).
# Goal: ours <= 45 % of the baseline's bytes at SSIM >= 0.97.
. "$ROOT/tests/bench/sprite_lib.sh"
"$BIN/fv-sprite" encode "$W/ours" "$W"/sheets/*.png >/dev/null || { echo "bench: fv-sprite encode failed" >&2; exit 1; }
mkdir -p "$W/peer"
for s in "$W"/sheets/*.png; do
  b=$(basename "$s")
  pngquant --quality=65-90 --force --output "$W/peer/$b" "$s" 2>/dev/null
  [ -f "$W/peer/$b" ] || cp "$s" "$W/peer/$b" # quality not reachable: the lossless sheet stays
  optipng -quiet -o2 "$W/peer/$b" || { echo "bench: optipng failed" >&2; exit 1; }
done
/usr/bin/python3 - "$W" <<'PY'
import glob, os, sys
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity as ssim
w = sys.argv[1]
def q(a, b):
    return ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)
ours = peer = 0; so = sp = 1.0; n = 0
for s in sorted(glob.glob(w + '/sheets/*.png')):
    base = os.path.basename(s)[:-4]
    ref = np.asarray(Image.open(s).convert('RGB'))
    o = [p for p in glob.glob(w + '/ours/' + base + '.*')][0]
    p = w + '/peer/' + base + '.png'
    ours += os.path.getsize(o); peer += os.path.getsize(p); n += 1
    so = min(so, q(ref, np.asarray(Image.open(o).convert('RGB'))))
    sp = min(sp, q(ref, np.asarray(Image.open(p).convert('RGB'))))
    print('bench: %s: ours %s %d bytes (ssim %.4f), peer %d bytes' % (base, os.path.basename(o), os.path.getsize(o),
          q(ref, np.asarray(Image.open(o).convert('RGB'))), os.path.getsize(p)), file=sys.stderr)
print('BENCH sheet-bytes ours=%dB peer=%dB ratio=%.2f sheets=%d ours_ssim=%.4f peer_ssim=%.4f ours/peer=%.1f%%'
      % (ours, peer, peer / ours, n, so, sp, 100.0 * ours / peer))
PY
