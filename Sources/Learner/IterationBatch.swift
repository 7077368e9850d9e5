import Core
import Protocol

/// One iteration's samples as the learner assembles them from workers' chunks: single-path
/// rows (``Message/Chunk``) or vine collections (``Message/VineChunk``). A run has one kind;
/// ``misfit(policy:sampling:)`` refuses the other before anything is assembled, and chunks of
/// uint8 frames in runs of a dense policy (and feature vectors in runs of a convolutional one).
public enum IterationBatch: AssemblableBatch, Equatable {
    case singlePath(SampleBatch)
    case vine(VineBatch)
    /// Single-path rows of uint8 frames, for a convolutional policy.
    case frames(FrameSamples)
    /// A vine collection of uint8 frames, for a convolutional policy.
    case frameVine(FrameVineBatch)

    /// The batch of a decoded chunk.
    public init(_ samples: AnySamples) {
        switch samples {
        case .features(let batch): self = .singlePath(batch)
        case .frames(let batch): self = .frames(batch)
        }
    }

    /// The batch of a decoded vine chunk.
    public init(_ samples: AnyVineSamples) {
        switch samples {
        case .features(let batch): self = .vine(batch)
        case .frames(let batch): self = .frameVine(batch)
        }
    }

    /// Rows of a single-path batch, rollout-set states of a vine batch.
    public var rows: Int {
        switch self {
        case .singlePath(let batch): batch.rows
        case .vine(let batch): batch.rows
        case .frames(let batch): batch.rows
        case .frameVine(let batch): batch.rows
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
        case (.frames(var batch), .frames(let more)):
            batch.append(more)
            self = .frames(batch)
        case (.frameVine(var batch), .frameVine(let more)):
            batch.append(more)
            self = .frameVine(batch)
        default:
            preconditionFailure("batches of different kinds cannot be joined")
        }
    }

    /// What keeps a decoded chunk out of a run with `policy` and `sampling`, or nil when it
    /// fits: the sampler kind, frames for a dense policy or feature vectors for a
    /// convolutional one, the observation size and action width, discrete actions that are
    /// not whole numbers in `0..<count`, and a vine chunk's K and estimator (which follow from
    /// the run's settings and action space). The codec has checked everything that does not
    /// depend on the run.
    public func misfit(policy: AnyPolicy, sampling: Message.Sampling) -> String? {
        let (observationSize, actionWidth, actions): (Int, Int, [Double])
        let takesFrames = if case .convolutional = policy { true } else { false }
        switch self {
        case .frames where !takesFrames, .frameVine where !takesFrames: return "uint8 frames; this run's policy takes feature vectors"
        case .singlePath where takesFrames, .vine where takesFrames: return "feature vectors; this run's policy takes uint8 frames"
        default: break
        }
        switch (self, sampling) {
        case (.singlePath(let batch), .singlePath):
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.frames(let batch), .singlePath):
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.vine(let batch), .vine(let settings)):
            if let misfit = Self.branchingMisfit(batch, settings, policy.head) { return misfit }
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.frameVine(let batch), .vine(let settings)):
            if let misfit = Self.branchingMisfit(batch, settings, policy.head) { return misfit }
            (observationSize, actionWidth, actions) = (batch.observationSize, batch.actionWidth, batch.actions)
        case (.singlePath, .vine), (.frames, .vine):
            return "a single-path chunk; this run samples vine"
        case (.vine, .singlePath), (.frameVine, .singlePath):
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

extension IterationBatch {
    /// A vine collection's K and estimator against the run's (they follow from its settings
    /// and action space), or nil when they agree.
    static func branchingMisfit<Observation>(_ batch: VineSamples<Observation>, _ settings: VineSettings,
                                             _ head: PolicyHead) -> String? {
        let (k, estimator) = settings.branching(for: head)
        guard batch.actionsPerState != k || batch.estimator != estimator else { return nil }
        return "a vine chunk of K = \(batch.actionsPerState) (\(batch.estimator)); this run has K = \(k) (\(estimator))"
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
