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
    /// No worker described the farm's external environment (the reason).
    case noWorker(String)

    public var description: String {
        switch self {
        case .interrupted: "interrupted"
        case .taskTooLarge(let why): why
        case .noWorker(let why): why
        }
    }
}

/// A farm's part of the conversation: each worker holds at most one task, sent as a
/// parameters message of its own version (the task's stream and sampling, collection index 0,
/// chunk size and quota the task's count) and answered by one chunk or vine chunk. A worker
/// that goes away has its task put back for another.
public struct FarmWorkload: ConversationWorkload {
    public typealias Output = (task: Int, batch: IterationBatch)

    /// The environment, seed, simulator count, policy, normaliser and model every task uses
    /// (nil until a farm of an external environment has its policy: no task goes out then).
    public private(set) var template: Message.Parameters?
    private var tasks: [SamplingTask] = []
    /// The task each worker holds: its index in ``tasks`` and its version.
    private var assigned: [UInt32: (task: Int, version: UInt64)] = [:]
    /// Indices of tasks nobody holds, taken from the end.
    private var pending: [Int] = []
    private var nextVersion: UInt64 = 1

    public init(template: Message.Parameters?) { self.template = template }

    /// Sets the parameters every task uses (a farm of an external environment, once its
    /// policy is built from the first worker's spec).
    public mutating func adopt(_ template: Message.Parameters) { self.template = template }

    /// Replaces the tasks (the previous ones are forgotten); idle workers get them in order.
    public mutating func load(_ tasks: [SamplingTask]) {
        self.tasks = tasks
        pending = Array(tasks.indices.reversed())
        assigned = [:]
    }

    public var currentVersion: UInt64 { nextVersion - 1 }

    public func heartbeatVersion(for worker: UInt32) -> UInt64? { assigned[worker]?.version }

    public mutating func parameters(for worker: UInt32, live: Int, now: ContinuousClock.Instant) -> Message.Parameters? {
        guard let held = assigned[worker], var p = template else { return nil }
        let task = tasks[held.task]
        (p.version, p.sampling, p.stream, p.collection) = (held.version, task.sampling, task.stream, 0)
        (p.chunkSteps, p.quota) = (task.count, task.count)
        return p
    }

    public mutating func offer(_ batch: IterationBatch, version: UInt64, from worker: UInt32, sequence: UInt64,
                               now: ContinuousClock.Instant) -> ChunkVerdict<Output> {
        guard let held = assigned[worker], held.version == version else { return version > currentVersion ? .fromTheFuture : .stale }
        guard let template else { return .misfit("a chunk before the farm has a policy") }
        if let misfit = batch.misfit(policy: template.policy, sampling: tasks[held.task].sampling) { return .misfit(misfit) }
        assigned[worker] = nil
        return .accepted((held.task, batch))
    }

    /// A task is given back even if the process may return: its result would come late.
    public mutating func release(_ worker: UInt32, mayReturn: Bool) {
        if let held = assigned.removeValue(forKey: worker) { pending.append(held.task) }
    }

    public mutating func due(live: [UInt32], now: ContinuousClock.Instant) -> [UInt32] {
        var started: [UInt32] = []
        for worker in live where assigned[worker] == nil {
            guard let index = pending.popLast() else { break }
            assigned[worker] = (index, nextVersion)
            nextVersion += 1
            started.append(worker)
        }
        return started
    }
}

/// Farms independent collections out to `trpo worker` processes over one ROUTER socket, with
/// the learner–worker protocol (a ``Conversation`` over a ``FarmWorkload``; this class is its
/// shell). Because a task's randomness derives from (seed, task stream), a batch does not
/// depend on which worker collected it: it equals the same collection made in this process.
///
/// Single-threaded: `run` calls back on the calling thread as batches arrive.
public final class SamplingFarm {
    private let driver: ConversationDriver<FarmWorkload>
    private let limits: DecodingLimits
    private let session: UInt64
    private let model: Message.Model?
    private let clock = ContinuousClock()

    /// The endpoint actually bound.
    public var boundEndpoint: String { driver.endpoint.boundEndpoint }
    /// Workers registered now.
    public var workersAlive: Int { driver.conversation.liveCount }

    /// Binds `endpoint`.
    /// - Parameters:
    ///   - template: the environment, seed, suggested simulator count, policy and normaliser
    ///     every task collects with (its session, version, chunking, quota, sampling, stream
    ///     and collection are the farm's).
    ///   - modelXML: a custom MuJoCo model for the environment (nil: the built-in one); the
    ///     farm sends it to every worker and names it in the parameters.
    ///   - workerTimeout: silence after which a worker is declared gone and its task reassigned.
    public convenience init(endpoint: String, template: Message.Parameters, modelXML: String? = nil,
                            workerTimeout: Duration = .seconds(10),
                            transport: TransportSettings = TransportSettings(), log: @escaping (String) -> Void) throws {
        try self.init(endpoint: endpoint, environment: template.environmentID, arguments: "", template: template,
                      simulators: template.simulatorCount, modelXML: modelXML, workerTimeout: workerTimeout,
                      transport: transport, log: log)
    }

