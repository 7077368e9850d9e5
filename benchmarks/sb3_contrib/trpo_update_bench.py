#!/usr/bin/env python3
"""Time one sb3-contrib TRPO ``train()`` step, split into policy update and critic fit.

Setting (matches the trpo project's reference workload):
  * synthetic continuous-control env: 11-dim Gaussian-noise observations,
    3-dim Box(-1, 1) actions, reward = -||a - 0.5 * obs[:3]||^2, episodes
    truncated after 1000 steps (collection is cheap, learning is irrelevant);
  * MlpPolicy, net_arch=dict(pi=[64, 64], vf=[64, 64]), tanh, separate nets;
  * one rollout buffer of N samples (n_envs=1, n_steps=N), filled ONCE with
    ``model.collect_rollouts`` (so returns/advantages are real GAE values);
  * cg_damping=0.1, target_kl=0.01 (default), line_search_max_iter=10 (default),
    n_critic_updates=10 and batch_size=128 (sb3-contrib defaults), Adam lr=1e-3;
  * grid: N in {32768, 50000} x cg_max_steps in {10, 15} x sub_sampling_factor
    in {1, 10} x torch threads in {1, 2}.

How the split is measured (instrumentation, not a re-implementation): the
model's own ``TRPO.train`` runs unchanged; we only wrap, on the instance,
  * ``rollout_buffer.get``  -> the first call with a batch size (the critic
    loop's ``for rollout_data in self.rollout_buffer.get(self.batch_size)``)
    marks the end of the policy update and the start of the critic fit;
  * ``hessian_vector_product`` -> counts Fisher-vector products and marks the
    CG phase (first FVP start .. last FVP end; the last FVP is the one used for
    the maximal step length);
  * ``policy.get_distribution`` -> counts forward passes (2 before the step,
    then one per line-search iteration);
  * ``policy.optimizer.step`` -> counts critic minibatch steps.
So: policy = train() start .. critic start (buffer flatten/fetch, old/new
distribution, surrogate + KL gradients, CG, line search); critic = critic
start .. train() end (n_critic_updates epochs of minibatch Adam, plus the
negligible explained-variance/logging tail). Before every timed call the
policy/optimizer state and the un-flattened rollout buffer are restored, so
every repeat does exactly the same work as a real train() right after a
rollout (including the buffer's swap_and_flatten). As a cross-check, the
whole train() is also timed with n_critic_updates=0 (policy only).

CG modes (--cg-mode, both by default):
  * "full": sb3-contrib's own solver, called with residual_tol=0 so it always
    runs exactly cg_max_steps iterations -> 1 (initial residual) + cg_max_steps
    + 1 (maximal step length) = cg_max_steps + 2 Fisher-vector products. This
    is the like-for-like figure for an implementation with a fixed CG count.
  * "sb3": completely unmodified sb3-contrib (early exit when the squared
    residual < 1e-10). On this synthetic problem the damped Fisher is well
    conditioned (fresh network, action head initialised with gain 0.01), so
    CG usually stops after ~7-9 iterations and cg_max_steps=10 vs 15 differ
    little; the FVP count actually done is reported.
The only patch is that one keyword (via the module global
sb3_contrib.trpo.trpo.conjugate_gradient_solver); everything else is stock.

Note: sb3-contrib's sub_sampling_factor subsamples the batch for the WHOLE
policy update (gradient, Fisher-vector products and line search), not only
for the Fisher-vector product.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_meter import measured  # noqa: E402
from machine_info import machine_info  # noqa: E402

import sb3_contrib.trpo.trpo as sb3_trpo_module  # noqa: E402
import warnings  # noqa: E402
from sb3_contrib import TRPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

OBS_DIM = 11
ACT_DIM = 3
BUFFER_ARRAYS = ("observations", "actions", "rewards", "returns", "episode_starts", "values", "log_probs", "advantages")


class SyntheticEnv(gym.Env):
    metadata: dict = {"render_modes": []}

    def __init__(self, episode_len: int = 1000):
        super().__init__()
        self.observation_space = spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)
        self.episode_len = episode_len
        self._t = 0
        self._obs = np.zeros(OBS_DIM, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._obs = self.np_random.standard_normal(OBS_DIM).astype(np.float32)
        return self._obs, {}

    def step(self, action):
        reward = -float(np.sum((np.asarray(action) - 0.5 * self._obs[:ACT_DIM]) ** 2))
        self._t += 1
        self._obs = self.np_random.standard_normal(OBS_DIM).astype(np.float32)
        return self._obs, reward, False, self._t >= self.episode_len, {}


def build_model(n_samples: int, seed: int) -> TRPO:
    env = DummyVecEnv([lambda: SyntheticEnv()])
    env.seed(seed)
    return TRPO(
        "MlpPolicy",
        env,
        n_steps=n_samples,
        batch_size=128,
        n_critic_updates=10,
        cg_max_steps=10,
        cg_damping=0.1,
        sub_sampling_factor=1,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh),
        seed=seed,
        verbose=0,
        device="cpu",
    )


_ORIG_CG = sb3_trpo_module.conjugate_gradient_solver
_CG_MODE = {"mode": "sb3"}


def _cg_solver(matrix_vector_dot_fn, b, max_iter=10, residual_tol=1e-10):
    if _CG_MODE["mode"] == "full":
        residual_tol = 0.0
    return _ORIG_CG(matrix_vector_dot_fn, b, max_iter=max_iter, residual_tol=residual_tol)


sb3_trpo_module.conjugate_gradient_solver = _cg_solver


class Probe:
    """Instance-level wrappers around the pieces of TRPO.train we time/count."""

    def __init__(self, model: TRPO):
        self.model = model
        self.reset()
        buf = model.rollout_buffer
        orig_get = buf.get
        orig_hvp = model.hessian_vector_product
        orig_dist = model.policy.get_distribution
        orig_step = model.policy.optimizer.step

        def get(batch_size=None):
            if batch_size is not None and self.t_critic is None:
                self.t_critic = time.perf_counter()
                self.c_critic = time.process_time()
            return orig_get(batch_size)

        def hvp(*args, **kwargs):
            t = time.perf_counter()
            if self.t_hvp_first is None:
                self.t_hvp_first = t
            out = orig_hvp(*args, **kwargs)
            self.t_hvp_last_end = time.perf_counter()
            self.hvp_calls += 1
            return out

        def get_distribution(*args, **kwargs):
            self.dist_calls += 1
            return orig_dist(*args, **kwargs)

        def step(*args, **kwargs):
            self.critic_steps += 1
            return orig_step(*args, **kwargs)

        buf.get = get
        model.hessian_vector_product = hvp
        model.policy.get_distribution = get_distribution
        model.policy.optimizer.step = step

    def reset(self):
        self.t_critic = None
        self.c_critic = None
        self.t_hvp_first = None
        self.t_hvp_last_end = None
        self.hvp_calls = 0
        self.dist_calls = 0
        self.critic_steps = 0


class Snapshot:
    """Policy + optimizer + un-flattened rollout buffer right after collection."""

    def __init__(self, model: TRPO):
        buf = model.rollout_buffer
        assert not buf.generator_ready
        self.arrays = {k: getattr(buf, k).copy() for k in BUFFER_ARRAYS}
        self.policy = copy.deepcopy(model.policy.state_dict())
        self.optim = copy.deepcopy(model.policy.optimizer.state_dict())
        self.n_updates = model._n_updates

    def restore(self, model: TRPO):
        buf = model.rollout_buffer
        for k, v in self.arrays.items():
            setattr(buf, k, v.copy())
        buf.generator_ready = False
        model.policy.load_state_dict(self.policy)
        model.policy.optimizer.load_state_dict(copy.deepcopy(self.optim))
        model._n_updates = self.n_updates


def timed_train(model: TRPO, probe: Probe, snap: Snapshot, seed: int) -> dict:
    snap.restore(model)
    # Same CG start vector (torch RNG) and critic minibatch order (numpy RNG) every repeat.
    torch.manual_seed(seed)
    np.random.seed(seed)
    probe.reset()
    c0 = time.process_time()
    t0 = time.perf_counter()
    model.train()
    t1 = time.perf_counter()
    c1 = time.process_time()
    t_split = probe.t_critic if probe.t_critic is not None else t1
    c_split = probe.c_critic if probe.c_critic is not None else c1
    rec = {
        "total_s": t1 - t0,
        "policy_s": t_split - t0,
        "critic_s": t1 - t_split,
        "policy_cpu_s": c_split - c0,
        "critic_cpu_s": c1 - c_split,
        "fvp_calls": probe.hvp_calls,
        "line_search_iters": max(probe.dist_calls - 2, 0),
        "critic_minibatch_steps": probe.critic_steps,
    }
    if probe.t_hvp_first is not None:
        rec["policy_grad_s"] = probe.t_hvp_first - t0
        rec["policy_cg_s"] = probe.t_hvp_last_end - probe.t_hvp_first
        rec["policy_linesearch_s"] = t_split - probe.t_hvp_last_end
    vals = model.logger.name_to_value
    rec["line_search_success"] = float(vals.get("train/is_line_search_success", float("nan")))
    rec["kl"] = float(vals.get("train/kl_divergence_loss", float("nan")))
    return rec


_STOP = {"requested": False}


def _request_stop(signum, frame) -> None:
    # SIGTERM/SIGINT (e.g. `timeout`): finish the current train() call, then
    # write the rows measured so far (with fewer repeats) instead of nothing.
    _STOP["requested"] = True
    _log(f"# signal {signum}: stopping after the current measurement, writing what was measured")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def summarize(runs: list[dict], key: str) -> dict:
    xs = [r[key] for r in runs]
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def build_output(args, info, collection, results, crosschecks) -> dict:
    out = {
        "benchmark": "sb3_contrib_trpo_update",
        "description": "sb3-contrib TRPO.train() split into policy update (grad+CG+line search) and critic fit",
        "settings": {
            "obs_dim": OBS_DIM,
            "act_dim": ACT_DIM,
            "action_distribution": "DiagGaussian (state-independent log_std)",
            "net_arch": {"pi": [64, 64], "vf": [64, 64]},
            "activation": "tanh",
            "cg_damping": 0.1,
            "target_kl": 0.01,
            "line_search_max_iter": 10,
            "line_search_shrinking_factor": 0.8,
            "n_critic_updates": 10,
            "critic_batch_size": 128,
            "critic_optimizer": "Adam lr=1e-3",
            "n_envs": 1,
            "buffer_fill": "model.collect_rollouts once on the synthetic env (GAE gamma=0.99, lambda=0.95)",
            "cg_modes": {
                "full": "sb3 solver with residual_tol=0: exactly cg_max_steps iterations, cg_max_steps+2 FVPs",
                "sb3": "unmodified sb3-contrib (early exit at squared residual < 1e-10)",
            },
            "split_method": "instance wrappers: critic starts at the first rollout_buffer.get(batch_size) call inside train()",
            "timer": "time.perf_counter, min/median/max over repeats after one warm-up pass over all configs; "
            "repeats interleaved (each round runs every config once, shuffled order); state restored before each call",
            "contamination": "each repeat records the cores other processes used meanwhile (/proc/stat); repeats with "
            ">= 0.15 foreign cores are retried once; before each attempt we wait up to "
            "BENCH_MAX_WAIT (120) s for a quiet 0.5 s window. policy_cpu_s/critic_cpu_s are process CPU time "
            "(time.process_time, all threads): with 1 thread a contention-robust stand-in when repeats are not clean",
            "bench_max_wait_s": float(os.environ.get("BENCH_MAX_WAIT", "120")),
            "seed": args.seed,
        },
        "machine": info,
        "collection": collection,
        "results": results,
        "crosscheck_policy_only": crosschecks,
        "stopped_early": _STOP["requested"],
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[32768, 50000])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cg-steps", type=int, nargs="+", default=[10, 15])
    ap.add_argument("--sub-sampling", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--cg-mode", nargs="+", default=["full", "sb3"], choices=["full", "sb3"])
    ap.add_argument(
        "--sb3-mode-all-ss",
        action="store_true",
        help="also run the unmodified-CG ('sb3') mode for every sub-sampling factor (default: only the first)",
    )
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-crosscheck", action="store_true", help="skip the n_critic_updates=0 cross-check")
    ap.add_argument("--json", help="write results JSON here (default: stdout)")
    args = ap.parse_args()
    assert args.repeats >= 1

    import signal

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    info = machine_info()
    results = []
    crosschecks = []
    collection = []
    for n in args.samples:
        if _STOP["requested"]:
            break
        torch.set_num_threads(1)
        model = build_model(n, args.seed)
        total, callback = model._setup_learn(total_timesteps=n, callback=None)
        t0 = time.perf_counter()
        ok = model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=n)
        dt = time.perf_counter() - t0
        assert ok and model.rollout_buffer.full
        collection.append({"samples": n, "collect_s": dt, "steps_per_s": n / dt, "threads": 1})
        print(f"# N={n}: rollout collected in {dt:.1f} s ({n / dt:.0f} steps/s, 1 thread)", file=sys.stderr)
        snap = Snapshot(model)
        probe = Probe(model)

        # Every (threads, cg mode, cg steps, sub-sampling) config, plus the
        # n_critic_updates=0 cross-check. Repeats are interleaved: each round
        # runs every config once (in a round-specific shuffled order), so a slow
        # spell of the (shared, virtual) machine hits all configs alike instead
        # of a few rows.
        configs = [
            (threads, mode, cg, ss, 10)
            for threads in args.threads
            for mode in args.cg_mode
            for cg in args.cg_steps
            for ss in (args.sub_sampling if mode == "full" or args.sb3_mode_all_ss else args.sub_sampling[:1])
        ]
        if not args.no_crosscheck:
            configs += [(threads, args.cg_mode[0], args.cg_steps[0], 1, 0) for threads in args.threads]
        runs = {c: [] for c in configs}
        attempts = {c: 0 for c in configs}

        def apply(cfg):
            threads, mode, cg, ss, ncu = cfg
            torch.set_num_threads(threads)
            _CG_MODE["mode"] = mode
            model.cg_max_steps = cg
            model.sub_sampling_factor = ss
            model.n_critic_updates = ncu

        with warnings.catch_warnings():  # np.mean of the empty value-loss list when n_critic_updates=0
            warnings.simplefilter("ignore", RuntimeWarning)
            for _ in range(args.warmup):
                for cfg in configs:
                    if _STOP["requested"]:
                        break
                    apply(cfg)
                    timed_train(model, probe, snap, args.seed)
            rng = np.random.default_rng(1000 + n)
            for rnd in range(args.repeats):
                t_round = time.perf_counter()
                if _STOP["requested"]:
                    break
                for i in rng.permutation(len(configs)):
                    if _STOP["requested"]:
                        break
                    cfg = configs[i]
                    apply(cfg)
                    got, att = measured(lambda: timed_train(model, probe, snap, args.seed), 1, 1, log=_log)
                    runs[cfg] += got
                    attempts[cfg] += att
                _log(f"# N={n}: round {rnd + 1}/{args.repeats} done in {time.perf_counter() - t_round:.0f} s")
                if args.json:  # raw progress, in case the run is cut short
                    with open(f"{args.json}.N{n}.partial", "w") as f:
                        json.dump({"samples": n, "round": rnd + 1, "runs": {repr(c): r for c, r in runs.items()}}, f)

        for cfg in configs:
            threads, mode, cg, ss, ncu = cfg
            rs = runs[cfg]
            if not rs:
                continue
            if ncu == 0:
                crosschecks.append(
                    {
                        "samples": n,
                        "threads": threads,
                        "cg_mode": mode,
                        "cg_max_steps": cg,
                        "sub_sampling_factor": ss,
                        "n_critic_updates": 0,
                        "repeats": len(rs),
                        "train_total_s": summarize(rs, "total_s"),
                        "all_repeats_clean": all(r["clean"] for r in rs),
                    }
                )
                continue
            row = {
                "samples": n,
                "threads": threads,
                "cg_mode": mode,
                "cg_max_steps": cg,
                "sub_sampling_factor": ss,
                "policy_samples": len(range(0, n, ss)),
                "repeats": len(rs),
                "warmup": args.warmup,
                "attempts": attempts[cfg],
                "all_repeats_clean": all(r["clean"] for r in rs),
                "max_foreign_cores": max(r["foreign_cores"] for r in rs),
                "policy_s": summarize(rs, "policy_s"),
                "critic_s": summarize(rs, "critic_s"),
                "policy_cpu_s": summarize(rs, "policy_cpu_s"),
                "critic_cpu_s": summarize(rs, "critic_cpu_s"),
                "total_s": summarize(rs, "total_s"),
                "fvp_calls": sorted({r["fvp_calls"] for r in rs}),
                "line_search_iters": sorted({r["line_search_iters"] for r in rs}),
                "critic_minibatch_steps": rs[0]["critic_minibatch_steps"],
                "runs": rs,
            }
            for k in ("policy_grad_s", "policy_cg_s", "policy_linesearch_s"):
                if k in rs[0]:
                    row[k] = summarize(rs, k)
            results.append(row)

    out = build_output(args, info, collection, results, crosschecks)
    print_table(out, sys.stdout if args.json else sys.stderr)
    text = json.dumps(out, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
        for n in args.samples:
            if os.path.exists(f"{args.json}.N{n}.partial"):
                os.remove(f"{args.json}.N{n}.partial")
    else:
        print(text)


def print_table(out: dict, f) -> None:
    m = out["machine"]
    print(f"\nsb3-contrib {m['sb3_contrib']} TRPO train() | torch {m['torch']} | {m['cpu_model']}", file=f)
    hdr = (
        f"{'N':>6} {'thr':>3} {'mode':>4} {'cg':>3} {'ss':>3} | {'policy min':>10} {'med':>7} | "
        f"{'grad':>6} {'CG':>6} {'LS':>6} | {'critic min':>10} {'med':>7} | {'total med':>9} | "
        f"{'FVPs':>4} {'LSit':>4} {'critic steps':>12} | {'cpu pol':>7} {'cpu crit':>8}"
    )
    print(hdr, file=f)
    print("-" * len(hdr), file=f)
    for r in out["results"]:
        g = r.get("policy_grad_s", {}).get("median", float("nan"))
        c = r.get("policy_cg_s", {}).get("median", float("nan"))
        ls = r.get("policy_linesearch_s", {}).get("median", float("nan"))
        print(
            f"{r['samples']:>6} {r['threads']:>3} {r['cg_mode']:>4} {r['cg_max_steps']:>3} {r['sub_sampling_factor']:>3} | "
            f"{r['policy_s']['min']:>9.3f}s {r['policy_s']['median']:>6.3f}s | "
            f"{g:>5.3f}s {c:>5.3f}s {ls:>5.3f}s | "
            f"{r['critic_s']['min']:>9.3f}s {r['critic_s']['median']:>6.3f}s | {r['total_s']['median']:>8.3f}s | "
            f"{','.join(map(str, r['fvp_calls'])):>4} {','.join(map(str, r['line_search_iters'])):>4} {r['critic_minibatch_steps']:>12} | "
            f"{r['policy_cpu_s']['median']:>6.3f}s {r['critic_cpu_s']['median']:>7.3f}s"
            + ("" if r["all_repeats_clean"] else f"  * other load up to {r['max_foreign_cores']:.2f} cores"),
            file=f,
        )
    if out["crosscheck_policy_only"]:
        print("cross-check, whole train() with n_critic_updates=0 (first cg mode and cg steps, ss=1):", file=f)
        for c in out["crosscheck_policy_only"]:
            print(
                f"  N={c['samples']} thr={c['threads']} {c['cg_mode']} cg={c['cg_max_steps']}: "
                f"min {c['train_total_s']['min']:.3f}s med {c['train_total_s']['median']:.3f}s"
                + ("" if c["all_repeats_clean"] else "  *"),
                file=f,
            )
    print(
        f"(repeats per row: {out['results'][0]['repeats'] if out['results'] else 0}, after warmup; times are wall clock, "
        "'cpu' = process CPU time median; * = some repeats ran while other processes used >= 0.15 cores)",
        file=f,
    )


if __name__ == "__main__":
    main()
