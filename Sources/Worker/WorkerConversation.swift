import Core
import Protocol
import Transport

/// The decisions of a rollout worker's conversation with its learner, without sockets,
/// samplers or a clock of its own: events in (a message, a tick of the clock, a link event,
/// a chunk sent, a stop request), actions out (messages to send, lines to log, a reconnect, a
/// sampler to prepare). ``WorkerService`` is the I/O shell that feeds it and carries the
/// actions out, in order.
///
/// The conversation (docs/protocol.md §4.3):
///
/// ```
///  connecting ──welcome──▶ registered ──parameters──▶ collecting ⇄ waitingForNextVersion
///      ▲                      │  ▲                        │         (quota met / top-up,
///      │                      │  └──model arrives──┐      │          newer version)
///      │                      └─parameters naming──▶ awaitingModel
///      │                         a model not held
///      └── reject(notRegistered), or a learner timeout without a message or a change of
///          the link (reconnect: a fresh socket), from any registered state; the collection
///          held is resumed if the learner sends its parameters again
///  any state ──stop / leave / connect timeout / CURVE refusal / signal──▶ finished(outcome)
/// ```
public struct WorkerConversation: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// What a ``WorkerConversation/State/connecting(since:resuming:)`` worker learns from
    /// the learner's welcome.
    public struct Registration: Equatable, Sendable {
        /// The learner session that welcomed the worker.
        public var session: UInt64
        /// This worker's id (its own, or the one the learner assigned) and nonce: every
        /// message after the welcome carries it.
        public var worker: WorkerIdentity
        /// The learner's heartbeat interval, which the worker uses for its own heartbeats.
        public var heartbeatInterval: Duration
    }

    /// Collecting with one parameter version.
    public struct Collection: Equatable, Sendable {
        public var parameters: Message.Parameters
        /// Rows (vine: rollout-set states) this process has sent with these parameters.
        public var rowsSent: Int

        /// Whether a deterministic run's quota for the version is collected.
        public var quotaMet: Bool { parameters.quota > 0 && rowsSent >= parameters.quota }
    }

    public enum State: Equatable, Sendable {
        /// A hello went out at `since` on the current connection; no welcome yet. `resuming`:
        /// the collection held before (a reconnect), continued if the learner sends the same
        /// parameters again.
        case connecting(since: Instant, resuming: Collection?)
        /// Welcomed; no parameters to collect with yet (the learner sends them next).
        case registered(Registration, resuming: Collection?)
        /// The parameters name a custom model this worker does not hold; it asked for it at
        /// `asked` and asks again every heartbeat interval.
        case awaitingModel(Registration, pending: Message.Parameters, asked: Instant)
        /// Collecting chunks with the collection's parameters.
        case collecting(Registration, Collection)
        /// A deterministic run's quota is met: heartbeats only, until a newer version.
        case waitingForNextVersion(Registration, Collection)
        case finished(WorkerOutcome)
    }

    /// What the shell does, in the order given.
    public enum Action: Equatable, Sendable {
        /// Queue this message for the learner (a full queue drops it: the protocol recovers).
        case send(Message)
        case log(LogLevel, String)
        /// Close the connection and connect a fresh one; the hello that follows goes on it.
        case reconnect
        /// Have a sampler ready for these parameters before the next chunk: load them into
        /// the current one when its ``WorkerSampler/Key`` matches, else build one (with
        /// `model`, the custom model they name). Report failure with ``cannotCollect(_:)``.
        case prepareSampler(Message.Parameters, model: Message.Model?)
    }

    /// The fields every chunk carries besides its samples.
    public struct ChunkHeader: Equatable, Sendable {
        public var worker: WorkerIdentity
        public var session: UInt64
        public var version: UInt64
        public var sequence: UInt64
    }

    /// The chunk to collect next.
    public struct Assignment: Equatable, Sendable {
        public var parameters: Message.Parameters
        /// Rows (single path) or at most this many rollout-set states (vine).
        public var count: Int
        public var header: ChunkHeader
    }

    public let configuration: WorkerConfiguration
    /// Random per process start: tells this process from an earlier one with the same id.
    public let nonce: UInt64
    public private(set) var state: State

    // Facts of the process that outlive any one state.
    private let started: Instant
    /// The last time the learner was heard from.
    private var lastHeard: Instant
    /// The last time the learner was heard from, or the link came up or went down: the
    /// learner timeout counts silence from here.
    private var quietSince: Instant
    private var lastSent: Instant
    private var heartbeatSequence: UInt64 = 0
    /// The next chunk's sequence number (per process, across versions and reconnects).
    private var chunkSequence: UInt64 = 0
    /// The last chunks sent (at most ``recentChunkLimit``): what a `reject(notRegistered)`
    /// naming one of them takes back from the quota's count.
    private var recentChunks: [(sequence: UInt64, session: UInt64, version: UInt64, rows: Int)] = []
    private static let recentChunkLimit = 64
    /// The custom model the learner sent last (parameters name it by hash).
    private var model: Message.Model?
    /// The id the latest welcome gave this worker.
    private var welcomedID: UInt32?
    /// Whether any learner ever welcomed this process.
    public var reachedLearner: Bool { welcomedID != nil }
    private var linkUp = false
    /// The reason connection attempts fail, as last logged (nil: none since the link was up).
    private var unreachable: Unreachability?
    /// Why the learner's socket refuses this worker's handshake, since it was last heard from.
    private var admissionFailure: String?
    /// Whether a closed handshake since the learner was last heard has been logged (once).
    private var closedHandshakeNoted = false
    /// Whether a fresh connection for want of one since the learner was last heard has been
    /// logged (once).
    private var freshConnectionNoted = false

    public init(configuration: WorkerConfiguration, nonce: UInt64, now: Instant) {
        self.configuration = configuration
        self.nonce = nonce
        state = .connecting(since: now, resuming: nil)
        (started, lastHeard, quietSince, lastSent) = (now, now, now, now)
    }

    // MARK: - Queries

    public var outcome: WorkerOutcome? {
        if case .finished(let outcome) = state { outcome } else { nil }
    }

    /// The id this worker goes by: the learner's welcome's, else its own `--worker-id`.
    public var workerID: UInt32? { welcomedID ?? configuration.workerID }

    /// The chunk to collect now, if the worker is collecting.
    public var assignment: Assignment? {
        guard case .collecting(let registration, let c) = state else { return nil }
        let p = c.parameters
        let count = p.quota == 0 ? p.chunkSteps : min(p.chunkSteps, p.quota - c.rowsSent)
        return Assignment(parameters: p, count: count,
                          header: ChunkHeader(worker: registration.worker, session: p.session, version: p.version,
                                              sequence: chunkSequence))
    }

    /// Whether handling `message` would end the collection in progress (newer parameters,
    /// a stop, a new registration): the shell abandons the chunk it is collecting and
    /// handles the message after. Changes nothing.
    public func interrupts(_ message: Message) -> Bool {
        guard case .collecting(_, let c) = state else { return false }
        switch message {
        case .parameters(let p):
            return supersedes(p, c.parameters)
        case .stop, .welcome:
            return true
        case .reject(let reject):
            return reject.reason == .notRegistered
        case .heartbeat, .model, .hello, .chunk, .vineChunk, .requestParameters, .requestModel, .leave, .environmentSpec:
            return false
        }
    }

    // MARK: - Events

    /// The worker starts: it says hello.
    public mutating func start(at now: Instant) -> [Action] {
        let asking = configuration.workerID == nil ? " (the learner assigns this worker's id)" : ""
        return [.log(.progress, "\(name): connecting to \(configuration.endpoint)\(asking)"), hello(now)]
    }

    /// A message from the learner.
    public mutating func receive(_ message: Message, at now: Instant) -> [Action] {
        guard outcome == nil else { return [] }
        heard(at: now)
        switch message {
        case .welcome(let welcome): return welcomed(welcome)
        case .parameters(let p): return parametersArrived(p, at: now)
        case .model(let received): return modelArrived(received, at: now)
        case .stop(let stop): return stopped(stop)
        case .reject(let reject): return rejected(reject, at: now)
        case .heartbeat(let beat): return learnerHeartbeat(beat, at: now)
        case .hello, .chunk, .vineChunk, .requestParameters, .requestModel, .leave, .environmentSpec:
            return [.log(.warning, "\(name): ignoring a \(message.kind) message, which only workers send")]
        }
    }

    /// A message from the learner that failed to decode: logged and ignored, except one of
    /// another protocol version, which ends the worker.
    public mutating func receiveUndecodable(_ error: ProtocolError, at now: Instant) -> [Action] {
        guard outcome == nil else { return [] }
        heard(at: now)
        if case .unsupportedVersion(let version) = error {
            return finish(.refused("the learner speaks protocol version \(version); this worker speaks \(WireCodec.version)"))
        }
        return [.log(.warning, "\(name): undecodable message from the learner: \(error)")]
    }

    /// What the link to the learner did (from the endpoint's socket monitor).
    public mutating func link(_ event: WorkerEndpoint.LinkEvent, at now: Instant) -> [Action] {
        guard outcome == nil else { return [] }
        switch event {
        case .connected:
            linkUp = true
            unreachable = nil
            quietSince = max(quietSince, now)
            return []
        case .disconnected:
            defer { linkUp = false }
            quietSince = max(quietSince, now)
            guard linkUp, registration != nil else { return [] }
            return [.log(.warning, "\(name): lost the connection to the learner at \(configuration.endpoint); reconnecting (is it restarting?)")]
        case .unreachable(let why):
            linkUp = false
            guard why != unreachable else { return [] }
            unreachable = why
            let retrying = reachedLearner ? "retrying until it is back"
                : "retrying (gives up after --connect-timeout \(spoken(configuration.connectTimeout)) without a learner)"
            return [.log(.warning, "\(name): cannot reach \(configuration.endpoint): \(why); \(retrying)")]
        case .refused(.closedDuringHandshake) where reachedLearner:
            // This learner admitted the worker before: a closed handshake now is a learner
            // going down or coming back (a crash and a supervised restart), not a key or
            // mechanism mismatch. Keep retrying, as for an unreachable learner.
            linkUp = false
            guard !closedHandshakeNoted else { return [] }
            closedHandshakeNoted = true
            return [.log(.warning, "\(name): the learner closed a handshake (is it restarting?); retrying until it is back")]
        case .refused(let refusal):
            let why = describe(refusal)
            defer { admissionFailure = why }
            return why == admissionFailure ? [] : [.log(.warning, "\(name): \(why)")]
        }
    }

    /// The clock moved: heartbeats, model requests, reconnects and the timeouts.
    public mutating func tick(at now: Instant) -> [Action] {
        guard outcome == nil else { return [] }
        // A refused handshake still brings the link up (and down) every retry: count from the
        // last message.
        if let admissionFailure, now - lastHeard > configuration.learnerTimeout {
            return finish(.notAdmitted(admissionFailure))
        }
        if !reachedLearner, now - started > configuration.connectTimeout {
            let why = unreachable.map { "\($0)" } ?? admissionFailure ?? (linkUp ? "connected, but no welcome came" : "no connection")
            return finish(.unreachable("gave up on the learner at \(configuration.endpoint) after \(spoken(configuration.connectTimeout)) (--connect-timeout): \(why)"))
        }
        if now - quietSince > configuration.learnerTimeout {
            // A fresh socket: for silence on a live link, and for a link down that long (libzmq
            // retries a broken connection by itself, except after a protocol error on it, a
            // frame it cannot decode: then it stops for good, and says nothing more).
            var actions: [Action] = []
            let timeout = spoken(configuration.learnerTimeout)
            if linkUp {
                let hint = configuration.curve != nil && !reachedLearner
                    ? " (if this persists, check that --learner-public is the learner's public key)" : ""
                actions.append(.log(.warning, "\(name): no word from the learner for \(timeout); reconnecting\(hint)"))
            } else if reachedLearner && !freshConnectionNoted {
                freshConnectionNoted = true
                actions.append(.log(.warning, "\(name): no connection to the learner for \(timeout); "
                                    + "starting a fresh one, and again every \(timeout) until it is back"))
            }
            quietSince = now
            linkUp = false
            return actions + [.reconnect, hello(now)]
        }
        var actions: [Action] = []
        if case .awaitingModel(let registration, let pending, let asked) = state, now - asked > registration.heartbeatInterval {
            actions.append(contentsOf: requestModel(pending, registration, at: now))  // the model or the request was lost
        }
        if let beat = heartbeatIfDue(at: now) { actions.append(.send(beat)) }
        return actions
    }

    /// A heartbeat when the worker has sent nothing for the learner's heartbeat interval
    /// (the only thing a collecting worker does between lockstep steps besides polling).
    public mutating func heartbeatIfDue(at now: Instant) -> Message? {
        guard let registration, now - lastSent > registration.heartbeatInterval else { return nil }
        heartbeatSequence += 1
        lastSent = now
        let (seconds, attoseconds) = (now - started).components
        return .heartbeat(Message.Heartbeat(sender: .worker(registration.worker), sequence: heartbeatSequence,
                                            timestamp: UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000),
                                            version: collection?.parameters.version))
    }

    /// The assignment's chunk is queued for the learner.
    public mutating func chunkSent(rows: Int, at now: Instant) {
        guard case .collecting(let registration, var c) = state else { preconditionFailure("a chunk sent while not collecting") }
        c.rowsSent += rows
        recentChunks.append((chunkSequence, c.parameters.session, c.parameters.version, rows))
        if recentChunks.count > Self.recentChunkLimit { recentChunks.removeFirst() }
        chunkSequence += 1
        lastSent = now
        state = c.quotaMet ? .waitingForNextVersion(registration, c) : .collecting(registration, c)
    }

    /// The shell could not prepare a sampler for the parameters (``Action/prepareSampler(_:model:)``):
    /// the worker leaves the run with `why`.
    public mutating func cannotCollect(_ why: String) -> [Action] {
        guard outcome == nil else { return [] }
        return [.log(.warning, "\(name): cannot collect for this run: \(why); exiting")] + leave(why)
    }

    /// SIGINT/SIGTERM, or the parent process went away (`why` names it).
    public mutating func stopRequested(_ why: String) -> [Action] {
        guard outcome == nil else { return [] }
        return finish(reachedLearner ? .interrupted : .interruptedBeforeReachingLearner("\(why) before reaching a learner at \(configuration.endpoint)"))
    }

    // MARK: - Message handling

    private mutating func welcomed(_ welcome: Message.Welcome) -> [Action] {
        guard welcome.worker.nonce == nonce else {
            return [.log(.warning, "\(name): ignoring a welcome for another worker process (nonce \(String(welcome.worker.nonce, radix: 16)))")]
        }
        if let wanted = configuration.workerID, welcome.worker.id != wanted {
            return [.log(.warning, "\(name): the learner welcomed this worker as worker \(welcome.worker.id)")]
                + finish(.refused("the learner welcomed this worker as worker \(welcome.worker.id), not as --worker-id \(wanted)"))
        }
        let previous = registration
        let registration = Registration(session: welcome.session, worker: welcome.worker, heartbeatInterval: welcome.heartbeatInterval)
        state = .registered(registration, resuming: collection)
        if welcome.specRequired {
            // An environment only a Python worker can make (gym:ID, py:MODULE:FACTORY).
            let why = "\(welcome.environmentID) is an external environment, which trpo worker cannot make; "
                + "run trpo-gym-worker (pip install ./python) against this learner instead"
            return [.log(.warning, "\(name): \(why); exiting")] + leave(why)
        }
        welcomedID = welcome.worker.id
        guard previous?.session != registration.session || previous?.worker != registration.worker else { return [] }
        let id = welcome.assigned ? "id \(welcome.worker.id) assigned by the learner" : "id \(welcome.worker.id)"
        return [.log(.progress, "\(name): registered with learner session \(String(welcome.session, radix: 16)) (\(id)); "
                     + "heartbeats every \(spoken(welcome.heartbeatInterval)), the learner drops workers silent for \(spoken(welcome.workerTimeout))")]
    }

    private mutating func parametersArrived(_ p: Message.Parameters, at now: Instant) -> [Action] {
        guard let registration else { return [] }  // before the welcome: they answer an earlier connection
        if let wanted = configuration.environmentID, wanted != p.environmentID {
            return [.log(.warning, "\(name): the learner runs \(p.environmentID), this worker only \(wanted); exiting")]
                + leave("environment \(p.environmentID) is not \(wanted)")
        }
        if let wanted = configuration.sampler, wanted != p.sampling.kind {
            return [.log(.warning, "\(name): the learner's run samples \(p.sampling.kind.rawValue), this worker only \(wanted.rawValue); exiting")]
                + leave("the learner's run samples \(p.sampling.kind.rawValue); this worker was started with --sampler \(wanted.rawValue)")
        }
        let held = collection
        if var c = held, !supersedes(p, c.parameters) {
            // The same version again (or an older one): only a larger quota (a top-up) changes anything.
            if p.version == c.parameters.version && p.quota > c.parameters.quota { c.parameters.quota = p.quota }
            state = c.quotaMet ? .waitingForNextVersion(registration, c) : .collecting(registration, c)
            return []
        }
        if p.modelHash != 0 && model?.hash != p.modelHash {
            // Normally the model arrives before its parameters; until it does, collect nothing.
            return requestModel(p, registration, at: now)
        }
        state = .collecting(registration, Collection(parameters: p, rowsSent: 0))
        var actions: [Action] = []
        if held?.parameters.session != p.session {
            actions.append(.log(.progress, "\(name): collecting \(p.environmentID) from version \(p.version) of learner session \(String(p.session, radix: 16))"))
        }
        return actions + [.prepareSampler(p, model: p.modelHash == 0 ? nil : model)]
    }

    private mutating func modelArrived(_ received: Message.Model, at now: Instant) -> [Action] {
        var actions: [Action] = []
        if model?.hash != received.hash {
            actions.append(.log(.progress, "\(name): received the learner's custom model (\(received.xml.utf8.count) bytes, hash \(String(received.hash, radix: 16)))"))
        }
        model = received
        if case .awaitingModel(let registration, let pending, _) = state, pending.modelHash == received.hash {
            state = .registered(registration, resuming: nil)
            actions.append(contentsOf: parametersArrived(pending, at: now))
        }
        return actions
    }

    private mutating func stopped(_ stop: Message.Stop) -> [Action] {
        switch stop.reason {
        case .finished:
            return [.log(.progress, "\(name): the run is finished; exiting")] + finish(.finished)
        case .interrupted:
            return [.log(.progress, "\(name): the learner is shutting down; exiting")] + finish(.finished)
        default:
            return [.log(.warning, "\(name): refused by the learner (\(stop.reason)): \(stop.message)")]
                + finish(.refused("\(stop.reason): \(stop.message)"))
        }
    }

    private mutating func rejected(_ reject: Message.Reject, at now: Instant) -> [Action] {
        switch reject.reason {
        case .notRegistered:
            // The refused chunk was not taken: its rows do not count towards the quota (§4.4),
            // or a worker back from being declared gone would wait for a batch that lacks them.
            if let sequence = reject.sequence, let i = recentChunks.firstIndex(where: { $0.sequence == sequence }) {
                let chunk = recentChunks.remove(at: i)
                uncount(chunk.rows, session: chunk.session, version: chunk.version)
            }
            // A hello is already on its way while connecting.
            guard registration != nil else { return [] }
            return [.log(.progress, "\(name): the learner does not know this worker (it restarted, or dropped it); saying hello again"),
                    hello(now)]
        case .staleParameters:
            guard let registration, let held = collection,
                  reject.session != held.parameters.session || reject.currentVersion > held.parameters.version else { return [] }
            return [.send(.requestParameters(registration.worker))]
        }
    }

    private mutating func learnerHeartbeat(_ beat: Message.Heartbeat, at now: Instant) -> [Action] {
        guard let registration, case .learner(let session) = beat.sender, let version = beat.version else { return [] }
        let held: Message.Parameters? =
            if case .awaitingModel(_, let pending, _) = state { pending } else { collection?.parameters }
        guard session != held?.session || version > (held?.version ?? 0) else { return [] }
        return [.send(.requestParameters(registration.worker))]
    }

    // MARK: - Helpers

    /// How log lines name this worker: "worker 3", or "worker" before it has an id.
    private var name: String { workerID.map { "worker \($0)" } ?? "worker" }

    private var registration: Registration? {
        switch state {
        case .registered(let r, _), .awaitingModel(let r, _, _), .collecting(let r, _), .waitingForNextVersion(let r, _): r
        case .connecting, .finished: nil
        }
    }

    /// The collection held: in progress, waiting, or to be resumed.
    private var collection: Collection? {
        switch state {
        case .connecting(_, let c), .registered(_, let c): c
        case .collecting(_, let c), .waitingForNextVersion(_, let c): c
        case .awaitingModel, .finished: nil
        }
    }

    /// Whether parameters `p` replace the `held` ones: another run (session or stream) or a
    /// newer version. Anything else is a repeat, at most a top-up.
    private func supersedes(_ p: Message.Parameters, _ held: Message.Parameters) -> Bool {
        !sameRun(p, held) || p.version > held.version
    }

    /// Whether `a` and `b` are versions of one run's parameters for this worker (session
    /// and stream).
    private func sameRun(_ a: Message.Parameters, _ b: Message.Parameters) -> Bool {
        a.session == b.session && a.stream == b.stream
    }

    private mutating func heard(at now: Instant) {
        lastHeard = max(lastHeard, now)
        quietSince = max(quietSince, now)
        linkUp = true
        unreachable = nil
        admissionFailure = nil
        closedHandshakeNoted = false
        freshConnectionNoted = false
    }

    /// Takes `rows` back from the held collection's count, if it is of (`session`, `version`):
    /// a quota met by them is open again.
    private mutating func uncount(_ rows: Int, session: UInt64, version: UInt64) {
        func taken(_ c: Collection?) -> Collection? {
            guard var c, c.parameters.session == session, c.parameters.version == version else { return c }
            c.rowsSent = max(0, c.rowsSent - rows)
            return c
        }
        switch state {
        case .connecting(let since, let c): state = .connecting(since: since, resuming: taken(c))
        case .registered(let r, let c): state = .registered(r, resuming: taken(c))
        case .collecting(let r, let c), .waitingForNextVersion(let r, let c):
            let c = taken(c)!
            state = c.quotaMet ? .waitingForNextVersion(r, c) : .collecting(r, c)
        case .awaitingModel, .finished: break
        }
    }

    /// A hello (with the worker's own id, or asking for one), entering `connecting`.
    private mutating func hello(_ now: Instant) -> Action {
        state = .connecting(since: now, resuming: collection)
        lastSent = now
        return .send(.hello(Message.Hello(nonce: nonce, workerID: configuration.workerID,
                                          simulatorCount: configuration.simulatorCount ?? 0,
                                          environmentID: configuration.environmentID ?? "",
                                          softwareVersion: "trpo \(trpoVersion)")))
    }

    private mutating func requestModel(_ pending: Message.Parameters, _ registration: Registration, at now: Instant) -> [Action] {
        var actions: [Action] = []
        if case .awaitingModel = state {} else {
            actions.append(.log(.progress, "\(name): asking the learner for its custom model (hash \(String(pending.modelHash, radix: 16)))"))
        }
        state = .awaitingModel(registration, pending: pending, asked: now)
        lastSent = now
        actions.append(.send(.requestModel(Message.ModelRequest(worker: registration.worker, hash: pending.modelHash))))
        return actions
    }

    /// Gives up on the learner's run: a leave message (its text cut to fit the learner's
    /// string limit) and ``WorkerOutcome/incompatible(_:)``.
    private mutating func leave(_ why: String) -> [Action] {
        let worker = registration?.worker ?? WorkerIdentity(id: configuration.workerID ?? 0, nonce: nonce)
        let text = String(decoding: why.utf8.prefix(DecodingLimits.default.maxStringBytes - 4), as: UTF8.self)
        return [.send(.leave(Message.Leave(worker: worker, reason: .incompatible, message: text)))] + finish(.incompatible(why))
    }

    private mutating func finish(_ outcome: WorkerOutcome) -> [Action] {
        state = .finished(outcome)
        return []
    }

    private func describe(_ refusal: WorkerEndpoint.HandshakeRefusal) -> String {
        switch (refusal, configuration.curve) {
        case (.keyNotAllowed(let status), let curve):
            "the learner refused this worker's key (not on its allow-list): public key "
                + "\(curve?.keys.publicKey.z85 ?? "?") (ZAP status \(status)); copy this worker's .pub file into the learner's "
                + "--allow-workers directory"
        case (.mechanismMismatch, nil):
            "the learner requires CURVE and refused this plaintext worker: start it with --curve-secret FILE --learner-public FILE"
        case (.mechanismMismatch, _):
            "the learner does not use CURVE; start this worker without --curve-secret/--learner-public (or the learner with them)"
        case (.protocolError(let what), _):
            "the learner refused the connection: \(what)"
        case (.closedDuringHandshake, nil):
            "the learner closed every handshake of this plaintext worker, as a learner that requires CURVE does: start it "
                + "with --curve-secret FILE --learner-public FILE"
        case (.closedDuringHandshake, _):
            "the learner closed every CURVE handshake of this worker: check that --learner-public is the learner's public key "
                + "and that the learner uses CURVE"
        }
    }
}

/// `"300 s"`, `"1.5 s"`, `"5 min"`: a duration for a log line.
func spoken(_ duration: Duration) -> String {
    var seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    if seconds >= 10 { seconds.round() }
    if seconds >= 120, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
    if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
    return "\(Double(Int(seconds * 10)) / 10) s"
}
