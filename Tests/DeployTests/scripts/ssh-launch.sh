#!/usr/bin/env bash
# deploy/launch.sh against a real sshd on 127.0.0.1: a short run to completion with the
# hostfile listing 127.0.0.1 twice, then a long run stopped by SIGINT (Ctrl-C) to launch.sh,
# after which no trpo process of this test may be left.
#
#   ssh-launch.sh TRPO_BINARY
#
# Needs root (sshd) and Debian's openssh-server and openssh-client.  The sshd listens on
# 127.0.0.1 only, on a free port, with a host key, client key, known_hosts and
# authorized_keys made here; ssh reaches it through an ssh_config passed in TRPO_SSH_OPTS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$here/common.sh"
trpo=$(realpath "$1")
launch=$repo/deploy/launch.sh

begin_test ssh

# Only the processes of this test: through SetEnv, those started by this sshd carry the marker too.
trpo_left() {
    local pid
    for pid in $(marked_pids); do
        if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == trpo ]]; then echo "$pid"; fi
    done
    return 0
}

port=$(free_port)
ssh-keygen -q -t ed25519 -N "" -f "$work/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
cat >"$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files live under /tmp, which StrictModes would refuse as world-writable.
StrictModes no
SetEnv TRPO_DEPLOY_TEST=$work
CONF
cat >"$work/ssh_config" <<CONF
Host 127.0.0.1
    Port $port
    User $(id -un)
    IdentityFile $work/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $work/known_hosts
    StrictHostKeyChecking yes
    LogLevel ERROR
CONF
export TRPO_SSH_OPTS="-F $work/ssh_config"
mkdir -p /run/sshd   # sshd's privilege-separation directory
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
daemons+=($!)
for _ in $(seq 50); do ssh $TRPO_SSH_OPTS -o BatchMode=yes 127.0.0.1 true 2>/dev/null && break; sleep 0.1; done
ssh $TRPO_SSH_OPTS -o BatchMode=yes 127.0.0.1 true || { echo "FAIL: cannot ssh to the test sshd" >&2; exit 1; }

printf '# host      workers\n127.0.0.1   # one worker (the default)\n\n127.0.0.1 1\n' >"$work/hosts"

echo "== a short run to completion"
started=$SECONDS
status=0
timeout 90 "$launch" "$work/hosts" --trpo "$trpo" --port "$(free_port)" --bind-host 127.0.0.1 --connect-host 127.0.0.1 \
    --env CartPole-v1 --steps 4096 --out "$work/run" -- --batch-steps 1024 >"$work/launch-1.log" 2>&1 || status=$?
echo "launch.sh exited with $status after $((SECONDS - started)) s"
((status == 0)) || { echo "FAIL: launch.sh exited with status $status" >&2; exit 1; }
expect_steps "$work/run" 4096
for name in learner "worker 0" "worker 1"; do
    grep -qF "[$name]" "$work/launch-1.log" || { echo "FAIL: no line prefixed [$name]" >&2; exit 1; }
done
grep -q '^\[worker 1\] *worker 1: the run is finished' "$work/launch-1.log" || { echo "FAIL: worker 1 did not finish cleanly" >&2; exit 1; }
[[ -z $(trpo_left) ]] || { echo "FAIL: trpo processes left: $(trpo_left)" >&2; exit 1; }
echo "ok: learner and two workers over ssh finished; log lines prefixed; nothing left running"

echo "== Ctrl-C"
# Job control on, so that the background launch.sh does not start with SIGINT ignored (as a
# non-interactive shell's background jobs do) and receives it as it would from a terminal.
set -m
"$launch" "$work/hosts" --trpo "$trpo" --port "$(free_port)" --bind-host 127.0.0.1 --connect-host 127.0.0.1 \
    --env CartPole-v1 --steps 10000000 --out "$work/run-long" -- --batch-steps 1024 >"$work/launch-2.log" 2>&1 &
launcher=$!
set +m
for _ in $(seq 300); do grep -qs 'iter    2/' "$work/launch-2.log" && break; sleep 0.1; done
grep -q 'iter    2/' "$work/launch-2.log" || { echo "FAIL: the long run did not reach iteration 2" >&2; exit 1; }
echo "running: $(trpo_left | wc -w) trpo processes; SIGINT to launch.sh"
started=$SECONDS
kill -INT "$launcher"
status=0
for _ in $(seq 300); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$launcher" 2>/dev/null; then echo "FAIL: launch.sh still running 30 s after SIGINT" >&2; exit 1; fi
wait "$launcher" || status=$?
echo "launch.sh exited with $status after $((SECONDS - started)) s"
((status == 130)) || { echo "FAIL: launch.sh exited with $status after SIGINT, expected 130" >&2; exit 1; }
sleep 0.5
left=$(trpo_left)
[[ -z $left ]] || { echo "FAIL: trpo processes left after Ctrl-C: $left" >&2; ps -o pid,pgid,args -p "${left//$'\n'/,}" >&2; exit 1; }
echo "ok: Ctrl-C stopped the learner and both remote workers"
echo "PASS: launch.sh over ssh"
