"""E copies of an environment (shared with the vine, vine.py), and single-path collection.

The copies are a plain list of environments (made by :func:`~trpo_worker.environments.make_environment`
from the run's name and arguments) stepped in lockstep, with the policy evaluated once per step on
the batch of their observations. We do not use ``gymnasium.vector``: its autoreset moves the
reset into the *next* ``step`` call (Gymnasium 1.x ``NEXT_STEP`` mode, which wastes a step and
returns a dummy transition), while a chunk needs, per copy and per step, the final observation
of a truncated episode (the bootstrap row's s_{t+1}), the terminated/truncated distinction
exactly as the environment reported it, and rows grouped copy by copy (trajectory after
trajectory). A list gives all of that directly (and lets the vine restore a snapshot into any
one copy); ``SyncVectorEnv`` is a Python loop over the same environments anyway.

With a convolutional policy (:class:`~trpo_worker.policy.ConvolutionalPolicy`) the single-path
sampler keeps the observations as the environment's uint8 frames, never widened to float64, and
its chunks carry them as such (a pixel chunk, docs/protocol.md §3.4 flag bit 0).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import gymnasium
import numpy as np

from .codec import ActionKind, End, F64Array, ObservationArray, Trajectories, U8Array
from .environments import (EnvironmentAdapter, SimulatorError, check_policy, episode_continues, make_environment,
                           one_line)
from .policy import AnyPolicy, ConvolutionalPolicy, StochasticPolicy


#: The rows of one chunk, laid out copy after copy (each copy's rows in time order).
ChunkData = Trajectories


def join_copies(obs: ObservationArray, act: F64Array, rewards: Sequence[Sequence[float]], ends: U8Array,
                bootstrap: Mapping[tuple[int, int], ObservationArray], returns: Sequence[float],
                lengths: Sequence[int], per_copy: Sequence[int]) -> Trajectories:
    """The trajectories of E copies recorded side by side, joined copy after copy: copy e's first
    ``per_copy[e]`` rows of ``obs`` ``[E, steps, observationSize]``, ``act`` ``[E, steps,
    actionWidth]``, ``rewards`` and ``ends`` ``[E, steps]``; ``bootstrap[(e, t)]`` is s_{t+1} of each
    row whose end is ``End.TRUNCATED``. The observations keep ``obs``'s type (float64, or uint8
    frames)."""
    E = len(per_copy)
    parts = [slice(0, n) for n in per_copy]
    boot_rows: list[int] = []
    boot_obs: list[ObservationArray] = []
    base = 0
    for e in range(E):
        for t in range(per_copy[e]):
            if ends[e, t] == End.TRUNCATED:
                boot_rows.append(base + t)
                boot_obs.append(bootstrap[(e, t)])
        base += per_copy[e]
    boot_obs_array = (np.asarray(boot_obs, dtype=np.uint8) if obs.dtype == np.uint8
                      else np.asarray(boot_obs, dtype=np.float64)).reshape(len(boot_rows), obs.shape[2])
    return Trajectories(
        observations=np.concatenate([obs[e, parts[e]] for e in range(E)]),
        actions=np.concatenate([act[e, parts[e]] for e in range(E)]),
        rewards=np.asarray([r for e in range(E) for r in rewards[e][:per_copy[e]]], dtype=np.float64),
        ends=np.concatenate([ends[e, parts[e]] for e in range(E)]),
        bootstrap_rows=np.asarray(boot_rows, dtype=np.uint32),
        bootstrap_observations=boot_obs_array,
        episode_returns=np.asarray(returns, dtype=np.float64),
        episode_lengths=np.asarray(lengths, dtype=np.uint32))


class EnvironmentCopies:
    """E copies of the run's environment, what both samplers (this module's and the vine's,
    vine.py) stand on: the copies are made by :func:`~trpo_worker.environments.make_environment`
    from the run's name and arguments, and one :class:`~trpo_worker.environments.EnvironmentAdapter`
    converts their observations (flattened row-major to float64, exactly, or SimulatorError) and
    the policy's actions (an index, or a vector clipped to the bounds). Resets and steps that
    raise become SimulatorError with the reason in one line."""

    def __init__(self, environment_id: str, copies: int, arguments_json: str = "") -> None:
        if copies < 1:
            raise SimulatorError("at least one environment copy is needed")
        self.envs: list[gymnasium.Env[Any, Any]] = []
        try:
            for _ in range(copies):
                self.envs.append(make_environment(environment_id, arguments_json))
            self.adapter = EnvironmentAdapter(self.envs[0])
        except SimulatorError:
            self.close()
            raise
        self.environment_id = environment_id
        self.copies = copies
        spec = self.adapter.spec
        self.observation_size = spec.observation_size
        self.discrete = spec.action_kind == ActionKind.DISCRETE
        self.action_count = spec.action_size
        self.action_width = spec.action_width
        #: How observations are kept: float64 (``adapter.observation``), or uint8 frames
        #: (``adapter.frame``, for a convolutional policy).
        self.observe: Callable[[Any], ObservationArray] = self.adapter.observation

    def check(self, policy: StochasticPolicy) -> None:
        """Raises SimulatorError when ``policy`` does not fit the environment."""
        check_policy(self.adapter.spec, policy, self.environment_id)

    def _reset(self, e: int, seed: Optional[int] = None) -> ObservationArray:
        """Resets copy e; its first observation, converted (:attr:`observe`)."""
        try:
            observation, _ = self.envs[e].reset(seed=seed)
        except Exception as error:
            raise SimulatorError(f"{self.environment_id}: reset raised {one_line(f'{type(error).__name__}: {error}')}"
                                 ) from None
        return self.observe(observation)

    def _step(self, e: int, action: Any) -> tuple[Any, float, bool, bool, bool]:
        """Steps copy e with an environment action (from ``adapter.actions``): the observation
        (not converted: a caller that does not keep it saves the conversion), reward,
        terminated, truncated, and whether the episode goes on after a ``terminated`` that
        only ends the trajectory for learning (:func:`~trpo_worker.environments.episode_continues`)."""
        try:
            observation, reward, terminated, truncated, info = self.envs[e].step(action)
        except Exception as error:
            raise SimulatorError(f"{self.environment_id}: step raised {one_line(f'{type(error).__name__}: {error}')}"
                                 ) from None
        return (observation, float(reward), bool(terminated), bool(truncated),
                episode_continues(terminated, truncated, info))

    def _check_finite(self, what: str, values: ObservationArray, rule: str) -> None:
        """Raises SimulatorError naming the first row of ``values`` (a value or a vector per row)
        that holds a NaN or ±∞: ``<environment> returned <what> <row>: <rule>``. A learner refuses
        a chunk that carries one as malformed; the samplers check each chunk once, not each step."""
        finite = np.isfinite(values)
        bad = np.flatnonzero(~finite.all(axis=tuple(range(1, finite.ndim))) if finite.ndim > 1 else ~finite)
        if bad.size:
            raise SimulatorError(f"{self.environment_id} returned {what} {values[bad[0]].tolist()}: {rule}")

    def close(self) -> None:
        for env in self.envs:
            env.close()


class SinglePathSampler(EnvironmentCopies):
    """E environment copies, their episodes in flight, and the action noise stream.

    Randomness derives from (seed, stream): copy e's first reset is seeded from
    ``SeedSequence([seed, stream, e])`` and the actions use one generator seeded from
    ``SeedSequence([seed, stream, 2**32])``, so a run is reproducible for a given chunking.
    (These are not the Swift worker's streams, so rows differ from a Swift worker's.)

    Box actions travel as sampled and step the environment clipped to its bounds. Observations are
    kept as float64, or, while a convolutional policy is loaded, as the environment's uint8 frames
    (:attr:`pixels`); the episodes in flight carry over when a load switches between the two.
    """

    def __init__(self, environment_id: str, copies: int, seed: int, stream: int, arguments_json: str = "") -> None:
        super().__init__(environment_id, copies, arguments_json)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, stream, 2**32]))
        self.observations: ObservationArray = np.zeros((copies, self.observation_size))
        self.episode_returns = np.zeros(copies)
        self.episode_lengths = np.zeros(copies, dtype=np.int64)
        try:
            for e in range(copies):
                reset_seed = int(np.random.SeedSequence([seed, stream, e]).generate_state(1)[0])
                self.observations[e] = self._reset(e, reset_seed)
        except SimulatorError:
            self.close()
            raise
        self.policy: Optional[AnyPolicy] = None

    @property
    def pixels(self) -> bool:
        """Whether the observations are kept (and chunks carry them) as uint8 frames."""
        return bool(self.observations.dtype == np.uint8)

    def load(self, policy: AnyPolicy) -> None:
        """Collects with ``policy`` from now on; SimulatorError when it does not fit the environment
        (a convolutional policy needs uint8 observations of its frames' size)."""
        self.check(policy)
        pixels = isinstance(policy, ConvolutionalPolicy)
        if pixels != self.pixels:
            self._keep_observations(pixels)
        self.policy = policy

    def _keep_observations(self, pixels: bool) -> None:
        """Switches the observations in flight, and those to come, to uint8 frames or float64."""
        if not pixels:
            self.observations = self.observations.astype(np.float64)
            self.observe = self.adapter.observation
            return
        frame = self.adapter.frame
        if frame is None:  # check_policy refuses a convolutional policy first
            raise SimulatorError(f"{self.environment_id}'s observations are not uint8 frames")
        frames = self.observations.astype(np.uint8)
        if not np.array_equal(frames, self.observations):
            raise SimulatorError(f"{self.environment_id} returned observations outside 0 … 255 in a uint8 "
                                 f"observation space")
        self.observations = frames
        self.observe = frame

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
        obs = np.zeros((E, steps, obs_size), dtype=self.observations.dtype)  # float64, or uint8 frames
        act = np.zeros((E, steps, width))
        rew = [[0.0] * n for n in per_copy]
        ends = np.zeros((E, steps), dtype=np.uint8)
        bootstrap: dict[tuple[int, int], ObservationArray] = {}
        returns: list[float] = []
        lengths: list[int] = []
        episode_returns = self.episode_returns.tolist()
        episode_lengths = self.episode_lengths.tolist()
        to_actions, to_observation = self.adapter.actions, self.observe
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
                env_actions = to_actions(actions)
                for e in range(active):
                    next_obs, r, terminated, truncated, continues = self._step(e, env_actions[e])
                    rew[e][t] = r
                    episode_returns[e] += r
                    episode_lengths[e] += 1
                    if continues:
                        ends[e, t] = End.TERMINATED
                        current_obs[e] = to_observation(next_obs)
                    elif terminated or truncated:
                        if terminated:
                            ends[e, t] = End.TERMINATED
                        else:
                            ends[e, t] = End.TRUNCATED
                            bootstrap[(e, t)] = to_observation(next_obs)
                        returns.append(episode_returns[e])
                        lengths.append(episode_lengths[e])
                        episode_returns[e] = 0.0
                        episode_lengths[e] = 0
                        current_obs[e] = self._reset(e)
                    else:
                        current_obs[e] = to_observation(next_obs)
                        if t == per_copy[e] - 1:  # the chunk cuts this copy's trajectory
                            ends[e, t] = End.TRUNCATED
                            bootstrap[(e, t)] = current_obs[e].copy()
        finally:
            self.episode_returns[:] = episode_returns
            self.episode_lengths[:] = episode_lengths
        # Copy after copy: each copy's rows are trajectories in time order.
        data = join_copies(obs, act, rew, ends, bootstrap, returns, lengths, per_copy)
        if not self.pixels:  # frames are bytes, finite by construction
            self._check_finite("the observation", data.observations, "observations must be finite")
            self._check_finite("the observation", data.bootstrap_observations, "observations must be finite")
        self._check_finite("the reward", data.rewards, "rewards must be finite")
        return data
