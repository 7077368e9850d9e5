"""The worker's conversation against a scripted learner (a ROUTER socket in the test): the worker
runs as a real process (``python -m trpo_worker.cli``)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Iterator, Optional

import numpy as np
import pytest
import zmq

from trpo_worker import codec
from trpo_worker.codec import HeadKind

SESSION = 0xABCDEF


class FakeLearner:
    def __init__(self) -> None:
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"

    def recv(self, timeout: float = 10.0) -> tuple[bytes, codec.Message]:
        if not self.socket.poll(int(timeout * 1000)):
            raise TimeoutError("the worker sent nothing")
        frames = self.socket.recv_multipart()
        return frames[0], codec.decode(frames[1:])

    def recv_kind(self, kind: type, timeout: float = 10.0, skip: tuple[type, ...] = (codec.Heartbeat,)
                  ) -> tuple[bytes, codec.Message]:
        deadline = time.monotonic() + timeout
        while True:
            rid, m = self.recv(max(0.01, deadline - time.monotonic()))
            if isinstance(m, kind):
                return rid, m
            assert isinstance(m, skip), f"expected {kind.__name__}, got {m}"

    def send(self, rid: bytes, message: codec.Message) -> None:
        self.socket.send_multipart([rid] + codec.encode(message))

    def close(self) -> None:
        self.socket.close(0)


def cartpole_parameters(version: int = 1, quota: int = 0, chunk_steps: int = 100, simulators: int = 4,
                        vine: bool = False, environment: str = "CartPole-v1", session: int = SESSION,
                        ) -> codec.Parameters:
    sizes = [4, 8, 2]
    rng = np.random.default_rng(version)
    count = 4 * 8 + 8 + 8 * 2 + 2
    return codec.Parameters(
        session=session, version=version, seed=1, environment_id=environment, simulator_count=simulators,
        chunk_steps=chunk_steps, quota=quota, layer_sizes=sizes, parameters=rng.normal(size=count) * 0.1,
        head=HeadKind.CATEGORICAL, head_size=2, log_std=np.zeros(0),
        normalizer=codec.Normalizer(np.zeros(4), np.ones(4), 1.0, 10.0),
        vine=codec.VineSettings(0.99, 10, 10, 2, 10, True) if vine else None, stream=3, collection=version)


@pytest.fixture
def learner() -> Iterator[FakeLearner]:
    fake = FakeLearner()
    yield fake
    fake.close()


def start_worker(endpoint: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 10.0) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"the worker did not exit:\n{out}")
    return process.returncode, out


def register(learner: FakeLearner, assigned: int = 7, interval_ms: int = 200) -> tuple[bytes, codec.Hello]:
    rid, hello = learner.recv_kind(codec.Hello)
    assert isinstance(hello, codec.Hello)
    learner.send(rid, codec.Welcome(session=SESSION, worker_nonce=hello.nonce, worker_id=assigned,
                                    heartbeat_interval_ms=interval_ms, worker_timeout_ms=10_000,
                                    id_assigned=hello.worker_id is None, software_version="fake learner"))
    return rid, hello


def test_quota_chunks_heartbeats_request_and_stop(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner)
        assert hello.worker_id is None and hello.simulator_count == 0 and hello.environment_id == ""
        learner.send(rid, cartpole_parameters(version=1, quota=250))
        rows = []
        sequences = []
        while sum(rows) < 250:
            _, chunk = learner.recv_kind(codec.Chunk)
            assert isinstance(chunk, codec.Chunk)
            assert (chunk.worker_id, chunk.worker_nonce, chunk.session, chunk.version) == (7, hello.nonce, SESSION, 1)
            assert chunk.observations.shape[1] == 4 and chunk.actions.shape[1] == 1
            rows.append(chunk.rows)
            sequences.append(chunk.sequence)
        assert rows == [100, 100, 50] and sequences == [0, 1, 2]
        # Quota met: nothing but heartbeats, carrying the worker's id and version.
        deadline = time.monotonic() + 0.8
        beats = 0
        while time.monotonic() < deadline:
            try:
                _, m = learner.recv(0.3)
            except TimeoutError:
                continue
            assert isinstance(m, codec.Heartbeat), m
            assert (m.worker_id, m.version, m.from_learner) == (7, 1, False)
            beats += 1
        assert beats >= 2
        # The same parameters again (e.g. after a requestParameters) do not restart the quota …
        learner.send(rid, cartpole_parameters(version=1, quota=250))
        with pytest.raises(TimeoutError):
            learner.recv_kind(codec.Chunk, timeout=0.6)
        # … a larger quota for the same version tops it up.
        learner.send(rid, cartpole_parameters(version=1, quota=300))
        _, chunk = learner.recv_kind(codec.Chunk)
        assert isinstance(chunk, codec.Chunk) and chunk.rows == 50 and chunk.sequence == 3
        # A learner heartbeat naming a newer version: the worker asks for the parameters.
        learner.send(rid, codec.Heartbeat(nonce=SESSION, sequence=0, timestamp=0, from_learner=True, version=2))
        _, request = learner.recv_kind(codec.RequestParameters)
        assert request == codec.RequestParameters(worker_nonce=hello.nonce, worker_id=7)
        # Streaming version 2: chunks keep coming with version 2.
        learner.send(rid, cartpole_parameters(version=2, quota=0))
        for _ in range(3):
            _, chunk = learner.recv_kind(codec.Chunk)
            assert isinstance(chunk, codec.Chunk) and chunk.version == 2 and chunk.rows == 100
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0, out
    finally:
        if worker.poll() is None:
            worker.kill()


@pytest.mark.parametrize("reason, status", [(codec.StopReason.INTERRUPTED, 0),
                                            (codec.StopReason.DUPLICATE_WORKER, 1),
                                            (codec.StopReason.ENVIRONMENT, 1)])
def test_stop_exit_status(learner: FakeLearner, reason: codec.StopReason, status: int) -> None:
    worker = start_worker(learner.endpoint, "--worker-id", "5", "--env", "CartPole-v1", "--envs", "2")
    rid, hello = learner.recv_kind(codec.Hello)
    assert isinstance(hello, codec.Hello)
    assert (hello.worker_id, hello.environment_id, hello.simulator_count) == (5, "CartPole-v1", 2)
    learner.send(rid, codec.Stop(session=SESSION, reason=reason, message="because"))
    code, out = finish(worker)
    assert code == status, out


def test_vine_parameters_get_vine_chunks(learner: FakeLearner) -> None:
    """More in test_vine.py (quotas, top-ups, an environment that cannot snapshot)."""
    worker = start_worker(learner.endpoint)
    rid, hello = register(learner, assigned=2)
    learner.send(rid, cartpole_parameters(vine=True, quota=25))
    _, chunk = learner.recv_kind(codec.VineChunk)
    assert isinstance(chunk, codec.VineChunk) and chunk.worker_id == 2 and chunk.states.shape == (25, 4)
    assert (chunk.actions_per_state, chunk.estimator) == (2, 0)  # CartPole's two actions, enumerated
    learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
    code, out = finish(worker)
    assert code == 0, out


def test_unknown_environment_leaves(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = register(learner)
    learner.send(rid, cartpole_parameters(environment="NoSuchEnv-v0"))
    _, leave = learner.recv_kind(codec.Leave)
    assert isinstance(leave, codec.Leave) and "NoSuchEnv-v0" in leave.message
    assert finish(worker)[0] == 2


def test_other_protocol_version_exits(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = learner.recv_kind(codec.Hello)
    frames = codec.encode(codec.Stop(session=SESSION, reason=codec.StopReason.PROTOCOL_VERSION))
    frames[0] = frames[0][:4] + (5).to_bytes(2, "little") + frames[0][6:]
    learner.socket.send_multipart([rid] + frames)
    code, out = finish(worker)
    assert code == 3 and "version 5" in out, out


def test_reject_not_registered_says_hello_again_and_stale_asks_for_parameters(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner)
        learner.send(rid, codec.Reject(session=SESSION, current_version=0, reason=codec.RejectReason.NOT_REGISTERED))
        _, again = learner.recv_kind(codec.Hello, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(again, codec.Hello) and again.nonce == hello.nonce
        learner.send(rid, codec.Welcome(session=SESSION, worker_nonce=hello.nonce, worker_id=7,
                                        heartbeat_interval_ms=200, worker_timeout_ms=1000, id_assigned=True))
        learner.send(rid, cartpole_parameters(version=1, quota=100))
        _, chunk = learner.recv_kind(codec.Chunk, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(chunk, codec.Chunk)
        learner.send(rid, codec.Reject(session=SESSION, current_version=2, reason=codec.RejectReason.STALE_PARAMETERS,
                                       sequence=chunk.sequence))
        learner.recv_kind(codec.RequestParameters)
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        assert finish(worker)[0] == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_reconnects_with_the_same_nonce_after_learner_silence(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint, "--learner-timeout", "1")
    try:
        rid, hello = register(learner, interval_ms=100)
        started = time.monotonic()
        _, again = learner.recv_kind(codec.Hello, timeout=5, skip=(codec.Heartbeat, codec.RequestParameters))
        waited = time.monotonic() - started
        assert isinstance(again, codec.Hello) and again.nonce == hello.nonce
        assert 0.8 < waited < 3.0
        worker.terminate()  # SIGTERM: a clean exit
        assert finish(worker)[0] == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_undecodable_messages_are_ignored(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner)
        learner.socket.send_multipart([rid, b"garbage"])
        learner.socket.send_multipart([rid] + codec.encode(cartpole_parameters())[:-1])  # a frame short
        learner.send(rid, cartpole_parameters(quota=100))
        _, chunk = learner.recv_kind(codec.Chunk, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(chunk, codec.Chunk)
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0 and "undecodable" in out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_gaussian_chunk_actions_unclipped(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint, "--envs", "2")
    try:
        rid, _ = register(learner)
        p = codec.Parameters(session=SESSION, version=1, seed=1, environment_id="Pendulum-v1", simulator_count=8,
                             chunk_steps=400, quota=400, layer_sizes=[3, 1], parameters=np.zeros(4),
                             head=HeadKind.GAUSSIAN, head_size=1, log_std=np.array([1.5]))
        learner.send(rid, p)
        _, chunk = learner.recv_kind(codec.Chunk)
        assert isinstance(chunk, codec.Chunk) and chunk.rows == 400 and chunk.actions.shape == (400, 1)
        assert np.abs(chunk.actions).max() > 2.0  # sent unclipped; the environment got them clipped
        assert chunk.ends.tolist().count(2) == 2 and chunk.episode_lengths.tolist() == [200, 200]
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        assert finish(worker)[0] == 0
    finally:
        if worker.poll() is None:
            worker.kill()
