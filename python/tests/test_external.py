"""External environments end to end: a real v5 learner (``$TRPO_BIN``, as in test_end_to_end.py)
with Python workers making ``gym:ID`` and ``py:MODULE:FACTORY`` environments, single path and
vine, started by ``trpo train --workers 2 --python`` or by hand; and the learner's refusals of a
worker whose environmentSpec differs from the run's or, in a vine run, cannot snapshot
(docs/protocol.md §4.2, environmentSpec), which stop that worker while the run goes on.

Each test takes a few seconds; the vine settings are small (trunks of 80 steps on a worker's 8
copies, N = 40 states, K = 4, T = 20: at most 3,200 branch steps an iteration)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from test_end_to_end import REPOSITORY, TRPO_BIN, free_port, progress, stop_all

pytestmark = pytest.mark.skipif(not TRPO_BIN.is_file() or not os.access(TRPO_BIN, os.X_OK),
                                reason=f"no trpo binary at {TRPO_BIN}")

EXAMPLES = REPOSITORY / "examples"
VINE = ["--sampler", "vine", "--trunk-steps", "80", "--vine-states", "40", "--vine-actions", "4", "--vine-length", "20"]
VINE_ITERATION = 2 * 8 * 80 + 40 * 4 * 20  # simulator steps: two workers' trunks, the branches of T steps

SHAPE_ENVS = '''
"""A walk on a line, observed SHAPE_ENVS_SIZE times over (default 3); snapshotable unless
SHAPE_ENVS_SNAPSHOT=0. The environment variables let two workers of one run make different
environments from the same name and arguments."""
import os

import gymnasium
import numpy as np
from gymnasium import spaces


class Line(gymnasium.Env):
    def __init__(self, size):
        self.observation_space = spaces.Box(-10.0, 10.0, (size,), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.x, self.t = 0.0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-1.0, 1.0)), 0
        return np.full(self.observation_space.shape, self.x), {}

    def step(self, action):
        self.x = float(np.clip(self.x + 0.1 * float(action[0]), -10.0, 10.0))
        self.t += 1
        return np.full(self.observation_space.shape, self.x), -abs(self.x), False, self.t >= 50, {}


class SnapshotLine(Line):
    def snapshot(self):
        return self.x, self.t

    def restore(self, state):
        self.x, self.t = state


def make():
    size = int(os.environ.get("SHAPE_ENVS_SIZE", "3"))
    return SnapshotLine(size) if os.environ.get("SHAPE_ENVS_SNAPSHOT", "1") == "1" else Line(size)
'''


def train(arguments: list[str], out: Path, cwd: Path, environment: dict[str, str] | None = None,
          timeout: float = 60) -> tuple[str, list[dict[str, str]]]:
    """``trpo train … --workers 2 --deterministic --python <this interpreter>`` to completion: its
    output (the learner's and the workers' lines) and progress.csv. Deterministic, so that every
    iteration has both workers' share, however late the second one starts."""
    command = [str(TRPO_BIN), "train", *arguments, "--workers", "2", "--deterministic", "--python", sys.executable,
               "--seed", "1", "--out", str(out), "--no-tensorboard"]
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output, progress(out)


def check_rows(rows: list[dict[str, str]]) -> None:
    """The run's iterations, each with both workers, an accepted step, and no refused message
    or stale sample."""
    assert rows and [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1)), rows
    timesteps = [int(r["timesteps"]) for r in rows]
    assert timesteps == sorted(set(timesteps)) and timesteps[0] > 0, timesteps
    assert all(int(r["workers_alive"]) == 2 for r in rows), rows
    assert all(int(r["rejected_messages"]) == 0 and int(r["stale_samples_dropped"]) == 0 for r in rows), rows
    assert all(r["accepted"] == "1" and float(r["kl"]) > 0 for r in rows), rows


