import Core
import Learner
import Protocol
import Testing

/// Small fixtures: a CartPole-shaped run (4 observations, 2 actions) of session 0xAA.
enum Fixture {
    static let session: UInt64 = 0xAA
    static let environment = "CartPole-v1"

    static func policy() -> Policy {
        var random = RandomStream(seed: 1)
        return Policy(observationSize: 4, head: .categorical(actions: 2), hiddenSizes: [4], random: &random)
    }

    static func template(version: UInt64 = 0) -> Message.Parameters {
        Message.Parameters(session: session, version: version, seed: 1, environmentID: environment, simulatorCount: 2,
                           chunkSteps: 1, quota: 0, policy: policy(), normalizer: nil, collection: version)
    }

    static func training(rows: Int = 1000, deterministic: Int? = nil, model: Message.Model? = nil,
                         workerTimeout: Duration = .seconds(10)) -> EmbeddedLearner<TrainingWorkload> {
        let assembler = deterministic.map { BatchAssembler<IterationBatch>(version: 0, quotas: evenQuotas(rows: rows, workers: $0)) }
            ?? BatchAssembler<IterationBatch>(version: 0, targetRows: rows)
        let settings = Conversation<TrainingWorkload>.Settings(
            session: session, environmentID: environment, expectedWorkers: deterministic, heartbeatInterval: .seconds(1),
            workerTimeout: workerTimeout, model: model, suggestedSimulators: 2)
        var embedded = EmbeddedLearner(settings: settings, workload: TrainingWorkload(
            template: template(), assembler: assembler, chunkBounds: (maximum: 512, minimum: 64),
            stallTimeout: .milliseconds(500), now: ContinuousClock().now))
        embedded.now = ContinuousClock().now
        return embedded
    }

    /// Workers 0 (nonce 1, on p1) and 1 (nonce 2, on p2) registered, then version 1 of a
    /// 1,000-row batch published to both: equal shares of 500.
    static func twoWorkersOnAFreshVersion() -> EmbeddedLearner<TrainingWorkload> {
        var learner = training(rows: 1000)
        learner.receive(hello(nil, nonce: 1), from: p1)
        learner.receive(hello(nil, nonce: 2), from: p2)
        learner.publish(version: 1)
        return learner
    }

    /// CartPole's spaces as a Python worker reports them.
    static let cartPoleSpec = EnvironmentSpec(observationShape: [4], observationType: .float32, actionSpace: .discrete(count: 2),
                                              timeLimit: 500, canSnapshot: true)

    /// A new run of `gym:CartPole-v1` (arguments `{"sutton_barto_reward": true}`) awaiting its
    /// first worker's spec: its workload has no parameters yet. `vine`: the run samples with
    /// the vine; `spec`: the run's spec is known (a resumed run).
    static func external(vine: Bool = false, spec: EnvironmentSpec? = nil) -> EmbeddedLearner<TrainingWorkload> {
        let settings = Conversation<TrainingWorkload>.Settings(
            session: session, environmentID: "gym:CartPole-v1", environmentArguments: #"{"sutton_barto_reward": true}"#,
            environmentSpec: spec, needsSnapshot: vine, suggestedSimulators: 2)
        var embedded = EmbeddedLearner(settings: settings, workload: TrainingWorkload(
            template: spec == nil ? nil : template(), assembler: BatchAssembler(version: 0, targetRows: 1000),
            chunkBounds: (maximum: 512, minimum: 64), stallTimeout: .milliseconds(500), now: ContinuousClock().now))
        embedded.now = ContinuousClock().now
        return embedded
    }

    static func spec(_ worker: WorkerIdentity, _ spec: EnvironmentSpec = cartPoleSpec) -> Message {
        .environmentSpec(Message.EnvironmentSpecReport(worker: worker, spec: spec))
    }

    static func hello(_ id: UInt32?, nonce: UInt64, environment: String = "") -> Message {
        .hello(Message.Hello(nonce: nonce, workerID: id, simulatorCount: 0, environmentID: environment, softwareVersion: "test"))
    }

    static func rows(_ n: Int, observationSize: Int = 4) -> SampleBatch {
        var b = SampleBatch(observationSize: observationSize, actionWidth: 1)
        for t in 0..<n {
            b.observations += [Double](repeating: 0.1, count: observationSize)
            b.actions.append(Double(t % 2))
            b.rewards.append(1)
            b.ends.append(t == n - 1 ? .terminated : .none)
        }
        return b
    }

    static func chunk(_ worker: WorkerIdentity, version: UInt64 = 0, sequence: UInt64, rows n: Int = 100,
                      session: UInt64 = session, observationSize: Int = 4) -> Message {
        .chunk(Message.Chunk(worker: worker, session: session, version: version, sequence: sequence, simulatorSteps: UInt64(n),
                             batch: rows(n, observationSize: observationSize)))
    }

