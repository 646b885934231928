# The build on a real Slurm cluster (build.lua --farm slurm) and the relocatable, shared cache.
# Starts a two-node cluster on this machine (tests/slurm-cluster.sh: its own munged, slurmctld
# and two slurmd, one CPU each) and stops it by PID at the end.
#  - the test article (--quick) built through Slurm is byte-identical to the local build;
#  - a second checkout at another path sharing FV_CACHE builds with 0 jobs run;
#  - the quick atlas (make atlas FARM=slurm) built through Slurm is byte-identical to the local one;
#  - a node whose slurmd and processes are killed mid-build: the build completes on the other;
#  - scancel of a running task: its job is retried, the build completes;
#  - a job that always fails: reported with its job id, the Slurm task and its message, exit 1,
#    nothing published;
#  - two builds at once on one shared cache: both succeed, identical sites, no damaged entry;
#  - Ctrl-C in the driver cancels every task it submitted and leaves nothing behind;
#  - no Slurm client: one line saying what to install, exit 2; bad settings: one line, exit 2.
. "$ROOT/tests/cli/lib.sh"
. "$ROOT/tests/slurm-cluster.sh"
export FV_PROGRESS=lines
unset FV_CACHE FV_FARM

# The cluster's directory must be open to the munge user (TMPDIR_T is private).
C=$(mktemp -d /tmp/fv-slurm.XXXXXX)
if ! slurm_start "$C"; then
  slurm_stop "$C"; rm -rf "$C"
  t_skip "the farm on a two-node Slurm cluster" "$SLURM_WHY"
  finish; exit
fi
trap 'slurm_stop "$C"; rm -rf "$C"' EXIT

