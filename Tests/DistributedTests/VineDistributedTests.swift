import Core
import Foundation
import Protocol
import Testing
import ZMQ

/// Vine runs through real worker processes (the paper's §5.2 with distributed sampling).
@Suite(.serialized) struct VineDistributedTests {
    typealias Child = DistributedTests.Child

    /// CartPole vine settings that solve it in about 15 iterations (docs/variance.md).
    static let cartPoleVine = ["--env", "CartPole-v1", "--sampler", "vine", "--trunk-steps", "600", "--vine-states", "200",
                               "--vine-length", "100"]
    /// A few small, fast vine iterations.
    static let smallVine = ["--env", "CartPole-v1", "--sampler", "vine", "--trunk-steps", "100", "--vine-states", "50",
                            "--vine-length", "50", "--steps", "20000", "--vine-bootstrap", "value"]

    static let timingColumns: Set<String> = ["wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds",
                                             "samples_per_second", "bytes_received"]

    static func timingFree(_ rows: [[String: String]]) -> [[String: String]] {
        rows.map { $0.filter { !timingColumns.contains($0.key) } }
    }

    static func policy(_ directory: URL) throws -> [Double] {
        let data = try Data(contentsOf: directory.appendingPathComponent("checkpoint.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let policy = try #require(json["policy"] as? [String: Any])
        let network = try #require(policy["network"] as? [String: Any])
        return try #require(network["parameters"] as? [Double])
    }

    @Test func vineLearnerAndTwoWorkersOverTCPSolveCartPole() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint] + Self.cartPoleVine + ["--steps", "900000", "--out", run.path, "--quiet"],
                                log: root.appendingPathComponent("learner.log"))
        // One worker insists on the vine, the other follows the learner.
        let workers = try [["--sampler", "vine"], []].enumerated().map { i, extra in
            try Child(["worker", "--connect", endpoint, "--worker-id", "\(i)"] + extra, log: root.appendingPathComponent("worker\(i).log"))
        }
        #expect(learner.wait(seconds: 240) == 0, "\(learner.output.suffix(2000))")
        for w in workers { #expect(w.wait(seconds: 10, "after the learner finished") == 0) }
        let rows = DistributedTests.progressRows(run)
        let best = rows.compactMap { Double($0["episode_return_mean"] ?? "") }.max() ?? 0
        #expect(best >= 475, "best iteration mean return \(best)")
        #expect(rows.last?["workers_alive"] == "2")
        // Both workers' states went into the batches: N = 200 states per iteration.
        #expect(rows.allSatisfy { Int($0["vine_states"] ?? "") ?? 0 >= 200 })

        // The same columns as a single-process vine run.
        let local = root.appendingPathComponent("local")
        let child = try Child(["train"] + Self.smallVine + ["--out", local.path, "--quiet"], log: root.appendingPathComponent("local.log"))
        #expect(child.wait(seconds: 60) == 0)
        #expect(Set(DistributedTests.progressRows(local).first?.keys ?? [:].keys) == Set(rows.first?.keys ?? [:].keys))
    }

