# The manifest sandbox under signals: while a manifest runs (here one that never returns), Ctrl-C
# (SIGINT) or SIGTERM stops the build within a second, with exit 130, a line naming the manifest,
# the build lock released, no sandbox process left and nothing half-written. (The limits
# themselves: tests/lua/test_manifest.lua and tests/bad/13*.)
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=quiet
P=$TMPDIR_T/site
cp -r "$ROOT/tests/fixtures/site" "$P"
rm -rf "$P/.cache" "$P/build"
build() { (cd "$P" && lua5.4 "$ROOT/build.lua" "$@"); }
if ! build >/dev/null 2>&1; then t_fail "the fixture site builds"; finish; exit; fi
sums() { find "$P/build" -type f -exec sha256sum {} + | sort; }
before=$(sums)
printf 'while true do end\n' >"$P/figures/loop.lua"

# INT+: Ctrl-C at a terminal, which reaches the sandbox's process too (it may die first).
for how in INT TERM INT+; do
  sig=${how%+}
  build 2>"$TMPDIR_T/err" &
  pid=$!
  # The sandbox's child is a child of lua5.4, itself a child of the subshell: wait for it.
  child=; until=$(( ${EPOCHREALTIME/./} + 5000000 ))
  while [ "${EPOCHREALTIME/./}" -lt "$until" ]; do
    # (bash may run lua5.4 in the subshell's own process)
    lua=$(pgrep -P "$pid" lua5.4 | head -1)
    [ "$(ps -o comm= -p "$pid")" = lua5.4 ] && lua=$pid
    [ -n "$lua" ] && child=$(pgrep -P "$lua" | head -1)
    [ -n "$child" ] && break
    sleep 0.05
  done
  if [ -z "$child" ]; then
    t_fail "$how: the manifest runs in a child process"
    [ -n "$lua" ] && kill -KILL "$lua"
    wait "$pid"; continue
  fi
  t0=${EPOCHREALTIME/./}
  if [ "$how" = INT+ ]; then kill -s INT "$child" "$lua"; else kill -s "$sig" "$lua"; fi
  # A build that ignores the signal is failed after 5 s, not waited for.
  until=$(( ${EPOCHREALTIME/./} + 5000000 ))
  while kill -0 "$lua" 2>/dev/null && [ "${EPOCHREALTIME/./}" -lt "$until" ]; do sleep 0.05; done
  kill -0 "$lua" 2>/dev/null && kill -KILL "$lua" "$child"
  wait "$pid"; rc=$?
  ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
  expect_eq "$how: the build exits 130" 130 "$rc"
  [ "$ms" -lt 1000 ] && t_ok "$how: stopped within a second" || t_fail "$how: stopped within a second" "took $ms ms"
  expect_eq "$how: the line names the manifest" "figures/loop.lua: interrupted" "$(head -1 "$TMPDIR_T/err")"
  kill -0 "$child" 2>/dev/null && t_fail "$how: the sandbox process is gone" "pid $child still runs" || t_ok "$how: the sandbox process is gone"
  flock -n "$P/.cache/lock" true && t_ok "$how: the lock is released" || t_fail "$how: the lock is released"
  left=$(cd "$P" && find . -name '*.tmp.*' -not -path './.cache/objects/*'; ls -A .cache/tmp 2>/dev/null)
  expect_eq "$how: no temporary file is left" "" "$left"
  expect_eq "$how: build/article/ is unchanged" "$before" "$(sums)"
done
finish
