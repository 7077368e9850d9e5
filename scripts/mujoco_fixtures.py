#!/usr/bin/env python3
"""Records reference trajectories from Gymnasium's v4 MuJoCo locomotion environments.

The Swift simulators in Sources/Simulators/MuJoCo are checked against these files by
Tests/SimulatorsTests/MuJoCoConformanceTests.swift. Needs Gymnasium with the PyPI `mujoco`
package (a newer engine than the MuJoCo 2.2.2 trpo links):

    python3 -m venv /work/venv-mj && /work/venv-mj/bin/pip install "gymnasium[mujoco]"
    /work/venv-mj/bin/python scripts/mujoco_fixtures.py

Each segment: `gymnasium.make(id)`, `reset(seed=0)` (which restarts the TimeLimit counter),
`env.unwrapped.set_state(qpos, qvel)` with the segment's start state (qpos followed by qvel),
then one `step` per action until the episode terminates or truncates or the actions run out.
Actions are float32 arrays (the action space's dtype), some beyond the bounds [-1, 1] so that
MuJoCo's clamping and the control cost of the unclipped action are exercised. Per step the
file holds the returned observation, reward, terminated and truncated flags exactly as
Gymnasium returned them, and the state `qpos ++ qvel` after the step. Long segments keep only
some steps' records (`t` says which); the action list is always complete.

Output: Tests/SimulatorsTests/Fixtures/<id>.json (floats written with repr, so they
round-trip exactly), in the format of scripts/gymnasium_fixtures.py plus the `mujoco` version.
"""

import os
import tempfile
import warnings

import gymnasium as gym
import mujoco
import numpy as np

from fixture_recording import floats, segment, step_record, write_fixtures

# Long segments keep the records of their first FULL_RECORD steps (see fixture_recording).
FULL_RECORD = 50

warnings.filterwarnings("ignore", message=".*is out of date.*")


