#!/usr/bin/env bash
# deploy/systemd: `systemd-analyze verify` on the units (systemd need not be running), then
# their ExecStart command lines run as systemd would run them (%i and $$ expanded, trpo.env
# as the environment): a learner and two worker instances on 127.0.0.1, the learner killed
# mid-run and started again as Restart=on-failure would, resuming from its checkpoint.
#
#   systemd.sh TRPO_BINARY
#
# What this does not exercise: systemd itself starting the units (no systemd as init here),
# so neither User=, StateDirectory=, Restart= nor the sandboxing options have run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$here/common.sh"
trpo=$(realpath "$1")
units=$repo/deploy/systemd

begin_test systemd

echo "== systemd-analyze verify"
mkdir "$work/units"
cp "$units/trpo-learner.service" "$units/trpo-worker@.service" "$work/units/"
# A template is verified through one of its instances.
ln -s "trpo-worker@.service" "$work/units/trpo-worker@3.service"
# verify reports bad settings as warnings and still exits 0: any output is a failure.
verify() { (cd "$work/units" && systemd-analyze verify "$@" 2>&1) || echo "(exit status $?)"; }
report=$(verify ./trpo-learner.service ./trpo-worker@3.service)
[[ -z $report ]] || { echo "FAIL: systemd-analyze verify:"$'\n'"$report" >&2; exit 1; }
# The same check must catch a broken unit, or it proves nothing.
sed 's/^Restart=on-failure/Restart=sometimes/' "$units/trpo-learner.service" >"$work/units/broken.service"
[[ -n $(verify ./broken.service) ]] || { echo "FAIL: systemd-analyze verify accepted Restart=sometimes" >&2; exit 1; }
for unit in trpo-learner.service trpo-worker@3.service; do
    (cd "$work/units" && systemd-analyze security --offline=true "./$unit" 2>/dev/null | grep "Overall exposure") || true
done
echo "ok: the units verify"

# exec_start UNIT INSTANCE: the unit's ExecStart as the command line systemd would run.
exec_start() {
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$units/$1" | sed -n 's/^ExecStart=//p' |
        sed -e "s/%i/$2/g" -e 's/\$\$/$/g'
}
# start NAME UNIT INSTANCE: runs it in the background with trpo.env and this test's settings.
port=$(free_port)
start() {
    local command
    command=$(exec_start "$2" "$3")
    (
        set -a
        source "$units/trpo.env"
        TRPO_BIN=$trpo TRPO_BIND=tcp://127.0.0.1:$port TRPO_CONNECT=tcp://127.0.0.1:$port
        TRPO_OUT=$work/run TRPO_STEPS=12288 TRPO_LEARNER_ARGS="--batch-steps 1024"
        TRPO_WORKER_ARGS="--learner-timeout 2"
        set +a
        eval "exec $command"
    ) >"$work/$1.log" 2>&1 &
}

echo "== the ExecStart lines, with a learner restart"
started=$SECONDS
start learner trpo-learner.service ""
learner=$!
start worker0 trpo-worker@.service 0
worker0=$!
start worker1 trpo-worker@.service 1
worker1=$!
for _ in $(seq 300); do grep -qs 'iter    3/' "$work/learner.log" && break; sleep 0.1; done
grep -q 'iter    3/' "$work/learner.log" || { echo "FAIL: the learner did not reach iteration 3" >&2; exit 1; }
kill -KILL "$learner"
wait "$learner" || true
# The supervised learner process dies with its supervisor (PR_SET_PDEATHSIG), a moment later:
# wait for it, then resume from what its checkpoint holds (progress.csv may hold one row more,
# which the resume cuts back).
for _ in $(seq 100); do
    alive=""
    for pid in $(marked_pids); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '--supervisor-pid'; then alive=$pid; fi
    done
    [[ -z $alive ]] && break
    sleep 0.1
done
before=$(grep -o '"iteration" *: *[0-9]*' "$work/run/checkpoint.json" | tr -dc 0-9)
echo "learner killed after its checkpoint of iteration $before; starting it again"
start learner-restarted trpo-learner.service ""
learner=$!
status=0
for _ in $(seq 600); do kill -0 "$learner" 2>/dev/null || break; sleep 0.1; done
wait "$learner" || status=$?
((status == 0)) || { echo "FAIL: the restarted learner exited with $status" >&2; exit 1; }
for w in "$worker0" "$worker1"; do
    for _ in $(seq 150); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
    status=0; wait "$w" || status=$?
    ((status == 0)) || { echo "FAIL: a worker exited with $status" >&2; exit 1; }
done
echo "run finished in $((SECONDS - started)) s"
first=$(grep -m 1 -o 'iter *[0-9]*/' "$work/learner-restarted.log" | tr -dc 0-9)
((first == before + 1)) || { echo "FAIL: the restarted learner began at iteration ${first:-none}, not $((before + 1)): it did not resume" >&2; exit 1; }
expect_steps "$work/run" 12288
iterations=$(awk -F, 'NR > 1 { printf "%s ", $1 }' "$work/run/progress.csv")
[[ $iterations == "1 2 3 4 5 6 7 8 9 10 11 12 " ]] || { echo "FAIL: iterations $iterations, expected 1...12 once each" >&2; exit 1; }
echo "ok: the restarted learner resumed after iteration $before; both workers reconnected and finished"
echo "PASS: systemd units"
