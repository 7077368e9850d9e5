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
/// appends a `progress.csv` row, and `checkpoint.json` is rewritten atomically when the
/// ``CheckpointSchedule`` says (a loop that stops early calls ``saveCheckpoint()``). With an
/// ``EvaluationSchedule``, the policy is evaluated after the update of every N-th iteration
/// (and the last), in this process, and a new best is saved to `best/checkpoint.json`.
public struct TrainingSession {
    public let outputDirectory: URL
    public private(set) var trainer: Trainer
    private var log: ProgressLog
    /// The same rows as TensorBoard scalars (nil: not logged).
    private let tensorBoard: TensorBoardLog?
    /// When to evaluate the policy (nil: never).
    public let evaluation: EvaluationSchedule?
    /// When to rewrite `checkpoint.json`.
    public let checkpoints: CheckpointSchedule
    /// When this session last wrote `checkpoint.json` (nil: not yet).
    private var lastCheckpoint: ContinuousClock.Instant?
    /// The iteration `checkpoint.json` holds (0: a new run that has written none).
    public private(set) var checkpointedIteration: Int
    /// How `--eval-every` evaluates a run of an external environment, which this process
    /// cannot make (the Python worker package's evaluation); required for such a run with an
    /// ``evaluation`` schedule. Its evaluations run in the background (``BackgroundEvaluations``).
    public var checkpointEvaluator: CheckpointEvaluator?
    /// Told of each background evaluation as it ends (its iteration and result or failure).
    public var onBackgroundEvaluation: ((Int, Result<EvaluationResult, any Error>) -> Void)?
    private let backgroundEvaluations = BackgroundEvaluations()
    /// Progress rows held back from the oldest background evaluation still running on, in order.
    private var heldRows: [(iteration: Int, row: [String: String])] = []
    /// A background evaluation set a new best since the last checkpoint (which must record it).
    private var bestSinceCheckpoint = false
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let priorWall: Double

    /// Starts a new run in `outputDirectory` (created if needed), or resumes the run saved
    /// there when `resume` is true (then `configuration` is ignored). A new run writes
    /// `config.json` and starts `progress.csv` afresh; see ``RunDirectory`` for refusing a
    /// directory that already holds a run.
    /// - Parameters:
    ///   - tensorBoardDirectory: where to write TensorBoard event files with the same rows
    ///     (nil: none).
    ///   - evaluation: when to evaluate the policy (nil: never).
    ///   - checkpoints: when to rewrite `checkpoint.json`.
    public init(configuration: TrainingConfiguration, outputDirectory: URL, resume: Bool,
                tensorBoardDirectory: URL? = nil, evaluation: EvaluationSchedule? = nil,
                checkpoints: CheckpointSchedule = .everyIteration) throws {
        if resume {
            try self.init(resuming: try Checkpoint.load(from: outputDirectory), in: outputDirectory,
                          tensorBoardDirectory: tensorBoardDirectory, evaluation: evaluation, checkpoints: checkpoints)
            return
        }
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        try configuration.validate()
        let spaces = try configuration.environmentSpaces()
        let trainer = Trainer(configuration: configuration, observationSize: spaces.observationSize,
                              actionSpace: spaces.actionSpace)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // An external environment's unbounded action box holds ±∞, written as checkpoints write it.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try encoder.encode(configuration), to: outputDirectory.appendingPathComponent("config.json"))
        try self.init(trainer: trainer, outputDirectory: outputDirectory, resumeAfter: nil,
                      tensorBoardDirectory: tensorBoardDirectory, evaluation: evaluation, checkpoints: checkpoints)
    }

