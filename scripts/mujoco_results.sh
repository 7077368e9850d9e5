#!/usr/bin/env bash
# Reproduces the MuJoCo table of docs/results.md: trains each environment with its preset for
# 1,000,000 steps on seeds 1-3 (one process each, one after another), then evaluates the final
# policy deterministically over 10 episodes. Prints a Markdown table; runs go to
# ${OUT:-runs/mujoco}. About 2-4 minutes per run on one core of this project's machines.
set -euo pipefail
cd "$(dirname "$0")/.."
trpo=.build/release/trpo
out=${OUT:-runs/mujoco}
envs=${ENVS:-"Hopper-v4 Walker2d-v4 HalfCheetah-v4 Swimmer-v4"}
seeds=${SEEDS:-"1 2 3"}
echo "| environment | seed | wall time | last iteration's mean return (stochastic) | deterministic eval, 10 episodes |"
echo "|---|---|---|---|---|"
for env in $envs; do
  for seed in $seeds; do
    dir=$out/$env-seed$seed
    rm -rf "$dir"
    $trpo train --env "$env" --seed "$seed" --out "$dir" --quiet > /dev/null
    eval_ret=$($trpo eval --checkpoint "$dir" --episodes 10 --deterministic | sed -E 's/.*return ([-0-9.]+ ± [0-9.]+).*/\1/')
    python3 - "$dir/progress.csv" "$env" "$seed" "$eval_ret" <<'PY'
import csv, sys
path, env, seed, ev = sys.argv[1:5]
rows = list(csv.DictReader(open(path)))
done = [r for r in rows if r["episode_return_mean"]]
wall = float(rows[-1]["wall_seconds"])
print(f"| {env} | {seed} | {int(wall // 60)} min {int(wall % 60)} s | {float(done[-1]['episode_return_mean']):.1f} | {ev} |")
PY
  done
done