article() { # DIR: a copy of the article's sources (the test article)
  rm -rf "$1"; mkdir -p "$1"
  cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$1/"
}
# site_sum DIR [SITE]: one hash of DIR/build/SITE (article by default, or atlas)
site_sum() { (cd "$1/build/${2:-article}" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }
our_active_tasks() { squeue -h -t PENDING,RUNNING,CONFIGURING -n fv-build -o %i 2>/dev/null | wc -l; }
leftovers() { # STORE: what a build must not leave in a store
  find "$1/farm" -mindepth 1 -maxdepth 1 2>/dev/null; find "$1/tmp" -mindepth 1 -maxdepth 1 2>/dev/null
}
# The session of a process (/proc/PID/stat: the fields after the command's closing parenthesis
# are state, ppid, pgrp, session).
session_of() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return; s=${s##*) }; set -- $s; echo "$4"; }
# Waits (at most 60 s) until a job whose id matches PATTERN is taken by a worker; prints
# "<task> <node> <worker pid>".
claimed() { # STORE PATTERN
  local f task w i
  for i in $(seq 1 1200); do
    for f in "$1"/farm/*/run/*; do
      [ -e "$f" ] || continue
      grep -q "$2" "$f" 2>/dev/null || continue
      task=${f##*.}
      w=$(dirname "$(dirname "$f")")/workers/$task
      [ -e "$w" ] || continue
      printf '%s %s %s\n' "$task" "$(sed -n 's/.*node="\([^"]*\)".*/\1/p' "$w")" "$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' "$w")"
      return 0
    done
    sleep 0.05
  done
  return 1
}

# --- a small project (3 jobs) through Slurm: the same site as locally
K=$TMPDIR_T/k KL=$TMPDIR_T/kl
cp -r "$ROOT/tests/fixtures/site" "$K"; cp -r "$ROOT/tests/fixtures/site" "$KL"
run_cmd sh -c "cd '$KL' && lua5.4 '$ROOT/build.lua'"
run_cmd sh -c "cd '$K' && FV_CACHE='$TMPDIR_T/kstore' lua5.4 '$ROOT/build.lua' --farm slurm --tasks 2"
expect_eq "a small project builds through Slurm" 0 "$T_RC"
expect_eq "... with the local build's site" "$(site_sum "$KL")" "$(site_sum "$K")"
expect_eq "... and no task left on the cluster" 0 "$(our_active_tasks)"

# --- a job that always fails: its id, the Slurm task and its message; nothing published
F=$TMPDIR_T/f
cp -r "$ROOT/tests/fixtures/site" "$F"
printf 'garbage' | dd of="$F/content/images/gradient.png" bs=1 seek=40 conv=notrunc 2>/dev/null
run_cmd sh -c "cd '$F' && lua5.4 '$ROOT/build.lua' --farm slurm --tasks 2 --retries 1"
expect_eq "a job that always fails: exit 1" 1 "$T_RC"
printf '%s' "$T_ERR" | grep -q "^content/images/gradient.png: corrupt PNG" &&
  t_ok "... its own message first" || t_fail "... its own message first" "$T_ERR"
printf '%s' "$T_ERR" | grep -qE "^build: job 'images:pair:1' failed on the cluster after 2 attempts \(last: Slurm task [0-9]+_[0-9]+ on n[12], exit 1\)" &&
  t_ok "... then the job, the attempts and the Slurm task" || t_fail "... then the job, the attempts and the Slurm task" "$T_ERR"
[ -e "$F/build/article" ] && t_fail "... nothing published" || t_ok "... nothing published"
expect_eq "... no task left on the cluster" 0 "$(our_active_tasks)"

# Under AddressSanitizer a build of the test article takes about 110 s instead of 20: there, the
# article's runs below are left to `make test` (the farm is Lua; the tools are the same).
if [ "${VARIANT:-release}" = asan ]; then
  t_skip "the test article's farm runs (identity, lost node, scancel, two builds, Ctrl-C)" \
    "about 110 s a build under AddressSanitizer; make test runs them"
else

# --- the reference: the test article built locally
L=$TMPDIR_T/local
article "$L"
run_cmd sh -c "cd '$L' && lua5.4 '$ROOT/build.lua' --quick --jobs 2"
expect_eq "local build of the test article" 0 "$T_RC"
ref=$(site_sum "$L")
# How many jobs the test article has (it grows with the article's figures).
NJ=$(printf '%s' "$T_ERR" | sed -n 's/^article: \([0-9]*\) jobs .*/\1/p')

# --- through Slurm: byte-identical, both nodes used, nothing left behind
A=$TMPDIR_T/a S=$TMPDIR_T/store
article "$A"
run_cmd sh -c "cd '$A' && FV_CACHE='$S' lua5.4 '$ROOT/build.lua' --quick --farm slurm --tasks 2"
expect_eq "the test article builds through Slurm" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | tail -5
expect_eq "through Slurm, the site is byte-identical to the local build" "$ref" "$(site_sum "$A")"
case $T_ERR in *" on n1 ("*) t_ok "jobs ran on node n1" ;; *) t_fail "jobs ran on node n1" ;; esac
case $T_ERR in *" on n2 ("*) t_ok "jobs ran on node n2" ;; *) t_fail "jobs ran on node n2" ;; esac
expect_eq "no queue or temporary files left in the store" "" "$(leftovers "$S")"
expect_eq "no task of the build left on the cluster" 0 "$(our_active_tasks)"
# A worker's entries name their tool's sha256 and CPU seconds too (the atlas prices renders by them).
r=$(grep -l '^id="render:' "$S"/objects/*/.meta | head -1)
expect_eq "a render stored by a worker names fv-render's sha256" "$(sha256sum "$BIN/fv-render" | cut -c1-64)" \
  "$(sed -n 's/.*\["fv-render"\]="\([0-9a-f]*\)".*/\1/p' "$r")"
grep -q ' cpu=[0-9]*\.[0-9]*,' "$r" && t_ok "... and its CPU seconds, which price renders" \
  || t_fail "... and its CPU seconds, which price renders" "$(head -2 "$r")"

# --- another checkout at another path, sharing the store: nothing to run
B=$TMPDIR_T/elsewhere/b
article "$B"
run_cmd sh -c "cd '$B' && FV_CACHE='$S' lua5.4 '$ROOT/build.lua' --quick"
case $T_ERR in *"($NJ cached, 0 run)"*) t_ok "a second checkout at another path sharing FV_CACHE runs 0 jobs" ;;
  *) t_fail "a second checkout at another path sharing FV_CACHE runs 0 jobs" "$(printf '%s' "$T_ERR" | tail -2)" ;; esac
