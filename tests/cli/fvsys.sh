#!/usr/bin/env bash
# Tests of fvsys.so (pipeline/luaext/fvsys.c), the driver's C module for Lua, loaded into lua5.4
# as the driver loads it: each exported function on its ordinary use and on its failures (nil plus
# one message naming the path), and misuse (a wrong argument type raises a Lua error).
. "$ROOT/tests/cli/lib.sh"
T=$TMPDIR_T
# fvsys.so is built into $OUT/lib, beside $OUT/bin, for every variant (never with sanitizers).
LIB=$(cd "$BIN/../lib" 2>/dev/null && pwd)
if [ ! -f "$LIB/fvsys.so" ]; then
  t_fail "fvsys.so is built (make tools)" "not found in $BIN/../lib"
  finish; exit
fi

# lua_run CODE: runs CODE in lua5.4 with the module as `sys`, T (the scratch dir) as `T`, and
# show(...), which prints its arguments with tostring, one space apart. Output in T_OUT / T_ERR.
PRELUDE="package.cpath = '$LIB/?.so'; sys = require 'fvsys'; T = os.getenv('T')
function show(...) local t = table.pack(...); for i = 1, t.n do t[i] = tostring(t[i]) end; print(table.concat(t, ' ')) end
function slurp(p) local f = assert(io.open(p, 'rb')); local s = f:read('a'); f:close(); return s end"
lua_run() { run_cmd env T="$T" lua5.4 -e "$PRELUDE" -e "$1"; }
# lua_eq NAME WANT CODE: CODE must print WANT (and exit 0).
lua_eq() {
  lua_run "$3"
  if [ "$T_RC" -ne 0 ]; then t_fail "$1" "exit $T_RC" "$(printf '%s' "$T_ERR" | tail -3)"; else expect_eq "$1" "$2" "$T_OUT"; fi
}
# lua_error NAME TEXT CODE: CODE must raise a Lua error whose message contains TEXT.
lua_error() { expect_fail "$1" "$2" env T="$T" lua5.4 -e "$PRELUDE" -e "$3"; }

printf 'abc' >"$T/abc"
mkdir "$T/d"
printf 'x' >"$T/d/file"

# --- spawn, wait, kill ---
lua_eq "spawn: stdout, stderr to files; wait: the exit status" "true 3 out|err|" '
  local pid = sys.spawn({"sh", "-c", "echo out; echo err >&2; exit 3"}, {stdout = T .. "/o", stderr = T .. "/e"})
  local p, code = sys.wait(true, pid)
  show(p == pid, code, ((slurp(T .. "/o") .. slurp(T .. "/e")):gsub("\n", "|")))'
# The third value: the child's CPU seconds (user + system), which the runner records as a cost.
lua_eq "wait: the child's CPU seconds" "true true" '
  local pid = sys.spawn({"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"})
  local _, _, cpu = sys.wait(true, pid)
  show(math.type(cpu) == "float", cpu > 0 and cpu < 60)'
lua_eq "spawn: stdin from a file" "abc" '
  local pid = sys.spawn({"cat"}, {stdin = T .. "/abc", stdout = T .. "/cat"})
  sys.wait(true, pid)
  show(slurp(T .. "/cat"))'
# Without opts.stdin the child reads /dev/null, not the driver's input.
lua_eq "spawn: stdin is /dev/null by default" "/dev/null" '
  local pid = sys.spawn({"readlink", "/proc/self/fd/0"}, {stdout = T .. "/fd0"})
  sys.wait(true, pid)
  show((slurp(T .. "/fd0"):gsub("\n", "")))'
lua_eq "spawn: opts.env added to the environment" "a b" '
  local pid = sys.spawn({"sh", "-c", "echo \"$FVSYS_X\""}, {env = {FVSYS_X = "a b"}, stdout = T .. "/env"})
  sys.wait(true, pid)
  show((slurp(T .. "/env"):gsub("\n", "")))'