def run_segment(env_id, name, state, policy, limit=None):
    """Steps `env_id` from `state` (qpos ++ qvel) with `policy(t, obs) -> action`."""
    env = gym.make(env_id)
    env.reset(seed=0)
    model = env.unwrapped.model
    qpos = np.array(state[:model.nq], dtype=np.float64)
    qvel = np.array(state[model.nq:], dtype=np.float64)
    env.unwrapped.set_state(qpos, qvel)
    obs = env.unwrapped._get_obs()
    actions, records = [], []
    t = 0
    while limit is None or t < limit:
        action = np.asarray(policy(t, obs), dtype=np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(floats(action))
        records.append(step_record(t, obs, reward, terminated, truncated, env.unwrapped.state_vector()))
        t += 1
        if terminated or truncated:
            break
    env.close()
    return segment(name, state, actions, records, FULL_RECORD)


def random_policy(seed, size, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return lambda t, obs: rng.uniform(low, high, size)


def initial_state(env_id, seed):
    """A start state drawn by Gymnasium's own reset noise."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    state = floats(env.unwrapped.state_vector())
    env.close()
    return state


# MARK: - Environments

def hopper():
    env_id = "Hopper-v4"
    rest = [0.0, 1.25, 0.0, 0.0, 0.0, 0.0] + [0.0] * 6

    def stand(t, obs):
        # A crude balance controller that keeps the hopper up for a while.
        return np.clip([-0.6 * obs[1] - 0.1 * obs[7], -0.3 * obs[2], 0.5 * obs[1]], -1, 1)

    return env_id, [
        run_segment(env_id, "random-from-rest-until-fall", rest, random_policy(101, 3)),
        run_segment(env_id, "random-from-reset-noise-until-fall", initial_state(env_id, 1), random_policy(102, 3)),
        run_segment(env_id, "out-of-range-actions-until-fall", initial_state(env_id, 2),
                    random_policy(103, 3, -1.6, 1.6)),
        run_segment(env_id, "controlled-standing", initial_state(env_id, 3), stand, limit=120),
        run_segment(env_id, "dropped-from-height", [0.1, 1.6, 0.05, -0.2, -0.3, 0.1] + [0.3, -0.5, 0.2, 0, 0, 0],
                    random_policy(104, 3, -0.5, 0.5)),
        run_segment(env_id, "small-actions-until-fall", initial_state(env_id, 4), random_policy(105, 3, -0.2, 0.2)),
        run_segment(env_id, "random-from-reset-noise-2-until-fall", initial_state(env_id, 5), random_policy(106, 3)),
        run_segment(env_id, "random-from-reset-noise-3-until-fall", initial_state(env_id, 6), random_policy(107, 3)),
        # Unhealthy at once: through the state range (|x velocity| >= 100) and the pitch.
        run_segment(env_id, "fast-x-velocity-unhealthy", [0.0, 1.25] + [0.0] * 4 + [150.0] + [0.0] * 5,
                    random_policy(108, 3), limit=5),
        run_segment(env_id, "pitched-unhealthy", [0.0, 1.25, 0.25] + [0.0] * 3 + [0.0] * 6,
                    random_policy(109, 3), limit=5),
    ]


def walker2d():
    env_id = "Walker2d-v4"
    rest = [0.0, 1.25] + [0.0] * 7 + [0.0] * 9
    return env_id, [
        run_segment(env_id, "random-from-rest-until-fall", rest, random_policy(201, 6)),
        run_segment(env_id, "random-from-reset-noise-until-fall", initial_state(env_id, 1), random_policy(202, 6)),
        run_segment(env_id, "out-of-range-actions-until-fall", initial_state(env_id, 2),
                    random_policy(203, 6, -1.6, 1.6)),
        run_segment(env_id, "gentle-actions", initial_state(env_id, 3), random_policy(204, 6, -0.3, 0.3), limit=150),
        run_segment(env_id, "small-actions-until-fall", initial_state(env_id, 4), random_policy(206, 6, -0.2, 0.2)),
        run_segment(env_id, "random-from-reset-noise-2-until-fall", initial_state(env_id, 5), random_policy(207, 6)),
        run_segment(env_id, "random-from-reset-noise-3-until-fall", initial_state(env_id, 6), random_policy(208, 6)),
        run_segment(env_id, "random-from-reset-noise-4-until-fall", initial_state(env_id, 7), random_policy(209, 6)),
        run_segment(env_id, "zero-actions-until-fall", initial_state(env_id, 8), lambda t, obs: np.zeros(6)),
        run_segment(env_id, "tilted-falls-at-once", [0.0, 1.25, 0.99] + [0.0] * 6 + [0, 0, 2.0] + [0.0] * 6,
                    random_policy(205, 6), limit=20),
    ]


def swimmer():
    env_id = "Swimmer-v4"
    return env_id, [
        run_segment(env_id, "random-from-reset-noise", initial_state(env_id, 1), random_policy(301, 2), limit=150),
        run_segment(env_id, "out-of-range-actions", initial_state(env_id, 2), random_policy(302, 2, -1.6, 1.6),
                    limit=100),
        run_segment(env_id, "swing-to-time-limit", initial_state(env_id, 3),
                    lambda t, obs: [np.sin(0.3 * t), np.cos(0.3 * t)]),
    ]


def half_cheetah():
    env_id = "HalfCheetah-v4"
    return env_id, [
        run_segment(env_id, "random-from-reset-noise", initial_state(env_id, 1), random_policy(401, 6), limit=100),
        run_segment(env_id, "out-of-range-actions", initial_state(env_id, 2), random_policy(402, 6, -1.6, 1.6),
                    limit=100),
        run_segment(env_id, "dropped-from-height", [0.0, 0.3, 0.1] + [0.0] * 6 + [1.0, 0, 0] + [0.0] * 6,
                    random_policy(403, 6), limit=100),
        run_segment(env_id, "small-actions", initial_state(env_id, 5), random_policy(405, 6, -0.3, 0.3), limit=60),
        run_segment(env_id, "random-from-reset-noise-2", initial_state(env_id, 6), random_policy(406, 6), limit=60),
        run_segment(env_id, "random-to-time-limit", initial_state(env_id, 4), random_policy(404, 6)),
    ]


def main():
    # mujoco appends its warnings (e.g. that `settotalmass` is deprecated) to MUJOCO_LOG.TXT in
    # the working directory; keep that file out of the repository.
    os.chdir(tempfile.gettempdir())
    write_fixtures((hopper, walker2d, swimmer, half_cheetah), {"gymnasium": gym.__version__, "mujoco": mujoco.__version__})


if __name__ == "__main__":
    main()
