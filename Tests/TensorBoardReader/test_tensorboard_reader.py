"""TensorBoard's own reader (EventAccumulator) sees every numeric progress.csv column of a real
trpo run, under its documented tag, with the row's value at the row's timesteps; a resumed run
shows each step once."""

import csv
import math
import os
import pathlib
import subprocess

import pytest

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="TensorBoard is not installed (scripts/setup.sh puts it in .venv)",
)

REPO = pathlib.Path(__file__).resolve().parents[2]

# Stable-Baselines3's tags for the columns that have one (docs/outputs.md); others are trpo/<column>.
SB3_TAGS = {
    "episode_return_mean": "rollout/ep_rew_mean",
    "episode_length_mean": "rollout/ep_len_mean",
    "kl": "train/kl_divergence_loss",
    "surrogate_after": "train/policy_objective",
    "value_loss": "train/value_loss",
    "explained_variance": "train/explained_variance",
    "accepted": "train/is_line_search_success",
    "policy_std": "train/std",
    "samples_per_second": "time/fps",
    "iteration": "time/iterations",
    "wall_seconds": "time/time_elapsed",
    "timesteps": "time/total_timesteps",
    "eval_return_mean": "eval/mean_reward",
    "eval_length_mean": "eval/mean_ep_length",
}


def trpo() -> str:
    for candidate in (os.environ.get("TRPO_BIN"), REPO / ".build/release/trpo", REPO / ".build/debug/trpo"):
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no trpo binary: build it (swift build) or set TRPO_BIN")


def train(*arguments: str) -> None:
    subprocess.run([trpo(), "train", "--env", "CartPole-v1", "--workers", "0", "--quiet", *arguments],
                   check=True, timeout=600)


def scalars(directory: pathlib.Path) -> dict[str, dict[int, float]]:
    accumulator = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    return {tag: {event.step: event.value for event in accumulator.Scalars(tag)}
            for tag in accumulator.Tags()["scalars"]}


def check_matches_progress(run: pathlib.Path) -> None:
    with open(run / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    logged = scalars(run / "tensorboard")
    for row in rows:
        step = int(row["timesteps"])
        for column, text in row.items():
            try:
                value = float(text)
            except ValueError:
                continue  # empty cells (NaN) and text (the rejection reason) are not logged
            tag = SB3_TAGS.get(column, f"trpo/{column}")
            assert tag in logged, f"{tag} missing from TensorBoard"
            assert step in logged[tag], f"{tag} has no value at step {step}"
            assert math.isclose(logged[tag][step], value, rel_tol=1e-6, abs_tol=1e-30), (tag, step)
    steps = {int(row["timesteps"]) for row in rows}
    for tag, series in logged.items():
        assert set(series) <= steps, f"{tag} has steps that progress.csv does not: {sorted(set(series) - steps)}"


def test_every_progress_value_is_a_scalar_at_its_step(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    train("--steps", "6000", "--eval-every", "2", "--eval-episodes", "2", "--out", str(run))
    check_matches_progress(run)


def test_a_resumed_run_shows_each_step_once(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    train("--steps", "4000", "--out", str(run))
    train("--resume", str(run), "--steps", "8000")
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    check_matches_progress(run)
