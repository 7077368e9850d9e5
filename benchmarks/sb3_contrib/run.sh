#!/usr/bin/env bash
# Runs the sb3-contrib (Python peer) reference benchmarks end to end:
#   1. setup.sh (throw-away venv outside the repo, idempotent)
#   2. trpo_update_bench.py -> benchmarks/results/sb3_contrib_trpo_update.json
#   3. cartpole_bench.py    -> benchmarks/results/sb3_contrib_cartpole.json
#   4. summarize.py         -> benchmarks/results/SUMMARY.md (Markdown tables)
# Tables go to stdout. Extra arguments go to the two scripts via
#   UPDATE_ARGS="..." CARTPOLE_ARGS="..." bash benchmarks/sb3_contrib/run.sh
# RESULTS_DIR overrides the output folder (default benchmarks/results).
# BENCH_MAX_WAIT (s, default 120): how long each timed repeat waits for the
# machine to be quiet (other processes < 0.15 cores) before running anyway.
# Takes ~15-25 min on 2 cores (longer if other work is using the CPU: repeats
# disturbed by other processes are retried).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SB3_VENV:-/tmp/trpo-sb3-venv}"
RESULTS_DIR="${RESULTS_DIR:-$HERE/../results}"
mkdir -p "$RESULTS_DIR"

SB3_VENV="$VENV" bash "$HERE/setup.sh"

if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
  echo "note: OPENBLAS_CORETYPE='${OPENBLAS_CORETYPE:-}' OPENBLAS_L2_SIZE='${OPENBLAS_L2_SIZE:-}' (left as set; recorded in the JSON)"
fi

PY="$VENV/bin/python"
# shellcheck disable=SC2086
"$PY" "$HERE/trpo_update_bench.py" --json "$RESULTS_DIR/sb3_contrib_trpo_update.json" ${UPDATE_ARGS:-}
# shellcheck disable=SC2086
"$PY" "$HERE/cartpole_bench.py" --json "$RESULTS_DIR/sb3_contrib_cartpole.json" ${CARTPOLE_ARGS:-}
"$PY" "$HERE/summarize.py" --results "$RESULTS_DIR" --out "$RESULTS_DIR/SUMMARY.md"
echo "wrote $RESULTS_DIR/SUMMARY.md"
