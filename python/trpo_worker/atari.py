"""Atari games from raw pixels: the Arcade Learning Environment with the usual preprocessing.

``gym:ALE/Breakout-v5`` (any ``ALE/`` id) is made as Mnih et al. (2015) and OpenAI Baselines
prepare Atari frames for a convolutional policy, with Gymnasium's own wrappers:

1. ``gymnasium.make(id, frameskip=1, **arguments)``: the emulator, one frame per step (the
   skipping is done below, so the last two frames can be max-pooled);
2. ``AtariPreprocessing``: up to ``noop_max`` (30) no-op actions after each reset, each action
   repeated for ``frame_skip`` (4) frames with the rewards summed, the last two frames
   max-pooled (Atari sprites flicker), converted to grey and resized to ``screen_size``²
   (84 × 84, OpenCV's area interpolation), as uint8; ``terminal_on_life_loss`` (false) ends an
   episode at every lost life;
3. ``FrameStackObservation``: the last ``frame_stack`` (4) such frames;
4. channels last: observations of shape ``(84, 84, 4)``, uint8, the newest frame last — the
   image layout of the learner's convolutional networks (``ImageShape``: pixel (y, x), channel c
   at ``(y·W + x)·C + c``).

Rewards are the game's score, unclipped, so a run's logged returns are game scores. The
preprocessing options are taken out of the environment arguments (the welcome's JSON object) by
these names; the other arguments go to ``gymnasium.make`` (``repeat_action_probability``: v5's
sticky actions, 0.25 by default; ``full_action_space``, ``mode``, ``difficulty``). With
``"preprocessing": false`` the environment is made as ``gymnasium.make`` makes it.

Needs ``ale-py`` (which ships the game ROMs) and ``opencv-python-headless``:
``pip install "trpo-worker[atari]"``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

PREPROCESSING_DEFAULTS: dict[str, Any] = {
    "noop_max": 30, "frame_skip": 4, "screen_size": 84, "terminal_on_life_loss": False, "frame_stack": 4}


class AtariError(Exception):
    """An Atari environment that cannot be made; the text is one line."""


def is_atari(gym_id: str) -> bool:
    """Whether ``gym_id`` names an Arcade Learning Environment game (``ALE/…``)."""
    return gym_id.startswith("ALE/")


def make_atari(gym_id: str, arguments: dict[str, Any]) -> gymnasium.Env[Any, Any]:
    """The game ``gym_id`` with the preprocessing of the module docstring, made with
    ``arguments`` (preprocessing options and ``gymnasium.make`` keywords)."""
    arguments = dict(arguments)
    preprocessing = arguments.pop("preprocessing", True)
    if not isinstance(preprocessing, bool):
        raise AtariError(f"'preprocessing' must be true or false, not {preprocessing!r}")
    options = dict(PREPROCESSING_DEFAULTS)
    for key in PREPROCESSING_DEFAULTS:
        if key in arguments:
            if not preprocessing:
                raise AtariError(f"'{key}' is a preprocessing option, and 'preprocessing' is false")
            options[key] = arguments.pop(key)
    for key in ("noop_max", "frame_skip", "screen_size", "frame_stack"):
        value = options[key]
        low = 0 if key == "noop_max" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise AtariError(f"'{key}' must be an integer ≥ {low}, not {value!r}")
    if not isinstance(options["terminal_on_life_loss"], bool):
        raise AtariError(f"'terminal_on_life_loss' must be true or false, not {options['terminal_on_life_loss']!r}")
    if preprocessing and arguments.get("frameskip", 1) != 1:
        raise AtariError(f"'frameskip' is {arguments['frameskip']!r}, but the preprocessing skips frames itself: "
                         f"give 'frame_skip' (default 4) instead")
    try:
        import ale_py
    except ImportError:
        raise AtariError(f"{gym_id} needs ale-py: pip install \"trpo-worker[atari]\"") from None
    gymnasium.register_envs(ale_py)
    if not preprocessing:
        return gymnasium.make(gym_id, **arguments)
    try:
        import cv2  # noqa: F401  (AtariPreprocessing resizes with OpenCV)
    except ImportError:
        raise AtariError(f"{gym_id}'s preprocessing needs OpenCV: pip install \"trpo-worker[atari]\"") from None
    arguments["frameskip"] = 1
    env = gymnasium.make(gym_id, **arguments)
    env = gymnasium.wrappers.AtariPreprocessing(
        env, noop_max=options["noop_max"], frame_skip=options["frame_skip"], screen_size=options["screen_size"],
        terminal_on_life_loss=options["terminal_on_life_loss"], grayscale_obs=True, scale_obs=False)
    env = gymnasium.wrappers.FrameStackObservation(env, options["frame_stack"])
    return ChannelsLast(env)


class ChannelsLast(gymnasium.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """Stacked frames ``(frames, height, width)`` as an image ``(height, width, frames)``."""

    def __init__(self, env: gymnasium.Env[np.ndarray, Any]) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gymnasium.spaces.Box) and space.shape is not None and len(space.shape) == 3
        frames, height, width = space.shape
        self.observation_space = gymnasium.spaces.Box(0, 255, (height, width, frames), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(np.asarray(observation), 0, -1))