    /// Resumes the run in `outputDirectory` from `state`, its checkpoint as
    /// ``Checkpoint/load(from:)`` read it (its ``TrainingConfiguration/totalSteps`` perhaps
    /// raised to continue a finished run). `progress.csv` is cut back to the state's iteration.
    /// TensorBoard's event files get a new file whose first event discards the steps past
    /// the checkpoint. The best evaluation so far is the state's (``TrainerState/bestEvaluation``).
    public init(resuming state: TrainerState, in outputDirectory: URL, tensorBoardDirectory: URL? = nil,
                evaluation: EvaluationSchedule? = nil, checkpoints: CheckpointSchedule = .everyIteration) throws {
        try self.init(trainer: Trainer(state: state), outputDirectory: outputDirectory, resumeAfter: state.iteration,
                      tensorBoardDirectory: tensorBoardDirectory, evaluation: evaluation, checkpoints: checkpoints)
    }

    private init(trainer: Trainer, outputDirectory: URL, resumeAfter iteration: Int?, tensorBoardDirectory: URL?,
                 evaluation: EvaluationSchedule?, checkpoints: CheckpointSchedule) throws {
        self.outputDirectory = outputDirectory
        self.trainer = trainer
        self.evaluation = evaluation
        self.checkpoints = checkpoints
        checkpointedIteration = trainer.state.iteration
        log = try ProgressLog(url: outputDirectory.appendingPathComponent("progress.csv"), resumeAfter: iteration)
        // Like progress.csv's rows, kept checkpoints past the one resumed from were of iterations
        // that will be done again.
        for kept in CheckpointSchedule.keptIterations(in: outputDirectory) where kept > (iteration ?? 0) {
            try FileManager.default.removeItem(at: CheckpointSchedule.keptDirectory(iteration: kept, in: outputDirectory))
        }
        // Checkpoints a stopped process was still evaluating in the background.
        let evaluating = outputDirectory.appendingPathComponent(BackgroundEvaluations.directoryName)
        if FileManager.default.fileExists(atPath: evaluating.path) { try FileManager.default.removeItem(at: evaluating) }
        let resumedTimesteps = iteration == nil ? nil : trainer.state.timesteps
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

    /// An iteration on `batch` but for its value fit, which is handed to `startValueFit`
    /// before the policy step (``Trainer/updatePolicy(with:startValueFit:)``): the policy and
    /// observation statistics samplers need next are final when it returns. The iteration is
    /// recorded once ``completeUpdate(_:_:sampleSeconds:publishSeconds:counters:)`` has the
    /// fit's result; the caller may run the fit beside the step and sample the next batch
    /// meanwhile (``ValueFitThread``).
    /// - Returns: the iteration's statistics without the value fit's.
    public mutating func beginUpdate(with batch: AnySamples, startValueFit: (PendingValueFit) -> Void) -> IterationStatistics {
        trainer.updatePolicy(with: batch, startValueFit: startValueFit)
    }

    /// Completes the iteration ``beginUpdate(with:startValueFit:)`` began (its `statistics`)
    /// with its value fit, then appends its progress row and, when due, writes its checkpoint.
    /// - Parameters:
    ///   - sampleSeconds: seconds the iteration's batch took to collect.
    ///   - publishSeconds: seconds from the batch being complete until the next policy went
    ///     to the samplers, during which they were idle.
    public mutating func completeUpdate(_ fitted: FittedValue, _ statistics: IterationStatistics, sampleSeconds: Double,
                                        publishSeconds: Double,
                                        counters: TransportCounters = TransportCounters()) throws -> IterationStatistics {
        try record(trainer.completeUpdate(fitted, statistics), rows: statistics.simulatorSteps, sampleSeconds: sampleSeconds,
                   publishSeconds: publishSeconds, counters: counters)
    }

    /// Begins a vine iteration whose value fit (``VineBootstrap/value``) goes to
    /// `startValueFit`: ``Trainer/update(vine:startValueFit:)``. Complete it with
    /// ``completeUpdate(_:_:sampleSeconds:publishSeconds:counters:)``.
    public mutating func beginUpdate(vine batch: AnyVineSamples,
                                     startValueFit: (PendingValueFit) -> Void) throws -> IterationStatistics {
        try trainer.update(vine: batch, startValueFit: startValueFit)
    }

    /// One vine iteration, then its progress row and, when due, its checkpoint.
    public mutating func update(vine batch: AnyVineSamples, sampleSeconds: Double,
                                counters: TransportCounters = TransportCounters()) throws -> IterationStatistics {
        var statistics = try record(trainer.update(vine: batch), rows: batch.simulatorSteps, sampleSeconds: sampleSeconds,
                                    publishSeconds: .nan, counters: counters)
        statistics.samples = batch.branchCount
        return statistics
    }

    private mutating func record(_ statistics: IterationStatistics, rows: Int, sampleSeconds: Double, publishSeconds: Double,
                                 counters: TransportCounters) throws -> IterationStatistics {
        var statistics = statistics
        var evaluationSeconds = Double.nan
        var newBest = false
        var evaluatesInBackground = false
        if let evaluation, evaluation.isDue(after: statistics.iteration, finishingRun: isFinished) {
            if configuration.isExternal {
                guard let checkpointEvaluator else {
                    throw ConfigurationError(message: "--eval-every on \(configuration.environment) needs the Python evaluation")
                }
                try backgroundEvaluations.start(trainer.state, in: outputDirectory, episodes: evaluation.episodes,
                                                seed: configuration.seed, evaluator: checkpointEvaluator)
                evaluatesInBackground = true
            } else {
                let started = clock.now
                statistics.evaluation = try evaluate(episodes: evaluation.episodes)
                evaluationSeconds = (clock.now - started).seconds
            }
        }
        let wall = wallSeconds
        trainer.recordWallTime(wall)
        var row = TrainingSession.row(statistics, wallSeconds: wall, sampleSeconds: sampleSeconds)
        row["publish_seconds"] = ProgressLog.format(publishSeconds)
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
            row["vine_cut_share"] = ProgressLog.format(vine.cutShare)
            row["vine_branch_length_mean"] = ProgressLog.format(vine.meanBranchLength)
        }
        if let result = statistics.evaluation {
            newBest = try recordEvaluation(result, seconds: evaluationSeconds, of: trainer.state, in: &row)
        }
        if evaluatesInBackground || !heldRows.isEmpty {
            heldRows.append((statistics.iteration, row))
        } else {
            try log.append(row)
            try tensorBoard?.append(row)
        }
        if checkpoints.keeps(statistics.iteration) {
            let kept = CheckpointSchedule.keptDirectory(iteration: statistics.iteration, in: outputDirectory)
            try FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
            try Checkpoint.save(trainer.state, in: kept)
        }
        try takeBackgroundEvaluations(waiting: false)
        // A checkpoint never runs ahead of progress.csv (a resume cuts the log back to it).
        guard heldRows.isEmpty else { return statistics }
        newBest = newBest || bestSinceCheckpoint
        if checkpoints.isDue(secondsSinceLastSave: lastCheckpoint.map { (clock.now - $0).seconds }, finishingRun: isFinished,
                             newBest: newBest) {
            try writeCheckpoint()
        }
        return statistics
    }

