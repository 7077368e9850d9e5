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

    @Option(help: "Gymnasium environment id (see `trpo env list`).")
    var env: String?

    @Option(help: "Run seed: every random stream derives from it.")
    var seed: UInt64 = 1

    @Option(help: "Total environment steps.")
    var steps: Int?

    @Option(name: .customLong("batch-steps"), help: "Environment steps per iteration.")
    var batchSteps: Int?

    @Option(name: .customLong("max-kl"), help: "Trust-region size δ: bound on the mean KL(π_old‖π_new).")
    var maxKL: Double?

    @Option(help: "Run directory (default: runs/<env>-seed<seed>).")
    var out: String?

    @Option(help: "Environment copies stepped in lockstep by the sampler.")
    var envs: Int?

    @Option(help: "Hidden layer widths of policy and value networks, e.g. 64,64.")
    var hidden: String?

    @Option(help: "Discount γ.")
    var gamma: Double?

    @Option(help: "GAE λ.")
    var lambda: Double?

    @Option(name: .customLong("cg-iters"), help: "Conjugate-gradient iterations.")
    var cgIterations: Int?

    @Option(name: .customLong("cg-damping"), help: "Damping added to the Fisher matrix.")
    var cgDamping: Double?

    @Option(name: .customLong("fisher-subsample"), help: "Fraction of the batch used for Fisher-vector products, in (0, 1].")
    var fisherSubsample: Double?

    @Option(name: .customLong("vf-epochs"), help: "Value-function epochs per iteration.")
    var valueEpochs: Int?

    @Option(name: .customLong("vf-lr"), help: "Value-function Adam learning rate.")
    var valueLearningRate: Double?

    @Option(name: .customLong("vf-minibatch"), help: "Value-function minibatch size.")
    var valueMinibatch: Int?

    @Option(name: .customLong("init-log-std"), help: "Initial log standard deviation of a Gaussian policy.")
    var initialLogStd: Double?

    @Flag(name: .customLong("no-obs-norm"), help: "Do not standardise observations.")
    var noObservationNormalization = false

    @Option(help: "Continue the run saved in this directory from its last checkpoint.")
    var resume: String?

    @Flag(help: "Print only the final summary.")
    var quiet = false

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let configuration: TrainingConfiguration
        let directory: URL
        if let resume {
            directory = URL(fileURLWithPath: resume)
            do {
                configuration = try Checkpoint.load(from: directory).configuration
            } catch {
                throw usageFailure("\(error)")
            }
        } else {
            guard let env else { throw usageFailure("--env is required (see `trpo env list`)") }
            configuration = try makeConfiguration(environment: env)
            directory = URL(fileURLWithPath: out ?? "runs/\(env)-seed\(seed)")
        }
        var training: LocalTraining
        do {
            training = try LocalTraining(configuration: configuration, outputDirectory: directory, resume: resume != nil)
        } catch let error as ConfigurationError {
            throw usageFailure("\(error)")
        } catch {
            throw usageFailure("\(error)")
        }
        let c = training.state.configuration
        let iterations = (c.totalSteps + c.batchSteps - 1) / c.batchSteps
        if !quiet {
            note("trpo train \(c.environment) seed \(c.seed): \(grouped(c.totalSteps)) steps, \(grouped(c.batchSteps)) per iteration, δ=\(c.trpo.maxKL) → \(directory.path)")
        }
        var lastReturn = Double.nan
        try training.run { s, wall, sampleSeconds in
            if !s.episodeReturns.isEmpty { lastReturn = s.episodeReturns.reduce(0, +) / Double(s.episodeReturns.count) }
            guard !quiet else { return }
            let remaining = Double(c.totalSteps - s.timesteps) / Double(max(s.timesteps, 1)) * wall
            let ret = s.episodeReturns.isEmpty ? "      —" : String(format: "%8.1f", lastReturn)
            let step = s.policyStep
            let status = step.accepted ? String(format: "kl %.4f bt %d", step.kl, step.backtracks) : "rejected (\(step.rejection?.rawValue ?? "?"))"
            note(String(format: "iter %4d/%d | steps %@ | return %@ (%3d ep) | %@ | ev %5.2f | %@ | ETA %@",
                        s.iteration, iterations, grouped(s.timesteps), ret, s.episodeReturns.count, status,
                        s.valueFit.explainedVarianceBefore, humanDuration(wall), humanDuration(remaining)))
        }
        let state = training.state
        print(String(format: "done: %@ steps in %@, last iteration's mean return %.1f; checkpoint %@",
                     grouped(state.timesteps), humanDuration(state.wallSeconds), lastReturn,
                     Checkpoint.url(in: directory).path))
    }

    /// The preset for `environment` with this command's overrides applied.
    func makeConfiguration(environment: String) throws -> TrainingConfiguration {
        var c = TrainingConfiguration.preset(for: environment)
        c.seed = seed
        if let steps { c.totalSteps = steps }
        if let batchSteps { c.batchSteps = batchSteps }
        if let maxKL { c.trpo.maxKL = maxKL }
        if let envs { c.environmentsPerSampler = envs }
        if let hidden {
            let sizes = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw usageFailure("--hidden takes positive widths separated by commas, e.g. 64,64 (got '\(hidden)')")
            }
            c.policyHiddenSizes = sizes.map { $0! }
            c.valueHiddenSizes = c.policyHiddenSizes
        }
        if let gamma { c.gamma = gamma }
        if let lambda { c.lambda = lambda }
        if let cgIterations { c.trpo.cgIterations = cgIterations }
        if let cgDamping { c.trpo.damping = cgDamping }
        if let fisherSubsample { c.trpo.fisherSubsample = fisherSubsample }
        if let valueEpochs { c.valueFit.epochs = valueEpochs }
        if let valueLearningRate { c.valueFit.learningRate = valueLearningRate }
        if let valueMinibatch { c.valueFit.minibatchSize = valueMinibatch }
        if let initialLogStd { c.initialLogStd = initialLogStd }
        if noObservationNormalization { c.normalizeObservations = false }
        do { try c.validate() } catch { throw usageFailure(error.description) }
        return c
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
                                         environment: c.environment, episodes: episodes,
                                         deterministic: deterministic, seed: seed)
        } catch { throw usageFailure("\(error)") }
        let mean = returns.reduce(0, +) / Double(returns.count)
        let std = (returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)).squareRoot()
        print(String(format: "%@ iteration %d (%@ steps), %d %@ episodes: return %.2f ± %.2f (min %.2f, max %.2f)",
                     c.environment, state.iteration, grouped(state.timesteps), returns.count,
                     deterministic ? "deterministic" : "stochastic", mean, std, returns.min()!, returns.max()!))
    }
}
