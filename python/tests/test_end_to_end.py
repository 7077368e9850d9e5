"""A real ``trpo learner`` with two Python workers.

The learner binary is ``$TRPO_BIN`` or ``.build/release/trpo`` in the repository; without it
these tests are skipped. ``TRPO_E2E_STEPS`` overrides the training run's step budget.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TRPO_BIN = Path(os.environ.get("TRPO_BIN", REPOSITORY / ".build" / "release" / "trpo"))
STEPS = int(os.environ.get("TRPO_E2E_STEPS", "60000"))

pytestmark = pytest.mark.skipif(not TRPO_BIN.is_file() or not os.access(TRPO_BIN, os.X_OK),
                                reason=f"no trpo binary at {TRPO_BIN} (build it with `swift build -c release` "
                                       f"or set TRPO_BIN)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_learner(out: Path, endpoint: str, steps: int) -> subprocess.Popen[str]:
    return subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "CartPole-v1", "--seed", "1",
                             "--steps", str(steps), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_worker(endpoint: str, log: Path) -> subprocess.Popen[str]:
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint],
                            stdout=handle, stderr=subprocess.STDOUT, text=True)


def progress(out: Path) -> list[dict[str, str]]:
    path = out / "progress.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def stop_all(processes: list[subprocess.Popen[str]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_two_python_workers_solve_cartpole(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    started = time.monotonic()
    learner = start_learner(out, endpoint, STEPS)
    workers = [start_worker(endpoint, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        try:
            learner_output, _ = learner.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            raise AssertionError("the learner did not finish within 900 s")
        wall = time.monotonic() - started
        assert learner.returncode == 0, learner_output
        for i, w in enumerate(workers):
            code = w.wait(timeout=30)
            log = (tmp_path / f"worker{i}.log").read_text()
            assert code == 0, log
            assert "stop (finished" in log, log
        rows = progress(out)
        assert rows, learner_output
        means = [(int(r["timesteps"]), float(r["episode_return_mean"])) for r in rows if r["episode_return_mean"]]
        reached = [steps for steps, mean in means if mean >= 475]
        assert reached, f"never reached 475: {means}"
        assert int(rows[-1]["workers_alive"]) == 2
        print(f"\nCartPole-v1 with 2 Python workers: mean return ≥ 475 first at {reached[0]} steps; "
              f"{len(rows)} iterations, {rows[-1]['timesteps']} steps, final mean "
              f"{means[-1][1]:.1f}, {wall:.1f} s wall")
    finally:
        stop_all([learner, *workers])


def test_two_python_workers_train_an_external_environment(tmp_path: Path) -> None:
    """`--env gym:CartPole-v1 --env-kwargs …`: the learner knows the environment only by name and
    from the workers' environmentSpec; the run reaches 475 as the built-in one does (with the
    CartPole preset's batch and λ given explicitly), and `trpo-gym-worker evaluate` plays its
    checkpoint, which keeps the arguments."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "gym:CartPole-v1",
                                "--env-kwargs", '{"sutton_barto_reward": false}', "--batch-steps", "2048",
                                "--lambda", "0.98", "--seed", "1", "--steps", str(STEPS), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = [start_worker(endpoint, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        learner_output, _ = learner.communicate(timeout=900)
        assert learner.returncode == 0, learner_output
        for i, w in enumerate(workers):
            log = (tmp_path / f"worker{i}.log").read_text()
            assert w.wait(timeout=30) == 0, log
            assert "observations float32 [4]; 2 discrete actions; 500 steps" in log, log
        means = [float(r["episode_return_mean"]) for r in progress(out) if r["episode_return_mean"]]
        assert max(means) >= 475, means
        evaluation = subprocess.run([sys.executable, "-m", "trpo_worker.cli", "evaluate", "--checkpoint", str(out),
                                     "--episodes", "5"], capture_output=True, text=True, timeout=120)
        assert evaluation.returncode == 0, evaluation.stderr
        lines = evaluation.stdout.splitlines()
        assert lines[0].startswith("gym:CartPole-v1 {") and "sutton_barto_reward" in lines[0], lines
        assert re.fullmatch(r"return \d+\.\d\d ± \d+\.\d\d over 5 episodes \(min .*\)", lines[-1]), lines
    finally:
        stop_all([learner, *workers])


def test_interrupted_learner_stops_python_workers(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    learner = start_learner(out, endpoint, 10_000_000)
    workers = [start_worker(endpoint, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 300
        while len(progress(out)) < 2:
            assert time.monotonic() < deadline, "no progress within 300 s"
            assert learner.poll() is None, learner.communicate()[0]
            time.sleep(0.2)
        learner.send_signal(signal.SIGINT)
        learner_output, _ = learner.communicate(timeout=60)
        for i, w in enumerate(workers):
            code = w.wait(timeout=30)
            log = (tmp_path / f"worker{i}.log").read_text()
            assert code == 0, log
            assert "stop (interrupted" in log, log
        assert learner.returncode in (0, 130), learner_output
    finally:
        stop_all([learner, *workers])


def test_curve_with_the_same_key_files(tmp_path: Path) -> None:
    """Keys made by `trpo keys generate`: the learner admits the allow-listed Python worker."""
    keys = tmp_path / "keys"
    allowed = tmp_path / "allowed"
    for name in ("learner", "worker-a"):
        subprocess.run([str(TRPO_BIN), "keys", "generate", "--out", str(keys), "--name", name], check=True,
                       capture_output=True)
    allowed.mkdir()
    (allowed / "worker-a.pub").write_bytes((keys / "worker-a.pub").read_bytes())
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps",
                                "4096", "--out", str(out), "--curve-secret", str(keys / "learner.key"),
                                "--allow-workers", str(allowed)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "worker.log"
    with open(log, "w") as handle:
        worker = subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, "--curve-secret",
                                   str(keys / "worker-a.key"), "--learner-public", str(keys / "learner.pub")],
                                  stdout=handle, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = learner.communicate(timeout=300)
        assert learner.returncode == 0, output
        assert worker.wait(timeout=30) == 0, log.read_text()
        assert len(progress(out)) == 2
        assert "CURVE" in log.read_text()
    finally:
        stop_all([learner, worker])


def test_curve_refusals_are_explained(tmp_path: Path) -> None:
    """A key that is not on the allow-list, and a plaintext worker: each says why and exits 2
    after --learner-timeout, as docs/security.md describes for `trpo worker`."""
    keys = tmp_path / "keys"
    allowed = tmp_path / "allowed"
    for name in ("learner", "worker-a", "worker-b"):
        subprocess.run([str(TRPO_BIN), "keys", "generate", "--out", str(keys), "--name", name], check=True,
                       capture_output=True)
    allowed.mkdir()
    (allowed / "worker-a.pub").write_bytes((keys / "worker-a.pub").read_bytes())
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps",
                                "100000", "--out", str(tmp_path / "run"), "--curve-secret", str(keys / "learner.key"),
                                "--allow-workers", str(allowed), "--no-supervise"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        cases = [(["--curve-secret", str(keys / "worker-b.key"), "--learner-public", str(keys / "learner.pub")],
                  "not on its allow-list"),
                 ([], "refused this plaintext worker")]
        for extra, expected in cases:
            result = subprocess.run([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint,
                                     "--learner-timeout", "2", *extra], capture_output=True, text=True, timeout=60)
            assert result.returncode == 2 and expected in result.stderr, result.stderr
        learner.send_signal(signal.SIGINT)
        output, _ = learner.communicate(timeout=60)
        assert "refused" in output
    finally:
        stop_all([learner])


def test_workers_survive_a_learner_restart(tmp_path: Path) -> None:
    """The learner process dies (SIGKILL, unsupervised) and is resumed from its checkpoint on the
    same endpoint: the Python workers register with the new session and the run finishes."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    command = [str(TRPO_BIN), "learner", "--bind", endpoint, "--no-supervise"]
    first = subprocess.Popen(command + ["--env", "CartPole-v1", "--steps", "30000", "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = [start_worker(endpoint, tmp_path / f"worker{i}.log") for i in range(2)]
    second: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 300
        while len(progress(out)) < 3:
            assert time.monotonic() < deadline and first.poll() is None, "no progress"
            time.sleep(0.05)
        first.kill()
        first.wait()
        killed_at = len(progress(out))
        assert killed_at < 15, "the first learner finished before it was killed"
        time.sleep(1.0)
        second = subprocess.Popen(command + ["--resume", str(out)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        output, _ = second.communicate(timeout=600)
        assert second.returncode == 0, output
        for i, w in enumerate(workers):
            assert w.wait(timeout=30) == 0, (tmp_path / f"worker{i}.log").read_text()
        rows = progress(out)
        assert int(rows[-1]["timesteps"]) == 30000 and int(rows[-1]["workers_alive"]) == 2
        assert [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    finally:
        stop_all([first, *workers] + ([second] if second else []))


def test_deterministic_runs_with_python_workers_repeat(tmp_path: Path) -> None:
    """`--deterministic --workers 2` with Python workers 0 and 1: every worker collects its quota
    from streams of (seed, worker id), so two runs give the same progress.csv (timing aside)."""
    def run(name: str) -> list[list[str]]:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        out = tmp_path / name
        learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", "CartPole-v1",
                                    "--steps", "8192", "--deterministic", "--workers", "2", "--out", str(out)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        workers = [subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, "--worker-id",
                                     str(i), "--quiet"]) for i in range(2)]
        try:
            output, _ = learner.communicate(timeout=300)
            assert learner.returncode == 0, output
            assert all(w.wait(timeout=30) == 0 for w in workers)
        finally:
            stop_all([learner, *workers])
        rows = progress(out)
        timing = {"wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds", "samples_per_second",
                  "bytes_received"}
        return [[v for k, v in r.items() if k not in timing] for r in rows]
    first, second = run("a"), run("b")
    assert len(first) == 4
    assert first == second