    /// Binds `endpoint` for the workers of an external environment (`gym:ID`,
    /// `py:MODULE:FACTORY`, made with the JSON `arguments`): no task goes out until
    /// ``awaitEnvironmentSpec(giveUp:)`` has the first worker's spec and ``adopt(_:)`` the
    /// parameters built for it. Every worker must be able to snapshot its environment (the
    /// study runs the vine).
    public convenience init(endpoint: String, externalEnvironment environment: String, arguments: String, simulators: Int,
                            workerTimeout: Duration = .seconds(10), transport: TransportSettings = TransportSettings(),
                            log: @escaping (String) -> Void) throws {
        try self.init(endpoint: endpoint, environment: environment, arguments: arguments, template: nil, simulators: simulators,
                      modelXML: nil, workerTimeout: workerTimeout, transport: transport, log: log)
    }

    private init(endpoint: String, environment: String, arguments: String, template: Message.Parameters?, simulators: Int,
                 modelXML: String?, workerTimeout: Duration, transport: TransportSettings, log: @escaping (String) -> Void) throws {
        let socket = try LearnerEndpoint(binding: endpoint, settings: transport)
        limits = transport.limits
        var system = SystemRandomNumberGenerator()
        let session: UInt64 = system.next()
        self.session = session
        let model = modelXML.map { Message.Model(session: session, xml: $0) }
        self.model = model
        let settings = Conversation<FarmWorkload>.Settings(
            session: session, environmentID: environment, environmentArguments: arguments,
            needsSnapshot: EnvironmentName.isExternal(environment), workerTimeout: workerTimeout, model: model,
            suggestedSimulators: simulators, logName: "farm")
        driver = ConversationDriver(conversation: Conversation(settings: settings, workload: FarmWorkload(template: nil)),
                                    endpoint: socket, log: { _, line in log(line) })
        if let template { adopt(template) }
    }

    /// Sets the parameters every task uses (their session and model hash become the farm's).
    public func adopt(_ template: Message.Parameters) {
        var template = template
        (template.session, template.modelHash) = (session, model?.hash ?? 0)
        driver.updateWorkload { $0.adopt(template) }
    }

    /// Serves workers until one has described the farm's external environment, and returns
    /// its spec (later workers must match it).
    /// - Parameter giveUp: asked between messages; a reason to stop waiting (say, every worker
    ///   process failed), or nil to go on.
    /// - Throws: ``SamplingFarmError/interrupted`` on SIGINT/SIGTERM, ``SamplingFarmError/noWorker(_:)``
    ///   when `giveUp` says so.
    public func awaitEnvironmentSpec(giveUp: () -> String? = { nil }) throws -> EnvironmentSpec {
        while true {
            if let spec = driver.conversation.environmentSpec { return spec }
            if StopRequest.isRaised { throw SamplingFarmError.interrupted }
            if let why = giveUp() { throw SamplingFarmError.noWorker(why) }
            _ = try driver.step(timeoutMilliseconds: 50)
        }
    }

    /// Runs every task on the workers, calling `completed(index, batch)` for each task as its
    /// batch arrives (in any order; each index once).
    /// - Throws: ``SamplingFarmError`` when interrupted or a task cannot travel in one chunk,
    ///   or what `completed` throws.
    public func run(_ tasks: [SamplingTask], completed: (Int, IterationBatch) throws -> Void) throws {
        for task in tasks { try check(task) }
        driver.updateWorkload { $0.load(tasks) }
        driver.perform(.published)
        var remaining = tasks.count
        while remaining > 0 {
            if StopRequest.isRaised { throw SamplingFarmError.interrupted }
            for (index, batch) in try driver.step(timeoutMilliseconds: 50) {
                remaining -= 1
                let started = clock.now
                try completed(index, batch)
                driver.perform(.deaf(clock.now - started))
            }
        }
    }

    /// Tells every worker the work is done and closes the socket.
    public func finish(_ reason: StopReason = .finished) {
        driver.perform(.finish(reason, "the study is finished"))
        driver.endpoint.close(lingerMilliseconds: 1000)
    }

    /// A task's batch must fit one chunk: single path, `E·⌈count/E⌉` rows; vine, N·K branches.
    private func check(_ task: SamplingTask) throws(SamplingFarmError) {
        guard let template = driver.conversation.workload.template else { preconditionFailure("tasks before the farm's parameters") }
        let copies = template.simulatorCount
        let rows: Int = switch task.sampling {
        case .singlePath: copies * ((task.count + copies - 1) / copies)
        case .vine(let settings): task.count * settings.branching(for: template.policy.head).actionsPerState
        }
        guard task.count >= 1, rows <= limits.maxRows else {
            throw .taskTooLarge("a task of \(task.count) \(task.sampling.kind == .vine ? "states" : "steps") is \(rows) rows in one chunk; at most \(limits.maxRows) fit")
        }
    }
}
