// Vine sampling (Schulman et al. 2015, §5.2 and App. E), the data side:
//
//   1. trunks: trajectories of π_old from s₀ ∼ ρ₀;
//   2. the rollout set: N states drawn uniformly from the trunks' states;
//   3. from each state s_n, K actions a_{n,k}; each branch takes a_{n,k}, then follows π_old
//      for up to T − 1 more steps; Q̂(s_n, a_{n,k}) is its discounted reward sum, completed
//      with γᴸ V(s_L) when the branch was cut rather than terminated (``VineBootstrap``);
//   4. the learner maximises eq. 15 (all actions of a small discrete space) or eq. 16
//      (self-normalised importance sampling) over the rollout set (see `VineSurrogate`).
//
// This file holds the settings and the batch a collection produces; the sampler lives in the
// Worker module, the estimators in VineSurrogate.swift.

import Foundation

/// The sampling scheme of a run: single-path trajectories (§5.1) or the vine (§5.2). The raw
/// values are the command line's spellings (`--sampler single-path|vine`).
public enum SamplerKind: String, Sendable, Codable, CaseIterable {
    case singlePath = "single-path"
    case vine
}

/// Which of the paper's vine estimators a batch is for; it follows from how the K actions
/// of each state were chosen.
public enum VineEstimator: UInt8, Sendable, Codable, Hashable {
    /// Eq. 15: every action of a discrete space once, L_n(θ) = Σ_k π_θ(a_k|s_n) Q̂(s_n, a_k).
    /// The paper's choice for small discrete spaces (one rollout per action).
    case enumeratedActions = 0
    /// Eq. 16: K actions drawn from π_old(·|s_n), self-normalised importance sampling,
    /// L_n(θ) = Σ_k w_k Q̂_{n,k} / Σ_k w_k with w_k = π_θ(a_{n,k}|s_n) / π_old(a_{n,k}|s_n).
    /// Used for continuous spaces (the paper's q = π_old) and for discrete spaces with more
    /// actions than K.
    case importanceSampled = 1
}

/// Settings of a vine collection. The defaults are the paper's Hopper/Walker column of
/// Table 2 (App. E): trunks of 1000 steps, K = 4 rollouts per state, rollouts of T = 100
/// steps, 2500 Q-values per batch (N = 625 states), γ = 0.99, common random numbers on.
public struct VineSettings: Sendable, Codable, Equatable {
    /// Steps each simulator copy runs its trunk for (episodes that end inside a trunk are
    /// reset and the trunk continues).
    public var trunkSteps: Int = 1000
    /// N: states in the rollout set, drawn uniformly without replacement from the
    /// `simulators × trunkSteps` trunk states of one collection.
    public var rolloutStates: Int = 625
    /// K: actions (branches) per rollout-set state. A discrete space with at most K actions
    /// gets each action once instead (K becomes the action count).
    public var actionsPerState: Int = 4
    /// T: the most steps a branch takes, its first action included.
    public var rolloutLength: Int = 100
    /// γ: the discount of Q̂ within a branch.
    public var gamma: Double = 0.99
    /// Common random numbers: every branch from one state draws its continuation noise from
    /// the same stream, so the K branches differ only through their first action.
    public var commonRandomNumbers: Bool = true

    public init() {}

    public init(trunkSteps: Int, rolloutStates: Int, actionsPerState: Int, rolloutLength: Int,
                gamma: Double, commonRandomNumbers: Bool = true) {
        self.trunkSteps = trunkSteps
        self.rolloutStates = rolloutStates
        self.actionsPerState = actionsPerState
        self.rolloutLength = rolloutLength
        self.gamma = gamma
        self.commonRandomNumbers = commonRandomNumbers
    }

