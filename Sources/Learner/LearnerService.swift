import Core
import Foundation
import Protocol
import Simulators
import Transport

/// How the learner serves workers (`trpo learner …`).
public struct LearnerConfiguration: Sendable {
    /// Where workers connect, e.g. `tcp://0.0.0.0:5555` or `ipc:///tmp/trpo.sock`.
    public var endpoint: String
    /// Deterministic mode: exactly these many workers, with ids `0..<N`, each collect a fixed
    /// share of every batch, assembled in (worker id, sequence) order.
    public var deterministicWorkers: Int?
    /// A worker silent this long (while the learner listens) is declared gone.
    public var workerTimeout: Duration = .seconds(10)
    /// The learner's own heartbeat to workers.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Streaming mode: a batch that gains no rows for this long gets top-up quotas sent.
    public var stallTimeout: Duration = .milliseconds(500)
    public var transport = TransportSettings()
    /// CURVE encryption with an allow-list of worker keys (nil: plaintext, anyone who can
    /// reach the endpoint may take part).
    public var curve: CurveServerSecurity?

    public init(endpoint: String) { self.endpoint = endpoint }
}

/// The central learner: serves parameters to workers over one ROUTER socket, assembles each
/// iteration's batch from the chunks of the current version, runs the update, checkpoints,
/// and publishes the next version, until the step budget is spent.
///
/// Single-threaded: while an update runs no message is read (they queue in the socket), and
/// workers' silence during that time is forgiven.
public final class LearnerService {
    public let configuration: LearnerConfiguration
    private var session: TrainingSession
    private let endpoint: LearnerEndpoint
    private let log: @Sendable (LogLevel, String) -> Void
    private let clock = ContinuousClock()
    /// Random per learner process: chunks from a previous process are never current.
    private let sessionID: UInt64
    private var registry: WorkerRegistry
    private var assembler: BatchAssembler<IterationBatch>
    private var counters = TransportCounters()
    private var cachedParameters: Message.Parameters?
    /// The run's custom MuJoCo model (nil: the built-in one), sent to every worker after its
    /// hello and on request; parameters name it by hash.
    private let model: Message.Model?
    private var batchStarted: ContinuousClock.Instant
    private var lastHeartbeat: ContinuousClock.Instant
    private var heartbeatSequence: UInt64 = 0
    /// When a chunk was last accepted (or the current version published).
    private var lastProgress: ContinuousClock.Instant
    /// How long the current version's first chunk took: a batch counts as stalled only after
    /// a silence longer than this too (a vine collection takes seconds, and a top-up to a
    /// worker that finished first would compete for the CPU with the others' collections).
    private var quickestChunk: Duration?
    /// Streaming mode: rows each worker may collect with the current version, and rows
    /// accepted from it. Each worker gets an equal share of the batch; when the batch stalls
    /// (see ``LearnerConfiguration/stallTimeout``) the living get top-ups, so a dead worker's
    /// share moves to them, and nobody samples past the batch while the learner updates.
    private var streamingQuota: [UInt32: Int] = [:]
    private var acceptedRows: [UInt32: Int] = [:]
    /// Workers declared gone (silent or disconnected), so a return is logged as one.
    private var departed: Set<UInt32> = []

    /// The endpoint actually bound (a wildcard tcp port resolved).
    public var boundEndpoint: String { endpoint.boundEndpoint }
    public var state: TrainerState { session.state }
    /// Connections refused by CURVE so far (see ``LearnerEndpoint/refusedConnections``).
    public var refusedConnections: Int { endpoint.refusedConnections }

    /// Binds the endpoint (behind CURVE and its allow-list when configured).
    /// - Parameter log: Progress and warnings (rejections, workers gone, refusals); called from
    ///   the learner's thread and, for refused connections, from the CURVE door keeper's.
    public init(configuration: LearnerConfiguration, session: TrainingSession,
                log: @escaping @Sendable (LogLevel, String) -> Void) throws {
        self.configuration = configuration
        self.session = session
        self.log = log
        endpoint = try LearnerEndpoint(binding: configuration.endpoint, settings: configuration.transport,
                                       curve: configuration.curve, log: { log(.warning, $0) })
        var system = SystemRandomNumberGenerator()
        let sessionID: UInt64 = system.next()
        self.sessionID = sessionID
        model = session.configuration.modelXML.map { Message.Model(session: sessionID, xml: $0) }
        registry = WorkerRegistry(timeout: configuration.workerTimeout)
        assembler = BatchAssembler(version: 0, targetRows: 0)
        batchStarted = clock.now
        lastHeartbeat = clock.now
        lastProgress = clock.now
        assembler = makeAssembler()
    }