expect_eq "its site is the same" "$ref" "$(site_sum "$B")"

# --- the quick atlas (three layers of both networks) through Slurm: byte-identical to the same
# atlas built locally, its jobs on both nodes
AL=$TMPDIR_T/atlas-local AF=$TMPDIR_T/atlas-farm
for d in "$AL" "$AF"; do article "$d"; cp -r "$ROOT/atlas" "$d/"; done
run_cmd sh -c "cd '$AL' && lua5.4 '$ROOT/build.lua' --atlas --quick --layers expanded_conv_5,extern1,fc1 --jobs 2"
expect_eq "the quick atlas builds locally" 0 "$T_RC"
run_cmd sh -c "cd '$AF' && FV_CACHE='$TMPDIR_T/atlas-store' lua5.4 '$ROOT/build.lua' --atlas --quick --layers expanded_conv_5,extern1,fc1 --farm slurm --tasks 2"
expect_eq "the quick atlas builds through Slurm" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | tail -5
expect_eq "through Slurm, the atlas is byte-identical to the local build" "$(site_sum "$AL" atlas)" "$(site_sum "$AF" atlas)"
case $T_ERR in *"atlas sheets ["*" on n1 ("*) t_ok "the atlas's jobs ran on node n1" ;; *) t_fail "the atlas's jobs ran on node n1" ;; esac
case $T_ERR in *"atlas sheets ["*" on n2 ("*) t_ok "the atlas's jobs ran on node n2" ;; *) t_fail "the atlas's jobs ran on node n2" ;; esac
expect_eq "no queue or temporary files left in the atlas's store" "" "$(leftovers "$TMPDIR_T/atlas-store")"

# --- a node dies mid-build (its slurmd and every process of its task, as a power cut would):
# the job it ran goes to the other node. The node that runs the classifier's training (the
# longest job) is the one that dies, so that a job is surely in flight.
D=$TMPDIR_T/d S2=$TMPDIR_T/store2
article "$D"
(cd "$D" && FV_CACHE="$S2" FV_FARM_HEARTBEAT=3 exec lua5.4 "$ROOT/build.lua" --quick --farm slurm --tasks 2 \
  >"$TMPDIR_T/d.out" 2>&1) &
