import Core
import Protocol

/// A connection to the learner's endpoint: the ZeroMQ ROUTER routing id. It names a
/// connection, not a worker process (a reconnecting worker gets a new one).
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "peer " + bytes.map { String($0, radix: 16) }.joined() }
}

/// What a ``Conversation`` serves: the part that differs between a training run (one batch per
/// parameter version, ``TrainingWorkload``) and `trpo variance --workers` (one task per worker,
/// ``FarmWorkload``). The conversation owns who is registered and every reply; the workload
/// owns which parameters each worker collects with and what a chunk is worth.
public protocol ConversationWorkload {
    /// What an accepted chunk hands to the shell (``Conversation/Action/output(_:)``).
    associatedtype Output

    /// The latest version published (named in rejects).
    var currentVersion: UInt64 { get }

    /// The parameters `worker` should collect with now (its quota included), or nil when it
    /// has nothing to collect. `live` is the number of registered workers.
    mutating func parameters(for worker: UInt32, live: Int, now: ContinuousClock.Instant) -> Message.Parameters?

    /// The version a learner heartbeat to `worker` names (nil: none).
    func heartbeatVersion(for worker: UInt32) -> UInt64?

    /// A chunk of the current session from registered `worker`, whose sequence number is new.
    mutating func offer(_ batch: IterationBatch, version: UInt64, from worker: UInt32, sequence: UInt64,
                        now: ContinuousClock.Instant) -> ChunkVerdict<Output>

    /// `worker`'s process is gone (left, silent, disconnected, stopped or replaced by a new
    /// process): whatever it held goes back to the others. `mayReturn`: it went silent or its
    /// connection broke, so the same process may register again and carry on (it keeps
    /// counting the rows it sent for a version, docs/protocol.md §4.4); false when it left, was
    /// stopped, or another process took its id.
    mutating func release(_ worker: UInt32, mayReturn: Bool)

    /// The workers among `live` that should be sent their parameters now without asking
    /// (top-ups when a batch stalls, new tasks for idle workers). The conversation sends each
    /// one ``parameters(for:live:now:)`` unless it is what that worker was sent last.
    mutating func due(live: [UInt32], now: ContinuousClock.Instant) -> [UInt32]
}

/// What a workload made of a chunk.
public enum ChunkVerdict<Output> {
    /// Taken (with what the shell gets, if anything).
    case accepted(Output?)
    /// Not collected with the current version (or, in a farm, the sender's task): discarded,
    /// counted as stale, answered with `reject(staleParameters)`.
    case stale
    /// Current, but the batch is already complete or the worker's quota is met: discarded and
    /// counted as stale, no reply.
    case surplus
    /// Tagged with a version not yet published: counted as rejected, no reply.
    case fromTheFuture
    /// Does not fit the run (sampler, shapes, actions): counted as rejected, no reply; the
    /// worker stays registered (its other chunks may fit).
    case misfit(String)
}

