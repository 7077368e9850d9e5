import ArgumentParser
import Core
import Foundation
import Learner
import MetricsExport
import Supervision
import Transport
import Worker

/// Options shared by `trpo train --workers` and `trpo learner`: how the learner serves.
struct ServingOptions: ParsableArguments {
    @Flag(help: "Deterministic mode: each of the N workers collects a fixed share of every batch, assembled in (worker id, sequence) order, so identical runs give identical results.")
    var deterministic = false

    @Option(name: .customLong("worker-timeout"), parsing: .unconditional, help: "Seconds of silence after which a worker is declared gone.")
    var workerTimeout: Double = 10

    @Option(name: .customLong("max-message-mb"), parsing: .unconditional, help: "Largest message accepted from a worker, in MiB (larger ones are refused and counted).")
    var maxMessageMB: Int = 256

    @Option(help: ArgumentHelp("Serve Prometheus metrics over HTTP at this address (GET /metrics), e.g. tcp://0.0.0.0:9100; port 0 takes any free port. The metrics are listed in docs/deploy.md.",
                               valueName: "tcp://HOST:PORT"),
            transform: { try MetricsAddress(parsing: $0) })
    var metrics: MetricsAddress?

    func validate() throws {
        guard workerTimeout > 0, workerTimeout.isFinite else {
            throw ValidationError("--worker-timeout must be a positive number of seconds (got \(workerTimeout))")
        }
        guard maxMessageMB > 0, maxMessageMB <= 4096 else { throw ValidationError("--max-message-mb must be in 1...4096 (got \(maxMessageMB))") }
    }

    /// The learner's configuration for `endpoint`; `workers` is the number a deterministic
    /// run waits for (the command's `validate()` requires it with `--deterministic`).
    func learnerConfiguration(endpoint: String, workers: Int?) -> LearnerConfiguration {
        var c = LearnerConfiguration(endpoint: endpoint)
        c.workerTimeout = .milliseconds(Int64(workerTimeout * 1000))
        c.transport.limits.maxTotalBytes = maxMessageMB << 20
        c.transport.maximumFrameBytes = maxMessageMB << 20
        if deterministic { c.deterministicWorkers = workers }
        return c
    }
}

struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Run the learner: serve parameters to workers over ZeroMQ and train on their samples.",
        discussion: """
            Workers connect with `trpo worker --connect ENDPOINT`. ENDPOINT is the only address \
            a worker needs and, for tcp, the only port to open. Takes the training options of \
            `trpo train` (environment, seed, steps, presets, --out, --resume). With \
            --curve-secret and --allow-workers, traffic is encrypted and only workers whose \
            public keys are in the allow-list directory get in (docs/security.md).
            """
    )

    @Option(help: "Where workers connect: tcp://HOST:PORT (e.g. tcp://0.0.0.0:5555), tcp://*:PORT or ipc://PATH.",
            transform: Endpoint.bind)
    var bind: Endpoint

    @Option(parsing: .unconditional, help: "Number of workers a deterministic run waits for (ids 0..<N).")
    var workers: Int?

    @OptionGroup var training: TrainingOptions
    @OptionGroup var serving: ServingOptions
    @OptionGroup var curve: LearnerCurveOptions
    @OptionGroup var supervision: SupervisionOptions

    func validate() throws {
        if let workers, workers <= 0 { throw ValidationError("--workers must be positive (got \(workers))") }
        if serving.deterministic && workers == nil {
            throw ValidationError("--deterministic needs the number of workers (--workers N)")
        }
    }

    func run() throws {
        try supervision.attachToSupervisor()
        let run = try training.resolve()
        if let metrics = serving.metrics { try checkMetricsAddress(metrics) }
        // The keys are checked before the run directory is touched (a supervisor checks them too).
        let security = try curve.resolve()
        guard try training.begin(run, ownsDirectory: !supervision.isSupervised, announce: !supervision.supervises) else { return }
        if supervision.supervises { return try supervise(directory: run.directory) }
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        StopRequest.installHandlers()
        var learner = serving.learnerConfiguration(endpoint: bind.description, workers: workers)
        learner.curve = security
        try runLearner(run, serving: learner, metrics: serving.metrics, quiet: training.quiet)
    }
}

