#!/usr/bin/env python3
"""CartPole-v1 reference figures for the Python peer (Gymnasium + sb3-contrib TRPO).

(a) env_step: Gymnasium's bare CartPole-v1 step rate, one env, random actions,
    reset on terminated/truncated, timed over --env-steps steps (resets included).
    Three variants:
      make+sample     gym.make("CartPole-v1") (TimeLimit, OrderEnforcing,
                      PassiveEnvChecker wrappers), action = env.action_space.sample()
      make+predrawn   same env, actions drawn beforehand into a numpy array
      unwrapped+predrawn  env.unwrapped (raw physics, no time limit; 500-step
                      truncation done by the loop), pre-drawn actions
(b) rollout: sb3-contrib TRPO collect_rollouts rate on CartPole-v1, one env
    (make_vec_env -> DummyVecEnv + Monitor), default MlpPolicy (pi/vf 64x64,
    tanh), n_steps=2048: steps/s of each collect_rollouts call (includes the
    policy forward per step, buffer add, and the GAE computation at the end).
(c) train: sb3-contrib TRPO on CartPole-v1 with RL-Zoo's tuned hyperparameters
    (rl-baselines3-zoo hyperparams/trpo.yml, CartPole-v1 entry):
      n_envs=2, policy=MlpPolicy, n_steps=512, batch_size=512, cg_damping=1e-3,
      gae_lambda=0.98, gamma=0.99, learning_rate=1e-3, n_critic_updates=20
    (everything else sb3-contrib defaults: cg_max_steps=15, target_kl=0.01,
    line_search_max_iter=10, sub_sampling_factor=1, normalize_advantage=True;
    no VecNormalize, as in the zoo entry; DummyVecEnv + Monitor via make_vec_env).
    For each seed: the number of environment steps (summed over both envs) and
    the wall time since learn() started at the first rollout end where the mean
    return of the episodes that finished during that rollout is >= 475; capped
    at 200k steps. Secondary figure (unless --primary-only): training goes on
    until sb3's own 100-episode window (ep_info_buffer, i.e. the logged
    rollout/ep_rew_mean) has mean >= 475, or the cap; its steps/time are
    recorded too. Also logged per rollout: the learning curve. Training is
    deterministic per seed, so a run disturbed by other load is rerun (up to 3
    attempts) and the fastest attempt is kept; process CPU time is recorded.
All with torch.set_num_threads(1) unless stated ((b) is also given with 2).
Every timed repeat records how many cores other processes used meanwhile
(see cpu_meter.py); contaminated repeats are retried.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_meter import CpuMeter, measured, wait_quiet  # noqa: E402
from machine_info import machine_info  # noqa: E402

from sb3_contrib import TRPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

ZOO_CARTPOLE = dict(
    n_steps=512,
    batch_size=512,
    cg_damping=1e-3,
    gae_lambda=0.98,
    gamma=0.99,
    learning_rate=1e-3,
    n_critic_updates=20,
)
ZOO_N_ENVS = 2
TARGET = 475.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def summarize(xs: list[float]) -> dict:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


# ---------------------------------------------------------------- (a) env step
def env_step_once(variant: str, n_steps: int, seed: int) -> dict:
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    if variant == "make+sample":
        env.reset(seed=seed)
        episodes = 0
        t0 = time.perf_counter()
        for _ in range(n_steps):
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            if term or trunc:
                env.reset()
                episodes += 1
        dt = time.perf_counter() - t0
    elif variant == "make+predrawn":
        actions = rng.integers(0, 2, n_steps).tolist()
        env.reset(seed=seed)
        episodes = 0
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
                episodes += 1
        dt = time.perf_counter() - t0
    elif variant == "unwrapped+predrawn":
        raw = env.unwrapped
        actions = rng.integers(0, 2, n_steps).tolist()
        raw.reset(seed=seed)
        episodes, t = 0, 0
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, _, _ = raw.step(a)
            t += 1
            if term or t >= 500:
                raw.reset()
                episodes += 1
                t = 0
        dt = time.perf_counter() - t0
    else:
        raise ValueError(variant)
    env.close()
    return {"seconds": dt, "steps_per_s": n_steps / dt, "episodes": episodes}


def bench_env_step(args) -> list[dict]:
    torch.set_num_threads(1)
    out = []
    for variant in ("make+sample", "make+predrawn", "unwrapped+predrawn"):
        env_step_once(variant, 10_000, args.seed)  # warm-up
        runs, attempts = measured(lambda: env_step_once(variant, args.env_steps, args.seed), args.repeats, 2 * args.repeats, log=_log)
        row = {
            "variant": variant,
            "steps_per_repeat": args.env_steps,
            "repeats": args.repeats,
            "attempts": attempts,
            "all_repeats_clean": all(r["clean"] for r in runs),
            "steps_per_s": summarize([r["steps_per_s"] for r in runs]),
            "runs": runs,
        }
        out.append(row)
        _log(f"# env step {variant}: median {row['steps_per_s']['median']:.0f} steps/s")
    return out


# ------------------------------------------------------------ (b) rollout rate
def bench_rollout(args) -> list[dict]:
    out = []
    for threads in args.rollout_threads:
        torch.set_num_threads(threads)
        env = make_vec_env("CartPole-v1", n_envs=1, seed=args.seed)
        model = TRPO("MlpPolicy", env, n_steps=2048, seed=args.seed, verbose=0, device="cpu")
        _, callback = model._setup_learn(total_timesteps=10**9, callback=None)

        def once():
            t0 = time.perf_counter()
            ok = model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
            dt = time.perf_counter() - t0
            assert ok
            return {"seconds": dt, "steps_per_s": model.n_steps / dt}

        once()  # warm-up
        runs, attempts = measured(once, args.repeats, 2 * args.repeats, log=_log)
        row = {
            "threads": threads,
            "n_envs": 1,
            "n_steps_per_call": model.n_steps,
            "policy": "MlpPolicy pi/vf [64,64] tanh (sb3 default)",
            "repeats": args.repeats,
            "attempts": attempts,
            "all_repeats_clean": all(r["clean"] for r in runs),
            "steps_per_s": summarize([r["steps_per_s"] for r in runs]),
            "runs": runs,
        }
        out.append(row)
        _log(f"# rollout threads={threads}: median {row['steps_per_s']['median']:.0f} steps/s")
        env.close()
    torch.set_num_threads(1)
    return out


# ------------------------------------------------------------------ (c) train
class _Reached(Exception):
    pass


class SolveWatch(BaseCallback):
    """Primary: first rollout end where the mean return of the episodes finished
    during that rollout is >= target. Secondary (only with --until-last100):
    keep training until sb3's own 100-episode window (ep_info_buffer, the
    rollout/ep_rew_mean it logs) has mean >= target, then stop."""

    def __init__(self, t_start_ref: list[float], meter: CpuMeter, target: float, until_last100: bool):
        super().__init__()
        self.t_start_ref = t_start_ref
        self.c_start = 0.0
        self.meter = meter
        self.target = target
        self.until_last100 = until_last100
        self.returns: list[float] = []
        self.curve: list[dict] = []
        self.hit: dict | None = None
        self.hit100: dict | None = None
        self.episodes_total = 0

    def _on_rollout_start(self) -> None:
        self.returns = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            ep = info.get("episode")
            if ep is not None:
                self.returns.append(float(ep["r"]))
        return True

    def _snapshot(self, now: float, mean, last100) -> dict:
        d = {
            "steps": int(self.num_timesteps),
            "wall_s": now,
            "cpu_s": time.process_time() - self.c_start,
            "rollout_mean_return": mean,
            "rollout_episodes": len(self.returns),
            "last100_mean_return": last100,
            "episodes_so_far": self.episodes_total,
            "policy_updates_so_far": int(self.model._n_updates),
        }
        d.update({k + "_so_far": v for k, v in self.meter.stop().items() if k != "own_cpu_s"})
        return d

    def _on_rollout_end(self) -> None:
        now = time.perf_counter() - self.t_start_ref[0]
        self.episodes_total += len(self.returns)
        mean = float(np.mean(self.returns)) if self.returns else None
        buf = [e["r"] for e in self.model.ep_info_buffer]
        last100 = float(np.mean(buf)) if len(buf) >= 100 else None
        self.curve.append(
            {
                "steps": int(self.num_timesteps),
                "wall_s": round(now, 4),
                "rollout_mean_return": mean,
                "rollout_episodes": len(self.returns),
                "last100_mean_return": last100,
            }
        )
        if self.hit is None and mean is not None and mean >= self.target:
            self.hit = self._snapshot(now, mean, last100)
            if not self.until_last100:
                raise _Reached
        if self.until_last100 and self.hit100 is None and last100 is not None and last100 >= self.target:
            self.hit100 = self._snapshot(now, mean, last100)
        if self.hit is not None and (not self.until_last100 or self.hit100 is not None):
            raise _Reached


def train_once(seed: int, cap: int, until_last100: bool) -> dict:
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=ZOO_N_ENVS, seed=seed)
    model = TRPO("MlpPolicy", env, seed=seed, verbose=0, device="cpu", **ZOO_CARTPOLE)
    t_ref = [0.0]
    meter = CpuMeter()
    cb = SolveWatch(t_ref, meter, TARGET, until_last100)
    meter.start()
    cb.c_start = time.process_time()
    t_ref[0] = time.perf_counter()
    try:
        model.learn(total_timesteps=cap, callback=cb)
    except _Reached:
        pass
    wall = time.perf_counter() - t_ref[0]
    load = meter.stop()
    env.close()
    res = {
        "seed": seed,
        "solved": cb.hit is not None,
        "steps": cb.hit["steps"] if cb.hit else None,
        "wall_s": cb.hit["wall_s"] if cb.hit else None,
        "cpu_s": cb.hit["cpu_s"] if cb.hit else None,
        "foreign_cores_until_hit": cb.hit["foreign_cores_so_far"] if cb.hit else None,
        "hit": cb.hit,
        "last100_solved": cb.hit100 is not None if until_last100 else None,
        "last100_steps": cb.hit100["steps"] if cb.hit100 else None,
        "last100_wall_s": cb.hit100["wall_s"] if cb.hit100 else None,
        "hit_last100": cb.hit100,
        "steps_run": int(model.num_timesteps),
        "wall_run_s": wall,
        "curve": cb.curve,
    }
    res.update(load)
    return res


def bench_train(args) -> list[dict]:
    out = []
    for seed in args.seeds:
        wait_quiet(timeout=float(os.environ.get("BENCH_MAX_WAIT", "120")))
        tries = []
        for attempt in range(3):
            r = train_once(seed, args.cap, not args.primary_only)
            # The primary figure's wall time is what must be clean.
            r["clean"] = r["foreign_cores_until_hit"] is None or r["foreign_cores_until_hit"] < 0.15
            tries.append(r)
            if r["clean"]:
                break
            _log(f"#   seed {seed}: run contaminated by other load ({r['foreign_cores_until_hit']:.2f} cores), rerunning")
            wait_quiet(timeout=float(os.environ.get("BENCH_MAX_WAIT", "120")))
        # Training is deterministic for a seed (same steps every attempt; checked
        # below), so other load can only add time: keep the fastest attempt.
        best = min(tries, key=lambda r: r["wall_s"] if r["solved"] else r["wall_run_s"])
        best["attempts"] = len(tries)
        best["steps_all_attempts"] = [t["steps"] for t in tries]
        best["wall_s_all_attempts"] = [t["wall_s"] for t in tries]
        best["cpu_s_all_attempts"] = [t["cpu_s"] for t in tries]
        best["foreign_cores_all_attempts"] = [t["foreign_cores_until_hit"] for t in tries]
        best["last100_steps_all_attempts"] = [t["last100_steps"] for t in tries]
        best["deterministic_across_attempts"] = len(set(best["steps_all_attempts"])) == 1
        # Each attempt's full curve is the same up to timing; keep only the kept one.
        for t in tries:
            if t is not best:
                t.pop("curve", None)
        out.append(best)
        _log(
            f"# train seed {seed}: solved={best['solved']} steps={best['steps']} "
            f"wall={best['wall_s'] if best['wall_s'] is None else round(best['wall_s'], 2)} s"
        )
    return out


# ------------------------------------------------------------------- main
def print_table(out: dict, f) -> None:
    m = out["machine"]
    print(f"\nCartPole-v1 | gymnasium {m['gymnasium']} | sb3-contrib {m['sb3_contrib']} | torch {m['torch']} | {m['cpu_model']}", file=f)
    if out.get("env_step"):
        print("(a) bare env step rate, 1 env, random actions, resets included:", file=f)
        for r in out["env_step"]:
            s = r["steps_per_s"]
            print(
                f"    {r['variant']:<20} min {s['min']:>9.0f}  med {s['median']:>9.0f}  max {s['max']:>9.0f} steps/s"
                f"  ({r['repeats']} x {r['steps_per_repeat']} steps)",
                file=f,
            )
    if out.get("rollout"):
        print("(b) TRPO collect_rollouts, 1 env, MlpPolicy 64x64 tanh, n_steps=2048:", file=f)
        for r in out["rollout"]:
            s = r["steps_per_s"]
            print(
                f"    threads={r['threads']}  min {s['min']:>7.0f}  med {s['median']:>7.0f}  max {s['max']:>7.0f} steps/s"
                f"  ({r['repeats']} calls)",
                file=f,
            )
    if out.get("train"):
        print(f"(c) TRPO RL-Zoo CartPole-v1 hyperparameters, 1 thread, first rollout with mean return >= {TARGET:g}:", file=f)
        for r in out["train"]:
            if r["solved"]:
                l100 = (
                    f"; last-100 mean >= {TARGET:g} at {r['last100_steps']} steps, {r['last100_wall_s']:.2f} s"
                    if r.get("last100_steps")
                    else ("; last-100 mean not reached by cap" if r.get("last100_solved") is False else "")
                )
                flag = "" if r["clean"] else f" * other load {r['foreign_cores_until_hit']:.2f} cores"
                print(
                    f"    seed {r['seed']}: {r['steps']:>7} steps  {r['wall_s']:>6.2f} s (cpu {r['cpu_s']:.2f} s)"
                    f"  ({r['hit']['policy_updates_so_far']} updates, {r['hit']['episodes_so_far']} episodes){l100}{flag}",
                    file=f,
                )
            else:
                print(f"    seed {r['seed']}: not reached within {r['steps_run']} steps ({r['wall_run_s']:.1f} s)", file=f)
        solved = [r for r in out["train"] if r["solved"]]
        if solved:
            st = [r["steps"] for r in solved]
            wt = [r["wall_s"] for r in solved]
            print(
                f"    median over solved seeds: {statistics.median(st):.0f} steps, {statistics.median(wt):.2f} s "
                f"(steps {min(st)}-{max(st)}, time {min(wt):.2f}-{max(wt):.2f} s)",
                file=f,
            )
        s100 = [r for r in out["train"] if r.get("last100_steps")]
        if s100:
            st = [r["last100_steps"] for r in s100]
            wt = [r["last100_wall_s"] for r in s100]
            print(
                f"    secondary (sb3 last-100-episode mean >= {TARGET:g}): median {statistics.median(st):.0f} steps, "
                f"{statistics.median(wt):.2f} s (steps {min(st)}-{max(st)}, time {min(wt):.2f}-{max(wt):.2f} s)",
                file=f,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=["env", "rollout", "train"], choices=["env", "rollout", "train"])
    ap.add_argument("--env-steps", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rollout-threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--cap", type=int, default=200_000)
    ap.add_argument(
        "--primary-only",
        action="store_true",
        help="stop at the primary criterion (default: go on until sb3's last-100-episode mean >= 475 or the cap)",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed for (a) and (b)")
    ap.add_argument("--json", help="write results JSON here (default: stdout)")
    args = ap.parse_args()

    info = machine_info()
    out: dict = {
        "benchmark": "sb3_contrib_cartpole",
        "description": __doc__,
        "settings": {
            "env_steps_per_repeat": args.env_steps,
            "repeats": args.repeats,
            "train_hyperparameters": dict(ZOO_CARTPOLE, n_envs=ZOO_N_ENVS, policy="MlpPolicy"),
            "train_hyperparameters_source": "rl-baselines3-zoo hyperparams/trpo.yml, CartPole-v1 (tuned) entry",
            "train_other_settings": "sb3-contrib defaults otherwise (cg_max_steps=15, target_kl=0.01, "
            "line_search_max_iter=10, sub_sampling_factor=1, normalize_advantage=True, net_arch pi/vf [64,64] tanh)",
            "train_target": f"mean return of episodes finished in the last rollout >= {TARGET}",
            "train_secondary_target": f"sb3 ep_info_buffer (last 100 episodes, rollout/ep_rew_mean) mean >= {TARGET}",
            "train_cap_steps": args.cap,
            "train_seeds": args.seeds,
            "train_threads": 1,
            "timer": "time.perf_counter",
            "bench_max_wait_s": float(os.environ.get("BENCH_MAX_WAIT", "120")),
        },
        "machine": info,
    }
    if "env" in args.parts:
        out["env_step"] = bench_env_step(args)
    if "rollout" in args.parts:
        out["rollout"] = bench_rollout(args)
    if "train" in args.parts:
        out["train"] = bench_train(args)

    print_table(out, sys.stdout if args.json else sys.stderr)
    text = json.dumps(out, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
        _log(f"wrote {args.json}")
    else:
        print(text)


if __name__ == "__main__":
    main()
