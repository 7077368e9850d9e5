#!/usr/bin/env python3
"""Evaluates every checkpoint a run kept (`trpo train --keep-every K`) with `trpo eval`.

Usage: scripts/eval_kept.py RUN_DIR [--episodes N] [--deterministic] [--seed S] [--out DIR]
       [--trpo PATH] [--every M]

Writes DIR/progress.csv (default DIR = RUN_DIR/kept-eval) with one row per kept checkpoint,
`iteration,timesteps,eval_return_mean,eval_return_std,eval_episodes` (the columns `trpo plot
--y eval` reads), and copies the run's config.json beside it, so `trpo plot RUN_DIR/kept-eval
--y eval` draws the curve. Every checkpoint is evaluated on the same episodes (`--seed`),
stochastically unless --deterministic: the policy's return as training samples it, which
compares runs whose training returns mean different things (a vine's trunks, a single path's
batches). Checkpoints evaluated before (rows already in the CSV for the same settings) are
kept, so the script can follow a run that is still training.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys

COLUMNS = ["iteration", "timesteps", "eval_return_mean", "eval_return_std", "eval_episodes"]
RESULT = re.compile(r"\((?P<steps>[\d,]+) steps\), (?P<episodes>\d+) \w+ episodes?: return (?P<mean>\S+) ± (?P<std>\S+)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--every", type=int, default=1, help="evaluate every M-th kept checkpoint")
    parser.add_argument("--out")
    parser.add_argument("--trpo", default=os.environ.get("TRPO", ".build/release/trpo"))
    args = parser.parse_args()

    kept = os.path.join(args.run, "checkpoints")
    if not os.path.isdir(kept):
        sys.exit(f"error: {kept} does not exist: train (or --resume) the run with --keep-every K")
    iterations = sorted(int(name.split("-", 1)[1]) for name in os.listdir(kept)
                        if re.fullmatch(r"iteration-\d+", name))[::args.every]
    out = args.out or os.path.join(args.run, "kept-eval")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(args.run, "config.json"), os.path.join(out, "config.json"))
    settings = {"episodes": args.episodes, "deterministic": args.deterministic, "seed": args.seed}
    settings_file = os.path.join(out, "settings.json")
    path = os.path.join(out, "progress.csv")
    rows = {}
    if os.path.exists(path) and os.path.exists(settings_file) and json.load(open(settings_file)) == settings:
        with open(path) as f:
            rows = {int(row["iteration"]): row for row in csv.DictReader(f)}
    for iteration in iterations:
        if iteration in rows:
            continue
        command = [args.trpo, "eval", "--checkpoint", os.path.join(kept, f"iteration-{iteration}"),
                   "--episodes", str(args.episodes), "--seed", str(args.seed)]
        if args.deterministic:
            command.append("--deterministic")
        result = subprocess.run(command, capture_output=True, text=True)
        match = RESULT.search(result.stdout)
        if result.returncode != 0 or not match:
            sys.exit(f"error: {' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-300:]}")
        rows[iteration] = {"iteration": iteration, "timesteps": match["steps"].replace(",", ""),
                           "eval_return_mean": match["mean"], "eval_return_std": match["std"],
                           "eval_episodes": match["episodes"]}
        print(f"iteration {iteration}: {match['mean']} ± {match['std']}", flush=True)
        write(path, rows)
        with open(settings_file, "w") as f:
            json.dump(settings, f)
    write(path, rows)


def write(path, rows):
    """Writes the rows in iteration order, atomically."""
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for iteration in sorted(rows):
            writer.writerow({k: rows[iteration][k] for k in COLUMNS})
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
