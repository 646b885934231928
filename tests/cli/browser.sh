# The browser test: builds the article (its real content, figures and templates, in a copy of
# the project with --quick renders) and opens it in headless Chromium (tests/browser/check.js).
# Screenshots are kept in build/screenshots/ for people to look at.
. "$ROOT/tests/cli/lib.sh"
P=$TMPDIR_T/article
mkdir -p "$P"
cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$P/"
run_cmd sh -c "cd '$P' && lua5.4 '$ROOT/build.lua' --quick"
expect_eq "the test article builds" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR"
out=$(node "$ROOT/tests/browser/check.js" "$P/build/article" "$ROOT/build/screenshots" 2>&1)
printf '%s\n' "$out" | grep -E '^(ok|FAIL|INFO|     )'
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$')
if [ -z "$line" ]; then
  t_fail "browser test ran" "$(printf '%s' "$out" | tail -5)"
else
  T_PASS=$((T_PASS + ${line%% passed*}))
  f=${line##*, }; T_FAIL=$((T_FAIL + ${f%% failed}))
fi
finish
