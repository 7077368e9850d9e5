"""``trpo-gym-worker evaluate`` on checkpoints the Swift learner wrote.

``fixtures/checkpoint_pendulum.json`` and ``fixtures/checkpoint_cartpole.json`` are real
``checkpoint.json`` files of ``trpo train --env Pendulum-v1 --steps 8192 --batch-steps 4096
--hidden 8`` and ``trpo train --env CartPole-v1 --steps 4096 --batch-steps 2048 --hidden 4``
(``trpo eval --deterministic`` of 300 episodes: −1292.8 ± 368.2 and 80.9 ± 31.9). Their
configurations predate ``environmentArguments``; the tests add it as the Swift
``TrainingConfiguration`` encodes an optional string (the key present with JSON text, or absent).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trpo_worker import cli
from trpo_worker.codec import HeadKind
from trpo_worker.environments import SimulatorError
from trpo_worker.evaluate import CheckpointError, load_checkpoint, run_episodes
from trpo_worker.policy import Policy

FIXTURES = Path(__file__).parent / "fixtures"
TESTS = Path(__file__).parent


def checkpoint(name: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((FIXTURES / f"checkpoint_{name}.json").read_text())
    return state


def write(directory: Path, state: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoint.json").write_text(json.dumps(state, sort_keys=True))
    return directory


def test_reads_what_swift_writes() -> None:
    saved = load_checkpoint(str(FIXTURES / "checkpoint_pendulum.json"))
    state = checkpoint("pendulum")
    assert (saved.environment, saved.arguments, saved.iteration, saved.timesteps) == ("Pendulum-v1", "", 2, 8192)
    policy = saved.policy
    assert isinstance(policy, Policy)  # an MLP: the network has layerSizes, not an architecture
    assert policy.head == HeadKind.GAUSSIAN and policy.layer_sizes == [3, 8, 1]
    assert policy.log_std.tolist() == state["policy"]["logStd"]
    assert policy.mean is None  # the run did not normalise observations
    cartpole = load_checkpoint(str(FIXTURES / "checkpoint_cartpole.json")).policy
    assert isinstance(cartpole, Policy)
    assert cartpole.head == HeadKind.CATEGORICAL and cartpole.layer_sizes == [4, 4, 2] and cartpole.mean is not None
    assert cartpole.mean.tolist() == checkpoint("cartpole")["normalizer"]["mean"]


def test_external_environment_with_arguments(tmp_path: Path) -> None:
    state = checkpoint("pendulum")
    state["configuration"]["environment"] = "gym:Pendulum-v1"
    state["configuration"]["environmentArguments"] = '{"g": 9.81}'
    saved = load_checkpoint(str(write(tmp_path / "run", state)))
    assert (saved.environment, saved.arguments) == ("gym:Pendulum-v1", '{"g": 9.81}')
    first = run_episodes(saved, 3, seed=5, stochastic=False)
    assert [r.length for r in first] == [200] * 3
    assert run_episodes(saved, 3, seed=5, stochastic=False) == first  # deterministic: the same episodes
    assert run_episodes(saved, 3, seed=6, stochastic=False)[:2] == first[1:]  # episode k resets with seed S + k
    assert run_episodes(saved, 3, seed=5, stochastic=True) != first
    state["configuration"]["environmentArguments"] = '{"g": 2.0}'  # another gravity, other returns
    other = load_checkpoint(str(write(tmp_path / "other", state)))
    assert run_episodes(other, 3, seed=5, stochastic=False) != first


def test_cli_prints_each_episode_and_the_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = checkpoint("cartpole")
    state["configuration"]["environment"] = "gym:CartPole-v1"
    state["configuration"]["environmentArguments"] = None  # as absent
    directory = write(tmp_path / "run", state)
    assert cli.main(["evaluate", "--checkpoint", str(directory), "--episodes", "4", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "gym:CartPole-v1 iteration 2 (4,096 steps), 4 deterministic episodes (seeds 3 … 6)"
    returns = [float(line.split()[3]) for line in lines[1:5]]
    assert [line.split(":")[0] for line in lines[1:5]] == [f"episode {k}" for k in range(1, 5)]
    assert lines[5] == (f"return {np.mean(returns):.2f} ± {np.std(returns):.2f} over 4 episodes "
                        f"(min {min(returns):.2f}, max {max(returns):.2f})")


def test_console_script_finds_a_python_environment_in_the_working_directory(tmp_path: Path) -> None:
    """`trpo-gym-worker evaluate` run from the directory that holds the environment's module."""
    state = checkpoint("cartpole")
    state["configuration"]["environment"] = "py:my_cartpole:make"
    state["configuration"]["environmentArguments"] = '{"max_episode_steps": 7}'
    (tmp_path / "my_cartpole.py").write_text(
        "import gymnasium\n\ndef make(max_episode_steps):\n"
        "    return gymnasium.make('CartPole-v1', max_episode_steps=max_episode_steps)\n")
    write(tmp_path, state)
    script = Path(sys.executable).parent / "trpo-gym-worker"
    result = subprocess.run([str(script), "evaluate", "--checkpoint", ".", "--episodes", "2"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "py:my_cartpole:make" in result.stdout and "return 7.00 ± 0.00 over 2 episodes" in result.stdout


def corrupt(state: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(state))
    *parents, key = path.split(".")
    target = copy
    for parent in parents:
        target = target[parent]
    if value is KeyError:
        del target[key]
    else:
        target[key] = value
    return copy


@pytest.mark.parametrize("path, value, expected", [
    ("configuration.environment", KeyError, "missing field 'configuration.environment'"),
    ("policy", KeyError, "missing field 'policy'"),
    ("policy.network.layerSizes", [3, 8, 2], "the network's outputs [2] do not fit the head's 1"),
    ("policy.network.parameters", [0.0, "nan"], "policy.network.parameters holds non-finite values"),
    ("policy.network.parameters", [0.0] * 5, "5 parameters for layer sizes [3, 8, 1] (expected 41)"),
    ("policy.network.activation", "sigmoid", "policy.network.activation is 'sigmoid' (expected tanh or relu)"),
    ("policy.head", {"beta": {"dimensions": 1}},
     'policy.head is neither categorical nor gaussian: {"beta": {"dimensions": 1}}'),
    ("policy.logStd", "inf", "policy.logStd has the wrong type (str)"),
    ("configuration.environmentArguments", {"g": 1}, "configuration.environmentArguments is not a string of JSON text"),
    ("configuration.normalizeObservations", 1, "configuration.normalizeObservations has the wrong type (int)"),
])
def test_corrupt_checkpoints(tmp_path: Path, path: str, value: Any, expected: str) -> None:
    directory = write(tmp_path, corrupt(checkpoint("pendulum"), path, value))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(directory))
    assert str(info.value) == f"corrupt checkpoint {directory / 'checkpoint.json'}: {expected}"


def test_custom_model_runs_are_for_trpo_eval(tmp_path: Path) -> None:
    directory = write(tmp_path, corrupt(checkpoint("pendulum"), "configuration.modelXML", "<mujoco/>"))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(directory))
    assert str(info.value) == (f"cannot evaluate {directory / 'checkpoint.json'}: the run uses a custom MuJoCo model "
                               f"for Pendulum-v1, which only `trpo eval` builds")


