#!/usr/bin/env python3
"""A trpo worker written from docs/protocol.md alone, used as a conformance client.

It starts `trpo learner` (CartPole-v1) on an ipc endpoint, then plays one scenario per
documented learner reply (docs/protocol.md §4.2), each on a fresh DEALER connection, and
checks the reply byte for byte against the document's layouts: welcome (assigned ids, the
run's environment, no spec asked for a built-in one), parameters (non-zero quota, stream = id),
stop(environment), stop(malformedMessage), stop(protocolVersion), stop(duplicateWorker) naming
the id, a restart taken back, reject(notRegistered) for every kind that gets it,
reject(staleParameters) with the chunk's sequence for another session and for an older version,
silent drops (repeated sequence, learner-only kinds, leave, an environmentSpec in a run of a
built-in environment), a departed worker's share moving to another as a top-up (and nothing
repeated unasked), the learner's heartbeat, stop(unexpectedWorker) in a deterministic run, and
stop(interrupted) at the end.

And an external environment of frames (§3.3 flag convolutional, §3.4 flag pixels): a spec of
uint8 [36, 36, 1] observations is answered with parameters of a convolutional policy (the
convolutions frame: cnn_small on the frame, its dense layers [144, 128, 2]), a chunk of f64
observations is refused without a reply, and pixel chunks filling the batch bring the next
version.

Then it runs an external environment (`--env gym:CartPole-v1 --env-kwargs …`, §3.13, §3.14):
the welcome asks for the spec and carries the name and arguments; no parameters before the
spec (nor in reply to requestParameters); environmentSpec from an unregistered connection or
with another id → reject(notRegistered); the first spec becomes the run's and is answered with
parameters whose policy fits it; a spec that differs → stop(environment) naming the difference;
a new hello must be followed by the spec again. And a vine run of it: a spec without the
snapshot flag → stop(environment), without becoming the run's spec; one with it → vine
parameters.

Usage: conformance_client.py PATH/TO/trpo
Exit status: 0 all passed, 1 a check failed, 77 pyzmq is not installed (skip).
Requires pyzmq (pip install -r Tests/Conformance/requirements.txt).
"""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (pip install -r Tests/Conformance/requirements.txt)")
    sys.exit(77)

MAGIC = b"TRPO"
VERSION = 7
KIND = dict(hello=1, parameters=2, chunk=3, heartbeat=4, stop=5, requestParameters=6, reject=7,
            vineChunk=8, model=9, requestModel=10, leave=11, welcome=12, environmentSpec=13)
KIND_NAME = {v: k for k, v in KIND.items()}
STOP = {1: "finished", 2: "interrupted", 3: "protocolVersion", 4: "environment", 5: "shape",
        6: "malformedMessage", 7: "duplicateWorker", 8: "unexpectedWorker"}
REJECT = {1: "notRegistered", 2: "staleParameters"}
FAILURES = []


def prefix(kind, flags=0, version=VERSION):
    return MAGIC + struct.pack("<HBB", version, KIND[kind], flags)


# --- worker → learner messages (§3.2, 3.4, 3.5, 3.7, 3.10, 3.11, 3.12, 3.14) ---

def hello(nonce, worker_id=None, environment=b"", software=b"conformance"):
    flags = 1 if worker_id is None else 0
    header = prefix("hello", flags) + struct.pack("<QIIII", nonce, worker_id or 0, 0, len(environment), len(software))
    return [header, environment, software]


def chunk(nonce, worker_id, session, version, sequence, rows, observation_size=4, pixels=False):
    """A chunk of `rows` rows in one episode; observations f64, or uint8 with the pixels flag."""
    header = prefix("chunk", 1 if pixels else 0) + struct.pack(
        "<QQQQQIIIIII", nonce, session, version, sequence, rows, worker_id, rows, observation_size, 1, 0, 0)
    observations = (bytes((t * 7) % 256 for t in range(rows * observation_size)) if pixels else
                    struct.pack("<%dd" % (rows * observation_size), *([0.01] * rows * observation_size)))
    actions = struct.pack("<%dd" % rows, *[float(t % 2) for t in range(rows)])
    rewards = struct.pack("<%dd" % rows, *([1.0] * rows))
    ends = bytes([0] * (rows - 1) + [1])  # the last row terminates: no bootstrap rows
    return [header, observations, actions, rewards, ends, b"", b"", b"", b""]


