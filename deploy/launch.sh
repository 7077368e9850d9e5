#!/usr/bin/env bash
# Starts one trpo run over ssh: the learner here (or on --learner-host), and workers on every
# host of HOSTFILE; prefixes and interleaves their logs on this terminal; Ctrl-C stops them all,
# here and on every host.
#
#   deploy/launch.sh HOSTFILE [options] [-- more learner options]
#
# HOSTFILE has one host per line, optionally followed by its number of workers (default 1);
# '#' starts a comment.  A host may appear more than once.  Worker ids are 0, 1, ... in file
# order.  For example:
#
#   # host          workers
#   node1.example   16
#   node2.example   16
#
# Options:
#   --env ID             environment (default CartPole-v1)
#   --steps N            total environment steps (default: the environment's preset)
#   --out DIR            run directory on the learner's host; resumed if it holds a checkpoint
#   --port P             the learner's tcp port, the only one to open (default 5555)
#   --learner-host H     run the learner on H over ssh (default: on this machine)
#   --bind-host A        address the learner binds (default 0.0.0.0)
#   --connect-host A     address the workers dial (default: the learner host, or this
#                        machine's `hostname -f` when the learner runs here)
#   --trpo PATH          the trpo binary on every host (default: trpo on PATH)
#   --learner-secret F --allow-workers DIR     CURVE on the learner's host (paths there)
#   --worker-secret F  --learner-public F      CURVE on every worker host (paths there)
#   -- ...               everything after -- goes to `trpo learner` (e.g. --batch-steps 4096)
#
# Environment: TRPO_SSH_OPTS, extra ssh options split on spaces (e.g. "-F ~/.ssh/trpo_config"
# or "-p 2222 -i ~/.ssh/id_trpo").  ssh must log in without a password (BatchMode).
#
# Keys stay where they are: the options name paths on the hosts that use them, and nothing
# is copied.  Exit status: the learner's.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage 2
hostfile=$1; shift
env_id=CartPole-v1 steps="" out="" port=5555 learner_host="" bind_host=0.0.0.0 connect_host="" trpo=trpo
learner_secret="" allow_workers="" worker_secret="" learner_public=""
learner_extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --env) env_id=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --learner-host) learner_host=$2; shift 2 ;;
        --bind-host) bind_host=$2; shift 2 ;;
        --connect-host) connect_host=$2; shift 2 ;;
        --trpo) trpo=$2; shift 2 ;;
        --learner-secret) learner_secret=$2; shift 2 ;;
        --allow-workers) allow_workers=$2; shift 2 ;;
        --worker-secret) worker_secret=$2; shift 2 ;;
        --learner-public) learner_public=$2; shift 2 ;;
        --) shift; learner_extra=("$@"); break ;;
        -h | --help) usage ;;
        *) echo "launch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -n $learner_secret$allow_workers && ( -z $learner_secret || -z $allow_workers ) ]]; then
    echo "launch.sh: --learner-secret and --allow-workers go together" >&2; exit 2
fi
if [[ -n $worker_secret$learner_public && ( -z $worker_secret || -z $learner_public ) ]]; then
    echo "launch.sh: --worker-secret and --learner-public go together" >&2; exit 2
fi
connect_host=${connect_host:-${learner_host:-$(hostname -f)}}