    static func vineChunk(_ worker: WorkerIdentity, sequence: UInt64) -> Message {
        var batch = VineBatch(observationSize: 4, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        batch.observations = [0, 0, 0, 0]
        batch.actions = [0, 1]
        batch.branchReturns = [1, 1]
        batch.oldLogProbabilities = [-0.7, -0.7]
        batch.branchLengths = [1, 1]
        batch.branchEnds = [.terminated, .terminated]
        batch.trunks.observations = [0, 0, 0, 0]
        batch.trunks.actions = [0]
        batch.trunks.rewards = [1]
        batch.trunks.ends = [.terminated]
        return .vineChunk(Message.VineChunk(worker: worker, session: session, version: 0, sequence: sequence, batch: batch))
    }

    static func heartbeat(_ worker: WorkerIdentity) -> Message {
        .heartbeat(Message.Heartbeat(sender: .worker(worker), sequence: 1, timestamp: 0, version: nil))
    }
}

extension EmbeddedLearner<TrainingWorkload> {
    /// Starts `version`, a fresh batch of `rows`, and publishes it to every registered worker.
    mutating func publish(version: UInt64, rows: Int = 1000) {
        machine.workload.start(Fixture.template(version: version), assembler: BatchAssembler(version: version, targetRows: rows),
                               now: now)
        handle(.published)
    }
}

extension Message {
    var welcome: Message.Welcome? { if case .welcome(let w) = self { w } else { nil } }
    var parameters: Message.Parameters? { if case .parameters(let p) = self { p } else { nil } }
    var stop: Message.Stop? { if case .stop(let s) = self { s } else { nil } }
    var reject: Message.Reject? { if case .reject(let r) = self { r } else { nil } }
}

let p1 = PeerID([1]), p2 = PeerID([2]), p3 = PeerID([3])

@Suite struct WorkerIdentityTests {
    @Test func workersWithoutIDsGetTheLowestFreeOnesAndNeverShareOne() {
        var learner = Fixture.training()
        for i in 0..<16 { learner.receive(Fixture.hello(nil, nonce: 100 + UInt64(i)), from: PeerID([UInt8(i)])) }
        var ids: [UInt32] = []
        for i in 0..<16 {
            let replies = learner.take(PeerID([UInt8(i)]))
            #expect(replies.map(\.kind) == [.welcome, .parameters])
            let welcome = replies.first?.welcome
            #expect(welcome?.assigned == true)
            #expect(welcome?.worker.nonce == 100 + UInt64(i))
            #expect(welcome?.heartbeatInterval == .seconds(1) && welcome?.workerTimeout == .seconds(10))
            // The stream of the parameters is the assigned id: no two workers sample alike.
            #expect(replies.last?.parameters?.stream == UInt64(welcome?.worker.id ?? 99))
            ids.append(welcome?.worker.id ?? 99)
        }
        #expect(ids == Array(0..<16))
        // Worker 3 disconnects and is found gone at the next heartbeat: its id is free again.
        learner.disconnect(PeerID([3]))
        learner.advance(.seconds(2))
        #expect(learner.machine.liveCount == 15)
        learner.receive(Fixture.hello(nil, nonce: 999), from: PeerID([99]))
        #expect(learner.take(PeerID([99])).first?.welcome?.worker.id == 3)
    }

    @Test func aReconnectingWorkerGetsItsIDBackIfFree() {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        learner.receive(Fixture.hello(nil, nonce: 2), from: p2)
        _ = (learner.take(p1), learner.take(p2))
        // Worker of nonce 1 reconnects (new connection, same process) and asks again.
        learner.receive(Fixture.hello(nil, nonce: 1), from: p3)
        #expect(learner.take(p3).first?.welcome?.worker.id == 0)
        #expect(learner.lines.last?.contains("worker 0 reconnected") == true)
        #expect(learner.machine.liveCount == 2)
        // Its id taken meanwhile by another process, it gets another one.
        learner.disconnect(p3)
        learner.advance(.seconds(2))  // found gone
        learner.receive(Fixture.hello(nil, nonce: 7), from: PeerID([7]))
        #expect(learner.take(PeerID([7])).first?.welcome?.worker.id == 0)
        learner.receive(Fixture.hello(nil, nonce: 1), from: PeerID([8]))
        #expect(learner.take(PeerID([8])).first?.welcome?.worker.id == 2)
    }

