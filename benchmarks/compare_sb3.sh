#!/usr/bin/env bash
# trpo beside sb3-contrib's TRPO with RL-Zoo's settings, on Gymnasium's own MuJoCo v5 environments
# (issue 12): for every ENV and SEED, our `trpo train` + `trpo eval --deterministic`, then
# benchmarks/sb3_trpo.py (sb3-contrib, RL-Zoo settings, deterministic evaluation), one run at a
# time; then one table, benchmarks/results/sb3_comparison.md, and a CSV beside it.
#
#   bash benchmarks/compare_sb3.sh                          # the issue's job: 2 envs x 3 seeds x 1M steps
#   STEPS=20000 SEEDS=1 bash benchmarks/compare_sb3.sh      # smoke test (the table says "SMOKE RUN")
#
# Resume-safe: a run whose result file (RESULTS/<impl>-<env>-seed<seed>.json) exists is skipped, so
# the job can be stopped and started again across sessions; an interrupted run starts over (its run
# directory is overwritten). Delete a result file to redo that run. Runs go one after the other:
# wall times mean something only on an otherwise idle machine (each JSON records the load average).
#
# Variables (defaults in brackets):
#   ENVS ["Hopper-v5 HalfCheetah-v5"]  SEEDS ["1 2 3"]  STEPS [1000000]  EPISODES [10]  EVAL_SEED [12345]
#   IMPLS ["trpo sb3"]        which sides to run
#   TRPO [.build/release/trpo] our binary (built with `swift build -c release` when missing)
#   TRPO_PYTHON [.venv/bin/python] our workers' interpreter (trpo-worker package + gymnasium[mujoco];
#                             scripts/setup.sh makes .venv), passed as --python
#   WORKERS [2]               our --workers
#   SB3_VENV [/work/venv-sb3] the peer's venv, OUTSIDE the repository; created by
#                             benchmarks/sb3_contrib/setup.sh (SB3_MUJOCO=1) when it lacks a package
#   SB3_PYTHON [$SB3_VENV/bin/python]   SB3_THREADS [1] torch threads of the sb3 runs
#   RESULTS [benchmarks/results/sb3cmp/steps$STEPS]   per-run JSON files (committed)
#   RUNS [runs/sb3cmp, or runs/sb3cmp-steps$STEPS when STEPS is not 1000000]   run directories, logs
#   TABLE [benchmarks/results/sb3_comparison.md]  CSV [benchmarks/results/sb3_comparison.csv]
set -uo pipefail
cd "$(dirname "$0")/.."

# The command line that reproduces this job: the variables given, then the script.
command="bash benchmarks/compare_sb3.sh"
for v in CSV TABLE RUNS RESULTS SB3_THREADS SB3_PYTHON SB3_VENV WORKERS TRPO_PYTHON TRPO IMPLS EVAL_SEED EPISODES \
         STEPS SEEDS ENVS; do
    if [[ -n ${!v+x} ]]; then
        if [[ ${!v} =~ ^[A-Za-z0-9_./:+-]+$ ]]; then command="$v=${!v} $command"; else command="$v='${!v}' $command"; fi
    fi
done

ENVS=${ENVS:-"Hopper-v5 HalfCheetah-v5"}
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-1000000}
EPISODES=${EPISODES:-10}
EVAL_SEED=${EVAL_SEED:-12345}
IMPLS=${IMPLS:-"trpo sb3"}
TRPO=${TRPO:-.build/release/trpo}
TRPO_PYTHON=${TRPO_PYTHON:-.venv/bin/python}
WORKERS=${WORKERS:-2}
SB3_VENV=${SB3_VENV:-/work/venv-sb3}
SB3_PYTHON=${SB3_PYTHON:-$SB3_VENV/bin/python}
SB3_THREADS=${SB3_THREADS:-1}
RESULTS=${RESULTS:-benchmarks/results/sb3cmp/steps$STEPS}
if [[ $STEPS == 1000000 ]]; then RUNS=${RUNS:-runs/sb3cmp}; else RUNS=${RUNS:-runs/sb3cmp-steps$STEPS}; fi
TABLE=${TABLE:-benchmarks/results/sb3_comparison.md}
CSV=${CSV:-benchmarks/results/sb3_comparison.csv}
REPORT=(python3 benchmarks/sb3cmp_report.py)