def test_non_finite_strings_are_read_and_normaliser_checked(tmp_path: Path) -> None:
    state = corrupt(checkpoint("cartpole"), "normalizer.clip", "inf")
    policy = load_checkpoint(str(write(tmp_path / "a", state))).policy
    assert isinstance(policy, Policy) and math.isinf(policy.clip)
    state = corrupt(checkpoint("cartpole"), "normalizer.variance", [1.0, -1.0, 1.0, 1.0])
    with pytest.raises(CheckpointError, match="a negative variance"):
        load_checkpoint(str(write(tmp_path / "b", state)))


def test_missing_unreadable_and_mismatched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CheckpointError, match=f"no checkpoint at {tmp_path}/checkpoint.json"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "checkpoint.json").write_text("{")
    with pytest.raises(CheckpointError, match="not JSON"):
        load_checkpoint(str(tmp_path))
    state = corrupt(checkpoint("pendulum"), "configuration.environment", "CartPole-v1")
    saved = load_checkpoint(str(write(tmp_path / "run", state)))
    with pytest.raises(SimulatorError, match="the policy takes 3 inputs but CartPole-v1 observes 4"):
        run_episodes(saved, 1, seed=1, stochastic=False)
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "run")]) == 1
    assert "error: the policy takes 3 inputs" in capsys.readouterr().err
    state = corrupt(checkpoint("pendulum"), "configuration.environment", "gym:NoSuchEnv-v0")
    assert cli.main(["evaluate", "--checkpoint", str(write(tmp_path / "unknown", state))]) == 1
    assert "error: cannot make Gymnasium environment 'NoSuchEnv-v0'" in capsys.readouterr().err
