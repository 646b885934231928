# Black-box tests of fv-nn: help and usage errors, info, a photo through the detector, and bad
# models / requests as one line on stderr with exit 1. Bad model files are made here from a copy.
. "$ROOT/tests/cli/lib.sh"
NN=$BIN/fv-nn
M=$FV_MODEL_DIR
PHOTOS=/usr/lib/python3/dist-packages/skimage/data

expect_ok "fv-nn --help" "$NN" --help
case $T_OUT in *"usage: fv-nn info"*) t_ok "help text" ;; *) t_fail "help text" ;; esac
expect_fail "fv-nn without arguments" "usage: fv-nn" "$NN"
expect_eq "usage exit code" 2 "$T_RC"
expect_fail "fv-nn bad size" "fv-nn: --size x: expected an integer" "$NN" info "$M" --size x
expect_eq "bad size exit code" 2 "$T_RC"
expect_fail "FV_THREADS not a number" "FV_THREADS: 'two' is not a positive integer" env FV_THREADS=two "$NN" info "$M"

expect_ok "fv-nn info" "$NN" info "$M" --size 512
case $T_OUT in *"sha256 "*) t_ok "info prints the checksum" ;; *) t_fail "info prints the checksum" ;; esac
expect_eq "info: keypoints shape" "Identity tower_0/keypoints [1,128,128,80]" \
  "$(printf '%s\n' "$T_OUT" | awk '$2 == "tower_0/keypoints" {print $1, $2, $3}')"
expect_eq "info: TopKV2 not supported" "TopKV2 tower_0/TopKV2 (not supported)" \
  "$(printf '%s\n' "$T_OUT" | awk '$2 == "tower_0/TopKV2" {print $1, $2, $3, $4}')"

# a cat at 256 px: the strongest class heatmap is "cat", near the middle of the photo
expect_ok "fv-nn run chelsea.png" env FV_THREADS=1 "$NN" run "$M" "$PHOTOS/chelsea.png" --size 256 \
  --output tower_0/keypoints --output "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact"
top=$(printf '%s\n' "$T_OUT" | sed -n 2p)
case $top in *"channel 15 (cat)"*) t_ok "run: top class is cat" ;; *) t_fail "run: top class is cat" "$top" ;; esac
case $T_OUT in *"expand/Relu:preact [1,32,32,96] min -"*) t_ok "run: preact output has negative values" ;;
  *) t_fail "run: preact output has negative values" "$T_OUT" ;; esac

# bad input: one line, exit 1
mkdir -p "$TMPDIR_T/short" "$TMPDIR_T/notgraph"
cp "$M/centernet.json" "$TMPDIR_T/short/"
head -c 4000000 "$M/centernet.bin" >"$TMPDIR_T/short/centernet.bin"
expect_fail "truncated weights" "centernet.bin: truncated: weight '" "$NN" info "$TMPDIR_T/short"
expect_eq "truncated weights exit code" 1 "$T_RC"
expect_eq "one line on stderr" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
printf '{"format": "layers-model", "modelTopology": {"class_name": "Sequential"}, "weightsManifest": []}' \
  >"$TMPDIR_T/notgraph/model.json"
expect_fail "not a graph model" "model.json: modelTopology.node: not a TF.js graph model" "$NN" info "$TMPDIR_T/notgraph"
expect_fail "no model here" "$TMPDIR_T/short/none: cannot open model directory" "$NN" info "$TMPDIR_T/short/none"
expect_fail "unknown output node" "centernet.json: output node 'tower_0/nope' not found in the model" \
  "$NN" run "$M" "$PHOTOS/chelsea.png" --size 64 --output tower_0/nope
expect_eq "unknown output exit code" 1 "$T_RC"
expect_fail "unsupported op" "is not supported by the nn engine" \
  "$NN" run "$M" "$PHOTOS/chelsea.png" --size 64 --output tower_0/detections
printf 'not a png' >"$TMPDIR_T/x.png"
expect_fail "bad image" "x.png: " "$NN" run "$M" "$TMPDIR_T/x.png" --size 64
expect_eq "bad image exit code" 1 "$T_RC"

# profile: one standardised row per channel over the images; --self leaves each channel's own
# image out (its entry is 0), and rows of a varying channel have mean 0 over the others.
L='tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact'
imgs="$PHOTOS/chelsea.png $PHOTOS/astronaut.png $PHOTOS/coffee.png $PHOTOS/motorcycle_left.png"
expect_ok "fv-nn profile" "$NN" profile "$M" --output "$L" --size 64 --self 0 -o "$TMPDIR_T/p.fvf" $imgs
expect_ok "fv-nn profile without --self" "$NN" profile "$M" --output "$L" --size 64 -o "$TMPDIR_T/all.fvf" $imgs
expect_eq "without --self: a row for every channel" "96 4" "$(od -An -tu4 -j4 -N8 "$TMPDIR_T/all.fvf" | xargs)"
expect_fail "--self past the last channel" "expected at most 4 images" \
  "$NN" profile "$M" --output "$L" --size 64 --self 92 -o "$TMPDIR_T/q.fvf" $imgs $imgs
prof=$(/usr/bin/python3 - "$TMPDIR_T/p.fvf" <<'PY'
import struct, sys
raw = open(sys.argv[1], 'rb').read()
n, d = struct.unpack('<II', raw[4:12])
v = struct.unpack('<%df' % (n * d), raw[12:])
rows = [v[i * d:(i + 1) * d] for i in range(n)]
own_zero = all(rows[c][c] == 0 for c in range(d))
others = [sum(x for j, x in enumerate(r) if j != c) for c, r in enumerate(rows[:d])]
print(raw[:4].decode(), n, d, own_zero, all(abs(s) < 1e-4 for s in others))
PY
)
expect_eq "profile: the 4 channels the images show, own image left out, centred" "FVF1 4 4 True True" "$prof"
expect_fail "profile without -o is a usage error" "usage: fv-nn" "$NN" profile "$M" --output "$L" $imgs
expect_fail "profile of a missing image" "nothere.png" "$NN" profile "$M" --output "$L" -o "$TMPDIR_T/q.fvf" "$TMPDIR_T/nothere.png"
[ -e "$TMPDIR_T/q.fvf" ] && t_fail "a failed profile writes nothing" || t_ok "a failed profile writes nothing"

# bench --steps: a line per step that took time, a rate for the convolutions only, and the steps'
# sum (a profile that reads nothing would print no step, or a sum of 0). 64 px, so that a hard
# swish takes more than the microsecond a step must take to be listed (at 32 px, with their
# tensors in cache, they took less).
expect_ok "fv-nn bench --steps" env FV_THREADS=1 "$NN" bench "$M" --size 64 --batch 2 --iters 2 --steps
steps=$(printf '%s\n' "$T_OUT" | awk '
  $1 ~ /^[0-9]+$/ && $2 ~ /Conv/ { conv++; if ($6 + 0 > 0) rated++ }
  $1 ~ /^[0-9]+$/ && $2 == "HardSwish" && NF == 6 { plain++ }
  $1 == "steps" { sum = ($2 + 0 > 0) }
  END { print (conv > 50), (rated == conv), (plain > 0), sum }')
expect_eq "bench --steps: convolutions with rates, other ops without, a sum" "1 1 1 1" "$steps"
finish