    private var version: UInt64 { UInt64(session.state.iteration) }

    private func makeAssembler() -> BatchAssembler<IterationBatch> {
        let rows = session.nextBatchRows
        if let n = configuration.deterministicWorkers {
            return BatchAssembler(version: version, quotas: evenQuotas(rows: rows, workers: n))
        }
        return BatchAssembler(version: version, targetRows: rows)
    }

    /// Serves until the run is finished or a stop is requested; then tells every worker.
    /// - Parameter report: called after each iteration.
    public func run(report: (IterationStatistics, TransportCounters, _ wallSeconds: Double) -> Void) throws {
        let security = configuration.curve.map { "CURVE, allow-list of \($0.allowList.count) key(s) from \($0.allowListSource)" } ?? "no CURVE"
        log(.progress, "learner: listening on \(endpoint.boundEndpoint) (\(session.configuration.environment), "
            + (configuration.deterministicWorkers.map { "deterministic, \($0) workers" } ?? "streaming") + ", \(security))")
        while !session.isFinished {
            if StopRequest.isRaised {
                log(.progress, "learner: stop requested; telling workers")
                broadcastStop(.interrupted, "the learner was interrupted")
                return
            }
            if let received = try endpoint.receive(timeoutMilliseconds: 50) {
                handle(received)
            }
            housekeeping()
            if assembler.isComplete {
                let statistics = try finishIteration()
                report(statistics, counters, session.wallSeconds)
            }
        }
        broadcastStop(.finished, "the run is finished")
        log(.progress, "learner: run finished after \(session.state.iteration) iterations")
    }

    // MARK: - Messages

    private func handle(_ received: LearnerEndpoint.Received) {
        counters.bytesReceived += received.byteCount
        let peer = received.peer
        let now = clock.now
        let message: Message
        switch received.message {
        case .failure(let error):
            reject("undecodable message from \(describe(peer)): \(error)")
            return
        case .success(let m):
            message = m
        }
        switch message {
        case .hello(let hello):
            register(hello, peer: peer, now: now)
        case .requestParameters(let worker):
            guard let record = registry.record(peer: peer), record.workerID == worker.id else {
                endpoint.send(.reject(rejection(.notRegistered, sequence: nil)), to: peer)
                return
            }
            registry.heard(peer: peer, now: now)
            sendParameters(to: record)
        case .chunk(let chunk):
            accept(.singlePath(chunk.batch), from: chunk.worker, session: chunk.session, version: chunk.version,
                   sequence: chunk.sequence, peer: peer, now: now)
        case .vineChunk(let chunk):
            accept(.vine(chunk.batch), from: chunk.worker, session: chunk.session, version: chunk.version,
                   sequence: chunk.sequence, peer: peer, now: now)
        case .heartbeat:
            if !registry.heard(peer: peer, now: now) {
                endpoint.send(.reject(rejection(.notRegistered, sequence: nil)), to: peer)
            }
        case .requestModel(let request):
            guard let record = registry.record(peer: peer), record.workerID == request.worker.id else {
                endpoint.send(.reject(rejection(.notRegistered, sequence: nil)), to: peer)
                return
            }
            registry.heard(peer: peer, now: now)
            if let model {
                if request.hash != model.hash {
                    log(.warning, "learner: worker \(record.workerID) asked for model \(String(request.hash, radix: 16)); this run's is \(String(model.hash, radix: 16))")
                }
                deliver(.model(model), to: record)
            }
            // The current parameters name the model this run uses (or the built-in one).
            sendParameters(to: record)
        case .leave(let leave):
            guard let record = registry.record(peer: peer), record.workerID == leave.worker.id else {
                reject("a leave message from unregistered \(describe(peer)): \(leave.message)")
                return
            }
            registry.remove(peer: peer)
            departed.insert(record.workerID)
            log(.warning, "learner: worker \(record.workerID) left (\(leave.reason)): \(leave.message); \(registry.aliveCount) alive")
        case .parameters, .stop, .reject, .model, .welcome:
            reject("a \(message.kind) message from \(describe(peer)), which only the learner sends")
        }
    }

