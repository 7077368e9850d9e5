import Core
import Foundation
import Protocol
import Simulators
import Transport

/// How a worker process is set up (`trpo worker …`).
public struct WorkerConfiguration: Sendable {
    /// The learner's endpoint, e.g. `tcp://learner-host:5555`.
    public var endpoint: String
    /// The id this worker insists on (`--worker-id`; a deterministic run's workers need
    /// theirs), or nil to take the one the learner assigns in its welcome. Its random streams
    /// derive from (run seed, id), and the learner's deterministic mode orders chunks by it.
    public var workerID: UInt32?
    /// Simulator copies to step in lockstep (nil: the learner's suggestion).
    public var simulatorCount: Int?
    /// Refuse to work on any other environment (nil: whatever the learner runs).
    public var environmentID: String?
    /// Refuse runs that sample otherwise (nil: whatever the learner's run uses).
    public var sampler: SamplerKind?
    /// Silence from the learner, while connected to it, after which the worker reconnects
    /// and says hello again.
    public var learnerTimeout: Duration = .seconds(10)
    /// Time without ever being welcomed by a learner after which the worker gives up
    /// (``WorkerOutcome/unreachable(_:)``). Once welcomed, it retries for as long as it takes.
    public var connectTimeout: Duration = .seconds(300)
    /// Exit when this process is gone (set by `trpo train --workers N` for its children).
    public var parentProcess: Int32?
    public var transport = TransportSettings()
    /// CURVE encryption and this worker's key (nil: plaintext). It must match the learner:
    /// a learner with CURVE refuses plaintext workers, and keys not on its allow-list.
    public var curve: CurveClientSecurity?

    public init(endpoint: String, workerID: UInt32? = nil) {
        self.endpoint = endpoint
        self.workerID = workerID
    }
}

/// How a worker's run ended.
public enum WorkerOutcome: Equatable, Sendable {
    /// The learner said the run is over (or that it is shutting down).
    case finished
    /// SIGINT/SIGTERM, or the parent process went away, after a learner welcomed the worker.
    case interrupted
    /// The same, before any learner ever welcomed it (the text says which and where): the
    /// worker did nothing, which a batch system should not count a success.
    case interruptedBeforeReachingLearner(String)
    /// No learner welcomed the worker within ``WorkerConfiguration/connectTimeout`` (the
    /// text says why: connection refused, unknown host, …).
    case unreachable(String)
    /// The learner refused this worker (wrong environment, duplicate id, a deterministic
    /// run's other ids, another protocol version, …).
    case refused(String)
    /// The learner's socket would not let this worker in (its CURVE key is not on the
    /// learner's allow-list, or one side uses CURVE and the other not), for longer than the
    /// learner timeout. The text says which and what to do.
    case notAdmitted(String)
    /// The learner's run is not one this worker can or may collect for: another environment
    /// or sampler than the worker was told to accept, or parameters it cannot collect with
    /// (a custom model that does not compile, a policy that does not fit). The worker told
    /// the learner why in a leave message.
    case incompatible(String)
}

/// A rollout worker: the I/O shell around a ``WorkerConversation``. It feeds the
/// conversation the learner's messages, its socket's link events, the clock and stop
/// requests, carries out its actions, and collects the chunks it assigns.
///
/// Single-threaded. While a chunk is collected, the sampler's abandon check only polls: it
/// reads waiting messages into an inbox, sends a heartbeat when one is due, and abandons
/// the chunk when a message would end it (``WorkerConversation/interrupts(_:)``) or a stop
/// was requested. Messages are handled between chunks.
public final class WorkerService {
    public let configuration: WorkerConfiguration
    private let log: (LogLevel, String) -> Void
    private let endpoint: WorkerEndpoint
    private let clock = ContinuousClock()
    private var conversation: WorkerConversation
    private var sampler: WorkerSampler?
    /// Messages read during a collection, handled after it, in order.
    private var inbox: [Result<Message, ProtocolError>] = []

    public private(set) var chunksSent = 0
    public private(set) var rowsSent = 0

    /// The id the worker goes by (the learner's assignment once welcomed).
    public var workerID: UInt32? { conversation.workerID }

    public init(configuration: WorkerConfiguration, log: @escaping (LogLevel, String) -> Void) throws {
        self.configuration = configuration
        self.log = log
        endpoint = try WorkerEndpoint(connectingTo: configuration.endpoint, settings: configuration.transport,
                                      curve: configuration.curve)
        var system = SystemRandomNumberGenerator()
        conversation = WorkerConversation(configuration: configuration, nonce: system.next(), now: clock.now)
    }