def heartbeat(nonce, worker_id, sequence=1):
    return [prefix("heartbeat") + struct.pack("<QQQQI", nonce, sequence, 0, 0, worker_id)]


def request_parameters(nonce, worker_id):
    return [prefix("requestParameters") + struct.pack("<QI", nonce, worker_id)]


def request_model(nonce, worker_id, model_hash=1):
    return [prefix("requestModel") + struct.pack("<QQI", nonce, model_hash, worker_id)]


def leave(nonce, worker_id, text=b"conformance leaves"):
    return [prefix("leave") + struct.pack("<QIIB", nonce, worker_id, len(text), 1), text]


# gym:CartPole-v1 as a worker describes it: observations float32 [4], 2 discrete actions, 500 steps.
CARTPOLE_SPEC = dict(shape=(4,), dtype=1, discrete=2, box=None, time_limit=500, snapshot=False)


def environment_spec(nonce, worker_id, shape=(4,), dtype=1, discrete=2, box=None, time_limit=500, snapshot=False):
    """environmentSpec (§3.14): `discrete` actions, or a `box` given as (lows, highs)."""
    lows, highs = box if box is not None else ((), ())
    size = discrete if box is None else len(lows)
    header = prefix("environmentSpec", 1 if snapshot else 0) + struct.pack(
        "<QIIIIBB", nonce, worker_id, len(shape), size, time_limit, dtype, 0 if box is None else 1)
    return [header, struct.pack("<%dI" % len(shape), *shape), struct.pack("<%dd" % len(lows), *lows),
            struct.pack("<%dd" % len(highs), *highs)]


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def model(session, text=b"<mujoco/>"):
    return [prefix("model") + struct.pack("<QQI", session, fnv1a(text), len(text)), text]


# --- learner → worker messages (§3.3, 3.5, 3.6, 3.8, 3.13) ---