def test_train_gym_pendulum_with_the_vine(tmp_path: Path) -> None:
    """Pendulum can snapshot (worked example 7.12's flag), so the learner accepts its spec in a
    vine run, and the Python workers, making their copies with the run's arguments, send vine
    chunks of N·K branches."""
    started = time.monotonic()
    output, rows = train(["--env", "gym:Pendulum-v1", "--env-kwargs", '{"g": 9.81}', "--steps",
                          str(2 * VINE_ITERATION), *VINE], tmp_path / "run", cwd=tmp_path)
    check_rows(rows)
    assert len(rows) == 2 and int(rows[-1]["timesteps"]) == 2 * VINE_ITERATION, rows
    assert "gym:Pendulum-v1: observations (3,) float32, box(1) in [-2.0, 2.0], limit 200, snapshot" in output, output
    assert output.count('the run\'s environment: gym:Pendulum-v1 {"g": 9.81}') == 2, output
    assert output.count("(seed 1, stream 0, the vine)") == 1 and output.count("(seed 1, stream 1, the vine)") == 1
    for r in rows:
        assert (int(r["vine_states"]), int(r["vine_branches"])) == (40, 160), r
        assert int(r["vine_branch_steps"]) == 40 * 4 * 20, r  # Pendulum never ends a branch early
        # ... so every branch is cut by T and bootstrapped (protocol v6), and the learner fitted its
        # value function on the trunks the workers sent.
        assert float(r["vine_cut_share"]) == 1.0 and float(r["vine_branch_length_mean"]) == 20.0, r
        assert math.isfinite(float(r["explained_variance"])), r
    assert output.count("exiting with status 0") == 2, output
    print(f"\ngym:Pendulum-v1 vine, 2 Python workers: {len(rows)} iterations, {rows[-1]['timesteps']} steps, "
          f"kl {[round(float(r['kl']), 4) for r in rows]}, {time.monotonic() - started:.1f} s wall")


@pytest.mark.parametrize("sampler", ["single-path", "vine"])
def test_train_py_point_mass(tmp_path: Path, sampler: str) -> None:
    """examples/point_mass.py: single path with the workers in examples/ (they import the module
    from their working directory) and --env-kwargs, then `trpo-gym-worker evaluate` there; the
    vine with examples/ on PYTHONPATH."""
    out = tmp_path / "run"
    if sampler == "single-path":
        output, rows = train(["--env", "py:point_mass:PointMass", "--env-kwargs", '{"max_steps": 100}',
                              "--steps", "12000", "--batch-steps", "4000"], out, cwd=EXAMPLES)
        check_rows(rows)
        assert len(rows) == 3, rows
        assert "limit 100, snapshot (from worker" in output, output  # the arguments reached the workers
        lengths = [float(r["episode_length_mean"]) for r in rows]
        assert all(0 < length <= 100 for length in lengths), lengths
        returns = [round(float(r["episode_return_mean"]), 1) for r in rows]
        evaluation = subprocess.run([sys.executable, "-m", "trpo_worker.cli", "evaluate", "--checkpoint", str(out),
                                     "--episodes", "3"], cwd=EXAMPLES, capture_output=True, text=True, timeout=60)
        assert evaluation.returncode == 0, evaluation.stderr
        lines = evaluation.stdout.splitlines()
        assert lines[0].startswith("py:point_mass:PointMass {") and "max_steps" in lines[0], lines
        assert re.fullmatch(r"return -\d+\.\d\d ± \d+\.\d\d over 3 episodes \(min .*\)", lines[-1]), lines
        print(f"\npy:point_mass:PointMass, 2 Python workers: returns {returns}; evaluate: {lines[-1]}")
    else:
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(EXAMPLES),
                                                                                os.environ.get("PYTHONPATH")])))
        output, rows = train(["--env", "py:point_mass:PointMass", "--steps", str(2 * VINE_ITERATION), *VINE], out,
                             cwd=tmp_path, environment=environment)
        check_rows(rows)  # branches that reach the goal end early: iterations take fewer steps
        assert all((int(r["vine_states"]), int(r["vine_branches"])) == (40, 160) for r in rows), rows
        print(f"\npy:point_mass:PointMass vine, 2 Python workers: {len(rows)} iterations, "
              f"{rows[-1]['timesteps']} steps")


