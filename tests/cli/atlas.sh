# The atlas (`build.lua --atlas`): the quick atlas of four channels of three layers (two of the
# detector, one of the classifier) in a copy of the project: it builds and publishes build/atlas/,
# a second run does nothing, --dry-run counts and runs nothing, --layers limits it and a bad
# --layers is one line (exit 2); the site passes the offline check and the browser test
# (tests/browser/atlas.js). Screenshots go to build/screenshots/.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=lines
P=$TMPDIR_T/atlas
mkdir -p "$P"
cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$ROOT/atlas" "$P/"
LAYERS=expanded_conv_5,extern1,fc1
atlas() { (cd "$P" && lua5.4 "$ROOT/build.lua" --atlas --quick "$@"); }
objects() { ls "$P/.cache/objects" 2>/dev/null | wc -l | tr -d ' '; }

# A dry run before anything is built: every job to run, an estimate, nothing run or published.
run_cmd atlas --layers "$LAYERS" --dry-run
expect_eq "--dry-run exits 0" 0 "$T_RC"
case $T_OUT in *"3 layers, 12 channels: 18 jobs to run"*"plus 16 sprite jobs after the renders"*"CPU-hours"*) t_ok "--dry-run prints the jobs and the CPU-hours" ;;
  *) t_fail "--dry-run prints the jobs and the CPU-hours" "$T_OUT" "$T_ERR" ;; esac
case $T_OUT in *"in the cache took"*) t_fail "--dry-run of an empty cache: no cached jobs' time" "$T_OUT" ;; *) t_ok "--dry-run of an empty cache: no cached jobs' time" ;; esac
expect_eq "--dry-run runs nothing" "0 no" "$(objects) $([ -e "$P/build/atlas" ] && echo yes || echo no)"

run_cmd atlas --layers "$LAYERS"
expect_eq "the quick atlas builds" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | tail -5
A=$P/build/atlas
case $T_ERR in *"atlas: build/atlas/ published: "*" files, "*) t_ok "the build prints the site's file count and size" ;;
  *) t_fail "the build prints the site's file count and size" "$(printf '%s' "$T_ERR" | tail -3)" ;; esac
