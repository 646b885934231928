# Black-box tests of fv-train and fv-examples: help and usage errors, a tiny training run (a small
# net on 2500 images) that must learn and give the same bytes with 1 and 2 threads (on the path
# --gemm auto picks here), on sgemm and on AVX512-BF16 with close accuracies, the model
# loaded by fv-nn and rendered by fv-render, dataset examples and features, and bad input (corrupt
# data, a damaged model, an unknown layer, k or a channel out of range) as one line on stderr,
# exit 1 and nothing written.
. "$ROOT/tests/cli/lib.sh"
TR=$BIN/fv-train
EX=$BIN/fv-examples
D=$TMPDIR_T
DATA=${FMNIST_DATA:-/usr/share/datasets/fashion-mnist}
TINY="--epochs 1 --train-limit 2500 --test-limit 1000 --arch 8,8,16,16,32 --batch 32 --chunk 8 --lr 0.002 --log-every 10"

expect_ok "fv-train --help" "$TR" --help
case $T_OUT in *"usage: fv-train"*) t_ok "train help text" ;; *) t_fail "train help text" ;; esac
expect_fail "fv-train without arguments" "usage: fv-train" "$TR"
expect_eq "train usage exit code" 2 "$T_RC"
expect_fail "fv-train bad epochs" "fv-train: --epochs 'x': expected an integer 1..64" "$TR" --epochs x "$D/m"
expect_eq "bad epochs exit code" 2 "$T_RC"
expect_fail "fv-train bad arch" "--arch '8,8': expected five channel counts" "$TR" --arch 8,8 "$D/m"
expect_fail "fv-train bad threads" "FV_THREADS: 'two' is not a positive integer" env FV_THREADS=two "$TR" "$D/m"

# corrupt data: a truncated gzip, and labels that do not match the images
mkdir -p "$D/bad1" "$D/bad2"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-labels-idx1-ubyte.gz; do cp "$DATA/$f" "$D/bad1/"; done
head -c 20000 "$DATA/t10k-images-idx3-ubyte.gz" >"$D/bad1/t10k-images-idx3-ubyte.gz"
expect_fail "truncated gzip" "t10k-images-idx3-ubyte.gz" "$TR" $TINY --data "$D/bad1" "$D/m"
expect_eq "truncated gzip exit code" 1 "$T_RC"
expect_eq "truncated gzip: one line" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
[ ! -e "$D/m" ] && t_ok "truncated gzip: nothing written" || t_fail "truncated gzip: nothing written"
cp "$DATA/train-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" "$D/bad2/"
cp "$DATA/t10k-labels-idx1-ubyte.gz" "$D/bad2/train-labels-idx1-ubyte.gz"
expect_fail "labels do not match images" "10000 labels for 60000 images" "$TR" $TINY --data "$D/bad2" "$D/m"
expect_eq "mismatched labels exit code" 1 "$T_RC"

# a tiny run, twice: it learns, and 1 or 2 threads give the same bytes
expect_ok "tiny training (1 thread)" env FV_THREADS=1 "$TR" $TINY "$D/m1"
acc=$(printf '%s\n' "$T_ERR" | sed -nE 's/.*test accuracy ([0-9.]+) after.*/\1/p')
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.70) }' && t_ok "tiny training reaches 70 % ($acc)" \
  || t_fail "tiny training reaches 70 %" "accuracy ${acc:-none}" "$T_ERR"
case $(printf '%s\n' "$T_ERR" | grep -c 'fv-train: epoch 1/1  batch') in 0) t_fail "progress lines" ;; *) t_ok "progress lines" ;; esac
expect_ok "tiny training (2 threads)" env FV_THREADS=2 "$TR" $TINY "$D/m2"
cmp -s "$D/m1/fmnist-cnn.bin" "$D/m2/fmnist-cnn.bin" && t_ok "same weights with 1 and 2 threads" \
  || t_fail "same weights with 1 and 2 threads"
cmp -s "$D/m1/fmnist-cnn.json" "$D/m2/fmnist-cnn.json" && t_ok "same model JSON with 1 and 2 threads" \
  || t_fail "same model JSON with 1 and 2 threads"
