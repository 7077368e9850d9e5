import ArgumentParser
import Core
import Foundation
import Learner
import Supervision

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a policy with TRPO.",
        discussion: """
            Starts from the environment's preset (see docs/presets.md, `trpo presets`), then \
            the settings of a --config YAML file; every option given overrides both. Writes \
            config.json, config.yaml (for --config: it reruns the run), progress.csv (one row per \
            iteration) and checkpoint.json (after every iteration) to --out. With --seeds, the \
            same configuration runs once per seed, each exactly as --seed S would, into \
            runs/<env>-seed<S> (or <out>-seed<S>), and a table of each seed's deterministic \
            evaluation return with their mean, IQM and 95 % bootstrap interval ends the run.
            """
    )

    @OptionGroup var training: TrainingOptions
    @OptionGroup var localWorkers: LocalWorkerOptions
    @OptionGroup var serving: ServingOptions
    @OptionGroup var supervision: SupervisionOptions

    @Option(help: ArgumentHelp("Run these seeds, one run each (exclusive with --seed and --resume): "
                               + "a range 1-5, a list 1,2,3 or both, 1-3,7; no seed twice.", valueName: "seeds"))
    var seeds: SeedList?

    @Flag(help: "With --seeds: run up to one seed per core at once, each in its own process (--workers 0).")
    var parallel = false

    func validate() throws {
        if let seeds {
            if training.seed != nil { throw ValidationError("--seeds and --seed contradict each other: give one of them") }
            if training.resume != nil { throw ValidationError("--seeds starts new runs: resume each with --resume DIR") }
            if training.tensorboard != nil && seeds.seeds.count > 1 {
                throw ValidationError("--tensorboard DIR would be shared by the seeds' runs: leave it out (each run writes its own)")
            }
            if parallel && localWorkers.workers > 0 {
                throw ValidationError("--parallel runs each seed in one process: leave out --workers")
            }
        } else if parallel {
            throw ValidationError("--parallel applies to --seeds")
        }
        if serving.deterministic && localWorkers.workers == 0 {
            throw ValidationError("--deterministic applies to runs with --workers N")
        }
        // With --resume the environment is the saved run's: checked again once it is read.
        if let env = training.env ?? (try? training.configFile())??.env { try checkWorkers(for: env) }
        if serving.metrics != nil && localWorkers.workers == 0 {
            throw ValidationError("--metrics applies to runs with --workers N (or `trpo learner`)")
        }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        if let seeds { return try sweep(seeds) }
        let run = try training.resolve()
        if training.resume != nil { try checkWorkers(for: run.configuration.environment) }
        let withWorkers = localWorkers.workers > 0
        if let metrics = serving.metrics { try checkMetricsAddress(metrics) }
        // The workers' program is checked before the run directory is touched.
        if withWorkers { _ = try localWorkers.program(for: run.configuration) }
        // With workers, a supervised learner process trains (and announces a resume).
        guard try training.begin(run, ownsDirectory: !supervision.isSupervised,
                                 announce: !withWorkers || !supervision.supervises) else { return }
        if withWorkers { return try trainWithWorkers(run) }
        StopRequest.installHandlers()
        let session = try run.session()
        var local: LocalTraining
        do { local = try LocalTraining(session: session, overlapsValueFit: run.overlapsValueFit) } catch { throw runFailure(error) }
        var printer = ProgressPrinter(configuration: local.state.configuration, quiet: training.quiet)
        if !training.quiet { printer.banner(directory: run.directory) }
        var lastReturn = Double.nan
        try local.run { s, wall, _ in
            if !s.episodeReturns.isEmpty { lastReturn = s.episodeReturns.reduce(0, +) / Double(s.episodeReturns.count) }
            printer.iteration(s, wall: wall)
        }
        printer.summary(local.state, lastReturn: lastReturn, directory: run.directory)
        if !local.isFinished { throw ExitCode(130) }
    }

    /// Checks the worker options against the environment `env` names: one made by Python
    /// workers (`gym:`, `py:`) needs `--workers N` (unless the command only prints its
    /// configuration) and cannot run `--parallel`; `--python` applies to those only.
    func checkWorkers(for env: String) throws {
        if EnvironmentName.isExternal(env) {
            if training.printConfig { return }  // prints, starts nothing
            if localWorkers.workers == 0 && !parallel {
                throw ValidationError("\(env) is made by Python workers, not in this process: give --workers N (N ≥ 1), e.g. --workers 2")
            }
            if parallel { throw ValidationError("--parallel runs each seed in one process, which cannot make \(env): leave it out") }
        } else if localWorkers.python != nil {
            throw ValidationError("--python applies to gym:ID and py:MODULE:FACTORY environments, whose workers are Python processes")
        }
    }

    /// ``SeedSweep`` over `seeds`: each run in `runs/<env>-seed<S>`, or `<out>-seed<S>` with `--out`.
    func sweep(_ seeds: SeedList) throws {
        // validate() requires an environment, from --env or the --config file, without --resume.
        guard let env = try training.env ?? training.configFile()?.env else { throw ValidationError("--env is required") }
        let prefix = training.out ?? "runs/\(TrainingOptions.directoryName(of: env))"
        let arguments = Array(CommandLine.arguments.drop { $0 != "train" }.dropFirst())
        try SeedSweep(baseArguments: SeedSweep.baseArguments(arguments), seeds: seeds.seeds,
                      directory: { "\(prefix)-seed\($0)" }, parallel: parallel).run()
    }

    /// A learner and `--workers` worker processes on an ipc endpoint; SIGINT and SIGTERM stop
    /// them all. Supervised (see ``superviseWithWorkers(directory:)``) unless `--no-supervise`.
    func trainWithWorkers(_ run: TrainingOptions.Run) throws {
        if supervision.supervises { return try superviseWithWorkers(directory: run.directory, configuration: run.configuration) }
        let program = try localWorkers.program(for: run.configuration)
        try withLocalWorkers { endpoint, children in
            try runLearner(run, serving: serving.learnerConfiguration(endpoint: endpoint, workers: localWorkers.workers),
                           metrics: serving.metrics, quiet: training.quiet, python: localWorkers.python) { bound in
                children = try WorkerProcesses(count: localWorkers.workers, endpoint: bound, environments: nil,
                                               quiet: training.quiet, program: program, log: note)
            }
        }
        if StopRequest.isRaised { throw ExitCode(130) }
    }
}