def decode(frames):
    h = frames[0]
    assert h[:4] == MAGIC, "bad magic"
    version, kind, flags = struct.unpack_from("<HBB", h, 4)
    m = dict(version=version, kind=KIND_NAME.get(kind, kind), flags=flags)
    if kind == KIND["welcome"]:
        assert len(h) == 48 and len(frames) == 4
        m.update(zip(("session", "nonce", "worker_id", "heartbeat_ms", "timeout_ms"),
                     struct.unpack_from("<QQIII", h, 8)))
        assert list(struct.unpack_from("<III", h, 36)) == [len(f) for f in frames[1:4]]
        m["software"], m["environment"], m["arguments"] = (f.decode() for f in frames[1:4])
        m["assigned"], m["spec_required"] = bool(flags & 1), bool(flags & 2)
        assert flags & ~3 == 0
    elif kind == KIND["parameters"]:
        convolutional = bool(flags & 2)
        assert len(h) == 136 and len(frames) == (6 if convolutional else 5 if not flags & 1 else 7)
        assert flags & ~3 == 0 and not (flags & 1 and convolutional)
        m.update(zip(("session", "version", "seed", "stream", "collection"), struct.unpack_from("<QQQQQ", h, 8)))
        m["chunk_steps"], m["quota"] = struct.unpack_from("<II", h, 88)
        m["parameter_count"], m["head_size"] = struct.unpack_from("<II", h, 100)
        m["head_kind"], m["activation"], m["sampler"] = h[132], h[133], h[134]
        m["environment"] = frames[1].decode()
        m["layer_sizes"] = list(struct.unpack("<%dI" % (len(frames[2]) // 4), frames[2]))
        assert len(frames[3]) == 8 * m["parameter_count"]
        m["convolutions"] = list(struct.unpack("<%dI" % (len(frames[5]) // 4), frames[5])) if convolutional else None
    elif kind == KIND["stop"]:
        assert len(h) == 21 and len(frames) == 2
        session, length, reason = struct.unpack_from("<QIB", h, 8)
        m.update(session=session, reason=STOP[reason], text=frames[1].decode())
        assert len(frames[1]) == length
    elif kind == KIND["reject"]:
        assert len(h) == 37 and len(frames) == 2
        session, current, sequence, length, reason = struct.unpack_from("<QQQIB", h, 8)
        m.update(session=session, current_version=current, reason=REJECT[reason],
                 sequence=sequence if flags & 1 else None, text=frames[1].decode())
    elif kind == KIND["heartbeat"]:
        assert len(h) == 44 and len(frames) == 1
        nonce, sequence, timestamp, version, worker_id = struct.unpack_from("<QQQQI", h, 8)
        m.update(learner=bool(flags & 1), session=nonce, latest=version if flags & 2 else None)
    return m


class Worker:
    """One DEALER connection to the learner."""

    def __init__(self, context, endpoint, nonce=None):
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.nonce = nonce if nonce is not None else random.getrandbits(64)

    def send(self, frames):
        self.socket.send_multipart(frames)

    def next(self, seconds=20.0, skip_heartbeats=True):
        """The next learner message (heartbeats skipped unless asked), or None."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.socket.poll(int(max(1, (deadline - time.time()) * 1000))):
                m = decode(self.socket.recv_multipart())
                if skip_heartbeats and m["kind"] == "heartbeat":
                    continue
                return m
        return None

    def quiet(self, seconds=1.5):
        """True when nothing but heartbeats arrives for `seconds`."""
        m = self.next(seconds)
        return m is None

    def drain(self, seconds=0.5):
        """Drops whatever arrives for `seconds` (e.g. the parameters of a new version)."""
        while self.next(seconds, skip_heartbeats=False) is not None:
            pass

    def close(self):
        self.socket.close()


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else ": %s" % (detail,)))
    if not condition:
        FAILURES.append(name)


def start_learner(trpo, directory, name, extra, environment="CartPole-v1", batch_steps=2048):
    endpoint = "ipc://%s/%s.sock" % (directory, name)
    log = open(os.path.join(directory, name + ".log"), "w")
    process = subprocess.Popen([trpo, "learner", "--bind", endpoint, "--env", environment, "--batch-steps", str(batch_steps),
                                "--out", os.path.join(directory, name)] + extra, stdout=log, stderr=subprocess.STDOUT)
    return endpoint, process


def stop_learner(learner):
    if learner.poll() is None:
        learner.send_signal(signal.SIGINT)
    try:
        learner.wait(timeout=30)
    except subprocess.TimeoutExpired:
        learner.kill()


def register(context, endpoint, worker_id=None):
    w = Worker(context, endpoint)
    w.send(hello(w.nonce, worker_id))
    welcome = w.next()
    parameters = w.next()
    w.id = welcome["worker_id"] if welcome else None
    w.parameters = parameters
    return w, welcome, parameters


def streaming(trpo, directory):
    endpoint, learner = start_learner(trpo, directory, "streaming", ["--steps", "100000000"])
    context = zmq.Context()
    try:
        # hello asking for an id → welcome (assigned, timing), then parameters (§3.13, §4.2 hello 3, 5).
        a, welcome, parameters = register(context, endpoint)
        check("hello(assignID) → welcome", welcome and welcome["kind"] == "welcome" and welcome["assigned"]
              and welcome["worker_id"] == 0 and welcome["nonce"] == a.nonce, welcome)
        check("welcome carries heartbeat 1000 ms and worker timeout 10000 ms",
              welcome and welcome["heartbeat_ms"] == 1000 and welcome["timeout_ms"] == 10000, welcome)
        check("welcome names the built-in environment, no arguments, no spec asked",
              welcome and welcome["environment"] == "CartPole-v1" and welcome["arguments"] == ""
              and not welcome["spec_required"], welcome)
        check("then parameters: CartPole-v1, version 0, non-zero quota, stream = id",
              parameters and parameters["kind"] == "parameters" and parameters["environment"] == "CartPole-v1"
              and parameters["version"] == 0 and parameters["quota"] > 0 and parameters["stream"] == 0, parameters)
        session = welcome["session"]
        b, welcome_b, _ = register(context, endpoint)
        check("a second worker without an id gets the next free id", welcome_b and welcome_b["worker_id"] == 1, welcome_b)

        # An explicit id held by a live connection of another process → stop(duplicateWorker) naming the id.
        d = Worker(context, endpoint)
        d.send(hello(d.nonce, 0))
        m = d.next()
        check("hello(id held by a live worker) → stop(duplicateWorker) naming the id",
              m and m["kind"] == "stop" and m["reason"] == "duplicateWorker" and "worker id 0" in m["text"], m)
        d.close()

        # A restart: the holder's connection is gone, the same id with a new nonce is taken back.
        r1, welcome_r1, _ = register(context, endpoint, worker_id=7)
        r1.close()
        time.sleep(0.5)  # let the learner's socket see the old connection close
        r2, welcome_r2, parameters_r2 = register(context, endpoint, worker_id=7)
        check("a restart (old connection gone) is taken back: welcome, parameters",
              welcome_r2 and welcome_r2["kind"] == "welcome" and not welcome_r2["assigned"] and welcome_r2["worker_id"] == 7
              and parameters_r2 and parameters_r2["kind"] == "parameters", (welcome_r2, parameters_r2))
        r2.close()

        # Another environment → stop(environment).
        e = Worker(context, endpoint)
        e.send(hello(e.nonce, None, environment=b"Hopper-v4"))
        m = e.next()
        check("hello(another environment) → stop(environment)", m and m["kind"] == "stop" and m["reason"] == "environment", m)
        e.close()

        # Garbage → stop(malformedMessage) with the decoder's error.
        g = Worker(context, endpoint)
        g.send([b"\xab" * 37])
        m = g.next()
        check("undecodable message → stop(malformedMessage) with the error text",
              m and m["kind"] == "stop" and m["reason"] == "malformedMessage" and "bad magic" in m["text"], m)
        g.close()

        # Another protocol version → stop(protocolVersion), in the learner's version.
        v = Worker(context, endpoint)
        frames = hello(v.nonce, None)
        frames[0] = frames[0][:4] + struct.pack("<H", VERSION - 1) + frames[0][6:]
        v.send(frames)
        m = v.next()
        check(f"hello in version {VERSION - 1} → stop(protocolVersion) in version {VERSION}",
              m and m["kind"] == "stop" and m["reason"] == "protocolVersion" and m["version"] == VERSION, m)
        v.close()

        # Unregistered connection: heartbeat, requestParameters, requestModel, chunk → reject(notRegistered).
        u = Worker(context, endpoint)
        for name, frames in (("heartbeat", heartbeat(u.nonce, 9)), ("requestParameters", request_parameters(u.nonce, 9)),
                             ("requestModel", request_model(u.nonce, 9)),
                             ("environmentSpec", environment_spec(u.nonce, 9, **CARTPOLE_SPEC))):
            u.send(frames)
            m = u.next()
            check("unregistered %s → reject(notRegistered)" % name,
                  m and m["kind"] == "reject" and m["reason"] == "notRegistered" and m["sequence"] is None, m)
        u.send(chunk(u.nonce, 9, session, 0, 3, 10))
        m = u.next()
        check("unregistered chunk → reject(notRegistered) with its sequence",
              m and m["kind"] == "reject" and m["reason"] == "notRegistered" and m["sequence"] == 3, m)
        # leave and a learner-only kind from an unregistered connection: refused, no reply.
        u.send(leave(u.nonce, 9))
        u.send(model(session))
        check("unregistered leave and model → no reply", u.quiet())
        u.close()

        # Registered worker a: requests are answered even when they repeat.
        a.send(request_parameters(a.nonce, a.id))
        m = a.next()
        check("requestParameters → the same parameters again", m and m["kind"] == "parameters" and m["version"] == 0
              and m["quota"] == parameters["quota"], m)
        a.send(request_model(a.nonce, a.id))
        m = a.next()
        check("requestModel (a run without a custom model) → parameters", m and m["kind"] == "parameters", m)
        a.send(model(session))
        check("a learner-only kind (model) from a registered worker → no reply", a.quiet())
        a.send(environment_spec(a.nonce, a.id, **CARTPOLE_SPEC))
        check("environmentSpec in a run of a built-in environment → refused, no reply", a.quiet())

        # Chunks: another session → reject(staleParameters, sequence).
        a.send(chunk(a.nonce, a.id, session ^ 1, 0, 0, 10))
        m = a.next()
        check("chunk of another session → reject(staleParameters) with its sequence",
              m and m["kind"] == "reject" and m["reason"] == "staleParameters" and m["sequence"] == 0
              and m["current_version"] == 0, m)
        # A repeated sequence number is dropped without a reply.
        a.send(chunk(a.nonce, a.id, session, 0, 0, 10))
        check("chunk with a sequence number already seen → dropped, no reply", a.quiet())
        # The whole batch (2048 rows) with version 0: the learner updates and publishes version 1.
        a.send(chunk(a.nonce, a.id, session, 0, 1, 2048))
        m = a.next(seconds=120)
        check("a complete batch → parameters of version 1, a's share of 2 workers",
              m and m["kind"] == "parameters" and m["version"] == 1 and m["quota"] == 1024, m)
        # A chunk of version 0 is stale now.
        a.send(chunk(a.nonce, a.id, session, 0, 2, 10))
        m = a.next()
        check("chunk of an older version → reject(staleParameters) with its sequence and the current version",
              m and m["kind"] == "reject" and m["reason"] == "staleParameters" and m["sequence"] == 2
              and m["current_version"] == 1, m)
        # The learner heartbeats a worker it has sent nothing for a second.
        m = a.next(seconds=5, skip_heartbeats=False)
        check("learner heartbeat with the latest version",
              m and m["kind"] == "heartbeat" and m["learner"] and m["session"] == session and m["latest"] == 1, m)

        # leave from a registered worker: no reply; the registration is gone.
        b.drain()
        b.send(leave(b.nonce, b.id))
        check("leave → no reply", b.quiet())
        b.send(heartbeat(b.nonce, b.id))
        m = b.next()
        check("after leave, heartbeat → reject(notRegistered)", m and m["kind"] == "reject" and m["reason"] == "notRegistered", m)
        b.close()
        # Its share of version 1 moves to a, as a top-up: the same version with a larger quota (§4.4).
        m = a.next(seconds=30)
        check("a departed worker's share → top-up: parameters of the same version with a larger quota",
              m and m["kind"] == "parameters" and m["version"] == 1 and m["quota"] == 2048, m)
        check("never the same parameters twice in a row, unasked", a.quiet(seconds=2.5))

        # The end: SIGINT → stop(interrupted) to every registered worker.
        learner.send_signal(signal.SIGINT)
        m = a.next(seconds=30)
        check("learner interrupted → stop(interrupted)", m and m["kind"] == "stop" and m["reason"] == "interrupted", m)
        a.close()
    finally:
        stop_learner(learner)
        context.destroy(linger=0)


def deterministic(trpo, directory):
    endpoint, learner = start_learner(trpo, directory, "deterministic",
                                      ["--steps", "100000000", "--deterministic", "--workers", "1"])
    context = zmq.Context()
    try:
        w = Worker(context, endpoint)
        w.send(hello(w.nonce, 3))
        m = w.next()
        check("deterministic run of 1 worker, hello(id 3) → stop(unexpectedWorker)",
              m and m["kind"] == "stop" and m["reason"] == "unexpectedWorker", m)
        w.close()
        a, welcome, parameters = register(context, endpoint)
        check("deterministic run, hello(assignID) → id 0 and quota = the batch",
              welcome and welcome["worker_id"] == 0 and parameters and parameters["quota"] == 2048, (welcome, parameters))
        c = Worker(context, endpoint)
        c.send(hello(c.nonce, None))
        m = c.next()
        check("deterministic run, every id held, hello(assignID) → stop(unexpectedWorker)",
              m and m["kind"] == "stop" and m["reason"] == "unexpectedWorker", m)
        c.close()
        a.close()
    finally:
        stop_learner(learner)
        context.destroy(linger=0)


EXTERNAL = "gym:CartPole-v1"
EXTERNAL_ARGUMENTS = {"sutton_barto_reward": False}


def welcomed(context, endpoint, worker_id=None):
    """A worker of a run of an external environment: hello, and the welcome (no parameters yet)."""
    w = Worker(context, endpoint)
    w.send(hello(w.nonce, worker_id))
    welcome = w.next()
    w.id = welcome["worker_id"] if welcome and welcome["kind"] == "welcome" else 0
    return w, welcome


def external(trpo, directory):
    endpoint, learner = start_learner(trpo, directory, "external",
                                      ["--steps", "100000000", "--env-kwargs", json.dumps(EXTERNAL_ARGUMENTS)],
                                      environment=EXTERNAL)
    context = zmq.Context()
    try:
        # The welcome names the environment and its arguments, and asks for the spec (§3.13).
        a, welcome = welcomed(context, endpoint)
        check("external run: hello → welcome with specRequired, the name and the arguments",
              welcome and welcome["kind"] == "welcome" and welcome["assigned"] and welcome["spec_required"]
              and welcome["environment"] == EXTERNAL and json.loads(welcome["arguments"]) == EXTERNAL_ARGUMENTS,
              welcome)
        check("external run: no parameters before the spec", a.quiet())
        a.send(request_parameters(a.nonce, a.id))
        check("external run: requestParameters before the spec → nothing", a.quiet())

        # environmentSpec from an unregistered connection, or with another id → reject(notRegistered).
        u = Worker(context, endpoint)
        u.send(environment_spec(u.nonce, 9, **CARTPOLE_SPEC))
        m = u.next()
        check("unregistered environmentSpec → reject(notRegistered)",
              m and m["kind"] == "reject" and m["reason"] == "notRegistered" and m["sequence"] is None, m)
        u.close()
        a.send(environment_spec(a.nonce, a.id + 1, **CARTPOLE_SPEC))
        m = a.next()
        check("environmentSpec with another worker id → reject(notRegistered)",
              m and m["kind"] == "reject" and m["reason"] == "notRegistered", m)

        # The first spec becomes the run's: parameters follow, their policy built from it.
        a.send(environment_spec(a.nonce, a.id, **CARTPOLE_SPEC))
        m = a.next(seconds=30)
        check("the first environmentSpec → parameters: the name, version 0, non-zero quota, stream = id",
              m and m["kind"] == "parameters" and m["environment"] == EXTERNAL and m["version"] == 0
              and m["quota"] > 0 and m["stream"] == a.id, m)
        check("their policy fits the spec: 4 inputs, a categorical head of 2",
              m and m.get("layer_sizes", [None])[0] == 4 and m["layer_sizes"][-1] == 2 and m["head_kind"] == 0
              and m["head_size"] == 2, m)

        # A spec that differs from the run's → stop(environment) naming the difference.
        for name, spec, named in (("observation shape [3]", dict(CARTPOLE_SPEC, shape=(3,)),
                                   "observation shape [3] (run: [4])"),
                                  ("3 discrete actions", dict(CARTPOLE_SPEC, discrete=3), "action"),
                                  ("a box of actions", dict(CARTPOLE_SPEC, box=((-1.0,), (1.0,))), "action")):
            b, _ = welcomed(context, endpoint)
            b.send(environment_spec(b.nonce, b.id, **spec))
            m = b.next()
            check("environmentSpec with %s (run: [4], 2 discrete) → stop(environment) naming the difference" % name,
                  m and m["kind"] == "stop" and m["reason"] == "environment"
                  and m["text"].startswith("environment spec differs from the run's: ") and named in m["text"], m)
            b.send(heartbeat(b.nonce, b.id))
            m = b.next()
            check("after that stop, heartbeat → reject(notRegistered)",
                  m and m["kind"] == "reject" and m["reason"] == "notRegistered", m)
            b.close()

        # The same spec from another worker → parameters; a new hello needs the spec again.
        d, _ = welcomed(context, endpoint)
        d.send(environment_spec(d.nonce, d.id, **CARTPOLE_SPEC))
        m = d.next()
        check("an equal spec from a second worker → parameters", m and m["kind"] == "parameters", m)
        d.drain()
        d.send(hello(d.nonce, d.id))
        m = d.next()
        check("hello again → welcome with specRequired",
              m and m["kind"] == "welcome" and m["spec_required"] and m["worker_id"] == d.id, m)
        check("… and no parameters until the spec comes again", d.quiet())
        d.send(environment_spec(d.nonce, d.id, **CARTPOLE_SPEC))
        m = d.next()
        check("the spec again → parameters", m and m["kind"] == "parameters", m)
        d.close()

        learner.send_signal(signal.SIGINT)
        m = a.next(seconds=30)
        check("external run interrupted → stop(interrupted)",
              m and m["kind"] == "stop" and m["reason"] == "interrupted", m)
        a.close()
    finally:
        stop_learner(learner)
        context.destroy(linger=0)


def valid_output(size, kernel, stride):
    """A valid convolution's output side (§3.3, "Convolutional trunk")."""
    return (size - kernel) // stride + 1


def frames(trpo, directory):
    endpoint, learner = start_learner(trpo, directory, "frames", ["--steps", "100000000"], environment="gym:Frames-v0",
                                      batch_steps=64)
    context = zmq.Context()
    try:
        w, welcome = welcomed(context, endpoint)
        check("frames run: welcome with specRequired", welcome and welcome["spec_required"], welcome)
        w.send(environment_spec(w.nonce, w.id, shape=(36, 36, 1), dtype=9, discrete=2, time_limit=1000))
        m = w.next(seconds=30)
        # cnn_small (§3.3): 8 filters 8×8 stride 4, then 16 filters 4×4 stride 2, then 128 units.
        side = valid_output(valid_output(36, 8, 4), 4, 2)
        count = (8 * 8 * 1 * 8 + 8) + (4 * 4 * 8 * 16 + 16) + (side * side * 16 * 128 + 128) + (128 * 2 + 2)
        check("a spec of uint8 36×36×1 frames → parameters of a convolutional policy (flag 2, no normaliser, 6 frames)",
              m and m["kind"] == "parameters" and m["flags"] == 2 and m["version"] == 0, m)
        check("… its convolutions frame [36, 36, 1, 8, 8, 4, 16, 4, 2], dense layers [144, 128, 2], relu, "
              "and the parameter count they imply",
              m and m["convolutions"] == [36, 36, 1, 8, 8, 4, 16, 4, 2] and m["layer_sizes"] == [side * side * 16, 128, 2]
              and m["activation"] == 1 and m["parameter_count"] == count, m)
        session = m["session"] if m else 0
        w.send(chunk(w.nonce, w.id, session, 0, 0, 32, observation_size=36 * 36))
        check("a chunk of f64 observations for a convolutional policy → no reply (refused, §4.2 step 4)", w.quiet())
        w.send(chunk(w.nonce, w.id, session, 0, 1, 32, observation_size=36 * 36, pixels=True))
        w.send(chunk(w.nonce, w.id, session, 0, 2, 32, observation_size=36 * 36, pixels=True))
        m = w.next(seconds=60)
        check("pixel chunks filling the batch (64 rows) → parameters of version 1",
              m and m["kind"] == "parameters" and m["version"] == 1 and m["flags"] == 2, m)
        w.close()
    finally:
        stop_learner(learner)
        context.destroy(linger=0)
    with open(os.path.join(directory, "frames.log")) as log:
        text = log.read()
    check("the learner refused the f64 chunk by name",
          "sent feature vectors; this run's policy takes uint8 frames" in text, text[-2000:])


def external_vine(trpo, directory):
    endpoint, learner = start_learner(trpo, directory, "external-vine", ["--steps", "100000000", "--sampler", "vine"],
                                      environment=EXTERNAL)
    context = zmq.Context()
    try:
        w, welcome = welcomed(context, endpoint)
        check("external vine run: welcome with specRequired", welcome and welcome["spec_required"], welcome)
        w.send(environment_spec(w.nonce, w.id, **CARTPOLE_SPEC))
        m = w.next()
        check("external vine run: a spec without the snapshot flag → stop(environment)",
              m and m["kind"] == "stop" and m["reason"] == "environment"
              and m["text"].startswith("the vine needs an environment that can snapshot and restore its state"), m)
        w.close()
        s, _ = welcomed(context, endpoint)
        s.send(environment_spec(s.nonce, s.id, **dict(CARTPOLE_SPEC, snapshot=True)))
        m = s.next(seconds=30)
        check("… which did not become the run's: a spec with it → vine parameters",
              m and m["kind"] == "parameters" and m["sampler"] == 1 and m["environment"] == EXTERNAL, m)
        s.close()
    finally:
        stop_learner(learner)
        context.destroy(linger=0)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    trpo = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="trpo-conformance-") as directory:
        streaming(trpo, directory)
        deterministic(trpo, directory)
        external(trpo, directory)
        external_vine(trpo, directory)
        frames(trpo, directory)
        if FAILURES:
            for name in ("streaming", "deterministic", "external", "external-vine", "frames"):
                with open(os.path.join(directory, name + ".log")) as log:
                    print("--- %s learner log (end) ---\n%s" % (name, log.read()[-3000:]))
    print("%d check(s) failed" % len(FAILURES) if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
