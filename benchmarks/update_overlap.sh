#!/usr/bin/env bash
# The update off the critical path (issue 14, items 1 and 4): the same Hopper run three ways, back to
# back on one machine, for every SEED:
#
#   sequential   trpo train --workers 0 --no-overlap --checkpoint-every 0   (what `trpo train` did before:
#                value fit in line, a checkpoint after every iteration, one process)
#   one-process  trpo train --workers 0                                       (value fit on a second thread
#                while the main thread samples; checkpoints every 10 s)
#   workers      trpo train --workers $WORKERS                                (the learner's value fit while
#                the worker processes sample)
#
# and, when BASELINE names another build of trpo (e.g. the one the issue measured, built from an older
# commit in a worktree):
#
#   baseline     $BASELINE train --workers 0                                 (that build's single-process run)
#
# then `trpo eval --deterministic` of each (the baseline's with its own build), and one Markdown table: wall time, its ratio to the
# sequential run of the same seed, the fraction of wall time the samplers sat idle (the sum of
# progress.csv's publish_seconds over wall_seconds; the sequential run's is its policy step, value fit
# and bookkeeping), and the deterministic return.
#
#   bash benchmarks/update_overlap.sh                       # Hopper-v4, seeds 1 2 3, 1M steps each (~30 min per seed)
#   STEPS=100000 SEEDS=1 bash benchmarks/update_overlap.sh  # a quick look
#
# Variables [defaults]: ENV [Hopper-v4]  SEEDS ["1 2 3"]  MODES ["sequential one-process workers"; baseline is added first]  STEPS [1000000]  WORKERS [2]  EPISODES [10]
#   TRPO [.build/release/trpo]  BASELINE [none]  RUNS [runs/overlap]  TABLE [benchmarks/results/update_overlap.md]
# Runs whose directory holds a finished run are kept, an unfinished one starts over; wall times
# mean something only on an otherwise idle machine (the table records the load average).
set -euo pipefail
cd "$(dirname "$0")/.."
ENV=${ENV:-Hopper-v4}
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-1000000}
WORKERS=${WORKERS:-2}
EPISODES=${EPISODES:-10}
TRPO=${TRPO:-.build/release/trpo}
BASELINE=${BASELINE:-}
RUNS=${RUNS:-runs/overlap}
TABLE=${TABLE:-benchmarks/results/update_overlap.md}
[[ -x $TRPO ]] || { echo "error: $TRPO is not built: run swift build -c release" >&2; exit 2; }
[[ -z $BASELINE || -x $BASELINE ]] || { echo "error: BASELINE=$BASELINE is not an executable" >&2; exit 2; }
mkdir -p "$RUNS"

declare -A MODE_ARGS=(
    [sequential]="--workers 0 --no-overlap --checkpoint-every 0"
    [one-process]="--workers 0"
    [workers]="--workers $WORKERS"
)
MODES=${MODES:-"sequential one-process workers"}
if [[ -n $BASELINE ]]; then
    MODE_ARGS[baseline]="--workers 0"
    MODES="baseline $MODES"
fi

# The progress.csv column `name` of the last row, or the sum over rows with `sum`; nothing when the
# file has no such column (an older build's).
column() {  # file name [sum]
    awk -F, -v name="$2" -v mode="${3:-last}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        c { if (mode == "sum") s += $c; else s = $c }
        END { if (c) printf "%s", s }' "$1"
}

rows=()
for seed in $SEEDS; do
    for mode in $MODES; do
        dir=$RUNS/$ENV-$mode-seed$seed
        binary=$TRPO
        [[ $mode == baseline ]] && binary=$BASELINE
        if [[ -f $dir/progress.csv ]] && (( $(column "$dir/progress.csv" timesteps) >= STEPS )); then
            echo "[$mode seed $seed] finished already in $dir"
        else
            load=$(cut -d' ' -f1-3 /proc/loadavg)
            echo "[$mode seed $seed] $binary train --env $ENV --seed $seed --steps $STEPS ${MODE_ARGS[$mode]} (load $load)"
            if [[ $mode == baseline ]]; then  # an older build: no --overwrite, --no-tensorboard
                rm -rf "$dir"
                # shellcheck disable=SC2086
                "$binary" train --env "$ENV" --seed "$seed" --steps "$STEPS" ${MODE_ARGS[$mode]} --out "$dir" --quiet
            else
                # shellcheck disable=SC2086
                "$binary" train --env "$ENV" --seed "$seed" --steps "$STEPS" ${MODE_ARGS[$mode]} --out "$dir" --overwrite \
                    --quiet --no-tensorboard
            fi
            echo "$load" > "$dir/loadavg-at-start"
        fi
        wall=$(column "$dir/progress.csv" wall_seconds)
        idle=$(column "$dir/progress.csv" publish_seconds sum)
        eval=$("$binary" eval --checkpoint "$dir" --deterministic --episodes "$EPISODES" --seed 12345 | tail -1)
        ret=$(sed -E 's/.*return ([-0-9.]+) ± ([0-9.]+).*/\1 ± \2/' <<< "$eval")
        rows+=("$seed|$mode|$wall|$idle|$ret|$(cat "$dir/loadavg-at-start" 2> /dev/null || echo '?')")
    done
done

{
    echo "# The update off the critical path: $ENV, $STEPS steps (issue 14)"
    echo
    echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`benchmarks/update_overlap.sh\` (ENV=$ENV SEEDS='$SEEDS' STEPS=$STEPS WORKERS=$WORKERS)"
    echo "at commit \`$(git rev-parse --short HEAD)\` on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))."
    echo
    echo "| seed | mode | command | wall s | ÷ sequential | ÷ baseline | samplers idle | deterministic return ($EPISODES episodes) | load at start |"
    echo "|---|---|---|---:|---:|---:|---:|---|---|"
    for row in "${rows[@]}"; do
        IFS='|' read -r seed mode wall idle ret load <<< "$row"
        sequential="" baseline=""
        for other in "${rows[@]}"; do
            IFS='|' read -r s2 m2 w2 _ <<< "$other"
            [[ $s2 == "$seed" && $m2 == sequential ]] && sequential=$w2
            [[ $s2 == "$seed" && $m2 == baseline ]] && baseline=$w2
        done
        command="\`${MODE_ARGS[$mode]}\`"
        [[ $mode == baseline ]] && command="\`$BASELINE ${MODE_ARGS[$mode]}\`"
        awk -v s="$seed" -v m="$mode" -v a="$command" -v w="$wall" -v i="$idle" -v q="$sequential" -v b="$baseline" \
            -v r="$ret" -v l="$load" '
            function ratio(x, y) { return y == "" ? "–" : sprintf("%.2f", x / y) }
            BEGIN { printf "| %s | %s | %s | %.1f | %s | %s | %s | %s | %s |\n", s, m, a, w, ratio(w, q), ratio(w, b),
                           i == "" ? "–" : sprintf("%.1f %%", 100 * i / w), r, l }'
    done
    echo
    echo "Samplers idle: the sum of progress.csv's \`publish_seconds\` (from a batch being complete until the next"
    echo "policy went to the samplers) over the run's wall time (– where the build does not record it). Wall: the"
    echo "learner's clock at the last iteration."
} > "$TABLE"
cat "$TABLE"
