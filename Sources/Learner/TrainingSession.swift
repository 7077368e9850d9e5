import Core
import Foundation
import Simulators

/// Counters of the distributed path, reported in `progress.csv` (zero in a single process).
public struct TransportCounters: Sendable, Equatable {
    public var workersAlive = 0
    /// Rows dropped because they were collected with an older version (or arrived after the
    /// batch was complete).
    public var staleSamplesDropped = 0
    /// Messages refused: undecodable, from unknown peers, wrong environment or shape, …
    public var rejectedMessages = 0
    public var bytesReceived = 0
    /// Connections refused by CURVE: keys not on the allow-list, peers without CURVE or with
    /// the wrong learner key. Every attempt counts (a retrying peer counts again).
    public var refusedConnections = 0
    public init() {}
}

/// A run directory and the trainer it checkpoints: what the single-process loop and the
/// learner service share. Starting writes `config.json`; every ``update(with:sampleSeconds:counters:)``
/// appends a `progress.csv` row and rewrites `checkpoint.json` atomically.
public struct TrainingSession {
    public let outputDirectory: URL
    public private(set) var trainer: Trainer
    private var log: ProgressLog
    /// The same rows as TensorBoard scalars (nil: not logged).
    private let tensorBoard: TensorBoardLog?
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let priorWall: Double

    /// Starts a new run in `outputDirectory` (created if needed), or resumes the run saved
    /// there when `resume` is true (then `configuration` is ignored).
    /// - Parameter tensorBoardDirectory: where to write TensorBoard event files beside
    ///   progress.csv (nil: none).
    public init(configuration: TrainingConfiguration, outputDirectory: URL, resume: Bool,
                tensorBoardDirectory: URL? = nil) throws {
        self.outputDirectory = outputDirectory
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        if resume {
            trainer = Trainer(state: try Checkpoint.load(from: outputDirectory))
        } else {
            try configuration.validate()
            let probe = try EnvironmentRegistry.make(configuration.environment, modelXML: configuration.modelXML)
            trainer = Trainer(configuration: configuration, observationSize: probe.observationSpace.count,
                              actionSpace: probe.actionSpace)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(configuration), to: outputDirectory.appendingPathComponent("config.json"))
        }
        log = try ProgressLog(url: outputDirectory.appendingPathComponent("progress.csv"),
                              resumeAfter: resume ? trainer.state.iteration : nil)
        let resumedTimesteps = resume ? trainer.state.timesteps : nil
        tensorBoard = try tensorBoardDirectory.map { try TensorBoardLog(directory: $0, resumingAfter: resumedTimesteps) }
        started = clock.now
        priorWall = trainer.state.wallSeconds
    }

    public var state: TrainerState { trainer.state }
    public var configuration: TrainingConfiguration { trainer.state.configuration }
    /// True once the step budget is spent.
    public var isFinished: Bool { state.timesteps >= configuration.totalSteps }
    /// Rows the next batch needs.
    public var nextBatchSteps: Int { min(configuration.batchSteps, configuration.totalSteps - state.timesteps) }
    /// Wall seconds of the run so far, across resumes.
    public var wallSeconds: Double { priorWall + (clock.now - started).seconds }

    /// One iteration on `batch`, then its progress row and checkpoint.
    public mutating func update(with batch: SampleBatch, sampleSeconds: Double,
                                counters: TransportCounters = TransportCounters()) throws -> IterationStatistics {
        try record(trainer.update(with: batch), rows: batch.count, sampleSeconds: sampleSeconds, counters: counters)
    }

    /// One vine iteration, then its progress row and checkpoint.
    public mutating func update(vine batch: VineBatch, sampleSeconds: Double,
                                counters: TransportCounters = TransportCounters()) throws -> IterationStatistics {
        var statistics = try record(trainer.update(vine: batch), rows: batch.simulatorSteps, sampleSeconds: sampleSeconds,
                                    counters: counters)
        statistics.samples = batch.branchCount
        return statistics
    }

    private mutating func record(_ statistics: IterationStatistics, rows: Int, sampleSeconds: Double,
                                 counters: TransportCounters) throws -> IterationStatistics {
        let wall = wallSeconds
        trainer.recordWallTime(wall)
        var row = TrainingSession.row(statistics, wallSeconds: wall, sampleSeconds: sampleSeconds)
        row["workers_alive"] = "\(counters.workersAlive)"
        row["samples_per_second"] = ProgressLog.format(sampleSeconds > 0 ? Double(rows) / sampleSeconds : .nan)
        row["stale_samples_dropped"] = "\(counters.staleSamplesDropped)"
        row["rejected_messages"] = "\(counters.rejectedMessages)"
        row["bytes_received"] = "\(counters.bytesReceived)"
        row["refused_connections"] = "\(counters.refusedConnections)"
        if let vine = statistics.vine {
            row["vine_states"] = "\(vine.states)"
            row["vine_branches"] = "\(vine.branches)"
            row["vine_branch_steps"] = "\(vine.branchSteps)"
            row["vine_q_spread"] = ProgressLog.format(vine.qSpread)
        }
        try log.append(row)
        try tensorBoard?.append(row)
        try Checkpoint.save(trainer.state, in: outputDirectory)
        return statistics
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
