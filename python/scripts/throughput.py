"""Samples/s of the Python worker's collection (policy in the loop) against bare env.step.

    python scripts/throughput.py [--copies 8] [--seconds 5] [--vine] [ENV ...]

For each environment (default CartPole-v1 and Pendulum-v1), E copies:
- bare: the copies stepped in lockstep with pre-drawn random actions, resetting on episode
  end: the Gymnasium ceiling for a Python loop over the copies;
- worker: ``SinglePathSampler.collect`` of 4096-row chunks with the presets' 64×64 tanh policy
  (normaliser, batched forward over the copies, sampling, clipping, chunk assembly), plus
  encoding each chunk as a protocol message: what a worker produces when the socket is free.
- vine (``--vine``, instead of worker): ``VineSampler.collect`` of 100-state collections (trunks
  of 250 steps per copy, K = 4, T = 100, common random numbers; the same policy) plus encoding
  each as a vine chunk, as simulator steps (trunks and branches) per second.
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
from trpo_worker.sampler import EnvironmentCopies, SinglePathSampler
from trpo_worker.vine import VineSampler


def bare_rate(env_id: str, copies: int, seconds: float) -> tuple[float, float]:
    envs = [gymnasium.make(env_id) for _ in range(copies)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
    space = envs[0].action_space
    rng = np.random.default_rng(0)
    if isinstance(space, gymnasium.spaces.Discrete):
        actions = [int(a) for a in rng.integers(0, int(space.n), size=10_000)]
    else:
        assert isinstance(space, gymnasium.spaces.Box)
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


def preset_policy(copies: EnvironmentCopies) -> Policy:
    """The presets' 64×64 tanh policy with a normaliser, for these environments."""
    obs_size = copies.observation_size
    discrete = copies.discrete
    outputs = copies.action_count if discrete else copies.action_width
    sizes = [obs_size, 64, 64, outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(0)
    return Policy(sizes, rng.normal(size=count) * 0.1, HeadKind.CATEGORICAL if discrete else HeadKind.GAUSSIAN,
                  [] if discrete else [0.0] * outputs, normalizer_mean=np.zeros(obs_size),
                  normalizer_variance=np.ones(obs_size))


def worker_rate(env_id: str, copies: int, seconds: float) -> tuple[float, float]:
    sampler = SinglePathSampler(env_id, copies, seed=1, stream=0)
    sampler.load(preset_policy(sampler))
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


def vine_rate(env_id: str, copies: int, seconds: float) -> tuple[float, float]:
    settings = codec.VineSettings(gamma=0.99, trunk_steps=250, rollout_states=100, actions_per_state=4,
                                  rollout_length=100, common_random_numbers=True)
    sampler = VineSampler(env_id, copies, seed=1, stream=0, settings=settings)
    sampler.load(preset_policy(sampler), collection=0)
    steps = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        data = sampler.collect(100)
        assert data is not None
        codec.encode(codec.VineChunk(worker_nonce=1, session=1, version=1, sequence=0, trunk_steps=data.trunk_steps,
                                     branch_steps=data.branch_steps, worker_id=0,
                                     actions_per_state=data.actions_per_state, estimator=data.estimator,
                                     states=data.states, actions=data.actions, q_values=data.q_values,
                                     log_probabilities=data.log_probabilities,
                                     episode_returns=data.episode_returns, episode_lengths=data.episode_lengths))
        steps += data.trunk_steps + data.branch_steps
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("envs", nargs="*", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--vine", action="store_true", help="measure the vine sampler instead of single path")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; numpy {np.__version__}, "
          f"gymnasium {gymnasium.__version__}")
    for env_id in args.envs:
        bare = [bare_rate(env_id, args.copies, args.seconds) for _ in range(3)]
        rate = vine_rate if args.vine else worker_rate
        worker = [rate(env_id, args.copies, args.seconds) for _ in range(3)]
        what = "vine sampler (policy in the loop) {:9,.0f} steps/s" if args.vine else \
            "worker (policy in the loop) {:9,.0f} samples/s"
        for label, index in (("wall", 0), ("CPU", 1)):
            b = max(r[index] for r in bare)
            w = max(r[index] for r in worker)
            print(f"{env_id:14s} {args.copies} copies, per {label:4s} second: bare env.step {b:9,.0f} steps/s; "
                  f"{what.format(w)} ({w / b:.0%} of bare)")


if __name__ == "__main__":
    main()
