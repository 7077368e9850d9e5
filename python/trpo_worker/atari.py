"""Atari games from raw pixels: the Arcade Learning Environment with the usual preprocessing.

``gym:ALE/Breakout-v5`` (any ``ALE/`` id) is made as Mnih et al. (2015) and OpenAI Baselines
prepare Atari frames for a convolutional policy, with Gymnasium's own wrappers:

1. ``gymnasium.make(id, frameskip=1, **arguments)``: the emulator, one frame per step (the
   skipping is done below, so the last two frames can be max-pooled);
2. ``AtariPreprocessing``: up to ``noop_max`` (30) no-op actions after each reset, each action
   repeated for ``frame_skip`` (4) frames with the rewards summed, the last two frames
   max-pooled (Atari sprites flicker), converted to grey and resized to ``screen_size``²
   (84 × 84, OpenCV's area interpolation), as uint8; ``terminal_on_life_loss`` (false) ends an
   episode at every lost life. It is Gymnasium's own class, as :class:`AtariFrameSkip`, which
   acts the skipped frames on the emulator directly (the same steps, faster);
3. ``AtariLives`` (only with one of its options on, both off by default): ``fire_reset`` presses
   FIRE (then action 2, as Baselines' ``FireResetEnv`` does) at the start of every game, and,
   with ``episodic_life``, of every life; ``episodic_life`` makes a lost life a terminal state
   for learning (Baselines' ``EpisodicLifeEnv``): the step returns ``terminated`` with
   ``info["episode_continues"]`` true, and the game goes on without a reset, so the logged
   episode is still the whole game (:data:`EPISODE_CONTINUES`);
4. ``FrameStackObservation``: the last ``frame_stack`` (4) such frames;
5. channels last: observations of shape ``(84, 84, 4)``, uint8, the newest frame last — the
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
    "noop_max": 30, "frame_skip": 4, "screen_size": 84, "terminal_on_life_loss": False, "frame_stack": 4,
    "episodic_life": False, "fire_reset": False}

#: The ``info`` key of a step that ends a trajectory for learning (``terminated``) inside an
#: episode that goes on: the worker marks the row terminated and keeps stepping without a reset.
EPISODE_CONTINUES = "episode_continues"


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
    for key in ("terminal_on_life_loss", "episodic_life", "fire_reset"):
        if not isinstance(options[key], bool):
            raise AtariError(f"'{key}' must be true or false, not {options[key]!r}")
    if options["terminal_on_life_loss"] and options["episodic_life"]:
        raise AtariError("'terminal_on_life_loss' ends the game at a lost life, 'episodic_life' only the trajectory: "
                         "choose one")
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
    env = AtariFrameSkip(
        env, noop_max=options["noop_max"], frame_skip=options["frame_skip"], screen_size=options["screen_size"],
        terminal_on_life_loss=options["terminal_on_life_loss"], grayscale_obs=True, scale_obs=False)
    if options["episodic_life"] or options["fire_reset"]:
        env = AtariLives(env, episodic_life=options["episodic_life"], fire_reset=options["fire_reset"])
    env = gymnasium.wrappers.FrameStackObservation(env, options["frame_stack"])
    return ChannelsLast(env)


class AtariFrameSkip(gymnasium.wrappers.AtariPreprocessing):
    """Gymnasium's ``AtariPreprocessing``, whose skipped frames go straight to the emulator.

    ``AtariPreprocessing.step`` steps the environment below it once per frame, and ale-py's
    ``AtariEnv.step`` then copies the frame's RGB screen into an observation the preprocessing
    throws away, through the ``OrderEnforcing`` and ``PassiveEnvChecker`` layers that
    ``gymnasium.make`` adds. This class acts the frames of a step on ALE itself, as
    ``AtariEnv.step`` does (``ale.act`` with the action set's action, then the game's end and
    its info), when nothing else lies between: the same observations, rewards, ends and info
    (``tests/test_atari.py`` compares them step for step with Gymnasium's chain), for less work
    per agent step (on a Breakout worker the RGB copies were 8.5 % of its time and the per-frame
    layers about as much). Resets, and a step of any other stack (a continuous or stochastic
    frame skip, a time limit, a layer of the user's), take Gymnasium's path."""

    _PASSIVE_LAYERS = (gymnasium.wrappers.OrderEnforcing, gymnasium.wrappers.PassiveEnvChecker)

    def __init__(self, env: gymnasium.Env[Any, Any], **options: Any) -> None:
        super().__init__(env, **options)
        # The layers between are fixed once made: find the core whose frames a step may act
        # on ALE directly (None: every step takes Gymnasium's path), and the order checks that
        # must have seen a reset first (before it, Gymnasium's path raises ResetNeeded).
        import ale_py.env
        layer: Any = env
        self._orders: list[gymnasium.wrappers.OrderEnforcing[Any, Any]] = []
        while type(layer) in self._PASSIVE_LAYERS:
            if isinstance(layer, gymnasium.wrappers.OrderEnforcing):
                self._orders.append(layer)
            layer = layer.env
        direct = type(layer) is ale_py.env.AtariEnv and not layer.continuous and layer._frameskip == 1
        self._core: Any = layer if direct else None

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        core = self._core
        if core is None or not all(order.has_reset for order in self._orders):
            return super().step(action)  # type: ignore[no-any-return]
        ale, code = core.ale, core._action_set[action]
        reward, terminated, truncated = 0.0, False, False
        for frame in range(self.frame_skip):
            reward += ale.act(code, 1.0)
            terminated, truncated = ale.game_over(with_truncation=False), ale.game_truncated()
            if self.terminal_on_life_loss:
                lives, self.lives = self.lives, ale.lives()
                terminated = terminated or self.lives < lives
            self.game_over = terminated
            if terminated or truncated:
                break  # the observation max-pools the screens kept so far, as Gymnasium's does
            # The last frame's screen into obs_buffer[0], the one before it into obs_buffer[1].
            if frame >= self.frame_skip - 2:
                buffer = self.obs_buffer[self.frame_skip - 1 - frame]
                if self.grayscale_obs:
                    ale.getScreenGrayscale(buffer)
                else:
                    ale.getScreenRGB(buffer)
        return self._get_obs(), reward, terminated, truncated, core._get_info()


class AtariLives(gymnasium.Wrapper[np.ndarray, Any, np.ndarray, Any]):
    """Lives as OpenAI Baselines' ``wrap_deepmind`` treats them in training (module docstring, 3).

    ``fire_reset`` (for games that wait for FIRE, such as Breakout, whose ball a policy must
    otherwise learn to launch): after a reset, and with ``episodic_life`` after each lost life,
    the actions FIRE (1) and 2 are taken, their rewards added to the step's. ``episodic_life``:
    a step that loses a life and does not end the game returns ``terminated`` and
    ``info[EPISODE_CONTINUES] = True``; the next step goes on from the observation it returned.
    Lives are ALE's count (``ale.lives()``); the wrapper keeps the last one seen (``lives``)."""

    FIRE = 1

    def __init__(self, env: gymnasium.Env[np.ndarray, Any], episodic_life: bool, fire_reset: bool) -> None:
        super().__init__(env)
        if fire_reset:
            meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
            if len(meanings) < 3 or meanings[self.FIRE] != "FIRE":
                raise AtariError(f"'fire_reset' needs a game whose action 1 is FIRE; its actions are {meanings}")
        self.episodic_life = episodic_life
        self.fire_reset = fire_reset
        self.lives = 0

    def _lives(self) -> int:
        return int(self.env.unwrapped.ale.lives())  # type: ignore[attr-defined]

    def _fire(self, reward: float) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """FIRE, then action 2 unless the game ended: the last step, its rewards added to ``reward``."""
        observation, step_reward, terminated, truncated, info = self.env.step(self.FIRE)
        reward += float(step_reward)
        if not (terminated or truncated):
            observation, step_reward, terminated, truncated, info = self.env.step(2)
            reward += float(step_reward)
        return observation, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        if self.fire_reset:
            observation, _, terminated, truncated, info = self._fire(0.0)
            if terminated or truncated:  # a game over at its first actions: start it again, once
                observation, info = self.env.reset(options=options)
        self.lives = self._lives()
        return observation, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward)
        lives = self._lives()
        lost = 0 < lives < self.lives and not (terminated or truncated)
        self.lives = lives
        if lost and self.episodic_life:
            if self.fire_reset:
                observation, reward, terminated, truncated, info = self._fire(reward)
                self.lives = self._lives()
            if not (terminated or truncated):
                info = {**info, EPISODE_CONTINUES: True}
            terminated = True
        return observation, reward, terminated, truncated, info


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
