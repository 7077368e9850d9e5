import Core
import Protocol
import Testing
import Transport
@testable import Worker

/// The worker's conversation as a pure state machine: events in, actions out, no sockets.
@Suite struct WorkerConversationTests {
    typealias Instant = WorkerConversation.Instant
    typealias Action = WorkerConversation.Action

    static let t0 = ContinuousClock.now
    static func at(_ seconds: Double) -> Instant { t0 + .milliseconds(Int64(seconds * 1000)) }
    static let nonce: UInt64 = 0xABCD
    static let session: UInt64 = 0x5E55
    static let modelXML = "<mujoco model=\"m\"><worldbody/></mujoco>"
    static let policy: Policy = {
        var random = RandomStream(seed: 1)
        return Policy(observationSize: 4, head: .categorical(actions: 2), hiddenSizes: [8], random: &random)
    }()

    static func configuration(id: UInt32? = nil) -> WorkerConfiguration {
        var c = WorkerConfiguration(endpoint: "tcp://learner:5555", workerID: id)
        c.learnerTimeout = .seconds(10)
        c.connectTimeout = .seconds(60)
        return c
    }

    static func parameters(version: UInt64, quota: Int = 0, modelHash: UInt64 = 0, session: UInt64 = session,
                           stream: UInt64 = 4, environment: String = "CartPole-v1") -> Message.Parameters {
        Message.Parameters(session: session, version: version, seed: 1, environmentID: environment, simulatorCount: 8,
                           chunkSteps: 64, quota: quota, policy: policy, normalizer: nil, stream: stream, modelHash: modelHash)
    }

    static func welcome(id: UInt32 = 4, nonce: UInt64 = nonce, session: UInt64 = session, heartbeat: Duration = .seconds(1),
                        environment: String = "CartPole-v1") -> Message {
        .welcome(Message.Welcome(session: session, worker: WorkerIdentity(id: id, nonce: nonce), assigned: true,
                                 heartbeatInterval: heartbeat, workerTimeout: .seconds(10), softwareVersion: "trpo",
                                 environmentID: environment, specRequired: EnvironmentName.isExternal(environment)))
    }

    /// The hello of ``configuration(id:)`` without an id.
    static let hello = Message.hello(Message.Hello(nonce: nonce, workerID: nil, simulatorCount: 0, environmentID: "",
                                                   softwareVersion: "trpo \(trpoVersion)"))

    static let model = Message.Model(session: session, xml: modelXML)
    static let registration = WorkerConversation.Registration(session: session, worker: WorkerIdentity(id: 4, nonce: nonce),
                                                              heartbeatInterval: .seconds(1))

    /// The states a conversation can be driven into, each by the events that lead there.
    enum Stage: String, CaseIterable, CustomTestStringConvertible {
        case connecting, registered, awaitingModel, collecting, waitingForNextVersion, finished
        var testDescription: String { rawValue }
    }

    /// A conversation in `stage` (collections with version 1; the awaited model is ``model``).
    static func conversation(in stage: Stage, id: UInt32? = nil) -> WorkerConversation {
        var c = WorkerConversation(configuration: configuration(id: id), nonce: nonce, now: at(0))
        _ = c.start(at: at(0))
        if stage == .connecting { return c }
        _ = c.receive(welcome(id: id ?? 4), at: at(0.1))
        switch stage {
        case .connecting, .registered: break
        case .awaitingModel: _ = c.receive(.parameters(parameters(version: 1, modelHash: model.hash)), at: at(0.2))
        case .collecting: _ = c.receive(.parameters(parameters(version: 1)), at: at(0.2))
        case .waitingForNextVersion:
            _ = c.receive(.parameters(parameters(version: 1, quota: 64)), at: at(0.2))
            c.chunkSent(rows: 64, at: at(0.3))
        case .finished: _ = c.receive(.stop(Message.Stop(session: session, reason: .finished, message: "")), at: at(0.2))
        }
        return c
    }

    static func sent(_ actions: [Action]) -> [Message] {
        actions.compactMap { if case .send(let m) = $0 { m } else { nil } }
    }

