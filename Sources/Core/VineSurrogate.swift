import Foundation

/// Why a vine batch cannot be turned into a surrogate.
public enum VineSurrogateError: Error, Equatable, CustomStringConvertible {
    /// The batch's arrays disagree with each other or with N and K.
    case inconsistentBatch
    /// The batch's observation or action width does not match the policy.
    case shape(String)
    /// An eq. 15 batch whose actions at state `state` are not `0, 1, …, K−1`, or whose K is
    /// not the policy's number of actions.
    case notEnumerated(state: Int)
    /// The Q̂ of branch `branch` is not finite (a bootstrap value that diverged).
    case nonFiniteQValue(branch: Int)

    public var description: String {
        switch self {
        case .inconsistentBatch: "vine batch arrays disagree with each other"
        case .shape(let why): "vine batch does not fit the policy: \(why)"
        case .notEnumerated(let state): "enumerated vine batch does not list every action once at state \(state)"
        case .nonFiniteQValue(let branch): "the Q̂ of vine branch \(branch) is not finite"
        }
    }
}

/// Q̂_{n,k} − Q̄_n: each state's K values (consecutive in `qValues`) minus their mean.
public func centeredPerState(_ qValues: [Double], actionsPerState k: Int) -> [Double] {
    var centered = qValues
    for i in 0..<(qValues.count / k) {
        var mean = 0.0
        for j in 0..<k { mean += qValues[i * k + j] }
        mean /= Double(k)
        for j in 0..<k { centered[i * k + j] -= mean }
    }
    return centered
}

/// The paper's vine estimators of the surrogate (§5.2), over a rollout set of N states with
/// K branches each.
///
/// - ``VineEstimator/enumeratedActions`` (eq. 15), every action of a discrete space once:
///   L(θ) = (1/N) Σ_n Σ_k π_θ(a_k|s_n) (Q̂_{n,k} − Q̄_n).
/// - ``VineEstimator/importanceSampled`` (eq. 16), K actions drawn from π_old,
///   self-normalised importance sampling:
///   L(θ) = (1/N) Σ_n Σ_k w_{n,k} (Q̂_{n,k} − Q̄_n) / Σ_k w_{n,k},
///   w_{n,k} = π_θ(a_{n,k}|s_n) / π_old(a_{n,k}|s_n).
///
/// Q̄_n = (1/K) Σ_k Q̂_{n,k} is a per-state baseline. It does not change either estimator's
/// gradient: for eq. 15, Σ_k ∇π_θ(a_k|s) = ∇1 = 0 when all actions are enumerated (L only
/// moves by the constant (1/N) Σ_n Q̄_n); eq. 16 is invariant to shifting a state's Q̂ by a
/// constant (its self-normalisation "removes the need to use a baseline"). Subtracting it
/// keeps L near 0, so the line search compares small numbers rather than returns of
/// hundreds. No scaling is applied: the TRPO step and its line search are invariant to
/// multiplying L by a positive constant.
///
/// The gradients at θ_old (where every w is 1):
/// - eq. 15: (1/N) Σ_n Σ_k π_old(a_k|s_n) (Q̂_{n,k} − Q̄_n) ∇log π(a_k|s_n);
/// - eq. 16: (1/(N·K)) Σ_n Σ_k (Q̂_{n,k} − Q̄_n) ∇log π(a_{n,k}|s_n). Its expectation is
///   (K−1)/K times the policy gradient on the rollout-set states (Q̄_n includes the branch's
///   own Q̂); only the length differs, which the trust-region scaling removes.
///
/// The KL constraint and the Fisher matrix are measured on the N states, or on other states
/// of ρ_old given as ``constraintStates`` (the trunks', ``VineTrustRegion/trunks``).
public struct VineSurrogate<States: StateBatch>: SurrogateEstimator, Sendable {
    public let estimator: VineEstimator
    /// K: branches per state.
    public let actionsPerState: Int
    /// N states: feature vectors (`[N × observationSize]`, normalised) or frames.
    public let states: States
    /// `[N·K × actionWidth]`: each state's K actions, state after state.
    public let actions: Matrix
    /// `[N·K]`: Q̂_{n,k} − Q̄_n.
    public let centeredQValues: [Double]
    /// m states (normalised feature vectors, or frames): where the step measures the KL and
    /// the Fisher matrix (nil: on ``states``).
    public let constraintStates: States?

    // π_old, fixed by `bind`.
    private var head: PolicyHead?
    private var oldOutputs = Matrix(rows: 0, columns: 0)
    private var oldLogStd: [Double] = []
    private var oldLogProbabilities: [Double] = []

