"""The trpo wire protocol, version 7 (docs/protocol.md): every message kind, encoded and decoded.

A message is a list of frames (ZeroMQ message parts), frame 0 being the header. :func:`encode`
turns a message object into frames; :func:`decode` validates frames in the document's order
(§5) and returns a message object. Decoding raises nothing but :class:`ProtocolError`, whose
``code`` names the failure as the Swift ``ProtocolError`` cases do (``frameLength``,
``nonFinite``, …).

Arrays travel as numpy ``float64`` / ``uint32`` / ``uint8`` arrays (row-major, shaped
``[rows, width]`` where the document gives two dimensions); decoded arrays are private copies.
A chunk's observations are ``float64`` feature vectors, or ``uint8`` frames (flag bit 0, pixels:
one byte per value), which a convolutional policy (parameters flag bit 1, :class:`Convolutions`)
reads; the encoder sends pixels when the observations are ``uint8``.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

PROTOCOL_VERSION = 7
MAGIC = b"TRPO"
MAX_QUOTA = 2**31 - 1
NORMALIZER_EPSILON = 1e-8

F64Array = npt.NDArray[np.float64]
U32Array = npt.NDArray[np.uint32]
U8Array = npt.NDArray[np.uint8]
ObservationArray = Union[F64Array, U8Array]  # f64 feature vectors, or uint8 frames (a pixel chunk)
Buffer = Union[bytes, bytearray, memoryview, Any]  # anything exposing the buffer protocol (e.g. zmq.Frame)


class Kind(enum.IntEnum):
    HELLO = 1
    PARAMETERS = 2
    CHUNK = 3
    HEARTBEAT = 4
    STOP = 5
    REQUEST_PARAMETERS = 6
    REJECT = 7
    VINE_CHUNK = 8
    MODEL = 9
    REQUEST_MODEL = 10
    LEAVE = 11
    WELCOME = 12
    ENVIRONMENT_SPEC = 13


class StopReason(enum.IntEnum):
    FINISHED = 1
    INTERRUPTED = 2
    PROTOCOL_VERSION = 3
    ENVIRONMENT = 4
    SHAPE = 5
    MALFORMED_MESSAGE = 6
    DUPLICATE_WORKER = 7
    UNEXPECTED_WORKER = 8


class RejectReason(enum.IntEnum):
    NOT_REGISTERED = 1
    STALE_PARAMETERS = 2


class LeaveReason(enum.IntEnum):
    INCOMPATIBLE = 1


class HeadKind(enum.IntEnum):
    CATEGORICAL = 0
    GAUSSIAN = 1


class Activation(enum.IntEnum):
    TANH = 0
    RELU = 1


class Sampler(enum.IntEnum):
    SINGLE_PATH = 0
    VINE = 1


class ActionKind(enum.IntEnum):
    """An environment spec's action space (§3.14)."""

    DISCRETE = 0
    BOX = 1


class ObservationDType(enum.IntEnum):
    """An environment spec's observation element type (§3.14), named as numpy names it."""

    FLOAT64 = 0
    FLOAT32 = 1
    FLOAT16 = 2
    INT64 = 3
    INT32 = 4
    INT16 = 5
    INT8 = 6
    UINT32 = 7
    UINT16 = 8
    UINT8 = 9
    BOOL = 10

    @classmethod
    def of(cls, dtype: npt.DTypeLike) -> Optional["ObservationDType"]:
        """The code of a numpy element type; None for a type the protocol has no code for
        (uint64, complex, …)."""
        return cls.__members__.get(np.dtype(dtype).name.upper())


class End(enum.IntEnum):
    """A chunk row's end byte."""

    CONTINUES = 0
    TERMINATED = 1
    TRUNCATED = 2


class ProtocolError(Exception):
    """A message that fails the document's rules. ``code`` is the Swift case name; ``details``
    its associated values (e.g. ``("observations", 3)`` for ``nonFinite``)."""

    def __init__(self, code: str, *details: object) -> None:
        self.code = code
        self.details = details
        text = code if not details else f"{code}({', '.join(repr(d) for d in details)})"
        super().__init__(text)

    @property
    def unsupported_version(self) -> Optional[int]:
        """The peer's version when the message was of another protocol version."""
        if self.code == "unsupportedVersion" and self.details and isinstance(self.details[0], int):
            return self.details[0]
        return None


@dataclass(frozen=True)
class DecodingLimits:
    """The receiver's limits (§5)."""

    max_total_bytes: int = 256 * 1024 * 1024
    max_rows: int = 65_536
    max_width: int = 65_536
    max_parameters: int = 16_777_216
    max_string_bytes: int = 4_096
    max_model_bytes: int = 4_194_304


DEFAULT_LIMITS = DecodingLimits()


# --------------------------------------------------------------------------------------------
# Messages


@dataclass
class Hello:
    """kind 1, worker → learner. ``worker_id`` None asks the learner to assign one (flag assignID)."""

    nonce: int
    worker_id: Optional[int]
    simulator_count: int = 0
    environment_id: str = ""
    software_version: str = ""


@dataclass
class Normalizer:
    """Observation statistics: x ↦ clip((x − mean) / √(variance + 1e-8), −clip, clip)."""

    mean: F64Array
    variance: F64Array
    count: float
    clip: float


@dataclass
class VineSettings:
    gamma: float
    trunk_steps: int
    rollout_states: int
    actions_per_state: int
    rollout_length: int
    common_random_numbers: bool


#: The most convolutions a trunk may have (Swift's ``ConvolutionalArchitecture.maxConvolutions``).
MAX_CONVOLUTIONS = 8