def test_resume_an_external_run_with_its_workers(tmp_path: Path) -> None:
    """A gym:ID run is continued with --resume and --workers again: without --workers the command
    refuses in one line (status 64) before touching the run; with them the run goes on from its
    checkpoint to the raised --steps."""
    out = tmp_path / "run"
    _, rows = train(["--env", "gym:CartPole-v1", "--steps", "2048", "--batch-steps", "1024"], out, cwd=tmp_path)
    assert len(rows) == 2, rows
    refused = subprocess.run([str(TRPO_BIN), "train", "--resume", str(out), "--steps", "3072"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 64, refused.stderr
    assert "gym:CartPole-v1 is made by Python workers, not in this process: give --workers N" in refused.stderr
    assert len(progress(out)) == 2
    command = [str(TRPO_BIN), "train", "--resume", str(out), "--steps", "3072", "--workers", "2", "--deterministic",
               "--python", sys.executable]
    resumed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming" in resumed.stdout + resumed.stderr
    rows = progress(out)
    check_rows(rows)
    assert [int(r["timesteps"]) for r in rows] == [1024, 2048, 3072], rows


def test_eval_every_evaluates_an_external_run_through_python(tmp_path: Path) -> None:
    """--eval-every on gym:CartPole-v1: the learner evaluates iterations 2 and 4 through this
    package in the background (deterministic episodes, announced one line each), each result in
    its own progress row, the best in best/, and the same episodes as `trpo eval --deterministic`
    of that checkpoint with the run's seed."""
    out = tmp_path / "run"
    output, rows = train(["--env", "gym:CartPole-v1", "--steps", "4096", "--batch-steps", "1024", "--eval-every", "2",
                          "--eval-episodes", "2"], out, cwd=tmp_path)
    check_rows(rows)
    assert [bool(r["eval_return_mean"]) for r in rows] == [False, True, False, True], rows
    assert all(r["eval_episodes"] == "2" for r in (rows[1], rows[3]))
    for iteration in (2, 4):
        mean = float(rows[iteration - 1]["eval_return_mean"])
        assert f"eval of iteration {iteration}: {mean:.1f} ± " in output, output
    best = json.loads((out / "best" / "checkpoint.json").read_text())
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["bestEvaluation"] == best["bestEvaluation"] and best["iteration"] == best["bestEvaluation"]["iteration"]
    assert best["bestEvaluation"]["returnMean"] == max(float(rows[i]["eval_return_mean"]) for i in (1, 3))
    again = subprocess.run([str(TRPO_BIN), "eval", "--checkpoint", str(out / "best"), "--episodes", "2", "--deterministic",
                            "--seed", "1", "--python", sys.executable], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert f"return {best['bestEvaluation']['returnMean']:.2f} ± " in again.stdout, again.stdout
    assert not (out / ".evaluating").exists()


@pytest.fixture
def shape_envs(tmp_path: Path) -> Path:
    """A directory holding shape_envs.py (``py:shape_envs:make``), the workers' working directory."""
    (tmp_path / "shape_envs.py").write_text(textwrap.dedent(SHAPE_ENVS))
    return tmp_path


def start_learner(arguments: list[str], out: Path) -> tuple[str, subprocess.Popen[str]]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "py:shape_envs:make",
                                "--seed", "1", "--out", str(out), "--no-tensorboard", *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return endpoint, learner


def start_worker(endpoint: str, directory: Path, log: Path, **variables: str) -> subprocess.Popen[str]:
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint], cwd=directory,
                                env=dict(os.environ, **variables), stdout=handle, stderr=subprocess.STDOUT, text=True)


def wait_for_rows(out: Path, count: int, learner: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(progress(out)) < count:
        assert learner.poll() is None, learner.communicate()[0]
        assert time.monotonic() < deadline, f"fewer than {count} iterations within {timeout} s"
        time.sleep(0.1)


def test_a_differing_spec_stops_that_worker_and_the_run_goes_on(shape_envs: Path) -> None:
    """The first worker's spec (observations of shape [3]) becomes the run's; a worker that makes
    shape [4] from the same name gets stop(environment) with the documented text and exits 1,
    and the run goes on with the first."""
    out = shape_envs / "run"
    endpoint, learner = start_learner(["--steps", "100000000", "--batch-steps", "1024"], out)
    first = start_worker(endpoint, shape_envs, shape_envs / "first.log", SHAPE_ENVS_SIZE="3")
    second: subprocess.Popen[str] | None = None
    try:
        wait_for_rows(out, 1, learner)
        second = start_worker(endpoint, shape_envs, shape_envs / "second.log", SHAPE_ENVS_SIZE="4")
        assert second.wait(timeout=30) == 1
        log = (shape_envs / "second.log").read_text()
        assert ("the learner stopped this worker (environment: environment spec differs from the run's: "
                "observation shape [4] (run: [3]))") in log, log
        rows = len(progress(out))
        wait_for_rows(out, rows + 3, learner)  # the run goes on, with the first worker
        assert int(progress(out)[-1]["workers_alive"]) == 1 and first.poll() is None
        learner.send_signal(signal.SIGINT)
        output, _ = learner.communicate(timeout=30)
        assert "environment spec differs from the run's: observation shape [4] (run: [3])" in output, output
        assert first.wait(timeout=30) == 0, (shape_envs / "first.log").read_text()
    finally:
        stop_all([learner, first] + ([second] if second else []))


def test_a_vine_run_stops_a_worker_whose_environment_cannot_snapshot(shape_envs: Path) -> None:
    """In a vine run a spec without the snapshot flag gets stop(environment) with the documented
    text (the worker exits 1) and never becomes the run's: a later worker that can snapshot
    starts the run, which finishes."""
    out = shape_envs / "run"
    endpoint, learner = start_learner(["--steps", str(2 * VINE_ITERATION), *VINE], out)
    refused = start_worker(endpoint, shape_envs, shape_envs / "refused.log", SHAPE_ENVS_SNAPSHOT="0")
    accepted: subprocess.Popen[str] | None = None
    try:
        assert refused.wait(timeout=30) == 1
        log = (shape_envs / "refused.log").read_text()
        assert "py:shape_envs:make: observations float64 [3]; box actions [-1.0] … [1.0]; no time limit; " \
               "no snapshot" in log, log
        assert ("the learner stopped this worker (environment: the vine needs an environment that can snapshot "
                "and restore its state; py:shape_envs:make cannot (implement snapshot()/restore(), see "
                "docs/environments.md))") in log, log
        accepted = start_worker(endpoint, shape_envs, shape_envs / "accepted.log", SHAPE_ENVS_SIZE="5")
        output, _ = learner.communicate(timeout=60)
        assert learner.returncode == 0, output
        assert accepted.wait(timeout=30) == 0, (shape_envs / "accepted.log").read_text()
        assert "cannot snapshot its state, which the vine needs" in output, output
        assert "py:shape_envs:make: observations (5,) float64" in output, output  # the later worker's spec
        rows = progress(out)  # one worker's trunks, and branches that end at the walk's 50-step limit
        assert rows and int(rows[-1]["timesteps"]) >= 2 * VINE_ITERATION, rows
        assert all((int(r["vine_states"]), int(r["vine_branches"])) == (40, 160) for r in rows), rows
    finally:
        stop_all([learner, refused] + ([accepted] if accepted else []))


def test_eval_and_variance_of_an_external_environment_run_through_python(tmp_path: Path) -> None:
    """`trpo eval` on a run of gym:Pendulum-v1 evaluates through this interpreter's worker package
    (`evaluate --json`), and `trpo variance --env gym:Pendulum-v1 --workers 2` gets the spec from
    its first worker, builds the fresh policy from it and farms every collection out."""
    out = tmp_path / "run"
    train(["--env", "gym:Pendulum-v1", "--steps", "4096", "--batch-steps", "2048"], out, cwd=tmp_path)
    evaluation = subprocess.run([str(TRPO_BIN), "eval", "--checkpoint", str(out), "--episodes", "3", "--deterministic",
                                 "--python", sys.executable], capture_output=True, text=True, timeout=60)
    assert evaluation.returncode == 0, evaluation.stderr
    assert re.fullmatch(r"gym:Pendulum-v1 iteration 2 \(4,096 steps\), 3 deterministic episodes: return -\d+\.\d\d ± "
                        r"\d+\.\d\d \(min .*\)\n", evaluation.stdout), evaluation.stdout
    study = tmp_path / "variance"
    variance = subprocess.run([str(TRPO_BIN), "variance", "--env", "gym:Pendulum-v1", "--workers", "2", "--python",
                               sys.executable, "--replicates", "2", "--budget", "3000", "--out", str(study)],
                              capture_output=True, text=True, timeout=120)
    output = variance.stdout + variance.stderr
    assert variance.returncode == 0, output
    assert "farm: gym:Pendulum-v1: observations (3,) float32, box(1) in [-2.0, 2.0], limit 200, snapshot" in output, output
    estimators = [line.split(",")[0] for line in (study / "variance.csv").read_text().splitlines()[1:]]
    assert estimators == ["single_path", "vine", "vine_crn"], estimators


def test_train_stops_when_every_worker_fails(tmp_path: Path) -> None:
    """A Gymnasium id that does not exist: each worker leaves with Gymnasium's reason, and
    `trpo train` ends with exit 2 once none is left, writing nothing."""
    command = [str(TRPO_BIN), "train", "--env", "gym:NoSuchEnv-v0", "--workers", "2", "--python", sys.executable,
               "--out", str(tmp_path / "run")]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "cannot make Gymnasium environment 'NoSuchEnv-v0'" in output, output
    assert "error: every worker process ended (worker 0: exit 2, worker 1: exit 2)" in output, output
    assert not (tmp_path / "run" / "checkpoint.json").exists()