    /// What is wrong with these settings for `simulatorCount` copies, or nil when they can
    /// be collected.
    public func problem(simulatorCount: Int) -> String? {
        if trunkSteps < 1 { return "vine trunk steps must be at least 1, got \(trunkSteps)" }
        if rolloutStates < 1 { return "vine rollout states must be at least 1, got \(rolloutStates)" }
        if actionsPerState < 2 {
            return "vine needs at least 2 actions per state (the estimators compare actions), got \(actionsPerState)"
        }
        if rolloutLength < 1 { return "vine rollout length must be at least 1, got \(rolloutLength)" }
        if !(gamma >= 0 && gamma <= 1) { return "vine gamma must be in [0, 1], got \(gamma)" }
        if simulatorCount < 1 { return "vine sampling needs at least one simulator" }
        if rolloutStates > simulatorCount * trunkSteps {
            return "vine rollout set of \(rolloutStates) states exceeds the \(simulatorCount * trunkSteps) trunk states"
        }
        return nil
    }

    /// The number of branches per state and the estimator for an action space: every action
    /// once for a discrete space with at most ``actionsPerState`` actions (eq. 15), otherwise
    /// ``actionsPerState`` draws from π_old (eq. 16).
    public func branching(for space: ActionSpace) -> (actionsPerState: Int, estimator: VineEstimator) {
        branching(for: PolicyHead(space))
    }

    /// ``branching(for:)-(ActionSpace)`` for a policy with this head (a categorical head of
    /// n actions stands for a discrete space of n actions).
    public func branching(for head: PolicyHead) -> (actionsPerState: Int, estimator: VineEstimator) {
        if case .categorical(let count) = head, count <= actionsPerState {
            return (count, .enumeratedActions)
        }
        return (actionsPerState, .importanceSampled)
    }
}

/// How the learner completes the Q̂ of a branch that was cut before the episode ended (by
/// the branch length T or by the environment's time limit). The raw values are the command
/// line's spellings (`--vine-bootstrap none|value`).
public enum VineBootstrap: String, Sendable, Codable, CaseIterable {
    /// The paper's estimator: Q̂ is the discounted sum of the branch's rewards, nothing beyond.
    case none
    /// Q̂ = Σ_{t<L} γᵗ r_t + γᴸ V(s_L) for a cut branch, with the learner's value function as
    /// it was when the batch was collected; a branch that terminated is not bootstrapped.
    case value
}

/// Where the vine's step measures its KL constraint and Fisher matrix; the command line's
/// spellings (`--vine-kl-states rollout-set|trunks`).
public enum VineTrustRegion: String, Sendable, Codable, CaseIterable {
    /// The N rollout-set states, where the surrogate is estimated (the paper's choice).
    case rolloutSet = "rollout-set"
    /// Every trunk state: the states the rollout set was drawn from, a sample of ρ_old many
    /// times larger, so the constraint also holds where no branch was run.
    case trunks
}

