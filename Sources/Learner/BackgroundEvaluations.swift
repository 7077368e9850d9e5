#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation

/// Evaluates a saved checkpoint of an external environment (`gym:ID`, `py:MODULE:FACTORY`),
/// which the learner cannot make: the Python worker package's evaluation of
/// `checkpointDirectory/checkpoint.json` over `episodes` deterministic episodes whose initial
/// states come from `seed`. Blocking; called off the learner's thread.
public typealias CheckpointEvaluator = @Sendable (_ checkpointDirectory: URL, _ episodes: Int, _ seed: UInt64) throws
    -> EvaluationResult

/// `--eval-every` for runs of external environments: each due iteration's state is written to
/// `DIR/.evaluating/iteration-N/checkpoint.json` and evaluated by a ``CheckpointEvaluator`` on a
/// serial background queue while training goes on; finished evaluations are taken in
/// iteration order (``takeFinished(waiting:)``). ``TrainingSession`` holds back the progress
/// rows from the oldest pending evaluation on, so each evaluation lands in its own iteration's
/// row.
final class BackgroundEvaluations {
    /// An evaluation that has ended, with the state it evaluated.
    struct Finished {
        var iteration: Int
        var state: TrainerState
        var outcome: Result<EvaluationResult, any Error>
        /// Wall seconds the evaluation took.
        var seconds: Double
    }

    /// The directory, inside a run's, of the checkpoints being evaluated.
    static let directoryName = ".evaluating"

    private final class Job: @unchecked Sendable {
        let iteration: Int
        let state: TrainerState
        let directory: URL
        let done = DispatchSemaphore(value: 0)
        // Written by the queue before `done` is signalled, read after waiting on it.
        var outcome: Result<EvaluationResult, any Error> = .failure(CancellationError())
        var seconds = 0.0
        var isDone = false
        let lock = NSLock()

        init(iteration: Int, state: TrainerState, directory: URL) {
            self.iteration = iteration
            self.state = state
            self.directory = directory
        }
    }

    private let queue = DispatchQueue(label: "trpo.background-evaluations")
    private var pending: [Job] = []

    /// The oldest iteration whose evaluation has not been taken (nil: none).
    var oldestPending: Int? { pending.first?.iteration }

    /// Writes `state` (of iteration `state.iteration`) under `run` and queues its evaluation.
    /// - Throws: when the checkpoint cannot be written.
    func start(_ state: TrainerState, in run: URL, episodes: Int, seed: UInt64, evaluator: @escaping CheckpointEvaluator) throws {
        let directory = run.appendingPathComponent(Self.directoryName).appendingPathComponent("iteration-\(state.iteration)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Checkpoint.save(state, in: directory)
        let job = Job(iteration: state.iteration, state: state, directory: directory)
        pending.append(job)
        queue.async {
            let started = DispatchTime.now()
            let outcome = Result { try evaluator(directory, episodes, seed) }
            // Only its own directory: the parent is the learner thread's (``takeFinished(waiting:)``),
            // which may be creating the next job's directory in it at this moment.
            try? FileManager.default.removeItem(at: directory)
            job.lock.withLock {
                job.outcome = outcome
                job.seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                job.isDone = true
            }
            job.done.signal()
        }
    }

    /// The evaluations that have ended, oldest first, up to the first still running (with
    /// `waiting`, all of them, waiting for each).
    func takeFinished(waiting: Bool) -> [Finished] {
        var finished: [Finished] = []
        while let job = pending.first {
            if waiting { job.done.wait() }
            let ended = job.lock.withLock { job.isDone ? Finished(iteration: job.iteration, state: job.state,
                                                                  outcome: job.outcome, seconds: job.seconds) : nil }
            guard let ended else { break }
            pending.removeFirst()
            finished.append(ended)
            // The parent goes once empty (rmdir refuses while a later job's checkpoint is in it).
            if pending.isEmpty { _ = rmdir(job.directory.deletingLastPathComponent().path) }
        }
        return finished
    }
}