pid=$!
if set -- $(claimed "$S2" 'fmnist:train-quick'); then
  task=$1 node=$2 wpid=$3
  kill -9 "$(slurm_node_pid "$C" "$node")"
  # Every process of the worker's session (slurmstepd's: the batch script, the worker, its job).
  sid=$(session_of "$wpid")
  [ -n "$sid" ] && for st in /proc/[0-9]*; do
    [ "$(session_of "${st#/proc/}")" = "$sid" ] && kill -9 "${st#/proc/}" 2>/dev/null
  done
  wait "$pid"; rc=$?
  expect_eq "a node killed mid-build: the build completes ($node died)" 0 "$rc"
  [ "$rc" -ne 0 ] && tail -5 "$TMPDIR_T/d.out"
  grep -q "fmnist:train-quick' did not finish (Slurm task $task on $node sent no heartbeat" "$TMPDIR_T/d.out" &&
    t_ok "the lost job is seen and run again" || t_fail "the lost job is seen and run again" "$(grep farm: "$TMPDIR_T/d.out")"
  expect_eq "... and the site is byte-identical" "$ref" "$(site_sum "$D")"
  expect_eq "... and nothing is left in the store" "" "$(leftovers "$S2")"
  # The node comes back (ReturnToService=2) for what follows.
  slurmd -N "$node" >/dev/null 2>&1
  # Up to 90 s: on a loaded machine (the test run while other work used both cores) it once took
  # longer than 30 s. The loop ends as soon as both nodes are idle.
  for _ in $(seq 1 450); do [ "$(sinfo -h -N -o %T | grep -c '^idle$')" = 2 ] && break; sleep 0.2; done
  expect_eq "the node comes back" 2 "$(sinfo -h -N -o %T | grep -c '^idle$')"
  [ "$(sinfo -h -N -o %T | grep -c '^idle$')" = 2 ] || sinfo -N -o '%N %T %E' >&2
else
  kill "$pid"; wait "$pid"
  t_fail "a node killed mid-build" "no worker took the training job: $(tail -3 "$TMPDIR_T/d.out")"
fi

# --- scancel of a running task: retried, the build completes
E=$TMPDIR_T/e S3=$TMPDIR_T/store3
article "$E"
(cd "$E" && FV_CACHE="$S3" exec lua5.4 "$ROOT/build.lua" --quick --farm slurm --tasks 2 >"$TMPDIR_T/e.out" 2>&1) &
pid=$!
if set -- $(claimed "$S3" 'fmnist:train-quick'); then
  scancel "$1"
  wait "$pid"; rc=$?
  expect_eq "scancel of a running task: the build completes" 0 "$rc"
  grep -q "fmnist:train-quick' did not finish (Slurm task $1 .*ended CANCELLED); trying again (attempt 2 of 3)" "$TMPDIR_T/e.out" &&
    t_ok "the cancelled job is run again" || t_fail "the cancelled job is run again" "$(grep farm: "$TMPDIR_T/e.out")"
  expect_eq "... and the site is byte-identical" "$ref" "$(site_sum "$E")"
else
  kill "$pid"; wait "$pid"
  t_fail "scancel of a running task" "no worker took the training job: $(tail -3 "$TMPDIR_T/e.out")"
fi

# --- two builds at once on one shared store (one through Slurm, one local): both succeed with
# the same site; then every entry is intact (a third build finds all NJ and nothing damaged)
G=$TMPDIR_T/g H=$TMPDIR_T/h S4=$TMPDIR_T/store4
article "$G"; article "$H"
(cd "$G" && FV_CACHE="$S4" exec lua5.4 "$ROOT/build.lua" --quick --farm slurm --tasks 2 >"$TMPDIR_T/g.out" 2>&1) &
pg=$!
(cd "$H" && FV_CACHE="$S4" exec lua5.4 "$ROOT/build.lua" --quick --jobs 1 >"$TMPDIR_T/h.out" 2>&1) &
ph=$!
wait "$pg"; rg=$?; wait "$ph"; rh=$?
expect_eq "two builds at once on one store: both succeed" "0 0" "$rg $rh"
[ "$rg$rh" != 00 ] && tail -3 "$TMPDIR_T/g.out" "$TMPDIR_T/h.out"
expect_eq "... with the local build's site" "$ref $ref" "$(site_sum "$G") $(site_sum "$H")"
run_cmd sh -c "cd '$TMPDIR_T/elsewhere' && rm -rf b/build && cd b && FV_CACHE='$S4' lua5.4 '$ROOT/build.lua' --quick --verbose"
case $T_ERR in *damaged*|*"no valid record"*|*lacks*) t_fail "... and no entry is damaged" "$T_ERR" ;;
  *"($NJ cached, 0 run)"*) t_ok "... and no entry is damaged ($NJ found intact)" ;;
  *) t_fail "... and no entry is damaged" "$(printf '%s' "$T_ERR" | tail -2)" ;; esac
expect_eq "... nothing left in the store" "" "$(leftovers "$S4")"