    @Test func anExplicitIDHeldByALiveConnectionIsRefusedNamingTheID() {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(0, nonce: 1), from: p1)
        _ = learner.take(p1)
        learner.receive(Fixture.hello(0, nonce: 2), from: p2)
        let replies = learner.take(p2)
        #expect(replies.map(\.kind) == [.stop])
        #expect(replies.first?.stop?.reason == .duplicateWorker)
        #expect(replies.first?.stop?.message.contains("worker id 0") == true)
        #expect(learner.rejected == 1)
        // The holder keeps its registration; it was probed with a heartbeat.
        #expect(learner.take(p1).map(\.kind) == [.heartbeat])
        learner.receive(Fixture.heartbeat(WorkerIdentity(id: 0, nonce: 1)), from: p1)
        #expect(learner.take(p1).isEmpty)
    }

    @Test func aRestartedWorkerWhoseOldConnectionIsGoneIsTakenBack() {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(0, nonce: 1), from: p1)
        _ = learner.take(p1)
        learner.disconnect(p1)  // crashed; the learner has not noticed yet
        learner.receive(Fixture.hello(0, nonce: 2), from: p2)
        #expect(learner.kinds(p2) == [.welcome, .parameters])
        #expect(learner.machine.liveCount == 1)
        #expect(learner.rejected == 0)
        // Messages the old process left in flight are not its successor's.
        learner.receive(Fixture.chunk(WorkerIdentity(id: 0, nonce: 1), sequence: 0), from: p1)
        #expect(learner.machine.workload.assembler.rows == 0)
    }

    /// The race both ways: the holder goes while the probe is in flight (taken back), or is
    /// still there when the probe is answered (refused).
    @Test func probeRacesBothWays() {
        var learner = Fixture.training()
        learner.holdProbes = true
        learner.receive(Fixture.hello(0, nonce: 1), from: p1)
        _ = learner.take(p1)
        learner.receive(Fixture.hello(0, nonce: 2), from: p2)
        #expect(learner.take(p2).isEmpty)  // claiming: no reply until the probe is answered
        // Meanwhile the claimant's other messages find it unregistered.
        learner.receive(Fixture.heartbeat(WorkerIdentity(id: 0, nonce: 2)), from: p2)
        #expect(learner.take(p2).map { $0.reject?.reason } == [.notRegistered])
        learner.disconnect(p1)
        learner.answerProbe()
        #expect(learner.kinds(p2) == [.welcome, .parameters])
        #expect(learner.lines.contains { $0.contains("worker 0 disconnected") })

        // The other way: the holder leaves after the probe found it alive.
        learner.receive(Fixture.hello(0, nonce: 3), from: p3)
        learner.answerProbe()  // p2 is alive
        #expect(learner.take(p3).first?.stop?.reason == .duplicateWorker)
        // And a holder that leaves while the probe is in flight frees the id.
        let p4 = PeerID([4])
        learner.receive(Fixture.hello(0, nonce: 4), from: p4)
        learner.receive(.leave(Message.Leave(worker: WorkerIdentity(id: 0, nonce: 2), reason: .incompatible, message: "bye")), from: p2)
        learner.answerProbe()
        #expect(learner.kinds(p4) == [.welcome, .parameters])
    }

    @Test func deterministicRunsKeepExplicitIDsAndAssignOnlyFromTheirRange() {
        var learner = Fixture.training(deterministic: 2)
        learner.receive(Fixture.hello(2, nonce: 1), from: p1)
        #expect(learner.take(p1).map { $0.stop?.reason } == [.unexpectedWorker])
        learner.receive(Fixture.hello(1, nonce: 2), from: p2)
        #expect(learner.take(p2).last?.parameters?.quota == 500)
        learner.receive(Fixture.hello(nil, nonce: 3), from: p3)
        #expect(learner.take(p3).first?.welcome?.worker.id == 0)
        learner.receive(Fixture.hello(nil, nonce: 4), from: PeerID([4]))
        #expect(learner.take(PeerID([4])).map { $0.stop?.reason } == [.unexpectedWorker])
    }

    @Test func aHelloForAnotherEnvironmentIsStopped() {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(nil, nonce: 1, environment: "Hopper-v4"), from: p1)
        let stop = learner.take(p1).first?.stop
        #expect(stop?.reason == .environment)
        #expect(stop?.message.contains("CartPole-v1") == true)
        #expect(learner.machine.liveCount == 0)
    }
}

@Suite struct ChunkTests {
    static func registered() -> (EmbeddedLearner<TrainingWorkload>, WorkerIdentity) {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        return (learner, WorkerIdentity(id: 0, nonce: 1))
    }

    @Test func staleChunksAreRejectedWithTheirSequence() {
        var (learner, w) = Self.registered()
        learner.receive(Fixture.chunk(w, sequence: 0, session: 0xBB), from: p1)
        let reject = learner.take(p1).first?.reject
        #expect(reject?.reason == .staleParameters && reject?.sequence == 0 && reject?.currentVersion == 0)
        #expect(learner.staleDropped == 100)
        // A new version: a chunk of the old one is stale too.
        learner.publish(version: 1)
        #expect(learner.take(p1).map { $0.parameters?.version } == [1])
        learner.receive(Fixture.chunk(w, version: 0, sequence: 1), from: p1)
        let second = learner.take(p1).first?.reject
        #expect(second?.reason == .staleParameters && second?.sequence == 1 && second?.currentVersion == 1)
        #expect(learner.staleDropped == 200 && learner.rejected == 0)
    }

