/// The element type observations are stored and sent as: `Double` for feature vectors,
/// `UInt8` for frames (pixels stay one byte each from the emulator to the learner's network).
public protocol ObservationElement: Sendable, Hashable, BitwiseCopyable {}
extension Double: ObservationElement {}
extension UInt8: ObservationElement {}

/// Transitions collected with one policy version, trajectory after trajectory, with
/// observations of element type `Observation` (``SampleBatch``: `Double`; ``FrameSamples``:
/// uint8 frames).
///
/// Each trajectory's rows are contiguous and in time order, and its last row has an end
/// other than `.none`: `.terminated` at a terminal state, `.truncated` at the time limit or
/// where collection stopped mid-episode. A truncated row's next observation (needed to
/// bootstrap its value) is in ``bootstrapObservations``, in the order of
/// ``bootstrapRows``. Observations are raw (not normalised): the learner normalises them
/// with the statistics of the version that collected them.
public struct Samples<Observation: ObservationElement>: Sendable, Equatable {
    public let observationSize: Int
    public let actionWidth: Int
    /// `[count × observationSize]`, row-major.
    public var observations: [Observation] = []
    /// `[count × actionWidth]`, row-major; a discrete action is its index.
    public var actions: [Double] = []
    public var rewards: [Double] = []
    public var ends: [StepEnd] = []
    /// Rows ending `.truncated`, ascending.
    public var bootstrapRows: [Int] = []
    /// `[bootstrapRows.count × observationSize]`: s_{t+1} of each truncated row.
    public var bootstrapObservations: [Observation] = []
    /// Undiscounted returns of the episodes that finished in this batch.
    public var episodeReturns: [Double] = []
    /// Lengths (steps) of the episodes that finished in this batch.
    public var episodeLengths: [Int] = []

    /// An empty batch, with room reserved for `rows` rows (a sampler's per-copy part).
    public init(observationSize: Int, actionWidth: Int, reservingRows rows: Int = 0) {
        self.observationSize = observationSize
        self.actionWidth = actionWidth
        observations.reserveCapacity(rows * observationSize)
        actions.reserveCapacity(rows * actionWidth)
        rewards.reserveCapacity(rows)
        ends.reserveCapacity(rows)
    }

    /// Number of transitions.
    public var count: Int { rewards.count }

    /// Appends another batch's trajectories after this one's.
    public mutating func append(_ other: Samples) {
        precondition(other.observationSize == observationSize && other.actionWidth == actionWidth, "batches of different shapes")
        let offset = count
        observations += other.observations
        actions += other.actions
        rewards += other.rewards
        ends += other.ends
        bootstrapRows += other.bootstrapRows.map { $0 + offset }
        bootstrapObservations += other.bootstrapObservations
        episodeReturns += other.episodeReturns
        episodeLengths += other.episodeLengths
    }

    public var actionMatrix: Matrix { Matrix(rows: count, columns: actionWidth, storage: actions) }
}

/// Transitions with real-valued observations (feature vectors).
public typealias SampleBatch = Samples<Double>

/// Transitions with uint8 observations (frames).
public typealias FrameSamples = Samples<UInt8>

extension Samples where Observation == Double {
    public var observationMatrix: Matrix { Matrix(rows: count, columns: observationSize, storage: observations) }
    public var bootstrapObservationMatrix: Matrix {
        Matrix(rows: bootstrapRows.count, columns: observationSize, storage: bootstrapObservations)
    }
}

extension Samples where Observation == UInt8 {
    /// The observations as frames of `shape`.
    /// - Precondition: `shape.count == observationSize`.
    public func frames(shape: ImageShape) -> FrameBatch {
        precondition(shape.count == observationSize, "frames of \(shape) are not observations of \(observationSize) values")
        return FrameBatch(shape: shape, rows: count, pixels: observations)
    }

    /// The bootstrap observations as frames of `shape`.
    public func bootstrapFrames(shape: ImageShape) -> FrameBatch {
        precondition(shape.count == observationSize, "frames of \(shape) are not observations of \(observationSize) values")
        return FrameBatch(shape: shape, rows: bootstrapRows.count, pixels: bootstrapObservations)
    }
}

extension Samples {
    /// Records one transition after the last row.
    /// - Parameters:
    ///   - observation: s_t, raw, `observationSize` values; `action`: a_t, `actionWidth` values.
    ///   - end: how the trajectory goes on after this row. A `.truncated` row needs its
    ///     bootstrap observation next (``appendBootstrap(observation:)``).
    public mutating func append(observation: UnsafeBufferPointer<Observation>, action: UnsafeBufferPointer<Double>,
                                reward: Double, end: StepEnd) {
        observations.append(contentsOf: observation)
        actions.append(contentsOf: action)
        rewards.append(reward)
        ends.append(end)
    }

    /// Records s_{t+1} of the last row, which ends `.truncated`, to bootstrap its value from.
    public mutating func appendBootstrap(observation: UnsafeBufferPointer<Observation>) {
        precondition(ends.last == .truncated, "only a truncated row is bootstrapped")
        bootstrapRows.append(count - 1)
        bootstrapObservations.append(contentsOf: observation)
    }
}

/// Transitions with either kind of observation, as a chunk carries them.
public enum AnySamples: Sendable, Equatable {
    case features(SampleBatch)
    case frames(FrameSamples)

    /// Number of transitions.
    public var count: Int {
        switch self {
        case .features(let b): b.count
        case .frames(let b): b.count
        }
    }
    public var observationSize: Int {
        switch self {
        case .features(let b): b.observationSize
        case .frames(let b): b.observationSize
        }
    }
    public var actionWidth: Int {
        switch self {
        case .features(let b): b.actionWidth
        case .frames(let b): b.actionWidth
        }
    }
}