# The heaviest layer page's first load: its HTML, the stylesheet, the script and its thumbnails.
first_load() { echo $(( $(stat -c %s "$A/$1/index.html") + $(stat -c %s "$A/assets/atlas.css") + $(stat -c %s "$A/assets/atlas.js") \
  + $(cat "$A/$1"/thumbs/* | wc -c) )); }
want=$(for l in detector/expanded_conv_5 detector/extern1 classifier/fc1; do echo "$(first_load $l) $l"; done | sort -n | tail -1 \
  | awk '{ printf "atlas: heaviest layer page %s/index.html: %.0f KB on first load", $2, $1 / 1024 }')
expect_eq "the build prints the heaviest layer page's first load" "$want" \
  "$(printf '%s\n' "$T_ERR" | grep '^atlas: heaviest layer page' | sed 's/ (HTML.*//')"
expect_eq "a page per channel (3 layers x 4)" 12 "$(find "$A" -name '[0-9]*.html' | wc -l | tr -d ' ')"
expect_eq "a page per layer, the landing page and jump.html" \
  "classifier/fc1/index.html detector/expanded_conv_5/index.html detector/extern1/index.html index.html jump.html" \
  "$(cd "$A" && find . -name index.html -o -name jump.html | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "each channel's images in one sheet of its own" 12 "$(find "$A" -path '*/c/*/sheet-0.*' | wc -l | tr -d ' ')"
grep -q 'neuron: channel 2 at the centre' "$A/detector/extern1/2.html" && grep -q 'diversity (Gram cosine)' "$A/detector/extern1/2.html" \
  && grep -q 'd82f7efbe219' "$A/detector/extern1/2.html" && t_ok "a channel page shows each image's recipe and the model's hash" \
  || t_fail "a channel page shows each image's recipe and the model's hash"
grep -q 'The test images that excite it most' "$A/classifier/fc1/1.html" && grep -q 'activation spectrum' "$A/classifier/fc1/1.html" \
  && t_ok "a classifier unit shows its top test images and spectrum" || t_fail "a classifier unit shows its top test images and spectrum"
grep -q 'class="map"' "$A/detector/extern1/index.html" && [ "$(grep -o 'grid-row:[0-9]*;grid-column:[0-9]*' "$A/detector/extern1/index.html" | sort -u | wc -l)" -eq 4 ] \
  && t_ok "a layer page maps its 4 channels to 4 cells" || t_fail "a layer page maps its 4 channels to 4 cells"
run_cmd node "$ROOT/pipeline/js/site-check.js" "$A"
expect_eq "the atlas passes the offline site check" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_OUT" "$T_ERR" | head -5

n=$(objects)
run_cmd atlas --layers "$LAYERS"
expect_eq "a second run runs nothing and publishes nothing new" "0 $n" "$T_RC $(objects)"
case $T_ERR in *"run)"*|*published*) t_fail "a second run says the atlas is unchanged" "$T_ERR" ;;
  *unchanged*) t_ok "a second run says the atlas is unchanged" ;; *) t_fail "a second run says the atlas is unchanged" "$T_ERR" ;; esac
run_cmd atlas --layers "$LAYERS" --dry-run
case $T_OUT in *"0 jobs to run (none) of 18, plus 0 sprite jobs not in the cache"*) t_ok "--dry-run after the build: nothing to run" ;;
  *) t_fail "--dry-run after the build: nothing to run" "$T_OUT" ;; esac
case $T_OUT in *"the 34 jobs in the cache took "*" CPU-hours as they recorded"*) t_ok "--dry-run after the build: what the cached jobs took" ;;
  *) t_fail "--dry-run after the build: what the cached jobs took" "$T_OUT" ;; esac

# --layers: a pattern, and one line for what selects nothing or is not for the atlas.
run_cmd atlas --layers 'expanded_conv_1[34]' --dry-run
case $T_OUT in *"2 layers, 8 channels: 12 jobs to run"*) t_ok "--layers takes a pattern" ;; *) t_fail "--layers takes a pattern" "$T_OUT" "$T_ERR" ;; esac
expect_eq "a dry run leaves the cache as it was" "$n" "$(objects)"
run_cmd atlas --layers nope
expect_eq "--layers that selects nothing: exit 2" 2 "$T_RC"
expect_eq "--layers that selects nothing: one line" \
  "atlas: --layers 'nope' selects no layer of atlas/atlas.lua (expected names such as expanded_conv_5, extern1, fc1, or patterns)" "$T_ERR"
# A classifier layer's tv and sd (atlas/atlas.lua): one line naming the field for a bad value, or
# for either on a detector layer.
cp "$P/atlas/atlas.lua" "$TMPDIR_T/atlas.lua.good"
sed -i 's/node = "conv1", tv = 0.01, sd = 1/node = "conv1", tv = 0.01, sd = 0/' "$P/atlas/atlas.lua"
run_cmd atlas --layers fc1 --dry-run
case "$T_RC $T_ERR" in "1 atlas/atlas.lua:"[0-9]*": field 'classifier.layers[1].sd': expected a number above 0 (the spread of the layer's starting images)")
  t_ok "sd = 0 on a classifier layer: exit 1 and one line" ;; *) t_fail "sd = 0 on a classifier layer: exit 1 and one line" "$T_RC $T_ERR" ;; esac
cp "$TMPDIR_T/atlas.lua.good" "$P/atlas/atlas.lua"
sed -i 's/transforms = "robust" }$/transforms = "robust", tv = 1 }/' "$P/atlas/atlas.lua"
run_cmd atlas --layers fc1 --dry-run
case "$T_RC $T_ERR" in "1 atlas/atlas.lua:"[0-9]*": field 'detector.layers[15].tv': is for the classifier's layers (expected none here)")
  t_ok "tv on a detector layer: exit 1 and one line" ;; *) t_fail "tv on a detector layer: exit 1 and one line" "$T_RC $T_ERR" ;; esac
cp "$TMPDIR_T/atlas.lua.good" "$P/atlas/atlas.lua"
expect_fail "--layers without --atlas is a usage error" "build: --layers and --dry-run need --atlas" sh -c "cd '$P' && lua5.4 '$ROOT/build.lua' --layers fc1"
expect_eq "... exit 2" 2 "$T_RC"

# The article's door to it (figure kind atlaslink): a link and the atlas's files under atlas/
# when it is built, else how to build it and no link.
door() { (cd "$P" && lua5.4 -e "package.path='$ROOT/?.lua;'..package.path; package.cpath='$ROOT/build/$VARIANT/lib/?.so;'..package.cpath
  local k = require 'pipeline.kinds.atlaslink'; k.dir = '$1'; local h, f = k.html({}); print(#f .. ' ' .. h)"); }
case $(door build/atlas) in "$(find "$A" -type f | wc -l | tr -d ' ') "*'<a href="atlas/index.html">Open the atlas</a>: 12 channels of 3 layers'*) t_ok "the article links the built atlas and carries its files" ;;
  *) t_fail "the article links the built atlas and carries its files" "$(door build/atlas | cut -c1-200)" ;; esac
case $(door build/none) in "0 "*"<code>make atlas</code> builds it"*) case $(door build/none) in *href*) t_fail "without the atlas the article says how to build it, with no link" ;; *) t_ok "without the atlas the article says how to build it, with no link" ;; esac ;;
  *) t_fail "without the atlas the article says how to build it, with no link" "$(door build/none)" ;; esac

out=$(node "$ROOT/tests/browser/atlas.js" "$A" "$ROOT/build/screenshots" 2>&1)
printf '%s\n' "$out" | grep -E '^(ok|FAIL|skip|     )'
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$')
if [ -z "$line" ]; then
  t_fail "the atlas's browser test ran" "$(printf '%s' "$out" | tail -5)"
else
  T_PASS=$((T_PASS + ${line%% passed*}))
  f=${line##*, }; T_FAIL=$((T_FAIL + ${f%% failed}))
fi
T_SKIP=$((T_SKIP + $(printf '%s\n' "$out" | grep -c '^skip ')))
finish
