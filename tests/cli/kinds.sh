# The figure kinds that render with fv-render (grid, measured, overview, progress, interpolation…), through the
# driver on a small fixture project (tests/fixtures/kinds) with --quick: published files, their
# HTML, a cached rebuild, and manifest errors with their lines.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=lines
P=$TMPDIR_T/kinds
cp -r "$ROOT/tests/fixtures/kinds" "$P"
mkdir -p "$P/templates" && cp "$ROOT/tests/fixtures/site/templates/page.html" "$P/templates/" # the site fixture's template
build() { (cd "$P" && lua5.4 "$ROOT/build.lua" --quick "$@"); }
run_cmd build
expect_eq "render kinds build" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | tail -5
H=$P/build/article/index.html
for f in g p i c m x w o y z; do
  sheet=$(ls "$P/build/article/sprites/$f/" 2>/dev/null | grep -E '^sheet-0\.(webp|png|jpg)$')
  [ -n "$sheet" ] && t_ok "figure $f packed into a sheet ($sheet)" || t_fail "figure $f packed into a sheet"
done
# Frames: g 1+2, p 3, i 3 (view and strip share them), c 5, n 5 (c's images on the map), w 2+2,
# o 1+2 (g's and w's images). x: 1 optimized + 4 top + 5 spectrum (a top image may also be a
# spectrum point: counted once each use); y: 2 units x 4 checkpoints; z: 3 pairs of 2
expect_eq "every rendered image is a sprite frame" 54 "$(grep -o 'data-frame="' "$H" | wc -l | tr -d ' ')"
# Interactions (templates/assets/article.js): every frame but the strip copies and the map zooms,
# with its label; the examples toggle starts hidden (no script shows both); the map is an fv-pan.
expect_eq "frames that zoom (g 3, p 3, i 3, c 5, x 10, w 4, o 3, y 8, z 6)" 45 "$(grep -o 'class="sprite[a-z ]*fv-zoom' "$H" | wc -l | tr -d ' ')"
expect_eq "each zoom frame has a label" 45 "$(grep -o 'data-label="[^"]' "$H" | wc -l | tr -d ' ')"
grep -q 'data-label="step 4"' "$H" && grep -q 'data-label="channel 7"' "$H" && grep -q 'data-label="unit 3, optimized"' "$H" \
  && t_ok "zoom labels name step, channel and unit" || t_fail "zoom labels name step, channel and unit"
grep -q '<div class="ex-toggle" role="group" aria-label="Show for each unit" hidden><button type="button" data-show="both" aria-pressed="true">' "$H" \
  && grep -q '<div class="examples" data-show="both">' "$H" && t_ok "the examples toggle is a hidden button group" || t_fail "the examples toggle is a hidden button group"
grep -q '<div class="tsne-map fv-pan" aria-label="Map of test images: A small t-SNE map."><div class="fv-pan-layer">' "$H" \
  && t_ok "the t-SNE map is a pan container" || t_fail "the t-SNE map is a pan container"
case $T_ERR in *"sprites: g sheet-0."*"ssim 0.97"*) t_ok "the sprite table reports format and SSIM" ;; *) t_fail "the sprite table reports format and SSIM" "$T_ERR" ;; esac
grep -q 'type="range" min="0" max="2"' "$H" && t_ok "interpolation has its slider" || t_fail "interpolation has its slider"
grep -q '<polyline points=' "$H" && t_ok "progress draws its curve" || t_fail "progress draws its curve"
grep -q 'alt="channel 2, diverse (2 of 2)"' "$H" && t_ok "batch cells name each image" || t_fail "batch cells name each image"
[ "$(grep -c '<tr><td>' "$H")" -eq 19 ] && t_ok "the recipes appendix lists every render" || t_fail "the recipes appendix lists every render" "$(grep -c '<tr><td>' "$H") rows"
grep -q 'sha256 of its JSON and weights <code>d82f7efb' "$H" && t_ok "the appendix names the model's sha256" || t_fail "the appendix names the model's sha256"
grep -q 'Model <sup>2</sup> fmnist-cnn: the Fashion-MNIST classifier' "$H" && grep -q 'x.lua</code> — 1 render, model <sup>2</sup>' "$H" \
  && t_ok "the appendix names the classifier as the model of the examples' render" \
  || t_fail "the appendix names the classifier as the model of the examples' render" "$(grep -o '<summary>.*</summary>' "$H")"
