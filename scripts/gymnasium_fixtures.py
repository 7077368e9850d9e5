#!/usr/bin/env python3
"""Records reference trajectories from Gymnasium's classic-control environments.

The Swift simulators in Sources/Simulators are checked against these files by
Tests/SimulatorsTests. Rerun after a Gymnasium upgrade:

    /work/venv-gym/bin/python scripts/gymnasium_fixtures.py

Each segment: `gymnasium.make(id)`, `reset(seed=0)` (which restarts the TimeLimit
counter), then `env.unwrapped.state = np.array(state, dtype=np.float64)`, then one
`step` per action until the episode terminates or truncates or the actions run out.
Continuous actions are passed as float32 arrays (the action space's dtype), so every
recorded action is a float32 value. Per step the file holds the returned observation,
reward, terminated and truncated flags exactly as Gymnasium returned them, and the
internal state `env.unwrapped.state` after the step. Long segments keep only some
steps' records (`t` says which); the action list is always complete.

Output: Tests/SimulatorsTests/Fixtures/<id>.json (floats written with repr, so they
round-trip exactly).
"""

import math

import gymnasium as gym
import numpy as np

from fixture_recording import floats, segment, step_record, write_fixtures

# Long segments keep the records of their first FULL_RECORD steps (see fixture_recording).
FULL_RECORD = 100


