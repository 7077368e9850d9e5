"""PointMass: a 2-D point mass that must reach a goal, a Gymnasium environment the registry does
not know. trpo trains it as an external environment (docs/protocol.md §3.13): the learner names
it ``py:point_mass:PointMass`` and its Python workers import this file and make it
(see README.md in this directory).

The mass starts at rest at a random position in [−1, 1]², the goal is another random point at
least 0.5 away. Each step the action, a force in [−1, 1]² (clipped), accelerates the mass:

    v ← 0.9·v + 0.2·a,    p ← p + 0.1·v

(so its top speed is 0.2 per step). The arena is [−2, 2]²: at a wall the mass stops. The reward
is −‖g − p‖ − 0.01·‖a‖²: the distance left after the step and a small cost of effort. The
episode terminates when the mass is within 0.1 of the goal, and is truncated after 200 steps.

Observations (float32): the position, the velocity and the vector to the goal, (p, v, g − p),
bounded by the arena (|p| ≤ 2, |v| ≤ 2, |g − p| ≤ 3).

The environment can snapshot and restore its whole state (position, velocity, goal, step count
and random generator), so the vine can branch from its states: ``restore(snapshot())`` makes the
continuation bit-identical to the original's, resets included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Optional

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

ACCELERATION = 0.2
DAMPING = 0.9
DT = 0.1
ARENA = 2.0  # the walls: |position| ≤ ARENA in each coordinate


@dataclass(frozen=True)
class PointMassSnapshot:
    """Everything a PointMass continuation depends on (copies, independent of later steps)."""

    position: tuple[float, float]
    velocity: tuple[float, float]
    goal: tuple[float, float]
    steps: int
    random_state: dict[str, Any]


class PointMass(gymnasium.Env[np.ndarray, np.ndarray]):
    """Reach the goal (module docstring). ``max_steps``, ``goal_radius`` and ``action_cost``
    are the keyword arguments ``--env-kwargs`` can set."""

    def __init__(self, max_steps: int = 200, goal_radius: float = 0.1, action_cost: float = 0.01) -> None:
        if max_steps < 1 or goal_radius <= 0 or action_cost < 0:
            raise ValueError("max_steps must be positive, goal_radius positive and action_cost non-negative")
        self.max_steps = max_steps
        self.goal_radius = goal_radius
        self.action_cost = action_cost
        top_speed = ACCELERATION / (1 - DAMPING)
        bound = np.array([ARENA, ARENA, top_speed, top_speed, 3.0, 3.0], dtype=np.float32)
        self.observation_space = spaces.Box(-bound, bound, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        # The time limit is this environment's own (it counts its steps, so snapshots hold the
        # count); the spec says so, as gymnasium.make's would.
        self.spec = EnvSpec("PointMass-v0", entry_point="point_mass:PointMass", max_episode_steps=max_steps,
                            kwargs={"max_steps": max_steps, "goal_radius": goal_radius, "action_cost": action_cost})
        self.position = np.zeros(2)
        self.velocity = np.zeros(2)
        self.goal = np.zeros(2)
        self.steps = 0

    def _observation(self) -> np.ndarray:
        return np.concatenate([self.position, self.velocity, self.goal - self.position]).astype(np.float32)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-1.0, 1.0, size=2)
        self.goal = self.np_random.uniform(-1.0, 1.0, size=2)
        while np.linalg.norm(self.goal - self.position) < 0.5:
            self.goal = self.np_random.uniform(-1.0, 1.0, size=2)
        self.velocity = np.zeros(2)
        self.steps = 0
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        force = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self.velocity = DAMPING * self.velocity + ACCELERATION * force
        position = self.position + DT * self.velocity
        at_wall = np.abs(position) > ARENA
        self.position = np.clip(position, -ARENA, ARENA)
        self.velocity = np.where(at_wall, 0.0, self.velocity)
        self.steps += 1
        distance = float(np.linalg.norm(self.goal - self.position))
        reward = -distance - self.action_cost * float(force @ force)
        terminated = distance < self.goal_radius
        truncated = not terminated and self.steps >= self.max_steps
        return self._observation(), reward, terminated, truncated, {"distance": distance}

    def snapshot(self) -> PointMassSnapshot:
        """The whole state, for :meth:`restore`."""
        return PointMassSnapshot(position=(float(self.position[0]), float(self.position[1])),
                                 velocity=(float(self.velocity[0]), float(self.velocity[1])),
                                 goal=(float(self.goal[0]), float(self.goal[1])), steps=self.steps,
                                 random_state=copy.deepcopy(dict(self.np_random.bit_generator.state)))

    def restore(self, snapshot: PointMassSnapshot) -> np.ndarray:
        """Returns to ``snapshot`` (taken from any PointMass with the same arguments) and returns
        the observation there."""
        self.position = np.array(snapshot.position)
        self.velocity = np.array(snapshot.velocity)
        self.goal = np.array(snapshot.goal)
        self.steps = snapshot.steps
        self.np_random.bit_generator.state = copy.deepcopy(snapshot.random_state)
        return self._observation()


def controller(observation: np.ndarray) -> np.ndarray:
    """A hand-written proportional-derivative controller: push toward the goal, brake with the
    velocity. It measures what a good policy scores (README.md)."""
    velocity, to_goal = observation[2:4], observation[4:6]
    return np.clip(4.0 * to_goal - 2.0 * velocity, -1.0, 1.0).astype(np.float32)


def measure(episodes: int = 100) -> None:
    """Prints the returns of the controller, of random actions and of doing nothing, over the
    episodes reset with seeds 0 … episodes − 1 (the numbers README.md quotes)."""
    rng = np.random.default_rng(0)
    policies: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "controller": controller,
        "random actions": lambda _: rng.uniform(-1.0, 1.0, size=2).astype(np.float32),
        "no action": lambda _: np.zeros(2, dtype=np.float32)}
    env = PointMass()
    for name, policy in policies.items():
        returns, reached = [], 0
        for seed in range(episodes):
            observation, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                observation, reward, terminated, truncated, _ = env.step(policy(observation))
                total += reward
                done = terminated or truncated
                reached += terminated
            returns.append(total)
        print(f"{name}: return {np.mean(returns):.2f} ± {np.std(returns):.2f} over {episodes} episodes, "
              f"goal reached in {reached}")


if __name__ == "__main__":
    measure()
