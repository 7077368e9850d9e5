// Vine sampling (Schulman et al. 2015, §5.2 and App. E), the data side:
//
//   1. trunks: trajectories of π_old from s₀ ∼ ρ₀;
//   2. the rollout set: N states drawn uniformly from the trunks' states;
//   3. from each state s_n, K actions a_{n,k}; each branch takes a_{n,k}, then follows π_old
//      for up to T − 1 more steps; Q̂(s_n, a_{n,k}) is its discounted reward sum;
//   4. the learner maximises eq. 15 (all actions of a small discrete space) or eq. 16
//      (self-normalised importance sampling) over the rollout set (see `VineSurrogate`).
//
// This file holds the settings and the batch a collection produces; the sampler lives in the
// Worker module, the estimators in VineSurrogate.swift.

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

/// What one or more vine collections produce for the learner: the rollout-set states, K
/// actions per state and the Q̂ estimate of each branch.
///
/// Row n of ``observations`` is state s_n; rows `n·K ..< (n+1)·K` of ``actions``,
/// ``qValues`` and ``oldLogProbabilities`` are its branches, in branch order k. For
/// ``VineEstimator/enumeratedActions`` the actions of every state are `0, 1, …, K−1`.
///
/// Q̂(s_n, a_{n,k}) = Σ_{t<L} γᵗ r_t over the branch's L ≤ T steps: the first step takes
/// a_{n,k}, the rest follow π_old. A branch stops early at termination (no value beyond a
/// terminal state) and at the environment's time limit (the snapshot carries the step count).
/// Nothing is bootstrapped when a branch is cut by T or by the time limit: the worker has no
/// value function, and the paper uses plain T-step discounted sums. Cuts by the time limit
/// hit all K branches of a state alike unless one terminates first, so they mostly cancel
/// in the estimators' per-state comparison of actions.
///
/// Observations are raw (not normalised), like ``SampleBatch``'s; the learner normalises them
/// with the statistics of the version that collected them. They are a uniform sample of the
/// trunks' states, so they can also update the observation normaliser.
public struct VineBatch: Sendable, Equatable {
    public let observationSize: Int
    public let actionWidth: Int
    /// K: branches per state.
    public let actionsPerState: Int
    public let estimator: VineEstimator
    /// `[N × observationSize]`: the rollout-set states, raw.
    public var observations: [Double] = []
    /// `[N·K × actionWidth]`: the first action of each branch (unclipped; a discrete action
    /// is its index).
    public var actions: [Double] = []
    /// `[N·K]`: Q̂ of each branch.
    public var qValues: [Double] = []
    /// `[N·K]`: log π_old(a_{n,k} | s_n), computed by the worker in double precision (the
    /// learner recomputes them; these are for diagnostics).
    public var oldLogProbabilities: [Double] = []
    /// Simulator steps spent on trunks.
    public var trunkSteps = 0
    /// Simulator steps spent on branches (their first steps included).
    public var branchSteps = 0
    /// Undiscounted returns of the trunk episodes that finished within the collection.
    public var episodeReturns: [Double] = []
    /// Lengths (steps) of those episodes.
    public var episodeLengths: [Int] = []

    public init(observationSize: Int, actionWidth: Int, actionsPerState: Int, estimator: VineEstimator) {
        precondition(observationSize > 0 && actionWidth > 0 && actionsPerState > 0, "a vine batch needs positive sizes")
        self.observationSize = observationSize
        self.actionWidth = actionWidth
        self.actionsPerState = actionsPerState
        self.estimator = estimator
    }

    /// N: rollout-set states.
    public var stateCount: Int { observations.count / observationSize }
    /// N·K: branches.
    public var branchCount: Int { qValues.count }
    /// Every simulator step the collection took: trunks plus branches.
    public var simulatorSteps: Int { trunkSteps + branchSteps }

    /// True when the arrays agree with each other and with N and K (a decoded batch may
    /// violate this; a collected one cannot).
    public var isConsistent: Bool {
        let n = stateCount
        return observations.count == n * observationSize && actions.count == n * actionsPerState * actionWidth
            && qValues.count == n * actionsPerState && oldLogProbabilities.count == qValues.count
            && episodeReturns.count == episodeLengths.count && trunkSteps >= 0 && branchSteps >= 0
    }

    /// Appends another batch's states after this one's.
    /// - Precondition: both batches have the same shapes, K and estimator.
    public mutating func append(_ other: VineBatch) {
        precondition(other.observationSize == observationSize && other.actionWidth == actionWidth
                     && other.actionsPerState == actionsPerState && other.estimator == estimator,
                     "vine batches of different shapes")
        observations += other.observations
        actions += other.actions
        qValues += other.qValues
        oldLogProbabilities += other.oldLogProbabilities
        trunkSteps += other.trunkSteps
        branchSteps += other.branchSteps
        episodeReturns += other.episodeReturns
        episodeLengths += other.episodeLengths
    }

    public var observationMatrix: Matrix { Matrix(rows: stateCount, columns: observationSize, storage: observations) }
    public var actionMatrix: Matrix { Matrix(rows: branchCount, columns: actionWidth, storage: actions) }
}
