# Black-box tests of fv-sprite: help and usage, every PNG kind accepted, each kind of bad input
# refused with one line and nothing written, the subcommands, determinism.
. "$ROOT/tests/cli/lib.sh"
F=$ROOT/tests/fixtures/sprite
S=$BIN/fv-sprite
T=$TMPDIR_T

expect_ok "fv-sprite --help" "$S" --help
case $T_OUT in *"usage: fv-sprite build"*"Exit codes"*) t_ok "help text" ;; *) t_fail "help text" ;; esac
expect_fail "no arguments" "usage: fv-sprite" "$S"
expect_eq "usage exit code" 2 "$T_RC"
printf 'a\t%s/rgb.png\n' "$F" >"$T/one.tsv"
expect_fail "bad --max-size" "--max-size: '40' is not WxH" "$S" build "$T/one.tsv" "$T/o" --max-size 40
expect_eq "bad option exit code" 2 "$T_RC"
expect_fail "unknown format" "unknown format 'gif'" "$S" build "$T/one.tsv" "$T/o" --formats webp,gif

# every PNG kind: 8/16-bit grey, grey+alpha, palette+tRNS, RGB, RGBA
cp "$F"/rgb.png "$F"/grey.png "$F"/grey16.png "$F"/grey_alpha.png "$F"/palette.png "$F"/alpha.png "$T/"
printf '# kinds\nrgb\trgb.png\ngrey\tgrey.png\ngrey16\tgrey16.png\n\ngrey_alpha\tgrey_alpha.png\npalette\tpalette.png\nalpha\talpha.png\n' >"$T/kinds.tsv"
expect_ok "build: every PNG kind" "$S" build "$T/kinds.tsv" "$T/out" --table
case $T_OUT in *"sheet-0."*"total "*) t_ok "table printed" ;; *) t_fail "table printed" "$T_OUT" ;; esac
n=$(/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a["frames"]), a["channels"], sorted(f["id"] for f in a["frames"])[0])' "$T/out/sheet-0.json" 2>&1)
expect_eq "atlas lists the 6 frames, RGBA sheet" "6 4 alpha" "$n"
# 16-bit grey decodes to the same 8-bit values as the 8-bit file scaled: check one frame losslessly
expect_ok "pack: lossless sheets" "$S" pack "$T/kinds.tsv" "$T/pk"
v=$(/usr/bin/python3 - "$T/pk/sheet-0.json" "$T/pk/sheet-0.png" "$F" <<'PY'
import json, sys
import numpy as np
from PIL import Image
a = json.load(open(sys.argv[1])); sheet = np.asarray(Image.open(sys.argv[2]).convert('RGBA'))
fr = {f['id']: f for f in a['frames']}
def crop(i):
    f = fr[i]; return sheet[f['y']:f['y'] + f['height'], f['x']:f['x'] + f['width']]
ok = []
ok.append(a['encoding']['format'] == 'png' and a['encoding']['ssim'] == 1)
ok.append((crop('rgb')[..., :3] == np.asarray(Image.open(sys.argv[3] + '/rgb.png').convert('RGB'))).all())
ok.append((crop('alpha') == np.asarray(Image.open(sys.argv[3] + '/alpha.png').convert('RGBA'))).all())
ok.append((crop('palette') == np.asarray(Image.open(sys.argv[3] + '/palette.png').convert('RGBA'))).all())
g16 = (np.asarray(Image.open(sys.argv[3] + '/grey16.png')).astype(np.uint32) >> 8).astype(np.uint8)
ok.append((crop('grey16')[..., 0] == g16).all() and (crop('grey16')[..., 3] == 255).all())
print(' '.join(str(bool(x)) for x in ok))
PY
)
expect_eq "frames exact in the lossless sheet (rgb, alpha, palette, 16-bit)" "True True True True True" "$v"

printf '[{"id": "x", "path": "rgb.png"}, {"id": "y", "path": "alpha.png"}]' >"$T/list.json"
expect_ok "JSON list" "$S" build "$T/list.json" "$T/js"
[ -f "$T/js/sheet-0.json" ] && t_ok "JSON list: atlas written" || t_fail "JSON list: atlas written"

# bad input: one line, exit 1, nothing written
bad() { # NAME EXPECTED LIST_CONTENT
  printf "$3" >"$T/bad.tsv"
  rm -rf "$T/bo"
  expect_fail "$1" "$2" "$S" build "$T/bad.tsv" "$T/bo"
  expect_eq "$1: exit 1" 1 "$T_RC"
  expect_eq "$1: one line" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
  [ -e "$T/bo" ] && t_fail "$1: nothing written" || t_ok "$1: nothing written"
}
bad "corrupt PNG (CRC)" "bad.tsv:2: frame 'b': $F/badcrc.png: corrupt PNG" "a\t$F/rgb.png\nb\t$F/badcrc.png\n"
bad "truncated PNG" "bad.tsv:1: frame 't': $F/truncated.png: corrupt PNG (file is truncated)" "t\t$F/truncated.png\n"
bad "zero-sized PNG" "bad.tsv:1: frame 'z': $F/zero.png: corrupt PNG (" "z\t$F/zero.png\n"
bad "larger than a sheet" "bad.tsv:1: frame 'w' ($F/wide.png) is 5000x1, larger than the largest sheet 4096x4096" "w\t$F/wide.png\n"
bad "duplicate id" "bad.tsv:3: duplicate frame id 'a' (first on line 1)" "a\t$F/rgb.png\nb\t$F/grey.png\na\t$F/alpha.png\n"
bad "missing file" "bad.tsv:1: frame 'm': $T/nothere.png: cannot open" "m\tnothere.png\n"
bad "one field" "bad.tsv:2: expected two tab-separated fields: id<TAB>path" "a\t$F/rgb.png\njust-an-id\n"
bad "not a PNG" "bad.tsv:1: frame 'j': $F/make_input_fixtures.py: not a PNG file" "j\t$F/make_input_fixtures.py\n"
bad "empty list" "bad.tsv: no frames" "# nothing\n"
printf '[{"id": "a", "path": "rgb.png"}, {"id": "a", "path": "grey.png"}]' >"$T/dup.json"
expect_fail "duplicate id (JSON)" "dup.json: element 1: duplicate frame id 'a' (first at element 0)" "$S" build "$T/dup.json" "$T/bo"
printf '[{"id": "a"}]' >"$T/nopath.json"
expect_fail "JSON element without path" "nopath.json: element 0: expected {\"id\": string, \"path\": string}" "$S" build "$T/nopath.json" "$T/bo"
expect_fail "frame over --max-size" "is 32x24, larger than the largest sheet 16x16 (--max-size)" "$S" build "$T/one.tsv" "$T/bo" --max-size 16x16

