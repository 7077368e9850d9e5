import Core
import Foundation
import Protocol
import Testing
import ZMQ

/// `--model FILE` through worker processes: the learner delivers the MJCF text (protocol v3's
/// model message) and the workers build their simulators from it.
@Suite(.serialized) struct CustomModelDistributedTests {
    typealias Child = DistributedTests.Child

    /// The built-in Swimmer model with its motors' gear halved (150 → 75), written to `directory`.
    static func weakSwimmer(in directory: URL) throws -> URL {
        let builtIn = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Simulators/Models/Swimmer.xml")
        let xml = try String(contentsOf: builtIn, encoding: .utf8)
        let weak = xml.replacingOccurrences(of: #"gear="150""#, with: #"gear="75""#)
        #expect(weak != xml)
        let file = directory.appendingPathComponent("weak_swimmer.xml")
        try weak.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    static let swimmer = ["--env", "Swimmer-v4", "--steps", "2048", "--batch-steps", "1024", "--vf-epochs", "2"]
    static let swimmerVine = ["--env", "Swimmer-v4", "--sampler", "vine", "--trunk-steps", "50", "--vine-states", "16",
                              "--vine-length", "20", "--steps", "3000"]

    /// A deterministic one-worker run with `--model` equals the single-process run with the
    /// same model bit for bit, and differs from the built-in model's run: the worker's
    /// rollouts use the learner's model. Single path and vine.
    @Test(arguments: [swimmer, swimmerVine])
    func oneWorkerWithACustomModelEqualsOneProcess(options: [String]) throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = try Self.weakSwimmer(in: root)
        func train(_ name: String, workers: Int, model: URL?) throws -> URL {
            let run = root.appendingPathComponent(name)
            var arguments = ["train"] + options + ["--out", run.path, "--workers", "\(workers)"]
            if workers > 0 { arguments.append("--deterministic") }
            if let model { arguments += ["--model", model.path] }
            let child = try Child(arguments, log: root.appendingPathComponent("\(name).log"))
            #expect(child.wait(seconds: 120) == 0, "\(child.output.suffix(2000))")
            if workers > 0 && model != nil {
                #expect(child.output.contains("received the learner's custom model"), "\(child.output.suffix(2000))")
            }
            return run
        }
        let local = try train("local", workers: 0, model: model)
        let one = try train("one", workers: 1, model: model)
        let builtIn = try train("builtin", workers: 1, model: nil)
        let (localRows, oneRows) = (DistributedTests.progressRows(local), DistributedTests.progressRows(one))
        #expect(localRows.count >= 2)
        #expect(VineDistributedTests.timingFree(localRows).map { $0.filter { $0.key != "workers_alive" } }
            == VineDistributedTests.timingFree(oneRows).map { $0.filter { $0.key != "workers_alive" } })
        #expect(try VineDistributedTests.policy(local) == VineDistributedTests.policy(one))
        #expect(try VineDistributedTests.policy(builtIn) != VineDistributedTests.policy(one))
    }

