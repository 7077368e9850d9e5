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

/// The run a ``LearnerService`` serves.
public enum LearnerRun {
    /// A run whose policy exists: a built-in environment's, or a resumed run.
    case session(TrainingSession)
    /// A new run of an external environment (``TrainingConfiguration/isExternal``), whose
    /// policy's shapes come from the first worker's environment spec: `start` makes the
    /// session (writing the run's files) from the configuration with that spec recorded.
    case awaitingSpec(TrainingConfiguration, start: (TrainingConfiguration) throws -> TrainingSession)

    var configuration: TrainingConfiguration {
        switch self {
        case .session(let session): session.configuration
        case .awaitingSpec(let configuration, _): configuration
        }
    }
}

/// The central learner: serves parameters to workers over one ROUTER socket, assembles each
/// iteration's batch from the chunks of the current version, runs the update, checkpoints,
/// and publishes the next version, until the step budget is spent. The conversation with the
/// workers is a ``Conversation`` over a ``TrainingWorkload``; this class is its shell.
///
/// Single-threaded: while an update runs no message is read (they queue in the socket), and
/// workers' silence during that time is forgiven. A batch complete while the last iteration's
/// value fit still runs waits for it with the conversation served. A new run of an external environment
/// serves no parameters until its first worker's spec arrives; then its session starts.
public final class LearnerService {
    public let configuration: LearnerConfiguration
    /// nil until a new run of an external environment has its spec (``pending``).
    private var session: TrainingSession?
    /// The configuration and session maker of a run awaiting its first spec.
    private var pending: (configuration: TrainingConfiguration, start: (TrainingConfiguration) throws -> TrainingSession)?
    private let driver: ConversationDriver<TrainingWorkload>
    private let log: @Sendable (LogLevel, String) -> Void
    private let clock = ContinuousClock()
    /// Random per learner process: chunks from a previous process are never current.
    private let sessionID: UInt64
    /// The run's custom MuJoCo model (nil: the built-in one); parameters name it by hash.
    private let model: Message.Model?
    private var batchStarted: ContinuousClock.Instant
    /// When the current batch was found complete (nil: it is not yet).
    private var batchCompleted: ContinuousClock.Instant?
    /// Told of every iteration and of workers coming and going (nil: nobody watches).
    private let observer: (any LearnerObserver)?
    /// The registered workers the observer was last told of.
    private var observedAlive = 0
    /// Whether a single-path iteration's value fit runs while the workers sample the next batch.
    private let overlapsValueFit: Bool
    /// The value fit of the last iteration, running while the workers sample (nil: none).
    private var inFlight: InFlightIteration?

    /// The endpoint actually bound (a wildcard tcp port resolved).
    public var boundEndpoint: String { driver.endpoint.boundEndpoint }
    /// The trainer's state (nil while a run of an external environment awaits its first spec).
    public var state: TrainerState? { session?.state }
    /// Connections refused by CURVE so far (see ``LearnerEndpoint/refusedConnections``).
    public var refusedConnections: Int { driver.endpoint.refusedConnections }

    /// Binds the endpoint (behind CURVE and its allow-list when configured).
    /// - Parameters:
    ///   - log: Progress and warnings (rejections, workers gone, refusals); called from the
    ///     learner's thread and, for refused connections, from the CURVE door keeper's.
    ///   - observer: told of every iteration and of workers coming and going, on the learner's thread.
    public convenience init(configuration: LearnerConfiguration, session: TrainingSession,
                            observer: (any LearnerObserver)? = nil, overlapsValueFit: Bool = true,
                            log: @escaping @Sendable (LogLevel, String) -> Void) throws {
        try self.init(configuration: configuration, run: .session(session), observer: observer,
                      overlapsValueFit: overlapsValueFit, log: log)
    }