    /// A surrogate from its parts.
    /// - Parameters:
    ///   - states: N states (normalised feature vectors, or frames).
    ///   - actions: `[N·K × actionWidth]`, state after state.
    ///   - qValues: `[N·K]`: Q̂ of each branch.
    ///   - actionsPerState: K.
    ///   - estimator: eq. 15 or eq. 16.
    ///   - head: the policy's head (eq. 15 needs a categorical head with K actions, listed
    ///     `0, 1, …, K−1` at every state).
    ///   - constraintStates: m ≥ 1 states of the same kind and width as `states`: where the
    ///     step measures the KL and the Fisher matrix (nil: on `states`).
    public init(states: States, actions: Matrix, qValues: [Double], actionsPerState k: Int,
                estimator: VineEstimator, head: PolicyHead, constraintStates: States? = nil) throws(VineSurrogateError) {
        let n = states.rows
        guard k >= 1, actions.rows == n * k, qValues.count == n * k else { throw .inconsistentBatch }
        if let constraintStates {
            guard constraintStates.rows > 0, constraintStates.valuesPerState == states.valuesPerState else { throw .inconsistentBatch }
        }
        guard actions.columns == head.actionWidth else {
            throw .shape("actions of width \(actions.columns), the policy's are \(head.actionWidth)")
        }
        if estimator == .enumeratedActions {
            guard case .categorical(let count) = head, count == k else { throw .notEnumerated(state: 0) }
            for i in 0..<n {
                for j in 0..<k where actions[i * k + j, 0] != Double(j) { throw .notEnumerated(state: i) }
            }
        }
        self.estimator = estimator
        actionsPerState = k
        self.states = states
        self.actions = actions
        centeredQValues = centeredPerState(qValues, actionsPerState: k)
        self.constraintStates = constraintStates
    }

    /// N: rollout-set states.
    public var stateCount: Int { states.rows }

    public mutating func bind(head: PolicyHead, oldOutputs: Matrix, oldLogStd: [Double]) -> (surrogate: Double, isFinite: Bool) {
        self.head = head
        self.oldOutputs = oldOutputs
        self.oldLogStd = oldLogStd
        oldLogProbabilities = head.logProbabilities(outputs: repeatedRows(oldOutputs), logStd: oldLogStd, actions: actions)
        let surrogate = surrogate(outputs: oldOutputs, logStd: oldLogStd)
        return (surrogate, surrogate.isFinite && oldLogProbabilities.allFinite)
    }

    public func surrogate(outputs: Matrix, logStd: [Double]) -> Double {
        let (n, k) = (states.rows, actionsPerState)
        let logP = head!.logProbabilities(outputs: repeatedRows(outputs), logStd: logStd, actions: actions)
        var total = 0.0
        switch estimator {
        case .enumeratedActions:
            for i in 0..<(n * k) { total += exp(logP[i]) * centeredQValues[i] }
        case .importanceSampled:
            for i in 0..<n {
                // log w relative to the state's largest, so the exponentials cannot overflow.
                var largest = -Double.infinity
                for j in 0..<k { largest = max(largest, logP[i * k + j] - oldLogProbabilities[i * k + j]) }
                var weighted = 0.0, weights = 0.0
                for j in 0..<k {
                    let w = exp(logP[i * k + j] - oldLogProbabilities[i * k + j] - largest)
                    weighted += w * centeredQValues[i * k + j]
                    weights += w
                }
                total += weighted / weights
            }
        }
        return total / Double(n)
    }

    public func gradientAtOld() -> (outputs: Matrix, logStd: [Double]) {
        let (n, k) = (states.rows, actionsPerState)
        let weights: [Double]
        switch estimator {
        case .enumeratedActions:
            weights = (0..<(n * k)).map { exp(oldLogProbabilities[$0]) * centeredQValues[$0] / Double(n) }
        case .importanceSampled:
            weights = centeredQValues.map { $0 / Double(n * k) }
        }
        let d = head!.weightedLogProbabilityGradient(outputs: repeatedRows(oldOutputs), logStd: oldLogStd,
                                                     actions: actions, weights: weights)
        // Each state's K rows of output gradient add up to the state's row.
        var perState = Matrix(rows: n, columns: d.outputs.columns)
        for i in 0..<n {
            for j in 0..<k {
                for c in 0..<d.outputs.columns { perState[i, c] += d.outputs[i * k + j, c] }
            }
        }
        return (perState, d.logStd)
    }

