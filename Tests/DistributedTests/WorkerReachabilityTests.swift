import Core
import Foundation
import Protocol
import Testing
import ZMQ

/// `trpo worker` against a learner that is absent, unresolvable or shared: what it says, how
/// long it tries, and how it exits (issue 11). Real processes, real sockets.
@Suite(.serialized) struct WorkerReachabilityTests {
    typealias Child = DistributedTests.Child

    @Test func nothingListeningIsNamedAndGivenUpOnAfterTheConnectTimeout() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let worker = try Child(["worker", "--connect", endpoint, "--connect-timeout", "2"], log: root.appendingPathComponent("tcp.log"))
        #expect(worker.wait(seconds: 60) == 2, "\(worker.output)")
        let lines = worker.output.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.contains("cannot reach") } == ["worker: cannot reach \(endpoint): connection refused (is the learner running?); retrying (gives up after --connect-timeout 2 s without a learner)"],
                "one line per distinct reason:\n\(worker.output)")
        #expect(lines.last == "error: gave up on the learner at \(endpoint) after 2 s (--connect-timeout): connection refused (is the learner running?)",
                "\(worker.output)")
        #expect(!worker.output.contains("no word from the learner"), "\(worker.output)")

        // The same over ipc, with no socket file.
        let path = root.appendingPathComponent("nobody.sock").path
        let ipc = try Child(["worker", "--connect", "ipc://\(path)", "--connect-timeout", "1"], log: root.appendingPathComponent("ipc.log"))
        #expect(ipc.wait(seconds: 60) == 2, "\(ipc.output)")
        #expect(ipc.output.contains("cannot reach ipc://\(path): no socket file \(path) (is the learner running?)"), "\(ipc.output)")
    }

    @Test func anUnknownHostIsNamed() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // .invalid never resolves (RFC 6761); without a resolver the lookup fails too.
        let worker = try Child(["worker", "--connect", "tcp://no-such-host.invalid:5598", "--connect-timeout", "2"],
                               log: root.appendingPathComponent("worker.log"))
        #expect(worker.wait(seconds: 60) == 2, "\(worker.output)")
        #expect(worker.output.contains("worker: cannot reach tcp://no-such-host.invalid:5598: unknown host no-such-host.invalid ("),
                "\(worker.output)")
        #expect(worker.output.contains("error: gave up on the learner at tcp://no-such-host.invalid:5598 after 2 s (--connect-timeout): unknown host"),
                "\(worker.output)")
    }

    @Test func aSignalBeforeReachingALearnerIsAFailure() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        for (signal, status) in [(SIGTERM, 143), (SIGINT, 130)] {
            let worker = try Child(["worker", "--connect", endpoint], log: root.appendingPathComponent("worker-\(signal).log"))
            #expect(worker.waitFor("cannot reach", seconds: 30), "\(worker.output)")
            worker.signal(signal)
            #expect(worker.wait(seconds: 30) == Int32(status), "\(worker.output)")
            let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
            #expect(worker.output.contains("error: stopped by \(name) before reaching a learner at \(endpoint)"), "\(worker.output)")
            #expect(!worker.output.contains("sent 0 chunks"), "\(worker.output)")
        }
    }

    @Test func workersWithoutIdsGetDistinctOnesFromTheLearner() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let run = root.appendingPathComponent("run")
        // The workers start first: they wait for the learner.
        let workers = try (0..<2).map { i in
            try Child(["worker", "--connect", endpoint], log: root.appendingPathComponent("worker\(i).log"))
        }
        #expect(workers.allSatisfy { $0.waitFor("connection refused", seconds: 30) })
        // A run far longer than needed, stopped once both have joined it: a short one could end
        // between one worker's retries (up to 2 s apart) while the other did all of its work.
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "100000000",
                                 "--batch-steps", "2048", "--out", run.path, "--quiet"], log: root.appendingPathComponent("learner.log"))
        for worker in workers { #expect(worker.waitFor("assigned by the learner", seconds: 60), "\(worker.output)") }
        let deadline = Date().addingTimeInterval(60)
        while DistributedTests.progressRows(run).last?["workers_alive"] != "2" && Date() < deadline { usleep(50_000) }
        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 60) != nil, "\(learner.output.suffix(2000))")
        var ids: [String] = []
        for worker in workers {
            #expect(worker.wait(seconds: 30) == 0, "\(worker.output)")
            // "worker 1: registered with learner session 5e55… (id 1 assigned by the learner); …"
            let id = worker.output.components(separatedBy: "(id ").dropFirst().first?.components(separatedBy: " assigned by the learner").first
            ids.append(id ?? "none")
            // Its sampler streams come from its id.
            #expect(worker.output.contains("stream \(id ?? "?"), single-path"), "\(worker.output)")
            #expect(worker.output.contains("worker \(id ?? "?"): sent "), "\(worker.output)")
        }
        #expect(Set(ids) == ["0", "1"], "\(ids)")
        #expect(DistributedTests.progressRows(run).last?["workers_alive"] == "2")
    }

    @Test func aDeterministicRunRefusesIdsOutsideItsSet() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--deterministic", "--workers", "1",
                                 "--steps", "100000000", "--out", root.appendingPathComponent("run").path],
                                log: root.appendingPathComponent("learner.log"))
        let stranger = try Child(["worker", "--connect", endpoint, "--worker-id", "5"], log: root.appendingPathComponent("worker.log"))
        #expect(stranger.wait(seconds: 60) == 2, "\(stranger.output)")
        #expect(stranger.output.contains("error: the learner refused this worker: unexpectedWorker: deterministic run with worker ids 0..<1"),
                "\(stranger.output)")
        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 30) != nil)
    }
}

