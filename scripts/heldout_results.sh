#!/usr/bin/env bash
# Issue 17's held-out evaluation: trains each MuJoCo environment with its preset for
# 1,000,000 steps on seeds 11-20 (seeds nothing was tuned on; tuning used 1-5), two seeds at a
# time on the cores (`--seeds 11-20 --parallel`, one process each), evaluating every 25
# iterations (5 deterministic episodes, for the curves) and the final policy over 10
# deterministic episodes. Writes, per environment, the table `--seeds` prints (each seed's
# deterministic return, the mean, the interquartile mean and the 95 % bootstrap interval) to
# $OUT/<env>.txt and the curves with their 95 % bootstrap band to $OUT/<env>-{eval,return}.svg.
# Runs go to $OUT/<env>-seed<S> (default OUT=runs/heldout); existing runs there are refused
# (pass --overwrite to replace them); further arguments go to every `trpo train`. About 2
# minutes per run per core here. With DATA=DIR (e.g. docs/data/heldout) each run's curves are
# also kept there, trimmed (scripts/trim_progress.py), with the table. With WORKERS=N each run
# is a learner with N worker processes (`--workers N`), one run at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
trpo=${TRPO:-.build/release/trpo}
out=${OUT:-runs/heldout}
envs=${ENVS:-"Hopper-v4 Walker2d-v4 HalfCheetah-v4 Swimmer-v4"}
seeds=${SEEDS:-11-20}
mkdir -p "$out"
if [[ -n ${WORKERS:-} ]]; then layout=(--workers "$WORKERS"); else layout=(--parallel); fi
for env in $envs; do
  $trpo train --env "$env" --seeds "$seeds" "${layout[@]}" --eval-every 25 --eval-episodes 5 \
      --out "$out/$env" --quiet "$@" | tee "$out/$env.txt"
  runs=("$out/$env"-seed*)
  $trpo plot "${runs[@]}" --y eval --aggregate iqm --label "$env, seeds $seeds (IQM, 95 % band)" --out "$out/$env-eval.svg"
  $trpo plot "${runs[@]}" --y return --aggregate iqm --label "$env, seeds $seeds (IQM, 95 % band)" --out "$out/$env-return.svg"
  if [[ -n ${DATA:-} ]]; then
    mkdir -p "$DATA"
    for run in "${runs[@]}"; do python3 scripts/trim_progress.py "$run" "$DATA/$(basename "$run").csv"; done
    cp "$out/$env.txt" "$DATA/$env.txt"
  fi
done
