#!/usr/bin/env python3
"""Render benchmarks/results/sb3_contrib_*.json as a Markdown summary (stdout or --out)."""

from __future__ import annotations

import argparse
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.normpath(os.path.join(HERE, "..", "results"))


def _s(x: float) -> str:
    return f"{x:.3f}"


def update_section(d: dict) -> list[str]:
    m = d["machine"]
    lines = [
        f"## TRPO `train()` split (trpo_update_bench.py, threads {sorted({r['threads'] for r in d['results']})})",
        "",
        f"sb3-contrib {m['sb3_contrib']}, torch {m['torch']}, {m['cpu_model']} ({m['logical_cpus']} vCPUs), "
        f"measured {m['date_utc']}. Synthetic env, 11-dim obs, 3-dim Gaussian actions, pi/vf 64x64 tanh, "
        "cg_damping 0.1, critic: 10 epochs x minibatch 128, Adam 1e-3. "
        "Seconds, wall clock, min / median over the `rep` interleaved repeats (after a warm-up pass); "
        "`cpu` = median process CPU time; FVPs = Fisher-vector products done; LS = line-search iterations.",
        "",
        "| N | threads | CG mode | cg steps | subsample | policy min | policy med | (grad / CG / LS med) | critic min | critic med "
        "| critic steps | FVPs | LS | cpu policy | cpu critic | rep | clean |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in d["results"]:
        split = " / ".join(_s(r[k]["median"]) for k in ("policy_grad_s", "policy_cg_s", "policy_linesearch_s") if k in r)
        clean = "yes" if r["all_repeats_clean"] else f"no (≤{r['max_foreign_cores']:.1f} cores)"
        lines.append(
            f"| {r['samples']} | {r['threads']} | {r['cg_mode']} | {r['cg_max_steps']} | {r['sub_sampling_factor']} "
            f"| {_s(r['policy_s']['min'])} | {_s(r['policy_s']['median'])} | {split} "
            f"| {_s(r['critic_s']['min'])} | {_s(r['critic_s']['median'])} | {r['critic_minibatch_steps']} "
            f"| {','.join(map(str, r['fvp_calls']))} | {','.join(map(str, r['line_search_iters']))} "
            f"| {_s(r['policy_cpu_s']['median'])} | {_s(r['critic_cpu_s']['median'])} | {r['repeats']} | {clean} |"
        )
    if d.get("crosscheck_policy_only"):
        lines += ["", "Cross-check, whole `train()` with `n_critic_updates=0` (should match the policy column):", ""]
        for c in d["crosscheck_policy_only"]:
            lines.append(
                f"- N={c['samples']}, {c['threads']} thread(s), {c['cg_mode']} cg={c['cg_max_steps']}: "
                f"min {_s(c['train_total_s']['min'])} s, median {_s(c['train_total_s']['median'])} s"
                + ("" if c["all_repeats_clean"] else " (not all repeats clean)")
            )
    lines += ["", "Rollout collection on the synthetic env (1 thread, done once): "]
    for c in d["collection"]:
        lines.append(f"- N={c['samples']}: {c['collect_s']:.1f} s, {c['steps_per_s']:.0f} steps/s")
    return lines


def cartpole_section(d: dict) -> list[str]:
    m = d["machine"]
    lines = ["## CartPole-v1 (cartpole_bench.py)", "", f"gymnasium {m['gymnasium']}, sb3-contrib {m['sb3_contrib']}, torch {m['torch']}.", ""]
    if d.get("env_step"):
        lines += ["(a) Bare env step rate, 1 env, random actions, resets included, steps/s:", ""]
        lines += ["| variant | min | median | max | repeats x steps | clean |", "|---|---|---|---|---|---|"]
        for r in d["env_step"]:
            s = r["steps_per_s"]
            lines.append(
                f"| {r['variant']} | {s['min']:.0f} | {s['median']:.0f} | {s['max']:.0f} "
                f"| {r['repeats']} x {r['steps_per_repeat']} | {'yes' if r['all_repeats_clean'] else 'no'} |"
            )
        lines.append("")
    if d.get("rollout"):
        lines += ["(b) TRPO `collect_rollouts`, 1 env, MlpPolicy 64x64 tanh, n_steps=2048, steps/s:", ""]
        lines += ["| torch threads | min | median | max | calls | clean |", "|---|---|---|---|---|---|"]
        for r in d["rollout"]:
            s = r["steps_per_s"]
            lines.append(
                f"| {r['threads']} | {s['min']:.0f} | {s['median']:.0f} | {s['max']:.0f} | {r['repeats']} "
                f"| {'yes' if r['all_repeats_clean'] else 'no'} |"
            )
        lines.append("")
    if d.get("train"):
        hp = d["settings"]["train_hyperparameters"]
        lines += [
            "(c) TRPO training, RL-Zoo CartPole-v1 hyperparameters "
            f"(`{', '.join(f'{k}={v}' for k, v in hp.items())}`), 1 thread, cap "
            f"{d['settings']['train_cap_steps']} steps. Primary: first rollout whose finished episodes have mean "
            "return >= 475. Secondary: sb3's last-100-episode mean >= 475.",
            "",
            "| seed | steps | wall s | cpu s | updates | secondary steps | secondary wall s | attempts (walls) | clean |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in d["train"]:
            walls = ", ".join(f"{w:.1f}" for w in r["wall_s_all_attempts"] if w is not None)
            if r["solved"]:
                sec_wall = f"{r['last100_wall_s']:.2f}" if r.get("last100_wall_s") else "—"
                sec_steps = r.get("last100_steps") or (
                    f"not reached by {r['steps_run']}" if r.get("last100_solved") is False else "—"
                )
                lines.append(
                    f"| {r['seed']} | {r['steps']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
                    f"| {r['hit']['policy_updates_so_far']} | {sec_steps} "
                    f"| {sec_wall} "
                    f"| {r['attempts']} ({walls}) | {'yes' if r['clean'] else 'no'} |"
                )
            else:
                lines.append(f"| {r['seed']} | not reached ({r['steps_run']}) | | | | | | {r['attempts']} | |")
        solved = [r for r in d["train"] if r["solved"]]
        if solved:
            lines += [
                "",
                f"Median over seeds: {statistics.median(r['steps'] for r in solved):.0f} steps, "
                f"{statistics.median(r['wall_s'] for r in solved):.2f} s.",
            ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = ["# sb3-contrib TRPO reference figures", "", "Generated by `benchmarks/sb3_contrib/summarize.py` from the JSON files here.", ""]
    machine = None
    import glob

    files = sorted(glob.glob(os.path.join(args.results, "sb3_contrib_trpo_update*.json")))
    jobs = [(p, update_section) for p in files] + [(os.path.join(args.results, "sb3_contrib_cartpole.json"), cartpole_section)]
    for p, fn in jobs:
        if os.path.exists(p):
            lines += [f"<!-- {os.path.basename(p)} -->"]
            with open(p) as f:
                d = json.load(f)
            machine = machine or d["machine"]
            lines += fn(d) + [""]
    if machine:
        lines += [
            "## Machine",
            "",
            f"- CPU: {machine['cpu_model']}, {machine['logical_cpus']} vCPUs, caches {machine.get('cpu_caches_per_cpu0')}, "
            f"torch CPU capability {machine['torch_cpu_capability']}",
            f"- {machine['os']}, Python {machine['python']}",
            f"- torch {machine['torch']} ({', '.join(machine['torch_blas'])}), numpy {machine['numpy']}",
            f"- thread env vars: {machine['thread_env_vars'] or 'none set'} "
            f"(OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={machine['OPENBLAS_L2_SIZE']})",
            "",
        ]
    text = "\n".join(lines)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
