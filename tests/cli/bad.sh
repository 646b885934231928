# The bad-input catalogue (tests/bad/<NN>-<slug>/, listed in tests/bad/README.md): every case
# must fail with exactly its one-line error, a non-zero exit (no crash), and leave nothing
# behind. A case directory holds:
#   cmd       one shell line, run in the case's working copy: `build [options]` (build.lua on a
#             copy of the built fixture site tests/fixtures/site) or a tool call ($BIN/fv-...)
#   expected  the exact first line of stderr (paths relative to the working copy); the text
#             @TINY_SHA256@ stands for the model hash of SHARED/tiny (its weights, trained here,
#             differ in the last bits between CPUs)
#   setup.sh  optional: prepares the working copy (run inside it, after the case's other files
#             are copied in); env ROOT, BIN, FIX (tests/fixtures), SHARED (generated inputs:
#             SHARED/tiny is a small fmnist-cnn model made by fv-train)
#   any other file: an input, copied into the working copy (overlaying the site's files)
# Driver cases also check that build/article/ keeps the same bytes (the previous complete
# version) and that no temporary file is left; tool cases, that no file appeared.
# BAD_ONLY=<glob> runs only the matching cases; BAD_PRINT=1 prints each case's actual line.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=quiet FIX=$ROOT/tests/fixtures SHARED=$TMPDIR_T/shared
CASES=$ROOT/tests/bad
BASE=$TMPDIR_T/base
W=$TMPDIR_T/w

# One fixture site, built once; each driver case works on a copy of it.
cp -r "$FIX/site" "$BASE"
rm -rf "$BASE/.cache" "$BASE/build"
if ! (cd "$BASE" && lua5.4 "$ROOT/build.lua" >/dev/null 2>&1); then
  t_fail "the fixture site builds"; finish; exit
fi
# A small model for the recipe, nn and fmnist cases (one epoch on 64 images: about a second).
mkdir -p "$SHARED"
if ! "$BIN/fv-train" --epochs 1 --train-limit 64 --test-limit 64 --arch 2,2,2,2,4 --log-every 0 "$SHARED/tiny" >/dev/null 2>&1; then
  t_fail "fv-train makes the small model"; finish; exit
fi
rm -f "$SHARED/tiny/train.jsonl"
# The model hash fv-render reports: sha256 of the graph JSON followed by the weights.
TINY_SHA256=$(cat "$SHARED/tiny/fmnist-cnn.json" "$SHARED/tiny/fmnist-cnn.bin" | sha256sum | cut -d' ' -f1)

# Few processes per case: the runner must stay fast on a loaded machine.
sums() { find "$1" -type f -exec sha256sum {} + | sort; }
listing() { find "$1" | sort; }

n_cases=0
for c in "$CASES"/[0-9]*/; do
  c=${c%/}
  name=${c##*/}
  case $name in ${BAD_ONLY:-*}) ;; *) continue ;; esac
  n_cases=$((n_cases + 1))
  t0=$EPOCHREALTIME
  cmd=$(<"$c/cmd")
  IFS= read -r want <"$c/expected"
  want=${want//@TINY_SHA256@/$TINY_SHA256}
  rm -rf "$W"
  driver=0
  case $cmd in build|build\ *) driver=1 ;; esac
  if [ $driver = 1 ]; then cp -a "$BASE" "$W"; else mkdir -p "$W"; fi
  # The case's inputs (every file but cmd, expected and setup.sh), then its setup.
  cp -a "$c/." "$W/" && rm -f "$W/cmd" "$W/expected" "$W/setup.sh"
  if [ -f "$c/setup.sh" ] && ! (cd "$W" && bash -e "$c/setup.sh" >"$TMPDIR_T/setup.log" 2>&1); then
    t_fail "$name: setup" "$(tail -3 "$TMPDIR_T/setup.log")"; continue
  fi
  if [ $driver = 1 ]; then before=$(sums "$W/build"); else before=$(listing "$W"); fi
  (cd "$W" && bash -c 'build() { lua5.4 "$ROOT/build.lua" "$@"; }; eval "$1"' _ "$cmd") >/dev/null 2>"$TMPDIR_T/err"
  rc=$?
  got=; IFS= read -r got <"$TMPDIR_T/err"
  got=${got//"$W/"/}; got=${got//"$ROOT/"/ROOT/}
  [ -n "${BAD_PRINT:-}" ] && printf '%s\t%.0f ms\t%s\n' "$name" "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))" "$got"
  why=()
  if [ $rc -eq 0 ]; then why+=("exit 0")
  elif [ $rc -ge 100 ]; then why+=("exit $rc (crash?)"); fi
  [ "$got" = "$want" ] || why+=("want: $want" "got:  $got")
  if [ $driver = 1 ]; then
    [ "$(sums "$W/build")" = "$before" ] || why+=("build/ changed")
    left=$(cd "$W" && find . -name '*.tmp.*' -not -path './.cache/objects/*'; ls -A .cache/tmp 2>/dev/null)
    [ -z "$left" ] || why+=("left behind: $left")
  else
    after=$(listing "$W")
    [ "$after" = "$before" ] || why+=("files appeared: $(diff <(echo "$before") <(echo "$after") | grep '^>' | head -3 | tr '\n' ' ')")
  fi
  if [ ${#why[@]} -eq 0 ]; then t_ok "$name"; else t_fail "$name" "${why[@]}"; fi
done
# The PNG kinds that must be accepted (the catalogue holds the refused ones): 8-bit RGB and
# RGBA, grey, 16-bit grey, grey + alpha, palette. fv-asset checks article images; fv-sprite
# packs rendered frames.
if [ -z "${BAD_ONLY:-}" ]; then
  A=$TMPDIR_T/accepted
  mkdir -p "$A"
  for p in rgb alpha grey grey16 grey_alpha palette; do
    expect_ok "fv-asset accepts $p.png" "$BIN/fv-asset" "$FIX/sprite/$p.png" "$A" "$p.png"
    printf '%s\t%s\n' "$p" "$FIX/sprite/$p.png" >>"$A/frames.tsv"
  done
  expect_ok "fv-sprite packs every accepted PNG kind" "$BIN/fv-sprite" pack "$A/frames.tsv" "$A/sheets"
fi
[ "$n_cases" -ge 45 ] || [ -n "${BAD_ONLY:-}" ] && t_ok "the catalogue holds $n_cases cases" || t_fail "the catalogue holds at least 45 cases" "$n_cases"
finish
