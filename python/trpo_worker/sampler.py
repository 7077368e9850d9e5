"""E copies of a Gymnasium environment (shared with the vine, vine.py), and single-path collection.

The copies are a plain list of ``gymnasium.make(id)`` environments stepped in lockstep, with
the policy evaluated once per step on the batch of their observations. We do not use
``gymnasium.vector``: its autoreset moves the reset into the *next* ``step`` call (Gymnasium
1.x ``NEXT_STEP`` mode, which wastes a step and returns a dummy transition), while a chunk needs,
per copy and per step, the final observation of a truncated episode (the bootstrap row's
s_{t+1}), the terminated/truncated distinction exactly as the environment reported it, and
rows grouped copy by copy (trajectory after trajectory). A list gives all of that directly;
``SyncVectorEnv`` is a Python loop over the same environments anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import gymnasium
import numpy as np

from .codec import End, F64Array, HeadKind, U32Array, U8Array
from .policy import Policy, PolicyShapeError


class SimulatorError(Exception):
    """The environment cannot be built or does not fit the policy."""


@dataclass
class ChunkData:
    """The rows of one chunk, laid out copy after copy (each copy's rows in time order)."""

    observations: F64Array
    actions: F64Array
    rewards: F64Array
    ends: U8Array
    bootstrap_rows: U32Array
    bootstrap_observations: F64Array
    episode_returns: F64Array
    episode_lengths: U32Array

    @property
    def rows(self) -> int:
        return int(self.rewards.shape[0])


def _flat_size(space: gymnasium.Space[Any]) -> int:
    if not isinstance(space, gymnasium.spaces.Box):
        raise SimulatorError(f"observation space {space} is not a Box")
    return int(np.prod(space.shape))


class EnvironmentCopies:
    """E copies of one Gymnasium environment and what both samplers need of its spaces: the
    flat observation size and the action space (discrete, or a 1-D box)."""

    def __init__(self, environment_id: str, copies: int) -> None:
        if copies < 1:
            raise SimulatorError("at least one environment copy is needed")
        try:
            self.envs = [gymnasium.make(environment_id) for _ in range(copies)]
        except Exception as error:  # gymnasium raises several kinds (NameNotFound, DependencyNotInstalled, …)
            raise SimulatorError(f"cannot make Gymnasium environment {environment_id!r}: {error}") from None
        self.environment_id = environment_id
        self.copies = copies
        space = self.envs[0].action_space
        self.observation_size = _flat_size(self.envs[0].observation_space)
        self.discrete = isinstance(space, gymnasium.spaces.Discrete)
        if self.discrete:
            assert isinstance(space, gymnasium.spaces.Discrete)
            self.action_count = int(space.n)
            self.action_start = int(space.start)
            self.action_width = 1
        elif isinstance(space, gymnasium.spaces.Box) and len(space.shape) == 1:
            self.action_width = int(space.shape[0])
            self.low = np.asarray(space.low, dtype=np.float64)
            self.high = np.asarray(space.high, dtype=np.float64)
            self.action_dtype = space.dtype
        else:
            raise SimulatorError(f"action space {space} is neither Discrete nor a 1-D Box")

    def check(self, policy: Policy) -> None:
        """Raises SimulatorError when the policy does not fit these environments."""
        if policy.input_size != self.observation_size:
            raise SimulatorError(f"the policy takes {policy.input_size} inputs but {self.environment_id} "
                                    f"observes {self.observation_size}")
        if self.discrete:
            if policy.head != HeadKind.CATEGORICAL or policy.output_size != self.action_count:
                raise SimulatorError(f"{self.environment_id} has {self.action_count} discrete actions; the policy "
                                        f"has a {policy.head.name.lower()} head of {policy.output_size}")
        elif policy.head != HeadKind.GAUSSIAN or policy.output_size != self.action_width:
            raise SimulatorError(f"{self.environment_id} has a {self.action_width}-dimensional box action; the "
                                    f"policy has a {policy.head.name.lower()} head of {policy.output_size}")

    def _env_actions(self, actions: F64Array) -> list[Any]:
        """The actions the environments get: discrete indices as ints, box actions clipped."""
        if self.discrete:
            return [int(a) + self.action_start for a in actions[:, 0].tolist()]
        return list(np.clip(actions, self.low, self.high).astype(self.action_dtype))

    def close(self) -> None:
        for env in self.envs:
            env.close()


class SinglePathSampler(EnvironmentCopies):
    """E environment copies, their episodes in flight, and the action noise stream.

    Randomness derives from (seed, stream): copy e's first reset is seeded from
    ``SeedSequence([seed, stream, e])`` and the actions use one generator seeded from
    ``SeedSequence([seed, stream, 2**32])``, so a run is reproducible for a given chunking.
    (These are not the Swift worker's streams, so rows differ from a Swift worker's.)
    """

    def __init__(self, environment_id: str, copies: int, seed: int, stream: int) -> None:
        super().__init__(environment_id, copies)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, stream, 2**32]))
        self.observations = np.zeros((copies, self.observation_size))
        self.episode_returns = np.zeros(copies)
        self.episode_lengths = np.zeros(copies, dtype=np.int64)
        for e, env in enumerate(self.envs):
            reset_seed = int(np.random.SeedSequence([seed, stream, e]).generate_state(1)[0])
            obs, _ = env.reset(seed=reset_seed)
            self.observations[e] = np.asarray(obs, dtype=np.float64).reshape(-1)
        self.policy: Optional[Policy] = None

    def load(self, policy: Policy) -> None:
        self.check(policy)
        self.policy = policy

    def collect(self, rows: int, interrupt: Optional[Callable[[], bool]] = None,
                interrupt_every: int = 16) -> Optional[ChunkData]:
        """Steps the copies for ``rows`` rows in all (copy e takes ``rows // E`` steps, one more
        for the first ``rows % E`` copies) and returns them; None when ``interrupt()`` (asked every
        ``interrupt_every`` lockstep steps) returns True, abandoning the rows collected so far.
        Episodes in flight continue across chunks (and across abandoned ones)."""
        policy = self.policy
        if policy is None:
            raise RuntimeError("no policy loaded")
        if rows < 1:
            raise ValueError("rows must be positive")
        E, obs_size, width = self.copies, self.observation_size, self.action_width
        per_copy = [rows // E + (1 if e < rows % E else 0) for e in range(E)]
        steps = per_copy[0]
        obs = np.zeros((E, steps, obs_size))
        act = np.zeros((E, steps, width))
        rew = [[0.0] * n for n in per_copy]
        ends = np.zeros((E, steps), dtype=np.uint8)
        bootstrap: dict[tuple[int, int], F64Array] = {}
        returns: list[float] = []
        lengths: list[int] = []
        episode_returns = self.episode_returns.tolist()
        episode_lengths = self.episode_lengths.tolist()
        envs = self.envs
        current_obs = self.observations
        try:
            for t in range(steps):
                if interrupt is not None and t > 0 and t % interrupt_every == 0 and interrupt():
                    return None
                active = E if per_copy[-1] > t else sum(1 for n in per_copy if n > t)  # a prefix
                current = current_obs[:active]
                actions = policy.sample(current, self.rng)
                obs[:active, t] = current
                act[:active, t] = actions
                env_actions = self._env_actions(actions)
                for e in range(active):
                    next_obs, reward, terminated, truncated, _ = envs[e].step(env_actions[e])
                    r = float(reward)
                    rew[e][t] = r
                    episode_returns[e] += r
                    episode_lengths[e] += 1
                    if terminated or truncated:
                        if terminated:
                            ends[e, t] = End.TERMINATED
                        else:
                            ends[e, t] = End.TRUNCATED
                            bootstrap[(e, t)] = np.array(next_obs, dtype=np.float64).reshape(-1)
                        returns.append(episode_returns[e])
                        lengths.append(episode_lengths[e])
                        episode_returns[e] = 0.0
                        episode_lengths[e] = 0
                        reset_obs, _ = envs[e].reset()
                        current_obs[e] = np.asarray(reset_obs).reshape(-1)
                    else:
                        current_obs[e] = np.asarray(next_obs).reshape(-1)
                        if t == per_copy[e] - 1:  # the chunk cuts this copy's trajectory
                            ends[e, t] = End.TRUNCATED
                            bootstrap[(e, t)] = current_obs[e].copy()
        finally:
            self.episode_returns[:] = episode_returns
            self.episode_lengths[:] = episode_lengths
        # Copy after copy: each copy's rows are trajectories in time order.
        parts = [slice(0, n) for n in per_copy]
        out_obs = np.concatenate([obs[e, parts[e]] for e in range(E)])
        out_act = np.concatenate([act[e, parts[e]] for e in range(E)])
        out_rew = np.asarray([r for e in range(E) for r in rew[e]], dtype=np.float64)
        out_ends = np.concatenate([ends[e, parts[e]] for e in range(E)])
        boot_rows: list[int] = []
        boot_obs: list[F64Array] = []
        base = 0
        for e in range(E):
            for t in range(per_copy[e]):
                if ends[e, t] == End.TRUNCATED:
                    boot_rows.append(base + t)
                    boot_obs.append(bootstrap[(e, t)])
            base += per_copy[e]
        return ChunkData(
            observations=out_obs, actions=out_act, rewards=out_rew, ends=out_ends,
            bootstrap_rows=np.asarray(boot_rows, dtype=np.uint32),
            bootstrap_observations=np.asarray(boot_obs, dtype=np.float64).reshape(len(boot_rows), obs_size),
            episode_returns=np.asarray(returns, dtype=np.float64),
            episode_lengths=np.asarray(lengths, dtype=np.uint32))