    /// Runs until the learner stops the worker, a stop signal arrives, the parent exits, or
    /// the worker gives up (see ``WorkerOutcome``).
    public func run() throws -> WorkerOutcome {
        try perform(conversation.start(at: clock.now))
        while conversation.outcome == nil {
            if let why = stopCondition() {
                try perform(conversation.stopRequested(why))
                break
            }
            try followLink()
            try perform(conversation.tick(at: clock.now))
            if let assignment = conversation.assignment, let sampler {
                try collectAndSend(assignment, sampler)
            } else {
                try handleMessages(waitMilliseconds: 50)
            }
        }
        // A leave message (incompatible) gets a moment to reach the learner.
        if case .incompatible = conversation.outcome { endpoint.close(lingerMilliseconds: 1000) } else { endpoint.close() }
        return conversation.outcome!
    }

    /// Tells the conversation what the link to the learner did since the last call.
    private func followLink() throws {
        for event in try endpoint.takeLinkEvents(diagnose: !conversation.reachedLearner) {
            try perform(conversation.link(event, at: clock.now))
        }
    }

    /// Why the worker must stop now (the signal, or the parent's exit), if it must.
    private func stopCondition() -> String? {
        if StopRequest.isRaised {
            switch StopRequest.signal {
            case SIGINT: return "stopped by SIGINT"
            case SIGTERM: return "stopped by SIGTERM"
            default: return "stopped"
            }
        }
        if let parent = configuration.parentProcess, getppid() != parent { return "stopped: the parent process exited" }
        return nil
    }

    private func perform(_ actions: [WorkerConversation.Action]) throws {
        for action in actions {
            switch action {
            case .send(let message): try endpoint.send(message)
            case .log(let level, let line): log(level, line)
            case .reconnect: try endpoint.reconnect()
            case .prepareSampler(let p, let model): try prepareSampler(p, model: model)
            }
        }
    }

    /// Loads `p` into the sampler, or builds one for a new environment, seed, stream or
    /// sampling scheme.
    private func prepareSampler(_ p: Message.Parameters, model: Message.Model?) throws {
        let copies = configuration.simulatorCount ?? max(1, p.simulatorCount)
        if let sampler, sampler.key == WorkerSampler.Key(p, copies: copies) {
            sampler.load(p)
            return
        }
        do {
            sampler = try WorkerSampler(p, copies: copies, model: model)
        } catch {
            sampler = nil
            return try perform(conversation.cannotCollect(error.description))
        }
        let custom = p.modelHash == 0 ? "" : " (custom model \(String(p.modelHash, radix: 16)))"
        let name = conversation.workerID.map { "worker \($0)" } ?? "worker"
        log(.progress, "\(name): \(copies) × \(p.environmentID)\(custom), seed \(p.seed), stream \(p.stream), \(p.sampling.kind.rawValue)")
    }

    /// Handles the inbox, then every queued message, waiting up to `waitMilliseconds` for
    /// the first.
    private func handleMessages(waitMilliseconds: Int) throws {
        let held = inbox
        inbox.removeAll()
        for received in held { try handle(received) }
        var wait = waitMilliseconds
        while conversation.outcome == nil, let received = try endpoint.receive(timeoutMilliseconds: wait) {
            wait = 0
            try handle(received)
        }
    }

    private func handle(_ received: Result<Message, ProtocolError>) throws {
        switch received {
        case .success(let message): try perform(conversation.receive(message, at: clock.now))
        case .failure(let error): try perform(conversation.receiveUndecodable(error, at: clock.now))
        }
    }

    // MARK: - Sampling

    /// Collects the assignment's chunk and sends it, waiting while the learner's queue is
    /// full. The chunk is dropped when the conversation moves on meanwhile (a newer
    /// version, a stop, a reconnect).
    private func collectAndSend(_ assignment: WorkerConversation.Assignment, _ sampler: WorkerSampler) throws {
        let collected = sampler.collect(count: assignment.count, header: assignment.header, abandonIf: { [unowned self] in
            self.pollDuringCollection()
        })
        try handleMessages(waitMilliseconds: 0)
        guard let collected else { return }
        while conversation.outcome == nil, stopCondition() == nil, conversation.assignment?.header == assignment.header {
            if try endpoint.send(collected.message) {
                conversation.chunkSent(rows: collected.rows, at: clock.now)
                chunksSent += 1
                rowsSent += collected.rows
                return
            }
            try handleMessages(waitMilliseconds: 10)  // the learner is busy, or gone: wait, keep listening
            try followLink()
            try perform(conversation.tick(at: clock.now))
        }
    }

    /// The sampler's abandon check: true when a stop was requested or a waiting message
    /// would end the collection. Reads messages into the inbox without handling them, and
    /// sends a heartbeat when one is due, nothing else.
    private func pollDuringCollection() -> Bool {
        if stopCondition() != nil { return true }
        if let beat = conversation.heartbeatIfDue(at: clock.now) { _ = try? endpoint.send(beat) }
        var interrupted = false
        while let received = (try? endpoint.receive(timeoutMilliseconds: 0)) ?? nil {
            inbox.append(received)
            if case .success(let message) = received, conversation.interrupts(message) { interrupted = true }
        }
        return interrupted
    }
}

/// The software version reported in hellos and `trpo --version`.
public let trpoVersion = "0.1.0"
