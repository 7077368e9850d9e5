"""``trpo-gym-worker render``: the frames of a checkpoint's policy playing its environment, for
``trpo render`` to encode.

``trpo render`` draws the built-in environments itself; for external ones (``gym:ID``,
``py:MODULE:FACTORY``) it runs this and encodes what it writes. The environment is made as
``trpo-gym-worker evaluate`` makes it, with ``render_mode="rgb_array"`` added to its keyword
arguments, and the episodes are those of ``evaluate`` (episode k from ``reset(seed=S + k)``,
the policy's mode unless ``--stochastic``), each cut after ``--steps`` steps when given.

Standard output is a binary stream:

1. one header line, UTF-8 JSON and ``\\n``: ``{"width": W, "height": H, "fps": F}``, written
   once the first frame is rendered (W and H even, 16 … 4096);
2. frames, each the byte ``F`` followed by W × H × 3 bytes of RGB, row by row from the top;
3. last, the byte ``S`` followed by one JSON line ``{"returns": [...], "lengths": [...]}``.

A frame is rendered after each reset and then every ``stride`` steps, where ``stride`` is the
environment's steps per second (its ``render_fps`` metadata; for a game under the Atari
preprocessing, the console's 60 frames per second over its frame skip) over ``--fps``,
rounded, at least 1: the video plays at about the game's own speed. A game slower than
``--fps`` (Atari's 15 agent steps per second) gets every step and the header's ``fps`` is its
own rate, which the video then plays at. Frames are scaled to
``--width`` × ``--height`` (nearest pixel), by default to the environment's own size times the
whole factor that brings its longer side nearest 480 (Atari's 160 × 210: 320 × 420), made even.
Errors go to standard error as one ``error:`` line (exit 1).
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Optional

import gymnasium
import numpy as np
import numpy.typing as npt

from .environments import SimulatorError
from .evaluate import load_checkpoint, run_episodes

DEFAULT_LONGER_SIDE = 480


ATARI_FRAMES_PER_SECOND = 60.0


def steps_per_second(env: gymnasium.Env[Any, Any]) -> float:
    """Agent steps per second of game time: the Atari console's 60 frames per second over the
    preprocessing's frame skip when the Atari preprocessing wraps the game (ale-py's metadata
    says 30), else ``render_fps`` (30 when the environment does not say)."""
    layer: Any = env
    while layer is not None:
        if isinstance(layer, gymnasium.wrappers.AtariPreprocessing):
            return ATARI_FRAMES_PER_SECOND / layer.frame_skip
        layer = getattr(layer, "env", None)
    return float(env.metadata.get("render_fps") or 30)


def video_size(width: int, height: int, requested: Optional[tuple[int, int]]) -> tuple[int, int]:
    """The video's frame size for the environment's ``width`` × ``height`` frames: ``requested``,
    or the environment's size times the whole factor that brings its longer side nearest
    :data:`DEFAULT_LONGER_SIDE` (at least 1), each side made even and at least 16."""
    if requested is not None:
        return requested
    factor = max(1, round(DEFAULT_LONGER_SIDE / max(width, height)))
    return max(16, width * factor // 2 * 2), max(16, height * factor // 2 * 2)


def scaled(frame: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """``frame`` (h × w × 3) resized to ``height`` × ``width`` by taking the nearest pixel."""
    h, w = frame.shape[:2]
    rows = np.arange(height) * h // height
    columns = np.arange(width) * w // width
    return np.ascontiguousarray(frame[rows[:, None], columns])


def render(checkpoint: str, episodes: int, seed: int, stochastic: bool, fps: int, out: BinaryIO,
           max_steps: Optional[int] = None, size: Optional[tuple[int, int]] = None) -> None:
    """Writes the stream of the module docstring to ``out``. Raises CheckpointError or
    SimulatorError with the reason (an environment that cannot render ``rgb_array`` frames
    included)."""
    saved = load_checkpoint(checkpoint)
    state: dict[str, Any] = {"stride": 0, "size": None, "fps": fps}

    def watch(env: gymnasium.Env[Any, Any], step: int) -> None:
        if not state["stride"]:
            rate = steps_per_second(env)
            state["stride"] = max(1, round(rate / fps))
            # A game slower than the video's rate plays at its own: one frame per step.
            state["fps"] = fps if rate >= fps else max(1, round(rate))
        if step % state["stride"]:
            return
        try:
            frame = env.render()
        except Exception as error:  # an environment's own failure, reported in one line
            raise SimulatorError(f"{saved.environment} cannot render rgb_array frames: "
                                 f"{type(error).__name__}: {error}") from None
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise SimulatorError(f"{saved.environment} renders {type(frame).__name__} "
                                 f"{getattr(frame, 'shape', '')}, not an RGB uint8 image (height × width × 3)")
        if state["size"] is None:
            state["size"] = video_size(frame.shape[1], frame.shape[0], size)
            width, height = state["size"]
            out.write(json.dumps({"width": width, "height": height, "fps": state["fps"]}).encode() + b"\n")
        width, height = state["size"]
        out.write(b"F" + scaled(frame, width, height).tobytes())

    results = run_episodes(saved, episodes, seed, stochastic, max_steps=max_steps, render=True, watch=watch)
    out.write(b"S" + json.dumps({"returns": [r.episode_return for r in results],
                                 "lengths": [r.length for r in results]}).encode() + b"\n")
    out.flush()