    @Test func nonIncreasingSequencesAreDroppedAndCounted() {
        var (learner, w) = Self.registered()
        learner.receive(Fixture.chunk(w, sequence: 5), from: p1)
        learner.receive(Fixture.chunk(w, sequence: 5), from: p1)
        learner.receive(Fixture.chunk(w, sequence: 4), from: p1)
        #expect(learner.machine.workload.assembler.rows == 100)
        #expect(learner.rejected == 2)
        #expect(learner.take(p1).isEmpty)
        // The numbering belongs to the process: a reconnect (same nonce) keeps it.
        learner.receive(Fixture.hello(nil, nonce: 1), from: p2)
        _ = learner.take(p2)
        learner.receive(Fixture.chunk(w, sequence: 5), from: p2)
        #expect(learner.rejected == 3)
        learner.receive(Fixture.chunk(w, sequence: 6), from: p2)
        #expect(learner.machine.workload.assembler.rows == 200)
    }

    @Test func chunksThatDoNotFitTheRunAreRefusedAndTheWorkerKept() {
        var (learner, w) = Self.registered()
        learner.receive(Fixture.chunk(w, sequence: 0, observationSize: 3), from: p1)
        #expect(learner.take(p1).isEmpty)
        #expect(learner.lines.last?.contains("rows of shape 3/1, expected 4/1") == true)
        #expect(learner.machine.liveCount == 1 && learner.rejected == 1)
        learner.receive(Fixture.chunk(w, sequence: 1), from: p1)
        #expect(learner.machine.workload.assembler.rows == 100)
    }

    /// A chunk of uint8 frames (flag pixels) in a run of a dense policy is a chunk that does
    /// not fit the run (§4.2 step 4): refused, counted, no reply, the worker kept.
    @Test func framesInARunOfFeatureVectorsAreRefusedAndTheWorkerKept() {
        var (learner, w) = Self.registered()
        guard case .chunk(var chunk) = Fixture.chunk(w, sequence: 0), case .features(let rows) = chunk.batch else {
            Issue.record("the fixture is a chunk of feature vectors")
            return
        }
        var frames = FrameSamples(observationSize: 4, actionWidth: 1)
        (frames.actions, frames.rewards, frames.ends) = (rows.actions, rows.rewards, rows.ends)
        (frames.bootstrapRows, frames.episodeReturns, frames.episodeLengths) = (rows.bootstrapRows, rows.episodeReturns, rows.episodeLengths)
        frames.observations = [UInt8](repeating: 7, count: rows.observations.count)
        frames.bootstrapObservations = [UInt8](repeating: 7, count: rows.bootstrapObservations.count)
        chunk.batch = .frames(frames)
        learner.receive(.chunk(chunk), from: p1)
        #expect(learner.take(p1).isEmpty)
        #expect(learner.lines.last?.contains("uint8 frames; this run's policy takes feature vectors") == true)
        #expect(learner.machine.liveCount == 1 && learner.rejected == 1)
        #expect(learner.machine.workload.assembler.rows == 0)
        learner.receive(Fixture.chunk(w, sequence: 1), from: p1)
        #expect(learner.machine.workload.assembler.rows == 100)
    }

    @Test func chunksFromTheFutureAndSurplusChunksAreCountedWithoutReply() {
        var learner = Fixture.training(rows: 100)
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        let w = WorkerIdentity(id: 0, nonce: 1)
        learner.receive(Fixture.chunk(w, version: 3, sequence: 0), from: p1)
        #expect(learner.rejected == 1)
        learner.receive(Fixture.chunk(w, sequence: 1), from: p1)
        learner.receive(Fixture.chunk(w, sequence: 2), from: p1)  // the batch is complete
        #expect(learner.staleDropped == 100)
        #expect(learner.take(p1).isEmpty)
    }

    @Test func undecodableMessagesAreStoppedWithTheErrorText() {
        var (learner, _) = Self.registered()
        learner.receive(frames: [[UInt8](repeating: 0xAB, count: 37)], from: p1)
        let stop = learner.take(p1).first?.stop
        #expect(stop?.reason == .malformedMessage)
        #expect(stop?.message.hasPrefix("bad magic") == true)
        #expect(learner.machine.liveCount == 0 && learner.rejected == 1)
        // Another protocol version: stop(protocolVersion), in the learner's own version.
        var old = WireCodec.encode(Fixture.hello(nil, nonce: 2))
        old[0][4] = UInt8(WireCodec.version - 1)
        learner.receive(frames: old, from: p2)
        let versionStop = learner.take(p2).first?.stop
        #expect(versionStop?.reason == .protocolVersion)
        #expect(versionStop?.message.contains("version \(WireCodec.version)") == true)
        #expect(WireCodec.encode(.stop(versionStop!))[0][4] == UInt8(WireCodec.version))
    }
}