@dataclass(frozen=True)
class Convolutions:
    """A convolutional policy's trunk (§3.3 flag bit 1, frame 5): uint8 frames of ``input`` =
    (height, width, channels), channels-last, then the valid convolutions ``layers``, each
    (filters, kernel, stride), first layer first. The activation and the dense layers after the
    flattened last feature map are the parameters' ``activation`` and ``layer_sizes``."""

    input: tuple[int, int, int]
    layers: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:  # accept any sequences of integers
        h, w, c = (int(v) for v in self.input)
        object.__setattr__(self, "input", (h, w, c))
        layers = tuple(tuple(int(v) for v in layer) for layer in self.layers)
        if any(len(layer) != 3 for layer in layers):
            raise ValueError(f"each convolution is (filters, kernel, stride), not {layers}")
        object.__setattr__(self, "layers", layers)

    @property
    def input_size(self) -> int:
        """Values per frame: height × width × channels."""
        return math.prod(self.input)

    def feature_shapes(self) -> list[tuple[int, int, int]]:
        """The input's shape and each convolution's output (⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1,
        filters); the convolutions must fit (every value ≥ 1, every kernel within its input)."""
        shapes = [self.input]
        for filters, kernel, stride in self.layers:
            h, w, _ = shapes[-1]
            shapes.append(((h - kernel) // stride + 1, (w - kernel) // stride + 1, filters))
        return shapes

    @property
    def output_size(self) -> int:
        """Values of the last feature map: the first dense layer size."""
        return math.prod(self.feature_shapes()[-1])

    @property
    def parameter_count(self) -> int:
        """The convolutions' weights and biases: Σ kernel² × channels × filters + filters."""
        return sum(k * k * shape[2] * f + f for (f, k, _), shape in zip(self.layers, self.feature_shapes()))

    def values(self) -> list[int]:
        """The convolutions frame's u32 values: height, width, channels, then (filters, kernel,
        stride) per convolution."""
        return [*self.input, *(v for layer in self.layers for v in layer)]


@dataclass
class Parameters:
    """kind 2, learner → worker: environment, one policy version and the collection settings.
    With ``convolutions`` the policy is convolutional: its network reads uint8 frames through
    those convolutions before the dense ``layer_sizes`` (whose first size is the flattened last
    feature map), ``parameters`` holds the convolutions' weights first, and there is no
    normaliser."""

    session: int
    version: int
    seed: int
    environment_id: str
    simulator_count: int
    chunk_steps: int
    quota: int
    layer_sizes: list[int]
    parameters: F64Array
    head: HeadKind
    head_size: int
    log_std: F64Array
    activation: Activation = Activation.TANH
    normalizer: Optional[Normalizer] = None
    vine: Optional[VineSettings] = None
    stream: int = 0
    collection: int = 0
    model_hash: int = 0
    convolutions: Optional[Convolutions] = None

    @property
    def sampler(self) -> Sampler:
        return Sampler.SINGLE_PATH if self.vine is None else Sampler.VINE


@dataclass
class Chunk:
    """kind 3, worker → learner: single-path rows, trajectory after trajectory. Observations
    (both arrays) are float64, or uint8 frames (flag bit 0, pixels)."""

    worker_nonce: int
    session: int
    version: int
    sequence: int
    simulator_steps: int
    worker_id: int
    observations: ObservationArray  # [rows, observationSize], float64 or uint8
    actions: F64Array  # [rows, actionWidth]
    rewards: F64Array  # [rows]
    ends: U8Array  # [rows]
    bootstrap_rows: U32Array  # [bootstrapCount]
    bootstrap_observations: ObservationArray  # [bootstrapCount, observationSize], as the observations
    episode_returns: F64Array = field(default_factory=lambda: np.zeros(0))
    episode_lengths: U32Array = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))

    @property
    def rows(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def pixels(self) -> bool:
        """Whether the observations are uint8 frames (the chunk's flag bit 0)."""
        return _pixels(self)


@dataclass
class Heartbeat:
    """kind 4, either direction. ``nonce`` is the worker's nonce or the learner's session."""

    nonce: int
    sequence: int
    timestamp: int
    from_learner: bool
    version: Optional[int] = None
    worker_id: int = 0


@dataclass
class Stop:
    session: int
    reason: StopReason
    message: str = ""


@dataclass
class RequestParameters:
    worker_nonce: int
    worker_id: int


@dataclass
class Reject:
    session: int
    current_version: int
    reason: RejectReason
    sequence: Optional[int] = None
    message: str = ""


@dataclass
class Trajectories:
    """Rows laid out trajectory after trajectory, as a chunk carries them (§3.4): a chunk's
    frames 1 to 8, and a vine chunk's trunks (§3.9 frames 8 to 15). Observations are float64,
    or uint8 frames for a pixel chunk or pixel vine chunk."""

    observations: ObservationArray  # [rows, observationSize]
    actions: F64Array  # [rows, actionWidth]
    rewards: F64Array  # [rows]
    ends: U8Array  # [rows]
    bootstrap_rows: U32Array  # [bootstrapCount]
    bootstrap_observations: ObservationArray  # [bootstrapCount, observationSize]
    episode_returns: F64Array = field(default_factory=lambda: np.zeros(0))
    episode_lengths: U32Array = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))

    @property
    def rows(self) -> int:
        return int(self.rewards.shape[0])


@dataclass
class VineChunk:
    """kind 8 (§3.9): N states, K branches each (state after state), and the trunks. The
    observations (states, cut observations, the trunks' observations and bootstrap observations)
    are all float64, or all uint8 frames (flag bit 0, pixels)."""

    worker_nonce: int
    session: int
    version: int
    sequence: int
    worker_id: int
    actions_per_state: int
    estimator: int
    states: ObservationArray  # [N, observationSize], float64 or uint8
    actions: F64Array  # [N·K, actionWidth]
    branch_returns: F64Array  # [N·K], Σ_{t<L} γᵗ r_t, nothing bootstrapped
    log_probabilities: F64Array  # [N·K]
    branch_lengths: U32Array  # [N·K], L ≥ 1
    branch_ends: U8Array  # [N·K], End.TERMINATED or End.TRUNCATED (cut by T or the time limit)
    cut_observations: ObservationArray  # [cutCount, observationSize], s_L of each cut branch in branch order
    trunks: Trajectories

    @property
    def trunk_steps(self) -> int:
        return self.trunks.rows

    @property
    def pixels(self) -> bool:
        """Whether the observations are uint8 frames (the vine chunk's flag bit 0)."""
        return _vine_pixels(self)

    @property
    def branch_steps(self) -> int:
        return int(np.asarray(self.branch_lengths, dtype=np.int64).sum())


@dataclass
class Model:
    session: int
    xml: str

    @property
    def model_hash(self) -> int:
        return model_hash(self.xml.encode("utf-8"))


@dataclass
class RequestModel:
    worker_nonce: int
    model_hash: int
    worker_id: int


@dataclass
class Leave:
    worker_nonce: int
    worker_id: int
    reason: LeaveReason = LeaveReason.INCOMPATIBLE
    message: str = ""


