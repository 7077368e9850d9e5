"""Samples/s of the Python worker's collection (policy in the loop) against bare env.step.

    python scripts/throughput.py [--copies 8] [--seconds 5] [ENV ...]

For each environment (default CartPole-v1 and Pendulum-v1), E copies:
- bare: the copies stepped in lockstep with pre-drawn random actions, resetting on episode
  end: the Gymnasium ceiling for a Python loop over the copies;
- worker: ``SinglePathSampler.collect`` of 4096-row chunks with the presets' 64×64 tanh policy
  (normaliser, batched forward over the copies, sampling, clipping, chunk assembly), plus
  encoding each chunk as a protocol message: what a worker produces when the socket is free.
Each figure is the best of three runs of ``--seconds`` each, as steps per second of wall time and
per second of this process's CPU time (``time.process_time``): on a shared, loaded machine the CPU
figure is the one that says what one free core would do.
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium
import numpy as np

from trpo_worker import codec
from trpo_worker.codec import HeadKind
from trpo_worker.policy import Policy
from trpo_worker.sampler import SinglePathSampler


def bare_rate(env_id: str, copies: int, seconds: float) -> tuple[float, float]:
    envs = [gymnasium.make(env_id) for _ in range(copies)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
    space = envs[0].action_space
    rng = np.random.default_rng(0)
    if isinstance(space, gymnasium.spaces.Discrete):
        actions = [int(a) for a in rng.integers(0, int(space.n), size=10_000)]
    else:
        actions = list(rng.uniform(space.low, space.high, size=(10_000,) + space.shape).astype(space.dtype))
    steps = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for k in range(100):
            a = actions[(steps // copies + k) % 10_000]
            for env in envs:
                _, _, terminated, truncated, _ = env.step(a)
                if terminated or truncated:
                    env.reset()
            steps += copies
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def worker_rate(env_id: str, copies: int, seconds: float) -> tuple[float, float]:
    sampler = SinglePathSampler(env_id, copies, seed=1, stream=0)
    obs_size = sampler.observation_size
    discrete = sampler.discrete
    outputs = sampler.action_count if discrete else sampler.action_width
    sizes = [obs_size, 64, 64, outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(0)
    policy = Policy(sizes, rng.normal(size=count) * 0.1, HeadKind.CATEGORICAL if discrete else HeadKind.GAUSSIAN,
                    [] if discrete else [0.0] * outputs, normalizer_mean=np.zeros(obs_size),
                    normalizer_variance=np.ones(obs_size))
    sampler.load(policy)
    rows = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        data = sampler.collect(4096)
        assert data is not None
        codec.encode(codec.Chunk(worker_nonce=1, session=1, version=1, sequence=0, simulator_steps=data.rows,
                                 worker_id=0, observations=data.observations, actions=data.actions,
                                 rewards=data.rewards, ends=data.ends, bootstrap_rows=data.bootstrap_rows,
                                 bootstrap_observations=data.bootstrap_observations,
                                 episode_returns=data.episode_returns, episode_lengths=data.episode_lengths))
        rows += data.rows
    return rows / (time.perf_counter() - start), rows / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("envs", nargs="*", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; numpy {np.__version__}, "
          f"gymnasium {gymnasium.__version__}")
    for env_id in args.envs:
        bare = [bare_rate(env_id, args.copies, args.seconds) for _ in range(3)]
        worker = [worker_rate(env_id, args.copies, args.seconds) for _ in range(3)]
        for label, index in (("wall", 0), ("CPU", 1)):
            b = max(r[index] for r in bare)
            w = max(r[index] for r in worker)
            print(f"{env_id:14s} {args.copies} copies, per {label:4s} second: bare env.step {b:9,.0f} steps/s; "
                  f"worker (policy in the loop) {w:9,.0f} samples/s ({w / b:.0%} of bare)")


if __name__ == "__main__":
    main()