    /// Binds the endpoint (behind CURVE and its allow-list when configured) for `run`. With
    /// `overlapsValueFit`, a single-path iteration's new version goes out right after its
    /// policy step and its value fit runs on a second thread while the workers sample the next
    /// batch, whose advantages wait for it: the numbers are those of fitting in line.
    public init(configuration: LearnerConfiguration, run: LearnerRun, observer: (any LearnerObserver)? = nil,
                overlapsValueFit: Bool = true, log: @escaping @Sendable (LogLevel, String) -> Void) throws {
        self.configuration = configuration
        self.observer = observer
        self.overlapsValueFit = overlapsValueFit
        switch run {
        case .session(let session): self.session = session
        case .awaitingSpec(let c, let start): pending = (c, start)
        }
        self.log = log
        let endpoint = try LearnerEndpoint(binding: configuration.endpoint, settings: configuration.transport,
                                           curve: configuration.curve, log: { log(.warning, $0) })
        var system = SystemRandomNumberGenerator()
        let sessionID: UInt64 = system.next()
        self.sessionID = sessionID
        let c = run.configuration
        let model = c.modelXML.map { Message.Model(session: sessionID, xml: $0) }
        self.model = model
        let now = clock.now
        batchStarted = now
        // Awaiting a spec, the workload has no parameters and takes no chunks; ``start(with:)``
        // gives it the first version.
        let workload = TrainingWorkload(
            template: session.map { Self.template($0, sessionID: sessionID, model: model) },
            assembler: session.map { Self.makeAssembler($0, deterministicWorkers: configuration.deterministicWorkers) }
                ?? BatchAssembler(version: 0, targetRows: 1),
            chunkBounds: session.map { Self.chunkBounds($0, limits: configuration.transport.limits) } ?? (1, 1),
            stallTimeout: configuration.stallTimeout, now: now)
        let settings = Conversation<TrainingWorkload>.Settings(
            session: sessionID, environmentID: c.environment, environmentArguments: c.environmentArguments ?? "",
            environmentSpec: c.environmentSpec, needsSnapshot: c.sampler == .vine,
            expectedWorkers: configuration.deterministicWorkers,
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

    private static func chunkBounds(_ session: TrainingSession, limits: DecodingLimits) -> (maximum: Int, minimum: Int) {
        session.configuration.chunkBounds(head: session.state.policy.head, limits: limits)
    }

    private static func makeAssembler(_ session: TrainingSession, deterministicWorkers: Int?) -> BatchAssembler<IterationBatch> {
        makeAssembler(version: UInt64(session.state.iteration), rows: session.nextBatchRows, deterministicWorkers: deterministicWorkers)
    }

    private static func makeAssembler(version: UInt64, rows: Int, deterministicWorkers: Int?) -> BatchAssembler<IterationBatch> {
        if let n = deterministicWorkers {
            return BatchAssembler(version: version, quotas: evenQuotas(rows: rows, workers: n))
        }
        return BatchAssembler(version: version, targetRows: rows)
    }

    /// Serves until the run is finished or a stop is requested; then tells every worker.
    /// - Parameter report: called after each iteration.
    public func run(report: (IterationStatistics, TransportCounters, _ wallSeconds: Double) -> Void) throws {
        let security = configuration.curve.map { "CURVE, allow-list of \($0.allowList.count) key(s) from \($0.allowListSource)" } ?? "no CURVE"
        let environment = session?.configuration.environment ?? pending!.configuration.environment
        log(.progress, "learner: listening on \(boundEndpoint) (\(environment), "
            + (configuration.deterministicWorkers.map { "deterministic, \($0) workers" } ?? "streaming") + ", \(security))")
        if session == nil { log(.progress, "learner: \(environment) is made by workers; waiting for the first one to describe it") }
        // The last iteration's value fit, too, runs with the conversation served.
        while !(session?.isFinished ?? false) || inFlight != nil {
            if StopRequest.isRaised {
                try completeInFlight(report: report)
                try session?.saveCheckpoint()
                log(.progress, "learner: stop requested; telling workers")
                finish(.interrupted, "the learner was interrupted")
                return
            }
            _ = try driver.step(timeoutMilliseconds: 50)
            if let observer, driver.conversation.liveCount != observedAlive {
                observedAlive = driver.conversation.liveCount
                observer.learnerWorkersChanged(counters)
            }
            if session == nil, let spec = driver.conversation.environmentSpec { try start(with: spec) }
            if inFlight?.fit.isDone == true { try completeInFlight(report: report) }
            if session?.isFinished == false, driver.conversation.workload.assembler.isComplete {
                // A batch complete before the last fit is done waits for it here, with the
                // conversation served (heartbeats go out), not deaf inside the update.
                batchCompleted = batchCompleted ?? clock.now
                if inFlight == nil { try finishIteration(report: report) }
            }
        }
        finish(.finished, "the run is finished")
        // The last evaluations of an external environment may still be running (their rows and
        // the final checkpoint wait for them).
        try session?.saveCheckpoint()
        log(.progress, "learner: run finished after \(session?.state.iteration ?? 0) iterations")
    }

    /// The first worker's spec of a new run's external environment is in: the run starts
    /// (its files written, the policy built for the spec) and its first version goes out.
    private func start(with spec: EnvironmentSpec) throws {
        var c = pending!.configuration
        c.environmentSpec = spec
        let session = try pending!.start(c)
        self.session = session
        pending = nil
        log(.progress, "learner: \(c.environment): \(session.state.policy.networkDescription)")
        let template = Self.template(session, sessionID: sessionID, model: model)
        let assembler = Self.makeAssembler(session, deterministicWorkers: configuration.deterministicWorkers)
        let bounds = Self.chunkBounds(session, limits: configuration.transport.limits)
        let now = clock.now
        batchStarted = now
        driver.updateWorkload { $0.start(template, assembler: assembler, chunkBounds: bounds, now: now) }
        driver.perform(.published)
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

    /// The batch is complete: the iteration's update, its value fit on its own thread beside
    /// the policy step and the next version published as soon as the step is done; or, with
    /// the fit in line, the whole iteration recorded before the next version goes out. Called
    /// with no fit in flight: the batch's advantages need the value function the last
    /// iteration fitted.
    private func finishIteration(report: (IterationStatistics, TransportCounters, Double) -> Void) throws {
        let batch = driver.conversation.workload.assembler.assemble()!  // complete, so not empty
        let sampleSeconds = ((batchCompleted ?? clock.now) - batchStarted).seconds
        batchCompleted = nil
        let collected = clock.now
        // A vine run that does not bootstrap has no value fit: its update runs in line.
        let fitsValue = session!.configuration.vineBootstrap == .value
        var fit: ValueFitRun?
        // Worker processes (maybe on this machine) sample while the fit runs: it takes the
        // cores they leave free rather than a share of theirs.
        let start = { (pending: PendingValueFit) in fit = ValueFitRun(pending, concurrent: self.overlapsValueFit, yieldsToSamplers: true) }
        let statistics: IterationStatistics
        switch batch {
        case .singlePath(let rows): statistics = session!.beginUpdate(with: .features(rows), startValueFit: start)
        case .frames(let rows): statistics = session!.beginUpdate(with: .frames(rows), startValueFit: start)
        case .vine(let collection) where fitsValue: statistics = try session!.beginUpdate(vine: .features(collection), startValueFit: start)
        case .frameVine(let collection) where fitsValue: statistics = try session!.beginUpdate(vine: .frames(collection), startValueFit: start)
        case .vine(let features):
            return try finishVineIteration(.features(features), sampleSeconds: sampleSeconds, collected: collected, report: report)
        case .frameVine(let frames):
            return try finishVineIteration(.frames(frames), sampleSeconds: sampleSeconds, collected: collected, report: report)
        }
        if overlapsValueFit {
            publishNextVersion(deafSince: collected)  // none after the last iteration
            inFlight = InFlightIteration(fit: fit!, statistics: statistics, sampleSeconds: sampleSeconds,
                                         publishSeconds: (clock.now - collected).seconds)
        } else {
            // In line: the fit, the progress row and the checkpoint before the next version goes out.
            let fitted = fit!.result()
            let publishSeconds = (clock.now - collected).seconds
            let complete = try session!.completeUpdate(fitted, statistics, sampleSeconds: sampleSeconds,
                                                       publishSeconds: publishSeconds, counters: counters)
            publishNextVersion(deafSince: collected)
            recorded(complete, steps: complete.simulatorSteps,
                     sampleSeconds: sampleSeconds, publishSeconds: publishSeconds, report: report)
        }
    }

    /// A vine iteration without a value fit: the whole update in line, then the next version.
    private func finishVineIteration(_ collection: AnyVineSamples, sampleSeconds: Double, collected: ContinuousClock.Instant,
                                     report: (IterationStatistics, TransportCounters, Double) -> Void) throws {
        let statistics = try session!.update(vine: collection, sampleSeconds: sampleSeconds, counters: counters)
        publishNextVersion(deafSince: collected)
        recorded(statistics, steps: collection.simulatorSteps, sampleSeconds: sampleSeconds,
                 publishSeconds: (clock.now - collected).seconds, report: report)
    }

    /// Waits for the value fit in flight, if any, and records its iteration.
    private func completeInFlight(report: (IterationStatistics, TransportCounters, Double) -> Void) throws {
        guard let iteration = inFlight else { return }
        inFlight = nil
        let started = clock.now
        let statistics = try session!.complete(iteration, counters: counters)
        driver.perform(.deaf(clock.now - started))
        recorded(statistics, steps: statistics.simulatorSteps,
                 sampleSeconds: iteration.sampleSeconds, publishSeconds: iteration.publishSeconds, report: report)
    }

    /// Tells the observer and the caller of an iteration whose progress row is written.
    private func recorded(_ statistics: IterationStatistics, steps: Int, sampleSeconds: Double, publishSeconds: Double,
                          report: (IterationStatistics, TransportCounters, Double) -> Void) {
        observer?.learnerFinishedIteration(IterationReport(
            statistics: statistics, counters: counters, steps: steps, sampleSeconds: sampleSeconds, updateSeconds: publishSeconds))
        report(statistics, counters, session!.wallSeconds)
    }

    /// The conversation forgives the time since `deafSince`, in which it did not listen, and,
    /// unless the run is finished, the session's new version goes to every worker.
    private func publishNextVersion(deafSince: ContinuousClock.Instant) {
        let session = session!
        driver.perform(.deaf(clock.now - deafSince))
        batchStarted = clock.now
        guard !session.isFinished else { return }
        let template = Self.template(session, sessionID: sessionID, model: model)
        let assembler = Self.makeAssembler(session, deterministicWorkers: configuration.deterministicWorkers)
        let now = clock.now
        driver.updateWorkload { $0.start(template, assembler: assembler, now: now) }
        driver.perform(.published)
    }
}