@dataclass
class Welcome:
    """kind 12, learner → worker: the worker's id, the learner's timing and the run's
    environment. ``environment_arguments`` is JSON text (a keyword-argument object) or empty;
    ``spec_required``: the worker must describe the environment it makes (EnvironmentSpecMessage)."""

    session: int
    worker_nonce: int
    worker_id: int
    heartbeat_interval_ms: int
    worker_timeout_ms: int
    id_assigned: bool
    environment_id: str
    software_version: str = ""
    environment_arguments: str = ""
    spec_required: bool = False


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a worker tells the learner about an environment it made (§3.14): the observations'
    shape and element type, the action space (``action_size`` actions, or a box of that
    dimension with bounds ``action_low`` … ``action_high``, as float64), the episode step limit
    (0: none) and whether its full state can be snapshotted and restored (the vine needs it)."""

    observation_shape: tuple[int, ...]
    observation_dtype: ObservationDType
    action_kind: ActionKind
    action_size: int
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    time_limit: int = 0
    can_snapshot: bool = False

    @property
    def observation_size(self) -> int:
        """Numbers per observation on the wire: the product of the shape."""
        return math.prod(self.observation_shape)

    @property
    def action_width(self) -> int:
        """Numbers per action on the wire: 1 for a discrete space."""
        return 1 if self.action_kind == ActionKind.DISCRETE else self.action_size

    def describe(self) -> str:
        """One line for logs, e.g. ``observations float32 [3]; box actions [-2.0] … [2.0]; 200 steps; snapshot``."""
        shape = "×".join(str(d) for d in self.observation_shape)
        if self.action_kind == ActionKind.DISCRETE:
            actions = f"{self.action_size} discrete actions"
        else:
            actions = f"box actions {list(self.action_low)} … {list(self.action_high)}"
        limit = f"{self.time_limit} steps" if self.time_limit else "no time limit"
        snapshot = "snapshot" if self.can_snapshot else "no snapshot"
        return f"observations {self.observation_dtype.name.lower()} [{shape}]; {actions}; {limit}; {snapshot}"


@dataclass
class EnvironmentSpecMessage:
    """kind 13, worker → learner: the spec of the environment the welcome named."""

    worker_nonce: int
    worker_id: int
    spec: EnvironmentSpec


Message = Union[
    Hello, Parameters, Chunk, Heartbeat, Stop, RequestParameters, Reject, VineChunk, Model,
    RequestModel, Leave, Welcome, EnvironmentSpecMessage,
]


def model_hash(data: bytes) -> int:
    """64-bit FNV-1a of ``data``, with 0 mapped to 1 (§3.10)."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h if h != 0 else 1


# --------------------------------------------------------------------------------------------
# Header layouts (after the 8-byte prefix), widest field first.

_PREFIX = struct.Struct("<4sHBB")
_HEADERS: dict[Kind, struct.Struct] = {
    Kind.HELLO: struct.Struct("<QIIII"),
    Kind.PARAMETERS: struct.Struct("<QQQQQdddQIIIIIIIIIIIIIBBBB"),
    Kind.CHUNK: struct.Struct("<QQQQQIIIIII"),
    Kind.HEARTBEAT: struct.Struct("<QQQQI"),
    Kind.STOP: struct.Struct("<QIB"),
    Kind.REQUEST_PARAMETERS: struct.Struct("<QI"),
    Kind.REJECT: struct.Struct("<QQQIB"),
    Kind.VINE_CHUNK: struct.Struct("<QQQQIIIIIIIIIB"),
    Kind.MODEL: struct.Struct("<QQI"),
    Kind.REQUEST_MODEL: struct.Struct("<QQI"),
    Kind.LEAVE: struct.Struct("<QIIB"),
    Kind.WELCOME: struct.Struct("<QQIIIIII"),
    Kind.ENVIRONMENT_SPEC: struct.Struct("<QIIIIBB"),
}
HEADER_LENGTHS: dict[Kind, int] = {kind: 8 + s.size for kind, s in _HEADERS.items()}
_FLAG_MASKS: dict[Kind, int] = {kind: 0 for kind in Kind}
_FLAG_MASKS.update({Kind.HELLO: 1, Kind.PARAMETERS: 3, Kind.CHUNK: 1, Kind.HEARTBEAT: 3, Kind.REJECT: 1,
                    Kind.VINE_CHUNK: 1, Kind.WELCOME: 3, Kind.ENVIRONMENT_SPEC: 1})
NORMALIZER_PRESENT = 1  # parameters flag bit 0
CONVOLUTIONAL = 2  # parameters flag bit 1
PIXELS = 1  # chunk and vine chunk flag bit 0
MAX_OBSERVATION_RANK = 8

assert HEADER_LENGTHS == {
    Kind.HELLO: 32, Kind.PARAMETERS: 136, Kind.CHUNK: 72, Kind.HEARTBEAT: 44, Kind.STOP: 21,
    Kind.REQUEST_PARAMETERS: 20, Kind.REJECT: 37, Kind.VINE_CHUNK: 77, Kind.MODEL: 28,
    Kind.REQUEST_MODEL: 28, Kind.LEAVE: 25, Kind.WELCOME: 48, Kind.ENVIRONMENT_SPEC: 34,
}


def _prefix(kind: Kind, flags: int) -> bytes:
    return _PREFIX.pack(MAGIC, PROTOCOL_VERSION, int(kind), flags)