@Suite struct QuotaAndLivenessTests {
    @Test func topUpsOnlyRaiseQuotasAndNeverRepeatParameters() {
        var learner = Fixture.training(rows: 1000)
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        learner.receive(Fixture.hello(nil, nonce: 2), from: p2)
        // The first worker's quota was fixed when it was alone (one chunk of the whole batch).
        let first = learner.take(p1).last?.parameters, second = learner.take(p2).last?.parameters
        #expect(first?.quota == 1000 && first?.chunkSteps == 512)
        // The second's: one chunk (its share, 500 rows, is less than a chunk).
        #expect(second?.quota == 512 && second?.chunkSteps == 512)
        // A stall: nobody's quota can rise (each already covers the missing rows), so nothing is sent.
        learner.advance(.seconds(1))
        #expect(learner.kinds(p1).isEmpty && learner.kinds(p2).isEmpty)
        learner.advance(.seconds(1))
        #expect(learner.kinds(p1).isEmpty)
    }

    @Test func aDeadWorkersShareMovesToTheLivingAsATopUp() {
        // Both workers start together on a fresh version: equal shares of 500.
        var learner = Fixture.twoWorkersOnAFreshVersion()
        _ = (learner.take(p1), learner.take(p2))
        #expect(learner.machine.workload.parameters(for: 0, live: 2, now: learner.now)?.quota == 500)
        let w0 = WorkerIdentity(id: 0, nonce: 1)
        learner.receive(Fixture.chunk(w0, version: 1, sequence: 0, rows: 500), from: p1)
        learner.disconnect(p2)
        learner.advance(.seconds(1))  // stalled: worker 0 gets the missing 500 on top
        let topUp = learner.take(p1).compactMap(\.parameters)
        #expect(topUp.map(\.quota) == [1000])
        #expect(topUp.first?.version == 1)
        learner.advance(.seconds(1))  // nothing changed: nothing sent again
        #expect(learner.take(p1).compactMap(\.parameters).isEmpty)
        // Asked, it answers with the same parameters.
        learner.receive(.requestParameters(w0), from: p1)
        #expect(learner.take(p1).compactMap(\.parameters).map(\.quota) == [1000])
    }

    /// A learner that stalled (a suspended process, a laptop asleep) declares every worker gone
    /// at once; the same processes, back, keep counting what they sent for the version, and so
    /// does the learner: each gets a quota above the rows taken from it, so the batch fills. A
    /// chunk refused meanwhile is not counted. Another process under a departed id starts afresh.
    @Test func workersBackFromALearnersStallKeepTheirCountsAndTheBatchFills() {
        var learner = Fixture.twoWorkersOnAFreshVersion()
        #expect(learner.take(p1).compactMap(\.parameters).last?.quota == 500)
        #expect(learner.take(p2).compactMap(\.parameters).last?.quota == 500)
        let w0 = WorkerIdentity(id: 0, nonce: 1), w1 = WorkerIdentity(id: 1, nonce: 2)
        learner.receive(Fixture.chunk(w0, version: 1, sequence: 0, rows: 500), from: p1)
        learner.receive(Fixture.chunk(w1, version: 1, sequence: 0, rows: 200), from: p2)
        learner.advance(.seconds(11))  // nothing heard for 11 s: both declared gone
        #expect(learner.machine.liveCount == 0)
        learner.receive(Fixture.chunk(w1, version: 1, sequence: 1, rows: 300), from: p2)
        #expect(learner.take(p2).compactMap(\.reject).map(\.sequence) == [1])
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        learner.receive(Fixture.hello(nil, nonce: 2), from: p2)
        let back0 = learner.take(p1).compactMap(\.parameters).last, back1 = learner.take(p2).compactMap(\.parameters).last
        #expect(back0?.version == 1 && back1?.version == 1)
        // Counted from what was taken (500 and 200), one chunk more each: both collect again.
        #expect(back0?.quota == 1000 && back1?.quota == 700)
        learner.receive(Fixture.chunk(w1, version: 1, sequence: 2, rows: 300), from: p2)
        learner.receive(Fixture.chunk(w0, version: 1, sequence: 1, rows: 200), from: p1)
        #expect(learner.machine.workload.assembler.isComplete)

        // Worker 0 goes silent again; a new process takes its id: no count of the old one's.
        learner.publish(version: 2)
        _ = (learner.take(p1), learner.take(p2))
        learner.receive(Fixture.chunk(w0, version: 2, sequence: 2, rows: 500), from: p1)
        learner.now = learner.now + .seconds(6)
        learner.receive(Fixture.heartbeat(w1), from: p2)
        learner.advance(.seconds(6))
        #expect(learner.machine.liveCount == 1)
        learner.receive(Fixture.hello(0, nonce: 9), from: p3)
        #expect(learner.take(p3).compactMap(\.parameters).last?.quota == 500)
    }

