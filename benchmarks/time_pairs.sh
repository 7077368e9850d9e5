#!/usr/bin/env bash
# Times two whole commands against each other: one warm-up run of each, then N pairs run in
# turn (A B A B ...), so a drift in the machine's speed hits both alike. Prints the median, min
# and max of each command's wall and CPU seconds (user + system, bash's `time`), and of the
# pairs' wall ratios A/B.
#   benchmarks/time_pairs.sh [-n N] 'COMMAND_A' 'COMMAND_B'     (N defaults to 5)
# Each command runs through `bash -c` with its output discarded, e.g.
#   benchmarks/time_pairs.sh -n 7 \
#     'rm -rf /tmp/a; trpo train --env CartPole-v1 --out /tmp/a --quiet --no-tensorboard' \
#     'rm -rf /tmp/b; OPENBLAS_CORETYPE=Prescott trpo train --env CartPole-v1 --out /tmp/b --quiet --no-tensorboard'
set -euo pipefail
n=5
if [[ ${1:-} == -n ]]; then n=$2; shift 2; fi
if [[ $# -ne 2 || ! $n =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [-n N] 'COMMAND_A' 'COMMAND_B'" >&2
    exit 2
fi
a=$1 b=$2
# Prints "wall cpu" for one run of the command; fails if the command fails.
run() {
    local TIMEFORMAT='%R %U %S' times
    times=$( { time bash -c "$1" > /dev/null 2>&1; } 2>&1 ) || { echo "command failed: $1" >&2; exit 1; }
    awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<< "$times"
}
run "$a" > /dev/null
run "$b" > /dev/null
rows=()
for ((i = 1; i <= n; i++)); do
    ra=$(run "$a")
    rb=$(run "$b")
    rows+=("$ra $rb")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
def line(name, values, unit="s"):
    print(f"{name:<10} median {statistics.median(values):8.3f}{unit}  min {min(values):8.3f}{unit}  max {max(values):8.3f}{unit}")
line("A wall", [r[0] for r in rows]); line("A cpu", [r[1] for r in rows])
line("B wall", [r[2] for r in rows]); line("B cpu", [r[3] for r in rows])
line("A/B wall", [r[0] / r[2] for r in rows], unit="")
print(f"({len(rows)} pairs after one warm-up run of each)")
'
