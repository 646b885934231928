# The CI workflows (.github/workflows/*.yml): valid against the GitHub Actions schema
# (@action-validator/cli, npm), every action pinned to a full commit SHA; a workflow with a
# mistake is refused by the same check (so that the check can fail).
. "$ROOT/tests/cli/lib.sh"
V=$ROOT/node_modules/.bin/action-validator
for w in "$ROOT"/.github/workflows/*.yml; do
  n=${w#"$ROOT"/}
  run_cmd "$V" "$w"
  if [ "$T_RC" -eq 0 ]; then t_ok "$n is valid"; else t_fail "$n is valid" "$(printf '%s' "$T_OUT$T_ERR" | head -12)"; fi
  unpinned=$(grep -nE '^\s*(-\s*)?uses:' "$w" | grep -vE 'uses:\s*[^@[:space:]]+@[0-9a-f]{40}(\s|$)' || true)
  expect_eq "$n: every action pinned to a full commit SHA" "" "$unpinned"
done
sed 's/runs-on:/runs_on:/' "$ROOT/.github/workflows/publish.yml" >"$TMPDIR_T/bad.yml"
run_cmd "$V" "$TMPDIR_T/bad.yml"
[ "$T_RC" -ne 0 ] && t_ok "a misspelt key is refused by the schema check" || t_fail "a misspelt key is refused by the schema check"
finish