/// What one or more vine collections produce for the learner: the trunks, the rollout-set
/// states, K actions per state and what each branch returned.
///
/// Row n of ``observations`` is state s_n; rows `n·K ..< (n+1)·K` of ``actions``,
/// ``branchReturns``, ``branchLengths``, ``branchEnds`` and ``oldLogProbabilities`` are its
/// branches, in branch order k. For ``VineEstimator/enumeratedActions`` the actions of every
/// state are `0, 1, …, K−1`.
///
/// A branch takes a_{n,k}, then follows π_old, for L ≤ T steps. It ends `.terminated` at a
/// terminal state (no value beyond it) or `.truncated` when it was *cut*: by T, or by the
/// environment's time limit (the snapshot carries the step count). Its ``branchReturns``
/// entry is the un-bootstrapped Σ_{t<L} γᵗ r_t; the end observation s_L of each cut branch is
/// in ``cutObservations``, so the learner can complete Q̂ with a value function
/// (``qValues(gamma:cutValues:)``). The paper's estimator uses the plain sums.
///
/// The trunks are kept whole, as single-path trajectories (``trunks``, one per simulator
/// copy, episodes that end inside a trunk reset and continue it), so the learner can fit its
/// value function on them the way single path does.
///
/// Observations are raw (not normalised), like ``SampleBatch``'s; the learner normalises them
/// with the statistics of the version that collected them. The rollout-set states are a
/// uniform sample of the trunks' states, so they can also update the observation normaliser.
public struct VineSamples<Observation: ObservationElement>: Sendable, Equatable {
    public let observationSize: Int
    public let actionWidth: Int
    /// K: branches per state.
    public let actionsPerState: Int
    public let estimator: VineEstimator
    /// `[N × observationSize]`: the rollout-set states, raw.
    public var observations: [Observation] = []
    /// `[N·K × actionWidth]`: the first action of each branch (unclipped; a discrete action
    /// is its index).
    public var actions: [Double] = []
    /// `[N·K]`: Σ_{t<L} γᵗ r_t of each branch, un-bootstrapped (γ: the settings' `gamma`).
    public var branchReturns: [Double] = []
    /// `[N·K]`: L, the steps each branch took (its first included), ≥ 1.
    public var branchLengths: [Int] = []
    /// `[N·K]`: `.terminated` or `.truncated` (cut by T or by the time limit).
    public var branchEnds: [StepEnd] = []
    /// `[cutCount × observationSize]`: s_L of each branch that ends `.truncated`, in branch
    /// order, raw.
    public var cutObservations: [Observation] = []
    /// `[N·K]`: log π_old(a_{n,k} | s_n), computed by the worker in double precision (the
    /// learner recomputes them; these are for diagnostics).
    public var oldLogProbabilities: [Double] = []
    /// The trunks, copy after copy: every trunk step is a row; a trunk cut by its end (or an
    /// episode by its time limit) ends `.truncated` with its bootstrap observation. Its
    /// ``Samples/episodeReturns`` are the trunk episodes that finished.
    public var trunks: Samples<Observation>

    public init(observationSize: Int, actionWidth: Int, actionsPerState: Int, estimator: VineEstimator) {
        precondition(observationSize > 0 && actionWidth > 0 && actionsPerState > 0, "a vine batch needs positive sizes")
        self.observationSize = observationSize
        self.actionWidth = actionWidth
        self.actionsPerState = actionsPerState
        self.estimator = estimator
        trunks = Samples(observationSize: observationSize, actionWidth: actionWidth)
    }

    /// N: rollout-set states.
    public var stateCount: Int { observations.count / observationSize }
    /// N·K: branches.
    public var branchCount: Int { branchReturns.count }
    /// Branches cut by T or by the time limit (ending `.truncated`).
    public var cutCount: Int { branchEnds.count(where: { $0 == .truncated }) }
    /// Simulator steps spent on trunks: their rows.
    public var trunkSteps: Int { trunks.count }
    /// Simulator steps spent on branches (their first steps included): Σ L.
    public var branchSteps: Int { branchLengths.reduce(0, +) }
    /// Every simulator step the collection took: trunks plus branches.
    public var simulatorSteps: Int { trunkSteps + branchSteps }
    /// Undiscounted returns of the trunk episodes that finished within the collection.
    public var episodeReturns: [Double] { trunks.episodeReturns }
    /// Lengths (steps) of those episodes.
    public var episodeLengths: [Int] { trunks.episodeLengths }

    /// True when the arrays agree with each other and with N and K (a decoded batch may
    /// violate this; a collected one cannot). The trunks' own consistency is the codec's
    /// (single-path) rules.
    public var isConsistent: Bool {
        let n = stateCount
        let branches = n * actionsPerState
        return observations.count == n * observationSize && actions.count == branches * actionWidth
            && branchReturns.count == branches && oldLogProbabilities.count == branches
            && branchLengths.count == branches && branchEnds.count == branches
            && branchLengths.allSatisfy { $0 >= 1 } && branchEnds.allSatisfy { $0 != .none }
            && cutObservations.count == cutCount * observationSize
            && trunks.observationSize == observationSize && trunks.actionWidth == actionWidth
    }

