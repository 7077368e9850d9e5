"""Why a worker sends no ZMTP heartbeats (docs/protocol.md §1): libzmq 4.3.4/4.3.5 aborts a
ROUTER that receives a PING on a connection whose input is stopped and that then fails
(``Assertion failed: !_io_error``, libzmq issue #4841). This is the learner's situation: its
receive queue holds two chunks per worker (``TransportSettings.chunkHighWaterMark``), so a busy
learner stops reading from a worker's connection, with whatever that worker sent since (chunks
and, if it pings, PINGs) read but not yet processed. When the connection then breaks, the
buffered PING is processed as the queue drains, and answering it with a PONG hits the assertion.

The test plays both ends with pyzmq (its bundled libzmq has the same code) in a child process:
a DEALER streams messages into a ROUTER with RCVHWM 2 that has stopped reading, the DEALER's
process exits, the ROUTER sends to it (the closed peer answers with a reset) and then drains
its queue. With PINGs the ROUTER's process aborts; without them it keeps going.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import zmq

ABORTED = -6  # SIGABRT


def dealer(endpoint: str, ping: bool) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    if ping:
        socket.setsockopt(zmq.HEARTBEAT_IVL, 1)
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
    socket.setsockopt(zmq.SNDHWM, 100_000)
    socket.connect(endpoint)
    for _ in range(600):
        socket.send(b"x" * 200)
        time.sleep(0.0005)
    time.sleep(0.5)
    os._exit(0)


def router(ping: bool) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.RCVHWM, 2)
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    peer = subprocess.Popen([sys.executable, __file__, "dealer", f"tcp://127.0.0.1:{port}", str(ping)])
    identity, _ = socket.recv_multipart()
    time.sleep(0.3)  # busy: the queue fills and the connection's input stops
    for _ in range(5):
        socket.recv_multipart()
        time.sleep(0.01)
    peer.wait()
    for _ in range(5):  # to the closed peer, which resets the connection
        socket.send_multipart([identity, b"hello"])
        time.sleep(0.05)
    while socket.poll(200):
        socket.recv_multipart()
    print("the router survived")


@pytest.mark.parametrize("ping, survives", [(True, False), (False, True)])
def test_a_ping_after_a_broken_connection_with_stopped_input_aborts_the_router(ping: bool, survives: bool) -> None:
    if not survives and zmq.zmq_version_info() > (4, 3, 5):
        pytest.skip(f"libzmq {zmq.zmq_version()} is newer than the versions known to abort (4.3.4, 4.3.5)")
    result = subprocess.run([sys.executable, __file__, "router", str(ping)], capture_output=True, text=True, timeout=60)
    if survives:
        assert result.returncode == 0 and "the router survived" in result.stdout, result.stderr
    else:
        assert result.returncode == ABORTED, (zmq.zmq_version(), result.returncode, result.stdout, result.stderr)
        assert "!_io_error" in result.stderr


if __name__ == "__main__":
    if sys.argv[1] == "dealer":
        dealer(sys.argv[2], sys.argv[3] == "True")
    else:
        router(sys.argv[2] == "True")
