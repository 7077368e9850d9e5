#!/usr/bin/env python3
"""Result files and the table of benchmarks/compare_sb3.sh (standard library only).

    sb3cmp_report.py ours  ...   one JSON line for a `trpo train` + `trpo eval` run, in the
                                 same shape as benchmarks/sb3_trpo.py writes for sb3-contrib
    sb3cmp_report.py table ...   every result file of one step budget -> Markdown + CSV

Result files: RESULTS/<impl>-<env>-seed<seed>.json, impl `trpo` (ours) or `sb3` (sb3-contrib).
"""
import argparse
import csv
import datetime
import json
import math
import os
import re
import statistics
import sys

FULL_STEPS = 1_000_000
EVAL_LINE = re.compile(r"(\d+) deterministic episodes: return (-?[\d.]+|nan) ± (-?[\d.]+|nan) "
                       r"\(min (-?[\d.]+), max (-?[\d.]+)\)")
NOTES = """Settings. Ours: `trpo train`'s preset for the environment (`trpo presets Hopper-v4`, the same for gym:Hopper-v5;
each run's JSON holds its `config.json`): 2,048 steps per iteration, δ 0.01 (HalfCheetah 0.04), γ 0.99, λ 0.95,
CG 25 iterations with damping 0.1 on the whole batch, value net 20 epochs of minibatch 128 at Adam 1e-3, 64×64
tanh networks, observation normalisation on, reward normalisation off; `--workers 2` (the harness's WORKERS),
each stepping 8 environment copies, no TensorBoard files. sb3-contrib: RL-Zoo's `hyperparams/trpo.yml` entry for
the -v4 environment (trpo.yml has no -v5 entry; values and source in `benchmarks/sb3_trpo.py`): 2 envs × 1,024
steps, the same γ, λ, CG, damping, critic schedule and target KL, VecNormalize on observations *and* rewards,
`torch.set_num_threads(1)`. Both stop CG early once ‖r‖² < 1e-10. Known differences besides the code: reward
normalisation (sb3 on, ours off), 16 environment copies of about 128 steps each per batch (ours) against 2 of
1,024 (sb3), and ours runs a learner and two worker processes (it may use both cores while sampling) where sb3
is one single-threaded process; the CPU column shows the cost in core-seconds. Runs went one at a time; the load
average at each run's start and end is in its JSON."""

IMPL_NAMES = {"trpo": "trpo (ours)", "sb3": "sb3-contrib TRPO"}


def read_time(path):
    """GNU time's output written with -f 'wall=%e user=%U sys=%S' (None values when absent)."""
    out = {"wall": None, "cpu": None}
    if not path or not os.path.exists(path):
        return out
    text = open(path).read()
    found = dict(re.findall(r"(wall|user|sys)=([\d.]+)", text))
    if "wall" in found:
        out["wall"] = float(found["wall"])
    if "user" in found and "sys" in found:
        out["cpu"] = round(float(found["user"]) + float(found["sys"]), 3)
    return out


def write_json(record, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(record) + "\n")
    os.replace(tmp, path)  # complete or absent: the harness skips runs whose file exists


def ours(args):
    """Our run's record from its run directory, GNU time's files and `trpo eval`'s line."""
    with open(os.path.join(args.run_dir, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"sb3cmp_report.py: {args.run_dir}/progress.csv has no iteration")
    last = rows[-1]
    steps_done = int(last["timesteps"])
    loop_wall = float(last["wall_seconds"])
    eval_text = open(args.eval_output).read()
    match = EVAL_LINE.search(eval_text)
    if not match:
        sys.exit(f"sb3cmp_report.py: no evaluation line in {args.eval_output}: {eval_text!r}")
    episodes, mean, std, low, high = match.groups()
    train, evaluation = read_time(args.train_time), read_time(args.eval_time)
    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)
    record = {
        "impl": "trpo",
        "env": args.env,
        "seed": args.seed,
        "steps": args.steps,
        "steps_done": steps_done,
        "wall_seconds": round(loop_wall, 3),          # the learner's clock at its last iteration
        "steps_per_second": round(steps_done / loop_wall, 1),
        "process_wall_seconds": train["wall"],        # whole `trpo train` command (worker start-up too)
        "process_cpu_seconds": train["cpu"],          # user+sys of it and its worker processes
        "eval_wall_seconds": evaluation["wall"],
        "eval_episodes": int(episodes),
        "eval_seed": args.eval_seed,
        "eval_deterministic": True,
        "eval_return_mean": float(mean),
        "eval_return_std": float(std),
        "eval_return_min": float(low),
        "eval_return_max": float(high),
        "eval_output": eval_text.strip(),
        "workers": args.workers,
        "loadavg_start": [float(x) for x in args.loadavg_start.split()[:3]] if args.loadavg_start else None,
        "loadavg_end": [float(x) for x in args.loadavg_end.split()[:3]] if args.loadavg_end else None,
        "configuration": config,
        "trpo_version": args.trpo_version,
        "command": args.train_command,
        "eval_command": args.eval_command,
    }
    write_json(record, args.out)


