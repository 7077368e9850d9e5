#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, then deploy/slurm/trpo.sbatch on it.
#
#   slurm.sh TRPO_BINARY
#
# Needs root (slurmd runs jobs as their user) and Debian's slurm-wlm and munge.  munged,
# slurmctld and slurmd run in the foreground of background jobs, with their configuration,
# state, sockets and logs in one temporary directory and their ports picked free on
# 127.0.0.1; nothing is installed as a service and no cgroups are used (proctrack/linuxproc,
# task/none), since there is no systemd here.  Every daemon and job process is stopped on
# exit, failure or not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$here/common.sh"
trpo=$(realpath "$1")

begin_test slurm
chmod 755 "$work"   # munged refuses a socket directory others cannot reach; mktemp makes it 0700
node=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF=$work/slurm.conf
# Cancel what is left of the job first, so that slurmd can still tear its steps down.
before_cleanup() {
    if [[ -n ${job:-} ]]; then scancel "$job" 2>/dev/null || true; sleep 1; fi
}

mkdir -p "$work/state" "$work/spool" "$work/munge"
chmod 711 "$work/munge"   # clients need to reach the socket; the key inside stays 0400
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
cat >"$work/slurm.conf" <<CONF
ClusterName=trpotest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SrunPortRange=$(( $(free_port) / 2 * 2 ))-$(( $(free_port) / 2 * 2 + 20 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=10 State=UP
CONF

started=$SECONDS
munged --foreground --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" >>"$work/munge/munged.log" 2>&1 &
daemons+=($!)
for _ in $(seq 50); do [[ -S $work/munge/munge.socket ]] && break; sleep 0.1; done
slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
daemons+=($!)
slurmd -D -N "$node" -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
daemons+=($!)

# The node is usable once sinfo reports it idle.
for _ in $(seq 100); do
    state=$(sinfo --noheader --nodes="$node" --format=%t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.2
done
[[ $state == idle ]] || { echo "FAIL: the node did not become idle (state '${state:-unknown}')" >&2; exit 1; }
echo "slurm up in $((SECONDS - started)) s: node $node, $cpus CPUs"

# CURVE keys in the layout TRPO_KEYS names: the learner's pair, one worker key shared by every
# task, and the allow-list directory holding that worker's public key.
keys=$work/keys
"$trpo" keys generate --out "$keys" --name learner >/dev/null
"$trpo" keys generate --out "$keys" --name worker >/dev/null
mkdir -p "$keys/workers" && cp "$keys/worker.pub" "$keys/workers/"

# A short CartPole run with CURVE on: one worker per CPU, 4 iterations of 1024 steps, everything
# on 127.0.0.1.
run=$work/run
steps=4096
started=$SECONDS
job=$(TRPO_BIN=$trpo TRPO_ENV=CartPole-v1 TRPO_STEPS=$steps TRPO_OUT=$run TRPO_PORT=$(free_port) \
    TRPO_BIND_HOST=127.0.0.1 TRPO_LEARNER_HOST=127.0.0.1 TRPO_LEARNER_ARGS="--batch-steps 1024" TRPO_KEYS=$keys \
    sbatch --parsable --ntasks="$cpus" --time=2 --output="$work/job-%j.out" --chdir="$work" \
    "$repo/deploy/slurm/trpo.sbatch")
echo "submitted job $job"
status=0
timeout 90 bash -c 'while squeue --noheader --jobs="$0" 2>/dev/null | grep -q .; do sleep 0.5; done' "$job" || status=$?
((status == 0)) || { echo "FAIL: job $job still queued or running after 90 s" >&2; exit 1; }
echo "job $job finished in $((SECONDS - started)) s; its output:"
sed 's/^/  | /' "$work/job-$job.out"
# No accounting database here: the controller still remembers a finished job for MinJobAge (300 s).
state=$(scontrol --oneliner show job "$job" | grep -oE "JobState=[A-Z]+|ExitCode=[0-9:]+" | paste -sd" " || true)
echo "job $job: $state"
[[ $state == "JobState=COMPLETED "*"ExitCode=0:0" ]] || { echo "FAIL: job $job did not complete cleanly" >&2; exit 1; }
grep -q "^done: " "$work/job-$job.out" || { echo "FAIL: the learner did not finish the run" >&2; exit 1; }
# CURVE on, and no worker key refused. (The count itself may be 1: a worker started before the
# learner probes the port with a plain TCP connect to say why it cannot reach it, and a probe
# that lands just as the learner binds is a connection closed during the handshake.)
grep -q "^CURVE: [0-9]* connection(s) refused" "$work/job-$job.out" || { echo "FAIL: the learner did not run with CURVE" >&2; exit 1; }
! grep -q "is not on the allow-list" "$work/job-$job.out" || { echo "FAIL: the learner refused a worker's key" >&2; exit 1; }
expect_steps "$run" "$steps"
workers=$(last_progress "$run" workers_alive)
[[ $workers == "$cpus" ]] || { echo "FAIL: $workers workers alive at the end, expected $cpus" >&2; exit 1; }
job=""
echo "PASS: slurm batch job with a learner and $cpus workers over CURVE"
