import Core
import Foundation
import Simulators
import Worker

/// The whole training loop in one process: a single-path sampler (stream 0, as worker 0 of
/// a distributed run) feeds the trainer, and every iteration is logged and checkpointed.
public struct LocalTraining {
    public let outputDirectory: URL
    private var trainer: Trainer
    private let sampler: SinglePathSampler
    private var log: ProgressLog

    /// Starts a new run in `outputDirectory` (created if needed), or resumes the run saved
    /// there when `resume` is true.
    public init(configuration: TrainingConfiguration, outputDirectory: URL, resume: Bool) throws {
        self.outputDirectory = outputDirectory
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        if resume {
            trainer = Trainer(state: try Checkpoint.load(from: outputDirectory))
        } else {
            try configuration.validate()
            let probe = try EnvironmentRegistry.make(configuration.environment)
            trainer = Trainer(configuration: configuration, observationSize: probe.observationSpace.count,
                              actionSpace: probe.actionSpace)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(configuration), to: outputDirectory.appendingPathComponent("config.json"))
        }
        let c = trainer.state.configuration
        let simulators = try (0..<c.environmentsPerSampler).map { _ in try EnvironmentRegistry.make(c.environment) }
        sampler = SinglePathSampler(simulators: simulators, policy: trainer.state.policy, normalizer: trainer.samplingNormalizer,
                                    seed: c.seed, stream: 0)
        log = try ProgressLog(url: outputDirectory.appendingPathComponent("progress.csv"),
                              resumeAfter: resume ? trainer.state.iteration : nil)
    }

    public var state: TrainerState { trainer.state }

    /// Runs iterations until the step budget is spent, reporting each iteration.
    public mutating func run(report: (IterationStatistics, _ wallSeconds: Double, _ sampleSeconds: Double) -> Void) throws {
        let clock = ContinuousClock()
        let start = clock.now
        let priorWall = trainer.state.wallSeconds
        let c = trainer.state.configuration
        while trainer.state.timesteps < c.totalSteps {
            sampler.load(policy: trainer.state.policy, normalizer: trainer.samplingNormalizer)
            let steps = min(c.batchSteps, c.totalSteps - trainer.state.timesteps)
            var batch = SampleBatch(observationSize: 0, actionWidth: 0)
            let sampleSeconds = clock.measure { batch = LocalTraining.collectBatch(sampler, steps: steps, chunkSteps: c.chunkSteps) }.seconds
            let statistics = trainer.update(with: batch)
            let wall = priorWall + (clock.now - start).seconds
            trainer.recordWallTime(wall)
            try log.append(LocalTraining.row(statistics, wallSeconds: wall, sampleSeconds: sampleSeconds))
            try Checkpoint.save(trainer.state, in: outputDirectory)
            report(statistics, wall, sampleSeconds)
        }
    }

    /// At least `steps` rows, collected in chunks of at most `chunkSteps` as a worker would.
    static func collectBatch(_ sampler: SinglePathSampler, steps: Int, chunkSteps: Int) -> SampleBatch {
        var batch = sampler.collect(steps: min(steps, chunkSteps))
        while batch.count < steps {
            batch.append(sampler.collect(steps: min(steps - batch.count, chunkSteps)))
        }
        return batch
    }

    /// The progress.csv row of an iteration.
    static func row(_ s: IterationStatistics, wallSeconds: Double, sampleSeconds: Double) -> [String: String] {
        let f = ProgressLog.format
        let returns = s.episodeReturns
        let mean = returns.isEmpty ? Double.nan : returns.reduce(0, +) / Double(returns.count)
        let std = returns.isEmpty ? Double.nan : (returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)).squareRoot()
        let lengthMean = s.episodeLengths.isEmpty ? Double.nan : Double(s.episodeLengths.reduce(0, +)) / Double(s.episodeLengths.count)
        let p = s.policyStep
        return [
            "iteration": "\(s.iteration)", "timesteps": "\(s.timesteps)", "wall_seconds": f(wallSeconds),
            "episode_return_mean": f(mean), "episode_length_mean": f(lengthMean), "episodes": "\(returns.count)",
            "kl": f(p.kl), "surrogate_before": f(p.surrogateBefore), "surrogate_after": f(p.surrogateAfter),
            "entropy": f(p.entropy), "explained_variance": f(s.valueFit.explainedVarianceBefore),
            "backtracks": "\(p.backtracks)", "cg_residual": f(p.cgResidual), "accepted": p.accepted ? "1" : "0",
            "episode_return_std": f(std), "episode_return_min": f(returns.min() ?? .nan),
            "episode_return_max": f(returns.max() ?? .nan), "expected_improvement": f(p.expectedImprovement),
            "actual_improvement": f(p.actualImprovement), "cg_iterations": "\(p.cgIterations)", "step_norm": f(p.stepNorm),
            "rejection": p.rejection?.rawValue ?? "", "explained_variance_after": f(s.valueFit.explainedVarianceAfter),
            "value_loss": f(s.valueFit.loss), "policy_std": f(s.policyStd), "sample_seconds": f(sampleSeconds),
            "policy_seconds": f(s.policySeconds), "value_seconds": f(s.valueSeconds), "samples": "\(s.samples)",
        ]
    }
}

/// Returns of `episodes` whole episodes of a policy, each from its own reset stream
/// (seed, [evaluation, episode]).
public func evaluatePolicy(_ policy: Policy, normalizer: RunningNormalizer?, environment: String,
                           episodes: Int, deterministic: Bool, seed: UInt64) throws -> [Double] {
    let simulator = try EnvironmentRegistry.make(environment)
    let sampler = SinglePathSampler(simulators: [simulator], policy: policy, normalizer: normalizer,
                                    seed: seed, stream: 0x6576_616C)  // "eval"
    sampler.deterministic = deterministic
    var returns: [Double] = []
    while returns.count < episodes {
        returns += sampler.collect(steps: simulator.maxEpisodeSteps).episodeReturns
    }
    return Array(returns.prefix(episodes))
}
