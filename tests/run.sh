#!/usr/bin/env bash
# Runs every test: the Check suites ($OUT/bin/check_*), then the black-box scripts tests/cli/*.sh.
# Usage: tests/run.sh OUT_DIR   (build/release or build/asan)
# Prints each suite's own summary (and its "skip ..." lines: tests that cannot run on this machine),
# then "N skipped" when some were and, last, one line "N passed, N failed" over everything.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-build/release}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
export ROOT BIN=$OUT/bin
# build.lua takes its tools from build/$VARIANT: the same ones the tests were built as.
export VARIANT=$(basename "$OUT")
export FV_MODEL_DIR=${FV_MODEL_DIR:-$ROOT/.cache/models/mbv3-coco}
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10}
[ -n "${CI:-}" ] && export FV_PROGRESS=lines
pass=0; fail=0; skip_all=0; failed_suites=""
# Under valgrind, libjpeg-turbo's SIMD decoder reads its own uninitialised padding (a known false
# positive that memcheck reports as a jump on uninitialised values): use its plain C code there.
[ -n "${LEAKCHECK:-}" ] && export JSIMD_FORCENONE=1
# Valgrind does not know AMX or AVX512-BF16 instructions: the engine's products take OpenBLAS there.
[ -n "${LEAKCHECK:-}" ] && export FV_NO_AMX=1 FV_NO_BF16=1

# Some tests need the verified model: fetch it once through the driver's model stage.
if ! lua5.4 "$ROOT/build.lua" --fetch-model >/dev/null; then
  echo "tests: cannot fetch the model (see the message above)"; exit 1
fi

for t in "$BIN"/check_*; do
  [ -x "$t" ] || continue
  log=$(mktemp)
  if [ -n "${LEAKCHECK:-}" ]; then
    CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full --suppressions="$ROOT/tests/valgrind.supp" "$t" >"$log" 2>&1; rc=$?
  else
    "$t" >"$log" 2>&1; rc=$?
  fi
  summary=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -1)
  checks=$(printf '%s' "$summary" | sed -nE 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/p')
  set -- $checks
  n=${1:-0}; f=$(( ${2:-0} + ${3:-0} ))
  # Check counts a skipped test (CHECK_SKIP, tests/unit/check_run.h) as passed: check_run says
  # "N skipped" after Check's summary, and those N are neither passed nor failed here.
  skipped=$(sed -nE 's/^([0-9]+) skipped$/\1/p' "$log" | tail -1)
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  pass=$((pass + n - f - ${skipped:-0})); fail=$((fail + f))
  skip_all=$((skip_all + ${skipped:-0}))
  printf '%-28s %s%s\n' "$(basename "$t")" "${summary:-exit $rc}" "${skipped:+, $skipped skipped}"
  [ -n "$skipped" ] && grep -E '^skip ' "$log"
  if [ "$f" -ne 0 ]; then failed_suites="$failed_suites $(basename "$t")"; grep -vE '^(Running suite|[0-9]+%: Checks)' "$log" | head -20; fi
  rm -f "$log"
done

for s in "$ROOT"/tests/cli/*.sh; do
  [ "$(basename "$s")" = lib.sh ] && continue
  TMPDIR_T=$(mktemp -d); export TMPDIR_T
  log=$(mktemp)
  (cd "$ROOT" && bash "$s") >"$log" 2>&1; rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  skipped=$(sed -nE 's/^([0-9]+) skipped$/\1/p' "$log" | tail -1)
  p=$(printf '%s' "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p'); f=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) failed$/\1/p')
  p=${p:-0}; f=${f:-0}
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  pass=$((pass + p)); fail=$((fail + f))
  skip_all=$((skip_all + ${skipped:-0}))
  printf '%-28s %s%s\n' "$(basename "$s")" "${line:-exit $rc}" "${skipped:+, $skipped skipped}"
  [ -n "$skipped" ] && grep -E '^skip ' "$log"
  if [ "$f" -ne 0 ]; then failed_suites="$failed_suites $(basename "$s")"; grep -E '^(FAIL|     )' "$log" | head -30; [ -z "$line" ] && tail -20 "$log"; fi
  rm -rf "$log" "$TMPDIR_T"
done

[ -n "$failed_suites" ] && echo "failing:$failed_suites"
[ "$skip_all" -gt 0 ] && echo "$skip_all skipped (see the skip lines above)"
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