run_cmd env FVSYS_Y=outer FVSYS_Z=kept T="$T" lua5.4 -e "$PRELUDE" -e '
  local pid = sys.spawn({"sh", "-c", "echo \"$FVSYS_Y|$FVSYS_Z\""}, {env = {FVSYS_Y = "inner"}, stdout = T .. "/env2"})
  sys.wait(true, pid)
  show((slurp(T .. "/env2"):gsub("\n", "")))'
expect_eq "spawn: an opts.env name wins over the same name in ours" "inner|kept" "$T_OUT"
# One entry per name: which of two a program reads is its own choice (getenv the first, sh the last).
run_cmd env FVSYS_Y=outer T="$T" lua5.4 -e "$PRELUDE" -e '
  local pid = sys.spawn({"env"}, {env = {FVSYS_Y = "inner"}, stdout = T .. "/env3"})
  sys.wait(true, pid)
  local n = 0
  for _ in slurp(T .. "/env3"):gmatch("FVSYS_Y=") do n = n + 1 end
  show(n)'
expect_eq "spawn: opts.env replaces a name of ours, not adds a second" "1" "$T_OUT"
lua_eq "spawn: a program not on PATH" "nil fvsys-no-such-program: cannot start (No such file or directory)" '
  show(sys.spawn({"fvsys-no-such-program"}))'
lua_error "spawn: an empty argv is misuse" "spawn: empty argv" 'sys.spawn({})'
lua_error "spawn: argv must be a table" "bad argument #1 to 'spawn' (table expected, got string)" 'sys.spawn("ls")'
lua_error "spawn: argv entries must be strings" "bad argument" 'sys.spawn({"ls", {}})'
lua_eq "kill: SIGTERM by default; wait: -signal" "true -15" '
  local pid = sys.spawn({"sleep", "30"})
  local ok = sys.kill(pid)
  local _, code = sys.wait(true, pid)
  show(ok, code)'
lua_eq "kill: a given signal" "true -9" '
  local pid = sys.spawn({"sleep", "30"})
  local ok = sys.kill(pid, 9)
  local _, code = sys.wait(true, pid)
  show(ok, code)'
lua_eq "kill: no such process" "false" 'show(sys.kill(99999999, 0))'
lua_error "kill: the pid must be a number" "bad argument #1 to 'kill'" 'sys.kill("one")'
lua_eq "wait: not blocking, nothing finished yet; then any child" "nil none true 0" '
  local pid = sys.spawn({"sleep", "0.3"})
  local a, b = sys.wait(false)
  local p, code = sys.wait(true)
  show(a, b, p == pid, code)'
