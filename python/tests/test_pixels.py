"""Convolutional policies on uint8 frames (protocol version 7): the policy of worked example 7.13,
the single-path sampler keeping an Atari game's frames as bytes and sending pixel chunks, and
the refusals of a convolutional policy that does not fit the environment (either sampler)."""

from __future__ import annotations

import numpy as np
import pytest

from doc_examples import worked_examples
from trpo_worker import codec
from trpo_worker.codec import Activation, HeadKind
from trpo_worker.convolution import CNN_SMALL, ConvolutionalArchitecture, architecture_of
from trpo_worker.environments import SimulatorError, make_environment
from trpo_worker.policy import ConvolutionalPolicy, Policy, PolicyShapeError, policy_from_parameters
from trpo_worker.sampler import SinglePathSampler
from trpo_worker.vine import VineSampler

EXAMPLES = worked_examples()
PONG = "gym:ALE/Pong-v5"
FRAME = 84 * 84 * 4  # 28,224 values: four stacked 84×84 grey frames
#: A small network on Atari frames: 4 × 8×8 stride 4 (20×20×4), 8 × 4×4 stride 2 (9×9×8), 16 hidden.
SMALL = architecture_of((84, 84, 4), [(4, 8, 4), (8, 4, 2)], [16])


def convolutional_policy(architecture: ConvolutionalArchitecture = SMALL, actions: int = 6, scale: float = 0.05,
                         seed: int = 0) -> ConvolutionalPolicy:
    theta = np.random.default_rng(seed).normal(size=architecture.parameter_count(actions)) * scale
    return ConvolutionalPolicy(architecture, theta, HeadKind.CATEGORICAL, actions)


def frames_7_13() -> np.ndarray:
    """Every 2×2 frame of a few values, plus the worked examples' (0, 255, 16, 128) and (1, 2, 3, 4)."""
    values = [0, 1, 16, 128, 200, 255]
    grid = np.array(np.meshgrid(values, values, values, [0, 77])).reshape(4, -1).T
    return np.vstack([grid, [[0, 255, 16, 128], [1, 2, 3, 4], [9, 8, 7, 6]]]).astype(np.uint8)


# ------------------------------------------------------------------ the policy of 7.13