    private func register(_ hello: Message.Hello, peer: [UInt8], now: ContinuousClock.Instant) {
        let run = session.configuration.environment
        let held = Set(registry.records.filter { $0.peer != peer }.map(\.workerID))
        let assigned = hello.workerID == nil
        let worker = WorkerIdentity(id: hello.workerID ?? (0...).lazy.map(UInt32.init).first { !held.contains($0) }!,
                                    nonce: hello.nonce)
        if !hello.environmentID.isEmpty && hello.environmentID != run {
            reject("worker \(worker.id) wants \(hello.environmentID); this run is \(run)")
            endpoint.send(.stop(Message.Stop(session: sessionID, reason: .environment,
                                             message: "this learner runs \(run), not \(hello.environmentID)")), to: peer)
            return
        }
        if let n = configuration.deterministicWorkers, worker.id >= n {
            reject("worker \(worker.id) is not one of the \(n) workers of this deterministic run")
            endpoint.send(.stop(Message.Stop(session: sessionID, reason: .unexpectedWorker,
                                             message: "deterministic run with worker ids 0..<\(n)")), to: peer)
            return
        }
        let copies = hello.simulatorCount > 0 ? hello.simulatorCount : session.configuration.environmentsPerSampler
        let previous = registry.register(peer: peer, workerID: worker.id, nonce: worker.nonce,
                                         environments: copies, now: now)
        if let previous, previous.nonce != worker.nonce {
            log(.progress, "learner: worker \(worker.id) restarted (new process) and registered again")
        } else if previous != nil {
            log(.progress, "learner: worker \(worker.id) reconnected")
        } else if departed.remove(worker.id) != nil {
            log(.progress, "learner: worker \(worker.id) is back after being declared gone; \(registry.aliveCount) alive")
        } else {
            log(.progress, "learner: worker \(worker.id) joined (\(copies) × \(run), \(hello.softwareVersion)); \(registry.aliveCount) alive")
        }
        let record = registry.record(peer: peer)!
        deliver(.welcome(Message.Welcome(session: sessionID, worker: worker, assigned: assigned,
                                         heartbeatInterval: configuration.heartbeatInterval,
                                         workerTimeout: configuration.workerTimeout, softwareVersion: "trpo")), to: record)
        // The model first: the parameters that name it arrive after it on the same connection.
        if let model { deliver(.model(model), to: record) }
        sendParameters(to: record)
    }

    /// A chunk of either kind: registered sender, fits the run, current session and version.
    private func accept(_ batch: IterationBatch, from worker: WorkerIdentity, session chunkSession: UInt64,
                        version chunkVersion: UInt64, sequence: UInt64, peer: [UInt8], now: ContinuousClock.Instant) {
        guard let record = registry.record(peer: peer), record.workerID == worker.id else {
            reject("a chunk from unregistered \(describe(peer))")
            endpoint.send(.reject(rejection(.notRegistered, sequence: sequence)), to: peer)
            return
        }
        registry.heard(peer: peer, now: now)
        if let misfit = batch.misfit(policy: session.state.policy, sampling: session.configuration.sampling) {
            reject("worker \(worker.id) sent \(misfit)")
            return
        }
        guard chunkSession == sessionID else {
            counters.staleSamplesDropped += batch.rows
            endpoint.send(.reject(rejection(.staleParameters, sequence: sequence)), to: peer)
            return
        }
        switch assembler.offer(worker: worker.id, sequence: sequence, chunkVersion: chunkVersion, batch: batch) {
        case .accepted:
            lastProgress = now
            quickestChunk = quickestChunk ?? now - batchStarted
            acceptedRows[worker.id, default: 0] += batch.rows
        case .stale, .surplus:
            counters.staleSamplesDropped += batch.rows
        case .fromTheFuture:
            reject("worker \(worker.id) sent a chunk of version \(chunkVersion), ahead of \(version)")
        }
    }

    private func reject(_ reason: String) {
        counters.rejectedMessages += 1
        log(.warning, "learner: rejected \(reason)")
    }

    private func rejection(_ reason: RejectReason, sequence: UInt64?) -> Message.Reject {
        Message.Reject(session: sessionID, currentVersion: version, reason: reason, sequence: sequence, message: "")
    }

    private func describe(_ peer: [UInt8]) -> String {
        if let record = registry.record(peer: peer) { return "worker \(record.workerID)" }
        return "peer " + peer.map { String($0, radix: 16) }.joined()
    }

    // MARK: - Parameters and liveness