    /// Writes `checkpoint.json` unless it already holds the current iteration: what a loop
    /// that stops (or finishes) calls, so no recorded iteration is lost. Background
    /// evaluations still running are waited for first, and their rows written.
    public mutating func saveCheckpoint() throws {
        try takeBackgroundEvaluations(waiting: true)
        guard checkpointedIteration != trainer.state.iteration || bestSinceCheckpoint else { return }
        try writeCheckpoint()
    }

    private mutating func writeCheckpoint() throws {
        try Checkpoint.save(trainer.state, in: outputDirectory)
        checkpointedIteration = trainer.state.iteration
        lastCheckpoint = clock.now
        bestSinceCheckpoint = false
    }

    /// Puts `result` (an evaluation of `state`, taking `seconds`) into `row`'s `eval_*` columns;
    /// a new best is recorded in the trainer and its policy saved to `best/checkpoint.json`.
    /// - Returns: whether it is a new best.
    private mutating func recordEvaluation(_ result: EvaluationResult, seconds: Double, of state: TrainerState,
                                          in row: inout [String: String]) throws -> Bool {
        row["eval_return_mean"] = ProgressLog.format(result.returnMean)
        row["eval_return_std"] = ProgressLog.format(result.returnStandardDeviation)
        row["eval_length_mean"] = ProgressLog.format(result.lengthMean)
        row["eval_episodes"] = "\(result.returns.count)"
        row["eval_seconds"] = ProgressLog.format(seconds)
        guard BestEvaluation.improves(result.returnMean, on: trainer.state.bestEvaluation) else { return false }
        let best = BestEvaluation(iteration: state.iteration, returnMean: result.returnMean)
        trainer.recordBestEvaluation(best)
        // Before the run's checkpoint, which records this best: a crash in between leaves the
        // best policy saved and the iteration to be done again.
        var saved = state
        saved.bestEvaluation = best
        let directory = outputDirectory.appendingPathComponent(RunDirectory.bestDirectoryName)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Checkpoint.save(saved, in: directory)
        return true
    }

