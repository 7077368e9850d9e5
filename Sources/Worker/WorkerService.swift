import Core
import Foundation
import Protocol
import Simulators
import Transport

/// How a worker process is set up (`trpo worker …`).
public struct WorkerConfiguration: Sendable {
    /// The learner's endpoint, e.g. `tcp://learner-host:5555`.
    public var endpoint: String
    /// This worker's id: its random streams derive from (run seed, id), and the learner's
    /// deterministic mode orders chunks by it. Unique among a run's live workers.
    public var workerID: UInt32
    /// Simulator copies to step in lockstep (nil: the learner's suggestion).
    public var simulatorCount: Int?
    /// Refuse to work on any other environment (nil: whatever the learner runs).
    public var environmentID: String?
    /// Refuse runs that sample otherwise (nil: whatever the learner's run uses).
    public var sampler: SamplerKind?
    /// Silence after which the worker sends a heartbeat.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Silence from the learner after which the worker reconnects and says hello again.
    public var learnerTimeout: Duration = .seconds(10)
    /// Exit when this process is gone (set by `trpo train --workers N` for its children).
    public var parentProcess: Int32?
    public var transport = TransportSettings()
    /// CURVE encryption and this worker's key (nil: plaintext). It must match the learner:
    /// a learner with CURVE refuses plaintext workers, and keys not on its allow-list.
    public var curve: CurveClientSecurity?

    public init(endpoint: String, workerID: UInt32) {
        self.endpoint = endpoint
        self.workerID = workerID
    }
}

/// How a worker's run ended.
public enum WorkerOutcome: Equatable, Sendable {
    /// The learner said the run is over.
    case finished
    /// SIGINT/SIGTERM, or the parent process went away.
    case interrupted
    /// The learner refused this worker (wrong environment, duplicate id, …).
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

/// A rollout worker: says hello to the learner, collects chunks with each parameter version
/// it is sent, streams them back, and keeps going across learner restarts until told to stop.
///
/// Single-threaded: it checks for messages between lockstep steps while collecting (a new
/// version abandons the chunk in progress) and between chunks.
public final class WorkerService {
    public let configuration: WorkerConfiguration
    private let log: (LogLevel, String) -> Void
    private let endpoint: WorkerEndpoint
    private let identity: WorkerIdentity
    private let clock = ContinuousClock()

    private var parameters: Message.Parameters?
    /// The custom model the learner sent last (its parameters name it by hash).
    private var model: Message.Model?
    /// Parameters that name a model this worker does not hold yet: adopted when it arrives.
    private var pendingParameters: Message.Parameters?
    private var lastModelRequest: ContinuousClock.Instant?
    private var sampler: WorkerSampler?
    private var rowsThisVersion = 0
    private var sequence: UInt64 = 0
    private var heartbeatSequence: UInt64 = 0
    private var lastHeard: ContinuousClock.Instant
    private var lastSent: ContinuousClock.Instant
    private var outcome: WorkerOutcome?
    /// Set while collecting when a newer version arrives: the chunk in progress is abandoned.
    private var versionChanged = false
    /// Why the learner's socket refuses our connection, since we last heard from it.
    private var admissionFailure: String?

    public private(set) var chunksSent = 0
    public private(set) var rowsSent = 0

    public init(configuration: WorkerConfiguration, log: @escaping (LogLevel, String) -> Void) throws {
        self.configuration = configuration
        self.log = log
        endpoint = try WorkerEndpoint(connectingTo: configuration.endpoint, settings: configuration.transport,
                                      curve: configuration.curve)
        var system = SystemRandomNumberGenerator()
        identity = WorkerIdentity(id: configuration.workerID, nonce: system.next())
        lastHeard = clock.now
        lastSent = clock.now
    }

    /// Runs until the learner stops the worker, a stop signal arrives, or the parent exits.
    public func run() throws -> WorkerOutcome {
        log(.progress, "worker \(identity.id): connecting to \(configuration.endpoint)")
        try sendHello()
        while outcome == nil {
            if let stop = stopCondition() { outcome = stop; break }
            try keepAlive()
            if let p = parameters, let sampler, p.quota == 0 || rowsThisVersion < p.quota {
                try collectAndSend(p, sampler)
            } else {
                try handleMessages(waitMilliseconds: 50)
            }
        }
        // A leave message (incompatible) gets a moment to reach the learner.
        if case .incompatible = outcome { endpoint.close(lingerMilliseconds: 1000) } else { endpoint.close() }
        return outcome!
    }

    // MARK: - Conversation

    private func sendHello() throws {
        let hello = Message.Hello(nonce: identity.nonce, workerID: identity.id, simulatorCount: configuration.simulatorCount ?? 0,
                                  environmentID: configuration.environmentID ?? "", softwareVersion: "trpo \(trpoVersion)")
        try send(.hello(hello))
    }

