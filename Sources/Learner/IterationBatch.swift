import Core
import Protocol

/// One iteration's samples as the learner assembles them from workers' chunks: single-path
/// rows (``Message/Chunk``) or vine collections (``Message/VineChunk``). A run has one kind;
/// ``misfit(policy:sampling:)`` refuses the other before anything is assembled.
public enum IterationBatch: AssemblableBatch, Equatable {
    case singlePath(SampleBatch)
    case vine(VineBatch)

    /// Rows of a single-path batch, rollout-set states of a vine batch.
    public var rows: Int {
        switch self {
        case .singlePath(let batch): batch.rows
        case .vine(let batch): batch.rows
        }
    }

    /// - Precondition: both batches are of the same kind and shapes (``misfit(policy:sampling:)``
    ///   returned nil for both).
    public mutating func append(_ other: IterationBatch) {
        switch (self, other) {
        case (.singlePath(var batch), .singlePath(let more)):
            batch.append(more)
            self = .singlePath(batch)
        case (.vine(var batch), .vine(let more)):
            batch.append(more)
            self = .vine(batch)
        default:
            preconditionFailure("single-path and vine batches cannot be joined")
        }
    }

    /// What keeps a decoded chunk out of a run with `policy` and `sampling`, or nil when it
    /// fits: the sampler kind, the observation size and action width, discrete actions that
    /// are not whole numbers in `0..<count`, and a vine chunk's K and estimator (which follow
    /// from the run's settings and action space). The codec has checked everything that does
    /// not depend on the run.
    public func misfit(policy: Policy, sampling: Message.Sampling) -> String? {
        let (observationSize, actionWidth, actions): (Int, Int, [Double])
        switch (self, sampling) {
        case (.singlePath(let batch), .singlePath):
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.vine(let batch), .vine(let settings)):
            let (k, estimator) = settings.branching(for: policy.head)
            guard batch.actionsPerState == k, batch.estimator == estimator else {
                return "a vine chunk of K = \(batch.actionsPerState) (\(batch.estimator)); this run has K = \(k) (\(estimator))"
            }
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.singlePath, .vine):
            return "a single-path chunk; this run samples vine"
        case (.vine, .singlePath):
            return "a vine chunk; this run samples single-path"
        }
        let (expectedObservations, expectedWidth) = (policy.observationSize, policy.head.actionWidth)
        guard observationSize == expectedObservations, actionWidth == expectedWidth else {
            return "rows of shape \(observationSize)/\(actionWidth), expected \(expectedObservations)/\(expectedWidth)"
        }
        if case .categorical(let count) = policy.head,
           !actions.allSatisfy({ $0 >= 0 && $0 < Double(count) && $0 == $0.rounded() }) {
            return "actions outside 0..<\(count)"
        }
        return nil
    }
}

extension TrainingConfiguration {
    /// How workers sample for this run, as the parameters carry it.
    public var sampling: Message.Sampling {
        switch sampler {
        case .singlePath: .singlePath
        case .vine: .vine(vine)
        }
    }

    /// The largest and smallest chunk the learner asks workers for: single path, rows (at
    /// most ``chunkSteps``, at least 64 when a streaming batch is shared out); vine, rollout
    /// states per collection (at most N, and at most `maxRows / K` so the chunk's N·K
    /// branches pass the learner's decoder; at least 1).
    func chunkBounds(head: PolicyHead, limits: DecodingLimits) -> (maximum: Int, minimum: Int) {
        switch sampler {
        case .singlePath:
            return (chunkSteps, 64)
        case .vine:
            let k = vine.branching(for: head).actionsPerState
            return (max(1, min(vine.rolloutStates, limits.maxRows / k)), 1)
        }
    }
}

extension TrainingSession {
    /// What the next iteration's batch needs: rows (single path), or the vine's N rollout-set
    /// states (a vine iteration is one collection of N states, however many steps it costs).
    public var nextBatchRows: Int {
        configuration.sampler == .vine ? configuration.vine.rolloutStates : nextBatchSteps
    }
}
