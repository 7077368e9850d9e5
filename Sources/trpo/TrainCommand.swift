import ArgumentParser
import Core
import Foundation
import Learner

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a policy with TRPO.",
        discussion: """
            Starts from the environment's preset (see docs/presets.md); every option given \
            overrides it. Writes config.json, progress.csv (one row per iteration) and \
            checkpoint.json (after every iteration) to --out.
            """
    )

    @OptionGroup var training: TrainingOptions

    @Option(help: "Worker processes to start on this machine (0: sample in this process).")
    var workers: Int = 0

    @OptionGroup var serving: ServingOptions
    @OptionGroup var supervision: SupervisionOptions

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        guard workers >= 0 else { throw usageFailure("--workers must be 0 or more (got \(workers))") }
        let (configuration, directory, resume) = try training.resolve()
        if workers > 0 {
            try trainWithWorkers(configuration: configuration, directory: directory, resume: resume)
            return
        }
        if serving.deterministic { throw usageFailure("--deterministic applies to runs with --workers N") }
        var local: LocalTraining
        do {
            local = try LocalTraining(configuration: configuration, outputDirectory: directory, resume: resume)
        } catch {
            throw usageFailure("\(error)")
        }
        let printer = ProgressPrinter(configuration: local.state.configuration, quiet: training.quiet)
        if !training.quiet { printer.banner(directory: directory) }
        var lastReturn = Double.nan
        try local.run { s, wall, _ in
            if !s.episodeReturns.isEmpty { lastReturn = s.episodeReturns.reduce(0, +) / Double(s.episodeReturns.count) }
            printer.iteration(s, wall: wall)
        }
        printer.summary(local.state, lastReturn: lastReturn, directory: directory)
    }

    /// A learner in this process and `workers` worker processes on an ipc endpoint; SIGINT
    /// and SIGTERM stop them all.
    func trainWithWorkers(configuration: TrainingConfiguration, directory: URL, resume: Bool) throws {
        if supervision.supervises { return try superviseWithWorkers(directory: directory, resume: resume) }
        try withLocalWorkers { endpoint, children in
            try runLearner(configuration: configuration, directory: directory, resume: resume,
                           serving: try serving.learnerConfiguration(endpoint: endpoint, workers: workers),
                           quiet: training.quiet) { bound in
                children = try WorkerProcesses(count: workers, endpoint: bound, environments: nil, quiet: training.quiet)
            }
        }
        if StopRequest.isRaised { throw ExitCode(130) }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a saved policy: mean and standard deviation of episode returns."
    )

    @Option(help: "Run directory (or checkpoint.json) to load.")
    var checkpoint: String

    @Option(help: "Number of episodes.")
    var episodes: Int = 10

    @Flag(help: "Act with the distribution's mode (argmax / mean) instead of sampling.")
    var deterministic = false

    @Option(help: "Seed of the evaluation episodes' initial states.")
    var seed: UInt64 = 12345

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        guard episodes > 0 else { throw usageFailure("--episodes must be positive (got \(episodes))") }
        let state: TrainerState
        do { state = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint)) } catch { throw usageFailure("\(error)") }
        let c = state.configuration
        let returns: [Double]
        do {
            returns = try evaluatePolicy(state.policy, normalizer: c.normalizeObservations ? state.normalizer : nil,
                                         environment: c.environment, modelXML: c.modelXML, episodes: episodes,
                                         deterministic: deterministic, seed: seed)
        } catch { throw usageFailure("\(error)") }
        let mean = returns.reduce(0, +) / Double(returns.count)
        let std = (returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)).squareRoot()
        print(String(format: "%@ iteration %d (%@ steps), %d %@ episodes: return %.2f ± %.2f (min %.2f, max %.2f)",
                     c.environment, state.iteration, grouped(state.timesteps), returns.count,
                     deterministic ? "deterministic" : "stochastic", mean, std, returns.min()!, returns.max()!))
    }
}