/// The learner's side of the learner–worker conversation (docs/protocol.md §4), as a pure
/// state machine: events in (a message or an undecodable one from a connection, a timer tick,
/// a connection found gone or alive, a stretch the shell could not listen, new work published,
/// the end of the run), actions out (send, probe, log, count, output). It reads no clock and
/// touches no socket: time comes in with each event, and the shell (``ConversationDriver``)
/// performs the actions and feeds back what a send found (``Event/peerGone(_:)``).
///
/// States of one connection (drawn in docs/architecture.md):
/// - *unknown*: not registered; every message but hello gets `reject(notRegistered)` (chunks,
///   heartbeats, requests) or is refused and counted (leave, learner-only kinds);
/// - *claiming*: its hello names an id a live registration of another process holds; the old
///   connection is being probed (``Action/probe(_:to:)``): ``Event/peerGone(_:)`` takes the
///   newcomer in, ``Event/peerAlive(_:)`` refuses it with `stop(duplicateWorker)`;
/// - *registered*: welcomed; heard (any message), heartbeated when nothing else was sent for an
///   interval, sent its parameters (never the same ones twice in a row unasked);
/// - back to *unknown* when it leaves, is stopped, falls silent for ``Settings/workerTimeout``
///   (counted while the shell listens), or a send finds it gone.
public struct Conversation<Workload: ConversationWorkload> {
    /// Fixed for a learner session.
    public struct Settings: Sendable {
        /// Random per learner process start.
        public var session: UInt64
        /// The run's environment; a hello naming another gets `stop(environment)`.
        public var environmentID: String
        /// The keyword arguments (JSON object text, or empty) of an external environment, named
        /// in every welcome.
        public var environmentArguments: String
        /// The run's environment is external (``EnvironmentName/isExternal(_:)``): workers
        /// describe it with an environmentSpec before they get parameters.
        public var requiresSpec: Bool
        /// The run's spec when it is known from the start (a resumed run of an external
        /// environment); nil: the first accepted spec becomes it.
        public var environmentSpec: EnvironmentSpec?
        /// The run samples with the vine: a spec without snapshot support is refused.
        public var needsSnapshot: Bool
        /// Deterministic runs: the ids `0..<n` the run collects with (others are refused with
        /// `stop(unexpectedWorker)`; assigned ids come from this range). nil: any id.
        public var expectedWorkers: Int?
        /// A registered worker sent nothing for this long gets a heartbeat.
        public var heartbeatInterval: Duration
        /// A worker silent this long (while the shell listens) is declared gone.
        public var workerTimeout: Duration
        /// The run's custom model (nil: built-in), sent after the welcome and on request.
        public var model: Message.Model?
        /// Simulator copies suggested to workers that leave the choice (for logs).
        public var suggestedSimulators: Int
        /// Prefix of log lines, e.g. `"learner"` or `"farm"`.
        public var logName: String
        /// Named in the welcome.
        public var softwareVersion: String

        public init(session: UInt64, environmentID: String, environmentArguments: String = "",
                    environmentSpec: EnvironmentSpec? = nil, needsSnapshot: Bool = false, expectedWorkers: Int? = nil,
                    heartbeatInterval: Duration = .seconds(1), workerTimeout: Duration = .seconds(10),
                    model: Message.Model? = nil, suggestedSimulators: Int = 1, logName: String = "learner",
                    softwareVersion: String = "trpo") {
            self.session = session
            self.environmentID = environmentID
            self.environmentArguments = environmentArguments
            requiresSpec = EnvironmentName.isExternal(environmentID)
            self.environmentSpec = environmentSpec
            self.needsSnapshot = needsSnapshot
            self.expectedWorkers = expectedWorkers
            self.heartbeatInterval = heartbeatInterval
            self.workerTimeout = workerTimeout
            self.model = model
            self.suggestedSimulators = suggestedSimulators
            self.logName = logName
            self.softwareVersion = softwareVersion
        }
    }

    /// Something that happened, with the time it happened at.
    public enum Event {
        /// A message from connection `peer`, or why it could not be decoded.
        case received(Result<Message, ProtocolError>, from: PeerID)
        /// Time passed (heartbeats, silence, top-ups).
        case tick
        /// A send to `peer` found no such connection (ROUTER_MANDATORY's EHOSTUNREACH).
        case peerGone(PeerID)
        /// A probe of `peer` was queued: the connection exists.
        case peerAlive(PeerID)
        /// The shell could not listen for this long (an update): workers' silence during it is
        /// forgiven.
        case deaf(Duration)
        /// The workload has new work (a new version, new tasks): every registered worker is
        /// sent its parameters (unless it holds those already).
        case published
        /// The run ends: every registered worker gets `stop(reason, text)`.
        case finish(StopReason, String)
    }

    /// Counters the shell keeps (`progress.csv`'s columns).
    public enum Counter: Sendable, Equatable {
        /// Messages refused (`rejected_messages`).
        case rejectedMessages
        /// Rows or vine states discarded (`stale_samples_dropped`).
        case staleSamplesDropped
    }

