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
/// and publishes the next version, until the step budget is spent. The conversation with the
/// workers is a ``Conversation`` over a ``TrainingWorkload``; this class is its shell.
///
/// Single-threaded: while an update runs no message is read (they queue in the socket), and
/// workers' silence during that time is forgiven.
public final class LearnerService {
    public let configuration: LearnerConfiguration
    private var session: TrainingSession
    private let driver: ConversationDriver<TrainingWorkload>
    private let log: @Sendable (LogLevel, String) -> Void
    private let clock = ContinuousClock()
    /// Random per learner process: chunks from a previous process are never current.
    private let sessionID: UInt64
    /// The run's custom MuJoCo model (nil: the built-in one); parameters name it by hash.
    private let model: Message.Model?
    private var batchStarted: ContinuousClock.Instant
    /// Told of every iteration and of workers coming and going (nil: nobody watches).
    private let observer: (any LearnerObserver)?
    /// The registered workers the observer was last told of.
    private var observedAlive = 0

    /// The endpoint actually bound (a wildcard tcp port resolved).
    public var boundEndpoint: String { driver.endpoint.boundEndpoint }
    public var state: TrainerState { session.state }
    /// Connections refused by CURVE so far (see ``LearnerEndpoint/refusedConnections``).
    public var refusedConnections: Int { driver.endpoint.refusedConnections }

    /// Binds the endpoint (behind CURVE and its allow-list when configured).
    /// - Parameters:
    ///   - log: Progress and warnings (rejections, workers gone, refusals); called from the
    ///     learner's thread and, for refused connections, from the CURVE door keeper's.
    ///   - observer: told of every iteration and of workers coming and going, on the learner's thread.
    public init(configuration: LearnerConfiguration, session: TrainingSession,
                observer: (any LearnerObserver)? = nil,
                log: @escaping @Sendable (LogLevel, String) -> Void) throws {
        self.configuration = configuration
        self.observer = observer
        self.session = session
        self.log = log
        let endpoint = try LearnerEndpoint(binding: configuration.endpoint, settings: configuration.transport,
                                           curve: configuration.curve, log: { log(.warning, $0) })
        var system = SystemRandomNumberGenerator()
        let sessionID: UInt64 = system.next()
        self.sessionID = sessionID
        let c = session.configuration
        let model = c.modelXML.map { Message.Model(session: sessionID, xml: $0) }
        self.model = model
        let now = clock.now
        batchStarted = now
        let workload = TrainingWorkload(
            template: Self.template(session, sessionID: sessionID, model: model),
            assembler: Self.makeAssembler(session, deterministicWorkers: configuration.deterministicWorkers),
            chunkBounds: c.chunkBounds(head: session.state.policy.head, limits: configuration.transport.limits),
            stallTimeout: configuration.stallTimeout, now: now)
        let settings = Conversation<TrainingWorkload>.Settings(
            session: sessionID, environmentID: c.environment, expectedWorkers: configuration.deterministicWorkers,
            heartbeatInterval: configuration.heartbeatInterval, workerTimeout: configuration.workerTimeout,
            model: model, suggestedSimulators: c.environmentsPerSampler, logName: "learner")
        driver = ConversationDriver(conversation: Conversation(settings: settings, workload: workload),
                                    endpoint: endpoint, log: log)
    }

    /// The current version's parameters, before the per-worker stream, chunk size and quota.
    private static func template(_ session: TrainingSession, sessionID: UInt64, model: Message.Model?) -> Message.Parameters {
        let c = session.configuration
        let version = UInt64(session.state.iteration)
        return Message.Parameters(session: sessionID, version: version, seed: c.seed, environmentID: c.environment,
                                  simulatorCount: c.environmentsPerSampler, chunkSteps: 1, quota: 0,
                                  policy: session.state.policy, normalizer: session.trainer.samplingNormalizer,
                                  sampling: c.sampling, collection: version, modelHash: model?.hash ?? 0)
    }

    private static func makeAssembler(_ session: TrainingSession, deterministicWorkers: Int?) -> BatchAssembler<IterationBatch> {
        let (version, rows) = (UInt64(session.state.iteration), session.nextBatchRows)
        if let n = deterministicWorkers {
            return BatchAssembler(version: version, quotas: evenQuotas(rows: rows, workers: n))
        }
        return BatchAssembler(version: version, targetRows: rows)
    }

    /// Serves until the run is finished or a stop is requested; then tells every worker.
    /// - Parameter report: called after each iteration.
    public func run(report: (IterationStatistics, TransportCounters, _ wallSeconds: Double) -> Void) throws {
        let security = configuration.curve.map { "CURVE, allow-list of \($0.allowList.count) key(s) from \($0.allowListSource)" } ?? "no CURVE"
        log(.progress, "learner: listening on \(boundEndpoint) (\(session.configuration.environment), "
            + (configuration.deterministicWorkers.map { "deterministic, \($0) workers" } ?? "streaming") + ", \(security))")
        while !session.isFinished {
            if StopRequest.isRaised {
                log(.progress, "learner: stop requested; telling workers")
                finish(.interrupted, "the learner was interrupted")
                return
            }
            _ = try driver.step(timeoutMilliseconds: 50)
            if let observer, driver.conversation.liveCount != observedAlive {
                observedAlive = driver.conversation.liveCount
                observer.learnerWorkersChanged(counters)
            }
            if driver.conversation.workload.assembler.isComplete {
                let statistics = try finishIteration()
                report(statistics, counters, session.wallSeconds)
            }
        }
        finish(.finished, "the run is finished")
        log(.progress, "learner: run finished after \(session.state.iteration) iterations")
    }

    private var counters: TransportCounters {
        var counters = driver.counters
        counters.workersAlive = driver.conversation.liveCount
        counters.refusedConnections = driver.endpoint.refusedConnections
        return counters
    }

    private func finish(_ reason: StopReason, _ text: String) {
        driver.perform(.finish(reason, text))
        driver.endpoint.close(lingerMilliseconds: 1000)
    }

    private func finishIteration() throws -> IterationStatistics {
        let batch = driver.conversation.workload.assembler.assemble()!  // complete, so not empty
        let sampleSeconds = (clock.now - batchStarted).seconds
        let updateStarted = clock.now
        let stepsBefore = session.state.timesteps
        let statistics = try session.update(with: batch, sampleSeconds: sampleSeconds, counters: counters)
        let updateSeconds = (clock.now - updateStarted).seconds
        observer?.learnerFinishedIteration(IterationReport(
            statistics: statistics, counters: counters, steps: session.state.timesteps - stepsBefore,
            sampleSeconds: sampleSeconds, updateSeconds: updateSeconds))
        driver.perform(.deaf(clock.now - updateStarted))
        batchStarted = clock.now
        if !session.isFinished {
            let template = Self.template(session, sessionID: sessionID, model: model)
            let assembler = Self.makeAssembler(session, deterministicWorkers: configuration.deterministicWorkers)
            let now = clock.now
            driver.updateWorkload { $0.start(template, assembler: assembler, now: now) }
            driver.perform(.published)
        }
        return statistics
    }
}