/// Runs a learner to the end of the run (or a stop request), printing progress; shared by
/// `learner` and `train --workers`. `onListening` gets the bound endpoint. With `metrics`, the
/// learner's Prometheus metrics are served there (``startMetrics(at:run:quiet:)``).
func runLearner(_ run: TrainingOptions.Run, serving: LearnerConfiguration, metrics: MetricsAddress? = nil, quiet: Bool,
                python: String? = nil, onListening: (String) throws -> Void = { _ in }) throws {
    do { try LearnerPreflight.check(run.configuration, deterministicWorkers: serving.deterministicWorkers) } catch {
        throw runFailure(error)
    }
    var run = run
    if run.configuration.isExternal && run.evaluation != nil { try evaluateThroughPython(&run, python: python) }
    let directory = run.directory
    let learnerRun = try run.learnerRun()
    if serving.curve == nil && !isLocalOnly(serving.endpoint) {
        note("""
            warning: \(serving.endpoint) is reachable from other machines and CURVE is off: anyone who can reach \
            this port can send samples to this learner and read its policy parameters. To admit only your \
            workers, create keys with `trpo keys generate` and start the learner with --curve-secret FILE \
            --allow-workers DIR (docs/security.md).
            """)
    }
    let exporter = try metrics.map { try startMetrics(at: $0, run: run, quiet: quiet) }
    defer { exporter?.server.stop() }
    let learner: LearnerService
    do {
        learner = try LearnerService(configuration: serving, run: learnerRun, observer: exporter?.metrics,
                                     overlapsValueFit: run.overlapsValueFit, log: serviceLog(quiet: quiet))
    } catch {
        throw runFailure("cannot serve on \(serving.endpoint): \(error)")
    }
    try onListening(learner.boundEndpoint)
    var progress = ProgressPrinter(configuration: run.configuration, quiet: quiet)
    if !quiet { progress.banner(directory: directory) }
    var lastReturn = Double.nan
    try learner.run { statistics, counters, wall in
        if !statistics.episodeReturns.isEmpty {
            lastReturn = statistics.episodeReturns.reduce(0, +) / Double(statistics.episodeReturns.count)
        }
        let refused = counters.refusedConnections > 0 ? ", refused \(counters.refusedConnections)" : ""
        progress.iteration(statistics, wall: wall, extra: "workers \(counters.workersAlive)\(refused)")
    }
    if serving.curve != nil {
        print("CURVE: \(learner.refusedConnections) connection(s) refused (see the log for keys and addresses)")
    }
    guard let state = learner.state else {
        print("interrupted before any worker described \(run.configuration.environment): nothing was written to \(directory.path)")
        return
    }
    progress.summary(state, lastReturn: lastReturn, directory: directory)
}