def run_segment(env_id, name, state, policy, limit=None):
    """Steps `env_id` from `state` with `policy(t, state) -> action` and records it.

    `limit` caps the number of steps; without it the segment runs until the episode ends.
    """
    env = gym.make(env_id)
    env.reset(seed=0)
    env.unwrapped.state = np.array(state, dtype=np.float64)
    continuous = isinstance(env.action_space, gym.spaces.Box)
    actions, records = [], []
    t = 0
    while limit is None or t < limit:
        action = policy(t, floats(env.unwrapped.state))
        if continuous:
            action = np.float32(action)
            obs, reward, terminated, truncated, _ = env.step(np.array([action], dtype=np.float32))
            actions.append([float(action)])
        else:
            action = int(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            actions.append(action)
        records.append(step_record(t, obs, reward, terminated, truncated, env.unwrapped.state))
        t += 1
        if terminated or truncated:
            break
    env.close()
    return segment(name, state, actions, records, FULL_RECORD)


def random_discrete(seed, count):
    rng = np.random.default_rng(seed)
    return lambda t, s: int(rng.integers(count))


def random_continuous(seed, low, high):
    rng = np.random.default_rng(seed)
    return lambda t, s: rng.uniform(low, high)


# MARK: - Environments

def cartpole():
    env_id = "CartPole-v1"

    def balance(t, s):
        x, x_dot, theta, theta_dot = s
        return 1 if 0.2 * x + 0.5 * x_dot + 10.0 * theta + 2.0 * theta_dot > 0 else 0

    return env_id, [
        run_segment(env_id, "random-near-upright", [0.01, -0.02, 0.03, 0.015], random_discrete(1, 2)),
        run_segment(env_id, "random-leaning", [-0.3, 0.4, -0.12, 0.6], random_discrete(2, 2)),
        run_segment(env_id, "random-fast", [1.0, -1.5, 0.1, -1.0], random_discrete(3, 2)),
        run_segment(env_id, "random-centred", [0.0, 0.0, 0.0, 0.0], random_discrete(6, 2)),
        run_segment(env_id, "random-drifting", [-0.5, 0.3, -0.02, 0.1], random_discrete(7, 2)),
        run_segment(env_id, "random-tilted", [0.2, -0.1, 0.05, -0.2], random_discrete(8, 2)),
        run_segment(env_id, "leaves-track-right", [2.2, 1.2, 0.0, 0.0], balance),
        run_segment(env_id, "leaves-track-left", [-2.3, -0.9, 0.01, 0.0], random_discrete(4, 2)),
        run_segment(env_id, "outside-nominal", [0.0, 3.0, 0.19, 2.5], random_discrete(5, 2)),
        run_segment(env_id, "balanced-to-time-limit", [0.04, -0.03, 0.02, -0.04], balance),
    ]


def acrobot():
    env_id = "Acrobot-v1"

    def pump(t, s):
        # Energy pumping: torque along the second joint's velocity.
        return 2 if s[3] > 0 else 0

    return env_id, [
        run_segment(env_id, "random-hanging", [0.05, -0.08, 0.02, 0.09], random_discrete(11, 3), limit=80),
        run_segment(env_id, "random-swinging", [1.5, -2.0, 3.0, -5.0], random_discrete(12, 3), limit=80),
        run_segment(env_id, "wrap-and-velocity-bounds", [10.0, -9.5, 15.0, -30.0], random_discrete(13, 3), limit=40),
        run_segment(env_id, "pumped-to-goal", [0.1, 0.0, 0.0, 0.0], pump),
        run_segment(env_id, "random-to-time-limit", [-0.02, 0.07, -0.05, 0.01], random_discrete(14, 3)),
    ]


def mountain_car():
    env_id = "MountainCar-v0"

    def pump(t, s):
        return 2 if s[1] >= 0 else 0

    def delayed_pump(delay):
        return lambda t, s: 1 if t < delay else pump(t, s)

    # Find a start and delay that reach the goal exactly at the time limit (step 200), so that
    # terminated and the TimeLimit's truncated coincide.
    coincide = None
    for start in np.linspace(-0.6, -0.4, 41):
        for delay in range(0, 180):
            seg = run_segment(env_id, "goal-at-time-limit", [float(start), 0.0], delayed_pump(delay))
            last = seg["steps"][-1]
            if last["terminated"] and last["truncated"]:
                coincide = seg
                break
            if not last["terminated"]:
                break  # longer delays only reach the goal later, past the limit
        if coincide is not None:
            break
    assert coincide is not None, "no start reaches the goal exactly at step 200"

    return env_id, [
        run_segment(env_id, "random-valley", [-0.5, 0.0], random_discrete(21, 3), limit=60),
        run_segment(env_id, "random-right-slope", [0.3, 0.04], random_discrete(22, 3), limit=60),
        run_segment(env_id, "left-wall", [-1.15, -0.065], lambda t, s: 0, limit=20),
        run_segment(env_id, "speed-limit", [-0.45, 0.0695], lambda t, s: 2, limit=20),
        run_segment(env_id, "pumped-to-goal", [-0.55, 0.0], pump),
        run_segment(env_id, "idle-to-time-limit", [-0.52, 0.0], lambda t, s: 1),
        coincide,
    ]


def pendulum():
    env_id = "Pendulum-v1"
    extreme = [2.0, -2.0, 2.0000002, -1.9999999, 100.0, -55.5, 0.0, 1e-7]

    return env_id, [
        run_segment(env_id, "random-out-of-range-to-time-limit", [1.0, -0.5], random_continuous(32, -3.0, 3.0)),
        run_segment(env_id, "unwrapped-angles", [10.0, 7.9], random_continuous(33, -2.5, 2.5), limit=30),
        run_segment(env_id, "negative-angle-speed-limit", [-7.5, -12.0], random_continuous(34, -2.0, 2.0), limit=30),
        run_segment(env_id, "extreme-actions", [math.pi, 0.0], lambda t, s: extreme[t % len(extreme)], limit=40),
    ]


def continuous_mountain_car():
    env_id = "MountainCarContinuous-v0"
    edge = [1.0, -1.0, 1.0000001, -1.0000001, 1.5, -2.5, 0.0, 0.999999]

    def pump(t, s):
        return 1.0 if s[1] >= 0 else -1.0

    def pump_overdriven(t, s):
        return 1.7 if s[1] >= 0 else -1.3

    def pump_partial(t, s):
        return 0.9 if s[1] >= 0 else -0.95

    return env_id, [
        run_segment(env_id, "random-valley", [-0.5, 0.0], random_continuous(41, -1.5, 1.5), limit=80),
        run_segment(env_id, "random-right-slope", [0.2, 0.03], random_continuous(42, -1.0, 1.0), limit=40),
        run_segment(env_id, "edge-actions", [-0.6, 0.01], lambda t, s: edge[t % len(edge)], limit=40),
        run_segment(env_id, "left-wall", [-1.15, -0.065], lambda t, s: -1.0, limit=20),
        run_segment(env_id, "speed-limit", [-0.45, 0.0695], lambda t, s: 1.0, limit=20),
        run_segment(env_id, "pumped-to-goal", [-0.5, 0.0], pump),
        run_segment(env_id, "overdriven-pump-to-goal", [-0.45, 0.0], pump_overdriven),
        run_segment(env_id, "partial-pump-to-goal", [-0.52, 0.0], pump_partial),
        run_segment(env_id, "small-random-to-time-limit", [-0.5, 0.0], random_continuous(43, -0.2, 0.2)),
    ]


def main():
    write_fixtures((cartpole, acrobot, mountain_car, pendulum, continuous_mountain_car), {"gymnasium": gym.__version__})


if __name__ == "__main__":
    main()