    /// Something the shell must do, in order.
    public enum Action {
        /// Queue `message` for `peer` without waiting; if the connection is gone, feed
        /// ``Event/peerGone(_:)`` back.
        case send(Message, to: PeerID)
        /// Queue `message` (a heartbeat) for `peer` and feed back ``Event/peerGone(_:)`` or
        /// ``Event/peerAlive(_:)``.
        case probe(Message, to: PeerID)
        case log(LogLevel, String)
        case count(Counter, Int)
        /// An accepted chunk's result (a farm's finished task).
        case output(Workload.Output)
    }

    public let settings: Settings
    /// The pluggable part; the shell changes it (new version, new tasks) and then feeds
    /// ``Event/published``.
    public var workload: Workload
    public private(set) var registry: WorkerRegistry
    /// The id assigned to each nonce this session, given back to a reconnecting worker.
    private var assignedIDs: [UInt64: UInt32] = [:]
    /// Hellos waiting for the probe of the connection holding their id, by that connection.
    private var claims: [PeerID: [(peer: PeerID, hello: Message.Hello)]] = [:]
    /// Workers declared gone, with the nonce of the process that was: a return is logged as
    /// one, and another process under the id starts its count afresh.
    private var departed: [UInt32: UInt64] = [:]
    private var heartbeatSequence: UInt64 = 0
    /// The spaces of the run's external environment: the settings' (a resumed run), or the
    /// first spec a worker sent; nil until then, and for built-in environments. The shell
    /// builds the policy once it is set, then publishes.
    public private(set) var environmentSpec: EnvironmentSpec?

    public init(settings: Settings, workload: Workload) {
        self.settings = settings
        self.workload = workload
        registry = WorkerRegistry(timeout: settings.workerTimeout)
        environmentSpec = settings.environmentSpec
    }

    /// Registered workers now.
    public var liveCount: Int { registry.aliveCount }

