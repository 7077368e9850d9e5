"""examples/point_mass.py: the custom environment of the external-environment example."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from trpo_worker import codec
from trpo_worker.environments import environment_spec, make_environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def point_mass(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module as a worker imports it: ``py:point_mass:…`` run from examples/."""
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.setattr(sys, "path", list(sys.path))  # make_environment puts examples/ on it
    monkeypatch.delitem(sys.modules, "point_mass", raising=False)
    env = make_environment("py:point_mass:PointMass")
    yield sys.modules[type(env).__module__]


def play(env: gymnasium.Env[Any, Any], actions: np.ndarray) -> list[tuple[bytes, float, bool, bool]]:
    """Steps through ``actions``, resetting (unseeded) after every episode; each step's
    observation bytes, reward and flags."""
    record = []
    for action in actions:
        observation, reward, terminated, truncated, _ = env.step(action)
        record.append((observation.tobytes(), reward, terminated, truncated))
        if terminated or truncated:
            env.reset()
    return record


def test_spec_extraction(point_mass: ModuleType) -> None:
    spec = environment_spec(make_environment("py:point_mass:PointMass"))
    assert spec == codec.EnvironmentSpec(observation_shape=(6,), observation_dtype=codec.ObservationDType.FLOAT32,
                                         action_kind=codec.ActionKind.BOX, action_size=2, action_low=(-1.0, -1.0),
                                         action_high=(1.0, 1.0), time_limit=200, can_snapshot=True)
    assert environment_spec(make_environment("py:point_mass:PointMass", '{"max_steps": 50}')).time_limit == 50


def test_gymnasium_env_checker(point_mass: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning of the checker fails the test
        check_env(point_mass.PointMass(), skip_render_check=True)


def test_deterministic_under_seed(point_mass: ModuleType) -> None:
    actions = np.random.default_rng(1).uniform(-1.5, 1.5, size=(450, 2)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = point_mass.PointMass()
        first, _ = env.reset(seed=7)
        runs.append((first.tobytes(), play(env, actions)))
    assert runs[0] == runs[1]
    assert any(truncated for *_, truncated in runs[0][1])  # the run crossed an episode end and a reset
    other = point_mass.PointMass()
    assert other.reset(seed=8)[0].tobytes() != runs[0][0]


def test_snapshot_restore_is_bit_identical(point_mass: ModuleType) -> None:
    actions = np.random.default_rng(2).uniform(-1.0, 1.0, size=(500, 2)).astype(np.float32)
    env = point_mass.PointMass()
    env.reset(seed=3)
    play(env, actions[:150])
    snapshot = env.snapshot()
    here = env._observation().tobytes()
    continuation = play(env, actions[150:])  # through the time limit, a reset and a new episode
    assert any(truncated for *_, truncated in continuation)
    # The snapshot is a copy: stepping on did not change it.
    assert env.restore(snapshot).tobytes() == here
    assert play(env, actions[150:]) == continuation
    # A fresh copy in another episode, restored, continues identically too.
    fresh = point_mass.PointMass()
    fresh.reset(seed=99)
    play(fresh, actions[:10])
    assert fresh.restore(snapshot).tobytes() == here
    assert play(fresh, actions[150:]) == continuation


def test_rewards_termination_and_truncation(point_mass: ModuleType) -> None:
    env = point_mass.PointMass()
    observation, _ = env.reset(seed=0)
    total, steps = 0.0, 0
    while True:
        action = point_mass.controller(observation)
        observation, reward, terminated, truncated, info = env.step(action)
        force = np.clip(action.astype(np.float64), -1, 1)
        assert reward == pytest.approx(-info["distance"] - 0.01 * float(force @ force))
        total += reward
        steps += 1
        if terminated or truncated:
            break
    assert terminated and not truncated and info["distance"] < 0.1 and steps < 50
    env.reset(seed=0)
    zero = np.zeros(2, dtype=np.float32)
    for step in range(1, 201):
        _, _, terminated, truncated, _ = env.step(zero)
        assert not terminated and truncated == (step == 200)


def test_arguments_are_checked(point_mass: ModuleType) -> None:
    with pytest.raises(ValueError, match="max_steps must be positive"):
        point_mass.PointMass(max_steps=0)