    /// Puts the background evaluations that have ended (with `waiting`, all) into their held
    /// rows and writes the held rows up to the oldest evaluation still running.
    private mutating func takeBackgroundEvaluations(waiting: Bool) throws {
        for finished in backgroundEvaluations.takeFinished(waiting: waiting) {
            if case .success(let result) = finished.outcome,
               let index = heldRows.firstIndex(where: { $0.iteration == finished.iteration }) {
                var row = heldRows[index].row
                if try recordEvaluation(result, seconds: finished.seconds, of: finished.state, in: &row) {
                    bestSinceCheckpoint = true
                }
                heldRows[index].row = row
            }
            onBackgroundEvaluation?(finished.iteration, finished.outcome)
        }
        let limit = backgroundEvaluations.oldestPending ?? .max
        while let first = heldRows.first, first.iteration < limit {
            try log.append(first.row)
            try tensorBoard?.append(first.row)
            heldRows.removeFirst()
        }
    }

    /// The current policy's deterministic returns over `episodes` episodes on a fresh
    /// simulator, with the current observation statistics and the run seed's evaluation
    /// streams (see ``evaluatePolicy(_:normalizer:environment:modelXML:episodes:deterministic:seed:)``).
    /// Reads the trainer's state and changes nothing.
    private func evaluate(episodes: Int) throws -> EvaluationResult {
        let c = configuration
        // Only runs of built-in environments evaluate in the learner (--eval-every).
        return try evaluatePolicy(state.builtInPolicy, normalizer: trainer.samplingNormalizer, environment: c.environment,
                                  modelXML: c.modelXML, episodes: episodes, deterministic: true, seed: c.seed)
    }

    /// The progress.csv row of an iteration.
    static func row(_ s: IterationStatistics, wallSeconds: Double, sampleSeconds: Double) -> [String: String] {
        let f = ProgressLog.format
        let returns = s.episodeReturns
        // The episodes that finished in this batch, summarised as an evaluation's are.
        let episodes = EvaluationResult(returns: returns, lengths: s.episodeLengths)
        let p = s.policyStep
        return [
            "iteration": "\(s.iteration)", "timesteps": "\(s.timesteps)", "wall_seconds": f(wallSeconds),
            "episode_return_mean": f(episodes.returnMean), "episode_length_mean": f(episodes.lengthMean), "episodes": "\(returns.count)",
            "kl": f(p.kl), "surrogate_before": f(p.surrogateBefore), "surrogate_after": f(p.surrogateAfter),
            "entropy": f(p.entropy), "explained_variance": f(s.valueFit.explainedVarianceBefore),
            "backtracks": "\(p.backtracks)", "cg_residual": f(p.cgResidual), "accepted": p.accepted ? "1" : "0",
            "episode_return_std": f(episodes.returnStandardDeviation), "episode_return_min": f(returns.min() ?? .nan),
            "episode_return_max": f(returns.max() ?? .nan), "expected_improvement": f(p.expectedImprovement),
            "actual_improvement": f(p.actualImprovement), "cg_iterations": "\(p.cgIterations)", "step_norm": f(p.stepNorm),
            "rejection": p.rejection?.rawValue ?? "", "explained_variance_after": f(s.valueFit.explainedVarianceAfter),
            "value_loss": f(s.valueFit.loss), "policy_std": f(s.policyStd), "sample_seconds": f(sampleSeconds),
            "policy_seconds": f(s.policySeconds), "value_seconds": f(s.valueSeconds), "samples": "\(s.samples)",
            "max_kl": f(s.maxKL),
        ]
    }
}

