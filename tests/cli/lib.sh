# Helpers for the black-box CLI tests (sourced by tests/cli/*.sh).
# Each test script runs with: ROOT (project root), BIN (our tools), TMPDIR_T (a scratch dir of
# its own, removed afterwards), FV_MODEL_DIR (the verified mbv3-coco model).
# Every check prints "ok   name" or "FAIL name" plus detail, or "skip name: why" when it cannot
# run here (it is then neither passed nor failed); `finish` prints "N skipped" when some were,
# then the tally line "N passed, N failed", and sets the exit status.
set -u
T_PASS=0
T_FAIL=0
T_SKIP=0

t_ok() { T_PASS=$((T_PASS + 1)); printf 'ok   %s\n' "$1"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL %s\n' "$1"; shift; [ $# -gt 0 ] && printf '     %s\n' "$@"; return 0; }

# run_cmd: runs "$@" with stdout/stderr captured into T_OUT / T_ERR and status into T_RC.
run_cmd() {
  local o e
  o=$(mktemp "$TMPDIR_T/out.XXXXXX"); e=$(mktemp "$TMPDIR_T/err.XXXXXX")
  if [ -n "${LEAKCHECK:-}" ] && [ -f "$1" ] && [ -x "$1" ]; then
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions="$ROOT/tests/valgrind.supp" "$@" >"$o" 2>"$e"
  else
    "$@" >"$o" 2>"$e"
  fi
  T_RC=$?
  T_OUT=$(cat "$o"); T_ERR=$(cat "$e")
  rm -f "$o" "$e"
}

# expect_ok NAME CMD...: the command must exit 0.
expect_ok() {
  local name=$1; shift
  run_cmd "$@"
  if [ "$T_RC" -eq 0 ]; then t_ok "$name"; else t_fail "$name" "exit $T_RC: $*" "$(printf '%s' "$T_ERR" | tail -5)"; fi
}

# expect_fail NAME EXPECTED_STDERR_LINE CMD...: non-zero exit and stderr containing the text.
expect_fail() {
  local name=$1 want=$2; shift 2
  run_cmd "$@"
  if [ "$T_RC" -eq 0 ]; then
    t_fail "$name" "expected failure, got exit 0: $*"
  elif [ "$T_RC" -ge 128 ] || [ "$T_RC" -eq 99 ]; then
    t_fail "$name" "crashed or leaked (exit $T_RC)" "$(printf '%s' "$T_ERR" | tail -5)"
  elif ! printf '%s' "$T_ERR" | grep -qF -- "$want"; then
    t_fail "$name" "stderr lacks: $want" "got: $(printf '%s' "$T_ERR" | head -3)"
  else
    t_ok "$name"
  fi
}

# expect_eq NAME WANT GOT
expect_eq() {
  if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "want: $2" "got:  $3"; fi
}

# with_budget FILE CMD...: runs CMD as the build's runner does a job that follows a thread file
# (FV_THREADS_FILE=FILE, budget.h), FV_THREADS=1 at its start, while the file's count changes
# (2, 3, 1, ... by rename, every 20 ms); the file says 2 before CMD starts, so CMD sees a change
# at its first step whatever the machine's speed. Sets T_RC/T_OUT/T_ERR as run_cmd.
with_budget() {
  local f=$1 flip; shift
  echo 2 >"$f"
  ( while :; do for n in 2 3 1; do echo $n >"$f.new"; mv "$f.new" "$f"; sleep 0.02; done; done ) &
  flip=$!
  run_cmd env FV_THREADS=1 FV_THREADS_FILE="$f" "$@"
  kill "$flip"; wait "$flip" 2>/dev/null
}

# t_skip NAME WHY
t_skip() { T_SKIP=$((T_SKIP + 1)); printf 'skip %s: %s\n' "$1" "$2"; }

finish() {
  [ "$T_SKIP" -gt 0 ] && printf '%d skipped\n' "$T_SKIP"
  printf '%d passed, %d failed\n' "$T_PASS" "$T_FAIL"
  [ "$T_FAIL" -eq 0 ]
}