# the thread count changed between minibatches (the build's thread file): still the same bytes
with_budget "$D/threads" "$TR" $TINY "$D/m4"
expect_eq "tiny training with a changing thread file: exit 0" 0 "$T_RC"
case $T_ERR in *"fv-train: 2 threads (FV_THREADS_FILE)"*) t_ok "the thread file's count is applied" ;;
  *) t_fail "the thread file's count is applied" "$(printf '%s' "$T_ERR" | head -3)" ;; esac
cmp -s "$D/m1/fmnist-cnn.bin" "$D/m4/fmnist-cnn.bin" && t_ok "same weights while the thread count changes" \
  || t_fail "same weights while the thread count changes"
expect_eq "train.jsonl: epoch line and summary" 2 "$(grep -c . "$D/m1/train.jsonl")"
expect_ok "another seed" env FV_THREADS=2 "$TR" $TINY --seed 2 "$D/m3"
cmp -s "$D/m1/fmnist-cnn.bin" "$D/m3/fmnist-cnn.bin" && t_fail "another seed gives other weights" \
  || t_ok "another seed gives other weights"

# checkpoints: the same final weights, one loadable model and one line per checkpoint, the
# untrained network near chance and the epoch's the final accuracy
expect_ok "training with checkpoints" env FV_THREADS=2 "$TR" $TINY --checkpoints 0,10,epoch "$D/mc"
cmp -s "$D/m1/fmnist-cnn.bin" "$D/mc/fmnist-cnn.bin" && t_ok "checkpoints change no weight" \
  || t_fail "checkpoints change no weight"
expect_eq "checkpoints.jsonl: one line each" "step-0 step-10 epoch-1" \
  "$(sed -nE 's/.*"checkpoint":"([^"]+)".*/\1/p' "$D/mc/checkpoints.jsonl" | tr '\n' ' ' | sed 's/ $//')"
/usr/bin/python3 - "$D/mc" "$D/m1" <<'PY' && t_ok "checkpoint accuracies: chance, then the final one" \
  || t_fail "checkpoint accuracies: chance, then the final one" "$(cat "$D/mc/checkpoints.jsonl")"
import json, sys
c = [json.loads(l) for l in open(sys.argv[1] + "/checkpoints.jsonl")]
final = [json.loads(l) for l in open(sys.argv[2] + "/train.jsonl")][0]["test_accuracy"]
assert c[0]["step"] == 0 and c[0]["test_accuracy"] < 0.3, c[0]
assert c[1]["step"] == 10 and c[2]["step"] == 79 and c[2]["epoch"] == 1
assert abs(c[2]["test_accuracy"] - final) < 1e-12 and c[1]["test_accuracy"] < final
meta = json.load(open(sys.argv[1] + "/checkpoints/step-10/fmnist-cnn.json"))["userDefinedMetadata"]["fmnist"]
assert meta["training"]["step"] == 10, meta
PY
cmp -s "$D/m1/fmnist-cnn.bin" "$D/mc/checkpoints/epoch-1/fmnist-cnn.bin" && t_ok "the last checkpoint is the final model" \
  || t_fail "the last checkpoint is the final model"
expect_ok "fv-nn loads a checkpoint" "$BIN/fv-nn" info "$D/mc/checkpoints/step-0" --size 28
expect_fail "checkpoints out of order" "fv-train: --checkpoints '10,5': expected ascending steps 0..10000000 (at most 64) and the word epoch, comma-separated" "$TR" $TINY --checkpoints 10,5 "$D/m5"
expect_eq "checkpoints out of order: exit code" 2 "$T_RC"
expect_fail "checkpoints not a step" "fv-train: --checkpoints '0,x'" "$TR" $TINY --checkpoints 0,x "$D/m5"
expect_fail "checkpoint past the end" "fv-train: --checkpoints: step 500 is past the last step (79: 1 epochs of 2500 images in minibatches of 32)" "$TR" $TINY --checkpoints 0,500 "$D/m5"
expect_eq "checkpoint past the end: exit code" 2 "$T_RC"
[ ! -e "$D/m5" ] && t_ok "bad checkpoints: nothing written" || t_fail "bad checkpoints: nothing written"
# the product paths (--gemm): sgemm on any CPU; bf16 (AVX512-BF16, bf16x3) where the CPU has it,
# learning as well as sgemm (within 3 points) and recorded in the metadata; a path the CPU lacks
# is one line, exit 2, nothing written
gemm_of() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['gemm'])" "$1/train.jsonl"; }
acc_of() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['test_accuracy'])" "$1/train.jsonl"; }
expect_ok "tiny training on sgemm" env FV_THREADS=2 "$TR" $TINY --gemm sgemm "$D/ms"
expect_eq "sgemm path recorded" openblas-sgemm "$(gemm_of "$D/ms")"
expect_fail "fv-train bad gemm" "fv-train: --gemm 'x': expected auto, amx, bf16 or sgemm" "$TR" --gemm x "$D/m"
if grep -qw avx512_bf16 /proc/cpuinfo; then
  expect_ok "tiny training on bf16" env FV_THREADS=2 "$TR" $TINY --gemm bf16 "$D/mb"
  expect_eq "bf16 path recorded" avx512-bf16x3 "$(gemm_of "$D/mb")"
  awk -v b="$(acc_of "$D/mb")" -v s="$(acc_of "$D/ms")" 'BEGIN { d = b - s; exit !(d < 0.03 && d > -0.03) }' \
    && t_ok "bf16 accuracy close to sgemm's" || t_fail "bf16 accuracy close to sgemm's" "$(acc_of "$D/mb") vs $(acc_of "$D/ms")"
  grep -qw amx_tile /proc/cpuinfo || expect_eq "auto picks bf16 without AMX" avx512-bf16x3 "$(gemm_of "$D/m1")"