    /// Each row of `m` (one per state) repeated K times, to line up with the branches.
    private func repeatedRows(_ m: Matrix) -> Matrix {
        let (k, w) = (actionsPerState, m.columns)
        var result = Matrix(rows: m.rows * k, columns: w)
        for i in 0..<m.rows {
            for j in 0..<k {
                for c in 0..<w { result[i * k + j, c] = m[i, c] }
            }
        }
        return result
    }
}

extension VineSurrogate where States == Matrix {
    /// The surrogate of a collected batch for a policy with head `head`.
    /// - Parameters:
    ///   - batch: a vine collection made with the policy (and normaliser) being updated.
    ///   - normalizer: the observation statistics the collection used (nil: raw inputs).
    ///   - head: the policy's head, checked against the batch.
    ///   - qValues: `[N·K]`, Q̂ of each branch (``VineBatch/qValues(gamma:cutValues:)``; nil:
    ///     the batch's un-bootstrapped branch returns, the paper's estimator).
    ///   - trustRegion: where the step measures the KL and the Fisher matrix.
    ///   - normalizedTrunks: the trunks' observations through `normalizer`, when the caller
    ///     has them already (nil: normalised here if `trustRegion` needs them).
    /// - Throws: ``VineSurrogateError`` when the batch is malformed or does not fit `head`.
    public init(_ batch: VineBatch, normalizer: RunningNormalizer?, head: PolicyHead,
                qValues: [Double]? = nil, trustRegion: VineTrustRegion = .rolloutSet,
                normalizedTrunks: Matrix? = nil) throws(VineSurrogateError) {
        guard batch.isConsistent else { throw .inconsistentBatch }
        if let normalizer, normalizer.size != batch.observationSize {
            throw .shape("\(batch.observationSize) observation values, normaliser has \(normalizer.size)")
        }
        let normalized = { (m: Matrix) in normalizer?.normalized(m) ?? m }
        var constraintStates: Matrix?
        if trustRegion == .trunks {
            guard batch.trunks.count > 0 else { throw .inconsistentBatch }
            constraintStates = normalizedTrunks ?? normalized(batch.trunks.observationMatrix)
        }
        try self.init(states: normalized(batch.observationMatrix), actions: batch.actionMatrix,
                      qValues: qValues ?? batch.branchReturns, actionsPerState: batch.actionsPerState, estimator: batch.estimator,
                      head: head, constraintStates: constraintStates)
    }

}

extension VineSurrogate where States == FrameBatch {
    /// The surrogate of a collected batch of frames of `shape` for a convolutional policy with
    /// head `head` (frames are read as `p / 255`, never standardised).
    /// - Parameters: as for a batch of feature vectors; the trunks' frames are the constraint
    ///   states with ``VineTrustRegion/trunks``.
    /// - Throws: ``VineSurrogateError`` when the batch is malformed or does not fit `head`
    ///   or `shape`.
    public init(_ batch: FrameVineBatch, shape: ImageShape, head: PolicyHead, qValues: [Double]? = nil,
                trustRegion: VineTrustRegion = .rolloutSet) throws(VineSurrogateError) {
        guard batch.isConsistent else { throw .inconsistentBatch }
        guard shape.count == batch.observationSize else {
            throw .shape("\(batch.observationSize) observation values, frames of \(shape) have \(shape.count)")
        }
        var constraintStates: FrameBatch?
        if trustRegion == .trunks {
            guard batch.trunks.count > 0 else { throw .inconsistentBatch }
            constraintStates = batch.trunks.frames(shape: shape)
        }
        try self.init(states: batch.stateFrames(shape: shape), actions: batch.actionMatrix,
                      qValues: qValues ?? batch.branchReturns, actionsPerState: batch.actionsPerState,
                      estimator: batch.estimator, head: head, constraintStates: constraintStates)
    }
}

extension StochasticPolicy {
    /// One TRPO step on a vine surrogate (eq. 15 or 16): the single-path step's machinery
    /// (reverse-mode gradient, Fisher-vector products on a `fisherSubsample` of the N
    /// rollout-set states, CG, scaling to δ, backtracking line search on the measured mean KL
    /// over the N states; the KL and the Fisher matrix on the surrogate's
    /// ``VineSurrogate/constraintStates`` instead when it has them). With few states a larger
    /// Fisher fraction than the paper's 10 % is advisable (its 10 % was of a single-path
    /// batch of many samples).
    /// - Returns: the step's diagnostics; `accepted == false` means θ is unchanged.
    public mutating func vineStep(_ surrogate: VineSurrogate<Network.Input>, configuration: TRPOConfiguration,
                                  random: inout RandomStream) -> TRPOStepReport {
        trpoStep(surrogate, configuration: configuration, random: &random)
    }
}
