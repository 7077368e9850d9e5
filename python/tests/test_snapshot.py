"""Snapshots: a restored environment continues bit for bit as the original does."""

from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.classic_control import PendulumEnv

from trpo_worker.snapshot import SnapshotError, Snapshots, can_snapshot, cannot_snapshot


class NoisyWalk(gymnasium.Env[np.ndarray, np.ndarray]):
    """A user's environment: a noisy random walk with hidden state (position, velocity, a step
    counter) that defines snapshot() and restore() itself."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self) -> None:
        self.position = np.zeros(2)
        self.steps = 0

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = self.np_random.normal(size=2)
        self.steps = 0
        return self.position.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.position[0] += 0.1 * float(action[0]) + 0.05 * self.np_random.normal()  # in place, on purpose
        self.position[1] = 0.9 * self.position[1] + 0.1 * self.position[0]
        self.steps += 1
        return self.position.copy(), -float(self.position @ self.position), abs(self.position[0]) > 3, False, {}

    def snapshot(self) -> object:
        return self.position.copy(), self.steps

    def restore(self, state: object) -> None:
        assert isinstance(state, tuple)
        position, steps = state
        self.position = np.array(position)
        self.steps = int(steps)


class Opaque(NoisyWalk):
    """The same environment without the two methods: a snapshot cannot know its state."""

    snapshot = None  # type: ignore[assignment]
    restore = None  # type: ignore[assignment]


def make_noisy_walk(**kwargs: Any) -> gymnasium.Env[Any, Any]:
    return NoisyWalk()


def make_opaque(**kwargs: Any) -> gymnasium.Env[Any, Any]:
    return Opaque()


gymnasium.register("NoisyWalk-v0", entry_point=make_noisy_walk, max_episode_steps=40)
gymnasium.register("Opaque-v0", entry_point=make_opaque, max_episode_steps=40)


def actions_for(env: gymnasium.Env[Any, Any], count: int, seed: int) -> list[Any]:
    space = env.action_space
    rng = np.random.default_rng(seed)
    if isinstance(space, gymnasium.spaces.Discrete):
        return [int(a) for a in rng.integers(space.start, space.start + space.n, size=count)]
    assert isinstance(space, gymnasium.spaces.Box)
    return list(rng.uniform(space.low, space.high, size=(count,) + space.shape).astype(space.dtype))


def run(env: gymnasium.Env[Any, Any], actions: list[Any]) -> list[tuple[bytes, float, bool, bool]]:
    """Steps until the actions run out or the episode ends; each step as exact bytes."""
    out = []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        out.append((np.asarray(obs).tobytes(), float(reward), bool(terminated), bool(truncated)))
        if terminated or truncated:
            break
    return out


ENVIRONMENTS = [
    # (id, steps before the snapshot, steps after it): the continuation crosses the time limit
    # where the environment has one within reach, so the TimeLimit's count is exercised too.
    ("CartPole-v1", 5, 500),
    ("Pendulum-v1", 170, 60),
    ("Acrobot-v1", 10, 100),
    ("MountainCar-v0", 150, 100),
    ("MountainCarContinuous-v0", 960, 100),
    ("Hopper-v5", 10, 200),
    ("HalfCheetah-v5", 960, 100),
    ("Ant-v5", 20, 30),
    ("NoisyWalk-v0", 10, 40),
]


@pytest.mark.parametrize("env_id,before,after", ENVIRONMENTS)
def test_restore_continues_bit_for_bit(env_id: str, before: int, after: int) -> None:
    original = gymnasium.make(env_id)
    sibling = gymnasium.make(env_id)
    if env_id == "Acrobot-v1":  # make its steps draw from np_random, which the snapshot must carry
        for env in (original, sibling):
            env.unwrapped.torque_noise_max = 0.5  # type: ignore[attr-defined]
    assert can_snapshot(original) and cannot_snapshot(original) is None
    original.reset(seed=1)
    assert len(run(original, actions_for(original, before, seed=2))) == before
    snapshot = Snapshots(original).take()
    actions = actions_for(original, after, seed=3)
    expected = run(original, actions)
    # Another copy with another history, restored twice (a snapshot is reusable).
    sibling.reset(seed=99)
    run(sibling, actions_for(sibling, 7, seed=4))
    restorer = Snapshots(sibling)
    for _ in range(2):
        restorer.restore(snapshot)
        assert run(sibling, actions) == expected
    # And into the original itself.
    Snapshots(original).restore(snapshot)
    assert run(original, actions) == expected
    if env_id in ("Pendulum-v1", "MountainCarContinuous-v0", "HalfCheetah-v5", "NoisyWalk-v0"):
        assert expected[-1][3], "the continuation should end at the time limit"


@pytest.mark.parametrize("env_id", ["Hopper-v5", "HalfCheetah-v5", "Pendulum-v1", "CartPole-v1"])
def test_taking_snapshots_changes_no_trajectory(env_id: str) -> None:
    """Snapshots taken at every step (MuJoCo's derived quantities recomputed each time) leave
    the trajectory as it is without them."""
    def trajectory(snapshot_every_step: bool) -> list[tuple[bytes, float, bool, bool]]:
        env = gymnasium.make(env_id)
        env.reset(seed=5)
        snapshots = Snapshots(env)
        out = []
        for action in actions_for(env, 150, seed=6):
            if snapshot_every_step:
                snapshots.take()
            out += run(env, [action])
            if out[-1][2] or out[-1][3]:
                break
        return out
    assert trajectory(True) == trajectory(False)


def test_user_environment_without_methods_cannot_snapshot() -> None:
    env = gymnasium.make("Opaque-v0")
    reason = cannot_snapshot(env)
    assert reason is not None and "Opaque" in reason and "snapshot()/restore()" in reason
    with pytest.raises(SnapshotError):
        Snapshots(env)


def test_unknown_wrappers_and_subclasses_are_not_trusted() -> None:
    wrapped = gymnasium.wrappers.RecordEpisodeStatistics(gymnasium.make("Pendulum-v1"))
    reason = cannot_snapshot(wrapped)
    assert reason is not None and "RecordEpisodeStatistics" in reason

    class MyPendulum(PendulumEnv):
        pass

    reason = cannot_snapshot(MyPendulum())
    assert reason is not None and "MyPendulum" in reason


def test_a_wrapper_of_ones_own_can_carry_its_state() -> None:
    class Counting(gymnasium.Wrapper[Any, Any, Any, Any]):
        def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
            super().__init__(env)
            self.count = 0

        def step(self, action: Any) -> Any:
            self.count += 1
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, float(reward) + self.count, terminated, truncated, info

        def snapshot(self) -> object:
            return self.count

        def restore(self, state: object) -> None:
            assert isinstance(state, int)
            self.count = state

    env = Counting(gymnasium.make("Pendulum-v1"))
    assert can_snapshot(env)
    env.reset(seed=0)
    run(env, actions_for(env, 3, seed=0))
    snapshot = Snapshots(env).take()
    actions = actions_for(env, 5, seed=1)
    expected = run(env, actions)
    Snapshots(env).restore(snapshot)
    assert run(env, actions) == expected