    @Test func heartbeatsFillSilenceAndSilentWorkersAreDroppedUnlessTheLearnerWasDeaf() {
        var learner = Fixture.training(workerTimeout: .seconds(3))
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        learner.advance(.milliseconds(500))
        #expect(learner.take(p1).isEmpty)
        learner.advance(.milliseconds(600))
        let beat = learner.take(p1)
        guard case .heartbeat(let h) = beat.first else { Issue.record("no heartbeat: \(beat)"); return }
        #expect(h.sender == .learner(session: Fixture.session) && h.version == 0)
        // A 10 s update: forgiven.
        learner.now = learner.now + .seconds(10)
        learner.handle(.deaf(.seconds(10)))
        learner.handle(.tick)
        #expect(learner.machine.liveCount == 1)
        learner.advance(.seconds(4))
        #expect(learner.machine.liveCount == 0)
        #expect(learner.lines.last?.contains("worker 0 silent for more than 3.0 seconds; declared gone") == true)
        _ = learner.take(p1)
        learner.receive(Fixture.heartbeat(WorkerIdentity(id: 0, nonce: 1)), from: p1)
        #expect(learner.take(p1).map { $0.reject?.reason } == [.notRegistered])
    }

    @Test func theEndStopsEveryWorker() {
        var learner = Fixture.training()
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        learner.receive(Fixture.hello(nil, nonce: 2), from: p2)
        _ = (learner.take(p1), learner.take(p2))
        learner.handle(.finish(.finished, "done"))
        #expect(learner.take(p1).map { $0.stop?.reason } == [.finished])
        #expect(learner.take(p2).map { $0.stop?.reason } == [.finished])
        #expect(learner.machine.liveCount == 0)
    }

    @Test func aModelRunSendsTheModelBeforeTheParametersAndOnRequest() {
        let model = Message.Model(session: Fixture.session, xml: "<mujoco/>")
        var learner = Fixture.training(model: model)
        learner.receive(Fixture.hello(4, nonce: 1), from: p1)
        #expect(learner.kinds(p1) == [.welcome, .model, .parameters])
        learner.receive(.requestModel(Message.ModelRequest(worker: WorkerIdentity(id: 4, nonce: 1), hash: 5)), from: p1)
        #expect(learner.kinds(p1) == [.model, .parameters])
        #expect(learner.lines.last?.contains("asked for model 5") == true)
    }
}

/// Every message kind (and an undecodable one) in every state a connection can be in: the
/// reply the machine sends, and whether it counts a refusal.
@Suite struct EveryKindInEveryStateTests {
    enum State: CaseIterable { case unknown, claiming, registered, stopped }
    enum Input: CaseIterable {
        case hello, parameters, chunk, heartbeat, stop, requestParameters, reject, vineChunk, model, requestModel, leave,
             welcome, environmentSpec, undecodable, otherVersion
    }

    static let identity = WorkerIdentity(id: 0, nonce: 9)

    static func frames(_ input: Input) -> [[UInt8]] {
        let w = identity
        let message: Message = switch input {
        case .hello, .undecodable, .otherVersion: Fixture.hello(0, nonce: w.nonce)
        case .parameters: .parameters(Fixture.template())
        case .chunk: Fixture.chunk(w, sequence: 10)
        case .heartbeat: Fixture.heartbeat(w)
        case .stop: .stop(Message.Stop(session: 1, reason: .finished, message: ""))
        case .requestParameters: .requestParameters(w)
        case .reject: .reject(Message.Reject(session: 1, currentVersion: 0, reason: .notRegistered, sequence: nil, message: ""))
        case .vineChunk: Fixture.vineChunk(w, sequence: 10)
        case .model: .model(Message.Model(session: 1, xml: "<mujoco/>"))
        case .requestModel: .requestModel(Message.ModelRequest(worker: w, hash: 1))
        case .leave: .leave(Message.Leave(worker: w, reason: .incompatible, message: "bye"))
        case .welcome: .welcome(Message.Welcome(session: 1, worker: w, assigned: false, heartbeatInterval: .seconds(1),
                                                workerTimeout: .seconds(1), softwareVersion: "", environmentID: "CartPole-v1"))
        case .environmentSpec: .environmentSpec(Message.EnvironmentSpecReport(worker: w, spec: Fixture.cartPoleSpec))
        }
        var frames = WireCodec.encode(message)
        if input == .undecodable { frames[0][0] = 0 }
        if input == .otherVersion { frames[0][4] = UInt8(WireCodec.version + 1) }
        return frames
    }

