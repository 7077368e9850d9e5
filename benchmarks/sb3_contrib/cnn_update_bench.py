#!/usr/bin/env python3
"""Time sb3-contrib's TRPO policy step with a CnnPolicy on an Atari-sized batch.

The workload of ``trpo bench --only atari`` (Sources/Bench/ConvolutionBenchmarks.swift,
``atariPolicyStep``): N (default 10,000) random 84×84×4 uint8 frames, 6 discrete actions, the
policy network Baselines' ``cnn_small`` (conv 8 filters 8×8 stride 4, conv 16 filters 4×4 stride
2, dense 128, ReLU; a linear head), its own value network (``share_features_extractor=False``),
frames scaled to [0, 1] (sb3's ``normalize_images``, transposed to channels-first by sb3).

The rollout buffer is filled once with ``model.collect_rollouts`` on a synthetic environment that
shows random frames (so advantages are real GAE values of a real buffer), then ``model.train()``
runs with ``n_critic_updates=0``: the policy step alone (buffer fetch, old and new
distributions, surrogate and KL gradients, conjugate gradient, line search). The helpers of
trpo_update_bench.py restore the policy and the un-flattened buffer before every call and run
sb3-contrib's CG for exactly ``cg_max_steps`` iterations (``--cg-mode full``), like trpo's fixed
CG 10.

Configurations: ``sub_sampling_factor`` 1 (sb3-contrib's default: everything on the whole
batch, the like-for-like figure for trpo's Fisher product on 100 %) and 10 (sb3-contrib
subsamples the whole update, gradient included, to 10 %; trpo's "Fisher on 10 %" keeps the
gradient on the whole batch, so sb3 does less work there). torch threads: 1.

    benchmarks/sb3_contrib/cnn_update_bench.py [--frames 10000] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import warnings

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine_info import machine_info  # noqa: E402
from trpo_update_bench import _CG_MODE, Probe, Snapshot, timed_train  # noqa: E402

from sb3_contrib import TRPO  # noqa: E402
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

SHAPE = (84, 84, 4)
ACTIONS = 6


class RandomFrames(gym.Env):
    """Random uint8 frames, 6 actions, reward = [action == 0], episodes of 1,000 steps."""

    metadata: dict = {"render_modes": []}

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Box(0, 255, SHAPE, np.uint8)
        self.action_space = spaces.Discrete(ACTIONS)
        self._t = 0

    def _frame(self) -> np.ndarray:
        return self.np_random.integers(0, 256, SHAPE, dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._frame(), {}

    def step(self, action):
        self._t += 1
        return self._frame(), float(action == 0), False, self._t >= 1000, {}


class CnnSmall(BaseFeaturesExtractor):
    """Baselines' cnn_small trunk: conv 8×8/4 ×8, conv 4×4/2 ×16, dense 128, ReLU."""

    def __init__(self, observation_space: spaces.Box) -> None:
        super().__init__(observation_space, features_dim=128)
        channels = observation_space.shape[0]  # sb3 hands the extractor channels-first images
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 8, 8, stride=4), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 4, stride=2), torch.nn.ReLU(),
            torch.nn.Flatten(), torch.nn.Linear(16 * 9 * 9, 128), torch.nn.ReLU(),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sub-sampling", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = DummyVecEnv([RandomFrames])
    env.seed(args.seed)
    model = TRPO("CnnPolicy", env, n_steps=args.frames, batch_size=args.frames, n_critic_updates=0, cg_max_steps=10, cg_damping=0.1,
                 policy_kwargs=dict(features_extractor_class=CnnSmall, share_features_extractor=False, net_arch=[]),
                 seed=args.seed, verbose=0, device="cpu")
    parameters = sum(p.numel() for n, p in model.policy.named_parameters()
                     if n.startswith(("features_extractor.", "action_net.")))  # pi_features_extractor is features_extractor
    _, callback = model._setup_learn(total_timesteps=args.frames, callback=None)
    started = time.perf_counter()
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=args.frames)
    print(f"# {args.frames} frames collected in {time.perf_counter() - started:.1f} s; policy parameters {parameters}",
          file=sys.stderr)
    snapshot, probe = Snapshot(model), Probe(model)
    _CG_MODE["mode"] = "full"
    results = []
    with warnings.catch_warnings():  # np.mean of the empty value-loss list when n_critic_updates=0
        warnings.simplefilter("ignore", RuntimeWarning)
        for factor in args.sub_sampling:
            model.sub_sampling_factor = factor
            timed_train(model, probe, snapshot, args.seed)  # warm-up
            runs = [timed_train(model, probe, snapshot, args.seed) for _ in range(args.repeats)]
            seconds = sorted(r["policy_s"] for r in runs)
            row = {"name": "sb3_policy_step", "frames": args.frames, "sub_sampling_factor": factor,
                   "policy_parameters": parameters, "median_s": statistics.median(seconds), "min_s": seconds[0],
                   "max_s": seconds[-1], "fvp_calls": runs[-1]["fvp_calls"], "repeats": args.repeats, "threads": 1}
            results.append(row)
            print(f"sb3_policy_step  {row['median_s']:.3f} s  (min {seconds[0]:.3f}, max {seconds[-1]:.3f})  "
                  f"cnn_small, {args.frames} frames, sub_sampling_factor {factor}, CG 10 ({row['fvp_calls']} FVPs), "
                  f"1 thread", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sb3_peak_rss     {peak:.0f} MB (the process: rollout buffer of {args.frames} frames as float32 included)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_info(), "results": results, "peak_rss_mb": peak,
                       "torch": torch.__version__}, f, indent=2)


if __name__ == "__main__":
    main()