# --- Ctrl-C: every task submitted is cancelled, nothing is left
I=$TMPDIR_T/i S5=$TMPDIR_T/store5
article "$I"
(cd "$I" && FV_CACHE="$S5" exec lua5.4 "$ROOT/build.lua" --quick --farm slurm --tasks 2 >"$TMPDIR_T/i.out" 2>&1) &
pid=$!
# Once some jobs are done and one runs.
for _ in $(seq 1 600); do [ "$(ls "$S5/objects" 2>/dev/null | wc -l)" -ge 8 ] && break; sleep 0.05; done
if claimed "$S5" 'render:' >/dev/null; then
  kill -INT "$pid"
  wait "$pid"; rc=$?
  expect_eq "Ctrl-C: exit 130" 130 "$rc"
  expect_eq "... every task it submitted is gone from the cluster" 0 "$(our_active_tasks)"
  expect_eq "... nothing half-written in the store" "" "$(leftovers "$S5")"
  [ -e "$I/build/article" ] && t_fail "... nothing published" || t_ok "... nothing published"
  run_cmd sh -c "cd '$I' && FV_CACHE='$S5' lua5.4 '$ROOT/build.lua' --quick --farm slurm --tasks 2"
  case $T_ERR in *"article: $NJ jobs ("*" cached, "*)
    cached=$(printf '%s' "$T_ERR" | sed -n "s/.*article: $NJ jobs (\\([0-9]*\\) cached.*/\\1/p")
    [ "$T_RC" -eq 0 ] && [ "${cached:-0}" -gt 0 ] && t_ok "... the next build picks up where it stopped ($cached cached)" ||
      t_fail "... the next build picks up where it stopped" "$T_ERR" ;;
    *) t_fail "... the next build picks up where it stopped" "$(printf '%s' "$T_ERR" | tail -3)" ;; esac
else
  kill "$pid"; wait "$pid"
  t_fail "Ctrl-C" "no job was taken: $(tail -3 "$TMPDIR_T/i.out")"
fi

fi # not asan

# --- no Slurm client; bad settings
L=$KL
mkdir -p "$TMPDIR_T/nobin"
ln -s "$(command -v lua5.4)" "$TMPDIR_T/nobin/lua5.4"
expect_fail "no Slurm client: what to install" "install them (Debian: apt-get install slurm-client)" \
  sh -c "cd '$L' && PATH='$TMPDIR_T/nobin' lua5.4 '$ROOT/build.lua' --quick --farm slurm"
expect_eq "... exit 2" 2 "$T_RC"
expect_fail "--tasks 0 is refused" "build: --tasks: '0' (expected a whole number >= 1)" \
  sh -c "cd '$L' && lua5.4 '$ROOT/build.lua' --quick --farm slurm --tasks 0"
expect_fail "a bad FV_SLURM_CPUS is refused" "build: FV_SLURM_CPUS: 'two' (expected a whole number >= 1)" \
  sh -c "cd '$L' && FV_SLURM_CPUS=two lua5.4 '$ROOT/build.lua' --quick --farm slurm"
expect_fail "--farm other is refused" "build: --farm 'pbs' (expected slurm)" \
  sh -c "cd '$L' && lua5.4 '$ROOT/build.lua' --farm pbs"
expect_fail "cluster options without --farm" "build: the cluster options need --farm slurm" \
  sh -c "cd '$L' && lua5.4 '$ROOT/build.lua' --partition debug"
rm -rf "$F/build" "$F/.cache"
cp "$ROOT/tests/fixtures/site/content/images/gradient.png" "$F/content/images/gradient.png"
expect_fail "a partition the cluster lacks: sbatch's refusal in one line" "build: sbatch refused the workers: sbatch: error:" \
  sh -c "cd '$F' && lua5.4 '$ROOT/build.lua' --farm slurm --partition nosuch"
[ -e "$F/build/article" ] && t_fail "... nothing published" || t_ok "... nothing published"

finish