    /// The peer `p2` in `state` (worker 0 of nonce 9 when registered); p1 holds worker 0
    /// (nonce 1) in the claiming state, with the probe held.
    static func learner(in state: State) -> EmbeddedLearner<TrainingWorkload> {
        var learner = Fixture.training()
        switch state {
        case .unknown: break
        case .claiming:
            learner.holdProbes = true
            learner.receive(Fixture.hello(0, nonce: 1), from: p1)
            learner.receive(Fixture.hello(0, nonce: 9), from: p2)
        case .registered:
            learner.receive(Fixture.hello(0, nonce: 9), from: p2)
        case .stopped:
            learner.receive(Fixture.hello(0, nonce: 9), from: p2)
            learner.receive(frames: [[1]], from: p2)
        }
        _ = learner.take(p2)
        learner.rejected = 0
        learner.staleDropped = 0
        return learner
    }

    /// The replies (kinds, with the reason of stops and rejects) and the refusals counted.
    static func expected(_ input: Input, _ state: State) -> (replies: [String], rejected: Int) {
        let registered = state == .registered
        switch input {
        case .hello:
            return (state == .claiming ? [] : ["welcome", "parameters"], 0)
        case .parameters, .stop, .reject, .model, .welcome:
            return ([], 1)
        case .chunk:
            return registered ? ([], 0) : (["reject notRegistered"], 1)
        case .vineChunk:
            return registered ? ([], 1) : (["reject notRegistered"], 1)
        case .heartbeat:
            return registered ? ([], 0) : (["reject notRegistered"], 0)
        case .requestParameters, .requestModel:
            return registered ? (["parameters"], 0) : (["reject notRegistered"], 0)
        case .leave:
            return registered ? ([], 0) : ([], 1)
        case .environmentSpec:  // in a run of a built-in environment
            return registered ? ([], 1) : (["reject notRegistered"], 0)
        case .undecodable:
            return (["stop malformedMessage"], 1)
        case .otherVersion:
            return (["stop protocolVersion"], 1)
        }
    }

    @Test(arguments: Input.allCases, State.allCases)
    func reply(_ input: Input, _ state: State) {
        var learner = Self.learner(in: state)
        learner.receive(frames: Self.frames(input), from: p2)
        let replies = learner.take(p2).filter { $0.kind != .heartbeat }.map { message -> String in
            if let stop = message.stop { return "stop \(stop.reason)" }
            if let reject = message.reject { return "reject \(reject.reason)" }
            return "\(message.kind)"
        }
        let expected = Self.expected(input, state)
        #expect(replies == expected.replies)
        #expect(learner.rejected == expected.rejected)
    }
}

@Suite struct FarmWorkloadTests {
    static func farm() -> EmbeddedLearner<FarmWorkload> {
        let settings = Conversation<FarmWorkload>.Settings(session: Fixture.session, environmentID: Fixture.environment,
                                                           logName: "farm")
        return EmbeddedLearner(settings: settings, workload: FarmWorkload(template: Fixture.template()))
    }

    @Test func eachWorkerHoldsOneTaskAndAGoneWorkersTaskMovesOn() {
        var farm = Self.farm()
        farm.receive(Fixture.hello(nil, nonce: 1), from: p1)
        farm.receive(Fixture.hello(nil, nonce: 2), from: p2)
        #expect(farm.kinds(p1) == [.welcome] && farm.kinds(p2) == [.welcome])  // nothing to do yet
        farm.machine.workload.load((0..<3).map { SamplingTask(stream: 1_000_000 + UInt64($0), sampling: .singlePath, count: 50) })
        farm.handle(.published)
        let a = farm.take(p1).compactMap(\.parameters), b = farm.take(p2).compactMap(\.parameters)
        #expect(a.map(\.stream) == [1_000_000] && b.map(\.stream) == [1_000_001])
        #expect(a.first?.quota == 50 && a.first?.chunkSteps == 50 && a.first?.collection == 0)
        // Worker 1 dies; worker 0 finishes task 0 and gets task 2, then task 1 when worker 1 is found gone.
        farm.disconnect(p2)
        farm.receive(Fixture.chunk(WorkerIdentity(id: 0, nonce: 1), version: a[0].version, sequence: 0, rows: 50), from: p1)
        #expect(farm.outputs.map(\.task) == [0])
        #expect(farm.take(p1).compactMap(\.parameters).map(\.stream) == [1_000_002])
        farm.advance(.seconds(2))
        let version = farm.machine.workload.heartbeatVersion(for: 0)!
        farm.receive(Fixture.chunk(WorkerIdentity(id: 0, nonce: 1), version: version, sequence: 1, rows: 50), from: p1)
        #expect(farm.take(p1).compactMap(\.parameters).map(\.stream) == [1_000_001])
        #expect(farm.outputs.map(\.task) == [0, 2])
        // A chunk for a task it no longer holds is stale.
        farm.receive(Fixture.chunk(WorkerIdentity(id: 0, nonce: 1), version: a[0].version, sequence: 2, rows: 50), from: p1)
        #expect(farm.take(p1).map { $0.reject?.reason } == [.staleParameters])
    }
}