/// `--workers N` of the commands that start N worker processes on this machine: at most
/// ``bound`` (4 per core) unless `--force-workers`, so a typo cannot start thousands of processes.
struct LocalWorkerOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Worker processes to start on this machine (0: work in this process); at most 4 per core unless --force-workers.")
    var workers: Int = 0

    @Flag(name: .customLong("force-workers"), help: "Allow --workers above 4 per core.")
    var forceWorkers = false

    @Option(help: ArgumentHelp("With gym:ID or py:MODULE:FACTORY: the Python interpreter of the workers, one with the trpo-worker package (default: $TRPO_PYTHON, then .venv/bin/python here or beside this executable's repository, then python3).", valueName: "path"))
    var python: String?

    /// The worker program for `configuration`'s environment: `trpo worker`, or the Python
    /// worker with the interpreter ``PythonWorkerInterpreter`` finds (checked by importing it).
    /// - Throws: exit 2 naming what was tried when no interpreter has the package.
    func program(for configuration: TrainingConfiguration) throws -> WorkerProgram {
        guard configuration.isExternal else { return .builtIn }
        do { return .python(interpreter: try PythonWorkerInterpreter.resolve(explicit: python)) } catch { throw runFailure(error) }
    }

    /// `arguments` without `--python PATH` (or `--python=PATH`), which only `train` takes.
    static func removingPython(from arguments: [String]) -> [String] {
        var kept: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if argument == "--python" { skipNext = true; continue }
            if argument.hasPrefix("--python=") { continue }
            kept.append(argument)
        }
        return kept
    }

    /// The most workers started without `--force-workers`: 4 × the active cores.
    static var bound: Int { 4 * ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        guard workers >= 0 else { throw ValidationError("--workers must be 0 or more (got \(workers))") }
        guard workers <= Self.bound || forceWorkers else {
            throw ValidationError("--workers \(workers) is more than \(Self.bound), 4 per core of this machine's "
                                  + "\(ProcessInfo.processInfo.activeProcessorCount); give --force-workers to start that many")
        }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a saved policy: mean and standard deviation of episode returns."
    )

    @Option(help: "Run directory (or checkpoint.json) to load; DIR/best is the best policy of a run trained with --eval-every.")
    var checkpoint: String

    @Option(parsing: .unconditional, help: "Number of episodes.")
    var episodes: Int = 10

    @Flag(help: "Act with the distribution's mode (argmax / mean) instead of sampling.")
    var deterministic = false

    @Option(parsing: .unconditional, help: "Seed of the evaluation episodes' initial states (the run's seed gives the episodes of its --eval-every evaluations).")
    var seed: UInt64 = 12345

    @Option(help: ArgumentHelp("For a run of gym:ID or py:MODULE:FACTORY, evaluated through the Python worker package: its interpreter (default: $TRPO_PYTHON, then .venv/bin/python, then python3).", valueName: "path"))
    var python: String?

    func validate() throws {
        guard episodes > 0 else { throw ValidationError("--episodes must be positive (got \(episodes))") }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let evaluation = try CheckpointEvaluation(directory: URL(fileURLWithPath: checkpoint), episodes: episodes,
                                                  deterministic: deterministic, seed: seed, python: python)
        let (state, result) = (evaluation.state, evaluation.result)
        print(String(format: "%@ iteration %d (%@ steps), %d %@ episode%@: return %.2f ± %.2f (min %.2f, max %.2f)",
                     state.configuration.environment, state.iteration, grouped(state.timesteps), result.returns.count,
                     deterministic ? "deterministic" : "stochastic", result.returns.count == 1 ? "" : "s",
                     result.returnMean, result.returnStandardDeviation,
                     result.returns.min()!, result.returns.max()!))
    }
}