else
  t_skip "fmnist: tiny training on bf16" "the CPU lacks avx512_bf16"
fi
expect_fail "bf16 turned off" "fv-train: --gemm bf16: this CPU lacks AVX512_BF16 (avx512_bf16), or FV_NO_BF16 is set" \
  env FV_NO_BF16=1 "$TR" $TINY --gemm bf16 "$D/mn"
expect_eq "bf16 turned off: exit code" 2 "$T_RC"
[ ! -e "$D/mn" ] && t_ok "bf16 turned off: nothing written" || t_fail "bf16 turned off: nothing written"

# the model through the nn engine and the renderer
expect_ok "fv-nn info on the model" "$BIN/fv-nn" info "$D/m1" --size 28
expect_eq "fv-nn: logits shape" "_FusedMatMul logits [1,1,1,10]" \
  "$(printf '%s\n' "$T_OUT" | awk '$2 == "logits" {print $1, $2, $3}')"
if [ -x "$BIN/fv-render" ]; then
  cat >"$D/recipe.json" <<JSON
{"model": {"json": "$D/m1/fmnist-cnn.json", "bin": "$D/m1/fmnist-cnn.bin"},
 "layer": "conv4:preact", "size": 28, "steps": 8, "seed": 1, "transforms": "none",
 "objectives": [{"kind": "channel", "channel": 3}]}
JSON
  expect_ok "fv-render on the trained model (conv4)" env FV_THREADS=1 "$BIN/fv-render" "$D/recipe.json" "$D/render"
  [ -s "$D/render/image_0.png" ] && t_ok "fv-render wrote an image" || t_fail "fv-render wrote an image"
  sed -e 's/"conv4:preact"/"logits"/' -e 's/"channel", "channel": 3/"channel", "channel": 7/' "$D/recipe.json" >"$D/recipe2.json"
  expect_ok "fv-render on the trained model (logits, 28 px)" env FV_THREADS=1 "$BIN/fv-render" "$D/recipe2.json" "$D/render2"
fi

# dataset examples
expect_ok "fv-examples --help" "$EX" --help
expect_fail "fv-examples without arguments" "usage: fv-examples" "$EX"
expect_eq "examples usage exit code" 2 "$T_RC"
expect_ok "fv-examples fc1:preact" env FV_THREADS=2 "$EX" --layer fc1:preact --k 4 --spread 2 --channels 0,5 \
  --scale 2 --limit 500 --features "$D/m1" "$D/ex"