    /// Handles one event at time `now`.
    /// - Returns: what the shell must do, in order.
    public mutating func handle(_ event: Event, at now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .received(.failure(let error), let peer):
            refuseUndecodable(error, from: peer, now: now, into: &actions)
        case .received(.success(let message), let peer):
            receive(message, from: peer, now: now, into: &actions)
        case .tick:
            expire(now: now, into: &actions)
            heartbeat(now: now, into: &actions)
        case .peerGone(let peer):
            if let record = registry.record(peer: peer.bytes) {
                drop(record, mayReturn: true, into: &actions)
                log(.warning, "worker \(record.workerID) disconnected; declared gone (\(registry.aliveCount) alive)", into: &actions)
            }
            for claim in claims.removeValue(forKey: peer) ?? [] {
                register(claim.hello, peer: claim.peer, now: now, into: &actions)
            }
        case .peerAlive(let peer):
            for claim in claims.removeValue(forKey: peer) ?? [] {
                // The holder may have gone another way (left, fell silent) meanwhile.
                guard let record = registry.record(peer: peer.bytes), record.workerID == claim.hello.workerID else {
                    register(claim.hello, peer: claim.peer, now: now, into: &actions)
                    continue
                }
                stop(claim.peer, .duplicateWorker,
                     "worker id \(record.workerID) is held by a live worker process (nonce \(String(record.nonce, radix: 16))); start this one with another --worker-id or none",
                     log: "worker \(record.workerID) (nonce \(String(claim.hello.nonce, radix: 16))): the id is held by a live process", into: &actions)
            }
        case .deaf(let duration):
            registry.forgive(duration, now: now)
        case .published:
            for record in registry.records { sendParameters(to: record, solicited: false, now: now, into: &actions) }
        case .finish(let reason, let text):
            for record in registry.records {
                actions.append(.send(.stop(Message.Stop(session: settings.session, reason: reason, message: text)),
                                     to: PeerID(record.peer)))
                workload.release(record.workerID, mayReturn: false)
                registry.remove(peer: record.peer)
            }
            return actions
        }
        let due = workload.due(live: registry.records.map(\.workerID), now: now)
        for id in due {
            if let record = registry.records.first(where: { $0.workerID == id }) {
                sendParameters(to: record, solicited: false, now: now, into: &actions)
            }
        }
        return actions
    }

    // MARK: - Messages

    private mutating func receive(_ message: Message, from peer: PeerID, now: ContinuousClock.Instant,
                                  into actions: inout [Action]) {
        switch message {
        case .hello(let hello):
            admit(hello, from: peer, now: now, into: &actions)
        case .requestParameters(let worker):
            guard let record = registered(peer, claiming: worker, now: now) else {
                return reject(.notRegistered, sequence: nil, to: peer, into: &actions)
            }
            sendParameters(to: record, solicited: true, now: now, into: &actions)
        case .requestModel(let request):
            guard let record = registered(peer, claiming: request.worker, now: now) else {
                return reject(.notRegistered, sequence: nil, to: peer, into: &actions)
            }
            if let model = settings.model {
                if request.hash != model.hash {
                    log(.warning, "worker \(record.workerID) asked for model \(String(request.hash, radix: 16)); this run's is \(String(model.hash, radix: 16))", into: &actions)
                }
                send(.model(model), to: record, now: now, into: &actions)
            }
            // The parameters name the model this run uses (or the built-in one).
            sendParameters(to: record, solicited: true, now: now, into: &actions)
        case .chunk(let chunk):
            offer(IterationBatch(chunk.batch), from: chunk.worker, session: chunk.session, version: chunk.version,
                  sequence: chunk.sequence, peer: peer, now: now, into: &actions)
        case .vineChunk(let chunk):
            offer(IterationBatch(chunk.batch), from: chunk.worker, session: chunk.session, version: chunk.version,
                  sequence: chunk.sequence, peer: peer, now: now, into: &actions)
        case .heartbeat(let beat):
            guard case .worker(let worker) = beat.sender, registered(peer, claiming: worker, now: now) != nil else {
                return reject(.notRegistered, sequence: nil, to: peer, into: &actions)
            }
        case .leave(let leave):
            guard let record = registered(peer, claiming: leave.worker, now: now) else {
                return refuse("a leave message from unregistered \(describe(peer)): \(leave.message)", into: &actions)
            }
            drop(record, into: &actions)
            log(.warning, "worker \(record.workerID) left (\(leave.reason)): \(leave.message); \(registry.aliveCount) alive", into: &actions)
        case .environmentSpec(let report):
            describes(report, from: peer, now: now, into: &actions)
        case .parameters, .stop, .reject, .model, .welcome:
            refuse("a \(message.kind) message from \(describe(peer)), which only the learner sends", into: &actions)
        }
    }

    /// A worker's spec of the run's external environment (docs/protocol.md §4.2, environmentSpec).
    private mutating func describes(_ report: Message.EnvironmentSpecReport, from peer: PeerID, now: ContinuousClock.Instant,
                                    into actions: inout [Action]) {
        guard let record = registered(peer, claiming: report.worker, now: now) else {
            return reject(.notRegistered, sequence: nil, to: peer, into: &actions)
        }
        let run = settings.environmentID, spec = report.spec
        guard settings.requiresSpec else {
            return refuse("an environmentSpec from worker \(record.workerID): \(run) is built in", into: &actions)
        }
        if settings.needsSnapshot && !spec.canSnapshot {
            return stop(peer, .environment,
                        "the vine needs an environment that can snapshot and restore its state; \(run) cannot "
                            + "(implement snapshot()/restore(), see docs/environments.md)",
                        log: "worker \(record.workerID): \(run) cannot snapshot its state, which the vine needs", into: &actions)
        }
        if let known = environmentSpec {
            if let difference = spec.difference(from: known) {
                return stop(peer, .environment, "environment spec differs from the run's: \(difference)",
                            log: "worker \(record.workerID)'s environment spec differs from the run's: \(difference)", into: &actions)
            }
        } else {
            environmentSpec = spec
            log(.progress, "\(run): \(spec) (from worker \(record.workerID))", into: &actions)
        }
        registry.update(peer: record.peer) { $0.specAccepted = true }
        sendParameters(to: registry.record(peer: record.peer)!, solicited: true, now: now, into: &actions)
    }

    /// The registration of `peer` if it is `worker`'s (id and nonce), noting it was heard.
    private mutating func registered(_ peer: PeerID, claiming worker: WorkerIdentity,
                                     now: ContinuousClock.Instant) -> WorkerRegistry.Record? {
        guard let record = registry.record(peer: peer.bytes), record.workerID == worker.id, record.nonce == worker.nonce
        else { return nil }
        registry.heard(peer: peer.bytes, now: now)
        return record
    }

    private mutating func refuseUndecodable(_ error: ProtocolError, from peer: PeerID, now: ContinuousClock.Instant,
                                            into actions: inout [Action]) {
        let reason: StopReason
        if case .unsupportedVersion = error { reason = .protocolVersion } else { reason = .malformedMessage }
        let text = reason == .protocolVersion
            ? "this learner speaks protocol version \(WireCodec.version): \(error)" : "\(error)"
        stop(peer, reason, text, log: "undecodable message from \(describe(peer)): \(error)", into: &actions)
    }

    // MARK: - Hello

    private mutating func admit(_ hello: Message.Hello, from peer: PeerID, now: ContinuousClock.Instant,
                                into actions: inout [Action]) {
        let run = settings.environmentID
        let named = hello.workerID.map { "worker \($0)" } ?? "a worker asking for an id"
        if !hello.environmentID.isEmpty && hello.environmentID != run {
            return stop(peer, .environment, "this learner runs \(run), not \(hello.environmentID)",
                        log: "\(named) wants \(hello.environmentID); this run is \(run)", into: &actions)
        }
        if let n = settings.expectedWorkers, let id = hello.workerID, id >= n {
            return stop(peer, .unexpectedWorker, "deterministic run with worker ids 0..<\(n)",
                        log: "worker \(id) is not one of the \(n) workers of this deterministic run", into: &actions)
        }
        guard let id = hello.workerID else { return register(hello, peer: peer, now: now, into: &actions) }
        // Another connection of another process holds the id: is that connection still there?
        if let holder = registry.records.first(where: { $0.workerID == id && $0.peer != peer.bytes }),
           holder.nonce != hello.nonce {
            let old = PeerID(holder.peer)
            claims[old, default: []].append((peer, hello))
            heartbeatSequence += 1
            actions.append(.probe(learnerHeartbeat(for: holder.workerID), to: old))
            return
        }
        register(hello, peer: peer, now: now, into: &actions)
    }

    /// Registers the hello's worker on `peer` (its id free, or held by a connection that is gone
    /// or by the same process), welcomes it and sends the model and its parameters.
    private mutating func register(_ hello: Message.Hello, peer: PeerID, now: ContinuousClock.Instant,
                                   into actions: inout [Action]) {
        let held = Set(registry.records.filter { $0.peer != peer.bytes && $0.nonce != hello.nonce }.map(\.workerID))
        let id: UInt32
        if let explicit = hello.workerID {
            id = explicit
        } else if let remembered = assignedIDs[hello.nonce], !held.contains(remembered) {
            id = remembered
        } else if let free = (0...UInt32.max).lazy.first(where: { !held.contains($0) }),
                  settings.expectedWorkers.map({ Int(free) < $0 }) ?? true {
            id = free
        } else {
            return stop(peer, .unexpectedWorker, "all \(settings.expectedWorkers ?? 0) worker ids of this deterministic run are held",
                        log: "a worker asking for an id: all ids of this deterministic run are held", into: &actions)
        }
        if hello.workerID == nil { assignedIDs[hello.nonce] = id }
        let copies = hello.simulatorCount > 0 ? hello.simulatorCount : settings.suggestedSimulators
        // The worker's earlier registration: the same process on another connection keeps its
        // sequence numbers; another process (a restart) releases what the old one held.
        let previous = registry.register(peer: peer.bytes, workerID: id, nonce: hello.nonce, environments: copies, now: now)
        if settings.requiresSpec { registry.update(peer: peer.bytes) { $0.specAccepted = false } }
        if let previous, previous.nonce != hello.nonce || previous.workerID != id {
            workload.release(previous.workerID, mayReturn: false)
        }
        // Another process under the id of one declared gone: what that one counted goes.
        if previous == nil, let gone = departed[id], gone != hello.nonce {
            workload.release(id, mayReturn: false)
        }
        let sequence = previous.flatMap { $0.nonce == hello.nonce ? $0.lastSequence : nil }
        registry.update(peer: peer.bytes) { $0.lastSequence = sequence }
        if let previous, previous.workerID == id, previous.nonce != hello.nonce {
            log(.progress, "worker \(id) restarted (new process) and registered again", into: &actions)
        } else if let previous, previous.workerID == id {
            log(.progress, "worker \(id) reconnected", into: &actions)
        } else if departed.removeValue(forKey: id) != nil {
            log(.progress, "worker \(id) is back after being declared gone; \(registry.aliveCount) alive", into: &actions)
        } else {
            log(.progress, "worker \(id) joined (\(copies) × \(settings.environmentID), \(hello.softwareVersion)\(hello.workerID == nil ? ", id assigned" : "")); \(registry.aliveCount) alive", into: &actions)
        }
        let record = registry.record(peer: peer.bytes)!
        send(.welcome(Message.Welcome(session: settings.session, worker: WorkerIdentity(id: id, nonce: hello.nonce),
                                      assigned: hello.workerID == nil, heartbeatInterval: settings.heartbeatInterval,
                                      workerTimeout: settings.workerTimeout, softwareVersion: settings.softwareVersion,
                                      environmentID: settings.environmentID, environmentArguments: settings.environmentArguments,
                                      specRequired: settings.requiresSpec)),
             to: record, now: now, into: &actions)
        // The model first: the parameters that name it arrive after it on the same connection.
        if let model = settings.model { send(.model(model), to: record, now: now, into: &actions) }
        sendParameters(to: record, solicited: true, now: now, into: &actions)
    }

    // MARK: - Chunks

    private mutating func offer(_ batch: IterationBatch, from worker: WorkerIdentity, session: UInt64, version: UInt64,
                                sequence: UInt64, peer: PeerID, now: ContinuousClock.Instant, into actions: inout [Action]) {
        guard let record = registered(peer, claiming: worker, now: now) else {
            refuse("a chunk from unregistered \(describe(peer))", into: &actions)
            return reject(.notRegistered, sequence: sequence, to: peer, into: &actions)
        }
        if let last = record.lastSequence, sequence <= last {
            return refuse("worker \(record.workerID) sent chunk \(sequence) after chunk \(last)", into: &actions)
        }
        registry.update(peer: peer.bytes) { $0.lastSequence = sequence }
        guard session == settings.session else {
            actions.append(.count(.staleSamplesDropped, batch.rows))
            return reject(.staleParameters, sequence: sequence, to: peer, into: &actions)
        }
        switch workload.offer(batch, version: version, from: record.workerID, sequence: sequence, now: now) {
        case .accepted(let output):
            if let output { actions.append(.output(output)) }
        case .stale:
            actions.append(.count(.staleSamplesDropped, batch.rows))
            reject(.staleParameters, sequence: sequence, to: peer, into: &actions)
        case .surplus:
            actions.append(.count(.staleSamplesDropped, batch.rows))
        case .fromTheFuture:
            refuse("worker \(record.workerID) sent a chunk of version \(version), ahead of \(workload.currentVersion)", into: &actions)
        case .misfit(let why):
            refuse("worker \(record.workerID) sent \(why)", into: &actions)
        }
    }

    // MARK: - Parameters and liveness

    /// Sends `record`'s parameters; unasked (`solicited` false), only when they differ from the
    /// last ones it was sent (a new version, session or a larger quota).
    private mutating func sendParameters(to record: WorkerRegistry.Record, solicited: Bool, now: ContinuousClock.Instant,
                                         into actions: inout [Action]) {
        guard record.specAccepted, let p = workload.parameters(for: record.workerID, live: registry.aliveCount, now: now)
        else { return }
        let stamp = WorkerRegistry.ParametersStamp(session: p.session, version: p.version, quota: p.quota)
        if !solicited && record.lastParameters == stamp { return }
        registry.update(peer: record.peer) { $0.lastParameters = stamp }
        send(.parameters(p), to: record, now: now, into: &actions)
    }

    private mutating func send(_ message: Message, to record: WorkerRegistry.Record, now: ContinuousClock.Instant,
                               into actions: inout [Action]) {
        registry.update(peer: record.peer) { $0.lastSent = now }
        actions.append(.send(message, to: PeerID(record.peer)))
    }

    private func learnerHeartbeat(for worker: UInt32) -> Message {
        .heartbeat(Message.Heartbeat(sender: .learner(session: settings.session), sequence: heartbeatSequence,
                                     timestamp: 0, version: workload.heartbeatVersion(for: worker)))
    }

    private mutating func heartbeat(now: ContinuousClock.Instant, into actions: inout [Action]) {
        let quiet = registry.records.filter { now - $0.lastSent >= settings.heartbeatInterval }
        guard !quiet.isEmpty else { return }
        heartbeatSequence += 1
        for record in quiet { send(learnerHeartbeat(for: record.workerID), to: record, now: now, into: &actions) }
    }

    private mutating func expire(now: ContinuousClock.Instant, into actions: inout [Action]) {
        for gone in registry.expire(now: now) {
            departed[gone.workerID] = gone.nonce
            workload.release(gone.workerID, mayReturn: true)
            log(.warning, "worker \(gone.workerID) silent for more than \(settings.workerTimeout); declared gone (\(registry.aliveCount) alive)", into: &actions)
        }
    }

    // MARK: - Refusals

    /// Forgets a registration (the process left, went away or was stopped); `mayReturn`: its
    /// connection broke, and the same process may come back (``ConversationWorkload/release(_:mayReturn:)``).
    private mutating func drop(_ record: WorkerRegistry.Record, mayReturn: Bool = false, into actions: inout [Action]) {
        registry.remove(peer: record.peer)
        departed[record.workerID] = record.nonce
        workload.release(record.workerID, mayReturn: mayReturn)
    }

    /// `stop(reason, text)` to `peer`, counted and logged; its registration, if any, is dropped.
    private mutating func stop(_ peer: PeerID, _ reason: StopReason, _ text: String, log line: String,
                               into actions: inout [Action]) {
        refuse(line, into: &actions)
        if let record = registry.record(peer: peer.bytes) { drop(record, into: &actions) }
        actions.append(.send(.stop(Message.Stop(session: settings.session, reason: reason, message: text)), to: peer))
    }

    private func reject(_ reason: RejectReason, sequence: UInt64?, to peer: PeerID, into actions: inout [Action]) {
        actions.append(.send(.reject(Message.Reject(session: settings.session, currentVersion: workload.currentVersion,
                                                    reason: reason, sequence: sequence, message: "")), to: peer))
    }

    private func refuse(_ what: String, into actions: inout [Action]) {
        actions.append(.count(.rejectedMessages, 1))
        log(.warning, "rejected \(what)", into: &actions)
    }

    private func log(_ level: LogLevel, _ line: String, into actions: inout [Action]) {
        actions.append(.log(level, "\(settings.logName): \(line)"))
    }

    private func describe(_ peer: PeerID) -> String {
        registry.record(peer: peer.bytes).map { "worker \($0.workerID)" } ?? peer.description
    }
}