# The hosts and their worker counts.
hosts=() counts=()
while read -r host count _; do
    [[ -z $host || $host == \#* ]] && continue
    [[ -z $count || $count == \#* ]] && count=1
    [[ $count =~ ^[0-9]+$ ]] || { echo "launch.sh: $hostfile: bad worker count '$count' for $host" >&2; exit 2; }
    hosts+=("$host") counts+=("$count")
done <"$hostfile"
[[ ${#hosts[@]} -gt 0 ]] || { echo "launch.sh: no hosts in $hostfile" >&2; exit 2; }

state=$(mktemp -d "${TMPDIR:-/tmp}/trpo-launch.XXXXXX")
read -r -a ssh_options <<<"${TRPO_SSH_OPTS:-}"
# One authenticated connection per host, shared by every ssh below (ControlMaster): many
# workers on one host start quickly and do not trip sshd's limit on concurrent logins.
ssh_options+=(-o BatchMode=yes -o ControlPath="$state/ssh-%C" -o ControlMaster=no)
remote() { ssh "${ssh_options[@]}" "$@"; }

# Every process is started as `setsid sh -c 'echo trpo-pgid $$; exec trpo ...'`: it leads its
# own process group, whose id comes back as the first line of its output, so that stopping it
# later kills exactly that group, here or on its host.
wrapper='echo "trpo-pgid $$"; exec "$@"'

names=() where=() pids=()
# start NAME HOST COMMAND...: runs COMMAND on HOST ("" = here), its output prefixed with NAME.
start() {
    local name=$1 host=$2; shift 2
    if [[ -z $host ]]; then
        setsid -w sh -c "$wrapper" sh "$@" > >(prefix "$name") 2>&1 &
    else
        remote "$host" "exec setsid -w sh -c $(printf '%q' "$wrapper") sh $(printf '%q ' "$@")" </dev/null > >(prefix "$name") 2>&1 &
    fi
    names+=("$name") where+=("$host") pids+=($!)
}
# prefix NAME: copies lines to standard output as "[NAME] line", keeping the process group id.
prefix() {
    local line
    while IFS= read -r line; do
        if [[ $line =~ ^trpo-pgid\ ([0-9]+)$ ]]; then
            echo "${BASH_REMATCH[1]}" >"$state/$1.pgid"
        else
            printf '%-12s %s\n' "[$1]" "$line"
        fi
    done
}
# signal_group SIG I: sends SIG to the process group of the I-th process started.
signal_group() {
    local pgid_file=$state/${names[$2]}.pgid pgid
    # A process stopped right after its start may not have reported its group yet.
    for _ in $(seq 50); do [[ -s $pgid_file ]] && break; kill -0 "${pids[$2]}" 2>/dev/null || return 0; sleep 0.1; done
    [[ -s $pgid_file ]] || return 0
    pgid=$(<"$pgid_file")
    if [[ -z ${where[$2]} ]]; then
        kill "-$1" -- "-$pgid" 2>/dev/null || true
    else
        remote "${where[$2]}" "kill -$1 -- -$pgid 2>/dev/null || true" </dev/null || true
    fi
}
running() { local i; for i in "${!pids[@]}"; do if kill -0 "${pids[$i]}" 2>/dev/null; then echo "$i"; fi; done; }

stopping=""
# Stops everything: TERM (trpo's clean stop), then KILL for what is left after 10 s.
stop_all() {
    [[ -n $stopping ]] && return 0
    stopping=1
    local i left
    for i in $(running); do signal_group TERM "$i"; done
    for _ in $(seq 100); do left=$(running); [[ -z $left ]] && break; sleep 0.1; done
    for i in $left; do echo "launch.sh: ${names[$i]} did not stop; killing it" >&2; signal_group KILL "$i"; done
    for i in $(running); do kill -KILL "${pids[$i]}" 2>/dev/null || true; done
}
finish() {
    local status=$?
    stop_all
    for host in $(printf '%s\n' "${hosts[@]}" "$learner_host" | sort -u); do
        remote -O exit "$host" 2>/dev/null || true
    done
    rm -rf "$state"
    exit "$status"
}
trap finish EXIT
trap 'echo "launch.sh: stopping the learner and every worker" >&2; exit 130' INT TERM

for host in $(printf '%s\n' "${hosts[@]}" "$learner_host" | sort -u); do
    [[ -n $host ]] && remote -o ControlMaster=yes -o ControlPersist=yes -fN "$host"
done

# A run directory that already holds a checkpoint is resumed rather than started afresh.
has_checkpoint() {
    if [[ -z $learner_host ]]; then
        [[ -f $out/checkpoint.json ]]
    else
        remote "$learner_host" "test -f $(printf '%q' "$out/checkpoint.json")" </dev/null
    fi
}
learner_args=(learner --bind "tcp://$bind_host:$port")
if [[ -n $out ]] && has_checkpoint; then
    learner_args+=(--resume "$out")
else
    learner_args+=(--env "$env_id")
    [[ -n $out ]] && learner_args+=(--out "$out")
    [[ -n $steps ]] && learner_args+=(--steps "$steps")
fi
[[ -n $learner_secret ]] && learner_args+=(--curve-secret "$learner_secret" --allow-workers "$allow_workers")
start learner "$learner_host" "$trpo" "${learner_args[@]}" "${learner_extra[@]}"
learner=${pids[0]}

worker_args=(worker --connect "tcp://$connect_host:$port")
[[ -n $worker_secret ]] && worker_args+=(--curve-secret "$worker_secret" --learner-public "$learner_public")
id=0
for i in "${!hosts[@]}"; do
    for ((k = 0; k < counts[i]; k++)); do
        start "worker $id" "${hosts[$i]}" "$trpo" "${worker_args[@]}" --worker-id "$id"
        id=$((id + 1))
    done
done
echo "launch.sh: learner ${learner_host:-here} on port $port, $id workers on ${#hosts[@]} host lines" >&2

status=0
wait "$learner" || status=$?
# The workers exit on their own once the learner has told them the run is over.
for _ in $(seq 300); do [[ -z $(running) ]] && break; sleep 0.1; done
exit "$status"