/// `--eval-every` on an external environment: its checkpoints are evaluated by the Python
/// worker package (``PythonEvaluation``, deterministic episodes) in the background, each result
/// announced in one line as it comes.
/// - Throws: exit 2 naming what was tried when no interpreter has the package.
private func evaluateThroughPython(_ run: inout TrainingOptions.Run, python: String?) throws {
    let interpreter: String
    do { interpreter = try PythonWorkerInterpreter.resolve(explicit: python) } catch { throw runFailure(error) }
    run.checkpointEvaluator = { directory, episodes, seed in
        try PythonEvaluation(interpreter: interpreter).evaluate(checkpoint: directory, episodes: episodes, deterministic: true, seed: seed)
    }
    run.onBackgroundEvaluation = { iteration, outcome in
        switch outcome {
        case .success(let result):
            note(String(format: "eval of iteration %d: %.1f ± %.1f over %d deterministic episodes", iteration, result.returnMean,
                        result.returnStandardDeviation, result.returns.count))
        case .failure(let error):
            note("warning: the evaluation of iteration \(iteration) failed (training goes on): \(error)")
        }
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a rollout worker: collect samples for the learner at ENDPOINT until it says stop.",
        discussion: """
            Without --worker-id the learner assigns a free id (a deterministic run needs \
            explicit ids 0..<N). A worker may start before its learner: it says why it cannot \
            reach it (connection refused, unknown host, a CURVE refusal) and keeps trying for \
            --connect-timeout seconds. Once welcomed it reconnects by itself whenever the \
            learner goes quiet or restarts.

            Exit status: 0 when the learner ends the run, or when SIGINT/SIGTERM stops a worker \
            that has reached a learner; 2 when the learner refuses the worker (duplicate id, \
            other environment, not one of a deterministic run's ids), its CURVE key is \
            refused, it cannot collect for the run, or no learner welcomed it within \
            --connect-timeout; 64 for a malformed command line; 128 + N (130 for SIGINT, 143 \
            for SIGTERM) when signal N stops it before it ever reached a learner.
            """
    )

    @Option(help: "The learner's endpoint: tcp://HOST:PORT (e.g. tcp://learner-host:5555) or ipc://PATH.",
            transform: Endpoint.connect)
    var connect: Endpoint

    @Option(name: .customLong("worker-id"), help: "Insist on this id (unique among the run's live workers; its random streams derive from it). Default: the learner assigns a free one.")
    var workerID: UInt32?

    @Option(parsing: .unconditional, help: "Simulator copies stepped in lockstep (default: the learner's setting).")
    var envs: Int?

    @Option(help: "Only work on this environment (default: whatever the learner runs).")
    var env: String?

    @Option(help: "Only work for runs with this sampling scheme, single-path or vine (default: whatever the learner runs).")
    var sampler: SamplerKind?

    @Option(name: .customLong("learner-timeout"), parsing: .unconditional, help: "Seconds without a word from the learner (or, while disconnected, without the link coming back) before reconnecting with a fresh socket.")
    var learnerTimeout: Double = 10

    @Option(name: .customLong("connect-timeout"), parsing: .unconditional, help: "Seconds to keep trying to reach a learner that has never welcomed this worker before giving up (exit status 2).")
    var connectTimeout: Double = 300

    @Flag(help: "Print only warnings and errors.")
    var quiet = false

    @Option(name: .customLong("parent-pid"), help: .hidden)
    var parentPID: Int32?

    @OptionGroup var curve: WorkerCurveOptions

    func validate() throws {
        if let envs, envs <= 0 { throw ValidationError("--envs must be positive (got \(envs))") }
        guard learnerTimeout > 0, learnerTimeout.isFinite else {
            throw ValidationError("--learner-timeout must be a positive number of seconds (got \(learnerTimeout))")
        }
        guard connectTimeout > 0, connectTimeout.isFinite else {
            throw ValidationError("--connect-timeout must be a positive number of seconds (got \(connectTimeout))")
        }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        StopRequest.installHandlers()
        var c = WorkerConfiguration(endpoint: connect.description, workerID: workerID)
        c.simulatorCount = envs
        c.environmentID = env
        c.sampler = sampler
        c.learnerTimeout = .milliseconds(Int64(learnerTimeout * 1000))
        c.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        c.parentProcess = parentPID
        c.curve = try curve.resolve()
        let worker: WorkerService
        do {
            worker = try WorkerService(configuration: c, log: serviceLog(quiet: quiet))
        } catch {
            throw runFailure("cannot connect to \(connect): \(error)")
        }
        switch try worker.run() {
        case .finished, .interrupted:
            if !quiet { note("worker \(worker.workerID.map(String.init) ?? "?"): sent \(worker.chunksSent) chunks, \(grouped(worker.rowsSent)) rows") }
        case .interruptedBeforeReachingLearner(let why):
            note("error: \(why)")
            throw ExitCode(StopRequest.signal > 0 ? 128 + StopRequest.signal : 1)
        case .unreachable(let why):
            throw runFailure(why)
        case .refused(let why):
            throw runFailure("the learner refused this worker: \(why)")
        case .notAdmitted(let why):
            throw runFailure("\(why) (gave up after --learner-timeout \(learnerTimeout) s)")
        case .incompatible(let why):
            throw runFailure("this worker cannot work for the learner's run: \(why)")
        }
    }
}