/// Why a run directory cannot take a new run.
public enum RunDirectoryError: Error, CustomStringConvertible, Equatable {
    /// The directory holds a run (its checkpoint), and neither resuming nor overwriting was asked for.
    case holdsRun(path: String)
    /// Overwriting could not remove a file of the old run.
    case cannotRemove(path: String, reason: String)
    /// Another process trains the run in this directory (``RunDirectoryLock``); `pid` is the
    /// one its lock file names, when it names one.
    case inUse(path: String, pid: Int32?)
    /// The directory's lock file could not be opened or locked.
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case .holdsRun(let path):
            "\(path) already holds a run (\(Checkpoint.fileName), config.json, progress.csv); continue it with "
                + "--resume \(path), or give --overwrite to replace it"
        case .cannotRemove(let path, let reason): "cannot remove \(path) to overwrite the run: \(reason)"
        case .inUse(let path, let pid):
            "\(path) is in use by another trpo process\(pid.map { " (pid \($0))" } ?? ""): two processes would overwrite "
                + "each other's checkpoints; wait for it to end or stop it first"
        case .cannotLock(let path, let reason): "cannot lock \(path): \(reason)"
        }
    }
}

/// A run directory as a command finds it before it starts a new run there: a run's files are
/// never replaced silently. A directory holds a run once the run has checkpointed an
/// iteration; a run that ended before its first checkpoint left nothing to continue, and a
/// new run replaces its `config.json`, `progress.csv`, `tensorboard/` and `best/` (as a
/// restart after such a crash does).
public enum RunDirectory {
    /// Where a run's TensorBoard event files go unless the command names another directory.
    public static let tensorBoardDirectoryName = "tensorboard"
    /// The run's configuration as `trpo train --config` reads it, beside `config.json`.
    public static let configYAMLName = "config.yaml"
    /// Where a run evaluated during training keeps its best policy (`best/checkpoint.json`).
    public static let bestDirectoryName = "best"
    /// The files (and the TensorBoard, best-policy and kept-checkpoint directories) a ``TrainingSession``
    /// writes, and `config.yaml`.
    public static let runFiles = ["config.json", configYAMLName, "progress.csv", Checkpoint.fileName,
                                  tensorBoardDirectoryName, bestDirectoryName, CheckpointSchedule.keptDirectoryName]

    /// True when `directory` holds a run that a new one would replace: it has a checkpoint.
    public static func holdsRun(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: Checkpoint.url(in: directory).path)
    }

    /// Makes `directory` ready for a new run: one that holds a run is refused, unless
    /// `overwrite`, in which case the old run's files are removed first (so nothing of it,
    /// such as its checkpoint before the new run's first iteration, passes for the new run's).
    /// - Returns: true when an old run was removed.
    /// - Throws: ``RunDirectoryError``.
    @discardableResult
    public static func prepareNewRun(in directory: URL, overwrite: Bool) throws(RunDirectoryError) -> Bool {
        let holdsRun = holdsRun(directory)
        guard !holdsRun || overwrite else { throw .holdsRun(path: directory.path) }
        // Without a checkpoint only the event files, a best policy and kept checkpoints matter: they would survive
        // the new run's start and pass for its own.
        for file in holdsRun ? runFiles : [tensorBoardDirectoryName, bestDirectoryName, CheckpointSchedule.keptDirectoryName] {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do { try FileManager.default.removeItem(at: url) } catch {
                throw .cannotRemove(path: url.path, reason: error.localizedDescription)
            }
        }
        return holdsRun
    }
}
