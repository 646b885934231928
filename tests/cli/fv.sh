#!/usr/bin/env bash
# Black-box tests of fv-render: usage and exit codes, bad recipes (one line naming the file and the
# field, exit 1, nothing written), a tiny render's outputs, and byte-identical reruns.
. "$ROOT/tests/cli/lib.sh"
R=$BIN/fv-render
F=$ROOT/tests/fixtures/fv
T=$TMPDIR_T
M=$FV_MODEL_DIR
EARLY=tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact
export FV_THREADS=${FV_THREADS:-2}

# recipe NAME BODY: writes $T/NAME.json with the model filled in.
recipe() {
  printf '{"model": {"json": "%s/centernet.json", "bin": "%s/centernet.bin"}, %s}\n' "$M" "$M" "$2" >"$T/$1.json"
}

expect_ok "help" "$R" --help
run_cmd "$R"
expect_eq "no arguments: usage, exit 2" 2 "$T_RC"
run_cmd "$R" --bogus a b
expect_eq "unknown option: exit 2" 2 "$T_RC"
run_cmd env FV_THREADS=zero "$R" "$F/typo-field.json" "$T/x"
expect_eq "bad FV_THREADS: exit 2" 2 "$T_RC"

expect_fail "missing recipe file" "$T/nope.json: " "$R" "$T/nope.json" "$T/out"
expect_fail "invalid JSON names file and line" "$F/bad-json.json:2: invalid JSON" "$R" "$F/bad-json.json" "$T/out"
expect_fail "misspelt field" "$F/typo-field.json: objectives[0].chanel: unknown field" "$R" "$F/typo-field.json" "$T/out"
expect_fail "missing model" "$F/missing-model.json: model: missing" "$R" "$F/missing-model.json" "$T/out"
expect_fail "model files not found" "$F/no-model-files.json: model: " "$R" "$F/no-model-files.json" "$T/out"

recipe range '"layer": "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm", "size": 32, "objectives": [{"kind": "channel", "channel": 900}]'
expect_fail "channel out of range" "$T/range.json: objectives[0].channel: 900 out of range (layer has 528 channels)" "$R" "$T/range.json" "$T/out"
recipe layer '"size": 32, "objectives": [{"kind": "channel", "layer": "tower_0/MobilenetV3/no_such_layer", "channel": 1}]'
expect_fail "unknown layer" "$T/layer.json: objectives[0].layer: no node \"tower_0/MobilenetV3/no_such_layer\" in the model" "$R" "$T/layer.json" "$T/out"
recipe sha '"model_sha": 1, "objectives": [{"kind": "layer", "layer": "x"}]'
expect_fail "unknown top-level field" "$T/sha.json: model_sha: unknown field" "$R" "$T/sha.json" "$T/out"
printf '{"model": {"json": "%s/centernet.json", "bin": "%s/centernet.bin", "sha256": "%064d"}, "size": 32, "objectives": [{"kind": "layer", "layer": "%s"}]}\n' "$M" "$M" 0 "$EARLY" >"$T/badsha.json"
expect_fail "model sha256 mismatch" "$T/badsha.json: model.sha256: the model files hash to " "$R" "$T/badsha.json" "$T/out"
recipe div '"layer": "'$EARLY'", "objectives": [{"kind": "diversity"}]'
expect_fail "diversity needs a batch" "$T/div.json: objectives[0]: diversity needs a batch of at least 2" "$R" "$T/div.json" "$T/out"
if [ -e "$T/out" ] || ls "$T" | grep -q '\.tmp\.'; then t_fail "failed runs write nothing" "$(ls "$T")"; else t_ok "failed runs write nothing"; fi

# A tiny render: every output file, a sidecar with the recipe and the model hash.
recipe tiny '"layer": "'$EARLY'", "size": 32, "steps": 6, "batch": 2, "snapshots": [0, 6], "log_every": 2,
  "objectives": [{"kind": "channel", "channel": 3, "batch": 0}, {"kind": "neuron", "channel": 9, "batch": 1},
                 {"kind": "direction", "seed": 4, "weight": -1}, {"kind": "blur", "weight": 0.1}, {"kind": "l1", "weight": 0.1}]'
expect_ok "tiny render" "$R" "$T/tiny.json" "$T/tiny"
got=$(cd "$T/tiny" 2>/dev/null && ls | tr '\n' ' ')
expect_eq "tiny render files" "image_0.png image_1.png render.json step0000_0.png step0000_1.png step0006_0.png step0006_1.png " "$got"
side=$(/usr/bin/python3 -c "
import json; d = json.load(open('$T/tiny/render.json'))
print(d['recipe']['steps'], d['recipe']['transforms'][0]['kind'], len(d['model_sha256']), len(d['curve']), len(d['final']['objectives']))" 2>&1)
expect_eq "sidecar: recipe with defaults, hash, curve, finals" "6 pad 64 4 5" "$side"
# the kernels that ran: the AVX-512 products on float16 weights where the CPU has them (nn_simd.h)
f=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
want=avx512-f16
for u in avx512f avx512dq avx512bw avx512vl; do case $f in *" $u "*) ;; *) want=portable+sgemm ;; esac; done
kern=$(/usr/bin/python3 -c "import json; print(json.load(open('$T/tiny/render.json'))['kernels'])" 2>&1)
expect_eq "sidecar: kernels" "$want" "$kern"
size=$(/usr/bin/python3 -c "from PIL import Image; print(Image.open('$T/tiny/image_1.png').size)" 2>&1)
expect_eq "image size" "(32, 32)" "$size"

