"""Small environments the Gymnasium registry does not know, for ``py:external_envs:…`` names in
the tests (the tests run the worker with this directory as its working directory)."""

from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
from gymnasium import spaces


class Grid(gymnasium.Env[np.ndarray, np.ndarray]):
    """Observations of shape (2, 3) in int64 that show what the environment saw: row 0 is
    (offset, step, episode), row 1 the last action's first row as the environment received it
    (clipped to [−1, 1], times 1000, rounded). Actions are a (2, 2) float32 box in [−1, 1].
    Reward ``reward`` per step; episodes terminate after ``length`` steps."""

    def __init__(self, offset: int = 0, length: int = 5, reward: float = 1.0) -> None:
        self.observation_space = spaces.Box(-2**62, 2**62, shape=(2, 3), dtype=np.int64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2, 2), dtype=np.float32)
        self.offset = offset
        self.length = length
        self.reward = reward
        self.steps = 0
        self.episode = -1
        self.last = np.zeros(3, dtype=np.int64)

    def _observation(self) -> np.ndarray:
        return np.array([[self.offset, self.steps, self.episode], self.last], dtype=np.int64)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.steps = 0
        self.episode += 1
        self.last = np.zeros(3, dtype=np.int64)
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert action.shape == (2, 2) and action.dtype == np.float32
        assert np.all(np.abs(action) <= 1.0)
        self.steps += 1
        self.last = np.array([round(float(action[0, 0]) * 1000), round(float(action[0, 1]) * 1000), 0])
        return self._observation(), self.reward, self.steps >= self.length, False, {}


def make_grid(**kwargs: Any) -> gymnasium.Env[Any, Any]:
    """A factory function: Grid with a time limit of 3 steps around it."""
    return gymnasium.wrappers.TimeLimit(Grid(**kwargs), max_episode_steps=3)


class SnapshotGrid(Grid):
    """Grid with snapshot() and restore() of its own, so the vine can branch from its states."""

    def snapshot(self) -> object:
        return self.steps, self.episode, self.last.copy()

    def restore(self, state: object) -> None:
        assert isinstance(state, tuple)
        steps, episode, last = state
        self.steps, self.episode, self.last = steps, episode, np.array(last)


def make_snapshot_grid(**kwargs: Any) -> gymnasium.Env[Any, Any]:
    """SnapshotGrid with a time limit of 4 steps around it."""
    return gymnasium.wrappers.TimeLimit(SnapshotGrid(**kwargs), max_episode_steps=4)


class Counter(gymnasium.Env[int, int]):
    """Discrete(4) observations (the step count mod 4), three discrete actions; the reward is
    the action taken, so chunks show what the environment received."""

    observation_space = spaces.Discrete(4)
    action_space = spaces.Discrete(3)

    def __init__(self) -> None:
        self.steps = 0

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
              ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.steps = 0
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        assert isinstance(action, int) and 0 <= action < 3
        self.steps += 1
        return self.steps % 4, float(action), False, self.steps >= 10, {}


class Exploding(Grid):
    """Raises in step."""

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        raise RuntimeError("the simulator blew up")
