import ArgumentParser
import Core
import Foundation
import Learner

/// The training options shared by `trpo train` and `trpo learner`: the environment's preset,
/// overridden by any option given.
struct TrainingOptions: ParsableArguments {
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

    @Option(help: "Environment copies each sampler steps in lockstep.")
    var envs: Int?

    @Option(name: .customLong("chunk-steps"), help: "Rows per sample chunk (the unit workers send).")
    var chunkSteps: Int?

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

    @Option(name: .customLong("init-log-std"), help: "Initial log standard deviation of a Gaussian policy (write negative values as --init-log-std=-0.5).")
    var initialLogStd: Double?

    @Option(help: "Sampling scheme: single-path or vine (the paper's §5.2).")
    var sampler: String?

    @Option(name: .customLong("trunk-steps"), help: "Vine: steps of each copy's trunk per iteration.")
    var trunkSteps: Int?

    @Option(name: .customLong("vine-states"), help: "Vine: N, rollout-set states per iteration.")
    var vineStates: Int?

    @Option(name: .customLong("vine-actions"), help: "Vine: K, actions per state (every action once for small discrete spaces).")
    var vineActions: Int?

    @Option(name: .customLong("vine-length"), help: "Vine: T, the most steps of a branch.")
    var vineLength: Int?

    @Flag(name: .customLong("crn"), inversion: .prefixedNo, help: "Vine: common random numbers across a state's branches.")
    var commonRandomNumbers: Bool = true

    @Option(help: "A custom MJCF model for a MuJoCo environment (same joints and actuators; the environment's rewards and observations). With workers, the learner sends it to them.")
    var model: String?

    @Flag(name: .customLong("no-obs-norm"), help: "Do not standardise observations.")
    var noObservationNormalization = false

    @Flag(name: .customLong("reward-norm"), inversion: .prefixedNo, help: "Scale rewards by the running standard deviation of the discounted return (default: the preset's choice).")
    var rewardNormalization: Bool?

    @Option(help: "Continue the run saved in this directory from its last checkpoint.")
    var resume: String?

    @Flag(help: "Print only the final summary.")
    var quiet = false

    /// The configuration to train with, the run directory, and whether it is a resume.
    func resolve() throws -> (TrainingConfiguration, URL, Bool) {
        if let resume {
            let directory = URL(fileURLWithPath: resume)
            do {
                return (try Checkpoint.load(from: directory).configuration, directory, true)
            } catch {
                throw usageFailure("\(error)")
            }
        }
        guard let env else { throw usageFailure("--env is required (see `trpo env list`)") }
        return (try makeConfiguration(environment: env), URL(fileURLWithPath: out ?? "runs/\(env)-seed\(seed)"), false)
    }

    /// The preset for `environment` with these overrides applied.
    func makeConfiguration(environment: String) throws -> TrainingConfiguration {
        let kind = try sampler.map { name in
            guard let kind = SamplerKind(rawValue: name) else {
                throw usageFailure("--sampler takes single-path or vine (got '\(name)')")
            }
            return kind
        } ?? .singlePath
        var c = TrainingConfiguration.preset(for: environment, sampler: kind)
        c.seed = seed
        if let steps { c.totalSteps = steps }
        if let batchSteps { c.batchSteps = batchSteps }
        if let maxKL { c.trpo.maxKL = maxKL }
        if let envs { c.environmentsPerSampler = envs }
        if let chunkSteps { c.chunkSteps = chunkSteps }
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
        if let rewardNormalization { c.normalizeRewards = rewardNormalization }
        if c.sampler == .vine { c.vine.gamma = c.gamma }
        if let trunkSteps { c.vine.trunkSteps = trunkSteps }
        if let vineStates { c.vine.rolloutStates = vineStates }
        if let vineActions { c.vine.actionsPerState = vineActions }
        if let vineLength { c.vine.rolloutLength = vineLength }
        c.vine.commonRandomNumbers = commonRandomNumbers
        if let model {
            guard let data = FileManager.default.contents(atPath: model), let xml = String(data: data, encoding: .utf8) else {
                throw usageFailure("cannot read model file \(model)")
            }
            c.modelXML = xml
            c.modelFile = model
        }
        do { try c.validate() } catch { throw usageFailure(error.description) }
        return c
    }
}

/// One compact line per iteration on standard error, with an ETA; the summary on standard output.
struct ProgressPrinter {
    let configuration: TrainingConfiguration
    let quiet: Bool
    private var iterations: Int { (configuration.totalSteps + configuration.batchSteps - 1) / configuration.batchSteps }

    func banner(directory: URL) {
        let c = configuration
        let perIteration = switch c.sampler {
        case .singlePath: "\(grouped(c.batchSteps)) per iteration"
        case .vine:
            "vine: \(c.environmentsPerSampler) trunks of \(grouped(c.vine.trunkSteps)), N=\(c.vine.rolloutStates), "
                + "K=\(c.vine.actionsPerState), T=\(c.vine.rolloutLength), CRN \(c.vine.commonRandomNumbers ? "on" : "off")"
        }
        note("trpo train \(c.environment) seed \(c.seed): \(grouped(c.totalSteps)) steps, \(perIteration), δ=\(c.trpo.maxKL) → \(directory.path)")
    }

    func iteration(_ s: IterationStatistics, wall: Double, extra: String? = nil) {
        guard !quiet else { return }
        let remaining = Double(max(0, configuration.totalSteps - s.timesteps)) / Double(max(s.timesteps, 1)) * wall
        let ret = s.episodeReturns.isEmpty ? "      —" : String(format: "%8.1f", s.episodeReturns.reduce(0, +) / Double(s.episodeReturns.count))
        let step = s.policyStep
        let status = step.accepted ? String(format: "kl %.4f bt %d", step.kl, step.backtracks) : "rejected (\(step.rejection?.rawValue ?? "?"))"
        // A vine iteration's simulator steps vary, so its count of iterations is not known ahead.
        let counter = configuration.sampler == .vine ? String(format: "%4d", s.iteration) : String(format: "%4d/%d", s.iteration, iterations)
        var line = String(format: "iter %@ | steps %@ | return %@ (%3d ep) | %@", counter, grouped(s.timesteps), ret,
                          s.episodeReturns.count, status)
        if !s.valueFit.explainedVarianceBefore.isNaN { line += String(format: " | ev %5.2f", s.valueFit.explainedVarianceBefore) }
        if let extra { line += " | \(extra)" }
        note(line + " | \(humanDuration(wall)) | ETA \(humanDuration(remaining))")
    }

    /// The last line: where the run ended and where its checkpoint is.
    func summary(_ state: TrainerState, lastReturn: Double, directory: URL) {
        let ret = lastReturn.isNaN ? "no episode finished in the last iteration"
            : String(format: "last iteration's mean return %.1f", lastReturn)
        print(String(format: "done: %@ steps in %@, %@; checkpoint %@",
                     grouped(state.timesteps), humanDuration(state.wallSeconds), ret,
                     Checkpoint.url(in: directory).path))
    }
}
