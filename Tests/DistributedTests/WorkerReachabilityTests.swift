import Foundation
import Testing

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
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "8192", "--batch-steps", "2048",
                                 "--out", run.path, "--quiet"], log: root.appendingPathComponent("learner.log"))
        #expect(learner.wait(seconds: 240) == 0, "\(learner.output.suffix(2000))")
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
