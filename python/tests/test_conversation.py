"""The worker's conversation against a scripted learner (a ROUTER socket in the test): the worker
runs as a real process (``python -m trpo_worker.cli``)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import zmq

from trpo_worker import codec
from trpo_worker.codec import HeadKind

SESSION = 0xABCDEF
TESTS = Path(__file__).resolve().parent


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
    """The worker, in this directory (so ``py:external_envs:…`` names are found)."""
    return subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=TESTS)


def finish(process: subprocess.Popen[str], timeout: float = 10.0) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"the worker did not exit:\n{out}")
    return process.returncode, out


def register(learner: FakeLearner, assigned: int = 7, interval_ms: int = 200, environment: str = "CartPole-v1",
             arguments: str = "", spec_required: bool = False) -> tuple[bytes, codec.Hello]:
    rid, hello = learner.recv_kind(codec.Hello)
    assert isinstance(hello, codec.Hello)
    learner.send(rid, codec.Welcome(session=SESSION, worker_nonce=hello.nonce, worker_id=assigned,
                                    heartbeat_interval_ms=interval_ms, worker_timeout_ms=10_000,
                                    id_assigned=hello.worker_id is None, environment_id=environment,
                                    software_version="fake learner", environment_arguments=arguments,
                                    spec_required=spec_required))
    return rid, hello


def welcome_back(learner: FakeLearner, hello: codec.Hello, timeout_ms: int,
                 skip: tuple[type, ...] = (codec.Heartbeat,)) -> bytes:
    """The worker's hello again, with the nonce of its first (``hello``), welcomed back as
    worker 7 of a CartPole-v1 run; the connection's routing id."""
    rid, again = learner.recv_kind(codec.Hello, skip=skip)
    assert isinstance(again, codec.Hello) and again.nonce == hello.nonce
    learner.send(rid, codec.Welcome(session=SESSION, worker_nonce=hello.nonce, worker_id=7,
                                    heartbeat_interval_ms=200, worker_timeout_ms=timeout_ms, id_assigned=True,
                                    environment_id="CartPole-v1"))
    return rid


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


def test_worker_exits_when_its_parent_process_is_gone(learner: FakeLearner, tmp_path: Path) -> None:
    """`trpo train --workers N` starts its workers with ``--parent-pid`` (its own pid), Python
    workers too: the worker lives while that process is its parent and exits 0 when it is gone."""
    log = tmp_path / "worker.log"
    worker = shlex.join([sys.executable, "-m", "trpo_worker.cli", "--connect", learner.endpoint])
    # A shell starts the worker with its own pid as --parent-pid, then waits for a line on stdin.
    script = f"{worker} --parent-pid $$ >{shlex.quote(str(log))} 2>&1 & read line || true"
    parent = subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, cwd=TESTS)
    try:
        rid, _ = register(learner)
        learner.send(rid, cartpole_parameters(quota=10))
        learner.recv_kind(codec.Chunk)
        assert parent.stdin is not None
        parent.stdin.close()  # the shell reads end of file and exits
        assert parent.wait(timeout=10) == 0
        deadline = time.monotonic() + 10
        while "exiting with status 0" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert f"the parent process {parent.pid} exited: stopping" in log.read_text()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_vine_parameters_get_vine_chunks(learner: FakeLearner) -> None:
    """More in test_vine.py (quotas, top-ups, an environment that cannot snapshot)."""
    worker = start_worker(learner.endpoint)
    rid, hello = register(learner, assigned=2)
    learner.send(rid, cartpole_parameters(vine=True, quota=25))
    _, chunk = learner.recv_kind(codec.VineChunk)
    assert isinstance(chunk, codec.VineChunk) and chunk.worker_id == 2 and chunk.states.shape == (25, 4)
    assert (chunk.actions_per_state, chunk.estimator) == (2, 0)  # CartPole's two actions, enumerated
    # Protocol v6: each branch's length and end, the last observation of each cut one, the trunks.
    lengths, ends = chunk.branch_lengths, chunk.branch_ends
    assert lengths.shape == ends.shape == (50,) and (lengths >= 1).all() and (lengths <= 10).all()
    cut = ends == codec.End.TRUNCATED
    assert chunk.cut_observations.shape == (int(cut.sum()), 4)
    assert (lengths[cut] == 10).all()  # CartPole's time limit (500) is far: only T = 10 cuts
    assert chunk.trunk_steps >= 25 and chunk.trunk_steps % 10 == 0 and chunk.trunks.ends[-1] != 0
    assert chunk.trunks.observations.shape == (chunk.trunk_steps, 4)
    learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
    code, out = finish(worker)
    assert code == 0, out


