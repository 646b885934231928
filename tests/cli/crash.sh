# Crash safety and determinism of a small render through the whole pipeline (render, sprites, page):
#  - two clean builds in different directories publish byte-identical build/article/ trees
#    (sha256 of every file);
#  - the build is killed (SIGKILL) at 20 random moments; every rerun succeeds, and the published
#    site is then byte-identical to the clean build's, with no temporary file left behind.
# Uses two figures of the kinds fixture (a grid with a batch, a progress strip) with --quick.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=lines

make_project() { # DIR
  rm -rf "$1"
  mkdir -p "$1/content" "$1/figures" "$1/templates"
  cp "$ROOT/tests/fixtures/kinds/figures/g.lua" "$ROOT/tests/fixtures/kinds/figures/p.lua" "$1/figures/"
  cp "$ROOT/tests/fixtures/site/templates/page.html" "$1/templates/"
  cat >"$1/content/article.md" <<'MD'
---
title: Crash safety
date: 2026-01-01
authors:
  - name: Test
---

## Two renders

{{figure g}}

{{figure p}}
MD
}
build_in() { (cd "$1" && lua5.4 "$ROOT/build.lua" --quick); }
tree_sum() { (cd "$1/build/article" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

A=$TMPDIR_T/a B=$TMPDIR_T/b P=$TMPDIR_T/p
make_project "$A"; make_project "$B"
t0=$(date +%s%N)
build_in "$A" >/dev/null 2>"$TMPDIR_T/err" || t_fail "clean build" "$(tail -3 "$TMPDIR_T/err")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
build_in "$B" >/dev/null 2>&1
tree_sum "$A" >"$TMPDIR_T/a.sum"; tree_sum "$B" >"$TMPDIR_T/b.sum"
if [ -s "$TMPDIR_T/a.sum" ] && cmp -s "$TMPDIR_T/a.sum" "$TMPDIR_T/b.sum"; then
  t_ok "two clean builds are byte-identical ($(wc -l <"$TMPDIR_T/a.sum") files)"
else
  t_fail "two clean builds are byte-identical" "$(diff "$TMPDIR_T/a.sum" "$TMPDIR_T/b.sum" | head -5)"
fi

# 20 kills, at moments spread over the length of a clean build (random within each twentieth,
# so that early set-up, renders, packing and publishing all get hit).
make_project "$P"
fails=0 kills=0
for k in $(seq 0 19); do
  rm -rf "$P/.cache" "$P/build"
  at=$(( ms * k / 20 + RANDOM % (ms / 20 + 1) ))
  # In its own session, so that the kill takes the driver and its running tools together, as a
  # crash or power cut would.
  (cd "$P" && exec setsid lua5.4 "$ROOT/build.lua" --quick >/dev/null 2>&1) &
  pid=$!
  sleep "$(printf '%d.%03d' $((at / 1000)) $((at % 1000)))"
  kill -9 -- "-$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
  if ! build_in "$P" >/dev/null 2>"$TMPDIR_T/err"; then
    fails=$((fails + 1)); t_fail "rerun after a kill at ${at} ms succeeds" "$(tail -3 "$TMPDIR_T/err")"; continue
  fi
  tree_sum "$P" >"$TMPDIR_T/p.sum"
  cmp -s "$TMPDIR_T/a.sum" "$TMPDIR_T/p.sum" || {
    fails=$((fails + 1)); t_fail "site after a kill at ${at} ms equals the clean build" "$(diff "$TMPDIR_T/a.sum" "$TMPDIR_T/p.sum" | head -5)"; }
  if ls -A "$P/.cache/tmp" 2>/dev/null | grep -q .; then
    fails=$((fails + 1)); t_fail "no temporary file left after a kill at ${at} ms" "$(ls -A "$P/.cache/tmp")"
  fi
  leftovers=$(ls -d "$P"/build/article.new.* 2>/dev/null | head -3)
  [ -z "$leftovers" ] || { fails=$((fails + 1)); t_fail "no half-published site after a kill at ${at} ms" "$leftovers"; }
done
expect_eq "20 kills: every rerun succeeds with the clean build's bytes" "0 failures" "$fails failures"
[ "$kills" -ge 10 ] && t_ok "most kills hit a running build ($kills of 20)" || t_fail "most kills hit a running build" "$kills of 20"
finish
