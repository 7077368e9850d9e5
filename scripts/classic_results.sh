#!/usr/bin/env bash
# Reproduces the classic-control table of docs/results.md: trains each environment with its
# preset for seeds 1-3 (one process each, one after another), then evaluates the final policy
# deterministically over 10 episodes. Prints a Markdown table; runs go to ${OUT:-runs/classic}.
set -euo pipefail
cd "$(dirname "$0")/.."
trpo=.build/release/trpo
out=${OUT:-runs/classic}
envs=${ENVS:-"CartPole-v1 Acrobot-v1 Pendulum-v1"}
seeds=${SEEDS:-"1 2 3"}
declare -A threshold=([CartPole-v1]=475 [Acrobot-v1]=-100 [Pendulum-v1]=-250)
echo "| environment | seed | steps | wall time (s) | first iteration ≥ threshold (steps) | last iteration's mean return | deterministic eval, 10 episodes |"
echo "|---|---|---|---|---|---|---|"
for env in $envs; do
  for seed in $seeds; do
    dir=$out/$env-seed$seed
    rm -rf "$dir"
    $trpo train --env "$env" --seed "$seed" --out "$dir" --quiet > /dev/null
    eval_line=$($trpo eval --checkpoint "$dir" --episodes 10 --deterministic)
    eval_ret=$(sed -E 's/.*return ([-0-9.]+ ± [0-9.]+).*/\1/' <<< "$eval_line")
    python3 - "$dir/progress.csv" "${threshold[$env]}" "$env" "$seed" "$eval_ret" <<'PY'
import csv, sys
path, thr, env, seed, ev = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = list(csv.DictReader(open(path)))
done = [r for r in rows if r["episode_return_mean"]]
first = next((r["timesteps"] for r in done if float(r["episode_return_mean"]) >= thr), "never")
last = rows[-1]
ret = float(done[-1]["episode_return_mean"])
print(f"| {env} | {seed} | {int(last['timesteps']):,} | {float(last['wall_seconds']):.1f} | {first} | {ret:.1f} | {ev} |")
PY
  done
done