lua_eq "wait: no child at all" "nil none" 'show(sys.wait(true))'
# The driver runs in the background of a shell, where SIGINT may be ignored: its children must
# still die of it (spawn resets SIGINT, SIGTERM and SIGPIPE to their defaults).
run_cmd sh -c "trap '' INT; exec env T='$T' lua5.4 -e \"\$1\" -e '
  local pid = sys.spawn({\"sleep\", \"30\"})
  sys.kill(pid, 2)
  show((select(2, sys.wait(true, pid))))'" sh "$PRELUDE"
expect_eq "spawn: children get default signal dispositions" "-2" "$T_OUT"

# --- signals ---
lua_eq "catch_signals: SIGTERM and SIGHUP are noted, not fatal" "0 15 1" '
  local before = sys.interrupted()
  sys.catch_signals()
  sys.kill(sys.getpid(), 15)
  local term = sys.interrupted()
  sys.kill(sys.getpid(), 1)
  show(before, term, sys.interrupted())'
# SIGCHLD is caught (bit 17 of SigCgt): a child's exit ends the driver's poll sleep at once.
lua_eq "catch_signals: SIGCHLD caught, so that a sleep ends when a child exits" "true" '
  local function caught()
    local mask = slurp("/proc/self/status"):match("SigCgt:%s*(%x+)")
    return (tonumber(mask, 16) >> 16) & 1 == 1
  end
  local before = caught()
  sys.catch_signals()
  show(not before and caught())'
# A signal during a blocking wait ends the wait, so the driver can stop its jobs.
lua_eq "wait: a caught signal interrupts it" "nil interrupted 2 true" '
  sys.catch_signals()
  local sleeper = sys.spawn({"sleep", "30"})
  local killer = sys.spawn({"sh", "-c", "sleep 0.2; kill -INT " .. sys.getpid()})
  local a, b = sys.wait(true, sleeper)
  local sig = sys.interrupted()
  sys.kill(sleeper, 9)
  sys.wait(true, sleeper)
  sys.wait(true, killer)
  show(a, b, sig, true)'

# --- sha256, sha256_file ---
lua_eq "sha256: FIPS 180-4 vectors" \
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  'show(sys.sha256("abc"), sys.sha256(""))'
lua_eq "sha256: bytes past a NUL count" "$(printf 'a\0b' | sha256sum | cut -d' ' -f1)" 'show(sys.sha256("a\0b"))'
lua_error "sha256: the data must be a string" "bad argument #1 to 'sha256'" 'sys.sha256({})'
head -c 100000 /dev/urandom >"$T/rand"
lua_eq "sha256_file: a file of several chunks" "$(sha256sum "$T/rand" | cut -d' ' -f1)" 'show(sys.sha256_file(T .. "/rand"))'
lua_eq "sha256_file: a missing file" "nil $T/none: cannot read (No such file or directory)" 'show(sys.sha256_file(T .. "/none"))'
lua_eq "sha256_file: a directory" "nil $T/d: cannot read (Is a directory)" 'show(sys.sha256_file(T .. "/d"))'

# --- stat, lstat, touch ---
chmod 640 "$T/abc"
ln -s abc "$T/link"
lua_eq "stat: type, size, mode, inode, mtime of a file" \
  "file 3 416 $(stat -c %i "$T/abc") $(stat -c %.9Y "$T/abc" | tr -d .)" '
  local s = sys.stat(T .. "/abc")
  show(s.type, s.size, s.mode, s.ino, s.mtime_ns)'
lua_eq "stat: ctime and device of a file" \
  "$(stat -c %.9Z "$T/abc" | tr -d .) $(stat -c %d "$T/abc")" '
  local s = sys.stat(T .. "/abc")
  show(s.ctime_ns, s.dev)'
lua_eq "stat: fresh (open and fstat) gives the same fields" "true" '
  local a, b = sys.stat(T .. "/abc"), sys.stat(T .. "/abc", true)
  local same = true
  for k, v in pairs(a) do same = same and b[k] == v end
  show(same)'
lua_eq "stat: fresh on a missing path" "nil $T/none: cannot stat (No such file or directory)" 'show(sys.stat(T .. "/none", true))'
lua_eq "link: a second name for the same file" "true true abc" '
  local ok = sys.link(T .. "/abc", T .. "/abc.link")
  show(ok, sys.stat(T .. "/abc.link").ino == sys.stat(T .. "/abc").ino, slurp(T .. "/abc.link"))'
lua_eq "link: onto an existing name" "nil $T/abc.link: cannot link to (File exists)" 'show(sys.link(T .. "/abc", T .. "/abc.link"))'
rm -f "$T/abc.link"
# The hash memo of entries relies on this: a write whose mtime is put back still changes ctime.
lua_run '
  local a = sys.stat(T .. "/abc")
  os.execute("sleep 0.05; printf xyz >" .. T .. "/abc; touch -m -d @" .. (a.mtime_ns // 1000000000) .. "." ..
             string.format("%09d", a.mtime_ns % 1000000000) .. " " .. T .. "/abc")
  local b = sys.stat(T .. "/abc")
  show(b.size == a.size, b.mtime_ns == a.mtime_ns, b.ino == a.ino, b.ctime_ns > a.ctime_ns)'
expect_eq "stat: a write with mtime restored keeps size, mtime and inode, not ctime" "true true true true" "$T_OUT"
lua_eq "stat follows a link, lstat does not" "file link dir" \
  'show(sys.stat(T .. "/link").type, sys.lstat(T .. "/link").type, sys.stat(T .. "/d").type)'
lua_eq "stat: a missing path" "nil $T/none: cannot stat (No such file or directory)" 'show(sys.stat(T .. "/none"))'
lua_eq "lstat: a missing path" "nil $T/none: cannot stat (No such file or directory)" 'show(sys.lstat(T .. "/none"))'
lua_eq "stat: another type" "other" 'show(sys.stat("/dev/null").type)'
touch -d '2001-01-01' "$T/abc"
lua_eq "touch: the times become now" "true true" '
  local ok = sys.touch(T .. "/abc")
  show(ok, math.abs(sys.stat(T .. "/abc").mtime_ns // 1000000000 - os.time()) <= 5)'
lua_eq "touch: a missing file is not created" "nil $T/none: cannot touch (No such file or directory) nil" \
  'local a, b = sys.touch(T .. "/none"); show(a, b, (sys.stat(T .. "/none")))'

# --- mkdir_p, exchange, rm_rf, listdir, realpath, copy ---
lua_eq "mkdir_p: every missing level, and again" "true true dir" '
  show(sys.mkdir_p(T .. "/m/a/b/c"), sys.mkdir_p(T .. "/m/a/b/c"), sys.stat(T .. "/m/a/b/c").type)'
lua_eq "mkdir_p: under a file" "nil $T/abc/x/y: cannot create directory (Not a directory)" 'show(sys.mkdir_p(T .. "/abc/x/y"))'
mkdir -p "$T/ex/a" "$T/ex/b"; : >"$T/ex/a/from-a"; : >"$T/ex/b/from-b"
lua_eq "exchange: two directories swap" "true from-b from-a" '
  local ok = sys.exchange(T .. "/ex/a", T .. "/ex/b")
  show(ok, sys.listdir(T .. "/ex/a")[1], sys.listdir(T .. "/ex/b")[1])'
lua_eq "exchange: a missing side" "nil $T/ex/none: cannot exchange (No such file or directory)" \
  'show(sys.exchange(T .. "/ex/a", T .. "/ex/none"))'
mkdir -p "$T/rm/x/y" "$T/keep"; : >"$T/rm/x/y/f"; : >"$T/rm/.hidden"; : >"$T/keep/precious"; ln -s "$T/keep" "$T/rm/x/tokeep"
lua_eq "rm_rf: a tree, without following its links" "true nil precious" '
  local ok = sys.rm_rf(T .. "/rm")
  show(ok, sys.lstat(T .. "/rm"), sys.listdir(T .. "/keep")[1])'
lua_eq "rm_rf: a missing path is already removed" "true" 'show(sys.rm_rf(T .. "/none"))'
lua_eq "rm_rf: a path through a file" "nil $T/abc/x: cannot remove (Not a directory)" 'show(sys.rm_rf(T .. "/abc/x"))'
mkdir "$T/ls" "$T/empty"; for n in b .h a10 a2 C; do : >"$T/ls/$n"; done
lua_eq "listdir: sorted names with hidden ones, without . and .." ".h C a10 a2 b" 'show(table.concat(sys.listdir(T .. "/ls"), " "))'
lua_eq "listdir: an empty directory" "0" 'show(#sys.listdir(T .. "/empty"))'
lua_eq "listdir: a missing directory" "nil $T/none: cannot list (No such file or directory)" 'show(sys.listdir(T .. "/none"))'
lua_eq "listdir: a file" "nil $T/abc: cannot list (Not a directory)" 'show(sys.listdir(T .. "/abc"))'
lua_eq "realpath: links and dots resolved" "$(cd "$T" && pwd -P)/abc" 'show(sys.realpath(T .. "/d/../link"))'
lua_eq "realpath: a missing path" "nil $T/none: cannot resolve (No such file or directory)" 'show(sys.realpath(T .. "/none"))'
head -c 200000 /dev/urandom >"$T/big"
printf 'a much longer old content' >"$T/dst"
lua_eq "copy: the bytes, over a longer file" "true" 'show(sys.copy(T .. "/big", T .. "/dst"))'
if cmp -s "$T/big" "$T/dst"; then t_ok "copy: same bytes"; else t_fail "copy: same bytes"; fi
lua_eq "copy: a new file is 0644" "420" 'sys.copy(T .. "/abc", T .. "/new"); show(sys.stat(T .. "/new").mode)'
lua_eq "copy: a missing source" "nil $T/none: cannot open (No such file or directory)" 'show(sys.copy(T .. "/none", T .. "/x"))'
lua_eq "copy: into a missing directory" "nil $T/none/x: cannot create (No such file or directory)" \
  'show(sys.copy(T .. "/abc", T .. "/none/x"))'
lua_eq "copy: a directory as the source" "nil $T/x: cannot copy to (Is a directory)" 'show(sys.copy(T .. "/d", T .. "/x"))'
lua_error "copy: two paths are needed" "bad argument #2 to 'copy'" 'sys.copy(T .. "/abc")'

# --- lock ---
# The lock is held until the process ends; another process is refused without waiting.
lua_eq "lock: taken, and refused to another process" "true $T/lk: another build holds this lock" '
  local ok = sys.lock(T .. "/lk")
  local pid = sys.spawn({"lua5.4", "-e", "package.cpath = os.getenv(\"CP\"); " ..
    "io.write(tostring(select(2, require(\"fvsys\").lock(os.getenv(\"LK\")))))"},
    {env = {LK = T .. "/lk", CP = package.cpath}, stdout = T .. "/lk.out"})
  sys.wait(true, pid)
  show(ok, slurp(T .. "/lk.out"))'
# Children do not inherit it (close-on-exec): a job left running by a killed driver does not keep
# the next build out.
lua_run 'sys.lock(T .. "/lk2"); show(sys.spawn({"sleep", "5"}))'
sleeper=$T_OUT
lua_eq "lock: freed with its holder, though the holder's child lives on" "true" 'show(sys.lock(T .. "/lk2"))'
case $sleeper in [0-9]*) kill "$sleeper" ;; esac
lua_eq "lock: in a missing directory" "nil $T/none/lk: cannot open lock (No such file or directory)" 'show(sys.lock(T .. "/none/lk"))'

# --- clock, sleep, getpid, ncpu, isatty, term_width ---
lua_eq "clock and sleep: 0.2 s pass" "true" '
  local t0 = sys.clock(); sys.sleep(0.2); local d = sys.clock() - t0
  show(d >= 0.2 and d < 5)'
lua_error "sleep: the time must be a number" "bad argument #1 to 'sleep'" 'sys.sleep("long")'
lua_eq "getpid: this process" "true" 'show(sys.getpid() == tonumber(slurp("/proc/self/stat"):match("^%d+")))'
lua_eq "ncpu: the CPUs online" "$(getconf _NPROCESSORS_ONLN)" 'show(sys.ncpu())'
lua_eq "isatty and term_width without a terminal" "false 80" 'show(sys.isatty(1), sys.term_width())'
lua_error "isatty: the descriptor must be a number" "bad argument #1 to 'isatty'" 'sys.isatty("stdin")'
# On a terminal (script(1), from util-linux, gives one): its width is stderr's window size.
if command -v script >/dev/null 2>&1; then
  printf '%s\n%s\n' "$PRELUDE" 'show(sys.isatty(0), sys.isatty(2), sys.term_width())' >"$T/tty.lua"
  run_cmd script -qec "stty cols 123 rows 5; T='$T' lua5.4 '$T/tty.lua'" /dev/null </dev/null
  expect_eq "isatty and term_width on a terminal" "true true 123" "$(printf '%s' "$T_OUT" | tr -d '\r')"
else
  t_skip "isatty and term_width on a terminal" "no script(1) to make one"
fi
finish