grep -q '<ul class="legend">' "$H" && grep -q 'KL divergence' "$H" && t_ok "the t-SNE map has its legend and KL" || t_fail "the t-SNE map has its legend and KL"
grep -q 'class="fv-pan channelmap"' "$H" && [ "$(grep -o 'grid-row: [0-9]*; grid-column: [0-9]*' "$H" | sort -u | wc -l)" -eq 5 ] \
  && t_ok "the channel map places its 5 channels in 5 distinct cells" || t_fail "the channel map places its 5 channels in 5 distinct cells"
# n shows exactly c's images: its 5 frames are windows onto c's sheet (10 in all), not a copy.
[ ! -e "$P/build/article/sprites/n" ] && [ "$(grep -o 'src="sprites/c/sheet-0' "$H" | wc -l)" -eq 10 ] \
  && ! grep -q 'sprites:n' <<<"$T_ERR" && t_ok "the channel map reuses the channels figure's sheet" \
  || t_fail "the channel map reuses the channels figure's sheet" "$(ls "$P/build/article/sprites")"
case $T_ERR in *"render:n:"*) t_fail "the channel map renders nothing of its own" "$T_ERR" ;; *) t_ok "the channel map renders nothing of its own" ;; esac
# measured: each label ends with the Gram similarity and mean activation of its render.json.
want=$(/usr/bin/python3 - "$P/.cache/objects" <<'PY'
import glob, json, sys
out = {}
for f in glob.glob(sys.argv[1] + '/*/render.json'):
    d = json.load(open(f))
    o = d['recipe']['objectives']
    if len(o) == 2 and o[1]['kind'] == 'diversity' and d['recipe']['batch'] == 2 and o[0].get('channel') == 2:
        ch, div = d['final']['objectives'][0]['values'], d['final']['objectives'][1]['values'][0]
        out[o[1]['weight']] = 'Gram similarity %.2f, activation %.2f' % (-div, sum(ch) / len(ch))
print('weight 0.01: %s|weight 100: %s' % (out.get(0.01), out.get(100)))
PY
)
got=$(grep -o '<span class="label">weight [^<]*</span>' "$H" | sed 's/<[^>]*>//g' | paste -sd'|')
expect_eq "measured labels: Gram similarity and activation from render.json" "$want" "$got"
grep -q '<div class="overview" style="--cols: 2">' "$H" && grep -q '<div class="title">Diversity</div><div class="pics" style="--n: 2">' "$H" \
  && grep -q '<p class="text">A batch kept apart.</p>' "$H" && t_ok "overview: a column per idea, title, pictures, text" \
  || t_fail "overview: a column per idea, title, pictures, text"
case $T_ERR in *"render:o:"*) t_fail "the overview renders nothing of its own" "$T_ERR" ;; *) t_ok "the overview renders nothing of its own" ;; esac
# Evolution: a column per checkpoint of the shared training, its accuracy under it; the match:
# one pair per group, each with its correlation, and the histogram of every matched pair.
grep -q '<th scope="col">step 0</th><th scope="col">step 5</th><th scope="col">step 20</th><th scope="col">epoch 1</th></tr>' "$H" \
  && grep -q '<tfoot><tr><th scope="row">test accuracy</th><td>[0-9.]* %</td>' "$H" \
  && grep -q 'data-label="unit 7, step 20 (test accuracy [0-9.]* %)"' "$H" \
  && t_ok "evolution: checkpoints as columns, accuracies under them" || t_fail "evolution: checkpoints as columns, accuracies under them"
