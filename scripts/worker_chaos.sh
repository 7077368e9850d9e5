#!/usr/bin/env bash
# Workers that know nothing but the endpoint, as a user starts them on several machines: a
# learner (CartPole-v1, 150,000 steps), N plain `trpo worker`s (no --worker-id), garbage at the
# endpoint (raw bytes, then malformed messages), one worker SIGKILLed at iteration 5. Prints
# the exit statuses, how long the workers outlived the learner, and the run's best return.
# Usage: scripts/worker_chaos.sh N PORT (ENVS=E gives each worker --envs E); after scripts/setup.sh.
set -u
cd "$(dirname "$0")/.."; B=${TRPO_BIN:-$PWD/.build/release/trpo}; PY=${TRPO_PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d); cd "$work"; echo "logs and run in $work"
n=$1; port=$2; out=run$n
start=$(date +%s.%N)
$B learner --bind tcp://127.0.0.1:$port --env CartPole-v1 --steps 150000 --out $out --quiet > learner$n.log 2>&1 &
learner=$!
pids=()
for i in $(seq 1 $n); do $B worker --connect tcp://127.0.0.1:$port --quiet ${ENVS:+--envs $ENVS} > w$n-$i.log 2>&1 & pids+=($!); done
sleep 1
exec 3<>/dev/tcp/127.0.0.1/$port && printf 'garbage\xab\xab\xab not ZMTP at all' >&3 && exec 3>&-   # raw bytes
$PY - <<PYEOF
import zmq; s=zmq.Context().socket(zmq.DEALER); s.connect("tcp://127.0.0.1:$port")
s.send_multipart([b"\xab"*37]); s.send_multipart([b"TRPO\x04\x00\x63\x00"])   # junk, unknown kind 99
print("garbage reply:", s.poll(3000) and s.recv_multipart()[0][:8])
PYEOF
while [ "$(tail -n +2 $out/progress.csv 2>/dev/null | wc -l)" -lt 5 ]; do sleep 0.2; done
kill -KILL ${pids[0]}; echo "SIGKILLed worker pid ${pids[0]} at iteration $(tail -n +2 $out/progress.csv | wc -l)"
wait $learner; lrc=$?; lend=$(date +%s.%N)
for p in "${pids[@]:1}"; do wait $p; echo -n "worker rc=$? "; done; wend=$(date +%s.%N); echo
echo "learner rc=$lrc, run $(echo "$lend - $start" | bc) s, last worker exited $(echo "$wend - $lend" | bc) s after the learner"
python3 - <<PYEOF
import csv; r=list(csv.DictReader(open("$out/progress.csv")))
best=max(float(x["episode_return_mean"] or 0) for x in r)
first=next((x["timesteps"] for x in r if x["episode_return_mean"] and float(x["episode_return_mean"])>=475), None)
print(f"iterations {len(r)}, best mean return {best}, first >= 475 at {first} steps, workers_alive at end {r[-1]['workers_alive']}, rejected_messages {r[-1]['rejected_messages']}")
PYEOF
grep -h "assigned\|registered with" w$n-*.log | head -3
grep -h "rejected\|refused\|malformed" learner$n.log | head -3