    /// With `--deterministic`, one worker collects exactly what the single process collects
    /// (stream 0, collection index = version), so rows and parameters are identical, although
    /// the learner fits V beside the next collection and the single process in line; two
    /// workers repeat themselves.
    @Test func deterministicVineRunsRepeatAndOneWorkerEqualsOneProcess() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func train(_ name: String, workers: Int) throws -> URL {
            let run = root.appendingPathComponent(name)
            var arguments = ["train"] + Self.smallVine + ["--out", run.path, "--quiet", "--workers", "\(workers)"]
            if workers > 0 { arguments.append("--deterministic") }
            let child = try Child(arguments, log: root.appendingPathComponent("\(name).log"))
            #expect(child.wait(seconds: 120) == 0, "\(child.output.suffix(2000))")
            return run
        }
        let local = try train("local", workers: 0), one = try train("one", workers: 1)
        let localRows = DistributedTests.progressRows(local), oneRows = DistributedTests.progressRows(one)
        #expect(localRows.count >= 5)
        // workers_alive is 0 in one process, 1 with a worker; everything else agrees.
        #expect(Self.timingFree(localRows).map { $0.filter { $0.key != "workers_alive" } }
            == Self.timingFree(oneRows).map { $0.filter { $0.key != "workers_alive" } })
        #expect(try Self.policy(local) == Self.policy(one))
        // The worker's vine chunks carried the trunks and the branch ends (protocol v6): the
        // value function was fitted on the trunks and the cut share is known, as in one process.
        #expect(oneRows.allSatisfy { Double($0["explained_variance"] ?? "")?.isFinite == true })
        #expect(oneRows.allSatisfy { (Double($0["vine_cut_share"] ?? "") ?? -1) >= 0 })

        let a = try train("a", workers: 2), b = try train("b", workers: 2)
        #expect(!DistributedTests.progressRows(a).isEmpty)
        #expect(Self.timingFree(DistributedTests.progressRows(a)) == Self.timingFree(DistributedTests.progressRows(b)))
        #expect(try Self.policy(a) == Self.policy(b))
    }

    @Test func workerWhoseSamplerDisagreesExitsWithAClearError() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let learner = try Child(["learner", "--bind", endpoint] + Self.smallVine + ["--out", root.appendingPathComponent("run").path],
                                log: root.appendingPathComponent("learner.log"))
        let worker = try Child(["worker", "--connect", endpoint, "--sampler", "single-path"], log: root.appendingPathComponent("w.log"))
        #expect(worker.wait(seconds: 20) == 2, "\(worker.output)")
        #expect(worker.output.contains("error: this worker cannot work for the learner's run: the learner's run samples vine; this worker was started with --sampler single-path"),
                "\(worker.output)")
        let misspelt = try Child(["worker", "--connect", endpoint, "--sampler", "vines"], log: root.appendingPathComponent("w2.log"))
        #expect(misspelt.wait(seconds: 20) == 64)  // a usage error, caught by the parser
        #expect(misspelt.output.contains("The value 'vines' is invalid for '--sampler <sampler>'"), "\(misspelt.output)")
        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 10) != nil)
    }

    /// A registered peer sending vine chunks that do not fit the run (wrong K, a single-path
    /// chunk) and an undecodable one (NaN Q̂): all refused and counted, and the run completes.
    @Test func malformedVineChunksAreRejectedAndCounted() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint] + Self.smallVine + ["--worker-timeout", "1", "--out", run.path],
                                log: root.appendingPathComponent("learner.log"))
        let context = try Context()
        let attacker = try Socket(context: context, type: .dealer)
        defer { attacker.close() }
        try attacker.setOption(.linger, to: 0)
        try attacker.connect(endpoint)
        let identity = WorkerIdentity(id: 9, nonce: 1)
        try attacker.send(WireCodec.encode(.hello(Message.Hello(nonce: identity.nonce, workerID: identity.id, simulatorCount: 0, environmentID: "",
                                                                softwareVersion: "attacker"))))
        // Wait for the parameters, to learn the session.
        var session: UInt64?
        let deadline = Date().addingTimeInterval(20)
        while session == nil, Date() < deadline {
            guard let message = try attacker.receive(.dontWait) else { usleep(10_000); continue }
            if case .parameters(let p) = try? WireCodec.decode(message.frames.map(\.bytes)) {
                #expect(p.sampling.kind == .vine)
                session = p.session
            }
        }
        let current = try #require(session)
        // K = 3 where CartPole's vine enumerates its 2 actions.
        var wrongK = VineBatch(observationSize: 4, actionWidth: 1, actionsPerState: 3, estimator: .enumeratedActions)
        wrongK.observations = [0.1, 0.2, 0.3, 0.4]
        wrongK.actions = [0, 1, 2]
        wrongK.branchReturns = [1, 2, 3]
        wrongK.oldLogProbabilities = [-1, -1, -1]
        wrongK.branchLengths = [1, 1, 1]
        wrongK.branchEnds = [.terminated, .terminated, .terminated]
        wrongK.trunks = SampleBatchFixture.make(rows: 10, observationSize: 4)
        try attacker.send(WireCodec.encode(.vineChunk(Message.VineChunk(worker: identity, session: current, version: 0,
                                                                          sequence: 0, batch: wrongK))))
        // A single-path chunk in a vine run.
        try attacker.send(WireCodec.encode(.chunk(Message.Chunk(worker: identity, session: current, version: 0, sequence: 1,
                                                                simulatorSteps: 4, batch: SampleBatchFixture.make(rows: 4, observationSize: 4)))))
        // A vine chunk of the right shape whose branch returns are NaN.
        var fitting = VineBatch(observationSize: 4, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        fitting.observations = [0.1, 0.2, 0.3, 0.4]
        fitting.actions = [0, 1]
        fitting.branchReturns = [1, 2]
        fitting.oldLogProbabilities = [-0.7, -0.7]
        fitting.branchLengths = [1, 1]
        fitting.branchEnds = [.terminated, .terminated]
        fitting.trunks = SampleBatchFixture.make(rows: 10, observationSize: 4)
        var frames = WireCodec.encode(.vineChunk(Message.VineChunk(worker: identity, session: current, version: 0, sequence: 2,
                                                                   batch: fitting)))
        frames[3] = [Double.nan, .nan].withUnsafeBytes { Array($0) }
        try attacker.send(frames)
        attacker.close()

        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "0"], log: root.appendingPathComponent("w0.log"))
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(2000))")
        #expect(worker.wait(seconds: 10) == 0)
        let rows = DistributedTests.progressRows(run)
        #expect(rows.count >= 5)
        let rejected = Int(rows.last?["rejected_messages"] ?? "") ?? 0
        #expect(rejected >= 3, "rejected \(rejected)\n\(learner.output.suffix(2000))")
        #expect(learner.output.contains("sent a vine chunk of K = 3"), "\(learner.output.suffix(2000))")
        #expect(learner.output.contains("sent a single-path chunk; this run samples vine"))
        #expect(learner.output.contains("branchReturns[0] is not finite"))
    }

    /// `trpo variance --workers 2` farms the replicates' collections out and gets the same
    /// estimates bit for bit: each replicate's streams derive from (seed, replicate), not
    /// from the worker that collects it.
    @Test func varianceThroughWorkersEqualsOneProcess() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func study(workers: Int) throws -> [[String: Any]] {
            let out = root.appendingPathComponent("w\(workers)")
            let child = try Child(["variance", "--env", "CartPole-v1", "--replicates", "3", "--budget", "1000",
                                   "--workers", "\(workers)", "--out", out.path], log: root.appendingPathComponent("w\(workers).log"))
            #expect(child.wait(seconds: 120) == 0, "\(child.output.suffix(2000))")
            let data = try Data(contentsOf: out.appendingPathComponent("variance.json"))
            let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            return rows.map { $0.filter { $0.key != "wall_seconds" } }
        }
        let local = try study(workers: 0), farmed = try study(workers: 2)
        #expect(local.count == 3)
        #expect(local.map { NSDictionary(dictionary: $0) } == farmed.map { NSDictionary(dictionary: $0) })
    }
}