    /// `trpo train --model F --workers 2` runs; a remote worker that connects to a `trpo
    /// learner --model F` mid-run, without a copy of the file, gets the model and collects.
    @Test func workersFromTheStartAndLateGetTheModel() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = try Self.weakSwimmer(in: root)
        let train = try Child(["train"] + Self.swimmer + ["--model", model.path, "--workers", "2",
                                                          "--out", root.appendingPathComponent("train").path],
                              log: root.appendingPathComponent("train.log"))
        #expect(train.wait(seconds: 120) == 0, "\(train.output.suffix(2000))")
        #expect(DistributedTests.progressRows(root.appendingPathComponent("train")).last?["workers_alive"] == "2")

        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "Swimmer-v4", "--model", model.path, "--steps", "8192",
                                 "--batch-steps", "1024", "--vf-epochs", "2", "--out", run.path],
                                log: root.appendingPathComponent("learner.log"))
        let first = try Child(["worker", "--connect", endpoint, "--worker-id", "0"], log: root.appendingPathComponent("w0.log"))
        #expect(learner.waitFor("iter    2/", seconds: 60), "\(learner.output.suffix(2000))")
        let late = try Child(["worker", "--connect", endpoint, "--worker-id", "1"], log: root.appendingPathComponent("w1.log"))
        #expect(late.waitFor("received the learner's custom model", seconds: 20), "late worker: \(late.output)")
        #expect(late.waitFor("(custom model ", seconds: 20), "late worker: \(late.output)")
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(2000))")
        #expect(first.wait(seconds: 10) == 0)
        #expect(late.wait(seconds: 10) == 0)
        #expect(DistributedTests.progressRows(run).count == 8)
    }

    /// A worker whose MuJoCo cannot compile the model it is sent tells the learner why (a
    /// leave message) and exits non-zero with MuJoCo's message. The learner side is a bare
    /// ROUTER socket here: a real learner validates its model before serving.
    @Test func workerThatCannotCompileTheModelLeavesWithMuJoCosMessage() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let context = try Context()
        let learner = try Socket(context: context, type: .router)
        defer { learner.close() }
        try learner.setOption(.linger, to: 0)
        try learner.bind(endpoint)
        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "3"], log: root.appendingPathComponent("w.log"))
        func next(seconds: Double = 20) throws -> (peer: [UInt8], message: Protocol.Message)? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard let received = try learner.receive(.dontWait) else { usleep(10_000); continue }
                let frames = received.frames.map(\.bytes)
                if let message = try? WireCodec.decode(Array(frames.dropFirst())) { return (frames[0], message) }
            }
            return nil
        }
        let hello = try #require(try next())
        guard case .hello = hello.message else { Issue.record("expected a hello, got \(hello.message.kind)"); return }
        let broken = Message.Model(session: 0xAA, xml: "<mujoco><worldbody><body><geom type=\"nonsense\"/></body></worldbody></mujoco>")
        var random = RandomStream(seed: 1)
        let parameters = Message.Parameters(
            session: 0xAA, version: 0, seed: 1, environmentID: "Swimmer-v4", simulatorCount: 2, chunkSteps: 100, quota: 0,
            policy: Policy(observationSize: 8, head: .gaussian(dimensions: 2), hiddenSizes: [4], random: &random),
            normalizer: nil, stream: 3, modelHash: broken.hash)
        // The welcome, then parameters without the model: the worker asks for the model they name.
        guard case .hello(let h) = hello.message else { return }
        _ = try learner.send([hello.peer] + WireCodec.encode(.welcome(Message.Welcome(
            session: 0xAA, worker: WorkerIdentity(id: 3, nonce: h.nonce), assigned: false, heartbeatInterval: .seconds(1),
            workerTimeout: .seconds(10), softwareVersion: "test", environmentID: parameters.environmentID))))
        _ = try learner.send([hello.peer] + WireCodec.encode(.parameters(parameters)))
        var request: Protocol.Message.ModelRequest?
        while request == nil, let (_, message) = try next() {
            if case .requestModel(let r) = message { request = r }
        }
        #expect(request?.hash == broken.hash)
        _ = try learner.send([hello.peer] + WireCodec.encode(.model(broken)))
        var leave: Protocol.Message.Leave?
        while leave == nil, let (_, message) = try next() {
            if case .leave(let l) = message { leave = l }
        }
        #expect(leave?.reason == .incompatible)
        #expect(leave?.worker.id == 3)
        #expect(leave?.message.contains("MuJoCo model") == true, "\(leave?.message ?? "no leave message")")
        #expect(worker.wait(seconds: 10) == 2)
        #expect(worker.output.contains("MuJoCo model"), "\(worker.output)")
        #expect(worker.output.contains("cannot work for the learner's run"), "\(worker.output)")
    }

    /// The learner refuses model messages (only it sends them), counts the malformed one,
    /// answers a hello with the model before the parameters that name it and a model request
    /// with both, logs a worker's leave and carries on with a real worker.
    @Test func learnerSendsTheModelAndRefusesMalformedModelMessages() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = try Self.weakSwimmer(in: root)
        let endpoint = "ipc://\(root.path)/learner.sock"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "Swimmer-v4", "--model", model.path, "--steps", "3072",
                                 "--batch-steps", "1024", "--vf-epochs", "2", "--out", run.path],
                                log: root.appendingPathComponent("learner.log"))
        let context = try Context()
        let peer = try Socket(context: context, type: .dealer)
        defer { peer.close() }
        try peer.setOption(.linger, to: 0)
        try peer.connect(endpoint)
        func next(seconds: Double = 20) throws -> Protocol.Message? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard let received = try peer.receive(.dontWait) else { usleep(10_000); continue }
                // The welcome (protocol v4) comes first; this test is about what follows it.
                if let message = try? WireCodec.decode(received.frames.map(\.bytes)), message.kind != .welcome { return message }
            }
            return nil
        }
        let identity = WorkerIdentity(id: 9, nonce: 1)
        _ = try peer.send(WireCodec.encode(.hello(Message.Hello(nonce: identity.nonce, workerID: identity.id, simulatorCount: 0, environmentID: "",
                                                                softwareVersion: "test"))))
        // The model first, then the parameters naming it.
        let expectedXML = try String(contentsOf: model, encoding: .utf8)
        guard case .model(let sent) = try #require(try next()) else { Issue.record("the first reply is not the model"); return }
        #expect(sent.xml == expectedXML)
        guard case .parameters(let p) = try #require(try next()) else { Issue.record("the second reply is not parameters"); return }
        #expect(p.modelHash == sent.hash && p.modelHash == Message.Model.hash(of: expectedXML))
        // Asked again, it sends both again.
        _ = try peer.send(WireCodec.encode(.requestModel(Message.ModelRequest(worker: identity, hash: sent.hash))))
        var kinds: [MessageKind] = []
        while kinds.count < 2, let message = try next() {
            if message.kind != .heartbeat { kinds.append(message.kind) }
        }
        #expect(kinds == [.model, .parameters])
        // The worker leaves; then a model message whose hash is not its text's (malformed, which
        // would get stop(malformedMessage) and end a registration), and a well-formed one:
        // only the learner sends models.
        _ = try peer.send(WireCodec.encode(.leave(Message.Leave(worker: identity, reason: .incompatible, message: "test leaves"))))
        #expect(learner.waitFor("worker 9 left (incompatible): test leaves", seconds: 20), "\(learner.output.suffix(2000))")
        var malformed = WireCodec.encode(.model(Message.Model(session: 1, xml: "<mujoco/>")))
        malformed[0][16] ^= 1
        _ = try peer.send(malformed)
        _ = try peer.send(WireCodec.encode(.model(Message.Model(session: 1, xml: "<mujoco/>"))))

        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "0"], log: root.appendingPathComponent("w0.log"))
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(2000))")
        #expect(worker.wait(seconds: 10) == 0)
        let rows = DistributedTests.progressRows(run)
        #expect(rows.count == 3)
        let rejected = Int(rows.last?["rejected_messages"] ?? "") ?? 0
        #expect(rejected >= 2, "rejected \(rejected)\n\(learner.output.suffix(2000))")
        #expect(learner.output.contains("is not the text's hash"), "\(learner.output.suffix(2000))")
        #expect(learner.output.contains("a model message from worker 9, which only the learner sends") ||
                learner.output.contains("a model message from peer"), "\(learner.output.suffix(2000))")
    }
}