    /// Appends another batch's states (and trunks) after this one's.
    /// - Precondition: both batches have the same shapes, K and estimator.
    public mutating func append(_ other: VineSamples) {
        precondition(other.observationSize == observationSize && other.actionWidth == actionWidth
                     && other.actionsPerState == actionsPerState && other.estimator == estimator,
                     "vine batches of different shapes")
        observations += other.observations
        actions += other.actions
        branchReturns += other.branchReturns
        branchLengths += other.branchLengths
        branchEnds += other.branchEnds
        cutObservations += other.cutObservations
        oldLogProbabilities += other.oldLogProbabilities
        trunks.append(other.trunks)
    }

    public var actionMatrix: Matrix { Matrix(rows: branchCount, columns: actionWidth, storage: actions) }

    /// Q̂ of every branch: its return, plus γᴸ V(s_L) when it was cut and `cutValues` is given.
    /// - Parameters:
    ///   - gamma: the γ the branch returns were summed with.
    ///   - cutValues: V(s_L) of each cut branch, in the order of ``cutObservations`` (nil:
    ///     the paper's estimator, the returns as they are).
    /// - Returns: `[N·K]`.
    /// - Throws: ``VineSurrogateError/inconsistentBatch`` when `cutValues` does not have one
    ///   value per cut branch, ``VineSurrogateError/nonFiniteQValue(branch:)`` when a Q̂ is
    ///   not finite (a diverged value function).
    public func qValues(gamma: Double, cutValues: [Double]?) throws(VineSurrogateError) -> [Double] {
        guard let cutValues else { return branchReturns }
        guard cutValues.count == cutCount, branchLengths.count == branchCount, branchEnds.count == branchCount
        else { throw .inconsistentBatch }
        var q = branchReturns
        var cut = 0
        for b in q.indices where branchEnds[b] == .truncated {
            q[b] += pow(gamma, Double(branchLengths[b])) * cutValues[cut]
            cut += 1
            guard q[b].isFinite else { throw .nonFiniteQValue(branch: b) }
        }
        return q
    }
}

/// A vine collection of feature vectors.
public typealias VineBatch = VineSamples<Double>

/// A vine collection of uint8 frames (Atari), for a convolutional policy.
public typealias FrameVineBatch = VineSamples<UInt8>

extension VineSamples where Observation == Double {
    public var observationMatrix: Matrix { Matrix(rows: stateCount, columns: observationSize, storage: observations) }
    /// `[cutCount × observationSize]`: ``cutObservations`` as a matrix.
    public var cutObservationMatrix: Matrix { Matrix(rows: cutCount, columns: observationSize, storage: cutObservations) }
}

extension VineSamples where Observation == UInt8 {
    /// The rollout-set states as frames of `shape`.
    /// - Precondition: `shape.count == observationSize`.
    public func stateFrames(shape: ImageShape) -> FrameBatch {
        precondition(shape.count == observationSize, "frames of \(shape) are not observations of \(observationSize) values")
        return FrameBatch(shape: shape, rows: stateCount, pixels: observations)
    }

    /// The cut branches' end observations as frames of `shape`.
    public func cutFrames(shape: ImageShape) -> FrameBatch {
        precondition(shape.count == observationSize, "frames of \(shape) are not observations of \(observationSize) values")
        return FrameBatch(shape: shape, rows: cutCount, pixels: cutObservations)
    }
}

/// A vine collection of either kind of observation, as a vine chunk carries it.
public enum AnyVineSamples: Sendable, Equatable {
    case features(VineBatch)
    case frames(FrameVineBatch)

    /// N: rollout-set states.
    public var stateCount: Int {
        switch self {
        case .features(let b): b.stateCount
        case .frames(let b): b.stateCount
        }
    }
    /// N·K: branches.
    public var branchCount: Int {
        switch self {
        case .features(let b): b.branchCount
        case .frames(let b): b.branchCount
        }
    }
    /// Every simulator step the collection took: trunks plus branches.
    public var simulatorSteps: Int {
        switch self {
        case .features(let b): b.simulatorSteps
        case .frames(let b): b.simulatorSteps
        }
    }
}