# determinism: the same frames listed in another order give the same bytes
mkdir -p "$T/d"
for i in 0 1 2 3 4 5 6 7 8 9; do cp "$F/ssim_a.png" "$T/d/a$i.png"; cp "$F/rgb.png" "$T/d/r$i.png"; done
(cd "$T/d" && for f in *.png; do printf '%s\t%s\n' "${f%.png}" "$f"; done) >"$T/d/l1.tsv"
sort -r "$T/d/l1.tsv" >"$T/d/l2.tsv"
expect_ok "build (order 1)" "$S" build "$T/d/l1.tsv" "$T/d1" --max-size 200x200
expect_ok "build (order 2)" "$S" build "$T/d/l2.tsv" "$T/d2" --max-size 200x200
ls "$T/d1" | grep -q 'sheet-1\.' && t_ok "several sheets under --max-size" || t_fail "several sheets under --max-size"
diff -r "$T/d1" "$T/d2" >/dev/null && t_ok "same output for any list order" || t_fail "same output for any list order"

# retina: 2x sheets for frames of >= --retina-min pixels
expect_ok "build --retina" "$S" build "$T/d/l1.tsv" "$T/rt" --retina --retina-min 40
r=$(/usr/bin/python3 -c '
import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
f=[x for x in a["frames"] if x["id"]=="a0"][0]; g=[x for x in a["frames"] if x["id"]=="r0"][0]
print(f["width"], f["height"], f["retina"]["width"], f["retina"]["sheet"].rsplit(".", 1)[0], "retina" in g, b["scale"])' "$T/rt/sheet-0.json" "$T/rt/sheet@2x-0.json" 2>&1)
expect_eq "retina: 1x halved, 2x in its own sheet, small frames 1x only" "32 24 64 sheet@2x-0 False 2" "$r"

# encode subcommand on a lossless sheet; layout subcommand
expect_ok "encode a sheet" "$S" encode "$T/enc" "$T/pk/sheet-0.png" --table --target 0.95
ls "$T/enc"/sheet-0.* >/dev/null 2>&1 && t_ok "encode wrote the sheet" || t_fail "encode wrote the sheet"
expect_fail "encode a bad sheet" "truncated.png: corrupt PNG" "$S" encode "$T/enc2" "$F/truncated.png"
expect_fail "--quant-speed out of range" "fv-sprite: --quant-speed: '11' is not an integer 1..10" \
  "$S" encode "$T/enc3" "$T/pk/sheet-0.png" --quant-speed 11
# a slower final quantization only replaces a palette where it is smaller: never larger
for fx in ssim_grey_a alpha; do
  expect_ok "$fx: palettes at speed 10" "$S" encode "$T/q10" "$F/$fx.png" --formats png8,png8-dither
  expect_ok "$fx: palettes at speed 4" "$S" encode "$T/q4" "$F/$fx.png" --formats png8,png8-dither --quant-speed 4
  b10=$(stat -c %s "$T/q10/$fx.png" 2>/dev/null || echo 0); b4=$(stat -c %s "$T/q4/$fx.png" 2>/dev/null || echo 0)
  if [ "$b4" -gt 0 ] && [ "$b4" -le "$b10" ]; then t_ok "$fx: speed 4 no larger than speed 10 ($b4 <= $b10)"
  else t_fail "$fx: speed 4 no larger than speed 10" "speed 4: $b4 bytes, speed 10: $b10 bytes"; fi
done
[ -e "$T/enc2" ] && t_fail "encode: nothing written" || t_ok "encode: nothing written"
printf 'a\t10\t10\nb\t10\t10\nc\t10\t10\nd\t10\t10\n' >"$T/sizes.tsv"
expect_ok "layout" "$S" layout "$T/sizes.tsv" --padding 0
case $T_OUT in *'"occupancy": 1.000000'*) t_ok "layout: four squares fill the sheet" ;; *) t_fail "layout: four squares fill the sheet" "$T_OUT" ;; esac
printf 'a\t10\n' >"$T/sizes2.tsv"
expect_fail "layout: bad line" "sizes2.tsv:1: expected id<TAB>width<TAB>height" "$S" layout "$T/sizes2.tsv"
finish
