import Core
import Foundation
import Learner
import Protocol
import Simulators
import Transport
import Sampling
import Worker
import ZMQ

/// Measurements of the distributed path: what the wire and the learner's ingest cost.
extension BenchmarkSuite {
    /// A policy of `parameters`-ish size for CartPole-like shapes (4 inputs, 2 actions).
    static func parameterMessage(observationSize: Int, head: PolicyHead, hidden: [Int], environment: String) -> Protocol.Message.Parameters {
        var random = RandomStream(seed: 5)
        let policy = Policy(observationSize: observationSize, head: head, hiddenSizes: hidden, random: &random)
        return Protocol.Message.Parameters(session: 1, version: 0, seed: 1, environmentID: environment, simulatorCount: 8,
                                  chunkSteps: 4096, quota: 0, policy: policy, normalizer: RunningNormalizer(size: observationSize))
    }

    /// Learner ingest: samples per second the learner's endpoint receives, decodes, validates
    /// and assembles from a flood of 4096-row chunks (11-float observations, 3-float actions)
    /// sent by `senders` threads over ipc, and (without CURVE) the bytes on the wire per sample.
    ///
    /// - Parameter curve: Encrypt with CURVE, the senders' key on the learner's allow-list,
    ///   as `trpo learner --curve-secret … --allow-workers …` does.
    public func ingestCapacity(senders: Int = 1, curve: Bool = false) throws -> [BenchmarkResult] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = TransportSettings()
        settings.chunkHighWaterMark = 64
        let (server, client) = (try CurveKeyPair.generate(), try CurveKeyPair.generate())
        let security = curve ? CurveServerSecurity(keys: server, allowList: [client.publicKey: "bench"], allowListSource: "bench") : nil
        let learner = try LearnerEndpoint(binding: "ipc://\(directory.path)/ingest.sock", settings: settings, curve: security)
        defer { learner.close() }
        let rows = 4096
        var batch = SampleBatch(observationSize: 11, actionWidth: 3)
        var random = RandomStream(seed: 3)
        for t in 0..<rows {
            for _ in 0..<11 { batch.observations.append(random.normal()) }
            for _ in 0..<3 { batch.actions.append(random.normal()) }
            batch.rewards.append(random.uniform())
            batch.ends.append(t % 1000 == 999 || t == rows - 1 ? .terminated : .none)
        }
        let frames = WireCodec.encode(.chunk(Protocol.Message.Chunk(worker: WorkerIdentity(id: 0, nonce: 1), session: 1, version: 0,
                                                           sequence: 0, simulatorSteps: UInt64(rows), batch: batch)))
        let rawPayload = 8 * (11 + 3 + 1) + 1  // observations, actions, reward (f64) and the end byte
        let messages = Int(400 * scale) + 1
        let endpoint = learner.boundEndpoint
        let flooders = (0..<senders).map { _ in
            Thread {
                guard let context = try? Context(), let socket = try? Socket(context: context, type: .dealer) else { return }
                try? socket.setOption(.sendHighWaterMark, to: 64)
                if curve {
                    try? socket.setOption(.curveServerKey, to: server.publicKey)
                    try? socket.setOption(.curvePublicKey, to: client.publicKey)
                    try? socket.setOption(.curveSecretKey, to: client.secretKey)
                }
                try? socket.connect(endpoint)
                let payload: [any ZMQ.FrameBytes] = frames
                for _ in 0..<(messages / senders) { _ = try? socket.send(payload) }
                Thread.sleep(forTimeInterval: 2)
                socket.close()
            }
        }
        flooders.forEach { $0.start() }
        var assembler = BatchAssembler<SampleBatch>(version: 0, targetRows: 50_000)
        var received = 0, bytes = 0, samples = 0
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        while received < (messages / senders) * senders, let message = try learner.receive(timeoutMilliseconds: 2000) {
            if start == nil { start = clock.now }  // time from the first arrival
            received += 1
            bytes += message.byteCount
            guard case .success(.chunk(let chunk)) = message.message, case .features(let batch) = chunk.batch else { continue }
            if assembler.offer(worker: chunk.worker.id, sequence: chunk.sequence, chunkVersion: chunk.version, batch: batch) == .accepted {
                samples += batch.count
            }
            if assembler.isComplete {
                _ = assembler.assemble()
                assembler = BatchAssembler<SampleBatch>(version: 0, targetRows: 50_000)
            }
        }
        let seconds = (clock.now - (start ?? clock.now)).seconds
        let rate = Double(samples) / max(seconds, 1e-9)
        let perSample = Double(bytes) / Double(max(samples, 1))
        let ingest = BenchmarkResult(
            name: "learner_ingest",
            setting: "\(received) chunks of \(rows) rows (11 obs, 3 actions) over ipc, \(senders) sender(s), " + (curve ? "CURVE" : "plaintext"),
            value: rate, unit: "samples/s", repeats: 1, minimum: rate, maximum: rate)
        if curve { return [ingest] }
        return [
            ingest,
            BenchmarkResult(name: "wire_bytes_per_sample", setting: "raw payload \(rawPayload) bytes/sample",
                            value: perSample / Double(rawPayload), unit: "× raw", repeats: 1,
                            minimum: perSample / Double(rawPayload), maximum: perSample / Double(rawPayload)),
        ]
    }

    /// Parameter broadcast: time from the learner sending a version to `workers` DEALER
    /// threads until the last of them has received and decoded it, for a policy of about
    /// `parameterCount` parameters.
    public func broadcastLatency(workers: Int, hidden: [Int]) throws -> BenchmarkResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-bench-b\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let learner = try LearnerEndpoint(binding: "ipc://\(directory.path)/broadcast.sock")
        defer { learner.close() }
        let message = Protocol.Message.parameters(BenchmarkSuite.parameterMessage(observationSize: 11, head: .gaussian(dimensions: 3),
                                                                         hidden: hidden, environment: "Hopper-v4"))
        guard case .parameters(let p) = message else { fatalError() }
        let count = p.policy.parameters.count
        let rounds = max(3, Int(50 * scale))
        let endpoint = learner.boundEndpoint
        let done = DispatchSemaphore(value: 0)
        let ready = DispatchSemaphore(value: 0)
        let threads = (0..<workers).map { w in
            Thread {
                guard let worker = try? WorkerEndpoint(connectingTo: endpoint) else { return }
                _ = try? worker.send(.requestParameters(WorkerIdentity(id: UInt32(w), nonce: 1)))
                ready.signal()
                for _ in 0..<rounds {
                    while true {
                        let r = try? worker.receive(timeoutMilliseconds: 1000)
                        if case .success(.parameters)? = r { break }
                    }
                    done.signal()
                }
                worker.close()
            }
        }
        threads.forEach { $0.start() }
        var peers: [[UInt8]] = []
        while peers.count < workers, let r = try learner.receive(timeoutMilliseconds: 5000) { peers.append(r.peer) }
        for _ in 0..<workers { ready.wait() }
        var latencies: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<rounds {
            let start = clock.now
            for peer in peers { learner.send(message, to: peer) }
            for _ in 0..<workers { done.wait() }
            latencies.append((clock.now - start).seconds * 1e3)
        }
        latencies.sort()
        return BenchmarkResult(name: "parameter_broadcast", setting: "\(count) parameters to \(workers) workers over ipc, publish → all decoded",
                               value: latencies[latencies.count / 2], unit: "ms", repeats: rounds,
                               minimum: latencies.first!, maximum: latencies.last!)
    }

    /// Aggregate sampling throughput of `workers` `trpo worker` processes streaming to a
    /// learner that only accepts (no updates), against one in-process sampler with the same
    /// copies (`workers == 0`). Rows per second over `seconds` after a warm-up.
    public func distributedSampling(environment: String, workers: Int, executable: URL, seconds: Double) throws -> BenchmarkResult {
        let probe = try EnvironmentRegistry.make(environment)
        let parameters = BenchmarkSuite.parameterMessage(observationSize: probe.observationSpace.count,
                                                         head: PolicyHead(probe.actionSpace), hidden: [64, 64],
                                                         environment: environment)
        guard case .dense(let policy) = parameters.policy else { fatalError("a dense policy was built") }
        let setting = "\(environment), 8 envs per sampler, 64x64 policy, " + (workers == 0 ? "single process" : "\(workers) worker process(es) over ipc")
        if workers == 0 {
            let simulators = try (0..<8).map { _ in try EnvironmentRegistry.make(environment) }
            let sampler = SinglePathSampler(simulators: simulators, policy: policy, normalizer: parameters.normalizer,
                                            seed: 1, stream: 0)
            _ = sampler.collect(steps: 4096)
            let clock = ContinuousClock()
            let start = clock.now
            var rows = 0
            while (clock.now - start).seconds < seconds { rows += sampler.collect(steps: 4096).count }
            let rate = Double(rows) / (clock.now - start).seconds
            return BenchmarkResult(name: "sampling_aggregate", setting: setting, value: rate, unit: "steps/s", repeats: 1, minimum: rate, maximum: rate)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-bench-s\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = TransportSettings()
        settings.chunkHighWaterMark = 8
        let learner = try LearnerEndpoint(binding: "ipc://\(directory.path)/sampling.sock", settings: settings)
        let processes = try (0..<workers).map { id in
            let process = Process()
            process.executableURL = executable
            process.arguments = ["worker", "--connect", learner.boundEndpoint, "--worker-id", "\(id)", "--envs", "8"]
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        defer {
            for p in processes where p.isRunning { p.terminate() }
            for p in processes { p.waitUntilExit() }
            learner.close()
        }
        let clock = ContinuousClock()
        var rows = 0
        var measuring: ContinuousClock.Instant?
        let warmUp = clock.now
        while true {
            let now = clock.now
            if measuring == nil && (now - warmUp).seconds > 1 { measuring = now; rows = 0 }
            if let m = measuring, (now - m).seconds >= seconds { break }
            guard let r = try learner.receive(timeoutMilliseconds: 100) else { continue }
            switch r.message {
            case .success(.hello(let hello)):
                // A worker takes parameters only after the welcome that names its id (protocol §4.3).
                let worker = WorkerIdentity(id: hello.workerID ?? 0, nonce: hello.nonce)
                learner.send(.welcome(Protocol.Message.Welcome(
                    session: parameters.session, worker: worker, assigned: false, heartbeatInterval: .seconds(1),
                    workerTimeout: .seconds(10), softwareVersion: "trpo bench", environmentID: parameters.environmentID)), to: r.peer)
                learner.send(.parameters(parameters), to: r.peer)
            case .success(.chunk(let chunk)):
                rows += chunk.batch.count
            default:
                break
            }
        }
        let rate = Double(rows) / (clock.now - measuring!).seconds
        for p in processes { p.terminate() }
        return BenchmarkResult(name: "sampling_aggregate", setting: setting, value: rate, unit: "steps/s", repeats: 1, minimum: rate, maximum: rate)
    }
}