def fmt(x, digits=1):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def table(args):
    records = []
    for name in sorted(os.listdir(args.results)) if os.path.isdir(args.results) else []:
        if name.endswith(".json"):
            with open(os.path.join(args.results, name)) as f:
                records.append(json.loads(f.readline()))
    records = [r for r in records if r["steps"] == args.steps and r["env"] in args.envs
               and str(r["seed"]) in args.seeds]
    smoke = args.steps < FULL_STEPS
    episodes = "/".join(sorted({str(r["eval_episodes"]) for r in records})) or "the"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = []
    title = "# trpo beside sb3-contrib's TRPO (RL-Zoo settings), Gymnasium MuJoCo v5"
    lines.append(title + (" — SMOKE RUN" if smoke else ""))
    lines.append("")
    if smoke:
        lines.append(f"**SMOKE RUN: {args.steps:,} steps per run, not {FULL_STEPS:,}. These numbers only show "
                     "that the harness works end to end; they are not results and say nothing about either "
                     "implementation's returns or speed at the issue's budget.**")
        lines.append("")
    lines.append(f"Generated {now} by `benchmarks/compare_sb3.sh` at commit `{args.commit}` on "
                 f"{args.machine}.")
    lines.append("")
    lines.append("Command that produced this table:")
    lines.append("")
    lines.append("```sh")
    lines.append(args.command)
    lines.append("```")
    lines.append("")
    lines.append("| env | implementation | seeds | steps per run | deterministic return, mean ± sd across seeds "
                 f"| per seed (mean ± sd of {episodes} episodes) | training wall s per run (mean) | steps/s | "
                 "training command wall s | training command CPU s |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    csv_rows = []
    for env in args.envs:
        for impl in ("trpo", "sb3"):
            runs = sorted((r for r in records if r["env"] == env and r["impl"] == impl), key=lambda r: r["seed"])
            if not runs:
                lines.append(f"| {env} | {IMPL_NAMES[impl]} | 0 of {len(args.seeds)} | – | not run yet | | | | | |")
                continue
            per_seed = [r["eval_return_mean"] for r in runs]
            sd = statistics.stdev(per_seed) if len(per_seed) > 1 else float("nan")
            seeds = ",".join(str(r["seed"]) for r in runs)
            wall = mean([r["wall_seconds"] for r in runs])
            rate = mean([r["steps_per_second"] for r in runs])
            whole = mean([r.get("process_wall_seconds") for r in runs])
            cpu = mean([r.get("process_cpu_seconds") for r in runs])
            shown = "; ".join(f"s{r['seed']}: {r['eval_return_mean']:.1f} ± {r['eval_return_std']:.1f}" for r in runs)
            lines.append(f"| {env} | {IMPL_NAMES[impl]} | {seeds} ({len(runs)} of {len(args.seeds)}) | "
                         f"{runs[0]['steps_done']:,} | {statistics.fmean(per_seed):.1f} ± {fmt(sd)} | {shown} | "
                         f"{fmt(wall)} | {fmt(rate, 0)} | {fmt(whole)} | {fmt(cpu)} |")
            for r in runs:
                csv_rows.append({
                    "env": env, "impl": impl, "seed": r["seed"], "steps": r["steps"], "steps_done": r["steps_done"],
                    "eval_episodes": r["eval_episodes"], "eval_return_mean": r["eval_return_mean"],
                    "eval_return_std": r["eval_return_std"], "train_wall_seconds": r["wall_seconds"],
                    "steps_per_second": r["steps_per_second"],
                    "command_wall_seconds": r.get("process_wall_seconds"),
                    "command_cpu_seconds": r.get("process_cpu_seconds"), "smoke": smoke, "command": r["command"],
                })
    lines.append("")
    lines.append("Columns: the deterministic return of a run is the mean of its evaluation episodes (the policy's "
                 "mean action; episode k starts from `reset(seed=12345+k)` on both sides; observation "
                 "statistics frozen); mean ± sd is over the seeds' values (sample sd, n−1); `s1: m ± sd` is seed "
                 "1's mean ± the sd over its episodes (n). Training wall: ours, the learner's clock at the last "
                 "iteration (`progress.csv`); sb3, `model.learn()`; steps/s is steps over it. Training command: "
                 "from launch to the end of training, start-up included (ours: `trpo train` with its workers' "
                 "Python imports, timed by GNU time; sb3: the script from its first line, imports and model set-up "
                 "included, evaluation not); CPU is user+sys over the same span, ours including the worker "
                 "processes. Evaluation time is in each run's JSON.")
    lines.append("")
    lines.append("Per-run commands (each run's JSON in "
                 f"`{args.results}` has its exact command, versions, settings and load average):")
    lines.append("")
    lines.append("```sh")
    for template in args.templates:
        lines.append(template)
    lines.append("```")
    lines.append("")
    lines.append(" ".join(NOTES.split("\n")))
    with open(args.md, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    with open(args.csv, "w", newline="") as f:
        fields = ["env", "impl", "seed", "steps", "steps_done", "eval_episodes", "eval_return_mean",
                  "eval_return_std", "train_wall_seconds", "steps_per_second", "command_wall_seconds",
                  "command_cpu_seconds", "smoke", "command"]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(csv_rows)
    print(f"sb3cmp_report.py: {len(records)} run(s) -> {args.md}, {args.csv}" + (" (SMOKE RUN)" if smoke else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    o = sub.add_parser("ours")
    for name in ("--env", "--run-dir", "--eval-output", "--out", "--train-command", "--eval-command"):
        o.add_argument(name, required=True)
    o.add_argument("--seed", type=int, required=True)
    o.add_argument("--steps", type=int, required=True)
    o.add_argument("--eval-seed", type=int, default=12345)
    o.add_argument("--workers", type=int, required=True)
    o.add_argument("--train-time")
    o.add_argument("--eval-time")
    o.add_argument("--loadavg-start")
    o.add_argument("--loadavg-end")
    o.add_argument("--trpo-version")
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--envs", nargs="+", required=True)
    t.add_argument("--seeds", nargs="+", required=True)
    t.add_argument("--md", required=True)
    t.add_argument("--csv", required=True)
    t.add_argument("--command", required=True)
    t.add_argument("--commit", default="?")
    t.add_argument("--machine", default="?")
    t.add_argument("--templates", nargs="*", default=[])
    args = parser.parse_args()
    {"ours": ours, "table": table}[args.what](args)


if __name__ == "__main__":
    main()