/// `trpo worker` against a scripted learner: a bare ROUTER socket that answers its hello as
/// docs/protocol.md §3.13 and §4.3 say, including what the Swift learner does not do yet.
@Suite(.serialized) struct WorkerIdentityTests {
    typealias Child = DistributedTests.Child

    /// A ROUTER bound at an ipc endpoint in `root`, and a way to read the next message.
    final class ScriptedLearner {
        let context: Context
        let socket: Socket
        let endpoint: String
        init(in root: URL) throws {
            context = try Context()
            socket = try Socket(context: context, type: .router)
            try socket.setOption(.linger, to: 0)
            endpoint = "ipc://\(root.path)/learner.sock"
            try socket.bind(endpoint)
        }
        deinit { socket.close() }
        func next(seconds: Double = 30) throws -> (peer: [UInt8], message: Protocol.Message)? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard let received = try socket.receive(.dontWait) else { usleep(10_000); continue }
                let frames = received.frames.map(\.bytes)
                if let message = try? WireCodec.decode(Array(frames.dropFirst())) { return (frames[0], message) }
            }
            return nil
        }
        func send(_ message: Protocol.Message, to peer: [UInt8]) throws {
            _ = try socket.send([peer] + WireCodec.encode(message))
        }
    }

    @Test func aDuplicateIdIsRefusedAndTheWorkerExitsNonZero() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let learner = try ScriptedLearner(in: root)
        let worker = try Child(["worker", "--connect", learner.endpoint, "--worker-id", "3"], log: root.appendingPathComponent("w.log"))
        let hello = try #require(try learner.next())
        guard case .hello(let h) = hello.message else { Issue.record("expected a hello, got \(hello.message.kind)"); return }
        #expect(h.workerID == 3)
        try learner.send(.stop(Message.Stop(session: 0xAA, reason: .duplicateWorker, message: "worker 3 is held by a live connection")),
                         to: hello.peer)
        #expect(worker.wait(seconds: 30) == 2, "\(worker.output)")
        #expect(worker.output.contains("error: the learner refused this worker: duplicateWorker: worker 3 is held by a live connection"),
                "\(worker.output)")
    }

    @Test func theWorkerTakesTheIdOfTheWelcomeForItsNonce() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let learner = try ScriptedLearner(in: root)
        let worker = try Child(["worker", "--connect", learner.endpoint, "--envs", "2"], log: root.appendingPathComponent("w.log"))
        let hello = try #require(try learner.next())
        guard case .hello(let h) = hello.message else { Issue.record("expected a hello, got \(hello.message.kind)"); return }
        #expect(h.workerID == nil, "a worker without --worker-id asks for one")
        func welcome(id: UInt32, nonce: UInt64) -> Protocol.Message {
            .welcome(Message.Welcome(session: 0xAA, worker: WorkerIdentity(id: id, nonce: nonce), assigned: true,
                                     heartbeatInterval: .milliseconds(200), workerTimeout: .seconds(10), softwareVersion: "test",
                                     environmentID: "CartPole-v1"))
        }
        // A welcome for another process is ignored; the one for this hello's nonce is taken.
        try learner.send(welcome(id: 5, nonce: h.nonce &+ 1), to: hello.peer)
        try learner.send(welcome(id: 7, nonce: h.nonce), to: hello.peer)
        var random = RandomStream(seed: 1)
        let parameters = Message.Parameters(
            session: 0xAA, version: 1, seed: 1, environmentID: "CartPole-v1", simulatorCount: 2, chunkSteps: 64, quota: 64,
            policy: Policy(observationSize: 4, head: .categorical(actions: 2), hiddenSizes: [8], random: &random),
            normalizer: nil, stream: 7)
        // A quota of one chunk: then the worker only heartbeats, at the welcome's interval.
        try learner.send(.parameters(parameters), to: hello.peer)
        var chunk: Protocol.Message.Chunk?
        var heartbeat: Protocol.Message.Heartbeat?
        while chunk == nil || heartbeat == nil, let (_, message) = try learner.next() {
            switch message {
            case .chunk(let c): chunk = c
            case .heartbeat(let b): heartbeat = b
            default: break
            }
        }
        #expect(chunk?.worker == WorkerIdentity(id: 7, nonce: h.nonce) && chunk?.version == 1)
        #expect(heartbeat?.sender == .worker(WorkerIdentity(id: 7, nonce: h.nonce)) && heartbeat?.version == 1)
        try learner.send(.stop(Message.Stop(session: 0xAA, reason: .finished, message: "")), to: hello.peer)
        #expect(worker.wait(seconds: 30) == 0, "\(worker.output)")
        #expect(worker.output.contains("ignoring a welcome for another worker process"), "\(worker.output)")
        #expect(worker.output.contains("worker 7: registered with learner session aa (id 7 assigned by the learner)"), "\(worker.output)")
        #expect(worker.output.contains("worker 7: 2 × CartPole-v1, seed 1, stream 7, single-path"), "\(worker.output)")
    }
}
