"""``trpo-gym-worker render`` and ``trpo render`` of external environments: the frame stream of
python/trpo_worker/render.py (header, frames, summary), the video's size and rate rules, and the
real ``trpo render`` encoding a gym:CartPole-v1 checkpoint through this package with ffmpeg."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_end_to_end import TRPO_BIN
from test_evaluate import checkpoint
from test_evaluate import write as write_checkpoint
from test_evaluate_frames import frame_checkpoint
from test_evaluate_frames import write as write_frames
from trpo_worker import cli
from trpo_worker.render import render, scaled, video_size


def decode(stream: bytes) -> tuple[dict[str, Any], list[bytes], dict[str, Any]]:
    """The header, frames and summary of a stream, checking its framing."""
    end = stream.index(b"\n")
    header = json.loads(stream[:end])
    size = header["width"] * header["height"] * 3
    frames, at = [], end + 1
    while stream[at:at + 1] == b"F":
        frames.append(stream[at + 1:at + 1 + size])
        assert len(frames[-1]) == size
        at += 1 + size
    assert stream[at:at + 1] == b"S" and stream.endswith(b"\n")
    return header, frames, json.loads(stream[at + 1:])


def cartpole(tmp_path: Path) -> Path:
    state = checkpoint("cartpole")
    state["configuration"]["environment"] = "gym:CartPole-v1"
    state["configuration"]["environmentArguments"] = None
    return write_checkpoint(tmp_path / "cartpole", state)


def test_a_cartpole_stream_has_a_frame_every_stride_steps(tmp_path: Path) -> None:
    out = io.BytesIO()
    render(str(cartpole(tmp_path)), episodes=2, seed=3, stochastic=False, fps=25, out=out, max_steps=20)
    header, frames, summary = decode(out.getvalue())
    # CartPole draws 600×400 at 50 steps per second: every 2nd step at 25 fps, from the reset on.
    assert header == {"width": 600, "height": 400, "fps": 25}
    assert summary["lengths"] == [20, 20] and len(summary["returns"]) == 2
    assert len(frames) == 2 * (1 + 20 // 2)
    assert len(set(frames[:11])) > 1  # the cart moves


def test_atari_plays_at_the_games_own_rate_and_is_scaled(tmp_path: Path) -> None:
    out = io.BytesIO()
    directory = write_frames(tmp_path / "pong", frame_checkpoint())
    render(str(directory), episodes=1, seed=1, stochastic=False, fps=25, out=out, max_steps=10)
    header, frames, summary = decode(out.getvalue())
    # 60 console frames per second over a frame skip of 4: 15 steps per second, each one drawn;
    # 160 × 210 scaled by 2.
    assert header == {"width": 320, "height": 420, "fps": 15}
    assert len(frames) == 11 and summary["lengths"] == [10]
    image = np.frombuffer(frames[0], dtype=np.uint8).reshape(420, 320, 3)
    assert (image[0::2, 0::2] == image[1::2, 1::2]).all()  # nearest-pixel doubling


def test_size_rules() -> None:
    assert video_size(160, 210, None) == (320, 420)
    assert video_size(600, 400, None) == (600, 400)
    assert video_size(1280, 720, None) == (1280, 720)
    assert video_size(15, 9, None) == (480, 288)
    assert video_size(160, 210, (64, 32)) == (64, 32)
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert (scaled(frame, 6, 4)[::2, ::2] == frame).all()
    assert (scaled(frame, 3, 2) == frame).all()


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["render", "--checkpoint", str(tmp_path / "absent")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit) as exit:
        cli.main(["render", "--checkpoint", str(tmp_path), "--width", "15", "--height", "16"])
    assert exit.value.code == 2


@pytest.mark.skipif(not TRPO_BIN.is_file() or shutil.which("ffmpeg") is None,
                    reason=f"needs the trpo binary ({TRPO_BIN}) and ffmpeg")
def test_trpo_render_encodes_an_external_checkpoint(tmp_path: Path) -> None:
    directory = tmp_path / "run"
    environment = dict(os.environ, TRPO_PYTHON=sys.executable)
    subprocess.run([str(TRPO_BIN), "train", "--env", "gym:CartPole-v1", "--workers", "1", "--steps", "2048",
                    "--batch-steps", "1024", "--quiet", "--out", str(directory)],
                   check=True, env=environment, capture_output=True, timeout=300)
    video = tmp_path / "cartpole.mp4"
    result = subprocess.run([str(TRPO_BIN), "render", "--checkpoint", str(directory), "--out", str(video),
                             "--steps", "30", "--episodes", "2"], env=environment, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gym:CartPole-v1 iteration 2: 2 deterministic episodes, return ")
    # Episodes of up to 30 steps, a frame after each reset and every 2nd step (50 steps per second).
    lengths = [int(n) for n in result.stdout.split(" (")[1].split(" steps)")[0].split(", ")]
    frames = sum(1 + n // 2 for n in lengths)
    assert all(1 <= n <= 30 for n in lengths)
    assert f" steps); {frames} frames of 600×400 at 25 fps " in result.stdout
    assert video.stat().st_size > 1000
    probe = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "null", "-"], capture_output=True, text=True)
    assert probe.returncode == 0 and probe.stderr == ""

    half = subprocess.run([str(TRPO_BIN), "render", "--checkpoint", str(directory), "--out", str(tmp_path / "x.mp4"),
                           "--width", "320"], env=environment, capture_output=True, text=True, timeout=60)
    assert half.returncode == 2
    assert half.stderr == "error: give both --width and --height, or neither (the environment's own frame size, scaled)\n"

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.json").write_text((directory / "checkpoint.json").read_text()
                                            .replace('"gym:CartPole-v1"', '"gym:NoSuchGame-v0"'))
    failed = subprocess.run([str(TRPO_BIN), "render", "--checkpoint", str(broken), "--out", str(tmp_path / "y.mp4")],
                            env=environment, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"error: rendering {broken} through {sys.executable} failed: ")
    assert "NoSuchGame" in failed.stderr and not (tmp_path / "y.mp4").exists()
