# Black-box tests of build.lua on a small fixture project (tests/fixtures/site): cache hits and
# misses, --force, --only, a damaged cache entry, interrupted builds, and every kind of bad input
# (one line naming file and line, non-zero exit, build/article/ left as it was).
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=lines

P=$TMPDIR_T/site
fresh() {
  rm -rf "$P"
  cp -r "$ROOT/tests/fixtures/site" "$P"
  rm -rf "$P/.cache" "$P/build"
}
build() { (cd "$P" && lua5.4 "$ROOT/build.lua" "$@"); }
site_sum() { (cd "$P/build/article" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }

# --- a first build, then nothing to do
fresh
run_cmd build
expect_eq "first build succeeds" 0 "$T_RC"
case $T_ERR in *"article: 3 jobs (0 cached, 3 run)"*) t_ok "first build runs every job" ;;
  *) t_fail "first build runs every job" "$T_ERR" ;; esac
expect_eq "golden HTML" "$(sha256sum <"$ROOT/tests/fixtures/page/golden.html")" "$(sha256sum <"$P/build/article/index.html")"
for f in figures/pair/1.png figures/pair/2.svg assets/style.css assets/katex/katex.min.css; do
  [ -s "$P/build/article/$f" ] && t_ok "published $f" || t_fail "published $f"
done
tidy_errors=$(tidy -e -q "$P/build/article/index.html" 2>&1 | grep -c 'Error:')
expect_eq "tidy -e reports no errors" 0 "$tidy_errors"
# No reference may leave the site: every src/href is relative, an anchor, or http(s) for links.
bad_refs=$(grep -oE '(src|href)="[^"]*"' "$P/build/article/index.html" | grep -vE '="(#|https?://|mailto:|assets/|figures/)' || true)
expect_eq "no absolute or outside references" "" "$bad_refs"

ino1=$(stat -c %i "$P/build/article/index.html")
sum1=$(site_sum)
run_cmd build
expect_eq "no-op build succeeds" 0 "$T_RC"
expect_eq "no-op build is silent" "" "$T_ERR"
expect_eq "no-op build leaves the site untouched" "$ino1" "$(stat -c %i "$P/build/article/index.html")"

# --- a one-word edit runs only the page job
sed -i 's/Same title, distinct id./Same title, different id./' "$P/content/article.md"
run_cmd build
case $T_ERR in *"(2 cached, 1 run)"*) t_ok "an edit re-runs only the page" ;; *) t_fail "an edit re-runs only the page" "$T_ERR" ;; esac
grep -q 'different id' "$P/build/article/index.html" && t_ok "the edit is published" || t_fail "the edit is published"

# --- --force, --only, usage
run_cmd build --force
case $T_ERR in *"(0 cached, 3 run)"*) t_ok "--force re-runs everything" ;; *) t_fail "--force re-runs everything" "$T_ERR" ;; esac
rm -rf "$P/.cache/objects"
run_cmd build --only images:pair:2
case $T_ERR in *"images:pair:2"*) t_ok "--only runs the named job" ;; *) t_fail "--only runs the named job" "$T_ERR" ;; esac
case $T_ERR in *"images:pair:1"*) t_fail "--only runs nothing else" "$T_ERR" ;; *) t_ok "--only runs nothing else" ;; esac
expect_fail "unknown option is a usage error" "build: unknown option --frobnicate" build --frobnicate
expect_eq "usage exit code" 2 "$T_RC"

