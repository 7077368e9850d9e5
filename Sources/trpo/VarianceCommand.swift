import ArgumentParser
import Core
import Foundation
import Learner
import Plot
import Simulators
import Supervision

struct VarianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Compare the variance of single-path, vine and vine-with-CRN policy-gradient estimates at a fixed policy.",
        discussion: """
            Estimates the policy gradient --replicates times with each estimator at equal \
            simulator-step budgets (the vine sized by pilot collections so that its mean steps per \
            estimate lie within --budget-tolerance of --budget), against a reference gradient \
            from 20× the budget (single path), prints one summary line per estimator (flagging \
            an estimator whose estimates are zero gradients as DEGENERATE), and writes \
            variance.json, variance.csv and variance.svg to --out (docs/variance.md defines \
            every column); with --long-horizon, also horizon.csv. With \
            --workers N the replicates' collections run in N local worker processes (same \
            results: each replicate's random streams derive from the seed and the replicate).
            """
    )

    @Option(help: ArgumentHelp("The environment: a built-in id, or gym:ID or py:MODULE:FACTORY, which Python workers make (with --workers N); with --checkpoint, it must be the checkpoint's.", valueName: "env"))
    var env: String?

    @Option(name: .customLong("env-kwargs"), help: ArgumentHelp("With gym:ID or py:MODULE:FACTORY and a fresh policy: keyword arguments to make the environment with, as a JSON object.", valueName: "json"))
    var envKwargs: String?

    @Option(help: "Run directory whose policy, normaliser and value function to study (default: a fresh policy).")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "Independent estimates per estimator.")
    var replicates: Int = 20

    @Option(parsing: .unconditional, help: "Simulator steps per estimate.")
    var budget: Int = 20_000

    @Option(name: .customLong("budget-tolerance"), parsing: .unconditional,
            help: "How closely every estimator's mean simulator steps per estimate must meet --budget, as a fraction (0.02: ±2 %).")
    var budgetTolerance: Double = 0.02

    /// The local worker processes the collections are farmed out to (0: collect in this process).
    @OptionGroup var localWorkers: LocalWorkerOptions

    @Option(parsing: .unconditional, help: "Seed of the fresh policy and of every sampling stream.")
    var seed: UInt64 = 1

    @Option(help: "Output directory.")
    var out: String = "variance"

    @Option(name: .customLong("vine-bootstrap"), help: "The vine's Q̂: value completes a branch cut by T or the time limit with γᴸ V(s_L) (V: the checkpoint's value function), none is the plain sum (default: the checkpoint's run's setting; none for a fresh policy, whose V is untrained).")
    var vineBootstrap: VineBootstrap?

    @Option(name: .customLong("long-horizon"), parsing: .unconditional, help: ArgumentHelp("Also compare the vine's Q̂ over T with Q̂ over this longer horizon on the same branches (common random numbers), plain and bootstrapped: correlations, gradient cosine and bias, in horizon.csv.", valueName: "steps"))
    var longHorizon: Int?

    @Option(name: .customLong("horizon-collections"), parsing: .unconditional, help: "Vine collections (pairs) of the --long-horizon comparison.")
    var horizonCollections: Int = 4

    func validate() throws {
        guard replicates >= 2 else { throw ValidationError("--replicates must be at least 2 (got \(replicates))") }
        guard budget >= 100 else { throw ValidationError("--budget must be at least 100 steps (got \(budget))") }
        guard budgetTolerance > 0 && budgetTolerance < 0.5 else {
            throw ValidationError("--budget-tolerance must be above 0 and below 0.5 (got \(budgetTolerance))")
        }
        guard replicates < 999_990 else { throw ValidationError("--replicates must be below 999990 (got \(replicates))") }
        if let longHorizon, longHorizon < 2 { throw ValidationError("--long-horizon must be at least 2 steps (got \(longHorizon))") }
        guard horizonCollections >= 1 else { throw ValidationError("--horizon-collections must be at least 1 (got \(horizonCollections))") }
        if let env {
            if let problem = TrainingOptions.environmentProblem(env) { throw ValidationError(problem) }
            if EnvironmentName.isExternal(env) && localWorkers.workers == 0 {
                throw ValidationError("\(env) is made by Python workers, not in this process: give --workers N (N ≥ 1)")
            }
        } else if checkpoint == nil {
            throw ValidationError("give --env or --checkpoint")
        }
        if let envKwargs {
            guard let env, EnvironmentName.isExternal(env), checkpoint == nil else {
                throw ValidationError("--env-kwargs applies to a fresh policy of gym:ID or py:MODULE:FACTORY (a checkpoint keeps its own)")
            }
            if let problem = TrainingOptions.argumentsProblem(envKwargs) { throw ValidationError("--env-kwargs: \(problem)") }
        }
    }

    /// What to study: a policy ready here, or one of an external environment, whose spaces the
    /// first Python worker describes.
    enum Subject {
        case ready(VarianceStudy)
        /// The configuration (its spec, if known) and the checkpoint's state (nil: a fresh policy).
        case external(TrainingConfiguration, TrainerState?)
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let subject: Subject
        let policyLabel: String
        if let checkpoint {
            let state: TrainerState
            do { state = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint)) } catch { throw runFailure(error) }
            if let env, env != state.configuration.environment {
                throw runFailure("--env \(env) does not match the checkpoint in \(checkpoint), which is a run of "
                                 + "\(state.configuration.environment); give one of them, or a checkpoint of \(env)")
            }
            var c = state.configuration
            c.seed = seed
            if let vineBootstrap { c.vineBootstrap = vineBootstrap }
            if c.isExternal {
                guard localWorkers.workers > 0 else {
                    throw runFailure("\(c.environment) is made by Python workers, not in this process: give --workers N (N ≥ 1)")
                }
                var resumed = state
                resumed.configuration = c
                subject = .external(c, resumed)
            } else {
                do {
                    subject = .ready(try VarianceStudy(configuration: c, policy: state.policy, normalizer: state.samplingNormalizer,
                                                       valueFunction: state.valueFunction, budget: stepBudget))
                } catch { throw runFailure(error) }
            }
            policyLabel = "\(c.environment), iteration \(state.iteration) (\(grouped(state.timesteps)) steps)"
        } else {
            let env = env!  // validate() requires --env without --checkpoint
            var c = TrainingConfiguration.preset(for: env)
            c.seed = seed
            c.vineBootstrap = vineBootstrap ?? .none
            c.environmentArguments = envKwargs
            if c.isExternal {
                subject = .external(c, nil)
            } else {
                do { subject = .ready(try freshStudy(c)) } catch { throw runFailure(error) }
            }
            policyLabel = "\(env), fresh policy"
        }
        note("trpo variance: \(policyLabel); \(replicates) replicates of \(grouped(budget)) steps "
             + "± \(String(format: "%g", budgetTolerance * 100)) % per estimator")
        let outcome: Outcome
        do {
            switch subject {
            case .ready(let study): outcome = try run(study)
            case .external(let c, let state): outcome = try runExternal(c, state: state)
            }
        } catch let error as VarianceStudyError {
            throw runFailure(error)
        } catch let error as HorizonCheckError {
            throw runFailure(error)
        }
        let statistics = outcome.statistics

        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(statistics), to: directory.appendingPathComponent("variance.json"))
        try AtomicFile.write(Data(VarianceTable.csv(statistics).utf8), to: directory.appendingPathComponent("variance.csv"))
        do {
            let svg = try Self.chart(statistics, title: "Policy-gradient estimators: \(policyLabel)").svg()
            try AtomicFile.write(Data(svg.utf8), to: directory.appendingPathComponent("variance.svg"))
        } catch { throw runFailure(error) }
        for s in statistics { print(s.summary) }
        if let horizon = outcome.horizon {
            try AtomicFile.write(Data(HorizonComparison.csv(horizon).utf8), to: directory.appendingPathComponent("horizon.csv"))
            for h in horizon { print(h.summary) }
        }
        print("wrote \(directory.appendingPathComponent("variance.json").path), variance.csv, variance.svg"
              + (outcome.horizon == nil ? "" : ", horizon.csv"))
    }

    /// The simulator steps per estimate and their tolerance.
    var stepBudget: StepBudget { StepBudget(steps: budget, tolerance: budgetTolerance) }

    /// The chart of `variance.svg`: variance, variance per Q-sample, relative bias, the cosine
    /// of the mean estimate and the steps spent, one bar per estimator with its 95 % interval.
    /// A degenerate estimator gets a marked gap instead of its bars (its steps are still drawn).
    static func chart(_ statistics: [EstimatorStatistics], title: String) -> BarChart {
        func entries(_ value: (EstimatorStatistics) -> Double?, _ interval: (EstimatorStatistics) -> [Double]?,
                     logarithmic: Bool = true) -> [BarChart.Entry] {
            statistics.map { s in
                if s.degenerate != nil { return .gap("degenerate: zero gradient in \(s.nullEstimates) of \(s.replicates) estimates") }
                guard let v = value(s) else { return .gap("undefined") }
                if logarithmic && v <= 0 { return .gap("\(v): off the log scale") }
                return .bar(v, interval: interval(s).map { $0[0]...$0[1] })
            }
        }
        let budget = statistics[0]
        return BarChart(title: title, labels: statistics.map(\.estimator), panels: [
            .init(title: "total variance tr Cov(ĝ), 95 % CI (log scale)", scale: .logarithmic,
                  entries: entries(\.totalVariance, \.totalVarianceInterval)),
            .init(title: "variance per Q-value sample, tr Cov(ĝ) × Q-samples, 95 % CI (log scale)", scale: .logarithmic,
                  entries: entries(\.variancePerQSample, \.variancePerQSampleInterval)),
            .init(title: "relative bias ‖mean ĝ − g_ref‖ / ‖g_ref‖, 95 % CI (log scale)", scale: .logarithmic,
                  entries: entries(\.relativeBias, \.relativeBiasInterval)),
            .init(title: "cosine of the mean estimate to g_ref, 95 % CI", scale: .linear,
                  entries: entries(\.meanEstimateCosine, \.meanEstimateCosineInterval, logarithmic: false)),
            .init(title: "simulator steps per estimate (mean; whisker: least to most)", scale: .counts,
                  entries: statistics.map { .bar($0.simSteps, interval: Double($0.simStepsMin)...Double($0.simStepsMax)) },
                  marker: .init(value: Double(budget.budget), label: "budget \(grouped(budget.budget)) ± \(String(format: "%g", budget.budgetTolerance * 100)) %")),
        ])
    }

    /// A fresh policy's study for a built-in environment (or an external one whose spec `c` holds).
    func freshStudy(_ c: TrainingConfiguration) throws -> VarianceStudy {
        let spaces = try c.environmentSpaces()
        let trainer = Trainer(configuration: c, observationSize: spaces.observationSize, actionSpace: spaces.actionSpace)
        do {
            return try VarianceStudy(configuration: c, policy: trainer.state.policy, normalizer: nil,
                                     valueFunction: trainer.state.valueFunction, budget: stepBudget)
        } catch { throw runFailure(error) }
    }

    /// The study of an external environment's policy on `--workers` Python workers: the farm
    /// waits for the first worker's spec, builds the fresh policy from it (or checks that the
    /// checkpoint's policy fits it), then farms every collection out.
    func runExternal(_ c: TrainingConfiguration, state: TrainerState?) throws -> Outcome {
        let program = try localWorkers.program(for: c)
        return try farmed { endpoint, children in
            let farm = try SamplingFarm(endpoint: endpoint, externalEnvironment: c.environment, arguments: c.environmentArguments ?? "",
                                        simulators: c.environmentsPerSampler, log: { note($0) })
            children = try WorkerProcesses(count: localWorkers.workers, endpoint: farm.boundEndpoint, environments: nil,
                                           quiet: false, program: program, log: note)
            let workers = children
            let spec = try farm.awaitEnvironmentSpec { workers?.allFailed }
            let study: VarianceStudy
            if let state {
                if let known = c.environmentSpec, let difference = spec.difference(from: known) {
                    throw runFailure("the workers' \(c.environment) differs from the checkpoint's: \(difference)")
                }
                do {
                    study = try VarianceStudy(configuration: c, policy: state.policy, normalizer: state.samplingNormalizer,
                                              valueFunction: state.valueFunction, budget: stepBudget)
                } catch { throw runFailure(error) }
            } else {
                var c = c
                c.environmentSpec = spec
                study = try freshStudy(c)
            }
            return (farm, study)
        }
    }

    /// What a study finds: each estimator's statistics, and the `--long-horizon` comparison.
    struct Outcome {
        var statistics: [EstimatorStatistics]
        var horizon: [HorizonComparison]?
    }

    /// The study, then the `--long-horizon` comparison, their collections made on `farm` (nil:
    /// in this process).
    func perform(_ study: VarianceStudy, farm: SamplingFarm?) throws -> Outcome {
        let (_, statistics, estimates) = try study.run(replicates: replicates, farm: farm) { note($0) }
        guard let longHorizon else { return Outcome(statistics: statistics) }
        note("horizon check: \(horizonCollections) vine collections at T = \(study.configuration.vine.rolloutLength) "
             + "and at \(longHorizon), common random numbers")
        return Outcome(statistics: statistics,
                       horizon: try study.horizonCheck(longHorizon: longHorizon, collections: horizonCollections, farm: farm,
                                                       estimates: Array(zip(GradientEstimatorKind.allCases, estimates))))
    }

    /// The study's outcome, its collections made here or by `--workers` local worker processes.
    func run(_ study: VarianceStudy) throws -> Outcome {
        let workers = localWorkers.workers
        guard workers > 0 else { return try perform(study, farm: nil) }
        return try farmed { endpoint, children in
            let farm = try SamplingFarm(endpoint: endpoint, template: study.farmTemplate,
                                        modelXML: study.configuration.modelXML, log: { note($0) })
            children = try WorkerProcesses(count: workers, endpoint: farm.boundEndpoint, environments: nil, quiet: false, log: note)
            return (farm, study)
        }
    }

    /// Runs the study that `start` sets up (a farm on the local workers' endpoint, its workers
    /// started) on that farm, and tells the workers to stop at the end.
    private func farmed(_ start: (_ endpoint: String, _ children: inout WorkerProcesses?) throws -> (SamplingFarm, VarianceStudy))
        throws -> Outcome {
        do {
            return try withLocalWorkers { endpoint, children in
                let (farm, study) = try start(endpoint, &children)
                farm.adopt(study.farmTemplate)
                do {
                    let outcome = try perform(study, farm: farm)
                    farm.finish()
                    return outcome
                } catch {
                    farm.finish(.interrupted)
                    throw error
                }
            }
        } catch SamplingFarmError.interrupted {
            throw ExitCode(130)
        } catch let error as SamplingFarmError {
            throw runFailure(error)
        }
    }
}