def test_unknown_environment_leaves(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = register(learner, environment="NoSuchEnv-v0")
    learner.send(rid, cartpole_parameters(environment="NoSuchEnv-v0"))
    _, leave = learner.recv_kind(codec.Leave)
    assert isinstance(leave, codec.Leave) and "NoSuchEnv-v0" in leave.message
    assert finish(worker)[0] == 2


def test_other_protocol_version_exits(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = learner.recv_kind(codec.Hello)
    frames = codec.encode(codec.Stop(session=SESSION, reason=codec.StopReason.PROTOCOL_VERSION))
    frames[0] = frames[0][:4] + (codec.PROTOCOL_VERSION + 1).to_bytes(2, "little") + frames[0][6:]
    learner.socket.send_multipart([rid] + frames)
    code, out = finish(worker)
    assert code == 3 and f"version {codec.PROTOCOL_VERSION + 1}" in out, out


def test_reject_not_registered_says_hello_again_and_stale_asks_for_parameters(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner)
        learner.send(rid, codec.Reject(session=SESSION, current_version=0, reason=codec.RejectReason.NOT_REGISTERED))
        rid = welcome_back(learner, hello, timeout_ms=1000, skip=(codec.Heartbeat, codec.RequestParameters))
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


def test_a_chunk_refused_unregistered_does_not_count_towards_the_quota(learner: FakeLearner) -> None:
    """A learner that declared the worker gone refuses its chunk (reject(notRegistered) with the
    chunk's sequence): those rows were not taken, so after the hello, welcome and the same
    parameters again the worker collects them anew (docs/protocol.md §4.4)."""
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner)
        learner.send(rid, cartpole_parameters(version=1, quota=150))
        _, first = learner.recv_kind(codec.Chunk)
        _, second = learner.recv_kind(codec.Chunk)
        assert isinstance(first, codec.Chunk) and isinstance(second, codec.Chunk)
        assert (first.rows, second.rows) == (100, 50)
        with pytest.raises(TimeoutError):  # the quota is met
            learner.recv_kind(codec.Chunk, timeout=0.5)
        learner.send(rid, codec.Reject(session=SESSION, current_version=1, reason=codec.RejectReason.NOT_REGISTERED,
                                       sequence=second.sequence))
        rid = welcome_back(learner, hello, timeout_ms=10_000)
        learner.send(rid, cartpole_parameters(version=1, quota=150))
        _, redone = learner.recv_kind(codec.Chunk, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(redone, codec.Chunk) and redone.rows == 50 and redone.sequence == second.sequence + 1
        with pytest.raises(TimeoutError):  # and no more
            learner.recv_kind(codec.Chunk, timeout=0.5, skip=(codec.Heartbeat, codec.RequestParameters))
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
        rid, _ = register(learner, environment="Pendulum-v1")
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


# ------------------------------------------------------------------ external environments (§3.13, §3.14)


def grid_parameters(version: int = 1, quota: int = 12, environment: str = "py:external_envs:make_grid"
                    ) -> codec.Parameters:
    return codec.Parameters(session=SESSION, version=version, seed=1, environment_id=environment, simulator_count=2,
                            chunk_steps=12, quota=quota, layer_sizes=[6, 4], parameters=np.zeros(28),
                            head=HeadKind.GAUSSIAN, head_size=4, log_std=np.zeros(4), stream=7)


def test_spec_required_spec_then_parameters_from_the_welcomes_name_and_arguments(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner, assigned=3, environment="py:external_envs:make_grid",
                              arguments='{"offset": 42}', spec_required=True)
        # At once, and before anything else but heartbeats: the spec of the probe copy.
        _, message = learner.recv_kind(codec.EnvironmentSpecMessage)
        assert isinstance(message, codec.EnvironmentSpecMessage)
        assert (message.worker_nonce, message.worker_id) == (hello.nonce, 3)
        assert message.spec == codec.EnvironmentSpec(
            observation_shape=(2, 3), observation_dtype=codec.ObservationDType.INT64,
            action_kind=codec.ActionKind.BOX, action_size=4, action_low=(-1.0,) * 4, action_high=(1.0,) * 4,
            time_limit=3, can_snapshot=False)
        # The samplers are made from the same name and arguments.
        learner.send(rid, grid_parameters())
        _, chunk = learner.recv_kind(codec.Chunk, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(chunk, codec.Chunk) and chunk.rows == 12 and chunk.observations.shape == (12, 6)
        assert set(chunk.observations[:, 0].tolist()) == {42.0}
        # Said hello again (the learner forgot it): the next welcome asks for the spec again.
        learner.send(rid, codec.Reject(session=SESSION, current_version=1, reason=codec.RejectReason.NOT_REGISTERED))
        rid, _ = register(learner, assigned=3, environment="py:external_envs:make_grid",
                          arguments='{"offset": 42}', spec_required=True)
        _, again = learner.recv_kind(codec.EnvironmentSpecMessage, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(again, codec.EnvironmentSpecMessage) and again.spec == message.spec
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0, out
        assert "observations int64 [2×3]; box actions" in out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_spec_of_a_gym_environment_with_arguments(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        register(learner, environment="gym:Pendulum-v1", arguments='{"g": 9.81}', spec_required=True)
        _, message = learner.recv_kind(codec.EnvironmentSpecMessage)
        assert isinstance(message, codec.EnvironmentSpecMessage)
        frames = codec.encode(message)
        # Worked example 7.12 but for the nonce, snapshot flag included.
        assert frames[1:] == [b"\3\0\0\0", b"\0" * 7 + b"\xc0", b"\0" * 7 + b"\x40"]
        assert frames[0][:8] == bytes.fromhex("54 52 50 4f 07 00 0d 01")
        assert frames[0][20:] == bytes.fromhex("01000000 01000000 c8000000 01 01")
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.parametrize("environment, arguments, expected", [
    ("gym:NoSuchEnv-v0", "", "cannot make Gymnasium environment 'NoSuchEnv-v0': Environment `NoSuchEnv` doesn't "
                             "exist."),
    ("py:no_such_module_xyz:Make", "", "cannot import module 'no_such_module_xyz'"),
    ("py:external_envs:Nothing", "", "has no attribute 'Nothing'"),
    ("py:external_envs:make_grid", '{"legs": 2}', "external_envs.make_grid(**{\"legs\": 2}) raised TypeError"),
    ("py:external_envs:make_grid", "[1]", "must be a JSON object"),
])
def test_welcome_environment_that_cannot_be_made_leaves(learner: FakeLearner, environment: str, arguments: str,
                                                        expected: str) -> None:
    worker = start_worker(learner.endpoint)
    register(learner, assigned=4, environment=environment, arguments=arguments, spec_required=True)
    _, leave = learner.recv_kind(codec.Leave)
    assert isinstance(leave, codec.Leave) and leave.worker_id == 4 and leave.reason == codec.LeaveReason.INCOMPATIBLE
    assert expected in leave.message and "\n" not in leave.message
    code, out = finish(worker)
    assert code == 2 and expected in out, out


def test_env_option_accepts_only_its_environment(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint, "--env", "gym:Pendulum-v1")
    rid, hello = register(learner, environment="py:external_envs:make_grid", spec_required=True)
    assert hello.environment_id == "gym:Pendulum-v1"
    _, leave = learner.recv_kind(codec.Leave)
    assert isinstance(leave, codec.Leave)
    assert leave.message == "the learner runs py:external_envs:make_grid; this worker only runs gym:Pendulum-v1"
    assert finish(worker)[0] == 2


def test_parameters_naming_another_environment_than_the_welcome_leave(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = register(learner, environment="py:external_envs:make_grid", spec_required=True)
    learner.recv_kind(codec.EnvironmentSpecMessage)
    learner.send(rid, cartpole_parameters())
    _, leave = learner.recv_kind(codec.Leave, skip=(codec.Heartbeat, codec.RequestParameters))
    assert isinstance(leave, codec.Leave)
    assert leave.message == "the parameters name the environment CartPole-v1, the welcome named " \
                            "py:external_envs:make_grid"
    assert finish(worker)[0] == 2


@pytest.mark.parametrize("environment, arguments, expected", [
    ("py:external_envs:Exploding", "", "py:external_envs:Exploding: step raised RuntimeError: the simulator blew up"),
    ("py:external_envs:make_grid", f'{{"offset": {2**60}}}',
     f"observation element 0 is {2**60}, beyond ±2**53: float64 cannot carry it exactly"),
])
def test_an_environment_that_fails_while_collecting_leaves(learner: FakeLearner, environment: str, arguments: str,
                                                           expected: str) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = register(learner, environment=environment, arguments=arguments, spec_required=True)
    learner.recv_kind(codec.EnvironmentSpecMessage)
    learner.send(rid, grid_parameters(environment=environment))
    _, leave = learner.recv_kind(codec.Leave, skip=(codec.Heartbeat, codec.RequestParameters))
    assert isinstance(leave, codec.Leave) and leave.message == expected
    code, out = finish(worker)
    assert code == 2 and expected in out


def test_parameters_before_the_welcome_are_ignored(learner: FakeLearner) -> None:
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = learner.recv_kind(codec.Hello)
        learner.send(rid, cartpole_parameters(quota=100))
        with pytest.raises(TimeoutError):
            learner.recv_kind(codec.Chunk, timeout=1.0, skip=(codec.Heartbeat, codec.Hello))
    finally:
        worker.kill()
        worker.wait()


def pong_parameters(version: int = 1, quota: int = 0, chunk_steps: int = 60, simulators: int = 2,
                    input_shape: tuple[int, int, int] = (84, 84, 4), environment: str = "gym:ALE/Pong-v5",
                    vine: bool = False) -> codec.Parameters:
    """A small convolutional policy on Pong's frames: 4 × 8×8 stride 4, 8 × 4×4 stride 2, 16 hidden, 6 actions."""
    trunk = codec.Convolutions(input_shape, ((4, 8, 4), (8, 4, 2)))
    sizes = [trunk.output_size, 16, 6]
    count = trunk.parameter_count + sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return codec.Parameters(
        session=SESSION, version=version, seed=1, environment_id=environment, simulator_count=simulators,
        chunk_steps=chunk_steps, quota=quota, layer_sizes=sizes,
        parameters=np.random.default_rng(version).normal(size=count) * 0.05, head=HeadKind.CATEGORICAL, head_size=6,
        log_std=np.zeros(0), activation=codec.Activation.RELU, stream=3, collection=version,
        vine=codec.VineSettings(0.99, 10, 10, 2, 10, True) if vine else None, convolutions=trunk)


def test_convolutional_parameters_get_pixel_chunks(learner: FakeLearner) -> None:
    """Protocol v7: a convolutional policy on an Atari game's frames; the chunks carry them as bytes."""
    worker = start_worker(learner.endpoint)
    try:
        rid, hello = register(learner, assigned=5, environment="gym:ALE/Pong-v5", spec_required=True)
        _, spec = learner.recv_kind(codec.EnvironmentSpecMessage)
        assert isinstance(spec, codec.EnvironmentSpecMessage)
        assert spec.spec.observation_shape == (84, 84, 4)
        assert spec.spec.observation_dtype == codec.ObservationDType.UINT8
        learner.send(rid, pong_parameters(quota=100))
        rows: list[int] = []
        while sum(rows) < 100:
            _, chunk = learner.recv_kind(codec.Chunk, skip=(codec.Heartbeat, codec.RequestParameters))
            assert isinstance(chunk, codec.Chunk) and chunk.pixels and chunk.worker_id == 5
            assert chunk.observations.dtype == np.uint8 and chunk.observations.shape == (chunk.rows, 28224)
            assert chunk.bootstrap_observations.dtype == np.uint8
            assert chunk.actions.shape == (chunk.rows, 1) and set(np.unique(chunk.actions)) <= set(range(6))
            rows.append(chunk.rows)
        assert rows == [60, 40]
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0 and "a convolutional policy on uint8 frames" in out, out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_convolutional_vine_parameters_get_pixel_vine_chunks(learner: FakeLearner) -> None:
    """The vine on an Atari game's frames (§3.9 flag bit 0): K = 2 of Pong's 6 actions, drawn
    from π_old (estimator 1); every observation travels as bytes. More in test_atari_vine.py."""
    worker = start_worker(learner.endpoint)
    try:
        rid, _ = register(learner, assigned=5, environment="gym:ALE/Pong-v5")
        learner.send(rid, pong_parameters(vine=True, quota=12, chunk_steps=60))  # trunks: 2 copies × 10 steps
        _, chunk = learner.recv_kind(codec.VineChunk, timeout=30, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(chunk, codec.VineChunk) and chunk.pixels and chunk.worker_id == 5
        assert chunk.states.dtype == np.uint8 and chunk.states.shape == (12, 28224)
        assert chunk.cut_observations.dtype == np.uint8 and chunk.cut_observations.shape[1] == 28224
        assert chunk.trunks.observations.dtype == np.uint8 and chunk.trunks.observations.shape == (20, 28224)
        assert chunk.trunks.bootstrap_observations.dtype == np.uint8
        assert (chunk.actions_per_state, chunk.estimator) == (2, 1) and chunk.actions.shape == (24, 1)
        assert set(np.unique(chunk.actions)) <= set(range(6)) and np.isfinite(chunk.log_probabilities).all()
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0 and "the vine, a convolutional policy on uint8 frames" in out, out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.mark.parametrize("parameters, environment, expected", [
    (pong_parameters(environment="CartPole-v1"), "CartPole-v1",
     "the policy is convolutional, on 84×84×4 uint8 frames, but CartPole-v1 observes float32 [4]"),
    (pong_parameters(input_shape=(84, 84, 3)), "gym:ALE/Pong-v5",
     "the policy is convolutional, on 84×84×3 uint8 frames (21168 values), but gym:ALE/Pong-v5 observes uint8 "
     "[84×84×4] (28224 values)"),
    (pong_parameters(environment="CartPole-v1", vine=True), "CartPole-v1",
     "the policy is convolutional, on 84×84×4 uint8 frames, but CartPole-v1 observes float32 [4]"),
], ids=["feature-vectors", "three-channels", "vine-feature-vectors"])
def test_a_convolutional_policy_that_does_not_fit_leaves(learner: FakeLearner, parameters: codec.Parameters,
                                                         environment: str, expected: str) -> None:
    worker = start_worker(learner.endpoint)
    rid, _ = register(learner, environment=environment)
    learner.send(rid, parameters)
    _, leave = learner.recv_kind(codec.Leave, skip=(codec.Heartbeat, codec.RequestParameters))
    assert isinstance(leave, codec.Leave) and leave.reason == codec.LeaveReason.INCOMPATIBLE
    assert leave.message == expected
    code, out = finish(worker)
    assert code == 2 and expected in out, out