/// Runs of external environments (`gym:ID`, `py:MODULE:FACTORY`): the welcome names the
/// environment and asks for a spec; the first spec becomes the run's; workers get parameters
/// only once their spec was accepted (docs/protocol.md §3.14, §4.2).
@Suite struct ExternalEnvironmentTests {
    let w0 = WorkerIdentity(id: 0, nonce: 1), w1 = WorkerIdentity(id: 1, nonce: 2)

    @Test func theWelcomeNamesTheEnvironmentAndNoParametersComeBeforeTheSpec() {
        var learner = Fixture.external()
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        let replies = learner.take(p1)
        #expect(replies.map(\.kind) == [.welcome])
        let welcome = replies.first?.welcome
        #expect(welcome?.environmentID == "gym:CartPole-v1" && welcome?.specRequired == true)
        #expect(welcome?.environmentArguments == #"{"sutton_barto_reward": true}"#)
        learner.receive(.requestParameters(w0), from: p1)
        #expect(learner.take(p1).isEmpty, "no parameters before the spec")
    }

    @Test func theFirstSpecBecomesTheRunsAndItsWorkerGetsTheFirstVersion() {
        var learner = Fixture.external()
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        learner.receive(Fixture.spec(w0), from: p1)
        #expect(learner.machine.environmentSpec == Fixture.cartPoleSpec)
        #expect(learner.lines.contains { $0.contains("gym:CartPole-v1: observations (4,) float32, discrete(2)") })
        // The shell builds the policy from the spec, then publishes its first version.
        #expect(learner.take(p1).isEmpty)
        learner.publish(version: 0)
        #expect(learner.take(p1).map(\.kind) == [.parameters])
        // A second worker: welcome, spec, parameters right away.
        learner.receive(Fixture.hello(nil, nonce: 2), from: p2)
        #expect(learner.kinds(p2) == [.welcome])
        learner.receive(Fixture.spec(w1), from: p2)
        #expect(learner.kinds(p2) == [.parameters])
        #expect(learner.rejected == 0)
    }

    @Test func aSpecThatDiffersIsStoppedNamingTheDifference() {
        var learner = Fixture.external(spec: Fixture.cartPoleSpec)
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        var other = Fixture.cartPoleSpec
        other.observationShape = [3]
        learner.receive(Fixture.spec(w0, other), from: p1)
        let stop = learner.take(p1).first?.stop
        #expect(stop?.reason == .environment)
        #expect(stop?.message == "environment spec differs from the run's: observation shape [3] (run: [4])")
        #expect(learner.machine.liveCount == 0 && learner.rejected == 1)
        #expect(learner.lines.last?.contains("worker 0's environment spec differs from the run's") == true)
    }

    @Test func aVineRunRefusesAnEnvironmentThatCannotSnapshot() {
        var learner = Fixture.external(vine: true)
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        _ = learner.take(p1)
        var spec = Fixture.cartPoleSpec
        spec.canSnapshot = false
        learner.receive(Fixture.spec(w0, spec), from: p1)
        let stop = learner.take(p1).first?.stop
        #expect(stop?.reason == .environment)
        #expect(stop?.message.hasPrefix("the vine needs an environment that can snapshot and restore its state; gym:CartPole-v1 cannot") == true)
        #expect(learner.machine.environmentSpec == nil, "a refused spec does not become the run's")
    }

    @Test func aSpecFromAnUnregisteredConnectionIsRejected() {
        var learner = Fixture.external()
        learner.receive(Fixture.spec(w0), from: p1)
        #expect(learner.take(p1).map { $0.reject?.reason } == [.notRegistered])
        #expect(learner.rejected == 0)
    }

    @Test func aReconnectingWorkerDescribesItsEnvironmentAgain() {
        var learner = Fixture.external(spec: Fixture.cartPoleSpec)
        learner.receive(Fixture.hello(nil, nonce: 1), from: p1)
        learner.receive(Fixture.spec(w0), from: p1)
        #expect(learner.kinds(p1) == [.welcome, .parameters])
        // The same process on a new connection: welcomed, and nothing more until its spec.
        learner.receive(Fixture.hello(nil, nonce: 1), from: p2)
        #expect(learner.kinds(p2) == [.welcome])
        learner.receive(Fixture.spec(w0), from: p2)
        #expect(learner.kinds(p2) == [.parameters])
    }
}
