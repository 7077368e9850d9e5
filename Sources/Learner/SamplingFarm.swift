import Core
import Foundation
import Protocol
import Transport

/// One collection a ``SamplingFarm`` hands to a worker: a fresh sampler on its own stream
/// collects one batch with the farm's policy.
public struct SamplingTask: Sendable, Equatable {
    /// The sampler stream (with the seed, every random number of the collection derives from
    /// it, not from the worker that runs it).
    public var stream: UInt64
    /// Single path, or the vine with its settings (one collection of `count` states).
    public var sampling: Message.Sampling
    /// Rows (single path: `collect(steps: count)`) or rollout-set states (vine).
    public var count: Int

    public init(stream: UInt64, sampling: Message.Sampling, count: Int) {
        self.stream = stream
        self.sampling = sampling
        self.count = count
    }
}

/// Why a farm could not run its tasks.
public enum SamplingFarmError: Error, CustomStringConvertible {
    /// SIGINT or SIGTERM arrived; the workers were told to stop.
    case interrupted
    /// A task's batch cannot travel in one chunk under the decoding limits.
    case taskTooLarge(String)

    public var description: String {
        switch self {
        case .interrupted: "interrupted"
        case .taskTooLarge(let why): why
        }
    }
}

/// Farms independent collections out to `trpo worker` processes over one ROUTER socket, with
/// the learner–worker protocol: each task is a parameters message of its own version (with the
/// task's stream, sampling, collection index 0, and a quota of one chunk), answered by one
/// chunk or vine chunk. Each worker holds at most one task; a worker that goes away has its
/// task handed to another. Because a task's randomness derives from (seed, task stream), a
/// batch does not depend on which worker collected it: it equals the same collection made in
/// this process.
///
/// Single-threaded: `run` calls back on the calling thread as batches arrive.
public final class SamplingFarm {
    private let endpoint: LearnerEndpoint
    private let template: Message.Parameters
    /// The custom model the template names (nil: built-in), sent after every hello.
    private let model: Message.Model?
    private let limits: DecodingLimits
    private let log: (String) -> Void
    private let clock = ContinuousClock()
    private let workerTimeout: Duration
    private let session: UInt64
    private var registry: WorkerRegistry
    private var nextVersion: UInt64 = 1
    /// The task each worker holds: its index in the current `run` and its version.
    private var assigned: [UInt32: (task: Int, version: UInt64)] = [:]
    /// Indices of the current `run`'s tasks nobody holds, taken from the end.
    private var pending: [Int] = []
    private var lastHeartbeat: ContinuousClock.Instant
    private var heartbeatSequence: UInt64 = 0

    /// The endpoint actually bound.
    public var boundEndpoint: String { endpoint.boundEndpoint }
    /// Workers registered now.
    public var workersAlive: Int { registry.aliveCount }

    /// Binds `endpoint`.
    /// - Parameters:
    ///   - template: the environment, seed, suggested simulator count, policy and normaliser
    ///     every task collects with (its session, version, chunking, quota, sampling, stream
    ///     and collection are the farm's).
    ///   - modelXML: a custom MuJoCo model for the environment (nil: the built-in one); the
    ///     farm sends it to every worker and names it in the parameters.
    ///   - workerTimeout: silence after which a worker is declared gone and its task reassigned.
    public init(endpoint: String, template: Message.Parameters, modelXML: String? = nil,
                workerTimeout: Duration = .seconds(10),
                transport: TransportSettings = TransportSettings(), log: @escaping (String) -> Void) throws {
        self.endpoint = try LearnerEndpoint(binding: endpoint, settings: transport)
        limits = transport.limits
        self.log = log
        var system = SystemRandomNumberGenerator()
        session = system.next()
        model = modelXML.map { [session] in Message.Model(session: session, xml: $0) }
        var template = template
        template.modelHash = model?.hash ?? 0
        self.template = template
        registry = WorkerRegistry(timeout: workerTimeout)
        self.workerTimeout = workerTimeout
        lastHeartbeat = clock.now
    }

    /// Runs every task on the workers, calling `completed(index, batch)` for each task as its
    /// batch arrives (in any order; each index once).
    /// - Throws: ``SamplingFarmError`` when interrupted or a task cannot travel in one chunk,
    ///   or what `completed` throws.
    public func run(_ tasks: [SamplingTask], completed: (Int, IterationBatch) throws -> Void) throws {
        for task in tasks { try check(task) }
        pending = Array(tasks.indices.reversed())  // taken from the end: in order
        var remaining = tasks.count
        assigned = [:]
        while remaining > 0 {
            if StopRequest.isRaised { throw SamplingFarmError.interrupted }
            for record in registry.records where assigned[record.workerID] == nil {
                guard let index = pending.popLast() else { break }
                assign(index, tasks[index], to: record)
            }
            if let received = try endpoint.receive(timeoutMilliseconds: 50),
               let (index, batch) = handle(received, tasks: tasks) {
                remaining -= 1
                let started = clock.now
                try completed(index, batch)
                registry.forgive(clock.now - started, now: clock.now)
            }
            for gone in registry.expire(now: clock.now) { release(gone, why: "was silent for too long") }
            heartbeat()
        }
    }

    /// Tells every worker the work is done and closes the socket.
    public func finish(_ reason: StopReason = .finished) {
        for record in registry.records {
            endpoint.send(.stop(Message.Stop(session: session, reason: reason, message: "the study is finished")), to: record.peer)
        }
        endpoint.close(lingerMilliseconds: 1000)
    }

    // MARK: - Tasks

