#!/usr/bin/env python3
"""Writes a run's progress.csv with the columns the results pages use, values to 6 significant
digits, so a held-out sweep's curves can be kept in docs/data/ (a full progress.csv of a 1M-step
MuJoCo run is ~230 KB; this is ~10 %).

usage: trim_progress.py RUN_DIR OUT.csv
"""
import csv
import sys

COLUMNS = ["iteration", "timesteps", "wall_seconds", "episode_return_mean", "episode_length_mean", "kl",
           "explained_variance", "policy_std", "eval_return_mean", "eval_length_mean"]


def compact(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value else f"{number:.6g}"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    run, out = sys.argv[1], sys.argv[2]
    with open(f"{run}/progress.csv", newline="") as source:
        rows = list(csv.DictReader(source))
    with open(out, "w", newline="") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([compact(row.get(c, "")) for c in COLUMNS])


if __name__ == "__main__":
    main()