def test_7_13_policy_logits_are_h_and_minus_h() -> None:
    parameters = codec.decode(EXAMPLES["7.13"])
    assert isinstance(parameters, codec.Parameters)
    policy = policy_from_parameters(parameters)
    assert isinstance(policy, ConvolutionalPolicy)
    assert (policy.input_size, policy.output_size, policy.action_width) == (4, 2, 1)
    assert policy.dtype == np.float32  # as the Swift sampling evaluator
    frames = frames_7_13()
    p = frames.astype(np.float64)
    h = np.maximum((0.5 * p[:, 0] - 0.5 * p[:, 1] + 0.25 * p[:, 2]) / 255, 0)
    assert (h > 0).sum() > 50 and (h == 0).sum() > 50  # both sides of the ReLU
    expected = np.stack([h, -h], axis=1)
    exact = ConvolutionalPolicy.from_parameters(parameters, dtype=np.float64)
    np.testing.assert_allclose(exact.forward(frames), expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(policy.forward(frames), expected, rtol=1e-6, atol=1e-7)
    # As [n, H, W, C] images too; the frame (0, 255, 16, 128) has h = relu(−119.5 / 255 + 4 / 255) = 0.
    np.testing.assert_array_equal(exact.forward(frames.reshape(-1, 2, 2, 1)), exact.forward(frames))
    assert exact.forward(np.array([[0, 255, 16, 128]], dtype=np.uint8)).tolist() == [[0.0, -0.0]]
    np.testing.assert_allclose(exact.forward(np.array([[255, 0, 255, 0]], dtype=np.uint8)), [[0.75, -0.75]])


def test_7_13_policy_samples_as_the_mlp_head_does() -> None:
    parameters = codec.decode(EXAMPLES["7.13"])
    assert isinstance(parameters, codec.Parameters)
    policy = ConvolutionalPolicy.from_parameters(parameters, dtype=np.float64)
    frames = np.repeat(np.array([[255, 0, 255, 0]], dtype=np.uint8), 20_000, axis=0)  # h = 0.75
    actions = policy.sample(frames, np.random.default_rng(1))
    assert actions.shape == (20_000, 1) and set(np.unique(actions)) == {0.0, 1.0}
    p0 = 1 / (1 + np.exp(-1.5))  # softmax(0.75, −0.75)
    assert abs((actions == 0).mean() - p0) < 0.01
    assert policy.sample(frames[:3], np.random.default_rng(1), deterministic=True).tolist() == [[0.0]] * 3
    # The same inverse-CDF draw as an MLP with the same logits: the head is shared.
    mlp = Policy([4, 2], np.zeros(10), HeadKind.CATEGORICAL)
    outputs = policy.forward(frames[:50])
    noise = policy.noise(np.random.default_rng(2), 50)
    np.testing.assert_array_equal(policy.draw(outputs, noise), mlp.draw(outputs, noise))
    np.testing.assert_allclose(policy.log_probabilities(outputs[:2], [[0], [1]]),
                               [np.log(p0), np.log(1 - p0)], rtol=1e-12)


def test_a_gaussian_head_on_frames() -> None:
    architecture = architecture_of((6, 5, 2), [(3, 3, 1)], [4], Activation.TANH)
    theta = np.random.default_rng(3).normal(size=architecture.parameter_count(2))
    policy = ConvolutionalPolicy(architecture, theta, HeadKind.GAUSSIAN, 2, log_std=[-1.0, 0.5], dtype=np.float64)
    frames = np.random.default_rng(4).integers(0, 256, (5000, 60), dtype=np.uint8)
    means = policy.forward(frames)
    actions = policy.sample(frames, np.random.default_rng(5))
    z = (actions - means) / np.exp([-1.0, 0.5])
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_inconsistent_convolutional_parameters_are_policy_shape_errors() -> None:
    parameters = codec.decode(EXAMPLES["7.13"])
    assert isinstance(parameters, codec.Parameters)
    with pytest.raises(PolicyShapeError, match="convolutional, not an MLP"):
        Policy.from_parameters(parameters)
    for change, reason in [({"layer_sizes": [2, 2]}, "flattened output is 1 values, the first layer size 2"),
                           ({"parameters": parameters.parameters[:-1]}, "expected 9"),
                           ({"head_size": 3}, "for a head of 3"),
                           ({"convolutions": codec.Convolutions((2, 2, 1), ((1, 3, 1),))}, "does not fit"),
                           ({"normalizer": codec.Normalizer(np.zeros(4), np.ones(4), 1.0, 10.0)}, "no normaliser")]:
        with pytest.raises(PolicyShapeError, match=reason):
            policy_from_parameters(codec.Parameters(**{**parameters.__dict__, **change}))
    policy = policy_from_parameters(parameters)
    with pytest.raises(PolicyShapeError, match="uint8"):
        policy.forward(np.zeros((1, 4)))


# ------------------------------------------------------------------ sampling Atari frames


def test_pong_chunks_carry_uint8_frames() -> None:
    """A few hundred steps of Pong with a small convolutional policy: the chunk's observations are
    the environment's frames as bytes, [rows, 28224] uint8, sent as a pixel chunk and decoded back
    equal; copy 0's rows replay exactly on a fresh copy made with the same reset seed."""
    sampler = SinglePathSampler(PONG, 2, seed=4, stream=9)
    try:
        sampler.load(convolutional_policy())
        assert sampler.pixels and sampler.observations.dtype == np.uint8
        data = sampler.collect(300)  # 150 steps per copy
        assert data is not None and data.rows == 300
        assert data.observations.dtype == np.uint8 and data.observations.shape == (300, FRAME)
        assert data.bootstrap_observations.dtype == np.uint8 and data.bootstrap_observations.shape[1] == FRAME
        assert data.ends[149] == codec.End.TRUNCATED and data.ends[299] == codec.End.TRUNCATED
        assert len(set(data.actions[:, 0].tolist())) > 1  # the network's logits differ from frame to frame
        assert data.observations.max() > data.observations.min()
        # Where the chunk cuts each copy's episode, the bootstrap frame is where the next chunk starts.
        cut = {int(r): o for r, o in zip(data.bootstrap_rows, data.bootstrap_observations)}
        np.testing.assert_array_equal(cut[149], sampler.observations[0])
        np.testing.assert_array_equal(cut[299], sampler.observations[1])

        chunk = codec.Chunk(worker_nonce=1, session=2, version=3, sequence=0, simulator_steps=data.rows, worker_id=0,
                            observations=data.observations, actions=data.actions, rewards=data.rewards,
                            ends=data.ends, bootstrap_rows=data.bootstrap_rows,
                            bootstrap_observations=data.bootstrap_observations,
                            episode_returns=data.episode_returns, episode_lengths=data.episode_lengths)
        frames = codec.encode(chunk)
        assert frames[0][7] == codec.PIXELS and len(frames[1]) == 300 * FRAME
        assert len(frames[6]) == len(data.bootstrap_rows) * FRAME
        decoded = codec.decode(frames)
        assert isinstance(decoded, codec.Chunk) and decoded.pixels
        assert decoded.observations.dtype == np.uint8 and decoded.observations.shape == (300, FRAME)
        np.testing.assert_array_equal(decoded.observations, data.observations)
        np.testing.assert_array_equal(decoded.bootstrap_observations, data.bootstrap_observations)
        np.testing.assert_array_equal(decoded.actions, data.actions)
        assert codec.encode(decoded) == frames

        # Copy 0's rows are Pong's own frames: a fresh copy reset with the sampler's seed and
        # stepped with the chunk's actions shows the same frames (channels-last, flattened).
        replay = make_environment(PONG)
        reset_seed = int(np.random.SeedSequence([4, 9, 0]).generate_state(1)[0])
        observation, _ = replay.reset(seed=reset_seed)
        for row in range(150):
            np.testing.assert_array_equal(data.observations[row], observation.reshape(FRAME))
            observation, reward, terminated, truncated, _ = replay.step(int(data.actions[row, 0]))
            assert reward == data.rewards[row] and not (terminated or truncated)
        np.testing.assert_array_equal(cut[149], observation.reshape(FRAME))
        replay.close()
    finally:
        sampler.close()


def test_switching_between_an_mlp_and_frames_keeps_the_episodes() -> None:
    """The cnn_small preset after an MLP on the same game: the episodes in flight carry over, the
    MLP's chunks are float64, the convolutional policy's uint8, holding the same values."""
    sampler = SinglePathSampler(PONG, 2, seed=1, stream=0)
    try:
        mlp = Policy([FRAME, 6], np.zeros(FRAME * 6 + 6), HeadKind.CATEGORICAL)
        sampler.load(mlp)
        first = sampler.collect(8)
        assert first is not None and first.observations.dtype == np.float64 and not sampler.pixels
        sampler.load(convolutional_policy(CNN_SMALL))
        second = sampler.collect(8)
        assert second is not None and second.observations.dtype == np.uint8
        np.testing.assert_array_equal(second.observations[0], first.bootstrap_observations[0])
        np.testing.assert_array_equal(second.observations[4], first.bootstrap_observations[1])
        sampler.load(mlp)
        third = sampler.collect(2)
        assert third is not None and third.observations.dtype == np.float64
        np.testing.assert_array_equal(third.observations[0], second.bootstrap_observations[0].astype(np.float64))
    finally:
        sampler.close()


def test_a_convolutional_policy_that_does_not_fit_is_refused_in_one_line() -> None:
    cartpole = SinglePathSampler("CartPole-v1", 1, seed=1, stream=0)
    try:
        with pytest.raises(SimulatorError) as error:
            cartpole.load(convolutional_policy(architecture_of((2, 2, 1), [(1, 1, 1)], []), actions=2))
        assert str(error.value) == ("the policy is convolutional, on 2×2×1 uint8 frames, but CartPole-v1 observes "
                                    "float32 [4]")
        assert cartpole.policy is None and not cartpole.pixels
    finally:
        cartpole.close()
    pong = SinglePathSampler(PONG, 1, seed=1, stream=0)
    try:
        with pytest.raises(SimulatorError) as error:
            pong.load(convolutional_policy(architecture_of((84, 84, 3), [(4, 8, 4)], [])))
        assert str(error.value) == ("the policy is convolutional, on 84×84×3 uint8 frames (21168 values), but "
                                    "gym:ALE/Pong-v5 observes uint8 [84×84×4] (28224 values)")
        with pytest.raises(SimulatorError, match="gym:ALE/Pong-v5 has 6 discrete actions; the policy has a "
                                                 "categorical head of 4"):
            pong.load(convolutional_policy(actions=4))
        assert pong.policy is None and not pong.pixels
        # The same frames in another layout (flattened size equal) are accepted.
        pong.load(convolutional_policy(architecture_of((84, 336, 1), [(2, 8, 4)], [])))
        assert pong.pixels
    finally:
        pong.close()


def test_the_vine_refuses_a_convolutional_policy_that_does_not_fit() -> None:
    """As the single-path sampler: a convolutional policy needs uint8 frames of its size (the
    vine on frames itself: test_atari_vine.py)."""
    vine = VineSampler("CartPole-v1", 1, seed=1, stream=0, settings=codec.VineSettings(0.99, 10, 5, 2, 10, True))
    try:
        with pytest.raises(SimulatorError) as error:
            vine.load(convolutional_policy(architecture_of((2, 2, 1), [(1, 1, 1)], []), actions=2), 0)
        assert str(error.value) == ("the policy is convolutional, on 2×2×1 uint8 frames, but CartPole-v1 observes "
                                    "float32 [4]")
        assert vine.policy is None and not vine.pixels
    finally:
        vine.close()
