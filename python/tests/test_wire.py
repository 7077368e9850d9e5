"""Both workers' connections as seen from a plain TCP peer that speaks just enough ZMTP 3.1 (NULL
mechanism) to complete the handshake as a ROUTER: what a worker sends, and what it does when the
connection fails in a way libzmq does not recover from by itself. The Swift worker is
``$TRPO_BIN worker`` (as in test_end_to_end.py); without that binary its cases are skipped.

- libzmq 4.3.4 and 4.3.5 abort the learner (``!_io_error``, libzmq issue #4841) when a ZMTP PING
  reaches a connection whose input is stopped and which then fails (test_libzmq_4841.py), so a
  worker sends none (docs/protocol.md §1).
- After a protocol error on a connection (a frame it cannot take), libzmq closes it and never
  connects again, without a word; a worker must notice and connect afresh (docs/protocol.md §4).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time

import pytest
import zmq

from test_end_to_end import TRPO_BIN


def worker_command(kind: str, endpoint: str, *options: str) -> list[str]:
    if kind == "swift":
        if not (TRPO_BIN.is_file() and os.access(TRPO_BIN, os.X_OK)):
            pytest.skip(f"no trpo binary at {TRPO_BIN}")
        return [str(TRPO_BIN), "worker", "--connect", endpoint, *options]
    return [sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, *options]


class ZMTPObserver:
    """A TCP listener on 127.0.0.1 that accepts connections one at a time, completes the ZMTP
    handshake on each, and collects the frames the peer sends or sends it raw bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connection: socket.socket | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.listener.close()

    def accept(self, seconds: float) -> bool:
        """Whether a connection arrives within ``seconds``; it becomes the current one."""
        if not select.select([self.listener], [], [], seconds)[0]:
            return False
        if self.connection is not None:
            self.connection.close()
        self.connection, _ = self.listener.accept()
        return True

    def write(self, data: bytes) -> None:
        assert self.connection is not None
        self.connection.sendall(data)

    def _read(self, count: int) -> bytes | None:
        assert self.connection is not None
        data = b""
        while len(data) < count:
            if not select.select([self.connection], [], [], 5.0)[0]:
                return None
            more = self.connection.recv(count - len(data))
            if not more:
                return None
            data += more
        return data

    def _frame(self) -> tuple[bool, bytes] | None:
        """One ZMTP frame: whether it is a command, and its body."""
        flags = self._read(1)
        if flags is None:
            return None
        size_bytes = self._read(8 if flags[0] & 0x02 else 1)
        if size_bytes is None:
            return None
        body = self._read(int.from_bytes(size_bytes, "big"))
        return None if body is None else (bool(flags[0] & 0x04), body)

    def handshake(self) -> None:
        """Accepts a connection and completes the handshake as a NULL-mechanism ROUTER."""
        assert self.accept(30.0), "nobody connected"
        self.write(b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + bytes(32))
        theirs = self._read(64)
        assert theirs is not None and theirs[:1] == b"\xff" and theirs[12:16] == b"NULL"
        ready = b"\x05READY" + b"\x0bSocket-Type" + (6).to_bytes(4, "big") + b"ROUTER"
        self.write(bytes([0x04, len(ready)]) + ready)
        frame = self._frame()
        assert frame is not None and frame[0] and frame[1].startswith(b"\x05READY")

    def commands(self, seconds: float) -> list[bytes]:
        """The names of the commands (PING, …) received for ``seconds``."""
        names = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not select.select([self.connection], [], [], 0.05)[0]:
                continue
            frame = self._frame()
            if frame is None:
                break
            command, body = frame
            if command and body:
                names.append(body[1:1 + body[0]])
        return names


@pytest.fixture
def observer():
    peer = ZMTPObserver()
    yield peer
    peer.close()


def run(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("kind", ["python", "swift"])
def test_a_worker_sends_no_zmtp_ping(observer: ZMTPObserver, kind: str) -> None:
    worker = run(worker_command(kind, observer.endpoint))
    try:
        observer.handshake()
        commands = observer.commands(2.5)
    finally:
        worker.kill()
        worker.wait()
    assert b"PING" not in commands, commands


@pytest.mark.parametrize("kind", ["python", "swift"])
def test_a_worker_whose_connection_ends_in_a_protocol_error_connects_again(observer: ZMTPObserver, kind: str) -> None:
    """A frame of 2⁴⁰ bytes, over the worker's ``ZMQ_MAXMSGSIZE``, is a protocol error."""
    worker = run(worker_command(kind, observer.endpoint, "--learner-timeout", "1"))
    try:
        observer.handshake()
        observer.write(b"\x02" + (1 << 40).to_bytes(8, "big"))
        assert observer.accept(10.0), "no second connection"
    finally:
        worker.kill()
        worker.wait()


def test_the_observer_sees_the_pings_of_a_socket_with_zmtp_heartbeats(observer: ZMTPObserver) -> None:
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    try:
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.HEARTBEAT_IVL, 200)
        dealer.connect(observer.endpoint)
        observer.handshake()
        assert b"PING" in observer.commands(1.5)
    finally:
        dealer.close()
        context.term()