expect_eq "match: one pair per group" 3 "$(grep -c '<div class="match-pair">' "$H")"
grep -q '<svg class="match-hist" viewBox="0 0 300 110" role="img" aria-label="Histogram of the 256 matched correlations: from -\?[0-9.]* to [0-9.]*, median' "$H" \
  && [ "$(grep -o '<circle class="mark-' "$H" | wc -l)" -eq 3 ] \
  && t_ok "match: the histogram of the 256 matched units, the shown pairs marked" || t_fail "match: the histogram of the 256 matched units, the shown pairs marked"
run_cmd build
expect_eq "rebuild with nothing changed is silent" "" "$T_ERR"
# --only a job that depends on others (the map's grid: embedding, profile, renders) takes them too.
run_cmd build --only channelmap:n:grid
expect_eq "--only a job with dependencies succeeds" "0 " "$T_RC $T_ERR"

bad() { # NAME EXPECTED SED_SCRIPT FILE
  cp "$P/figures/$4" "$TMPDIR_T/saved"
  sed -i "$3" "$P/figures/$4"
  expect_fail "$1" "$2" build
  cp "$TMPDIR_T/saved" "$P/figures/$4"
}
# FV_GEMM pins the training's products (part of its key): a bad value is one line; sgemm trains
# on OpenBLAS whatever the CPU has, recorded in the model's metadata.
gemm_build() { (cd "$P" && FV_GEMM=$1 lua5.4 "$ROOT/build.lua" --quick --only x); }
expect_fail "FV_GEMM other than auto, amx, bf16 or sgemm" "FV_GEMM='x': expected auto, amx, bf16 or sgemm" gemm_build x
n0=$(ls "$P"/.cache/objects/*/train.jsonl 2>/dev/null | wc -l)
expect_ok "FV_GEMM=sgemm builds the classifier's figure" gemm_build sgemm
expect_eq "FV_GEMM=sgemm: a training of its own (the pin is in the key)" $((n0 + 1)) \
  "$(ls "$P"/.cache/objects/*/train.jsonl 2>/dev/null | wc -l)"
newest=$(ls -t "$P"/.cache/objects/*/train.jsonl | head -n 1)
grep -q '"gemm": *"openblas-sgemm"' "$newest" && t_ok "FV_GEMM=sgemm: the training ran on sgemm" \
  || t_fail "FV_GEMM=sgemm: the training ran on sgemm" "$(tail -n 1 "$newest")"
bad "unknown recipe field" "figures/g.lua:6: field 'recipe.stpes': unknown recipe field" 's/steps = 8/stpes = 8/' g.lua
bad "mistyped recipe field" "figures/g.lua:6: field 'recipe.size': expected a number (got string)" 's/size = 64/size = "64"/' g.lua
bad "cell without objectives" "field 'cells[1].recipe': no objectives" 's/recipe = { objectives = { { kind = "channel", channel = 1 } } }/recipe = {}/' g.lua
bad "interpolation frames out of range" "figures/i.lua:4: field 'frames': expected a whole number from 3 to 9" 's/frames = 3/frames = 30/' i.lua
bad "interpolation pair without b" "field 'pairs[1].b': missing (expected a number)" 's/b = 2, //' i.lua
bad "progress with one snapshot" "field 'recipe.snapshots': expected at least two steps" 's/snapshots = { 0, 4, 8 }/snapshots = { 8 }/' p.lua
bad "channels count out of range" "figures/c.lua:5: field 'count': expected a whole number from 1 to 4096" 's/count = 5/count = 0/' c.lua
bad "examples unit not a number" "figures/x.lua:1: field 'units[1]': expected a channel number" 's/units = { 3 }/units = { "3" }/' x.lua
bad "channel map of a figure that is not a channels figure" "figures/n.lua: field 'channels': no figure 'g' of kind channels (expected the id of a channels figure)" 's/channels = "c"/channels = "g"/' n.lua
bad "channel map grid too small" "figures/n.lua: field 'channels': 5 channels do not fit a 2 × 2 grid (expected rows × cols ≥ 5)" 's/rows = 3/rows = 2/' n.lua
bad "channel map perplexity too large" "figures/n.lua: field 'perplexity': 2 is too large for 5 channels (expected at most 1.33)" 's/perplexity = 1/perplexity = 2/' n.lua
bad "evolution without units" "figures/y.lua:1: field 'units': expected 1 to 8 channel numbers" 's/units = { 3, 7 }/units = {}/' y.lua
bad "match against seed 1" "figures/z.lua:1: field 'seed': expected a whole number from 2 to 2147483647" 's/show = 1,/show = 1, seed = 1,/' z.lua
bad "match shows too many" "figures/z.lua:1: field 'show': expected a whole number from 1 to 5" 's/show = 1,/show = 9,/' z.lua
bad "t-SNE grid too large" "figures/m.lua:1: field 'rows': expected a whole number from 4 to 100" 's/rows = 8/rows = 800/' m.lua
bad "channel out of range (from fv-render)" "objectives[0].channel: 9999 out of range" 's/channel = 4/channel = 9999/' p.lua
bad "measured cell without a diversity objective" "figures/w.lua:11: field 'cells[2].recipe.objectives': 0 objectives of kind diversity (expected exactly one: the label reports its measurement)" 's/{ kind = "diversity", weight = 100 }/{ kind = "l1" }/' w.lua
bad "overview of a figure that is not a grid" "figures/o.lua: field 'columns[1].figure': no figure 'p' of kind grid or measured (expected the id of one)" 's/figure = "g"/figure = "p"/' o.lua
bad "overview cell out of range" "figures/o.lua: field 'columns[2].cell': 5, but figure 'w' has 2 cells (expected 1 to 2)" 's/cell = 2/cell = 5/' o.lua
finish