# --- a damaged cache entry is detected and rebuilt, not served
fresh
build >/dev/null 2>&1
sum_clean=$(site_sum)
entry=$(grep -l "id=\"page\"" "$P"/.cache/objects/*/.meta | head -1)
printf 'damaged' >>"$(dirname "$entry")/index.html"
run_cmd build --verbose
case $T_ERR in *"damaged"*) t_ok "damaged cache entry detected" ;; *) t_fail "damaged cache entry detected" "$T_ERR" ;; esac
expect_eq "damaged entry rebuilt, site intact" "$sum_clean" "$(site_sum)"

# --- interrupted builds: kill at random moments, rerun, compare with a clean build
fresh
for i in $(seq 1 24); do cp "$P/content/images/gradient.png" "$P/content/images/g$i.png"; done
{
  echo 'return { kind = "images", caption = "Many.", images = {'
  for i in $(seq 1 24); do echo "{ src = \"images/g$i.png\", alt = \"g$i\" },"; done
  echo '} }'
} >"$P/figures/many.lua"
cp -r "$P" "$TMPDIR_T/clean"
(cd "$TMPDIR_T/clean" && lua5.4 "$ROOT/build.lua" >/dev/null 2>&1)
clean_sum=$( (cd "$TMPDIR_T/clean/build/article" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64) )
ok=1
for k in 1 2 3 4 5; do
  (cd "$P" && exec lua5.4 "$ROOT/build.lua" --jobs 2 >/dev/null 2>&1) &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if ! build >/dev/null 2>"$TMPDIR_T/err"; then ok=0; cat "$TMPDIR_T/err"; fi
  [ "$(site_sum)" = "$clean_sum" ] || ok=0
  rm -rf "$P/.cache/objects" "$P/build"
done
[ $ok = 1 ] && t_ok "killed builds resume to the same site" || t_fail "killed builds resume to the same site"
ls "$P/.cache/tmp" 2>/dev/null | grep -q . && t_fail "no temporary files left" || t_ok "no temporary files left"

# --- the model: a damaged local copy is replaced by a verified one; a tampered package is refused
M=$TMPDIR_T/model
cp -r "$ROOT/.cache/models/mbv3-coco" "$M"
printf 'X' | dd of="$M/centernet.json" bs=1 seek=100 conv=notrunc 2>/dev/null
run_cmd env FV_MODEL_DIR="$M" lua5.4 "$ROOT/build.lua" --fetch-model
expect_eq "damaged model copy is fetched again" "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05" \
  "$(sha256sum <"$M/centernet.json" | cut -c1-64)"
mkdir -p "$TMPDIR_T/fakenpm/package/models"
printf '{"tampered": true}' >"$TMPDIR_T/fakenpm/package/models/centernet.json"
cp "$M/centernet.bin" "$TMPDIR_T/fakenpm/package/models/"
(cd "$TMPDIR_T/fakenpm" && tar czf ../evil.tgz package)
# A stand-in npm whose `npm pack` hands over the tampered tarball.
printf '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --pack-destination ] && cp "%s" "$2/vladmandic-human-3.3.6.tgz"; shift; done\n' "$TMPDIR_T/evil.tgz" >"$TMPDIR_T/fakenpm/npm"
chmod +x "$TMPDIR_T/fakenpm/npm"
rm -rf "$M"
expect_fail "tampered model package is refused" "model: package/models/centernet.json in @vladmandic/human@3.3.6 has sha256" \
  env PATH="$TMPDIR_T/fakenpm:$PATH" FV_MODEL_DIR="$M" lua5.4 "$ROOT/build.lua" --fetch-model
[ -e "$M/centernet.json" ] && t_fail "nothing installed from a tampered package" || t_ok "nothing installed from a tampered package"

# --- a tool rebuilt while a build runs: its jobs are refused, not cached under the old key
fresh
for i in $(seq 1 40); do cp "$P/content/images/gradient.png" "$P/content/images/g$i.png"; done
{ echo 'return { kind = "images", caption = "Many.", images = {'
  for i in $(seq 1 40); do echo "{ src = \"images/g$i.png\", alt = \"g$i\" },"; done
  echo '} }'; } >"$P/figures/many.lua"
mkdir -p "$TMPDIR_T/bin"
cp "$BIN/fv-asset" "$BIN/fv-page" "$TMPDIR_T/bin/"
# A copy of build.lua beside a tools folder of our own, so that the real tools stay untouched.
mkdir -p "$TMPDIR_T/root/build/release"
ln -s "$ROOT/pipeline" "$ROOT/node_modules" "$TMPDIR_T/root/"
cp "$ROOT/build.lua" "$TMPDIR_T/root/"
ln -s "$TMPDIR_T/bin" "$TMPDIR_T/root/build/release/bin"
ln -s "$ROOT/build/release/lib" "$TMPDIR_T/root/build/release/lib"
mkdir -p "$TMPDIR_T/root/.cache" && ln -s "$ROOT/.cache/models" "$TMPDIR_T/root/.cache/models"
(cd "$P" && exec lua5.4 "$TMPDIR_T/root/build.lua" --jobs 1 >"$TMPDIR_T/rebuilt.out" 2>&1) &
pid=$!
sleep 0.3
# "Rebuilt" as a linker does it: a new file renamed into place (same program, other bytes).
cp "$TMPDIR_T/bin/fv-asset" "$TMPDIR_T/fv-asset.new" && printf '\n' >>"$TMPDIR_T/fv-asset.new"
mv "$TMPDIR_T/fv-asset.new" "$TMPDIR_T/bin/fv-asset"
wait "$pid"; rc=$?
if [ "$rc" -ne 0 ] && grep -q "changed during the build" "$TMPDIR_T/rebuilt.out"; then
  t_ok "a tool changed mid-build stops the build"
else
  t_fail "a tool changed mid-build stops the build" "exit $rc: $(tail -2 "$TMPDIR_T/rebuilt.out")"
fi

# --- bad input: one line with file and line, non-zero exit, previous site kept
bad() { # NAME EXPECTED_LINE SETUP_COMMAND
  local name=$1 want=$2 setup=$3
  fresh
  build >/dev/null 2>&1
  local before
  before=$(site_sum)
  (cd "$P" && eval "$setup")
  expect_fail "$name" "$want" build
  local lines
  lines=$(printf '%s\n' "$T_ERR" | grep -c .)
  [ "$lines" -le 2 ] || t_fail "$name: at most the error and its context" "$T_ERR"
  expect_eq "$name: site kept" "$before" "$(site_sum)"
}
bad "unknown citation key" "content/article.md:16: unknown citation key 'nope' (expected a key of content/references.bib)" \
  "sed -i 's/\[@olah2017\] and two/[@nope] and two/' content/article.md"
bad "unknown figure id" "content/article.md:22: unknown figure 'nope' (expected one of: pair)" \
  "sed -i 's/{{figure pair}}/{{figure nope}}/' content/article.md"
bad "figure placed twice" "content/article.md:30: figure 'pair' placed twice (first at line 22)" \
  "sed -i 's/^Same title, distinct id./{{figure pair}}/' content/article.md"
bad "unknown figure reference" "content/article.md:16: {{ref nope}}: unknown figure" \
  "sed -i 's/{{ref pair}}/{{ref nope}}/' content/article.md"
bad "undefined footnote" "content/article.md:16: footnote 'one' is not defined" \
  "sed -i 's/^\[\^one\]:/[^two]:/' content/article.md"
bad "invalid UTF-8" "content/article.md:26: invalid UTF-8 at byte 5 of the line (expected UTF-8 text)" \
  "sed -i 's/^Raw <abbr/Raw \xff<abbr/' content/article.md"
bad "broken front matter" "content/article.md:4: front matter: date '2024-13-01' is not a real day (expected YYYY-MM-DD)" \
  "sed -i 's/^date: 2024-02-29/date: 2024-13-01/' content/article.md"
bad "malformed BibTeX" "content/references.bib:8: entry 'olah2017': expected ',' or '}' (missing comma?)" \
  "sed -i 's/year = 2017,/year = 2017/' content/references.bib"
bad "bad math" "content/article.md:15: math: KaTeX parse error" \
  "sed -i 's/\\\$a_1 + b^\*_2\\\$/\$\\\\frac{a\$/' content/article.md"
bad "manifest missing field" "figures/pair.lua:1: field 'caption': missing (expected a string)" \
  "sed -i '/caption =/d' figures/pair.lua"
bad "manifest mistyped field" "figures/pair.lua:5: field 'columns': expected a number (got string)" \
  "sed -i 's/columns = 2/columns = \"2\"/' figures/pair.lua"
bad "manifest unknown field" "figures/pair.lua:5: field 'colums': unknown field" \
  "sed -i 's/columns = 2/colums = 2/' figures/pair.lua"
bad "manifest syntax error" "figures/pair.lua:4:" \
  "sed -i 's/width = \"wide\",/width = \"wide\" !/' figures/pair.lua"
bad "manifest unknown kind" "figures/pair.lua:2: field 'kind': unknown kind 'imgs' (expected one of: channels, examples, grid, images, interpolation, progress, recipes, tsne)" \
  "sed -i 's/kind = \"images\"/kind = \"imgs\"/' figures/pair.lua"
bad "missing image" "figures/pair.lua:7: field 'images[1].src': file 'content/images/nothere.png' does not exist" \
  "sed -i 's#images/gradient.png#images/nothere.png#' figures/pair.lua"
bad "path leaving the project" "figures/pair.lua:7: field 'images[1].src': path leaves the project" \
  "sed -i 's#images/gradient.png#../../../../etc/x.png#' figures/pair.lua"
bad "path leaving content" "figures/pair.lua:7: field 'images[1].src': path leaves content/" \
  "sed -i 's#images/gradient.png#../figures/x.png#' figures/pair.lua"
bad "absolute path" "figures/pair.lua:7: field 'images[1].src': absolute paths are not allowed" \
  "sed -i 's#images/gradient.png#/etc/x.png#' figures/pair.lua"
bad "symlink out of the project" "figures/pair.lua:7: field 'images[1].src': path leads outside the project through a symbolic link" \
  "ln -s /usr/share content/images/out && sed -i 's#images/gradient.png#images/out/x.png#' figures/pair.lua"
bad "corrupt PNG" "content/images/gradient.png: corrupt PNG" \
  "printf 'garbage' | dd of=content/images/gradient.png bs=1 seek=40 conv=notrunc 2>/dev/null"
bad "truncated PNG" "content/images/gradient.png: corrupt PNG (file is truncated)" \
  "truncate -s 60 content/images/gradient.png"
bad "bad figure id" "figures/bad id.lua: figure id 'bad id'" \
  "cp figures/pair.lua 'figures/bad id.lua'"
finish