    static func logs(_ actions: [Action]) -> [String] {
        actions.compactMap { if case .log(_, let line) = $0 { line } else { nil } }
    }

    static func collection(_ version: UInt64, quota: Int = 0, rows: Int = 0) -> WorkerConversation.Collection {
        WorkerConversation.Collection(parameters: parameters(version: version, quota: quota), rowsSent: rows)
    }

    // MARK: - The stages themselves

    @Test func startSaysHelloAskingForAnIdUnlessGivenOne() {
        var assigned = WorkerConversation(configuration: Self.configuration(), nonce: Self.nonce, now: Self.at(0))
        let actions = assigned.start(at: Self.at(0))
        guard case .hello(let hello)? = Self.sent(actions).first else { Issue.record("\(actions)"); return }
        #expect(hello.workerID == nil && hello.nonce == Self.nonce)
        #expect(Self.logs(actions) == ["worker: connecting to tcp://learner:5555 (the learner assigns this worker's id)"])
        #expect(assigned.state == .connecting(since: Self.at(0), resuming: nil))

        var insisting = WorkerConversation(configuration: Self.configuration(id: 3), nonce: Self.nonce, now: Self.at(0))
        guard case .hello(let own)? = Self.sent(insisting.start(at: Self.at(0))).first else { Issue.record("no hello"); return }
        #expect(own.workerID == 3)
    }

    @Test(arguments: Stage.allCases) func eachStageIsWhatItsEventsLeadTo(stage: Stage) {
        let c = Self.conversation(in: stage)
        switch stage {
        case .connecting: #expect(c.state == .connecting(since: Self.at(0), resuming: nil))
        case .registered: #expect(c.state == .registered(Self.registration, resuming: nil))
        case .awaitingModel:
            #expect(c.state == .awaitingModel(Self.registration, pending: Self.parameters(version: 1, modelHash: Self.model.hash), asked: Self.at(0.2)))
        case .collecting: #expect(c.state == .collecting(Self.registration, Self.collection(1)))
        case .waitingForNextVersion: #expect(c.state == .waitingForNextVersion(Self.registration, Self.collection(1, quota: 64, rows: 64)))
        case .finished: #expect(c.outcome == .finished)
        }
        #expect((c.assignment != nil) == (stage == .collecting))
    }

    // MARK: - Every message kind in every state

    @Test(arguments: Stage.allCases) func welcome(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receive(Self.welcome(), at: Self.at(1))
        switch stage {
        case .connecting:
            #expect(c.state == .registered(Self.registration, resuming: nil))
            #expect(Self.logs(actions) == ["worker 4: registered with learner session 5e55 (id 4 assigned by the learner); heartbeats every 1 s, the learner drops workers silent for 10 s"])
            #expect(c.workerID == 4 && c.reachedLearner)
        case .registered, .awaitingModel:
            #expect(c.state == .registered(Self.registration, resuming: nil))
            #expect(actions.isEmpty)
        case .collecting, .waitingForNextVersion:
            // The collection held is resumed when the learner sends its parameters again.
            guard case .collecting(_, let held) = before, case .registered(_, let resuming) = c.state else {
                if case .waitingForNextVersion(_, let held) = before, case .registered(_, let resuming) = c.state {
                    #expect(resuming == held)
                } else { Issue.record("\(c.state)") }
                return
            }
            #expect(resuming == held)
        case .finished:
            #expect(actions.isEmpty && c.state == before)
        }
        // A welcome answering another process's hello changes nothing.
        var other = Self.conversation(in: stage)
        let state = other.state
        let ignored = other.receive(Self.welcome(nonce: 1), at: Self.at(1))
        #expect(other.state == state)
        #expect(stage == .finished ? ignored.isEmpty : Self.logs(ignored).first?.contains("ignoring a welcome for another worker process") == true)
    }

