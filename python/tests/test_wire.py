"""What the worker puts on the wire, read by a plain TCP peer that speaks just enough ZMTP 3.1
(NULL mechanism) to complete the handshake as a ROUTER.

libzmq 4.3.4 and 4.3.5 abort the learner (``!_io_error``, libzmq issue #4841) when a ZMTP PING
reaches a connection whose input is stopped and which then fails, so a worker must send none
(docs/protocol.md §1)."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time

import zmq


class ZMTPObserver:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connection: socket.socket | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.listener.close()

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
        flags = self._read(1)
        if flags is None:
            return None
        size_bytes = self._read(8 if flags[0] & 0x02 else 1)
        if size_bytes is None:
            return None
        body = self._read(int.from_bytes(size_bytes, "big"))
        return None if body is None else (bool(flags[0] & 0x04), body)

    def handshake(self) -> None:
        assert select.select([self.listener], [], [], 30.0)[0], "nobody connected"
        self.connection, _ = self.listener.accept()
        self.connection.sendall(b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + bytes(32))
        theirs = self._read(64)
        assert theirs is not None and theirs[:1] == b"\xff" and theirs[12:16] == b"NULL"
        ready = b"\x05READY" + b"\x0bSocket-Type" + (6).to_bytes(4, "big") + b"ROUTER"
        self.connection.sendall(bytes([0x04, len(ready)]) + ready)
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


def test_the_worker_sends_no_zmtp_ping() -> None:
    observer = ZMTPObserver()
    worker = subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", f"tcp://127.0.0.1:{observer.port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        observer.handshake()
        commands = observer.commands(2.5)
    finally:
        worker.kill()
        worker.wait()
        observer.close()
    assert b"PING" not in commands, commands


def test_the_observer_sees_the_pings_of_a_socket_with_zmtp_heartbeats() -> None:
    observer = ZMTPObserver()
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    try:
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.HEARTBEAT_IVL, 200)
        dealer.connect(f"tcp://127.0.0.1:{observer.port}")
        observer.handshake()
        assert b"PING" in observer.commands(1.5)
    finally:
        dealer.close()
        context.term()
        observer.close()