    private func send(_ message: Message) throws {
        if try endpoint.send(message) { lastSent = clock.now }
    }

    private func stopCondition() -> WorkerOutcome? {
        if StopRequest.isRaised { return .interrupted }
        if let parent = configuration.parentProcess, getppid() != parent { return .interrupted }
        return nil
    }

    /// Heartbeats when we have been quiet; reconnects when the learner has been, or gives up
    /// when the learner's socket has been refusing us all that time.
    private func keepAlive() throws {
        let now = clock.now
        // Refusals only happen while the learner is not talking to us; this runs between
        // lockstep steps, so spare the monitor when all is well.
        if parameters == nil || now - lastHeard > configuration.heartbeatInterval { try noteHandshakeFailures() }
        if now - lastHeard > configuration.learnerTimeout {
            if let admissionFailure {
                outcome = .notAdmitted(admissionFailure)
                return
            }
            let hint = configuration.curve != nil && parameters == nil ? " (if this persists, check that --learner-public is the learner's public key)" : ""
            log(.warning, "worker \(identity.id): no word from the learner for \(configuration.learnerTimeout); reconnecting\(hint)")
            try endpoint.reconnect()
            lastHeard = now
            try sendHello()
        }
        if let pending = pendingParameters, let asked = lastModelRequest, now - asked > configuration.heartbeatInterval {
            try requestModel(pending.modelHash)  // the model or the request was lost
        }
        if now - lastSent > configuration.heartbeatInterval {
            heartbeatSequence += 1
            try send(.heartbeat(Message.Heartbeat(sender: .worker(identity), sequence: heartbeatSequence,
                                                  timestamp: DispatchTime.now().uptimeNanoseconds,
                                                  version: parameters?.version)))
        }
    }

    /// Logs why the learner's socket refuses our connection, once per reason (libzmq retries
    /// and is refused again every few seconds).
    private func noteHandshakeFailures() throws {
        for refusal in try endpoint.takeHandshakeRefusals() {
            let why: String
            switch (refusal, configuration.curve) {
            case (.keyNotAllowed(let status), let curve):
                why = "the learner refused this worker's key (not on its allow-list): public key "
                    + "\(curve?.keys.publicKey.z85 ?? "?") (ZAP status \(status)); copy this worker's .pub file into the learner's "
                    + "--allow-workers directory"
            case (.mechanismMismatch, nil):
                why = "the learner requires CURVE and refused this plaintext worker: start it with --curve-secret FILE --learner-public FILE"
            case (.mechanismMismatch, _):
                why = "the learner does not use CURVE; start this worker without --curve-secret/--learner-public (or the learner with them)"
            case (.protocolError(let what), _):
                why = "the learner refused the connection: \(what)"
            }
            if why != admissionFailure { log(.warning, "worker \(identity.id): \(why)") }
            admissionFailure = why
        }
    }

    /// Handles every queued message, waiting up to `waitMilliseconds` for the first.
    private func handleMessages(waitMilliseconds: Int) throws {
        var wait = waitMilliseconds
        while outcome == nil, let received = try endpoint.receive(timeoutMilliseconds: wait) {
            wait = 0
            lastHeard = clock.now
            admissionFailure = nil
            switch received {
            case .failure(let error):
                log(.warning, "worker \(identity.id): undecodable message from the learner: \(error)")
            case .success(let message):
                try handle(message)
            }
        }
    }

    private func handle(_ message: Message) throws {
        switch message {
        case .parameters(let p):
            try adopt(p)
        case .stop(let stop):
            switch stop.reason {
            case .finished:
                log(.progress, "worker \(identity.id): the run is finished; exiting")
                outcome = .finished
            case .interrupted:
                log(.progress, "worker \(identity.id): the learner is shutting down; exiting")
                outcome = .finished
            default:
                log(.warning, "worker \(identity.id): refused by the learner (\(stop.reason)): \(stop.message)")
                outcome = .refused("\(stop.reason): \(stop.message)")
            }
        case .reject(let reject):
            switch reject.reason {
            case .notRegistered:
                try sendHello()
            case .staleParameters:
                if reject.currentVersion > (parameters?.version ?? 0) || reject.session != parameters?.session {
                    try send(.requestParameters(identity))
                }
            }
        case .heartbeat(let beat):
            if case .learner(let session) = beat.sender, let version = beat.version,
               session != parameters?.session || version > (parameters?.version ?? 0) {
                try send(.requestParameters(identity))
            }
        case .model(let received):
            if model?.hash != received.hash {
                log(.progress, "worker \(identity.id): received the learner's custom model (\(received.xml.utf8.count) bytes, hash \(String(received.hash, radix: 16)))")
            }
            model = received
            if let pending = pendingParameters, pending.modelHash == received.hash {
                pendingParameters = nil
                try adopt(pending)
            }
        case .welcome:
            break  // this worker names its own id; the learner's timing is the default one
        case .hello, .chunk, .vineChunk, .requestParameters, .requestModel, .leave:
            log(.warning, "worker \(identity.id): ignoring a \(message.kind) message, which only workers send")
        }
    }