    private func parameters(for task: SamplingTask, version: UInt64) -> Message.Parameters {
        var p = template
        (p.session, p.version, p.sampling, p.stream, p.collection) = (session, version, task.sampling, task.stream, 0)
        (p.chunkSteps, p.quota) = (task.count, task.count)
        return p
    }

    /// A task's batch must fit one chunk: single path, `E·⌈count/E⌉` rows; vine, N·K branches.
    private func check(_ task: SamplingTask) throws(SamplingFarmError) {
        let copies = template.simulatorCount
        let rows: Int = switch task.sampling {
        case .singlePath: copies * ((task.count + copies - 1) / copies)
        case .vine(let settings): task.count * settings.branching(for: template.policy.head).actionsPerState
        }
        guard task.count >= 1, rows <= limits.maxRows else {
            throw .taskTooLarge("a task of \(task.count) \(task.sampling.kind == .vine ? "states" : "steps") is \(rows) rows in one chunk; at most \(limits.maxRows) fit")
        }
    }

    private func assign(_ index: Int, _ task: SamplingTask, to record: WorkerRegistry.Record) {
        let version = nextVersion
        nextVersion += 1
        assigned[record.workerID] = (index, version)
        deliver(.parameters(parameters(for: task, version: version)), to: record)
    }

    /// Puts a departed worker's task back at the front of the queue.
    private func release(_ record: WorkerRegistry.Record, why: String) {
        log("farm: worker \(record.workerID) \(why); its task goes back to the queue (\(registry.aliveCount) alive)")
        if let held = assigned.removeValue(forKey: record.workerID) { pending.append(held.task) }
    }

    // MARK: - Messages

    /// Handles one message; returns a finished task's batch.
    private func handle(_ received: LearnerEndpoint.Received, tasks: [SamplingTask]) -> (Int, IterationBatch)? {
        let (peer, now) = (received.peer, clock.now)
        let message: Message
        switch received.message {
        case .failure(let error):
            log("farm: undecodable message: \(error)")
            return nil
        case .success(let m):
            message = m
        }
        let result: (worker: WorkerIdentity, session: UInt64, version: UInt64, batch: IterationBatch)
        switch message {
        case .hello(let hello):
            let taken = Set(registry.records.filter { $0.peer != peer }.map(\.workerID))
            let id = hello.workerID ?? (0...).lazy.map(UInt32.init).first { !taken.contains($0) }!
            registry.register(peer: peer, workerID: id, nonce: hello.nonce, environments: hello.simulatorCount, now: now)
            if let record = registry.record(peer: peer) {
                deliver(.welcome(Message.Welcome(session: session, worker: WorkerIdentity(id: id, nonce: hello.nonce),
                                                 assigned: hello.workerID == nil, heartbeatInterval: .seconds(1),
                                                 workerTimeout: workerTimeout, softwareVersion: "trpo")), to: record)
            }
            if let model, let record = registry.record(peer: peer) { deliver(.model(model), to: record) }
            if let held = assigned.removeValue(forKey: id) {  // a restarted worker lost its task
                if let record = registry.record(peer: peer) {
                    assign(held.task, tasks[held.task], to: record)
                } else {
                    pending.append(held.task)
                }
            }
            return nil
        case .chunk(let chunk):
            result = (chunk.worker, chunk.session, chunk.version, .singlePath(chunk.batch))
        case .vineChunk(let chunk):
            result = (chunk.worker, chunk.session, chunk.version, .vine(chunk.batch))
        case .requestParameters(let worker):
            if let record = registry.record(peer: peer), let held = assigned[worker.id] {
                deliver(.parameters(parameters(for: tasks[held.task], version: held.version)), to: record)
            }
            return nil
        case .heartbeat:
            if !registry.heard(peer: peer, now: now) {
                endpoint.send(.reject(Message.Reject(session: session, currentVersion: 0, reason: .notRegistered, sequence: nil,
                                                     message: "")), to: peer)
            }
            return nil
        case .requestModel:
            if let record = registry.record(peer: peer), let model {
                deliver(.model(model), to: record)
                if let held = assigned[record.workerID] {
                    deliver(.parameters(parameters(for: tasks[held.task], version: held.version)), to: record)
                }
            }
            return nil
        case .leave(let leave):
            if let record = registry.record(peer: peer), record.workerID == leave.worker.id {
                registry.remove(peer: peer)
                release(record, why: "left (\(leave.reason)): \(leave.message)")
            }
            return nil
        case .parameters, .stop, .reject, .model, .welcome:
            return nil
        }
        guard let record = registry.record(peer: peer), record.workerID == result.worker.id,
              let held = assigned[record.workerID], result.session == session, result.version == held.version else {
            log("farm: dropped a chunk that answers no task held by its sender")
            return nil
        }
        registry.heard(peer: peer, now: now)
        let task = tasks[held.task]
        if let misfit = result.batch.misfit(policy: template.policy, sampling: task.sampling) {
            log("farm: worker \(record.workerID) sent \(misfit)")
            return nil
        }
        assigned[record.workerID] = nil
        return (held.task, result.batch)
    }

    private func heartbeat() {
        let now = clock.now
        guard now - lastHeartbeat > .seconds(1) else { return }
        lastHeartbeat = now
        heartbeatSequence += 1
        for record in registry.records {
            deliver(.heartbeat(Message.Heartbeat(sender: .learner(session: session), sequence: heartbeatSequence,
                                                 timestamp: DispatchTime.now().uptimeNanoseconds,
                                                 version: assigned[record.workerID]?.version)), to: record)
        }
    }

    private func deliver(_ message: Message, to record: WorkerRegistry.Record) {
        if endpoint.send(message, to: record.peer) == .peerGone {
            registry.remove(peer: record.peer)
            release(record, why: "disconnected")
        }
    }
}