    @Test(arguments: Stage.allCases) func newerParameters(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let p = Self.parameters(version: 2)
        let actions = c.receive(.parameters(p), at: Self.at(1))
        switch stage {
        case .connecting, .finished:
            // Before the welcome they answer an earlier connection.
            #expect(actions.isEmpty && c.state == before)
        case .registered:
            #expect(c.state == .collecting(Self.registration, Self.collection(2)))
            #expect(actions == [.log(.progress, "worker 4: collecting CartPole-v1 from version 2 of learner session 5e55"),
                                .prepareSampler(p, model: nil)])
        case .awaitingModel, .collecting, .waitingForNextVersion:
            #expect(c.state == .collecting(Self.registration, Self.collection(2)))
            #expect(actions.last == .prepareSampler(p, model: nil))
        }
    }

    @Test(arguments: Stage.allCases) func model(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receive(.model(Self.model), at: Self.at(1))
        switch stage {
        case .finished:
            #expect(actions.isEmpty)
        case .awaitingModel:
            let p = Self.parameters(version: 1, modelHash: Self.model.hash)
            #expect(c.state == .collecting(Self.registration, WorkerConversation.Collection(parameters: p, rowsSent: 0)))
            #expect(actions.last == .prepareSampler(p, model: Self.model))
        case .connecting, .registered, .collecting, .waitingForNextVersion:
            #expect(c.state == before)
            #expect(Self.logs(actions) == ["\(stage == .connecting ? "worker" : "worker 4"): received the learner's custom model (\(Self.modelXML.utf8.count) bytes, hash \(String(Self.model.hash, radix: 16)))"])
        }
    }

    @Test(arguments: Stage.allCases, [StopReason.finished, .interrupted, .duplicateWorker, .environment, .unexpectedWorker])
    func stop(stage: Stage, reason: StopReason) {
        var c = Self.conversation(in: stage)
        _ = c.receive(.stop(Message.Stop(session: Self.session, reason: reason, message: "id 4 is taken")), at: Self.at(1))
        switch (stage, reason) {
        case (.finished, _), (_, .finished), (_, .interrupted): #expect(c.outcome == .finished)
        default: #expect(c.outcome == .refused("\(reason): id 4 is taken"))
        }
    }

    @Test(arguments: Stage.allCases) func rejectNotRegistered(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receive(.reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .notRegistered,
                                                       sequence: nil, message: "")), at: Self.at(1))
        switch stage {
        case .connecting, .finished:
            #expect(Self.sent(actions).isEmpty && c.state == before)  // a hello is already out
        case .registered, .awaitingModel, .collecting, .waitingForNextVersion:
            guard case .hello(let hello)? = Self.sent(actions).first else { Issue.record("\(actions)"); return }
            #expect(hello.workerID == nil)  // it asks again; the learner gives the same id back when free
            let resuming: WorkerConversation.Collection? = switch before {
            case .collecting(_, let held), .waitingForNextVersion(_, let held): held
            default: nil
            }
            #expect(c.state == .connecting(since: Self.at(1), resuming: resuming))
        }
    }

    @Test(arguments: Stage.allCases) func rejectStaleParameters(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receive(.reject(Message.Reject(session: Self.session, currentVersion: 2, reason: .staleParameters,
                                                       sequence: 0, message: "")), at: Self.at(1))
        #expect(c.state == before)
        let asks = Self.sent(actions) == [.requestParameters(WorkerIdentity(id: 4, nonce: Self.nonce))]
        #expect(asks == (stage == .collecting || stage == .waitingForNextVersion))
    }

    @Test(arguments: Stage.allCases) func learnerHeartbeat(stage: Stage) {
        func beat(_ version: UInt64) -> Message {
            .heartbeat(Message.Heartbeat(sender: .learner(session: Self.session), sequence: 1, timestamp: 0, version: version))
        }
        var c = Self.conversation(in: stage)
        let before = c.state
        let current = Self.sent(c.receive(beat(1), at: Self.at(1)))
        let newer = Self.sent(c.receive(beat(2), at: Self.at(1)))
        #expect(c.state == before)
        let ask = [Message.requestParameters(WorkerIdentity(id: 4, nonce: Self.nonce))]
        switch stage {
        case .connecting, .finished: #expect(current.isEmpty && newer.isEmpty)
        case .registered: #expect(current == ask && newer == ask)  // it holds no parameters
        case .awaitingModel, .collecting, .waitingForNextVersion: #expect(current.isEmpty && newer == ask)
        }
    }

    @Test(arguments: Stage.allCases, [MessageKind.hello, .chunk, .vineChunk, .requestParameters, .requestModel, .leave])
    func workerOnlyKindsAreIgnored(stage: Stage, kind: MessageKind) {
        let worker = WorkerIdentity(id: 9, nonce: 9)
        let message: Message =
            switch kind {
            case .hello: .hello(Message.Hello(nonce: 9, workerID: nil, simulatorCount: 0, environmentID: "", softwareVersion: ""))
            case .chunk: .chunk(Message.Chunk(worker: worker, session: 1, version: 1, sequence: 0, simulatorSteps: 0, batch: SampleBatch(observationSize: 4, actionWidth: 1)))
            case .vineChunk: .vineChunk(Message.VineChunk(worker: worker, session: 1, version: 1, sequence: 0, batch: VineBatch(observationSize: 4, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)))
            case .requestParameters: .requestParameters(worker)
            case .requestModel: .requestModel(Message.ModelRequest(worker: worker, hash: 1))
            default: .leave(Message.Leave(worker: worker, reason: .incompatible, message: ""))
            }
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receive(message, at: Self.at(1))
        #expect(c.state == before && Self.sent(actions).isEmpty)
        #expect(stage == .finished ? actions.isEmpty : Self.logs(actions).first?.hasSuffix("ignoring a \(kind) message, which only workers send") == true)
    }

    @Test(arguments: Stage.allCases) func undecodableMessages(stage: Stage) {
        var c = Self.conversation(in: stage)
        let before = c.state
        let actions = c.receiveUndecodable(.badMagic([0, 0]), at: Self.at(1))
        #expect(c.state == before)
        #expect(stage == .finished ? actions.isEmpty : Self.logs(actions).first?.contains("undecodable message from the learner") == true)
        _ = c.receiveUndecodable(.unsupportedVersion(9), at: Self.at(1))
        #expect(c.outcome == (stage == .finished ? .finished : .refused("the learner speaks protocol version 9; this worker speaks \(WireCodec.version)")))
    }

    // MARK: - Ids

    @Test func anAssignedIdIsUsedInEveryLaterMessage() {
        var c = WorkerConversation(configuration: Self.configuration(), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        _ = c.receive(Self.welcome(id: 7), at: Self.at(0.1))
        _ = c.receive(.parameters(Self.parameters(version: 1, stream: 7)), at: Self.at(0.2))
        #expect(c.assignment?.header == WorkerConversation.ChunkHeader(worker: WorkerIdentity(id: 7, nonce: Self.nonce),
                                                                        session: Self.session, version: 1, sequence: 0))
        guard case .heartbeat(let beat)? = c.heartbeatIfDue(at: Self.at(2)) else { Issue.record("no heartbeat"); return }
        #expect(beat.sender == .worker(WorkerIdentity(id: 7, nonce: Self.nonce)) && beat.version == 1)
    }

    @Test func aWelcomeForAnotherIdThanTheOneInsistedOnEndsTheWorker() {
        var c = WorkerConversation(configuration: Self.configuration(id: 3), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        _ = c.receive(Self.welcome(id: 5), at: Self.at(0.1))
        #expect(c.outcome == .refused("the learner welcomed this worker as worker 5, not as --worker-id 3"))
    }

    @Test func aDuplicateIdIsRefusedWithTheLearnersText() {
        var c = WorkerConversation(configuration: Self.configuration(id: 3), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        let actions = c.receive(.stop(Message.Stop(session: Self.session, reason: .duplicateWorker, message: "worker 3 is live")), at: Self.at(0.1))
        #expect(Self.logs(actions) == ["worker 3: refused by the learner (duplicateWorker): worker 3 is live"])
        #expect(c.outcome == .refused("duplicateWorker: worker 3 is live"))
    }

    // MARK: - Quotas, reconnects and sampling

    @Test func aQuotaIsCollectedOnceAcrossReconnectsAndTopUps() {
        var c = Self.conversation(in: .registered)
        _ = c.receive(.parameters(Self.parameters(version: 1, quota: 100)), at: Self.at(1))
        #expect(c.assignment?.count == 64)
        c.chunkSent(rows: 64, at: Self.at(1))
        #expect(c.assignment?.count == 36 && c.assignment?.header.sequence == 1)
        // The learner forgot the worker: hello, welcome, the same parameters again.
        _ = c.receive(.reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .notRegistered, sequence: nil, message: "")), at: Self.at(2))
        #expect(c.assignment == nil)
        _ = c.receive(Self.welcome(), at: Self.at(2))
        let again = c.receive(.parameters(Self.parameters(version: 1, quota: 100)), at: Self.at(2))
        #expect(again.isEmpty && c.assignment?.count == 36)
        c.chunkSent(rows: 36, at: Self.at(3))
        #expect(c.state == .waitingForNextVersion(Self.registration, Self.collection(1, quota: 100, rows: 100)))
        // A top-up (larger quota) sends it collecting again.
        _ = c.receive(.parameters(Self.parameters(version: 1, quota: 150)), at: Self.at(4))
        #expect(c.assignment?.count == 50 && c.assignment?.header.sequence == 2)
    }

    /// A chunk the learner refused unregistered (sent while it had declared the worker gone)
    /// was not taken: its rows are taken back from the count, so the quota it met is open again
    /// once the worker is registered and sent the same parameters. A refusal naming another
    /// chunk (or none) changes no count.
    @Test func aChunkRefusedUnregisteredDoesNotCountTowardsTheQuota() {
        var c = Self.conversation(in: .registered)
        _ = c.receive(.parameters(Self.parameters(version: 1, quota: 100)), at: Self.at(1))
        c.chunkSent(rows: 64, at: Self.at(1))  // sequence 0
        c.chunkSent(rows: 36, at: Self.at(1))  // sequence 1: the quota is met
        #expect(c.state == .waitingForNextVersion(Self.registration, Self.collection(1, quota: 100, rows: 100)))
        func notRegistered(_ sequence: UInt64?) -> Message {
            .reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .notRegistered, sequence: sequence, message: ""))
        }
        _ = c.receive(notRegistered(1), at: Self.at(2))
        _ = c.receive(notRegistered(7), at: Self.at(2))  // no such chunk
        _ = c.receive(notRegistered(nil), at: Self.at(2))  // a heartbeat's refusal
        _ = c.receive(Self.welcome(), at: Self.at(2))
        let again = c.receive(.parameters(Self.parameters(version: 1, quota: 100)), at: Self.at(2))
        #expect(again.isEmpty && c.assignment?.count == 36 && c.assignment?.header.sequence == 2)
        // The same refusal again (a duplicate) takes nothing more back.
        _ = c.receive(notRegistered(1), at: Self.at(3))
        _ = c.receive(Self.welcome(), at: Self.at(3))
        _ = c.receive(.parameters(Self.parameters(version: 1, quota: 100)), at: Self.at(3))
        #expect(c.assignment?.count == 36)
    }

    @Test func interruptsOnlyForWhatEndsTheCollection() {
        let c = Self.conversation(in: .collecting)
        #expect(c.interrupts(.parameters(Self.parameters(version: 2))))
        #expect(c.interrupts(.parameters(Self.parameters(version: 1, session: 9))))
        #expect(!c.interrupts(.parameters(Self.parameters(version: 1))))
        #expect(c.interrupts(.stop(Message.Stop(session: Self.session, reason: .finished, message: ""))))
        #expect(c.interrupts(.reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .notRegistered, sequence: nil, message: ""))))
        #expect(!c.interrupts(.reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .staleParameters, sequence: 0, message: ""))))
        #expect(!c.interrupts(.heartbeat(Message.Heartbeat(sender: .learner(session: Self.session), sequence: 1, timestamp: 0, version: 2))))
        #expect(!c.interrupts(.model(Self.model)))
        // Outside a collection nothing interrupts.
        #expect(!Self.conversation(in: .registered).interrupts(.parameters(Self.parameters(version: 2))))
    }

    @Test func parametersOfAnotherEnvironmentOrSamplerThanAcceptedLeave() {
        var configuration = Self.configuration()
        configuration.environmentID = "Hopper-v4"
        var c = WorkerConversation(configuration: configuration, nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        _ = c.receive(Self.welcome(), at: Self.at(0.1))
        let actions = c.receive(.parameters(Self.parameters(version: 1)), at: Self.at(0.2))
        #expect(Self.sent(actions) == [.leave(Message.Leave(worker: WorkerIdentity(id: 4, nonce: Self.nonce), reason: .incompatible,
                                                            message: "environment CartPole-v1 is not Hopper-v4"))])
        #expect(c.outcome == .incompatible("environment CartPole-v1 is not Hopper-v4"))

        configuration = Self.configuration()
        configuration.sampler = .vine
        c = WorkerConversation(configuration: configuration, nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        _ = c.receive(Self.welcome(), at: Self.at(0.1))
        _ = c.receive(.parameters(Self.parameters(version: 1)), at: Self.at(0.2))
        #expect(c.outcome == .incompatible("the learner's run samples single-path; this worker was started with --sampler vine"))
    }

    /// A run of an external environment (the welcome asks for a spec) is one the Swift worker
    /// cannot make: it leaves at once, naming the Python worker.
    @Test func aWelcomeAskingForASpecLeaves() {
        var c = WorkerConversation(configuration: Self.configuration(), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        let actions = c.receive(Self.welcome(environment: "gym:LunarLander-v3"), at: Self.at(0.1))
        let why = "gym:LunarLander-v3 is an external environment, which trpo worker cannot make; "
            + "run trpo-gym-worker (pip install ./python) against this learner instead"
        #expect(Self.sent(actions) == [.leave(Message.Leave(worker: WorkerIdentity(id: 4, nonce: Self.nonce), reason: .incompatible,
                                                            message: why))])
        #expect(c.outcome == .incompatible(why))
    }

    @Test func aSamplerThatCannotBeBuiltLeaves() {
        var c = Self.conversation(in: .collecting)
        let actions = c.cannotCollect("cannot build CartPole-v1")
        #expect(Self.sent(actions).count == 1 && c.outcome == .incompatible("cannot build CartPole-v1"))
    }

    // MARK: - Timers

    @Test func heartbeatsFollowTheWelcomesInterval() {
        var c = WorkerConversation(configuration: Self.configuration(), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))  // the hello counts as sent at 0
        #expect(Self.sent(c.tick(at: Self.at(2))).isEmpty, "no heartbeats before the welcome")
        _ = c.receive(Self.welcome(heartbeat: .seconds(3)), at: Self.at(2))
        #expect(Self.sent(c.tick(at: Self.at(2.5))).isEmpty)
        guard case .heartbeat(let beat)? = Self.sent(c.tick(at: Self.at(3.5))).first else { Issue.record("no heartbeat"); return }
        #expect(beat.sequence == 1 && beat.version == nil)
        #expect(Self.sent(c.tick(at: Self.at(6))).isEmpty)
        #expect(!Self.sent(c.tick(at: Self.at(6.6))).isEmpty)
    }

    @Test func aModelRequestIsRepeatedEveryHeartbeatInterval() {
        var c = Self.conversation(in: .awaitingModel)
        let request = Message.requestModel(Message.ModelRequest(worker: WorkerIdentity(id: 4, nonce: Self.nonce), hash: Self.model.hash))
        #expect(!Self.sent(c.tick(at: Self.at(1))).contains(request))
        #expect(Self.sent(c.tick(at: Self.at(1.3))).contains(request))
    }

    @Test func silenceWhileConnectedReconnectsAndSaysHelloAgain() {
        var c = Self.conversation(in: .collecting)
        _ = c.link(.connected, at: Self.at(0.05))
        #expect(!c.tick(at: Self.at(10)).contains(.reconnect))
        let actions = c.tick(at: Self.at(10.3))
        #expect(actions.first == .log(.warning, "worker 4: no word from the learner for 10 s; reconnecting"))
        #expect(actions.dropFirst().first == .reconnect)
        guard case .hello? = Self.sent(actions).first else { Issue.record("\(actions)"); return }
        #expect(c.state == .connecting(since: Self.at(10.3), resuming: Self.collection(1)))
    }

    @Test func anUnreachableLearnerIsNamedOnceAndGivenUpOnAfterTheConnectTimeout() {
        var c = Self.conversation(in: .connecting)
        let refused = c.link(.unreachable(.connectionRefused), at: Self.at(0.1))
        #expect(Self.logs(refused) == ["worker: cannot reach tcp://learner:5555: connection refused (is the learner running?); retrying (gives up after --connect-timeout 60 s without a learner)"])
        #expect(c.link(.unreachable(.connectionRefused), at: Self.at(2)).isEmpty, "one line per distinct reason")
        let unknown = c.link(.unreachable(.unknownHost("learner", detail: "Name or service not known")), at: Self.at(4))
        #expect(Self.logs(unknown).first?.contains("unknown host learner (Name or service not known)") == true)
        // No link: a fresh socket every learner timeout (10 s), without a word before a welcome.
        #expect(!c.tick(at: Self.at(9.9)).contains(.reconnect))
        #expect(c.tick(at: Self.at(10.1)) == [.reconnect, .send(Self.hello)])
        #expect(!c.tick(at: Self.at(20)).contains(.reconnect))
        #expect(c.tick(at: Self.at(20.2)) == [.reconnect, .send(Self.hello)])
        #expect(c.outcome == nil)
        _ = c.tick(at: Self.at(60.5))
        #expect(c.outcome == .unreachable("gave up on the learner at tcp://learner:5555 after 60 s (--connect-timeout): unknown host learner (Name or service not known)"))
    }

    @Test func aWelcomedWorkerNeverGivesUp() {
        var c = Self.conversation(in: .collecting)
        let actions = c.link(.unreachable(.connectionRefused), at: Self.at(1))
        #expect(Self.logs(actions).first?.hasSuffix("retrying until it is back") == true)
        _ = c.tick(at: Self.at(1000))
        #expect(c.outcome == nil)
    }

    @Test func aBrokenConnectionIsLoggedOnceAfterAWelcome() {
        var early = Self.conversation(in: .connecting)
        _ = early.link(.connected, at: Self.at(0.05))
        #expect(early.link(.disconnected, at: Self.at(0.1)).isEmpty, "before a welcome, failed attempts are named instead")
        var c = Self.conversation(in: .collecting)
        _ = c.link(.connected, at: Self.at(0.05))
        #expect(Self.logs(c.link(.disconnected, at: Self.at(1))) == ["worker 4: lost the connection to the learner at tcp://learner:5555; reconnecting (is it restarting?)"])
        #expect(c.link(.disconnected, at: Self.at(2)).isEmpty)
    }

    /// libzmq stops reconnecting, without a word, after a protocol error on a connection (a
    /// frame it cannot decode): a link down for a learner timeout gets a fresh socket, logged
    /// once until the learner is heard from again.
    @Test func aLinkDownForALearnerTimeoutGetsAFreshSocket() {
        var c = Self.conversation(in: .collecting)
        _ = c.link(.connected, at: Self.at(0.05))
        _ = c.link(.disconnected, at: Self.at(5))
        #expect(!c.tick(at: Self.at(14.9)).contains(.reconnect), "counted from the link going down")
        let fresh = c.tick(at: Self.at(15.1))
        #expect(Self.logs(fresh) == ["worker 4: no connection to the learner for 10 s; starting a fresh one, and again every 10 s until it is back"])
        #expect(Array(fresh.dropFirst()) == [.reconnect, .send(Self.hello)])
        #expect(c.state == .connecting(since: Self.at(15.1), resuming: Self.collection(1)))
        #expect(c.tick(at: Self.at(25.2)) == [.reconnect, .send(Self.hello)], "logged once")
        _ = c.link(.connected, at: Self.at(26))
        #expect(!c.tick(at: Self.at(35.9)).contains(.reconnect), "the link came up at 26 s")
        _ = c.receive(Self.welcome(), at: Self.at(27))
        _ = c.link(.disconnected, at: Self.at(40))
        #expect(Self.logs(c.tick(at: Self.at(50.1))).count == 1, "logged again after the learner was heard")
    }

    @Test func aRefusedHandshakeEndsTheWorkerAfterTheLearnerTimeout() {
        var configuration = Self.configuration()
        configuration.curve = nil
        var c = WorkerConversation(configuration: configuration, nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        var lines: [String] = []
        for second in 0..<12 {  // libzmq connects, is refused, and retries
            lines += Self.logs(c.link(.connected, at: Self.at(Double(second))))
            lines += Self.logs(c.link(.refused(.mechanismMismatch), at: Self.at(Double(second))))
            _ = c.tick(at: Self.at(Double(second) + 0.5))
        }
        #expect(lines == ["worker: the learner requires CURVE and refused this plaintext worker: start it with --curve-secret FILE --learner-public FILE"])
        #expect(c.outcome == .notAdmitted(String(lines[0].dropFirst("worker: ".count))))
    }

    /// When the learner notices the mismatch first it closes the handshake, and the worker's
    /// libzmq says only that: the worker names the likely cause and ends the same way.
    @Test func aHandshakeTheLearnerKeepsClosingEndsThePlaintextWorkerAfterTheLearnerTimeout() {
        var c = WorkerConversation(configuration: Self.configuration(), nonce: Self.nonce, now: Self.at(0))
        _ = c.start(at: Self.at(0))
        var lines: [String] = []
        for second in 0..<12 {
            lines += Self.logs(c.link(.connected, at: Self.at(Double(second))))
            lines += Self.logs(c.link(.refused(.closedDuringHandshake), at: Self.at(Double(second))))
            _ = c.tick(at: Self.at(Double(second) + 0.5))
        }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines == ["worker: the learner closed every handshake of this plaintext worker, as a learner that requires CURVE does: "
                          + "start it with --curve-secret FILE --learner-public FILE"])
        #expect(c.outcome.map { if case .notAdmitted = $0 { true } else { false } } == true, "\(String(describing: c.outcome))")
    }

    /// A worker the learner has admitted before takes a closed handshake for a learner going
    /// down or coming back (a crash and a supervised restart: the multi-host test's libzmq
    /// abort), logs it once and keeps retrying past the learner timeout instead of giving up;
    /// a definite refusal (a key not on the allow-list) still ends it.
    @Test func aClosedHandshakeAfterAWelcomeIsARestartNotARefusal() {
        var c = Self.conversation(in: .collecting)
        var lines: [String] = []
        for second in 1..<20 {
            lines += Self.logs(c.link(.connected, at: Self.at(Double(second))))
            lines += Self.logs(c.link(.refused(.closedDuringHandshake), at: Self.at(Double(second))))
            _ = c.tick(at: Self.at(Double(second) + 0.5))
        }
        #expect(c.outcome == nil, "\(String(describing: c.outcome))")
        #expect(lines == ["worker 4: the learner closed a handshake (is it restarting?); retrying until it is back"], "\(lines)")
        for second in 20..<40 {
            _ = c.link(.refused(.keyNotAllowed(status: 400)), at: Self.at(Double(second)))
            _ = c.tick(at: Self.at(Double(second) + 0.5))
        }
        #expect(c.outcome.map { if case .notAdmitted = $0 { true } else { false } } == true, "\(String(describing: c.outcome))")
    }

    @Test func aStopRequestBeforeAnyWelcomeIsAFailure() {
        var early = Self.conversation(in: .connecting)
        _ = early.stopRequested("stopped by SIGTERM")
        #expect(early.outcome == .interruptedBeforeReachingLearner("stopped by SIGTERM before reaching a learner at tcp://learner:5555"))
        var late = Self.conversation(in: .collecting)
        _ = late.stopRequested("stopped by SIGTERM")
        #expect(late.outcome == .interrupted)
        // Reconnecting later does not make the worker a stranger again.
        var reconnecting = Self.conversation(in: .collecting)
        _ = reconnecting.receive(.reject(Message.Reject(session: Self.session, currentVersion: 1, reason: .notRegistered, sequence: nil, message: "")), at: Self.at(1))
        _ = reconnecting.stopRequested("stopped by SIGINT")
        #expect(reconnecting.outcome == .interrupted)
    }
}