say() { printf '[compare_sb3 %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { say "error: $*" >&2; exit 2; }

# --- prerequisites ------------------------------------------------------------------------
[[ $STEPS =~ ^[0-9]+$ && $STEPS -gt 0 ]] || die "STEPS must be a positive integer (got $STEPS)"
if [[ " $IMPLS " == *" trpo "* ]]; then
    "$TRPO_PYTHON" -c 'import trpo_worker, mujoco' 2> /dev/null \
        || die "$TRPO_PYTHON lacks the trpo-worker package or mujoco: run scripts/setup.sh, or set TRPO_PYTHON"
    if [[ ! -x $TRPO && $TRPO == .build/release/trpo ]]; then
        say "building $TRPO (swift build -c release, a few minutes)"
        swift build -c release > "${TMPDIR:-/tmp}/compare_sb3-build.log" 2>&1 \
            || die "release build failed (${TMPDIR:-/tmp}/compare_sb3-build.log)"
    fi
    [[ -x $TRPO ]] || die "no trpo binary at $TRPO (set TRPO=...)"
    trpo_version=$("$TRPO" --version 2>&1)
fi
if [[ " $IMPLS " == *" sb3 "* ]]; then
    if ! "$SB3_PYTHON" -c 'import sb3_contrib, mujoco' 2> /dev/null; then
        [[ $SB3_PYTHON == "$SB3_VENV/bin/python" ]] || die "$SB3_PYTHON lacks sb3_contrib or mujoco"
        say "installing the peer into $SB3_VENV (benchmarks/sb3_contrib/setup.sh)"
        SB3_VENV=$SB3_VENV SB3_MUJOCO=1 bash benchmarks/sb3_contrib/setup.sh || die "setting up $SB3_VENV failed"
    fi
fi
timer=()
if /usr/bin/time -f x true > /dev/null 2>&1; then timer=(/usr/bin/time -f 'wall=%e user=%U sys=%S' -o); fi
timed() {  # timed TIMEFILE CMD...: GNU time's wall/user/sys (children included) into TIMEFILE
    local file=$1; shift
    if ((${#timer[@]})); then "${timer[@]}" "$file" "$@"; else "$@"; fi
}
mkdir -p "$RESULTS" "$RUNS/logs"
(( STEPS < 1000000 )) && say "SMOKE RUN: STEPS=$STEPS (< 1,000,000); the table will say so"

# --- runs ---------------------------------------------------------------------------------
failed=()
run_trpo() {
    local env=$1 seed=$2 name="trpo-$1-seed$2"
    local dir=$RUNS/$name log=$RUNS/logs/$name
    local train=("$TRPO" train --env "gym:$env" --workers "$WORKERS" --seed "$seed" --steps "$STEPS"
                 --out "$dir" --python "$TRPO_PYTHON" --no-tensorboard)
    local eval=("$TRPO" eval --checkpoint "$dir" --deterministic --episodes "$EPISODES" --seed "$EVAL_SEED"
                --python "$TRPO_PYTHON")
    [[ -e $dir ]] && { say "$name: an interrupted run is in $dir: starting it over"; train+=(--overwrite); }
    local load0; load0=$(cat /proc/loadavg 2> /dev/null)
    say "$name: ${train[*]}"
    timed "$log.train.time" "${train[@]}" > "$log.train.log" 2>&1 \
        || { say "$name: training failed (log: $log.train.log)"; tail -5 "$log.train.log"; return 1; }
    local load1; load1=$(cat /proc/loadavg 2> /dev/null)
    say "$name: ${eval[*]}"
    timed "$log.eval.time" "${eval[@]}" > "$log.eval.out" 2> "$log.eval.err" \
        || { say "$name: evaluation failed (log: $log.eval.err)"; tail -5 "$log.eval.err"; return 1; }
    "${REPORT[@]}" ours --env "$env" --seed "$seed" --steps "$STEPS" --eval-seed "$EVAL_SEED" --workers "$WORKERS" \
        --run-dir "$dir" --train-time "$log.train.time" --eval-time "$log.eval.time" --eval-output "$log.eval.out" \
        --loadavg-start "$load0" --loadavg-end "$load1" --trpo-version "${trpo_version:-}" \
        --train-command "${train[*]}" --eval-command "${eval[*]}" --out "$RESULTS/$name.json" || return 1
    say "$name: $(cat "$log.eval.out")"
}
run_sb3() {
    local env=$1 seed=$2 name="sb3-$1-seed$2"
    local log=$RUNS/logs/$name
    local cmd=("$SB3_PYTHON" benchmarks/sb3_trpo.py --env "$env" --seed "$seed" --steps "$STEPS"
               --episodes "$EPISODES" --eval-seed "$EVAL_SEED" --threads "$SB3_THREADS"
               --save "$RUNS/$name" --out "$RESULTS/$name.json")
    say "$name: ${cmd[*]}"
    timed "$log.time" "${cmd[@]}" > "$log.log" 2>&1 \
        || { say "$name: failed (log: $log.log)"; tail -5 "$log.log"; return 1; }
    say "$name: $(tail -1 "$log.log")"
}
for env in $ENVS; do
    for seed in $SEEDS; do
        for impl in $IMPLS; do
            name="$impl-$env-seed$seed"
            if [[ -f $RESULTS/$name.json ]]; then say "$name: done already ($RESULTS/$name.json), skipped"; continue; fi
            case $impl in
                trpo) run_trpo "$env" "$seed" || failed+=("$name") ;;
                sb3) run_sb3 "$env" "$seed" || failed+=("$name") ;;
                *) die "unknown implementation $impl (IMPLS: trpo, sb3)" ;;
            esac
        done
    done
done

# --- the table ----------------------------------------------------------------------------
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | sed 's/.*: //'))"
commit=$(git rev-parse --short HEAD 2> /dev/null || echo '?')
# shellcheck disable=SC2206
"${REPORT[@]}" table --results "$RESULTS" --steps "$STEPS" --envs $ENVS --seeds $SEEDS --md "$TABLE" --csv "$CSV" \
    --command "$command" --commit "$commit" --machine "$machine" --templates \
    "$TRPO train --env gym:\$ENV --workers $WORKERS --seed \$SEED --steps $STEPS --out $RUNS/trpo-\$ENV-seed\$SEED --python $TRPO_PYTHON --no-tensorboard" \
    "$TRPO eval --checkpoint $RUNS/trpo-\$ENV-seed\$SEED --deterministic --episodes $EPISODES --seed $EVAL_SEED --python $TRPO_PYTHON" \
    "$SB3_PYTHON benchmarks/sb3_trpo.py --env \$ENV --seed \$SEED --steps $STEPS --episodes $EPISODES --eval-seed $EVAL_SEED --threads $SB3_THREADS --save $RUNS/sb3-\$ENV-seed\$SEED --out $RESULTS/sb3-\$ENV-seed\$SEED.json" \
    || die "writing the table failed"
if ((${#failed[@]})); then say "failed: ${failed[*]} (rerun the same command to retry them)"; exit 1; fi
say "all runs done"
