"""Atari games through the worker: ``gym:ALE/…`` made with the usual preprocessing.

Checked step for step against Gymnasium's own wrappers made by hand, on the real emulator
(ale-py ships the ROMs)."""

from __future__ import annotations

import json
from typing import Any

import gymnasium
import numpy as np
import pytest

from trpo_worker.atari import AtariFrameSkip
from trpo_worker.codec import ActionKind, ObservationDType
from trpo_worker.environments import EnvironmentAdapter, SimulatorError, make_environment


def reference(gym_id: str, terminal_on_life_loss: bool = False, **make: Any) -> gymnasium.Env[Any, Any]:
    import ale_py
    gymnasium.register_envs(ale_py)
    env = gymnasium.make(gym_id, frameskip=1, **make)
    env = gymnasium.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                                terminal_on_life_loss=terminal_on_life_loss, grayscale_obs=True,
                                                scale_obs=False)
    return gymnasium.wrappers.FrameStackObservation(env, 4)


def test_the_spec_is_stacked_grey_frames_channels_last() -> None:
    env = make_environment("gym:ALE/Pong-v5")
    spec = EnvironmentAdapter(env).spec
    assert spec.observation_shape == (84, 84, 4)
    assert spec.observation_dtype == ObservationDType.UINT8
    assert spec.action_kind == ActionKind.DISCRETE and spec.action_size == 6
    observation, _ = env.reset(seed=3)
    assert observation.shape == (84, 84, 4) and observation.dtype == np.uint8 and observation.flags.c_contiguous


@pytest.mark.parametrize("gym_id", ["ALE/Breakout-v5", "ALE/Pong-v5"])
def test_step_for_step_gymnasiums_wrappers(gym_id: str) -> None:
    ours, theirs = make_environment("gym:" + gym_id), reference(gym_id)
    o, _ = ours.reset(seed=11)
    r, _ = theirs.reset(seed=11)
    np.testing.assert_array_equal(o, np.moveaxis(r, 0, -1))
    actions = np.random.default_rng(5).integers(0, ours.action_space.n, 300)
    total = 0.0
    for a in actions:
        o, reward, terminated, truncated, _ = ours.step(int(a))
        r, expected, t2, tr2, _ = theirs.step(int(a))
        np.testing.assert_array_equal(o, np.moveaxis(r, 0, -1))
        # The newest frame is the last channel.
        np.testing.assert_array_equal(o[:, :, 3], r[3])
        assert (reward, terminated, truncated) == (expected, t2, tr2)
        total += float(reward)
        if terminated or truncated:
            break
    if gym_id == "ALE/Pong-v5":
        assert total < 0  # the game's score, unclipped and summed over skipped frames: random play loses points


@pytest.mark.parametrize("gym_id, options", [
    ("ALE/Breakout-v5", {}),
    ("ALE/Pong-v5", {}),
    ("ALE/Breakout-v5", {"terminal_on_life_loss": True}),
    ("ALE/Breakout-v5", {"max_episode_steps": 60}),  # a TimeLimit between: Gymnasium's own path
])
def test_games_step_for_step_with_resets(gym_id: str, options: dict[str, Any]) -> None:
    """AtariFrameSkip acts the skipped frames on ALE directly: over games and their resets
    (sticky actions on) it gives Gymnasium's observations, rewards, ends and info."""
    ours, theirs = make_environment("gym:" + gym_id, json.dumps(options)), reference(gym_id, **options)
    layer: Any = ours
    while not isinstance(layer, AtariFrameSkip):
        layer = layer.env
    o, info = ours.reset(seed=4)
    r, expected_info = theirs.reset(seed=4)
    assert (layer._core is not None) == ("max_episode_steps" not in options)
    actions = np.random.default_rng(6).integers(0, ours.action_space.n, 1_200)
    resets = 0
    for a in actions:
        np.testing.assert_array_equal(o, np.moveaxis(r, 0, -1))
        assert info == expected_info
        o, reward, terminated, truncated, info = ours.step(int(a))
        r, expected, t2, tr2, expected_info = theirs.step(int(a))
        assert (reward, terminated, truncated) == (expected, t2, tr2) and isinstance(reward, float)
        if terminated or truncated:
            resets += 1
            o, info = ours.reset()
            r, expected_info = theirs.reset()
    assert resets >= (1 if gym_id == "ALE/Pong-v5" else 4)


def test_same_seed_same_frames() -> None:
    def run() -> list[np.ndarray]:
        env = make_environment("gym:ALE/Breakout-v5")
        frames = [env.reset(seed=7)[0]]
        for a in [1, 2, 3, 2, 1, 0] * 10:
            frames.append(env.step(a)[0])
        return frames
    for x, y in zip(run(), run()):
        np.testing.assert_array_equal(x, y)


def test_preprocessing_options_and_make_arguments() -> None:
    env = make_environment("gym:ALE/Breakout-v5", '{"frame_stack": 2, "screen_size": 64, "noop_max": 0, '
                                                  '"repeat_action_probability": 0.0}')
    assert env.observation_space.shape == (64, 64, 2)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    raw = make_environment("gym:ALE/Breakout-v5", '{"preprocessing": false}')
    assert raw.observation_space.shape == (210, 160, 3)


@pytest.mark.parametrize("arguments, reason", [
    ('{"frameskip": 4}', "give 'frame_skip'"),
    ('{"noop_max": "many"}', "'noop_max' must be an integer"),
    ('{"frame_stack": 0}', "'frame_stack' must be an integer ≥ 1"),
    ('{"terminal_on_life_loss": 1}', "'terminal_on_life_loss' must be true or false"),
    ('{"preprocessing": false, "frame_stack": 2}', "'preprocessing' is false"),
    ('{"preprocessing": "yes"}', "'preprocessing' must be true or false"),
])
def test_bad_options_are_one_line_reasons(arguments: str, reason: str) -> None:
    with pytest.raises(SimulatorError, match=reason) as error:
        make_environment("gym:ALE/Breakout-v5", arguments)
    assert "\n" not in str(error.value) and "ALE/Breakout-v5" in str(error.value)


def test_an_unknown_game_names_it() -> None:
    with pytest.raises(SimulatorError, match="ALE/Brekout-v5"):
        make_environment("gym:ALE/Brekout-v5")
