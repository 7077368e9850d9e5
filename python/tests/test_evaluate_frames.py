"""``trpo-gym-worker evaluate`` on checkpoints of convolutional policies (Atari from pixels).

The checkpoints are written here in the Swift Codable form of a run of ``trpo train --env
gym:ALE/Pong-v5`` (``TrainerState`` with a ``ConvolutionalPolicy``: ``policy.network`` is a
``ConvolutionalNetwork``, ``{"architecture": {"input", "convolutions", "hiddenSizes",
"activation"}, "outputSize", "parameters"}``), with a tiny network so that the episodes stay
cheap, and ``"max_episode_steps": 400`` among the environment arguments (``gymnasium.make``'s
time limit, counted in emulator frames: about 100 agent steps at the default frame skip of 4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
import pytest

from trpo_worker import cli
from trpo_worker.codec import HeadKind
from trpo_worker.convolution import CNN_SMALL, ConvolutionalNetwork, architecture_of
from trpo_worker.environments import SimulatorError, make_environment
from trpo_worker.evaluate import CheckpointError, load_checkpoint, run_episodes
from trpo_worker.policy import ConvolutionalPolicy

PONG = "gym:ALE/Pong-v5"
ARGUMENTS = '{"max_episode_steps": 400}'
# 2 filters 8×8 stride 4 (84 → 20), 3 filters 4×4 stride 2 (20 → 9), a dense layer of 5, 6 logits:
# (8·8·4·2 + 2) + (4·4·2·3 + 3) + (9·9·3·5 + 5) + (5·6 + 6) = 514 + 99 + 1,220 + 36 parameters.
TINY = {"input": {"height": 84, "width": 84, "channels": 4},
        "convolutions": [{"filters": 2, "kernel": 8, "stride": 4}, {"filters": 3, "kernel": 4, "stride": 2}],
        "hiddenSizes": [5], "activation": "relu"}
TINY_PARAMETERS = 1869
TINY_DESCRIPTION = "on 84×84×4 frames: 2 filters 8×8 stride 4, 3 filters 4×4 stride 2, dense [5], relu"


def architecture_from_json(architecture: dict[str, Any]) -> Any:
    image = architecture["input"]
    return architecture_of((image["height"], image["width"], image["channels"]),
                           [(c["filters"], c["kernel"], c["stride"]) for c in architecture["convolutions"]],
                           architecture["hiddenSizes"])


def parameters_for(architecture: dict[str, Any], outputs: int = 6, seed: int = 14) -> list[float]:
    """Weights that make the argmax change with the frames: zero-mean first-layer filters (Pong's
    uniform background gives 0, so the paddles, ball and score decide). With seed 14 the tiny
    network plays three different actions in the first episode."""
    count = architecture_from_json(architecture).parameter_count(outputs)
    first = architecture["convolutions"][0]
    patch = first["kernel"] ** 2 * architecture["input"]["channels"]
    rng = np.random.default_rng(seed)
    filters = rng.normal(0, 1, (patch, first["filters"]))
    filters -= filters.mean(axis=0)
    rest = rng.normal(0, 1, count - filters.size - first["filters"])
    values: list[float] = np.concatenate([filters.ravel(), np.zeros(first["filters"]), rest]).tolist()
    return values


def frame_checkpoint(architecture: Optional[dict[str, Any]] = None, arguments: Optional[str] = ARGUMENTS,
                     environment: str = PONG) -> dict[str, Any]:
    """A ``checkpoint.json`` of a Pong run, as the Swift learner writes it (the value function, the
    Adam state and the random streams left out: evaluation does not read them)."""
    architecture = json.loads(json.dumps(architecture or TINY))
    image = architecture["input"]
    size = image["height"] * image["width"] * image["channels"]
    return {
        "configuration": {
            "environment": environment, "environmentArguments": arguments,
            "environmentSpec": {"actionSpace": {"discrete": {"count": 6}}, "canSnapshot": False,
                                "observationShape": [image["height"], image["width"], image["channels"]],
                                "observationType": "uint8"},
            "normalizeObservations": True, "trunk": "auto", "sampler": "single-path", "seed": 1,
            "totalSteps": 4096, "batchSteps": 1024},
        "iteration": 3, "timesteps": 3072,
        # What the learner keeps (and never applies to frames): identity statistics of the pixels.
        "normalizer": {"clip": 10, "count": 0.0001, "mean": [0] * size, "variance": [1] * size},
        "policy": {"head": {"categorical": {"actions": 6}}, "logStd": [],
                   "network": {"architecture": architecture, "outputSize": 6,
                               "parameters": parameters_for(architecture)}},
    }


def write(directory: Path, state: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoint.json").write_text(json.dumps(state))
    return directory


def corrupt(state: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(state))
    *parents, key = path.split(".")
    target = copy
    for parent in parents:
        target = target[parent]
    if value is KeyError:
        del target[key]
    else:
        target[key] = value
    return copy


def test_reads_the_swift_form(tmp_path: Path) -> None:
    state = frame_checkpoint()
    saved = load_checkpoint(str(write(tmp_path, state)))
    assert (saved.environment, saved.arguments, saved.iteration, saved.timesteps) == (PONG, ARGUMENTS, 3, 3072)
    policy = saved.policy
    assert isinstance(policy, ConvolutionalPolicy)
    assert policy.architecture == architecture_from_json(TINY)
    assert policy.architecture.parameter_count(6) == TINY_PARAMETERS
    assert (policy.head, policy.input_size, policy.output_size) == (HeadKind.CATEGORICAL, 84 * 84 * 4, 6)
    assert policy.network.dtype == np.float32  # as the Swift sampling evaluator and the worker act


def test_a_deterministic_episode_acts_with_the_argmax_on_the_raw_frames(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    saved = load_checkpoint(str(write(tmp_path, frame_checkpoint())))
    policy = saved.policy
    assert isinstance(policy, ConvolutionalPolicy)
    seen: list[tuple[npt.NDArray[Any], npt.NDArray[Any], int]] = []
    forward = policy.forward

    def recording(observations: npt.ArrayLike) -> Any:
        outputs = forward(observations)
        seen.append((np.array(observations), outputs, -1))
        return outputs
    monkeypatch.setattr(policy, "forward", recording)
    sample = policy.sample

    def recording_sample(observations: npt.ArrayLike, rng: np.random.Generator, deterministic: bool = False) -> Any:
        assert deterministic
        actions = sample(observations, rng, deterministic)
        frames, outputs, _ = seen[-1]
        seen[-1] = (frames, outputs, int(actions[0, 0]))
        return actions
    monkeypatch.setattr(policy, "sample", recording_sample)

    [result] = run_episodes(saved, 1, seed=7, stochastic=False)
    assert 90 <= result.length <= 100 and len(seen) == result.length  # 400 emulator frames, 4 a step, no-ops first
    # Replayed on a fresh copy of the environment: the policy saw each observation as it is,
    # uint8 and flattened channels-last, and played the argmax of the network's outputs on it.
    reference = ConvolutionalNetwork(policy.architecture, 6, frame_checkpoint()["policy"]["network"]["parameters"],
                                     dtype=np.float64)
    env = make_environment(PONG, ARGUMENTS)
    observation, _ = env.reset(seed=7)
    total, done = 0.0, False
    for frames, outputs, action in seen:
        assert not done
        assert frames.dtype == np.uint8 and frames.shape == (1, 84 * 84 * 4)
        np.testing.assert_array_equal(frames[0], observation.reshape(-1))
        np.testing.assert_allclose(outputs, reference.forward(frames), rtol=1e-4, atol=1e-4)  # p/255, not standardised
        assert action == int(np.argmax(outputs[0]))
        observation, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = bool(terminated or truncated)
    env.close()
    assert done and total == result.episode_return
    assert len({action for _, _, action in seen}) >= 3  # the frames decide: not one action throughout
    assert total < 0  # Pong's score, unclipped


def test_episodes_repeat_and_the_normaliser_is_never_read(tmp_path: Path) -> None:
    state = frame_checkpoint()
    first = run_episodes(load_checkpoint(str(write(tmp_path / "a", state))), 1, seed=3, stochastic=False)
    assert run_episodes(load_checkpoint(str(write(tmp_path / "b", state))), 1, seed=3, stochastic=False) == first
    # Statistics that would change every pixel, of the wrong size, or none at all: the same episode.
    for name, normalizer in [("c", {"clip": 1, "count": 5, "mean": [200.0] * 28224, "variance": [1e-6] * 28224}),
                             ("d", {"clip": 10, "count": 5, "mean": [0.0, 1.0], "variance": "garbage"}),
                             ("e", KeyError)]:
        other = load_checkpoint(str(write(tmp_path / name, corrupt(state, "normalizer", normalizer))))
        assert run_episodes(other, 1, seed=3, stochastic=False) == first


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = write(tmp_path, frame_checkpoint())
    assert cli.main(["evaluate", "--checkpoint", str(directory), "--episodes", "1", "--seed", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{PONG} {ARGUMENTS} iteration 3 (3,072 steps), 1 deterministic episode (seeds 7 … 7)"
    assert lines[1].startswith("episode 1: return -") and lines[1].endswith(" steps)")
    episode_return = float(lines[1].split()[3])
    assert lines[2] == (f"return {episode_return:.2f} ± 0.00 over 1 episodes "
                        f"(min {episode_return:.2f}, max {episode_return:.2f})")
    assert cli.main(["evaluate", "--checkpoint", str(directory), "--episodes", "2", "--seed", "7", "--stochastic",
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert len(report["returns"]) == 2 and all(90 <= n <= 100 for n in report["lengths"])


def test_the_cnn_small_policy_of_a_pong_run(tmp_path: Path) -> None:
    """The network ``trpo train --env gym:ALE/Pong-v5`` gives its policy (trunk auto: cnn_small),
    170,136 + 129·6 parameters, on a few steps."""
    architecture = {"input": {"height": 84, "width": 84, "channels": 4},
                    "convolutions": [{"filters": 8, "kernel": 8, "stride": 4},
                                     {"filters": 16, "kernel": 4, "stride": 2}],
                    "hiddenSizes": [128], "activation": "relu"}
    state = frame_checkpoint(architecture, arguments='{"max_episode_steps": 60, "noop_max": 0}')
    assert len(state["policy"]["network"]["parameters"]) == 170_910
    saved = load_checkpoint(str(write(tmp_path, state)))
    assert isinstance(saved.policy, ConvolutionalPolicy) and saved.policy.architecture == CNN_SMALL
    [result] = run_episodes(saved, 1, seed=1, stochastic=False)
    assert result.length == 15  # 60 frames, 4 a step


@pytest.mark.parametrize("path, value, expected", [
    ("policy.network.parameters", [0.0] * 5,
     f"5 parameters for the convolutional network {TINY_DESCRIPTION} with 6 outputs (expected {TINY_PARAMETERS})"),
    ("policy.network.parameters", [0.0, "nan"], "policy.network.parameters holds non-finite values"),
    ("policy.network.parameters", KeyError, "missing field 'policy.network.parameters'"),
    ("policy.network.outputSize", 4, "the network's 4 outputs do not fit the head's 6"),
    ("policy.network.outputSize", KeyError, "missing field 'policy.network.outputSize'"),
    ("policy.network.architecture", [], "policy.network.architecture has the wrong type (list)"),
    ("policy.network.architecture.input", KeyError, "missing field 'policy.network.architecture.input'"),
    ("policy.network.architecture.input.height", 0,
     "policy.network.architecture.input.height is 0 (expected a positive integer)"),
    ("policy.network.architecture.input.channels", True,
     "policy.network.architecture.input.channels has the wrong type (bool)"),
    ("policy.network.architecture.convolutions", [],
     "policy.network.architecture.convolutions is empty (a convolutional network has at least one)"),
    ("policy.network.architecture.convolutions", [{"filters": 2, "kernel": 8}],
     "missing field 'policy.network.architecture.convolutions[0].stride'"),
    ("policy.network.architecture.convolutions", [{"filters": 2, "kernel": 8, "stride": 4}, 3],
     "policy.network.architecture.convolutions[1] is not a JSON object"),
    ("policy.network.architecture.convolutions",
     [{"filters": 2, "kernel": 8, "stride": 4}, {"filters": 3, "kernel": 32, "stride": 1}],
     "convolution 2 (3 filters 32×32 stride 1) does not fit the 20×20 feature map it slides over, in the "
     "convolutional network on 84×84×4 frames: 2 filters 8×8 stride 4, 3 filters 32×32 stride 1, dense [5], relu"),
    ("policy.network.architecture.hiddenSizes", [5, 0],
     "policy.network.architecture.hiddenSizes holds sizes that are not positive integers"),
    ("policy.network.architecture.activation", "sigmoid",
     "policy.network.architecture.activation is 'sigmoid' (expected tanh or relu)"),
    ("policy.logStd", [0.0], "a categorical head has no log-stds"),
    ("policy.head", {"gaussian": {"dimensions": 6}}, "0 log-stds for 6 Gaussian dimensions"),
    ("configuration.environmentSpec.observationShape", [84, 84, 2],
     "the policy is convolutional, on 84×84×4 uint8 frames, but the run's environment observes uint8 [84×84×2] "
     "(configuration.environmentSpec)"),
    ("configuration.environmentSpec.observationType", "float32",
     "the policy is convolutional, on 84×84×4 uint8 frames, but the run's environment observes float32 [84×84×4] "
     "(configuration.environmentSpec)"),
])
def test_inconsistent_checkpoints_are_refused(tmp_path: Path, path: str, value: Any, expected: str) -> None:
    directory = write(tmp_path, corrupt(frame_checkpoint(), path, value))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(directory))
    assert str(info.value) == f"corrupt checkpoint {directory / 'checkpoint.json'}: {expected}"
    assert "\n" not in str(info.value)


def with_input(height: int, width: int, channels: int) -> dict[str, Any]:
    architecture: dict[str, Any] = json.loads(json.dumps(TINY))
    architecture["input"] = {"height": height, "width": width, "channels": channels}
    return architecture


@pytest.mark.parametrize("state, expected", [
    # Frames of another size than the environment's (the run's record of its environment absent,
    # as in a checkpoint written before environmentSpec existed).
    (corrupt(frame_checkpoint(with_input(42, 42, 4)), "configuration.environmentSpec", None),
     f"the policy is convolutional, on 42×42×4 uint8 frames (7056 values), but {PONG} observes uint8 [84×84×4] "
     f"(28224 values)"),
    # As many values, in another shape.
    (corrupt(frame_checkpoint(with_input(168, 42, 4)), "configuration.environmentSpec", KeyError),
     f"the policy is convolutional, on 168×42×4 uint8 frames, but {PONG} observes uint8 [84×84×4]"),
    # The environment's own arguments make other frames than the policy's (and than the record's).
    (frame_checkpoint(arguments='{"max_episode_steps": 400, "frame_stack": 2}'),
     f"the policy is convolutional, on 84×84×4 uint8 frames (28224 values), but {PONG} observes uint8 [84×84×2] "
     f"(14112 values)"),
    (frame_checkpoint(environment="CartPole-v1", arguments=None),
     "the policy is convolutional, on 84×84×4 uint8 frames, but CartPole-v1 observes float32 [4]"),
    (corrupt(corrupt(frame_checkpoint(), "policy.head", {"gaussian": {"dimensions": 6}}), "policy.logStd", [0.0] * 6),
     f"{PONG} has 6 discrete actions; the policy has a gaussian head of 6"),
])
def test_policies_that_do_not_fit_the_environment_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               state: dict[str, Any], expected: str) -> None:
    saved = load_checkpoint(str(write(tmp_path, state)))
    with pytest.raises(SimulatorError) as info:
        run_episodes(saved, 1, seed=1, stochastic=False)
    assert str(info.value) == expected
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path), "--episodes", "1"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {expected}"
