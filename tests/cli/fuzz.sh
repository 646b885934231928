# The libFuzzer targets (tests/fuzz/) replayed once over their committed seed corpus and every
# regression found so far: each input must run without a crash, a leak or a sanitizer report.
# Builds the targets with clang first (build/fuzz/, about half a minute on 2 cores).
. "$ROOT/tests/cli/lib.sh"
cd "$ROOT" || exit 1
# The targets carry ASan's own leak checker; valgrind (make leakcheck) cannot run them.
unset LEAKCHECK
targets=$(sed -n 's/^FUZZ_TARGETS := //p' tests/fuzz/fuzz.mk)

if ! command -v clang >/dev/null 2>&1; then
  t_fail "clang is installed (pipeline/deps/debian.txt lists it)"
  finish; exit
fi
expect_ok "fuzz targets build" make --no-print-directory -j2 fuzz-build
for t in $targets; do
  dirs="tests/fuzz/corpus/$t"
  [ -d "tests/fuzz/regressions/$t" ] && dirs="$dirs tests/fuzz/regressions/$t"
  # -runs=0: run the given inputs once, mutate nothing; artifacts go to the scratch dir.
  expect_ok "fuzz_$t replays its corpus and regressions" \
    build/fuzz/fuzz_$t -runs=0 -artifact_prefix="$TMPDIR_T/" $dirs
done
finish