    private func requestModel(_ hash: UInt64) throws {
        if lastModelRequest == nil {
            log(.progress, "worker \(identity.id): asking the learner for its custom model (hash \(String(hash, radix: 16)))")
        }
        lastModelRequest = clock.now
        try send(.requestModel(Message.ModelRequest(worker: identity, hash: hash)))
    }

    /// Gives up on the learner's run: tells the learner why (a leave message, its text cut
    /// to fit the learner's string limit) and ends with ``WorkerOutcome/incompatible(_:)``.
    private func leave(_ why: String) {
        outcome = .incompatible(why)
        let text = String(decoding: why.utf8.prefix(DecodingLimits.default.maxStringBytes - 4), as: UTF8.self)
        _ = try? endpoint.send(.leave(Message.Leave(worker: identity, reason: .incompatible, message: text)))
    }

    /// Switches to a parameter version, building simulators and a sampler for a new
    /// environment, seed, stream or sampling scheme.
    private func adopt(_ p: Message.Parameters) throws {
        if let wanted = configuration.environmentID, wanted != p.environmentID {
            log(.warning, "worker \(identity.id): the learner runs \(p.environmentID), this worker only \(wanted); exiting")
            leave("environment \(p.environmentID) is not \(wanted)")
            return
        }
        if let wanted = configuration.sampler, wanted != p.sampling.kind {
            log(.warning, "worker \(identity.id): the learner's run samples \(p.sampling.kind.rawValue), this worker only \(wanted.rawValue); exiting")
            leave("the learner's run samples \(p.sampling.kind.rawValue); this worker was started with --sampler \(wanted.rawValue)")
            return
        }
        if let held = parameters, p.session == held.session, p.version <= held.version {
            // The same version again: only a larger quota (a top-up) changes anything.
            if p.version == held.version && p.quota > held.quota { parameters!.quota = p.quota }
            return
        }
        if p.modelHash != 0 && model?.hash != p.modelHash {
            // Normally the model arrives before its parameters; until it does, collect nothing.
            pendingParameters = p
            parameters = nil
            try requestModel(p.modelHash)
            return
        }
        pendingParameters = nil
        let copies = configuration.simulatorCount ?? max(1, p.simulatorCount)
        if let sampler, sampler.key == WorkerSampler.Key(p, copies: copies) {
            sampler.load(p)
        } else {
            do {
                sampler = try WorkerSampler(p, copies: copies, model: p.modelHash == 0 ? nil : model)
            } catch {
                log(.warning, "worker \(identity.id): cannot collect for this run: \(error); exiting")
                leave(error.description)
                return
            }
            let custom = p.modelHash == 0 ? "" : " (custom model \(String(p.modelHash, radix: 16)))"
            log(.progress, "worker \(identity.id): \(copies) × \(p.environmentID)\(custom), seed \(p.seed), stream \(p.stream), \(p.sampling.kind.rawValue)")
        }
        if parameters?.session != p.session {
            log(.progress, "worker \(identity.id): collecting \(p.environmentID) from version \(p.version) of learner session \(String(p.session, radix: 16))")
        }
        parameters = p
        rowsThisVersion = 0
        versionChanged = true
    }

    // MARK: - Sampling

    /// Collects one chunk with `p` (abandoned if a newer version arrives meanwhile) and
    /// sends it, waiting while the learner's queue is full.
    private func collectAndSend(_ p: Message.Parameters, _ sampler: WorkerSampler) throws {
        let rows = p.quota == 0 ? p.chunkSteps : min(p.chunkSteps, p.quota - rowsThisVersion)
        versionChanged = false
        let header = WorkerSampler.ChunkHeader(worker: identity, session: p.session, version: p.version, sequence: sequence)
        let collected = sampler.collect(count: rows, header: header, abandonIf: { [unowned self] in
            if self.stopCondition() != nil { return true }
            try? self.keepAlive()
            try? self.handleMessages(waitMilliseconds: 0)
            return self.versionChanged || self.outcome != nil
        })
        guard let collected else { return }
        while outcome == nil, stopCondition() == nil, !versionChanged {
            if try endpoint.send(collected.message) {
                lastSent = clock.now
                sequence += 1
                rowsThisVersion += collected.rows
                chunksSent += 1
                rowsSent += collected.rows
                return
            }
            try handleMessages(waitMilliseconds: 10)  // the learner is busy: wait, keep listening
            try keepAlive()
        }
    }
}

/// The software version reported in hellos and `trpo --version`.
public let trpoVersion = "0.1.0"
