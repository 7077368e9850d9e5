"""The worker's side of the conversation (docs/protocol.md §4.3) over one ZeroMQ DEALER socket.

One thread, one loop: poll the socket, handle what arrived, send heartbeats and requests when
due, and between those collect chunks. While a chunk is being collected the loop services the
socket every few lockstep steps, so heartbeats, stops and new parameters are never held up by
a long chunk; new parameters abandon the chunk in progress (it would be stale).
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Optional, TextIO

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import SOFTWARE_VERSION, codec
from .codec import (Chunk, EnvironmentSpecMessage, Heartbeat, Hello, Leave, LeaveReason, Model, Parameters,
                    ProtocolError, Reject, RejectReason, RequestParameters, Stop, StopReason, VineChunk, Welcome)
from .environments import SimulatorError, environment_spec, make_environment
from .policy import PolicyShapeError, policy_from_parameters
from .sampler import ChunkData, SinglePathSampler
from .vine import VineData, VineSampler

EXIT_OK = 0
EXIT_STOPPED = 1  # the learner stopped this worker for a reason other than finished/interrupted
EXIT_INCOMPATIBLE = 2  # this worker cannot collect for the run (it sent leave)
EXIT_PROTOCOL_VERSION = 3  # the learner speaks another protocol version


@dataclass
class WorkerOptions:
    connect: str
    worker_id: Optional[int] = None  # None: the learner assigns one
    simulator_count: int = 0  # 0: the learner's suggestion
    environment_id: str = ""  # "": whatever the learner runs
    learner_timeout: float = 10.0
    quiet: bool = False
    curve_secret: Optional[str] = None
    learner_public: Optional[str] = None
    max_message_bytes: int = codec.DEFAULT_LIMITS.max_total_bytes
    send_high_water_mark: int = 2
    parent_pid: Optional[int] = None  # exit when this process is no longer the parent (trpo train's workers)


class KeyFileError(Exception):
    pass


Z85_ALPHABET = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def read_key_file(path: str, secret: bool) -> bytes:
    """A CURVE key file as docs/security.md describes it: one line of 40 Z85 characters, blank
    and ``#`` comment lines ignored; a secret key file must not be accessible to group or others
    (a root-owned one may be group-readable, 0640 or less)."""
    try:
        info = os.stat(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise KeyFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a CURVE key file: not UTF-8") from None
    if secret:
        mode = stat.S_IMODE(info.st_mode)
        root_exception = info.st_uid == 0 and os.getuid() != 0 and mode & 0o037 == 0
        if mode & 0o077 and not root_exception:
            raise KeyFileError(f"the secret key file {path} is accessible to other users (mode {mode:o}); "
                               f"run: chmod 600 {path}")
    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    if len(keys) != 1:
        raise KeyFileError(f"{path} is not a CURVE key file: {len(keys)} key lines (expected one line of 40 Z85 "
                           f"characters)")
    key = keys[0]
    if len(key) != 40:
        raise KeyFileError(f"{path} is not a CURVE key file: a line of {len(key)} characters (expected one line of "
                           f"40 Z85 characters)")
    if not set(key) <= Z85_ALPHABET:
        raise KeyFileError(f"{path} is not a CURVE key file: characters outside the Z85 alphabet")
    return key.encode("ascii")


class Worker:
    """A rollout worker: ``Worker(options).run()`` returns the process exit status."""

    def __init__(self, options: WorkerOptions, log: TextIO = sys.stderr) -> None:
        self.options = options
        self.log_file = log
        self.nonce = secrets.randbits(64)
        self.worker_id: int = options.worker_id if options.worker_id is not None else 0
        self.welcomed = False
        self.heartbeat_interval = 1.0
        self.limits = codec.DecodingLimits(max_total_bytes=options.max_message_bytes)
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.socket: Optional[zmq.Socket[bytes]] = None
        self.monitor: Optional[zmq.Socket[bytes]] = None
        self.refusal: Optional[str] = None  # why the learner refused the handshake, if it did
        self.reported_refusals: set[str] = set()
        self.heard_from_learner = False
        self.curve: Optional[tuple[bytes, bytes, bytes]] = None
        if options.curve_secret or options.learner_public:
            if not (options.curve_secret and options.learner_public):
                raise KeyFileError("--curve-secret and --learner-public go together")
            secret_key = read_key_file(options.curve_secret, secret=True)
            server_key = read_key_file(options.learner_public, secret=False)
            self.curve = (secret_key, zmq.curve_public(secret_key), server_key)
        self.environment: Optional[tuple[str, str]] = None  # the welcome's environment name and arguments
        self.spec_unsent: Optional[EnvironmentSpecMessage] = None  # a spec waiting for room in the send queue
        self.parameters: Optional[Parameters] = None
        self.generation = 0  # bumped whenever the held parameters change
        self.sampler: Optional[SinglePathSampler | VineSampler] = None
        self.sampler_key: Optional[tuple[object, ...]] = None
        self.sequence = 0
        self.heartbeat_sequence = 0
        self.sent_rows: dict[tuple[int, int], int] = {}  # rows sent per (session, version)
        self.chunk_versions: dict[int, tuple[int, int]] = {}  # sequence → (session, version), recent chunks
        self.chunk_rows: dict[int, int] = {}  # sequence → rows (vine: states), recent chunks
        self.pending: Optional[list[bytes]] = None  # a chunk waiting for room in the send queue
        self.pending_key: Optional[tuple[int, int]] = None
        self.pending_rows = 0
        self.exit_code: Optional[int] = None
        now = time.monotonic()
        self.last_send = now
        self.last_receive = now
        self.last_hello = now
        self.last_request = 0.0
        self.hello_wanted = False
        self.rows_sent_total = 0
        self.chunks_sent = 0
        self.episodes: list[float] = []
        self.last_report = now

    # ---------------------------------------------------------------- logging

    def info(self, text: str) -> None:
        if not self.options.quiet:
            print(f"worker {self.worker_id}: {text}", file=self.log_file, flush=True)

    def warn(self, text: str) -> None:
        print(f"worker {self.worker_id}: {text}", file=self.log_file, flush=True)

    # ---------------------------------------------------------------- socket

    def _open(self) -> None:
        s = self.context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 500)
        s.setsockopt(zmq.SNDHWM, self.options.send_high_water_mark)
        s.setsockopt(zmq.RCVHWM, 1000)
        s.setsockopt(zmq.MAXMSGSIZE, self.options.max_message_bytes + 1024)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        # No ZMQ_HEARTBEAT_IVL: a ZMTP PING can make libzmq 4.3.4/4.3.5 abort the learner
        # (libzmq #4841, docs/protocol.md §1); the protocol's heartbeats find a dead link.
        if self.curve is not None:
            secret_key, public_key, server_key = self.curve
            s.curve_secretkey = secret_key
            s.curve_publickey = public_key
            s.curve_serverkey = server_key
        # Handshake failures are silent on the wire; a monitor turns them into a message.
        self.monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        s.connect(self.options.connect)
        self.socket = s

    def _close(self) -> None:
        if self.monitor is not None:
            if self.socket is not None:
                self.socket.disable_monitor()
            self.monitor.close(linger=0)
            self.monitor = None
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None

    def check_monitor(self) -> None:
        """Logs (once per reason) handshakes the learner refused."""
        if self.monitor is None:
            return
        while self.monitor.poll(0):
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.ZMQError:
                return
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                public = self.curve[1].decode() if self.curve else "?"
                reason = (f"the learner refused this worker's key (not on its allow-list): public key {public} "
                          f"(ZAP status {event['value']}); copy this worker's .pub file into the learner's "
                          f"--allow-workers directory")
            elif self.curve is None:
                reason = ("the learner requires CURVE and refused this plaintext worker: start it with "
                          "--curve-secret FILE --learner-public FILE")
            else:
                # As docs/security.md says of `trpo worker`: a wrong --learner-public is not a
                # refusal the learner can explain, so this worker keeps reconnecting.
                reason = ("the CURVE handshake with the learner failed: is --learner-public the learner's public "
                          "key, and does the learner use CURVE?")
            if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH or self.curve is None:
                self.refusal = reason
            if reason not in self.reported_refusals:
                self.reported_refusals.add(reason)
                self.warn(reason)

    def send(self, message: codec.Message, block: bool = False) -> bool:
        """Sends a control message; False when the send queue is full (the message is dropped)."""
        assert self.socket is not None
        try:
            self.socket.send_multipart(codec.encode(message), flags=0 if block else zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        self.last_send = time.monotonic()
        return True

    def say_hello(self) -> None:
        self.welcomed = False
        self.spec_unsent = None
        self.hello_wanted = False
        self.last_hello = time.monotonic()
        self.send(Hello(nonce=self.nonce, worker_id=self.options.worker_id,
                        simulator_count=self.options.simulator_count,
                        environment_id=self.options.environment_id, software_version=SOFTWARE_VERSION))

    def reconnect(self) -> None:
        self._close()
        self.pending = None
        self._open()
        self.last_receive = time.monotonic()
        self.say_hello()

    def request_parameters(self, force: bool = False) -> None:
        now = time.monotonic()
        # At most a few requests per heartbeat interval: a burst of rejects asks once.
        if not force and now - self.last_request < self.heartbeat_interval / 4:
            return
        self.last_request = now
        self.send(RequestParameters(worker_nonce=self.nonce, worker_id=self.worker_id))

    def leave(self, reason: str) -> None:
        self.warn(f"cannot collect for this run: {reason}; leaving")
        text = reason.encode("utf-8")[:codec.DEFAULT_LIMITS.max_string_bytes].decode("utf-8", errors="ignore")
        self.send(Leave(worker_nonce=self.nonce, worker_id=self.worker_id, reason=LeaveReason.INCOMPATIBLE,
                        message=text), block=False)
        assert self.socket is not None
        self.socket.close(linger=1000)  # let the leave out
        self.socket = None
        self.exit_code = EXIT_INCOMPATIBLE

    # ---------------------------------------------------------------- handling

    def handle(self, frames: list[bytes]) -> None:
        self.last_receive = time.monotonic()
        self.heard_from_learner = True
        self.refusal = None
        try:
            message = codec.decode(frames, self.limits)
        except ProtocolError as error:
            version = error.unsupported_version
            if version is not None:
                self.warn(f"the learner speaks protocol version {version}; this worker speaks "
                          f"{codec.PROTOCOL_VERSION}: exiting")
                self.exit_code = EXIT_PROTOCOL_VERSION
            else:
                self.warn(f"ignored an undecodable message from the learner: {error}")
            return
        if isinstance(message, Welcome):
            self.on_welcome(message)
        elif isinstance(message, Parameters):
            self.on_parameters(message)
        elif isinstance(message, Heartbeat):
            self.on_heartbeat(message)
        elif isinstance(message, Reject):
            self.on_reject(message)
        elif isinstance(message, Stop):
            self.on_stop(message)
        elif isinstance(message, Model):
            self.info(f"ignored a custom model (hash {message.model_hash:#x}): the Python worker runs Gymnasium's "
                      f"built-in environments")
        else:
            self.warn(f"ignored a {type(message).__name__} message (not one a learner sends)")

    def on_welcome(self, w: Welcome) -> None:
        if w.worker_nonce != self.nonce:
            return  # it answers an earlier process
        environment = (w.environment_id, w.environment_arguments)
        if w.worker_id != self.worker_id or not self.welcomed or environment != self.environment:
            self.worker_id = w.worker_id
            arguments = f" {w.environment_arguments}" if w.environment_arguments else ""
            self.info(f"registered with the learner (session {w.session:#x}, {w.software_version or 'unknown'}); "
                      f"worker id {w.worker_id}{' (assigned)' if w.id_assigned else ''}, heartbeat every "
                      f"{w.heartbeat_interval_ms} ms; the run's environment: {w.environment_id}{arguments}")
        self.worker_id = w.worker_id
        self.welcomed = True
        self.heartbeat_interval = w.heartbeat_interval_ms / 1000.0
        self.environment = environment
        if self.options.environment_id and w.environment_id != self.options.environment_id:
            self.leave(f"the learner runs {w.environment_id}; this worker only runs {self.options.environment_id}")
            return
        if w.spec_required:
            self.describe_environment(w.environment_id, w.environment_arguments)

    def describe_environment(self, name: str, arguments: str) -> None:
        """Makes one probe copy of the welcome's environment and sends its spec (§3.14); leaves
        when it cannot be made or described."""
        try:
            env = make_environment(name, arguments)
            try:
                spec = environment_spec(env)
            finally:
                env.close()
        except SimulatorError as error:
            self.leave(str(error))
            return
        self.info(f"{name}: {spec.describe()}")
        self.spec_unsent = EnvironmentSpecMessage(worker_nonce=self.nonce, worker_id=self.worker_id, spec=spec)
        self.flush_spec()

    def flush_spec(self) -> None:
        """Sends the spec if it waits and the send queue has room (chunks of an earlier
        registration may still fill it)."""
        if self.spec_unsent is not None and self.send(self.spec_unsent):
            self.spec_unsent = None

    def on_parameters(self, p: Parameters) -> None:
        if not self.welcomed or self.environment is None:
            return  # they answer an earlier connection (§4.3)
        held = self.parameters
        if held is not None and (held.session, held.version) == (p.session, p.version):
            # The same version again (a reply to requestParameters, or a top-up): keep what was
            # sent for it, adopt the (possibly larger) quota.
            self.parameters = p
            return
        if p.model_hash != 0:
            self.leave(f"the run uses a custom MuJoCo model (hash {p.model_hash:#x}), which this Python worker does "
                       f"not support")
            return
        if self.options.environment_id and p.environment_id != self.options.environment_id:
            self.leave(f"the learner runs {p.environment_id}; this worker only runs {self.options.environment_id}")
            return
        name, arguments = self.environment
        if p.environment_id != name:
            self.leave(f"the parameters name the environment {p.environment_id}, the welcome named {name}")
            return
        copies = self.options.simulator_count or p.simulator_count
        key = (p.environment_id, arguments, p.seed, copies, p.stream, p.model_hash, p.vine)
        try:
            policy = policy_from_parameters(p)  # an MLP, or a convolutional network on frames
            if key != self.sampler_key or self.sampler is None:
                if self.sampler is not None:
                    self.sampler.close()
                self.sampler = None
                self.sampler_key = None
                if p.vine is not None:
                    self.sampler = VineSampler(p.environment_id, copies, p.seed, p.stream, p.vine, arguments)
                else:
                    self.sampler = SinglePathSampler(p.environment_id, copies, p.seed, p.stream, arguments)
                self.sampler_key = key
                self.info(f"collecting {p.environment_id} with {copies} copies (seed {p.seed}, stream {p.stream}"
                          f"{', the vine' if p.vine is not None else ''}"
                          f"{', a convolutional policy on uint8 frames' if p.convolutions is not None else ''})")
            if isinstance(self.sampler, VineSampler):
                self.sampler.load(policy, p.collection)
            else:
                self.sampler.load(policy)
        except (SimulatorError, PolicyShapeError) as error:
            self.leave(str(error))
            return
        self.parameters = p
        self.generation += 1
        self.pending = None  # a chunk of an older version waiting to be sent is stale

    def on_heartbeat(self, h: Heartbeat) -> None:
        if not h.from_learner:
            return
        held = self.parameters
        if held is None:
            if self.welcomed:
                self.request_parameters()
            return
        if h.nonce != held.session or (h.version is not None and h.version > held.version):
            self.request_parameters()

    def on_reject(self, r: Reject) -> None:
        if r.reason == RejectReason.NOT_REGISTERED:
            # A chunk the learner refused unregistered was not taken: its rows do not count
            # towards the quota (§4.4), or a worker back from being declared gone would wait for
            # a version whose batch lacks them.
            if r.sequence is not None and r.sequence in self.chunk_versions:
                key = self.chunk_versions.pop(r.sequence)
                rows = self.chunk_rows.pop(r.sequence, 0)
                self.sent_rows[key] = max(0, self.sent_rows.get(key, 0) - rows)
            # Hello again, at most once per quarter interval: a burst of rejects (one per chunk
            # or heartbeat in flight) says hello once; ``periodic`` sends it when due.
            if not self.hello_wanted:
                self.info("the learner does not know this worker (it restarted?); saying hello again")
            self.hello_wanted = True
            return
        held = self.parameters
        rejected = self.chunk_versions.get(r.sequence) if r.sequence is not None else None
        if held is None or rejected is None or rejected == (held.session, held.version):
            self.request_parameters()

    def on_stop(self, s: Stop) -> None:
        text = f": {s.message}" if s.message else ""
        if s.reason in (StopReason.FINISHED, StopReason.INTERRUPTED):
            self.info(f"the learner says stop ({s.reason.name.lower()}{text})")
            self.exit_code = EXIT_OK
        else:
            self.warn(f"the learner stopped this worker ({s.reason.name.lower()}{text})")
            self.exit_code = EXIT_STOPPED

    # ---------------------------------------------------------------- the loop

    def service(self, timeout: float) -> None:
        """Receives and handles everything that arrives within ``timeout`` seconds, then does
        what is due: the pending chunk, heartbeats, parameter requests, reconnecting."""
        assert self.socket is not None
        deadline = time.monotonic() + timeout
        while self.exit_code is None and self.socket is not None:
            wait = max(0.0, deadline - time.monotonic())
            events = self.socket.poll(int(wait * 1000), zmq.POLLIN)
            if not events:
                break
            while self.exit_code is None and self.socket is not None:
                try:
                    frames = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self.handle(frames)
            if time.monotonic() >= deadline:
                break
        if self.exit_code is None and self.socket is not None:
            self.periodic()

    def periodic(self) -> None:
        if self.options.parent_pid is not None and os.getppid() != self.options.parent_pid:
            self.info(f"the parent process {self.options.parent_pid} exited: stopping")
            self.exit_code = EXIT_OK
            return
        now = time.monotonic()
        self.flush_spec()
        self.flush_pending()
        self.check_monitor()
        if now - self.last_receive >= self.options.learner_timeout:
            if self.refusal is not None and not self.heard_from_learner:
                self.warn(f"no word from the learner for {now - self.last_receive:.1f} s: {self.refusal}")
                self.exit_code = EXIT_INCOMPATIBLE
                return
            extra = (" (if this persists, check that --learner-public is the learner's public key)"
                     if self.curve is not None else "")
            self.warn(f"no word from the learner for {now - self.last_receive:.1f} s; reconnecting{extra}")
            self.reconnect()
            return
        if self.hello_wanted and now - self.last_hello >= self.heartbeat_interval / 4:
            self.say_hello()
        if not self.welcomed:
            return  # until a welcome arrives, the worker sends nothing but its hello (§4.3)
        if self.parameters is None and self.spec_unsent is None and now - self.last_hello >= self.heartbeat_interval \
                and now - self.last_request >= self.heartbeat_interval:
            self.request_parameters(force=True)
        if now - self.last_send >= self.heartbeat_interval:
            held = self.parameters
            self.heartbeat_sequence += 1
            self.send(Heartbeat(nonce=self.nonce, sequence=self.heartbeat_sequence - 1, timestamp=time.time_ns(),
                                from_learner=False, version=None if held is None else held.version,
                                worker_id=self.worker_id))
        if not self.options.quiet and now - self.last_report >= 10.0 and self.chunks_sent:
            mean = sum(self.episodes) / len(self.episodes) if self.episodes else float("nan")
            self.info(f"{self.rows_sent_total} rows in {self.chunks_sent} chunks sent; "
                      f"{len(self.episodes)} episodes in the last 10 s, mean return {mean:.1f}")
            self.episodes.clear()
            self.last_report = now

    def flush_pending(self) -> None:
        if self.pending is None or self.socket is None or not self.welcomed:
            return
        try:
            self.socket.send_multipart(self.pending, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return
        assert self.pending_key is not None
        self.sent_rows[self.pending_key] = self.sent_rows.get(self.pending_key, 0) + self.pending_rows
        self.rows_sent_total += self.pending_rows
        self.chunks_sent += 1
        self.pending = None
        self.last_send = time.monotonic()

    def rows_to_collect(self) -> int:
        """Rows of the next chunk: chunkSteps, or what is left of a non-zero quota (0: nothing to do)."""
        p = self.parameters
        if p is None or self.sampler is None or self.pending is not None or not self.welcomed:
            return 0
        if p.quota == 0:
            return p.chunk_steps
        left = p.quota - self.sent_rows.get((p.session, p.version), 0)
        return max(0, min(p.chunk_steps, left))

    def collect_and_send(self, rows: int) -> None:
        p = self.parameters
        sampler = self.sampler
        assert p is not None and sampler is not None
        generation = self.generation

        def interrupted() -> bool:
            self.service(0.0)
            return self.exit_code is not None or self.generation != generation or self.socket is None

        data: Optional[ChunkData | VineData]
        try:
            if isinstance(sampler, VineSampler):  # rows are rollout-set states, at most every trunk state
                data = sampler.collect(min(rows, sampler.maximum_states), interrupt=interrupted)
            else:
                data = sampler.collect(rows, interrupt=interrupted)
        except SimulatorError as error:
            self.leave(str(error))
            return
        if data is None or self.exit_code is not None or self.generation != generation or self.socket is None:
            return  # abandoned: new parameters arrived (the rows would be stale), or the worker stops
        self.episodes.extend(data.episode_returns.tolist())
        chunk = self.make_vine_chunk(p, data) if isinstance(data, VineData) else self.make_chunk(p, data)
        self.pending = codec.encode(chunk)
        self.pending_key = (p.session, p.version)
        self.pending_rows = data.state_count if isinstance(data, VineData) else data.rows
        self.chunk_versions[chunk.sequence] = (p.session, p.version)
        self.chunk_rows[chunk.sequence] = self.pending_rows
        self.chunk_versions.pop(chunk.sequence - 64, None)
        self.chunk_rows.pop(chunk.sequence - 64, None)
        self.flush_pending()

    def make_chunk(self, p: Parameters, data: ChunkData) -> Chunk:
        sequence = self.sequence
        self.sequence += 1
        return Chunk(worker_nonce=self.nonce, session=p.session, version=p.version, sequence=sequence,
                     simulator_steps=data.rows, worker_id=self.worker_id, observations=data.observations,
                     actions=data.actions, rewards=data.rewards, ends=data.ends, bootstrap_rows=data.bootstrap_rows,
                     bootstrap_observations=data.bootstrap_observations, episode_returns=data.episode_returns,
                     episode_lengths=data.episode_lengths)

    def make_vine_chunk(self, p: Parameters, data: VineData) -> VineChunk:
        sequence = self.sequence
        self.sequence += 1
        return VineChunk(worker_nonce=self.nonce, session=p.session, version=p.version, sequence=sequence,
                         worker_id=self.worker_id, actions_per_state=data.actions_per_state, estimator=data.estimator,
                         states=data.states, actions=data.actions, branch_returns=data.branch_returns,
                         log_probabilities=data.log_probabilities, branch_lengths=data.branch_lengths,
                         branch_ends=data.branch_ends, cut_observations=data.cut_observations, trunks=data.trunks)

    def run(self) -> int:
        """Runs until the learner says stop (or SIGINT/SIGTERM); returns the exit status."""
        def on_signal(number: int, frame: Optional[FrameType]) -> None:
            self.info(f"{signal.Signals(number).name}: stopping")
            self.exit_code = EXIT_OK

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._open()
            self.info(f"connecting to {self.options.connect} "
                      f"({'CURVE' if self.curve else 'no CURVE'}, nonce {self.nonce:#018x})")
            self.say_hello()
            while self.exit_code is None:
                rows = self.rows_to_collect()
                if rows > 0:
                    self.service(0.0)
                    if self.exit_code is None and self.rows_to_collect() > 0:
                        self.collect_and_send(self.rows_to_collect())
                else:
                    self.service(0.05 if self.pending is not None else 0.2)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._close()
            if self.sampler is not None:
                self.sampler.close()
        self.info(f"exiting with status {self.exit_code} ({self.rows_to_collect_summary()})")
        return self.exit_code if self.exit_code is not None else EXIT_OK

    def rows_to_collect_summary(self) -> str:
        return f"{self.rows_sent_total} rows in {self.chunks_sent} chunks sent"