# The diversity measurement (RECIPE.md): identical images (sd 0, no steps: both uniform grey)
# have Gram matrices of cosine similarity 1, so the final diversity value is -1; ten steps
# pushing two random starts apart leave it above -1, and the channel's values are per image.
recipe same '"layer": "'$EARLY'", "size": 32, "steps": 0, "batch": 2, "param": {"sd": 0},
  "objectives": [{"kind": "channel", "channel": 3}, {"kind": "diversity", "weight": 5}]'
expect_ok "diversity of copies" "$R" "$T/same.json" "$T/same"
sed 's/"steps": 0/"steps": 10/; s/"sd": 0/"sd": 0.5/' "$T/same.json" >"$T/apart.json"
expect_ok "diversity apart" "$R" "$T/apart.json" "$T/apart"
div=$(/usr/bin/python3 -c "
import json
a, b = (json.load(open('$T/' + n + '/render.json'))['final']['objectives'] for n in ('same', 'apart'))
print('%.6f %d %d %s %s' % (a[1]['values'][0], len(a[0]['values']), len(a[1]['values']),
      a[0]['values'][0] == a[0]['values'][1], -1 < b[1]['values'][0] < -0.0))" 2>&1)
expect_eq "diversity value: minus the Gram cosine (copies -1, apart above)" "-1.000000 2 1 True True" "$div"

# Same recipe, same bytes; a different seed, different bytes.
expect_ok "rerun" "$R" "$T/tiny.json" "$T/tiny2"
if cmp -s "$T/tiny/image_0.png" "$T/tiny2/image_0.png" && cmp -s "$T/tiny/step0006_1.png" "$T/tiny2/step0006_1.png"; then
  t_ok "deterministic bytes"; else t_fail "deterministic bytes"; fi
sed 's/"size": 32/"seed": 2, "size": 32/' "$T/tiny.json" >"$T/seed2.json"
expect_ok "other seed" "$R" "$T/seed2.json" "$T/seed2"
if cmp -s "$T/tiny/image_0.png" "$T/seed2/image_0.png"; then t_fail "seed changes the image"; else t_ok "seed changes the image"; fi

# The thread count changed between steps (the build's thread file): the same bytes as on 2.
recipe budget '"size": 48, "steps": 40, "batch": 2, "seed": 3, "layer": "'$EARLY'", "objectives": [{"kind": "channel", "channel": 5}]'
expect_ok "render on 2 threads" "$R" "$T/budget.json" "$T/budget2"
# a file that says 2 to a render started on 1: read before the first step, so always seen
echo 2 >"$T/threads2"
run_cmd env FV_THREADS=1 FV_THREADS_FILE="$T/threads2" "$R" --progress "$T/budget.json" "$T/budget4"
case $T_ERR in *"fv-render: 2 threads (FV_THREADS_FILE)"*) t_ok "the thread file's count is applied" ;;
  *) t_fail "the thread file's count is applied" "$(printf '%s' "$T_ERR" | head -3)" ;; esac
# a file that keeps changing (2, 3, 1 every 20 ms): whichever counts the steps see, the same bytes
with_budget "$T/threads" "$R" --progress "$T/budget.json" "$T/budget3"
expect_eq "render with a changing thread file: exit 0" 0 "$T_RC"
if cmp -s "$T/budget2/image_0.png" "$T/budget3/image_0.png" && cmp -s "$T/budget2/image_1.png" "$T/budget3/image_1.png"; then
  t_ok "same bytes while the thread count changes"; else t_fail "same bytes while the thread count changes"; fi

# A batch cut into one plan per thread (fv_render.c, net_ctx): 1, 2 (images 0-1 and 2) and 3 parts
# give the same bytes, with a diversity term that compares the images of different parts.
recipe parts '"size": 32, "steps": 8, "batch": 3, "seed": 5, "layer": "'$EARLY'",
  "objectives": [{"kind": "channel", "channel": 4}, {"kind": "diversity", "weight": 2}]'
for t in 1 2 3; do expect_ok "batch of 3 on $t threads" env FV_THREADS=$t "$R" "$T/parts.json" "$T/parts$t"; done
same=1
for t in 2 3; do for b in 0 1 2; do cmp -s "$T/parts1/image_$b.png" "$T/parts$t/image_$b.png" || same=0; done
  cmp -s <(grep -v wall_seconds "$T/parts1/render.json" | grep -v '"threads"') \
    <(grep -v wall_seconds "$T/parts$t/render.json" | grep -v '"threads"') || same=0; done
expect_eq "one plan per thread: the same images and sidecar on 1, 2 and 3 threads" 1 "$same"

# --progress prints step lines; quiet otherwise.
run_cmd "$R" --progress "$T/tiny.json" "$T/tiny3"
case $T_ERR in *"step 6/6"*) t_ok "progress lines" ;; *) t_fail "progress lines" "$T_ERR" ;; esac
run_cmd "$R" "$T/tiny.json" "$T/tiny4"
expect_eq "quiet without --progress" "" "$T_ERR"

# A class objective (the head needs an input size multiple of 32: the renderer adds a grey canvas).
recipe class '"size": 32, "steps": 2, "objectives": [{"kind": "class", "class": "dog"}]'
expect_ok "class objective by name" "$R" "$T/class.json" "$T/class"
finish
