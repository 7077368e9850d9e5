"""The codec against docs/protocol.md: the worked examples byte for byte, round trips of every
kind, and malformed inputs (each must raise ProtocolError and nothing else)."""

from __future__ import annotations

import math
import random
import re
import struct
from typing import Optional

import numpy as np
import pytest

from doc_examples import worked_examples
from trpo_worker import codec
from trpo_worker.codec import ProtocolError

EXAMPLES = worked_examples()
NONCE = 0x1122334455667788


def expect_error(frames: list[bytes], code: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        codec.decode(frames)
    assert info.value.code == code, f"expected {code}, got {info.value}"
    return info.value


# ------------------------------------------------------------------ worked examples


def test_every_worked_example_was_found() -> None:
    assert sorted(EXAMPLES, key=lambda s: int(s.split(".")[1])) == [f"7.{i}" for i in range(1, 15)]


@pytest.mark.parametrize("section", sorted(EXAMPLES))
def test_worked_example_decodes_and_reencodes_byte_for_byte(section: str) -> None:
    frames = EXAMPLES[section]
    assert codec.encode(codec.decode(frames)) == frames


def test_7_1_hello() -> None:
    m = codec.decode(EXAMPLES["7.1"])
    assert m == codec.Hello(nonce=NONCE, worker_id=1, simulator_count=0,
                            environment_id="MountainCarContinuous-v0", software_version="trpo")
    assert codec.encode(codec.Hello(nonce=NONCE, worker_id=1, environment_id="MountainCarContinuous-v0",
                                    software_version="trpo")) == EXAMPLES["7.1"]


def test_7_2_parameters() -> None:
    m = codec.decode(EXAMPLES["7.2"])
    assert isinstance(m, codec.Parameters)
    assert (m.session, m.version, m.seed, m.stream, m.collection) == (0xAA, 5, 1, 1, 5)
    assert (m.environment_id, m.simulator_count, m.chunk_steps, m.quota) == ("MountainCarContinuous-v0", 8, 512, 0)
    assert m.layer_sizes == [2, 1] and m.parameters.tolist() == [0.5, -0.5, 0.0]
    assert m.head == codec.HeadKind.GAUSSIAN and m.head_size == 1 and m.log_std.tolist() == [-0.5]
    assert m.activation == codec.Activation.TANH and m.vine is None and m.model_hash == 0
    assert m.normalizer is not None
    assert m.normalizer.mean.tolist() == [0.5, -1.0] and m.normalizer.variance.tolist() == [1.0, 4.0]
    assert (m.normalizer.count, m.normalizer.clip) == (100.0, 10.0)
    built = codec.Parameters(
        session=0xAA, version=5, seed=1, environment_id="MountainCarContinuous-v0", simulator_count=8,
        chunk_steps=512, quota=0, layer_sizes=[2, 1], parameters=np.array([0.5, -0.5, 0.0]),
        head=codec.HeadKind.GAUSSIAN, head_size=1, log_std=np.array([-0.5]),
        normalizer=codec.Normalizer(np.array([0.5, -1.0]), np.array([1.0, 4.0]), 100.0, 10.0),
        stream=1, collection=5)
    assert codec.encode(built) == EXAMPLES["7.2"]


def test_7_3_chunk() -> None:
    m = codec.decode(EXAMPLES["7.3"])
    assert isinstance(m, codec.Chunk)
    assert (m.worker_nonce, m.session, m.version, m.sequence, m.simulator_steps, m.worker_id) == (NONCE, 0xAA, 5, 0,
                                                                                                   1, 1)
    assert m.observations.tolist() == [[1.0, -2.0]] and m.actions.tolist() == [[0.5]]
    assert m.rewards.tolist() == [1.0] and m.ends.tolist() == [2] and m.bootstrap_rows.tolist() == [0]
    assert m.bootstrap_observations.tolist() == [[1.5, -2.5]]
    assert m.episode_returns.size == 0 and m.episode_lengths.size == 0


def test_7_4_vine_parameters() -> None:
    m = codec.decode(EXAMPLES["7.4"])
    assert isinstance(m, codec.Parameters) and m.vine is not None
    assert m.vine == codec.VineSettings(gamma=0.99, trunk_steps=250, rollout_states=100, actions_per_state=4,
                                        rollout_length=100, common_random_numbers=True)
    assert (m.chunk_steps, m.quota, m.sampler) == (50, 50, codec.Sampler.VINE)


def test_7_5_vine_chunk() -> None:
    m = codec.decode(EXAMPLES["7.5"])
    assert isinstance(m, codec.VineChunk)
    assert (m.sequence, m.trunk_steps, m.branch_steps, m.actions_per_state, m.estimator) == (1, 4, 5, 2, 0)
    assert m.states.tolist() == [[0.5, -1.0]] and m.actions.tolist() == [[0.0], [1.0]]
    assert m.branch_returns.tolist() == [3.0, 2.5] and m.log_probabilities.tolist() == [math.log(0.5)] * 2
    assert m.branch_lengths.tolist() == [3, 2] and m.branch_ends.tolist() == [codec.End.TRUNCATED, codec.End.TERMINATED]
    assert m.cut_observations.tolist() == [[1.5, -2.5]]
    t = m.trunks
    assert t.observations.tolist() == [[0.0, 0.0], [0.5, -1.0], [1.0, -2.0], [0.0, 0.5]]
    assert t.actions.tolist() == [[1.0], [0.0], [1.0], [0.0]] and t.rewards.tolist() == [1.0] * 4
    assert t.ends.tolist() == [0, 0, 1, 2] and t.bootstrap_rows.tolist() == [3]
    assert t.bootstrap_observations.tolist() == [[0.5, 0.0]]
    assert t.episode_returns.tolist() == [3.0] and t.episode_lengths.tolist() == [3]


def test_7_6_to_7_8_model_request_leave() -> None:
    model = codec.decode(EXAMPLES["7.6"])
    assert model == codec.Model(session=0xAA, xml="<mujoco/>")
    assert codec.model_hash(b"<mujoco/>") == 0xF4053C9F5A9DB5A9
    assert codec.decode(EXAMPLES["7.7"]) == codec.RequestModel(worker_nonce=NONCE, model_hash=0xF4053C9F5A9DB5A9,
                                                               worker_id=1)
    assert codec.decode(EXAMPLES["7.8"]) == codec.Leave(worker_nonce=NONCE, worker_id=1, message="no body")


def test_7_9_hello_asking_for_an_id_and_7_10_welcome() -> None:
    hello = codec.Hello(nonce=NONCE, worker_id=None, software_version="trpo")
    assert codec.decode(EXAMPLES["7.9"]) == hello
    assert codec.encode(hello) == EXAMPLES["7.9"]
    welcome = codec.Welcome(session=0xAA, worker_nonce=NONCE, worker_id=3, heartbeat_interval_ms=1000,
                            worker_timeout_ms=10000, id_assigned=True, environment_id="CartPole-v1",
                            software_version="trpo")
    assert codec.decode(EXAMPLES["7.10"]) == welcome
    assert codec.encode(welcome) == EXAMPLES["7.10"]


def test_7_11_welcome_to_a_run_of_an_external_environment() -> None:
    welcome = codec.Welcome(session=0xAA, worker_nonce=NONCE, worker_id=3, heartbeat_interval_ms=1000,
                            worker_timeout_ms=10000, id_assigned=True, environment_id="gym:Pendulum-v1",
                            software_version="trpo", environment_arguments='{"g": 9.81}', spec_required=True)
    assert codec.decode(EXAMPLES["7.11"]) == welcome
    assert codec.encode(welcome) == EXAMPLES["7.11"]


PENDULUM_SPEC = codec.EnvironmentSpec(observation_shape=(3,), observation_dtype=codec.ObservationDType.FLOAT32,
                                      action_kind=codec.ActionKind.BOX, action_size=1, action_low=(-2.0,),
                                      action_high=(2.0,), time_limit=200, can_snapshot=True)


def test_7_12_environment_spec() -> None:
    message = codec.EnvironmentSpecMessage(worker_nonce=NONCE, worker_id=3, spec=PENDULUM_SPEC)
    assert codec.decode(EXAMPLES["7.12"]) == message
    assert codec.encode(message) == EXAMPLES["7.12"]
    assert (PENDULUM_SPEC.observation_size, PENDULUM_SPEC.action_width) == (3, 1)
    assert PENDULUM_SPEC.describe() == "observations float32 [3]; box actions [-2.0] … [2.0]; 200 steps; snapshot"


def test_7_13_convolutional_parameters() -> None:
    m = codec.decode(EXAMPLES["7.13"])
    assert isinstance(m, codec.Parameters)
    assert m.convolutions == codec.Convolutions(input=(2, 2, 1), layers=((1, 2, 1),))
    assert m.normalizer is None and m.vine is None
    assert (m.session, m.version, m.seed, m.stream, m.collection) == (0xAA, 5, 1, 1, 5)
    assert (m.environment_id, m.simulator_count, m.chunk_steps, m.quota) == ("Pixels-v0", 8, 512, 0)
    assert m.layer_sizes == [1, 2] and m.head == codec.HeadKind.CATEGORICAL and m.head_size == 2
    assert m.activation == codec.Activation.RELU and m.log_std.size == 0
    # The convolution's 2·2·1·1 weights and its bias, then the dense layer's [1 × 2] weights and biases.
    assert m.parameters.tolist() == [0.5, -0.5, 0.25, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0]
    assert (m.convolutions.input_size, m.convolutions.output_size, m.convolutions.parameter_count) == (4, 1, 5)
    built = codec.Parameters(
        session=0xAA, version=5, seed=1, environment_id="Pixels-v0", simulator_count=8, chunk_steps=512, quota=0,
        layer_sizes=[1, 2], parameters=np.array([0.5, -0.5, 0.25, 0, 0, 1, -1, 0, 0]), head=codec.HeadKind.CATEGORICAL,
        head_size=2, log_std=np.zeros(0), activation=codec.Activation.RELU, stream=1, collection=5,
        convolutions=codec.Convolutions([2, 2, 1], [[1, 2, 1]]))
    assert codec.encode(built) == EXAMPLES["7.13"]


def test_7_14_chunk_of_frames() -> None:
    m = codec.decode(EXAMPLES["7.14"])
    assert isinstance(m, codec.Chunk) and m.pixels
    assert (m.worker_nonce, m.session, m.version, m.sequence, m.simulator_steps, m.worker_id) == (NONCE, 0xAA, 5, 0,
                                                                                                   2, 1)
    assert m.observations.dtype == np.uint8 and m.bootstrap_observations.dtype == np.uint8
    assert m.observations.tolist() == [[0, 255, 16, 128], [1, 2, 3, 4]]
    assert m.bootstrap_observations.tolist() == [[9, 8, 7, 6]]
    assert m.actions.tolist() == [[1.0], [0.0]] and m.rewards.tolist() == [0.0, 1.0]
    assert m.ends.tolist() == [codec.End.TERMINATED, codec.End.TRUNCATED] and m.bootstrap_rows.tolist() == [1]
    assert m.episode_returns.tolist() == [0.0] and m.episode_lengths.tolist() == [40]
    built = codec.Chunk(
        worker_nonce=NONCE, session=0xAA, version=5, sequence=0, simulator_steps=2, worker_id=1,
        observations=np.array([[0, 255, 16, 128], [1, 2, 3, 4]], dtype=np.uint8), actions=np.array([[1.0], [0.0]]),
        rewards=np.array([0.0, 1.0]), ends=np.array([1, 2], dtype=np.uint8), bootstrap_rows=np.array([1], np.uint32),
        bootstrap_observations=np.array([[9, 8, 7, 6]], dtype=np.uint8), episode_returns=np.array([0.0]),
        episode_lengths=np.array([40], dtype=np.uint32))
    assert codec.encode(built) == EXAMPLES["7.14"]
    # The same rows as float64 observations: no pixels flag, eight bytes a value.
    wide = codec.encode(codec.Chunk(**{**built.__dict__, "observations": built.observations.astype(np.float64),
                                       "bootstrap_observations": built.bootstrap_observations.astype(np.float64)}))
    assert wide[0][7] == 0 and len(wide[1]) == 64 and len(wide[6]) == 32
    decoded = codec.decode(wide)
    assert isinstance(decoded, codec.Chunk) and not decoded.pixels and decoded.observations.dtype == np.float64
    # Both observation arrays are frames, or neither is.
    with pytest.raises(ValueError, match="both"):
        codec.encode(codec.Chunk(**{**built.__dict__, "bootstrap_observations": np.array([[9.0, 8, 7, 6]])}))


# ------------------------------------------------------------------ round trips of the other kinds


OTHER_MESSAGES: list[codec.Message] = [
    codec.Heartbeat(nonce=NONCE, sequence=7, timestamp=123456789, from_learner=False, version=5, worker_id=3),
    codec.Heartbeat(nonce=0xAA, sequence=0, timestamp=1, from_learner=True),
    codec.Heartbeat(nonce=0xAA, sequence=2, timestamp=1, from_learner=True, version=9),
    codec.Stop(session=0xAA, reason=codec.StopReason.FINISHED),
    codec.Stop(session=0xAA, reason=codec.StopReason.MALFORMED_MESSAGE, message="frameLength(…) ünïcode \u0000"),
    codec.RequestParameters(worker_nonce=NONCE, worker_id=4),
    codec.Reject(session=0xAA, current_version=6, reason=codec.RejectReason.STALE_PARAMETERS, sequence=12,
                 message="stale"),
    codec.Reject(session=0xAA, current_version=6, reason=codec.RejectReason.NOT_REGISTERED),
    codec.Welcome(session=1, worker_nonce=2, worker_id=0, heartbeat_interval_ms=1, worker_timeout_ms=2**32 - 1,
                  id_assigned=False, environment_id="py:mylab.envs:make_arm", environment_arguments="{}",
                  spec_required=True),
    codec.EnvironmentSpecMessage(worker_nonce=NONCE, worker_id=9, spec=codec.EnvironmentSpec(
        observation_shape=(2, 3, 4), observation_dtype=codec.ObservationDType.UINT8,
        action_kind=codec.ActionKind.DISCRETE, action_size=6)),
    codec.EnvironmentSpecMessage(worker_nonce=NONCE, worker_id=0, spec=codec.EnvironmentSpec(
        observation_shape=(1,) * 8, observation_dtype=codec.ObservationDType.BOOL, action_kind=codec.ActionKind.BOX,
        action_size=3, action_low=(-math.inf, -0.0, 5.0), action_high=(math.inf, 0.0, 5.0), time_limit=2**32 - 1)),
]


@pytest.mark.parametrize("message", OTHER_MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: codec.Message) -> None:
    frames = codec.encode(message)
    assert len(frames[0]) == codec.HEADER_LENGTHS[codec.Kind(frames[0][6])]
    assert codec.decode(frames) == message
    assert codec.encode(codec.decode(frames)) == frames


def chunk_frames(rows: int = 6, obs: int = 3, width: int = 2) -> list[bytes]:
    rng = np.random.default_rng(0)
    ends = np.array([0, 1, 0, 2, 0, 2][:rows], dtype=np.uint8)
    boot = np.flatnonzero(ends == 2).astype(np.uint32)
    return codec.encode(codec.Chunk(
        worker_nonce=NONCE, session=0xAA, version=5, sequence=3, simulator_steps=rows, worker_id=1,
        observations=rng.normal(size=(rows, obs)), actions=rng.normal(size=(rows, width)),
        rewards=rng.normal(size=rows), ends=ends, bootstrap_rows=boot,
        bootstrap_observations=rng.normal(size=(boot.size, obs)), episode_returns=np.array([12.5, 3.0]),
        episode_lengths=np.array([40, 2], dtype=np.uint32)))


def test_chunk_round_trip_with_several_trajectories() -> None:
    frames = chunk_frames()
    m = codec.decode(frames)
    assert isinstance(m, codec.Chunk) and m.rows == 6 and m.bootstrap_rows.tolist() == [3, 5]
    assert codec.encode(m) == frames


def test_parameters_without_normaliser_categorical_relu() -> None:
    sizes = [4, 3, 2]
    count = 4 * 3 + 3 + 3 * 2 + 2
    p = codec.Parameters(session=9, version=1, seed=2, environment_id="CartPole-v1", simulator_count=8,
                         chunk_steps=4096, quota=2**31 - 1, layer_sizes=sizes,
                         parameters=np.linspace(-1, 1, count), head=codec.HeadKind.CATEGORICAL, head_size=2,
                         log_std=np.zeros(0), activation=codec.Activation.RELU)
    frames = codec.encode(p)
    assert len(frames) == 5
    assert codec.encode(codec.decode(frames)) == frames


def convolutional_parameters(input_shape: tuple[int, int, int] = (5, 5, 2),
                             layers: tuple[tuple[int, int, int], ...] = ((2, 3, 1), (3, 2, 1)),
                             hidden: tuple[int, ...] = (), head: codec.HeadKind = codec.HeadKind.CATEGORICAL,
                             outputs: int = 2, activation: codec.Activation = codec.Activation.RELU,
                             vine: Optional[codec.VineSettings] = None, seed: int = 2) -> codec.Parameters:
    """Parameters of a convolutional policy on ``input_shape`` frames. The defaults are the Swift
    malformed-input tests' base (``Base.convolutionalParameters``): Pixels-v0, 5×5×2 frames,
    2 × 3×3 and 3 × 2×2 convolutions of stride 1 (3×3×2, then 2×2×3 out), no hidden layer, a
    categorical head of 2: layer sizes [12, 2] and 38 + 27 + 26 = 91 parameters."""
    trunk = codec.Convolutions(input_shape, layers)
    sizes = [trunk.output_size, *hidden, outputs]
    count = trunk.parameter_count + sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(seed)
    return codec.Parameters(
        session=1, version=2, seed=3, environment_id="Pixels-v0", simulator_count=2, chunk_steps=1000, quota=2000,
        layer_sizes=sizes, parameters=rng.normal(size=count), head=head, head_size=outputs,
        log_std=rng.normal(size=outputs) if head == codec.HeadKind.GAUSSIAN else np.zeros(0), activation=activation,
        vine=vine, convolutions=trunk)


def test_convolutional_parameters_round_trip() -> None:
    base = convolutional_parameters()
    assert len(base.parameters) == 91 and base.layer_sizes == [12, 2]
    cases = [
        base,
        convolutional_parameters((84, 84, 4), ((8, 8, 4), (16, 4, 2)), (128,), outputs=6),  # cnn_small's geometry
        convolutional_parameters((7, 9, 3), ((4, 3, 2),), (5, 3), codec.HeadKind.GAUSSIAN, 3, codec.Activation.TANH,
                                 vine=codec.VineSettings(0.99, 10, 10, 4, 10, True)),
        convolutional_parameters((1, 1, 1), ((1, 1, 1),) * 8),  # eight convolutions, the most
        convolutional_parameters((6, 5, 1), ((2, 2, 3),)),  # strides that drop edge pixels: 2×2×2 out
    ]
    for p in cases:
        frames = codec.encode(p)
        assert frames[0][7] == 2 and len(frames) == 6 and len(frames[0]) == 136
        assert frames[5] == struct.pack(f"<{3 + 3 * len(p.convolutions.layers)}I", *p.convolutions.values())
        decoded = codec.decode(frames)
        assert isinstance(decoded, codec.Parameters) and decoded.convolutions == p.convolutions
        np.testing.assert_array_equal(decoded.parameters, p.parameters)
        assert (decoded.layer_sizes, decoded.vine, decoded.activation) == (p.layer_sizes, p.vine, p.activation)
        assert codec.encode(decoded) == frames


def pixel_chunk_frames(rows: int = 6, obs: int = 5, width: int = 1, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    ends = np.array([0, 1, 0, 2, 0, 2][:rows], dtype=np.uint8)
    boot = np.flatnonzero(ends == 2).astype(np.uint32)
    return codec.encode(codec.Chunk(
        worker_nonce=NONCE, session=0xAA, version=5, sequence=3, simulator_steps=rows + 4, worker_id=1,
        observations=rng.integers(0, 256, size=(rows, obs), dtype=np.uint8), actions=rng.integers(0, 6, (rows, width)),
        rewards=rng.normal(size=rows), ends=ends, bootstrap_rows=boot,
        bootstrap_observations=rng.integers(0, 256, size=(boot.size, obs), dtype=np.uint8),
        episode_returns=np.array([-21.0]), episode_lengths=np.array([812], dtype=np.uint32)))


def test_pixel_chunk_round_trip() -> None:
    frames = pixel_chunk_frames()
    assert frames[0][7] == 1 and len(frames[1]) == 6 * 5 and len(frames[6]) == 2 * 5
    m = codec.decode(frames)
    assert isinstance(m, codec.Chunk) and m.pixels and m.rows == 6
    assert m.observations.dtype == np.uint8 and m.observations.shape == (6, 5)
    assert m.bootstrap_observations.dtype == np.uint8 and m.bootstrap_observations.shape == (2, 5)
    assert bytes(m.observations) == frames[1] and bytes(m.bootstrap_observations) == frames[6]
    assert codec.encode(m) == frames
    # Every byte value travels as itself, and an Atari-sized row fits.
    every = np.arange(256, dtype=np.uint8).reshape(1, 256)
    row = codec.Chunk(worker_nonce=1, session=2, version=3, sequence=4, simulator_steps=1, worker_id=5,
                      observations=every, actions=np.zeros((1, 1)), rewards=np.zeros(1),
                      ends=np.array([1], dtype=np.uint8), bootstrap_rows=np.zeros(0, dtype=np.uint32),
                      bootstrap_observations=np.zeros((0, 256), dtype=np.uint8))
    decoded = codec.decode(codec.encode(row))
    assert isinstance(decoded, codec.Chunk) and decoded.observations.tolist() == every.tolist()
    atari = pixel_chunk_frames(rows=2, obs=84 * 84 * 4)
    assert len(atari[1]) == 2 * 28224 and codec.encode(codec.decode(atari)) == atari


# ------------------------------------------------------------------ malformed input


def patch(frame: bytes, offset: int, fmt: str, value: object) -> bytes:
    b = bytearray(frame)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def with_frame(frames: list[bytes], index: int, frame: bytes) -> list[bytes]:
    return frames[:index] + [frame] + frames[index + 1:]


def test_no_frames_and_too_large() -> None:
    expect_error([], "noFrames")
    with pytest.raises(ProtocolError) as info:
        codec.decode(EXAMPLES["7.2"], codec.DecodingLimits(max_total_bytes=100))
    assert info.value.code == "messageTooLarge"


def test_prefix_errors() -> None:
    hello = EXAMPLES["7.1"]
    expect_error([hello[0][:7]] + hello[1:], "headerTooShort")
    expect_error([b"TRPX" + hello[0][4:]] + hello[1:], "badMagic")
    error = expect_error([patch(hello[0], 4, "<H", 3)] + hello[1:], "unsupportedVersion")
    assert error.unsupported_version == 3
    expect_error([patch(hello[0], 6, "<B", 14)] + hello[1:], "unknownKind")
    expect_error([patch(hello[0], 6, "<B", 0)] + hello[1:], "unknownKind")


@pytest.mark.parametrize("section", sorted(EXAMPLES))
def test_header_length_must_be_exact(section: str) -> None:
    frames = EXAMPLES[section]
    expect_error([frames[0][:-1]] + frames[1:], "headerTooShort")
    expect_error([frames[0] + b"\0"] + frames[1:], "headerTooLong")


@pytest.mark.parametrize("section", sorted(EXAMPLES))
def test_undefined_flag_bits(section: str) -> None:
    frames = EXAMPLES[section]
    expect_error([patch(frames[0], 7, "<B", frames[0][7] | 0x80)] + frames[1:], "unknownFlags")


@pytest.mark.parametrize("section", sorted(EXAMPLES))
def test_frame_count(section: str) -> None:
    frames = EXAMPLES[section]
    expect_error(frames + [b""], "frameCount")
    if len(frames) > 1:
        expect_error(frames[:-1], "frameCount")


@pytest.mark.parametrize("section", [s for s in sorted(EXAMPLES) if len(EXAMPLES[s]) > 1])
def test_every_frame_length_is_checked(section: str) -> None:
    frames = EXAMPLES[section]
    for index in range(1, len(frames)):
        expect_error(with_frame(frames, index, frames[index] + b"\0"), "frameLength")
        if frames[index]:
            expect_error(with_frame(frames, index, frames[index][:-1]), "frameLength")


def test_hello_rules() -> None:
    frames = EXAMPLES["7.9"]
    expect_error([patch(frames[0], 16, "<I", 5)] + frames[1:], "invalidValue")  # assignID with an id
    expect_error([patch(frames[0], 28, "<I", 4097)] + frames[1:], "limitExceeded")
    expect_error(with_frame(frames, 2, b"\xff\xfe\xfd\xfc"), "invalidUTF8")


def test_parameters_header_rules() -> None:
    frames = EXAMPLES["7.2"]
    h = frames[0]
    cases = [
        (48, "<d", float("nan"), "invalidNumber"),  # normaliser count
        (48, "<d", -1.0, "invalidNumber"),
        (56, "<d", 0.0, "invalidNumber"),  # clip must be > 0
        (56, "<d", float("inf"), "invalidNumber"),
        (64, "<d", 0.5, "invalidNumber"),  # vineGamma in a single-path run
        (64, "<d", -0.0, "invalidNumber"),  # "all bits 0": −0 is not
        (80, "<I", 0, "invalidValue"),  # environmentIDLength
        (84, "<I", 0, "invalidValue"),  # simulatorCount
        (84, "<I", 65537, "limitExceeded"),
        (88, "<I", 0, "invalidValue"),  # chunkSteps
        (92, "<I", 2**31, "limitExceeded"),  # quota
        (96, "<I", 1, "invalidValue"),  # layerCount
        (100, "<I", 16_777_217, "limitExceeded"),
        (104, "<I", 0, "invalidValue"),  # headSize
        (108, "<I", 0, "logStdCountMismatch"),
        (112, "<I", 0, "invalidValue"),  # normaliser present, size 0
        (116, "<I", 1, "invalidValue"),  # trunkSteps in a single-path run
        (132, "<B", 2, "invalidValue"),  # headKind
        (133, "<B", 2, "invalidValue"),  # activation
        (134, "<B", 2, "invalidValue"),  # sampler
        (135, "<B", 1, "invalidValue"),  # CRN in a single-path run
    ]
    for offset, fmt, value, code in cases:
        expect_error([patch(h, offset, fmt, value)] + frames[1:], code)
    # Without the normaliser flag, its fields must be all zero bits.
    no_norm = patch(h, 7, "<B", 0)
    expect_error([no_norm] + frames[1:5], "invalidNumber")
    vine = EXAMPLES["7.4"]
    expect_error([patch(vine[0], 64, "<d", 1.5)] + vine[1:], "invalidNumber")
    expect_error([patch(vine[0], 124, "<I", 1)] + vine[1:], "invalidValue")  # K ≥ 2
    expect_error([patch(vine[0], 135, "<B", 2)] + vine[1:], "invalidValue")


def test_parameters_content_rules() -> None:
    frames = EXAMPLES["7.2"]
    expect_error(with_frame(frames, 1, b"\xc3" + frames[1][1:]), "invalidUTF8")
    expect_error(with_frame(frames, 2, struct.pack("<II", 0, 1)), "invalidValue")  # layer size 0
    expect_error(with_frame(frames, 2, struct.pack("<II", 2, 70000)), "limitExceeded")
    expect_error(with_frame(frames, 2, struct.pack("<II", 2, 2)), "outputWidthMismatch")
    three = [patch(frames[0], 112, "<I", 3)] + frames[1:5] + [frames[5] + b"\0" * 8, frames[6] + b"\0" * 8]
    three = with_frame(three, 2, struct.pack("<II", 3, 1))
    three[0] = patch(three[0], 100, "<I", 4)
    three = with_frame(three, 3, frames[3] + b"\0" * 8)
    assert codec.decode(three) is not None  # consistent: 3 inputs, 4 parameters
    expect_error(with_frame(frames, 2, struct.pack("<II", 3, 1)), "normalizerSizeMismatch")
    fewer = [patch(frames[0], 100, "<I", 2)] + frames[1:3] + [frames[3][:16]] + frames[4:]
    expect_error(fewer, "parameterCountMismatch")
    for index, code in ((3, "nonFinite"), (4, "nonFinite"), (5, "nonFinite"), (6, "nonFinite")):
        bad = bytearray(frames[index])
        struct.pack_into("<d", bad, 0, float("inf") if index % 2 else float("nan"))
        expect_error(with_frame(frames, index, bytes(bad)), code)
    bad_variance = bytearray(frames[6])
    struct.pack_into("<d", bad_variance, 8, -1e-300)
    expect_error(with_frame(frames, 6, bytes(bad_variance)), "negativeVariance")


def expect_details(frames: list[bytes], code: str, *details: object,
                   limits: codec.DecodingLimits = codec.DEFAULT_LIMITS) -> None:
    with pytest.raises(ProtocolError) as info:
        codec.decode(frames, limits)
    assert (info.value.code, info.value.details) == (code, details), f"got {info.value}"


def test_convolutional_parameters_rules() -> None:
    """The Swift cases (MalformedInputTests.swift, "convolution"), on the same base: 5×5×2 frames,
    2 × 3×3 then 3 × 2×2 convolutions, layer sizes [12, 2], 91 parameters; §3.3's rules 1–9 in order."""
    frames = codec.encode(convolutional_parameters())
    conv = frames[5]
    assert codec.decode(frames) is not None
    dense = EXAMPLES["7.2"]
    expect_error([patch(dense[0], 7, "<B", 5)] + dense[1:], "unknownFlags")
    expect_error([patch(dense[0], 7, "<B", 4)] + dense[1:5], "unknownFlags")
    expect_error(frames[:5], "frameCount")  # the convolutions frame missing
    expect_error(frames + [b""], "frameCount")
    expect_error([patch(frames[0], 7, "<B", 0)] + frames[1:], "frameCount")  # a dense policy has 5 frames
    # Rule 1: no normaliser (checked before the frame count, as Swift does), and 1 … 8 whole convolutions.
    expect_details([patch(dense[0], 7, "<B", 3)] + dense[1:], "invalidConvolutions",
                   "a convolutional policy reads frames as p/255 and takes no normaliser")
    expect_details([patch(dense[0], 7, "<B", 3)] + dense[1:5], "invalidConvolutions",
                   "a convolutional policy reads frames as p/255 and takes no normaliser")
    expect_details(with_frame(frames, 5, struct.pack("<3I", 5, 5, 2)), "frameLength", "convolutions", 12, 24)
    expect_details(with_frame(frames, 5, conv + b"\0" * 4), "frameLength", "convolutions", 40, 36)
    expect_details(with_frame(frames, 5, conv[:-1]), "frameLength", "convolutions", 35, 24)
    expect_details(with_frame(frames, 5, b""), "frameLength", "convolutions", 0, 24)
    expect_details(with_frame(frames, 5, struct.pack("<30I", 5, 5, 2, *[1, 1, 1] * 9)), "limitExceeded",
                   "convolutions", 9, 8)
    # Rule 3: values in 1 … maxWidth, the input at most maxWidth values, kernels that fit, feature
    # maps of at most maxWidth values, the flattened output the first layer size.
    expect_details(with_frame(frames, 5, patch(conv, 12, "<I", 0)), "invalidValue", "convolutions", 0)
    expect_details(with_frame(frames, 5, patch(conv, 20, "<I", 0)), "invalidValue", "convolutions", 0)  # stride
    expect_details(with_frame(frames, 5, patch(conv, 8, "<I", 70_000)), "limitExceeded", "convolutions", 70_000,
                   65_536)
    expect_details(with_frame(frames, 5, patch(conv, 16, "<I", 6)), "invalidConvolutions",
                   "convolution 1's 6×6 kernel exceeds its 5×5 input")
    expect_details(with_frame(frames, 5, patch(conv, 28, "<I", 4)), "invalidConvolutions",
                   "convolution 2's 4×4 kernel exceeds its 3×3 input")
    expect_details(with_frame(frames, 5, patch(conv, 0, "<I", 60_000)), "invalidConvolutions",
                   "input 60000×5×2 exceeds 65536 values")
    expect_details(with_frame(frames, 5, patch(conv, 24, "<I", 2)), "invalidConvolutions",
                   "the flattened output of 2×2×2 is 8 values, the first layer size 12")
    expect_details(with_frame(frames, 5, patch(conv, 20, "<I", 2)), "invalidConvolutions",  # stride 2: 2×2×2, 1×1×3
                   "the flattened output of 1×1×3 is 3 values, the first layer size 12")
    # A feature map beyond the receiver's maxWidth (60): 3 filters of 1×1 give 5×5×3 = 75 values.
    wide = with_frame(frames, 5, struct.pack("<9I", 5, 5, 2, 3, 1, 1, 3, 2, 1))
    expect_details(wide, "invalidConvolutions", "convolution 1's output of 75 values exceeds 60",
                   limits=codec.DecodingLimits(max_width=60))
    # Rule 7: the count covers the convolutions and the dense layers.
    short = [patch(frames[0], 100, "<I", 90)] + frames[1:3] + [frames[3][:-8]] + frames[4:]
    expect_details(short, "parameterCountMismatch", 90, (3 * 3 * 2 * 2 + 2) + (2 * 2 * 2 * 3 + 3) + (12 * 2 + 2))
    dense_only = [patch(frames[0], 100, "<I", 26)] + frames[1:3] + [frames[3][:26 * 8]] + frames[4:]
    expect_details(dense_only, "parameterCountMismatch", 26, 91)
    # Rules 4, 5 and 8 still hold.
    expect_error(with_frame(frames, 3, patch(frames[3], 8 * 40, "<d", math.nan)), "nonFinite")
    expect_error(with_frame(frames, 3, patch(frames[3], 0, "<d", math.inf)), "nonFinite")
    expect_error([patch(frames[0], 104, "<I", 3)] + frames[1:], "outputWidthMismatch")
    # The order: each rule before the next.
    bad_utf8 = with_frame(frames, 1, b"\xff" + frames[1][1:])
    expect_error(bad_utf8, "invalidUTF8")
    expect_error(with_frame(bad_utf8, 5, conv + b"\0" * 4), "frameLength")  # rule 1 before rule 2
    expect_error(with_frame(bad_utf8, 5, patch(conv, 16, "<I", 6)), "invalidUTF8")  # rule 2 before rule 3
    zero_layer = with_frame(frames, 2, struct.pack("<II", 12, 0))
    expect_details(zero_layer, "invalidValue", "layerSize", 0)
    expect_details(with_frame(zero_layer, 5, patch(conv, 12, "<I", 0)), "invalidValue", "convolutions", 0)  # 3 before 4
    expect_error(with_frame(frames, 2, struct.pack("<II", 8, 2)), "invalidConvolutions")  # 3 before 7
    expect_error(with_frame(frames, 2, struct.pack("<II", 12, 70_000)), "limitExceeded")  # 4 before 5
    # Rule 3 with the limits of the receiver: the frames here are 50 values.
    expect_details(frames, "invalidConvolutions", "input 5×5×2 exceeds 49 values", limits=codec.DecodingLimits(
        max_width=49))


def test_pixel_chunk_rules() -> None:
    """The Swift cases (MalformedInputTests.swift, "pixel"): the flag decides the observations'
    width, and every other chunk rule holds for frames."""
    f64 = chunk_frames()  # 6 rows of 3 values, 2 bootstrap rows
    expect_details([patch(f64[0], 7, "<B", 1)] + f64[1:], "frameLength", "observations", 144, 18)
    expect_error([patch(f64[0], 7, "<B", 2)] + f64[1:], "unknownFlags")
    frames = pixel_chunk_frames()  # 6 rows of 5 values, 2 bootstrap rows
    expect_details([patch(frames[0], 7, "<B", 0)] + frames[1:], "frameLength", "observations", 30, 240)
    expect_details(with_frame(frames, 6, frames[6][:-1]), "frameLength", "bootstrapObservations", 9, 10)
    expect_details(with_frame(frames, 1, frames[1] + b"\0"), "frameLength", "observations", 31, 30)
    expect_error([patch(frames[0], 7, "<B", 3)] + frames[1:], "unknownFlags")
    expect_error(with_frame(frames, 2, patch(frames[2], 8, "<d", math.nan)), "nonFinite")  # actions
    expect_error(with_frame(frames, 3, patch(frames[3], 0, "<d", math.inf)), "nonFinite")  # rewards
    expect_error(with_frame(frames, 4, bytes([0, 1, 0, 2, 0, 3])), "invalidEnd")
    expect_error(with_frame(frames, 4, bytes([0, 1, 0, 2, 2, 0])), "unterminatedChunk")
    expect_error(with_frame(frames, 5, struct.pack("<II", 1, 5)), "bootstrapRowMismatch")
    expect_error(with_frame(frames, 8, struct.pack("<I", 0)), "invalidValue")
    # Any byte is a valid value: there is nothing non-finite in a frame.
    everything = with_frame(frames, 1, bytes(range(226, 256)))
    decoded = codec.decode(everything)
    assert isinstance(decoded, codec.Chunk) and decoded.observations.max() == 255
    # A vine chunk has the same flag (test_pixel_vine_chunk_rules); its other bits are undefined.
    vine = EXAMPLES["7.5"]
    expect_details([patch(vine[0], 7, "<B", 1)] + vine[1:], "frameLength", "states", 16, 2)
    expect_error([patch(vine[0], 7, "<B", 2)] + vine[1:], "unknownFlags")


def test_chunk_rules() -> None:
    frames = chunk_frames()
    h = frames[0]
    expect_error([patch(h, 40, "<Q", 5)] + frames[1:], "invalidValue")  # simulatorSteps < rows
    expect_error([patch(h, 52, "<I", 0)] + frames[1:], "invalidValue")  # rows
    expect_error([patch(h, 52, "<I", 65537)] + frames[1:], "limitExceeded")
    expect_error([patch(h, 56, "<I", 0)] + frames[1:], "invalidValue")
    expect_error([patch(h, 60, "<I", 65537)] + frames[1:], "limitExceeded")
    expect_error([patch(h, 64, "<I", 7)] + frames[1:], "limitExceeded")  # bootstrapCount > rows
    expect_error([patch(h, 68, "<I", 7)] + frames[1:], "limitExceeded")
    for index in (1, 2, 3):
        bad = bytearray(frames[index])
        struct.pack_into("<d", bad, 8, float("nan"))
        expect_error(with_frame(frames, index, bytes(bad)), "nonFinite")
    expect_error(with_frame(frames, 4, bytes([0, 1, 0, 2, 0, 3])), "invalidEnd")
    expect_error(with_frame(frames, 4, bytes([0, 1, 0, 2, 2, 0])), "unterminatedChunk")
    expect_error(with_frame(frames, 5, struct.pack("<II", 3, 9)), "bootstrapRowOutOfRange")
    expect_error(with_frame(frames, 5, struct.pack("<II", 5, 3)), "bootstrapRowsNotAscending")
    expect_error(with_frame(frames, 5, struct.pack("<II", 3, 3)), "bootstrapRowsNotAscending")
    expect_error(with_frame(frames, 5, struct.pack("<II", 1, 5)), "bootstrapRowMismatch")  # row 1 ends 1
    expect_error(with_frame(frames, 4, bytes([2, 1, 0, 2, 0, 2])), "bootstrapRowMismatch")  # row 0 not listed
    bad = bytearray(frames[6])
    struct.pack_into("<d", bad, 0, float("-inf"))
    expect_error(with_frame(frames, 6, bytes(bad)), "nonFinite")
    # Three rows end a trajectory (1, 3, 5): four episodes are too many.
    four = [patch(h, 68, "<I", 4)] + frames[1:7] + [frames[7] + b"\0" * 16, frames[8] + b"\1\0\0\0" * 2]
    expect_error(four, "tooManyEpisodes")
    expect_error(with_frame(frames, 7, struct.pack("<dd", 1.0, float("nan"))), "nonFinite")
    expect_error(with_frame(frames, 8, struct.pack("<II", 3, 0)), "invalidValue")


def test_small_kind_rules() -> None:
    hb = codec.encode(codec.Heartbeat(nonce=1, sequence=0, timestamp=0, from_learner=True))
    expect_error([patch(hb[0], 32, "<Q", 3)], "invalidValue")  # version without flag bit 1
    expect_error([patch(hb[0], 40, "<I", 3)], "invalidValue")  # learner heartbeat with a worker id
    stop = codec.encode(codec.Stop(session=1, reason=codec.StopReason.FINISHED))
    expect_error([patch(stop[0], 20, "<B", 0)] + stop[1:], "invalidValue")
    expect_error([patch(stop[0], 20, "<B", 9)] + stop[1:], "invalidValue")
    expect_error([patch(stop[0], 16, "<I", 5000)] + stop[1:], "limitExceeded")
    expect_error([patch(stop[0], 16, "<I", 1), b"\x80"], "invalidUTF8")
    reject = codec.encode(codec.Reject(session=1, current_version=2, reason=codec.RejectReason.NOT_REGISTERED))
    expect_error([patch(reject[0], 24, "<Q", 3)] + reject[1:], "invalidValue")  # sequence without flag
    expect_error([patch(reject[0], 36, "<B", 3)] + reject[1:], "invalidValue")
    model = EXAMPLES["7.6"]
    expect_error([patch(model[0], 16, "<Q", 0)] + model[1:], "invalidValue")
    expect_error([patch(model[0], 16, "<Q", 12345)] + model[1:], "modelHashMismatch")
    expect_error([patch(model[0], 24, "<I", 0), b""], "invalidValue")
    expect_error([EXAMPLES["7.7"][0][:16] + b"\0" * 8 + EXAMPLES["7.7"][0][24:]], "invalidValue")
    leave = EXAMPLES["7.8"]
    expect_error([patch(leave[0], 24, "<B", 2)] + leave[1:], "invalidValue")


def test_welcome_rules() -> None:
    welcome = EXAMPLES["7.11"]
    h = welcome[0]
    expect_error([patch(h, 28, "<I", 0)] + welcome[1:], "invalidValue")  # heartbeatInterval
    expect_error([patch(h, 32, "<I", 0)] + welcome[1:], "invalidValue")  # workerTimeout
    expect_error([patch(h, 36, "<I", 4097)] + welcome[1:], "limitExceeded")
    expect_error([patch(h, 40, "<I", 0), welcome[1], b"", welcome[3]], "invalidValue")  # the name is never empty
    expect_error([patch(h, 40, "<I", 4097)] + welcome[1:], "limitExceeded")
    expect_error([patch(h, 44, "<I", 4097)] + welcome[1:], "limitExceeded")
    expect_error([patch(h, 7, "<B", 4)] + welcome[1:], "unknownFlags")
    for index in (1, 2, 3):
        expect_error(with_frame(welcome, index, b"\xed\xa0\x80" + bytes(welcome[index])[3:]),
                     "invalidUTF8")  # a UTF-16 surrogate
    # The codec does not parse the arguments: any UTF-8 is accepted (the worker judges the JSON).
    not_json = with_frame(welcome, 3, b"not json!!!")
    decoded = codec.decode(not_json)
    assert isinstance(decoded, codec.Welcome) and decoded.environment_arguments == "not json!!!"


def spec_frames(spec: codec.EnvironmentSpec) -> list[bytes]:
    return codec.encode(codec.EnvironmentSpecMessage(worker_nonce=NONCE, worker_id=3, spec=spec))


def test_environment_spec_header_rules() -> None:
    frames = EXAMPLES["7.12"]
    h = frames[0]
    cases = [
        (20, "<I", 0, "invalidValue"),  # observationRank 0
        (20, "<I", 9, "limitExceeded"),  # rank at most 8
        (24, "<I", 0, "invalidValue"),  # a box of no dimension
        (24, "<I", 65537, "limitExceeded"),
        (32, "<B", 11, "invalidValue"),  # observationDType
        (33, "<B", 2, "invalidValue"),  # actionKind
    ]
    for offset, fmt, value, code in cases:
        expect_error([patch(h, offset, fmt, value)] + frames[1:], code)
    expect_error([patch(h, 7, "<B", 2)] + frames[1:], "unknownFlags")
    # Discrete: 2 … maxWidth actions, and no bounds.
    discrete = spec_frames(codec.EnvironmentSpec((4,), codec.ObservationDType.FLOAT64, codec.ActionKind.DISCRETE, 2))
    assert discrete[2:] == [b"", b""]
    expect_error([patch(discrete[0], 24, "<I", 1)] + discrete[1:], "invalidValue")
    expect_error(with_frame(discrete, 2, struct.pack("<d", 0.0)), "frameLength")
    # A box's bounds: one f64 per dimension in each frame.
    expect_error([patch(h, 33, "<B", 0)] + frames[1:], "invalidValue")  # discrete with 1 action
    expect_error([patch(patch(h, 33, "<B", 0), 24, "<I", 2)] + frames[1:], "frameLength")  # discrete, bounds sent
    assert codec.decode(spec_frames(codec.EnvironmentSpec((65536,), codec.ObservationDType.INT64,
                                                          codec.ActionKind.DISCRETE, 65536))) is not None


def test_environment_spec_content_rules() -> None:
    frames = EXAMPLES["7.12"]
    expect_error(with_frame(frames, 1, struct.pack("<I", 0)), "invalidValue")  # a dimension of 0
    rank3 = [patch(frames[0], 20, "<I", 3)] + frames[1:]
    expect_error(with_frame(rank3, 1, struct.pack("<III", 256, 256, 2)), "limitExceeded")  # 131072 > maxWidth
    assert codec.decode(with_frame(rank3, 1, struct.pack("<III", 256, 256, 1))) is not None
    expect_error(with_frame(frames, 2, struct.pack("<d", math.nan)), "invalidNumber")
    expect_error(with_frame(frames, 3, struct.pack("<d", -math.nan)), "invalidNumber")
    expect_error(with_frame(frames, 2, struct.pack("<d", 2.5)), "invalidNumber")  # low > high
    expect_error(with_frame(frames, 3, struct.pack("<d", -math.inf)), "invalidNumber")
    # Unbounded and degenerate boxes are fine.
    for low, high in ((-math.inf, math.inf), (1.0, 1.0), (-math.inf, -math.inf)):
        accepted = codec.decode(with_frame(with_frame(frames, 2, struct.pack("<d", low)), 3, struct.pack("<d", high)))
        assert isinstance(accepted, codec.EnvironmentSpecMessage)
        assert (accepted.spec.action_low, accepted.spec.action_high) == ((low,), (high,))
    # The limits are the receiver's.
    small = codec.DecodingLimits(max_width=2)
    with pytest.raises(ProtocolError) as info:
        codec.decode(frames, small)
    assert info.value.code == "limitExceeded" and info.value.details[0] == "observationSize"


def test_vine_chunk_rules() -> None:
    frames = EXAMPLES["7.5"]
    h = frames[0]
    expect_error([patch(h, 64, "<I", 0)] + frames[1:], "invalidValue")  # trunkSteps < N
    expect_error([patch(h, 64, "<I", 65537)] + frames[1:], "limitExceeded")
    expect_error([patch(h, 48, "<I", 1)] + frames[1:], "invalidValue")  # K < 2
    expect_error([patch(h, 56, "<I", 2)] + frames[1:], "invalidValue")  # estimator 0 needs width 1
    expect_error([patch(h, 60, "<I", 3)] + frames[1:], "limitExceeded")  # cutCount > N·K
    expect_error([patch(h, 68, "<I", 5)] + frames[1:], "limitExceeded")  # trunk bootstraps > trunk steps
    expect_error([patch(h, 72, "<I", 5)] + frames[1:], "limitExceeded")  # episodes > trunk steps
    expect_error([patch(h, 76, "<B", 2)] + frames[1:], "invalidValue")
    expect_error([patch(h, 60, "<I", 0)] + frames[1:], "frameLength")  # frame 7 no longer fits
    expect_error(with_frame(frames, 2, struct.pack("<dd", 1.0, 0.0)), "actionsNotEnumerated")
    expect_error(with_frame(frames, 3, struct.pack("<dd", 1.0, float("nan"))), "nonFinite")
    expect_error(with_frame(frames, 5, struct.pack("<II", 3, 0)), "invalidValue")  # branch length 0
    expect_error(with_frame(frames, 6, bytes([2, 0])), "invalidValue")  # a branch always ends
    expect_error(with_frame(frames, 6, bytes([2, 3])), "invalidValue")
    expect_error(with_frame(frames, 6, bytes([1, 1])), "cutCountMismatch")
    expect_error(with_frame(frames, 7, struct.pack("<dd", 1.5, float("inf"))), "nonFinite")
    expect_error(with_frame(frames, 10, struct.pack("<dddd", 1.0, 1.0, float("nan"), 1.0)), "nonFinite")
    expect_error(with_frame(frames, 11, bytes([0, 0, 1, 0])), "unterminatedChunk")
    expect_error(with_frame(frames, 12, struct.pack("<I", 2)), "bootstrapRowMismatch")
    expect_error(with_frame(frames, 15, struct.pack("<I", 0)), "invalidValue")


def test_vine_chunk_round_trip_with_cut_and_terminated_branches() -> None:
    rng = np.random.default_rng(3)
    trunks = codec.decode(chunk_frames(rows=6, obs=3, width=2))
    assert isinstance(trunks, codec.Chunk)
    ends = np.array([2, 1, 1, 2, 2, 1], dtype=np.uint8)
    chunk = codec.VineChunk(
        worker_nonce=NONCE, session=7, version=8, sequence=9, worker_id=3, actions_per_state=3, estimator=1,
        states=rng.normal(size=(2, 3)), actions=rng.normal(size=(6, 2)), branch_returns=rng.normal(size=6),
        log_probabilities=rng.normal(size=6), branch_lengths=np.array([1, 4, 2, 7, 3, 1], dtype=np.uint32),
        branch_ends=ends, cut_observations=rng.normal(size=(3, 3)),
        trunks=codec.Trajectories(observations=trunks.observations, actions=trunks.actions, rewards=trunks.rewards,
                                  ends=trunks.ends, bootstrap_rows=trunks.bootstrap_rows,
                                  bootstrap_observations=trunks.bootstrap_observations,
                                  episode_returns=trunks.episode_returns, episode_lengths=trunks.episode_lengths))
    frames = codec.encode(chunk)
    assert len(frames) == 16 and len(frames[0]) == 77
    decoded = codec.decode(frames)
    assert isinstance(decoded, codec.VineChunk)
    assert codec.encode(decoded) == frames
    assert decoded.branch_steps == 18 and decoded.trunk_steps == 6
    np.testing.assert_array_equal(decoded.cut_observations, chunk.cut_observations)
    np.testing.assert_array_equal(decoded.trunks.bootstrap_observations, trunks.bootstrap_observations)


def pixel_vine_chunk(states: int = 2, k: int = 3, obs: int = 5, cut: tuple[int, ...] = (2, 1, 1, 2, 2, 1),
                     seed: int = 0) -> codec.VineChunk:
    """A vine chunk of frames: N = 2 states of 5 bytes, K = 3 (estimator 0), branches ending
    ``cut`` (three cut), and 6 trunk rows with 2 bootstrap rows."""
    rng = np.random.default_rng(seed)
    nk = states * k
    ends = np.array(cut[:nk], dtype=np.uint8)
    trunk_ends = np.array([0, 1, 0, 2, 0, 2], dtype=np.uint8)
    boot = np.flatnonzero(trunk_ends == 2).astype(np.uint32)
    return codec.VineChunk(
        worker_nonce=NONCE, session=7, version=8, sequence=9, worker_id=3, actions_per_state=k, estimator=0,
        states=rng.integers(0, 256, size=(states, obs), dtype=np.uint8),
        actions=np.tile(np.arange(k, dtype=np.float64), states).reshape(nk, 1), branch_returns=rng.normal(size=nk),
        log_probabilities=np.full(nk, -math.log(k)), branch_lengths=rng.integers(1, 10, nk).astype(np.uint32),
        branch_ends=ends, cut_observations=rng.integers(0, 256, size=(int((ends == 2).sum()), obs), dtype=np.uint8),
        trunks=codec.Trajectories(
            observations=rng.integers(0, 256, size=(6, obs), dtype=np.uint8), actions=rng.integers(0, k, (6, 1)) * 1.0,
            rewards=rng.normal(size=6), ends=trunk_ends, bootstrap_rows=boot,
            bootstrap_observations=rng.integers(0, 256, size=(boot.size, obs), dtype=np.uint8),
            episode_returns=np.array([-21.0]), episode_lengths=np.array([812], dtype=np.uint32)))


def test_pixel_vine_chunk_round_trip() -> None:
    """§3.9 flag bit 0: frames 1, 7, 8 and 13 one byte per value, the others unchanged."""
    chunk = pixel_vine_chunk()
    assert chunk.pixels
    frames = codec.encode(chunk)
    assert len(frames) == 16 and len(frames[0]) == 77 and frames[0][7] == 1
    lengths = [len(f) for f in frames[1:]]
    assert lengths == [2 * 5, 8 * 6, 8 * 6, 8 * 6, 4 * 6, 6, 3 * 5, 6 * 5, 8 * 6, 8 * 6, 6, 4 * 2, 2 * 5, 8, 4]
    decoded = codec.decode(frames)
    assert isinstance(decoded, codec.VineChunk) and decoded.pixels
    for name in ("states", "cut_observations"):
        value = getattr(decoded, name)
        assert value.dtype == np.uint8
        np.testing.assert_array_equal(value, getattr(chunk, name))
    for name in ("observations", "bootstrap_observations"):
        value = getattr(decoded.trunks, name)
        assert value.dtype == np.uint8
        np.testing.assert_array_equal(value, getattr(chunk.trunks, name))
    assert bytes(decoded.states) == frames[1] and bytes(decoded.cut_observations) == frames[7]
    assert bytes(decoded.trunks.observations) == frames[8]
    assert bytes(decoded.trunks.bootstrap_observations) == frames[13]
    np.testing.assert_array_equal(decoded.branch_returns, chunk.branch_returns)
    assert codec.encode(decoded) == frames
    # No cut branch: an empty frame 7 (still bytes); and an Atari-sized state.
    none_cut = pixel_vine_chunk(cut=(1,) * 6)
    assert none_cut.cut_observations.shape == (0, 5)
    frames = codec.encode(none_cut)
    assert frames[0][7] == 1 and frames[7] == b"" and codec.encode(codec.decode(frames)) == frames
    atari = codec.encode(pixel_vine_chunk(obs=84 * 84 * 4))
    assert len(atari[1]) == 2 * 28224 and len(atari[8]) == 6 * 28224 and codec.encode(codec.decode(atari)) == atari
    # The float64 chunk of the same shapes is unflagged, 8 bytes per value.
    wide = codec.encode(pixel_vine_chunk_as_f64())
    assert wide[0][7] == 0 and len(wide[1]) == 8 * 2 * 5 and len(wide[8]) == 8 * 6 * 5


def pixel_vine_chunk_as_f64() -> codec.VineChunk:
    chunk = pixel_vine_chunk()
    chunk.states = chunk.states.astype(np.float64)
    chunk.cut_observations = chunk.cut_observations.astype(np.float64)
    chunk.trunks.observations = chunk.trunks.observations.astype(np.float64)
    chunk.trunks.bootstrap_observations = chunk.trunks.bootstrap_observations.astype(np.float64)
    return chunk


@pytest.mark.parametrize("widened, named", [
    ("states", "but states (float64)"),
    ("cut_observations", "but cut observations (float64)"),
    ("observations", "but trunk observations (float64)"),
    ("bootstrap_observations", "but trunk bootstrap observations (float64)"),
])
def test_a_vine_chunk_s_observations_are_all_pixels_or_none(widened: str, named: str) -> None:
    chunk = pixel_vine_chunk()
    owner = chunk.trunks if widened in ("observations", "bootstrap_observations") else chunk
    setattr(owner, widened, getattr(owner, widened).astype(np.float64))
    with pytest.raises(ValueError, match=re.escape("a vine chunk's observations must all be uint8 (pixels) or all not")
                       + ".*" + re.escape(named)):
        codec.encode(chunk)
    # Only one array of frames among float64 ones is refused too.
    wide = pixel_vine_chunk_as_f64()
    owner = wide.trunks if widened in ("observations", "bootstrap_observations") else wide
    setattr(owner, widened, getattr(owner, widened).astype(np.uint8))
    with pytest.raises(ValueError, match="must all be uint8"):
        codec.encode(wide)


def test_pixel_vine_chunk_rules() -> None:
    """The flag decides the width of frames 1, 7, 8 and 13; every other rule holds for frames,
    and any byte is a valid value (nothing non-finite)."""
    frames = codec.encode(pixel_vine_chunk())
    h = frames[0]
    # The flag cleared: the observation frames are read as f64, 8 bytes per value.
    expect_details([patch(h, 7, "<B", 0)] + frames[1:], "frameLength", "states", 10, 80)
    expect_error([patch(h, 7, "<B", 3)] + frames[1:], "unknownFlags")
    expect_error([patch(h, 7, "<B", 0x81)] + frames[1:], "unknownFlags")
    # Each observation frame's length with the flag: one byte per value.
    expect_details(with_frame(frames, 1, frames[1] + b"\0"), "frameLength", "states", 11, 10)
    expect_details(with_frame(frames, 7, frames[7][:-1]), "frameLength", "cutObservations", 14, 15)
    expect_details(with_frame(frames, 8, frames[8] + b"\0"), "frameLength", "trunkObservations", 31, 30)
    expect_details(with_frame(frames, 13, frames[13][:-1]), "frameLength", "trunkBootstrapObservations", 9, 10)
    expect_details(with_frame(frames, 7, frames[7] * 8), "frameLength", "cutObservations", 120, 15)  # f64-sized
    # The other frames keep their rules.
    expect_error(with_frame(frames, 2, struct.pack("<dddddd", 0, 1, 2, 0, 2, 1)), "actionsNotEnumerated")
    expect_error(with_frame(frames, 3, patch(frames[3], 8, "<d", math.nan)), "nonFinite")
    expect_error(with_frame(frames, 6, bytes([2, 1, 1, 2, 2, 2])), "cutCountMismatch")
    expect_error(with_frame(frames, 10, patch(frames[10], 0, "<d", math.inf)), "nonFinite")
    expect_error(with_frame(frames, 11, bytes([0, 1, 0, 2, 0, 0])), "unterminatedChunk")
    # Any byte is a value: frames of 255s and 0s decode.
    saturated = with_frame(with_frame(frames, 1, b"\xff" * 10), 7, b"\x00" * 15)
    decoded = codec.decode(saturated)
    assert isinstance(decoded, codec.VineChunk) and decoded.states.max() == 255 and decoded.cut_observations.max() == 0


def test_decode_accepts_any_buffer_type() -> None:
    frames = EXAMPLES["7.3"]
    for kind in (memoryview, bytearray):
        assert codec.encode(codec.decode([kind(f) for f in frames])) == frames


def test_mutated_examples_raise_only_protocol_error_and_reencode_exactly() -> None:
    """Random byte flips, truncations and extensions of every example: decoding either raises
    ProtocolError or yields a message that re-encodes to the identical bytes (§2: one encoding)."""
    rng = random.Random(1234)
    accepted = 0
    for _ in range(4000):
        section = rng.choice(sorted(EXAMPLES))
        frames = [bytearray(f) for f in EXAMPLES[section]]
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(len(frames))
            action = rng.random()
            if action < 0.7 and frames[index]:
                frames[index][rng.randrange(len(frames[index]))] = rng.randrange(256)
            elif action < 0.85 and frames[index]:
                del frames[index][rng.randrange(len(frames[index])):]
            else:
                frames[index] += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        try:
            message = codec.decode([bytes(f) for f in frames])
        except ProtocolError:
            continue
        accepted += 1
        assert codec.encode(message) == [bytes(f) for f in frames]
    assert accepted > 0
