# A real two-node Slurm cluster on this one machine, for the farm's tests and benchmark
# (sourced). Its own munged (own key, socket, pid and log files), its own slurmctld and two
# slurmd (n1, n2, one CPU each), all under one directory; stopped by PID, never by name, so it
# leaves no daemon behind and never touches a cluster the machine may already run.
# Recipe: ../shared/SLURM.md (Debian 12, Slurm 22.05).
#
#   slurm_start DIR   starts it; exports SLURM_CONF; returns 1 with SLURM_WHY set when it cannot
#                     (not root, packages missing, a daemon that does not come up)
#   slurm_stop DIR    stops every daemon it started (safe to call twice, or after a failed start)
#   slurm_node_pid DIR NODE   the PID of that node's slurmd

# A TCP port nobody listens on on 127.0.0.1 (bash's /dev/tcp: no connection, nobody there).
_slurm_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

slurm_start() {
  local d=$1
  SLURM_WHY=
  if [ "$(id -u)" -ne 0 ]; then SLURM_WHY="the test cluster's daemons run as root (munged as munge)"; return 1; fi
  local c
  for c in munged mungekey slurmctld slurmd sbatch squeue scancel sinfo; do
    command -v "$c" >/dev/null 2>&1 || { SLURM_WHY="$c is not installed (apt-get install slurmctld slurmd slurm-client munge)"; return 1; }
  done
  rm -rf "$d"
  # munged wants its key private and its socket's directory open to all (execute).
  mkdir -p "$d/state" "$d/spool" "$d/run" "$d/log" "$d/munge/key"
  chmod 755 "$d" "$d/munge"
  chown -R munge: "$d/munge" && chmod 700 "$d/munge/key"
  runuser -u munge -- mungekey -c -k "$d/munge/key/munge.key" >/dev/null 2>&1 ||
    { SLURM_WHY="mungekey could not create a key"; return 1; }
  runuser -u munge -- /usr/sbin/munged --key-file="$d/munge/key/munge.key" --socket="$d/munge/socket" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed" \
    >/dev/null 2>&1 || { SLURM_WHY="munged did not start: $(tail -1 "$d/munge/munged.log" 2>/dev/null)"; return 1; }
  local host ctl sd p1 p2
  host=$(hostname -s)
  ctl=$(_slurm_free_port); sd=$(_slurm_free_port); p1=$(_slurm_free_port); p2=$(_slurm_free_port)
  cat >"$d/slurm.conf" <<EOF
ClusterName=fvtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/socket
CredType=cred/munge
SlurmctldPort=$ctl
SlurmdPort=$sd
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
ReturnToService=2
SlurmdTimeout=10
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$p1 CPUs=1 RealMemory=1000 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$p2 CPUs=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -c >"$d/log/slurmctld.out" 2>&1 || { SLURM_WHY="slurmctld did not start: $(tail -1 "$d/log/slurmctld.log" 2>/dev/null)"; return 1; }
  slurmd -N n1 >"$d/log/slurmd-n1.out" 2>&1 || { SLURM_WHY="slurmd n1 did not start"; return 1; }
  slurmd -N n2 >"$d/log/slurmd-n2.out" 2>&1 || { SLURM_WHY="slurmd n2 did not start"; return 1; }
  local i
  for i in $(seq 1 100); do
    [ "$(sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle$')" = 2 ] && return 0
    sleep 0.1
  done
  SLURM_WHY="the nodes did not become idle in 10 s: $(sinfo -h -N -o '%N %T' 2>&1 | tr '\n' ' ')"
  return 1
}

slurm_node_pid() { cat "$1/run/slurmd-$2.pid" 2>/dev/null; }

slurm_stop() {
  local d=$1 f pid
  for f in "$d/run/slurmd-n1.pid" "$d/run/slurmd-n2.pid" "$d/run/slurmctld.pid" "$d/munge/munged.pid"; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  # Wait (at most 5 s) for them to go, so that ports and files are free for the next start.
  for f in "$d/run/slurmd-n1.pid" "$d/run/slurmd-n2.pid" "$d/run/slurmctld.pid" "$d/munge/munged.pid"; do
    pid=$(cat "$f" 2>/dev/null) || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$f"
  done
  return 0
}
