# The Lua unit suites: every tests/lua/test_*.lua, one lua5.4 each, with the driver's modules
# (pipeline.driver.*) and fvsys (build/$VARIANT/lib) on the path. A suite prints lib.sh's lines
# through tests/lua/lib.lua; a suite that stops before its tally line (an error outside a check)
# counts as one failure.
. "$ROOT/tests/cli/lib.sh"
for s in "$ROOT"/tests/lua/test_*.lua; do
  [ -f "$s" ] || continue
  name=$(basename "$s" .lua)
  log=$TMPDIR_T/$name.log
  (cd "$TMPDIR_T" && LUA_PATH="$ROOT/?.lua;$ROOT/tests/lua/?.lua;;" \
     LUA_CPATH="$ROOT/build/${VARIANT:-release}/lib/?.so;;" lua5.4 "$s") >"$log" 2>&1
  rc=$?
  grep -E '^(ok   |FAIL |     )' "$log" | sed "s|^ok   |ok   $name: |; s|^FAIL |FAIL $name: |"
  p=$(grep -c '^ok   ' "$log"); f=$(grep -c '^FAIL ' "$log")
  T_PASS=$((T_PASS + p)); T_FAIL=$((T_FAIL + f))
  if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$log" || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    t_fail "$name ran to its end (exit $rc)" "$(tail -5 "$log")"
  fi
done
finish
