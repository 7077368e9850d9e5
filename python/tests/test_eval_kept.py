"""A run's history (`trpo train --keep-every K`) evaluated by ``scripts/eval_kept.py``: a
gym:CartPole-v1 run through a Python worker keeps iterations 2 and 4, the script evaluates each
through ``trpo eval`` (the Python worker's evaluation), writes them where ``trpo plot --y eval``
reads them, and a second call evaluates nothing again."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_end_to_end import REPOSITORY, TRPO_BIN

pytestmark = pytest.mark.skipif(not TRPO_BIN.is_file() or not os.access(TRPO_BIN, os.X_OK),
                                reason=f"no trpo binary at {TRPO_BIN}")


def test_kept_checkpoints_are_evaluated_once_each(tmp_path: Path) -> None:
    run = tmp_path / "run"
    environment = dict(os.environ, TRPO_PYTHON=sys.executable)
    subprocess.run([str(TRPO_BIN), "train", "--env", "gym:CartPole-v1", "--workers", "1", "--steps", "4096",
                    "--batch-steps", "1024", "--keep-every", "2", "--quiet", "--out", str(run)],
                   check=True, env=environment, capture_output=True, timeout=300)
    assert sorted(os.listdir(run / "checkpoints")) == ["iteration-2", "iteration-4"]

    script = [sys.executable, str(REPOSITORY / "scripts" / "eval_kept.py"), str(run), "--episodes", "2"]
    first = subprocess.run(script, check=True, env=dict(environment, TRPO=str(TRPO_BIN)), capture_output=True,
                           text=True, timeout=300)
    assert [line.split(":")[0] for line in first.stdout.splitlines()] == ["iteration 2", "iteration 4"]
    with open(run / "kept-eval" / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(row["iteration"], row["timesteps"], row["eval_episodes"]) for row in rows] == [("2", "2048", "2"),
                                                                                           ("4", "4096", "2")]
    assert all(float(row["eval_return_mean"]) > 0 for row in rows)
    assert (run / "kept-eval" / "config.json").read_bytes() == (run / "config.json").read_bytes()

    again = subprocess.run(script, check=True, env=dict(environment, TRPO=str(TRPO_BIN)), capture_output=True,
                           text=True, timeout=300)
    assert again.stdout == ""
    plot = subprocess.run([str(TRPO_BIN), "plot", str(run / "kept-eval"), "--y", "eval", "--out", str(tmp_path / "c.svg")],
                          capture_output=True, text=True, timeout=60)
    assert plot.returncode == 0, plot.stderr
    assert "<svg" in (tmp_path / "c.svg").read_text()


def test_a_run_without_kept_checkpoints_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPOSITORY / "scripts" / "eval_kept.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path}/checkpoints does not exist: train (or --resume) the run with --keep-every K\n"