    private func currentParameters() -> Message.Parameters {
        if let cached = cachedParameters, cached.version == version { return cached }
        let c = session.configuration
        // Streaming: each live worker's equal share of the batch in one chunk (few episode cuts,
        // nothing collected past the target); deterministic: the same chunks as one process.
        let bounds = c.chunkBounds(head: session.state.policy.head, limits: configuration.transport.limits)
        let chunk = configuration.deterministicWorkers != nil ? bounds.maximum
            : min(bounds.maximum, max(bounds.minimum, (session.nextBatchRows + max(1, registry.aliveCount) - 1) / max(1, registry.aliveCount)))
        let p = Message.Parameters(session: sessionID, version: version, seed: c.seed, environmentID: c.environment,
                                   simulatorCount: c.environmentsPerSampler, chunkSteps: chunk, quota: 0,
                                   policy: session.state.policy, normalizer: session.trainer.samplingNormalizer,
                                   sampling: c.sampling, collection: version, modelHash: model?.hash ?? 0)
        cachedParameters = p
        return p
    }

    /// Sends the current parameters with the worker's quota: its fixed share in deterministic
    /// mode; in streaming mode what it has delivered plus a fair share of the rows still
    /// missing (at least one chunk).
    private func sendParameters(to record: WorkerRegistry.Record) {
        var p = currentParameters()
        p.stream = UInt64(record.workerID)
        if let quotas = assembler.quotas {
            p.quota = quotas[record.workerID] ?? 0
        } else {
            let missing = max(0, assembler.targetRows - assembler.rows)
            let share = (missing + max(1, registry.aliveCount) - 1) / max(1, registry.aliveCount)
            let quota = acceptedRows[record.workerID, default: 0] + max(p.chunkSteps, share)
            streamingQuota[record.workerID] = quota
            p.quota = quota
        }
        deliver(.parameters(p), to: record)
    }

    private func housekeeping() {
        let now = clock.now
        // A batch that has stalled (a worker died or is slow, or a parameters message was
        // lost): give every live worker a top-up, a fair share of the rows still missing.
        if !assembler.isComplete, now - lastProgress > max(configuration.stallTimeout, quickestChunk ?? .zero) {
            lastProgress = now
            for record in registry.records { sendParameters(to: record) }
        }
        for gone in registry.expire(now: now) {
            departed.insert(gone.workerID)
            log(.warning, "learner: worker \(gone.workerID) silent for more than \(configuration.workerTimeout); declared gone (\(registry.aliveCount) alive)")
        }
        if now - lastHeartbeat > configuration.heartbeatInterval {
            lastHeartbeat = now
            heartbeatSequence += 1
            let beat = Message.heartbeat(Message.Heartbeat(sender: .learner(session: sessionID), sequence: heartbeatSequence,
                                                           timestamp: DispatchTime.now().uptimeNanoseconds, version: version))
            for record in registry.records { deliver(beat, to: record) }
        }
    }

    /// Sends to a registered worker; a worker whose connection is gone is declared gone at
    /// once (a killed process closes its connection long before its silence times out).
    private func deliver(_ message: Message, to record: WorkerRegistry.Record) {
        switch endpoint.send(message, to: record.peer) {
        case .queued:
            break
        case .queueFull:
            if case .parameters = message { log(.warning, "learner: worker \(record.workerID) is not reading; parameters dropped") }
        case .peerGone:
            registry.remove(peer: record.peer)
            departed.insert(record.workerID)
            log(.warning, "learner: worker \(record.workerID) disconnected; declared gone (\(registry.aliveCount) alive)")
        }
    }

    private func broadcastStop(_ reason: StopReason, _ text: String) {
        for record in registry.records {
            endpoint.send(.stop(Message.Stop(session: sessionID, reason: reason, message: text)), to: record.peer)
        }
        endpoint.close(lingerMilliseconds: 1000)
    }

    // MARK: - Iterations

    private func finishIteration() throws -> IterationStatistics {
        let batch = assembler.assemble()!  // complete, so not empty
        let sampleSeconds = (clock.now - batchStarted).seconds
        counters.workersAlive = registry.aliveCount
        counters.refusedConnections = endpoint.refusedConnections
        let updateStarted = clock.now
        let statistics = try session.update(with: batch, sampleSeconds: sampleSeconds, counters: counters)
        registry.forgive(clock.now - updateStarted, now: clock.now)
        batchStarted = clock.now
        lastProgress = clock.now
        quickestChunk = nil
        if !session.isFinished {
            assembler = makeAssembler()
            streamingQuota = [:]
            acceptedRows = [:]
            for record in registry.records { sendParameters(to: record) }
        }
        return statistics
    }
}