expect_eq "examples: two channels" 2 "$(/usr/bin/python3 -c "import json; print(len(json.load(open('$D/ex/examples.json'))['channels']))")"
/usr/bin/python3 - "$D/ex" <<'PY' && t_ok "examples: listing consistent with files and values" || t_fail "examples: listing consistent with files and values"
import json, os, sys
d = sys.argv[1]
j = json.load(open(f"{d}/examples.json"))
assert j["layer"] == "fc1:preact" and j["tile"]["width"] == 56
for ch in j["channels"]:
    top = [im["value"] for im in ch["top"]]
    assert len(top) == 4 and top == sorted(top, reverse=True)
    assert abs(top[0] - ch["max"]) < 1e-6
    pts = [p["point"] for p in ch["spectrum"]]
    assert len(pts) == 5 and pts[0] == "min" and pts[-1] == "max"
    assert abs(ch["spectrum"][0]["images"][0]["value"] - ch["min"]) < 1e-6
    for im in ch["top"] + [i for p in ch["spectrum"] for i in p["images"]]:
        assert os.path.getsize(f"{d}/{im['file']}") > 0 and 0 <= im["label"] <= 9
raw = open(f"{d}/features.fvf", "rb").read()
assert raw[:4] == b"FVF1" and int.from_bytes(raw[4:8], "little") == 500 and int.from_bytes(raw[8:12], "little") == 32
assert len(raw) == 12 + 500 * 32 * 4
assert len(open(f"{d}/labels.txt").read().split()) == 500
PY
expect_ok "fv-examples --features-only" "$EX" --features-only --layer fc1 --limit 300 "$D/m1" "$D/feat"
[ -s "$D/feat/features.fvf" ] && [ ! -e "$D/feat/examples.json" ] && t_ok "features only" || t_fail "features only"

expect_fail "k out of range" "--k 0: out of range (expected 1..300" "$EX" --k 0 --limit 300 "$D/m1" "$D/x1"
expect_eq "k out of range exit code" 1 "$T_RC"
expect_fail "unknown layer" "output node 'fc9' not found" "$EX" --layer fc9 --limit 300 "$D/m1" "$D/x2"
expect_eq "unknown layer exit code" 1 "$T_RC"
expect_fail "channel out of range" "--channels: 40 out of range (layer conv2 has 8 channels)" "$EX" --layer conv2 \
  --channels 40 --limit 300 "$D/m1" "$D/x3"
mkdir -p "$D/damaged"
cp "$D/m1/fmnist-cnn.json" "$D/damaged/"
head -c 1000 "$D/m1/fmnist-cnn.bin" >"$D/damaged/fmnist-cnn.bin"
expect_fail "damaged model" "fmnist-cnn.bin: truncated" "$EX" --limit 300 "$D/damaged" "$D/x4"
expect_eq "damaged model exit code" 1 "$T_RC"
expect_eq "damaged model: one line" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
[ ! -e "$D/x1" ] && [ ! -e "$D/x2" ] && [ ! -e "$D/x3" ] && [ ! -e "$D/x4" ] && t_ok "bad input writes nothing" \
  || t_fail "bad input writes nothing"
ls "$D" | grep -q '\.tmp\.' && t_fail "no scratch directories left" || t_ok "no scratch directories left"
# fv-mosaic: the t-SNE grid of test images.
printf '0\t0\n0\t1\n1\t0\n1\t1\n' >"$TMPDIR_T/cells.tsv"
expect_ok "fv-mosaic draws a 2x2 grid" "$BIN/fv-mosaic" "$TMPDIR_T/cells.tsv" "$TMPDIR_T/m.png"
expect_eq "fv-mosaic image is 56 x 56" "56 56" "$(/usr/bin/python3 -c "import struct;d=open('$TMPDIR_T/m.png','rb').read(24);print(*struct.unpack('>II',d[16:24]))")"
printf '0\t0\n0\t0\n' >"$TMPDIR_T/dup.tsv"
expect_fail "fv-mosaic refuses a cell used twice" "dup.tsv: cell (0, 0) is given to two images" "$BIN/fv-mosaic" "$TMPDIR_T/dup.tsv" "$TMPDIR_T/d.png"
[ -e "$TMPDIR_T/d.png" ] && t_fail "fv-mosaic writes nothing on bad input" || t_ok "fv-mosaic writes nothing on bad input"
printf '0 x\n' >"$TMPDIR_T/bad.tsv"
expect_fail "fv-mosaic bad line" "bad.tsv:1: expected 'row<TAB>col'" "$BIN/fv-mosaic" "$TMPDIR_T/bad.tsv" "$TMPDIR_T/b.png"
finish