def _f64(values: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def _u32(values: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(values, dtype="<u4").tobytes()


def _u8(values: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def _text(s: str) -> bytes:
    return s.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Encoding


def _pixels(t: Chunk | Trajectories) -> bool:
    """Whether ``t``'s observations are uint8 frames; ValueError when only one of its two
    observation arrays is."""
    frames = np.asarray(t.observations).dtype == np.uint8
    if frames != (np.asarray(t.bootstrap_observations).dtype == np.uint8):
        raise ValueError("the observations and the bootstrap observations must both be uint8 (pixels) or both not")
    return bool(frames)


def _vine_pixels(m: VineChunk) -> bool:
    """Whether a vine chunk's observations are uint8 frames; ValueError naming the arrays that
    are not when only some of its four observation arrays are."""
    arrays = {"states": m.states, "cut observations": m.cut_observations,
              "trunk observations": m.trunks.observations,
              "trunk bootstrap observations": m.trunks.bootstrap_observations}
    frames = {name: np.asarray(array).dtype == np.uint8 for name, array in arrays.items()}
    if all(frames.values()):
        return True
    if any(frames.values()):
        uint8 = [name for name, is_frames in frames.items() if is_frames]
        other = [f"{name} ({np.asarray(arrays[name]).dtype})" for name, is_frames in frames.items() if not is_frames]
        raise ValueError(f"a vine chunk's observations must all be uint8 (pixels) or all not: {', '.join(uint8)} "
                         f"uint8, but {', '.join(other)}")
    return False


def _trajectory_frames(t: Chunk | Trajectories, pixels: bool = False) -> list[bytes]:
    """A chunk's frames 1 to 8 (§3.4), or a vine chunk's trunks (§3.9 frames 8 to 15),
    observations as f64 or (pixels) one byte each."""
    observations: Callable[[npt.ArrayLike], bytes] = _u8 if pixels else _f64
    return [observations(t.observations), _f64(t.actions), _f64(t.rewards), _u8(t.ends), _u32(t.bootstrap_rows),
            observations(t.bootstrap_observations), _f64(t.episode_returns), _u32(t.episode_lengths)]


def encode(message: Message) -> list[bytes]:
    """The frames of ``message`` (frame 0 the header). The message must be well formed; the
    encoder checks only what it needs to lay the frames out."""
    if isinstance(message, Hello):
        env, software = _text(message.environment_id), _text(message.software_version)
        assign = message.worker_id is None
        header = _prefix(Kind.HELLO, 1 if assign else 0) + _HEADERS[Kind.HELLO].pack(
            message.nonce, 0 if assign else message.worker_id, message.simulator_count, len(env), len(software))
        return [header, env, software]
    if isinstance(message, Parameters):
        return _encode_parameters(message)
    if isinstance(message, Chunk):
        pixels = _pixels(message)  # uint8 observations travel as pixels (flag bit 0)
        obs = np.asarray(message.observations)
        act = np.asarray(message.actions, dtype=np.float64)
        rows = int(np.asarray(message.rewards).shape[0])
        obs_size = obs.shape[1] if obs.ndim == 2 else (obs.size // rows if rows else 0)
        act_width = act.shape[1] if act.ndim == 2 else (act.size // rows if rows else 0)
        returns = np.asarray(message.episode_returns, dtype=np.float64)
        header = _prefix(Kind.CHUNK, PIXELS if pixels else 0) + _HEADERS[Kind.CHUNK].pack(
            message.worker_nonce, message.session, message.version, message.sequence, message.simulator_steps,
            message.worker_id, rows, obs_size, act_width, len(message.bootstrap_rows), returns.shape[0])
        return [header] + _trajectory_frames(message, pixels)
    if isinstance(message, Heartbeat):
        flags = (1 if message.from_learner else 0) | (0 if message.version is None else 2)
        header = _prefix(Kind.HEARTBEAT, flags) + _HEADERS[Kind.HEARTBEAT].pack(
            message.nonce, message.sequence, message.timestamp, message.version or 0, message.worker_id)
        return [header]
    if isinstance(message, Stop):
        text = _text(message.message)
        return [_prefix(Kind.STOP, 0) + _HEADERS[Kind.STOP].pack(message.session, len(text), int(message.reason)), text]
    if isinstance(message, RequestParameters):
        return [_prefix(Kind.REQUEST_PARAMETERS, 0)
                + _HEADERS[Kind.REQUEST_PARAMETERS].pack(message.worker_nonce, message.worker_id)]
    if isinstance(message, Reject):
        text = _text(message.message)
        flags = 0 if message.sequence is None else 1
        header = _prefix(Kind.REJECT, flags) + _HEADERS[Kind.REJECT].pack(
            message.session, message.current_version, message.sequence or 0, len(text), int(message.reason))
        return [header, text]
    if isinstance(message, VineChunk):
        pixels = _vine_pixels(message)  # uint8 observations travel as pixels (flag bit 0)
        states = np.asarray(message.states)
        observations: Callable[[npt.ArrayLike], bytes] = _u8 if pixels else _f64
        actions = np.asarray(message.actions, dtype=np.float64)
        n = states.shape[0]
        k = message.actions_per_state
        act_width = actions.shape[1] if actions.ndim == 2 else (actions.size // (n * k) if n * k else 0)
        ends = np.asarray(message.branch_ends, dtype=np.uint8)
        trunks = message.trunks
        header = _prefix(Kind.VINE_CHUNK, PIXELS if pixels else 0) + _HEADERS[Kind.VINE_CHUNK].pack(
            message.worker_nonce, message.session, message.version, message.sequence, message.worker_id, n, k,
            states.shape[1] if states.ndim == 2 else 0, act_width, int(np.count_nonzero(ends == End.TRUNCATED)),
            trunks.rows, len(trunks.bootstrap_rows), len(trunks.episode_returns), message.estimator)
        return [header, observations(states), _f64(actions), _f64(message.branch_returns),
                _f64(message.log_probabilities), _u32(message.branch_lengths), _u8(ends),
                observations(message.cut_observations)] + _trajectory_frames(trunks, pixels)
    if isinstance(message, Model):
        text = _text(message.xml)
        return [_prefix(Kind.MODEL, 0) + _HEADERS[Kind.MODEL].pack(message.session, model_hash(text), len(text)), text]
    if isinstance(message, RequestModel):
        return [_prefix(Kind.REQUEST_MODEL, 0) + _HEADERS[Kind.REQUEST_MODEL].pack(
            message.worker_nonce, message.model_hash, message.worker_id)]
    if isinstance(message, Leave):
        text = _text(message.message)
        return [_prefix(Kind.LEAVE, 0) + _HEADERS[Kind.LEAVE].pack(
            message.worker_nonce, message.worker_id, len(text), int(message.reason)), text]
    if isinstance(message, Welcome):
        software, env = _text(message.software_version), _text(message.environment_id)
        arguments = _text(message.environment_arguments)
        flags = (1 if message.id_assigned else 0) | (2 if message.spec_required else 0)
        header = _prefix(Kind.WELCOME, flags) + _HEADERS[Kind.WELCOME].pack(
            message.session, message.worker_nonce, message.worker_id, message.heartbeat_interval_ms,
            message.worker_timeout_ms, len(software), len(env), len(arguments))
        return [header, software, env, arguments]
    if isinstance(message, EnvironmentSpecMessage):
        spec = message.spec
        header = _prefix(Kind.ENVIRONMENT_SPEC, 1 if spec.can_snapshot else 0) + _HEADERS[Kind.ENVIRONMENT_SPEC].pack(
            message.worker_nonce, message.worker_id, len(spec.observation_shape), spec.action_size, spec.time_limit,
            int(spec.observation_dtype), int(spec.action_kind))
        return [header, _u32(spec.observation_shape), _f64(spec.action_low), _f64(spec.action_high)]
    raise TypeError(f"not a protocol message: {type(message).__name__}")


def _encode_parameters(m: Parameters) -> list[bytes]:
    env = _text(m.environment_id)
    norm = m.normalizer
    vine = m.vine
    flags = (NORMALIZER_PRESENT if norm is not None else 0) | (CONVOLUTIONAL if m.convolutions is not None else 0)
    header = _prefix(Kind.PARAMETERS, flags) + _HEADERS[Kind.PARAMETERS].pack(
        m.session, m.version, m.seed, m.stream, m.collection,
        norm.count if norm else 0.0, norm.clip if norm else 0.0, vine.gamma if vine else 0.0,
        m.model_hash, len(env), m.simulator_count, m.chunk_steps, m.quota, len(m.layer_sizes),
        int(np.asarray(m.parameters).size), m.head_size, int(np.asarray(m.log_std).size),
        int(np.asarray(norm.mean).size) if norm else 0,
        vine.trunk_steps if vine else 0, vine.rollout_states if vine else 0,
        vine.actions_per_state if vine else 0, vine.rollout_length if vine else 0,
        int(m.head), int(m.activation), int(m.sampler), int(vine.common_random_numbers) if vine else 0)
    frames = [header, env, _u32(m.layer_sizes), _f64(m.parameters), _f64(m.log_std)]
    if norm is not None:
        frames += [_f64(norm.mean), _f64(norm.variance)]
    if m.convolutions is not None:
        frames.append(_u32(m.convolutions.values()))
    return frames


# --------------------------------------------------------------------------------------------
# Decoding


def decode(frames: Sequence[Buffer], limits: DecodingLimits = DEFAULT_LIMITS) -> Message:
    """Validates ``frames`` (§5's order) and returns the message. Raises only ProtocolError."""
    try:
        views = [memoryview(f).cast("B") for f in frames]
    except (TypeError, ValueError) as error:
        raise ProtocolError("invalidFrame", str(error)) from None
    try:
        return _decode(views, limits)
    except ProtocolError:
        raise
    except Exception as error:  # a bug in this decoder must not escape as another exception type
        raise ProtocolError("internal", f"{type(error).__name__}: {error}") from None


class _Reader:
    """Frame-length and content checks shared by the kinds."""

    def __init__(self, frames: list[memoryview], limits: DecodingLimits) -> None:
        self.frames = frames
        self.limits = limits

    def limit(self, name: str, value: int, low: int, high: int) -> None:
        if value > high:
            raise ProtocolError("limitExceeded", name, value, high)
        if value < low:
            raise ProtocolError("invalidValue", name, value)

    def frame_count(self, expected: int) -> None:
        if len(self.frames) != expected:
            raise ProtocolError("frameCount")

    def lengths(self, expected: Sequence[tuple[str, int]]) -> None:
        for index, (name, length) in enumerate(expected, start=1):
            actual = len(self.frames[index])
            if actual != length:
                raise ProtocolError("frameLength", name, actual, length)

    def text(self, index: int, name: str) -> str:
        try:
            return bytes(self.frames[index]).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalidUTF8", name) from None

    def f64(self, index: int, shape: tuple[int, ...], name: str, finite: bool = True) -> F64Array:
        array = np.frombuffer(self.frames[index], dtype="<f8").astype(np.float64).reshape(shape)
        if finite:
            _check_finite(array, name)
        return array

    def u32(self, index: int) -> U32Array:
        return np.frombuffer(self.frames[index], dtype="<u4").astype(np.uint32)

    def u8(self, index: int, shape: tuple[int, ...]) -> U8Array:
        return np.frombuffer(self.frames[index], dtype=np.uint8).reshape(shape).copy()


def _check_finite(array: F64Array, name: str) -> None:
    flat = array.reshape(-1)
    ok = np.isfinite(flat)
    if not ok.all():
        raise ProtocolError("nonFinite", name, int(np.argmin(ok)))


def _decode(frames: list[memoryview], limits: DecodingLimits) -> Message:
    # 1. frames and total size
    if not frames:
        raise ProtocolError("noFrames")
    total = sum(len(f) for f in frames)
    if total > limits.max_total_bytes:
        raise ProtocolError("messageTooLarge", total, limits.max_total_bytes)
    # 2. prefix
    head = frames[0]
    if len(head) < 8:
        raise ProtocolError("headerTooShort")
    magic, version, kind_code, flags = _PREFIX.unpack_from(head, 0)
    if magic != MAGIC:
        raise ProtocolError("badMagic")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("unsupportedVersion", version)
    try:
        kind = Kind(kind_code)
    except ValueError:
        raise ProtocolError("unknownKind", kind_code) from None
    # 3. exact header length, flags
    expected = HEADER_LENGTHS[kind]
    if len(head) < expected:
        raise ProtocolError("headerTooShort")
    if len(head) > expected:
        raise ProtocolError("headerTooLong")
    if flags & ~_FLAG_MASKS[kind]:
        raise ProtocolError("unknownFlags", flags)
    fields = _HEADERS[kind].unpack_from(head, 8)
    r = _Reader(frames, limits)
    return _DECODERS[kind](r, flags, fields, head)


def _decode_hello(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Hello:
    nonce, worker_id, simulators, env_len, software_len = f
    assign = bool(flags & 1)
    if assign and worker_id != 0:
        raise ProtocolError("invalidValue", "workerID", worker_id)
    r.limit("environmentIDLength", env_len, 0, r.limits.max_string_bytes)
    r.limit("softwareVersionLength", software_len, 0, r.limits.max_string_bytes)
    r.frame_count(3)
    r.lengths([("environmentID", env_len), ("softwareVersion", software_len)])
    env = r.text(1, "environmentID")
    software = r.text(2, "softwareVersion")
    return Hello(nonce=nonce, worker_id=None if assign else worker_id, simulator_count=simulators,
                 environment_id=env, software_version=software)


def _decode_parameters(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Parameters:
    (session, version, seed, stream, collection, norm_count, norm_clip, gamma, model_hash_, env_len, simulators,
     chunk_steps, quota, layer_count, parameter_count, head_size, log_std_count, norm_size, trunk_steps,
     rollout_states, actions_per_state, rollout_length, head_kind, activation, sampler, crn) = f
    raw = struct.unpack_from("<QQQ", head, 48)  # the three f64 fields' bits
    lim = r.limits
    has_norm = bool(flags & NORMALIZER_PRESENT)
    convolutional = bool(flags & CONVOLUTIONAL)
    if head_kind not in (0, 1):
        raise ProtocolError("invalidValue", "headKind", head_kind)
    if activation not in (0, 1):
        raise ProtocolError("invalidValue", "activation", activation)
    if sampler not in (0, 1):
        raise ProtocolError("invalidValue", "sampler", sampler)
    vine = sampler == 1
    if has_norm:
        if not np.isfinite(norm_count) or norm_count < 0:
            raise ProtocolError("invalidNumber", "normalizerCount", norm_count)
        if not np.isfinite(norm_clip) or norm_clip <= 0:
            raise ProtocolError("invalidNumber", "normalizerClip", norm_clip)
        r.limit("normalizerSize", norm_size, 1, lim.max_width)
    else:
        if raw[0] != 0:
            raise ProtocolError("invalidNumber", "normalizerCount", norm_count)
        if raw[1] != 0:
            raise ProtocolError("invalidNumber", "normalizerClip", norm_clip)
        if norm_size != 0:
            raise ProtocolError("invalidValue", "normalizerSize", norm_size)
    if vine:
        if not np.isfinite(gamma) or not 0 <= gamma <= 1:
            raise ProtocolError("invalidNumber", "vineGamma", gamma)
        r.limit("trunkSteps", trunk_steps, 1, lim.max_rows)
        r.limit("rolloutStates", rollout_states, 1, lim.max_rows)
        r.limit("actionsPerState", actions_per_state, 2, lim.max_width)
        r.limit("rolloutLength", rollout_length, 1, lim.max_rows)
        if crn not in (0, 1):
            raise ProtocolError("invalidValue", "commonRandomNumbers", crn)
    else:
        if raw[2] != 0:
            raise ProtocolError("invalidNumber", "vineGamma", gamma)
        for name, value in (("trunkSteps", trunk_steps), ("rolloutStates", rollout_states),
                            ("actionsPerState", actions_per_state), ("rolloutLength", rollout_length),
                            ("commonRandomNumbers", crn)):
            if value != 0:
                raise ProtocolError("invalidValue", name, value)
    r.limit("environmentIDLength", env_len, 1, lim.max_string_bytes)
    r.limit("simulatorCount", simulators, 1, lim.max_width)
    r.limit("chunkSteps", chunk_steps, 1, lim.max_rows)
    r.limit("quota", quota, 0, MAX_QUOTA)
    if layer_count < 2:
        raise ProtocolError("invalidValue", "layerCount", layer_count)
    r.limit("parameterCount", parameter_count, 0, lim.max_parameters)
    r.limit("headSize", head_size, 1, lim.max_width)
    expected_log_std = head_size if head_kind == 1 else 0
    if log_std_count != expected_log_std:
        raise ProtocolError("logStdCountMismatch")
    # Rule 1 (as Swift, before the frame count): frames are read as p/255, never standardised.
    if convolutional and has_norm:
        raise ProtocolError("invalidConvolutions",
                            "a convolutional policy reads frames as p/255 and takes no normaliser")
    r.frame_count((7 if has_norm else 5) + (1 if convolutional else 0))
    lengths = [("environmentID", env_len), ("layerSizes", 4 * layer_count), ("parameters", 8 * parameter_count),
               ("logStd", 8 * log_std_count)]
    if has_norm:
        lengths += [("means", 8 * norm_size), ("variances", 8 * norm_size)]
    r.lengths(lengths)
    if convolutional:
        # Rule 1: 3 + 3·L u32 values, 1 ≤ L ≤ MAX_CONVOLUTIONS.
        length = len(r.frames[5])
        layers = max(1, (length // 4 - 3) // 3)
        if length % 12 != 0 or length < 24:
            raise ProtocolError("frameLength", "convolutions", length, 12 + 12 * layers)
        if layers > MAX_CONVOLUTIONS:
            raise ProtocolError("limitExceeded", "convolutions", layers, MAX_CONVOLUTIONS)
    env = r.text(1, "environmentID")
    sizes = [int(s) for s in r.u32(2)]
    implied = 0
    convolutions = None
    if convolutional:
        convolutions = _decode_convolutions([int(v) for v in r.u32(5)], sizes[0], lim)
        implied = convolutions.parameter_count
    for size in sizes:
        r.limit("layerSize", size, 1, lim.max_width)
    if sizes[-1] != head_size:
        raise ProtocolError("outputWidthMismatch")
    if has_norm and sizes[0] != norm_size:
        raise ProtocolError("normalizerSizeMismatch")
    implied += sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))
    if implied != parameter_count:
        raise ProtocolError("parameterCountMismatch", parameter_count, implied)
    theta = r.f64(3, (parameter_count,), "parameters")
    log_std = r.f64(4, (log_std_count,), "logStd")
    normalizer = None
    if has_norm:
        mean = r.f64(5, (norm_size,), "means")
        variance = r.f64(6, (norm_size,), "variances")
        negative = np.flatnonzero(variance < 0)
        if negative.size:
            raise ProtocolError("negativeVariance", int(negative[0]))
        normalizer = Normalizer(mean=mean, variance=variance, count=float(norm_count), clip=float(norm_clip))
    settings = None
    if vine:
        settings = VineSettings(gamma=float(gamma), trunk_steps=trunk_steps, rollout_states=rollout_states,
                                actions_per_state=actions_per_state, rollout_length=rollout_length,
                                common_random_numbers=bool(crn))
    return Parameters(session=session, version=version, seed=seed, environment_id=env, simulator_count=simulators,
                      chunk_steps=chunk_steps, quota=quota, layer_sizes=sizes, parameters=theta,
                      head=HeadKind(head_kind), head_size=head_size, log_std=log_std,
                      activation=Activation(activation), normalizer=normalizer, vine=settings, stream=stream,
                      collection=collection, model_hash=model_hash_, convolutions=convolutions)


def _decode_convolutions(values: list[int], first_layer: int, lim: DecodingLimits) -> Convolutions:
    """Rule 3 of §3.3, in Swift's order (``MessageDecoder.architecture``): every value in
    1 … maxWidth; the input at most maxWidth values; per convolution, its kernel within the
    feature map it slides over and its output at most maxWidth values; the last feature map's
    values equal to the first layer size."""
    for value in values:
        if value < 1:
            raise ProtocolError("invalidValue", "convolutions", value)
        if value > lim.max_width:
            raise ProtocolError("limitExceeded", "convolutions", value, lim.max_width)
    h, w, c = values[:3]
    if h * w * c > lim.max_width:
        raise ProtocolError("invalidConvolutions", f"input {h}×{w}×{c} exceeds {lim.max_width} values")
    layers = [tuple(values[i:i + 3]) for i in range(3, len(values), 3)]
    for index, (filters, kernel, stride) in enumerate(layers, start=1):
        if kernel > h or kernel > w:
            raise ProtocolError("invalidConvolutions", f"convolution {index}'s {kernel}×{kernel} kernel exceeds its "
                                                       f"{h}×{w} input")
        h, w, c = (h - kernel) // stride + 1, (w - kernel) // stride + 1, filters
        if h * w * c > lim.max_width:
            raise ProtocolError("invalidConvolutions", f"convolution {index}'s output of {h * w * c} values exceeds "
                                                       f"{lim.max_width}")
    if h * w * c != first_layer:
        raise ProtocolError("invalidConvolutions", f"the flattened output of {h}×{w}×{c} is {h * w * c} values, the "
                                                   f"first layer size {first_layer}")
    return Convolutions((values[0], values[1], values[2]), tuple((f, k, s) for f, k, s in layers))


#: The field names a single-path section's errors use: a chunk's own, or a vine chunk's trunks.
_CHUNK_FIELDS = ("observations", "actions", "rewards", "ends", "bootstrapRows", "bootstrapObservations")
_TRUNK_FIELDS = ("trunkObservations", "trunkActions", "trunkRewards", "trunkEnds", "trunkBootstrapRows",
                 "trunkBootstrapObservations")


def _trajectory_lengths(rows: int, obs_size: int, act_width: int, boot_count: int, episodes: int,
                        names: tuple[str, ...], pixels: bool = False) -> list[tuple[str, int]]:
    """The byte lengths of a single-path section's eight frames (observations of one byte each
    with ``pixels``)."""
    value = 1 if pixels else 8
    return [(names[0], value * rows * obs_size), (names[1], 8 * rows * act_width), (names[2], 8 * rows),
            (names[3], rows), (names[4], 4 * boot_count), (names[5], value * boot_count * obs_size),
            ("episodeReturns", 8 * episodes), ("episodeLengths", 4 * episodes)]


def _decode_trajectories(r: _Reader, first: int, rows: int, obs_size: int, act_width: int, boot_count: int,
                         episodes: int, names: tuple[str, ...], pixels: bool = False) -> Trajectories:
    """A single-path section's eight frames from frame ``first`` (lengths checked), by the chunk's
    content rules (§3.4); with ``pixels`` the observations are uint8 (no finiteness to check)."""
    obs = r.u8(first, (rows, obs_size)) if pixels else r.f64(first, (rows, obs_size), names[0])
    actions = r.f64(first + 1, (rows, act_width), names[1])
    rewards = r.f64(first + 2, (rows,), names[2])
    ends = np.frombuffer(r.frames[first + 3], dtype=np.uint8).copy()
    bad = np.flatnonzero(ends > 2)
    if bad.size:
        raise ProtocolError("invalidEnd", int(bad[0]), int(ends[bad[0]]))
    if ends[-1] == 0:
        raise ProtocolError("unterminatedChunk")
    boot_rows = r.u32(first + 4)
    for index, row in enumerate(boot_rows.tolist()):
        if row >= rows:
            raise ProtocolError("bootstrapRowOutOfRange", index, row)
        if index > 0 and row <= boot_rows[index - 1]:
            raise ProtocolError("bootstrapRowsNotAscending", index)
        if ends[row] != 2:
            raise ProtocolError("bootstrapRowMismatch", row)
    truncated = np.flatnonzero(ends == 2)
    if truncated.size != boot_rows.size:
        listed = set(boot_rows.tolist())
        missing = next(int(row) for row in truncated if int(row) not in listed)
        raise ProtocolError("bootstrapRowMismatch", missing)
    boot_obs = r.u8(first + 5, (boot_count, obs_size)) if pixels else r.f64(first + 5, (boot_count, obs_size),
                                                                             names[5])
    if episodes > int(np.count_nonzero(ends)):
        raise ProtocolError("tooManyEpisodes")
    returns = r.f64(first + 6, (episodes,), "episodeReturns")
    lengths = r.u32(first + 7)
    short = np.flatnonzero(lengths < 1)
    if short.size:
        raise ProtocolError("invalidValue", "episodeLengths", int(lengths[short[0]]))
    return Trajectories(observations=obs, actions=actions, rewards=rewards, ends=ends, bootstrap_rows=boot_rows,
                        bootstrap_observations=boot_obs, episode_returns=returns, episode_lengths=lengths)


def _decode_chunk(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Chunk:
    nonce, session, version, sequence, sim_steps, worker_id, rows, obs_size, act_width, boot_count, episodes = f
    lim = r.limits
    r.limit("rows", rows, 1, lim.max_rows)
    r.limit("observationSize", obs_size, 1, lim.max_width)
    r.limit("actionWidth", act_width, 1, lim.max_width)
    r.limit("bootstrapCount", boot_count, 0, rows)
    r.limit("episodeCount", episodes, 0, rows)
    if sim_steps < rows:
        raise ProtocolError("invalidValue", "simulatorSteps", sim_steps)
    pixels = bool(flags & PIXELS)
    r.frame_count(9)
    r.lengths(_trajectory_lengths(rows, obs_size, act_width, boot_count, episodes, _CHUNK_FIELDS, pixels))
    t = _decode_trajectories(r, 1, rows, obs_size, act_width, boot_count, episodes, _CHUNK_FIELDS, pixels)
    return Chunk(worker_nonce=nonce, session=session, version=version, sequence=sequence, simulator_steps=sim_steps,
                 worker_id=worker_id, observations=t.observations, actions=t.actions, rewards=t.rewards, ends=t.ends,
                 bootstrap_rows=t.bootstrap_rows, bootstrap_observations=t.bootstrap_observations,
                 episode_returns=t.episode_returns, episode_lengths=t.episode_lengths)


def _decode_heartbeat(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Heartbeat:
    nonce, sequence, timestamp, version, worker_id = f
    from_learner = bool(flags & 1)
    has_version = bool(flags & 2)
    if not has_version and version != 0:
        raise ProtocolError("invalidValue", "version", version)
    if from_learner and worker_id != 0:
        raise ProtocolError("invalidValue", "workerID", worker_id)
    r.frame_count(1)
    return Heartbeat(nonce=nonce, sequence=sequence, timestamp=timestamp, from_learner=from_learner,
                     version=version if has_version else None, worker_id=worker_id)


def _decode_stop(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Stop:
    session, length, reason = f
    r.limit("messageLength", length, 0, r.limits.max_string_bytes)
    if reason not in StopReason._value2member_map_:
        raise ProtocolError("invalidValue", "reason", reason)
    r.frame_count(2)
    r.lengths([("message", length)])
    return Stop(session=session, reason=StopReason(reason), message=r.text(1, "message"))


def _decode_request_parameters(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> RequestParameters:
    nonce, worker_id = f
    r.frame_count(1)
    return RequestParameters(worker_nonce=nonce, worker_id=worker_id)


def _decode_reject(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Reject:
    session, current, sequence, length, reason = f
    has_sequence = bool(flags & 1)
    if not has_sequence and sequence != 0:
        raise ProtocolError("invalidValue", "sequence", sequence)
    r.limit("messageLength", length, 0, r.limits.max_string_bytes)
    if reason not in RejectReason._value2member_map_:
        raise ProtocolError("invalidValue", "reason", reason)
    r.frame_count(2)
    r.lengths([("message", length)])
    return Reject(session=session, current_version=current, reason=RejectReason(reason),
                  sequence=sequence if has_sequence else None, message=r.text(1, "message"))


def _decode_vine_chunk(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> VineChunk:
    (nonce, session, version, sequence, worker_id, states, k, obs_size, act_width, cut_count, trunk_steps,
     trunk_boot, episodes, estimator) = f
    lim = r.limits
    r.limit("states", states, 1, lim.max_rows)
    r.limit("actionsPerState", k, 2, lim.max_width)
    r.limit("branches", states * k, 1, lim.max_rows)
    r.limit("observationSize", obs_size, 1, lim.max_width)
    r.limit("actionWidth", act_width, 1, lim.max_width)
    if estimator not in (0, 1):
        raise ProtocolError("invalidValue", "estimator", estimator)
    if estimator == 0 and act_width != 1:
        raise ProtocolError("invalidValue", "actionWidth", act_width)
    nk = states * k
    r.limit("cutCount", cut_count, 0, nk)
    r.limit("trunkSteps", trunk_steps, states, lim.max_rows)
    r.limit("trunkBootstrapRows", trunk_boot, 0, trunk_steps)
    r.limit("episodeCount", episodes, 0, trunk_steps)
    pixels = bool(flags & PIXELS)
    value = 1 if pixels else 8  # bytes per observation value
    r.frame_count(16)
    r.lengths([("states", value * states * obs_size), ("actions", 8 * nk * act_width), ("branchReturns", 8 * nk),
               ("logProbabilities", 8 * nk), ("branchLengths", 4 * nk), ("branchEnds", nk),
               ("cutObservations", value * cut_count * obs_size)]
              + _trajectory_lengths(trunk_steps, obs_size, act_width, trunk_boot, episodes, _TRUNK_FIELDS, pixels))
    state_array = r.u8(1, (states, obs_size)) if pixels else r.f64(1, (states, obs_size), "states")
    actions = r.f64(2, (nk, act_width), "actions")
    if estimator == 0:
        expected = np.tile(np.arange(k, dtype=np.float64), states)
        wrong = np.flatnonzero(actions[:, 0] != expected)
        if wrong.size:
            raise ProtocolError("actionsNotEnumerated", int(wrong[0]) // k)
    branch_returns = r.f64(3, (nk,), "branchReturns")
    log_p = r.f64(4, (nk,), "logProbabilities")
    lengths = r.u32(5)
    short = np.flatnonzero(lengths < 1)
    if short.size:
        raise ProtocolError("invalidValue", "branchLengths", int(lengths[short[0]]))
    ends = np.frombuffer(r.frames[6], dtype=np.uint8).copy()
    bad = np.flatnonzero((ends != End.TERMINATED) & (ends != End.TRUNCATED))
    if bad.size:
        raise ProtocolError("invalidValue", "branchEnds", int(ends[bad[0]]))
    marked = int(np.count_nonzero(ends == End.TRUNCATED))
    if marked != cut_count:
        raise ProtocolError("cutCountMismatch", cut_count, marked)
    cut_obs = r.u8(7, (cut_count, obs_size)) if pixels else r.f64(7, (cut_count, obs_size), "cutObservations")
    trunks = _decode_trajectories(r, 8, trunk_steps, obs_size, act_width, trunk_boot, episodes, _TRUNK_FIELDS,
                                  pixels)
    return VineChunk(worker_nonce=nonce, session=session, version=version, sequence=sequence, worker_id=worker_id,
                     actions_per_state=k, estimator=estimator, states=state_array, actions=actions,
                     branch_returns=branch_returns, log_probabilities=log_p, branch_lengths=lengths,
                     branch_ends=ends, cut_observations=cut_obs, trunks=trunks)


def _decode_model(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Model:
    session, declared, length = f
    if declared == 0:
        raise ProtocolError("invalidValue", "modelHash", 0)
    r.limit("modelLength", length, 1, r.limits.max_model_bytes)
    r.frame_count(2)
    r.lengths([("model", length)])
    text = r.text(1, "model")
    computed = model_hash(bytes(r.frames[1]))
    if computed != declared:
        raise ProtocolError("modelHashMismatch", declared, computed)
    return Model(session=session, xml=text)


def _decode_request_model(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> RequestModel:
    nonce, hash_, worker_id = f
    if hash_ == 0:
        raise ProtocolError("invalidValue", "modelHash", 0)
    r.frame_count(1)
    return RequestModel(worker_nonce=nonce, model_hash=hash_, worker_id=worker_id)


def _decode_leave(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Leave:
    nonce, worker_id, length, reason = f
    r.limit("messageLength", length, 0, r.limits.max_string_bytes)
    if reason not in LeaveReason._value2member_map_:
        raise ProtocolError("invalidValue", "reason", reason)
    r.frame_count(2)
    r.lengths([("message", length)])
    return Leave(worker_nonce=nonce, worker_id=worker_id, reason=LeaveReason(reason), message=r.text(1, "message"))


def _decode_welcome(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview) -> Welcome:
    session, nonce, worker_id, interval, timeout, software_len, env_len, arguments_len = f
    if interval < 1:
        raise ProtocolError("invalidValue", "heartbeatInterval", interval)
    if timeout < 1:
        raise ProtocolError("invalidValue", "workerTimeout", timeout)
    r.limit("softwareVersionLength", software_len, 0, r.limits.max_string_bytes)
    r.limit("environmentIDLength", env_len, 1, r.limits.max_string_bytes)
    r.limit("environmentArgumentsLength", arguments_len, 0, r.limits.max_string_bytes)
    r.frame_count(4)
    r.lengths([("softwareVersion", software_len), ("environmentID", env_len),
               ("environmentArguments", arguments_len)])
    return Welcome(session=session, worker_nonce=nonce, worker_id=worker_id, heartbeat_interval_ms=interval,
                   worker_timeout_ms=timeout, id_assigned=bool(flags & 1), spec_required=bool(flags & 2),
                   software_version=r.text(1, "softwareVersion"), environment_id=r.text(2, "environmentID"),
                   environment_arguments=r.text(3, "environmentArguments"))


def _decode_environment_spec(r: _Reader, flags: int, f: tuple[Any, ...], head: memoryview
                             ) -> EnvironmentSpecMessage:
    nonce, worker_id, rank, action_size, time_limit, dtype, action_kind = f
    lim = r.limits
    r.limit("observationRank", rank, 1, MAX_OBSERVATION_RANK)
    if action_kind not in ActionKind._value2member_map_:
        raise ProtocolError("invalidValue", "actionKind", action_kind)
    box = action_kind == ActionKind.BOX
    r.limit("actionSize", action_size, 1 if box else 2, lim.max_width)
    if dtype not in ObservationDType._value2member_map_:
        raise ProtocolError("invalidValue", "observationDType", dtype)
    r.frame_count(4)
    bounds = 8 * action_size if box else 0
    r.lengths([("observationShape", 4 * rank), ("low", bounds), ("high", bounds)])
    shape = tuple(int(d) for d in r.u32(1))
    for d in shape:
        if d < 1:
            raise ProtocolError("invalidValue", "observationShape", d)
    r.limit("observationSize", math.prod(shape), 1, lim.max_width)
    low = r.f64(2, (action_size if box else 0,), "low", finite=False)
    high = r.f64(3, (action_size if box else 0,), "high", finite=False)
    for name, bounds_array in (("low", low), ("high", high)):
        nan = np.flatnonzero(np.isnan(bounds_array))
        if nan.size:
            raise ProtocolError("invalidNumber", f"{name}[{int(nan[0])}]", float(bounds_array[nan[0]]))
    inverted = np.flatnonzero(low > high)
    if inverted.size:
        raise ProtocolError("invalidNumber", f"high[{int(inverted[0])}]", float(high[inverted[0]]))
    spec = EnvironmentSpec(observation_shape=shape, observation_dtype=ObservationDType(dtype),
                           action_kind=ActionKind(action_kind), action_size=action_size,
                           action_low=tuple(low.tolist()), action_high=tuple(high.tolist()), time_limit=time_limit,
                           can_snapshot=bool(flags & 1))
    return EnvironmentSpecMessage(worker_nonce=nonce, worker_id=worker_id, spec=spec)


_DECODERS: dict[Kind, Callable[[_Reader, int, tuple[Any, ...], memoryview], Message]] = {
    Kind.HELLO: _decode_hello,
    Kind.PARAMETERS: _decode_parameters,
    Kind.CHUNK: _decode_chunk,
    Kind.HEARTBEAT: _decode_heartbeat,
    Kind.STOP: _decode_stop,
    Kind.REQUEST_PARAMETERS: _decode_request_parameters,
    Kind.REJECT: _decode_reject,
    Kind.VINE_CHUNK: _decode_vine_chunk,
    Kind.MODEL: _decode_model,
    Kind.REQUEST_MODEL: _decode_request_model,
    Kind.LEAVE: _decode_leave,
    Kind.WELCOME: _decode_welcome,
    Kind.ENVIRONMENT_SPEC: _decode_environment_spec,
}
