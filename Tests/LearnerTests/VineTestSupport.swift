import Core
import Foundation

// Test doubles for the vine sampler: a recording wrapper around any simulator, and two tiny
// resettable MDPs whose exact policy gradients have closed forms.

/// Wraps a simulator and records what the sampler does with it: trunk resets (with a copy of
/// the stream) and steps, and every branch (the state restored, its first action, the states
/// and rewards that followed). Optionally replaces the first action after every restore, so
/// that all K branches of a state start alike and differ only through their noise.
final class RecordingSimulator: Simulator {
    enum TrunkEvent {
        /// A reset with (a copy of) the stream it was given, and the state it produced.
        case reset(RandomStream, state: [Double])
        case step(action: [Double], state: [Double], reward: Double)
    }
    struct Branch {
        var restoredState: [Double]
        var restoredObservation: [Double]
        var firstAction: [Double] = []
        var states: [[Double]] = []
        var rewards: [Double] = []
        var outcomes: [StepOutcome] = []
    }

    let base: any Simulator
    var firstActionAfterRestore: [Double]?
    private(set) var trunk: [TrunkEvent] = []
    private(set) var branches: [Branch] = []
    private(set) var steps = 0
    private var inBranch = false

    init(_ base: any Simulator) { self.base = base }

    var id: String { base.id }
    var observationSpace: BoxSpace { base.observationSpace }
    var actionSpace: ActionSpace { base.actionSpace }
    var maxEpisodeSteps: Int { base.maxEpisodeSteps }
    var elapsedSteps: Int { base.elapsedSteps }
    var state: [Double] { base.state }

    func reset(using random: inout RandomStream) {
        let copy = random
        base.reset(using: &random)
        trunk.append(.reset(copy, state: base.state))
        inBranch = false
    }

    func observe(into observation: UnsafeMutableBufferPointer<Double>) { base.observe(into: observation) }

    func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        steps += 1
        var applied = Array(action)
        if inBranch && branches[branches.count - 1].states.isEmpty {
            branches[branches.count - 1].firstAction = applied
            if let replacement = firstActionAfterRestore { applied = replacement }
        }
        let outcome = base.step(applied)
        if inBranch {
            branches[branches.count - 1].states.append(base.state)
            branches[branches.count - 1].rewards.append(outcome.reward)
            branches[branches.count - 1].outcomes.append(outcome)
        } else {
            trunk.append(.step(action: applied, state: base.state, reward: outcome.reward))
        }
        return outcome
    }

    func setState(_ state: [Double]) throws(SimulatorError) { try base.setState(state) }
    func snapshot() -> SimulatorSnapshot { base.snapshot() }

    func restore(_ snapshot: SimulatorSnapshot) {
        base.restore(snapshot)
        inBranch = true
        branches.append(Branch(restoredState: base.state, restoredObservation: base.observation()))
    }
}

/// The (n, k) of each recorded branch, matched by content: the restored observation is row n
/// of the batch and the first action is one of row n's K actions (each used once).
func matchBranches(_ branches: [RecordingSimulator.Branch], to batch: VineBatch) -> [(n: Int, k: Int)]? {
    let (k, obs, width) = (batch.actionsPerState, batch.observationSize, batch.actionWidth)
    var used = Set<Int>()
    var result: [(n: Int, k: Int)] = []
    for branch in branches {
        var found: (Int, Int)?
        search: for n in 0..<batch.stateCount
        where Array(batch.observations[(n * obs)..<((n + 1) * obs)]).map(\.bitPattern) == branch.restoredObservation.map(\.bitPattern) {
            for j in 0..<k where !used.contains(n * k + j) {
                let b = n * k + j
                if Array(batch.actions[(b * width)..<((b + 1) * width)]).map(\.bitPattern) == branch.firstAction.map(\.bitPattern) {
                    found = (n, j)
                    break search
                }
            }
        }
        guard let (n, j) = found else { return nil }
        used.insert(n * k + j)
        result.append((n, j))
    }
    return result
}

/// Σ_t γᵗ r_t, accumulated as the definition reads.
func discountedSum(_ rewards: [Double], gamma: Double) -> Double {
    var total = 0.0
    for (t, r) in rewards.enumerated() { total += pow(gamma, Double(t)) * r }
    return total
}

// MARK: - Tiny MDPs

/// A three-state, three-action MDP with horizon H = 3: the action names the next state,
/// reward R[s][a], s₀ = 0, 1, 2 with probabilities 0.3, 0.4, 0.3, termination after exactly
/// H steps. Observation: one-hot state and t/H (so the policy can be time dependent).
final class ChainMDP: Simulator {
    static let horizon = 3
    static let rewards: [[Double]] = [[1, 0, 2], [0, 3, -1], [2, -2, 0.5]]
    static let initial: [Double] = [0.3, 0.4, 0.3]

    let id = "ChainMDP"
    let observationSpace = BoxSpace(low: [0, 0, 0, 0], high: [1, 1, 1, 1])
    let actionSpace = ActionSpace.discrete(count: 3)
    let maxEpisodeSteps = 100
    private(set) var elapsedSteps = 0
    private var s = 0

    func reset(using random: inout RandomStream) {
        let u = random.uniform()
        s = u < 0.3 ? 0 : u < 0.7 ? 1 : 2
        elapsedSteps = 0
    }

    static func observation(state: Int, time: Int) -> [Double] {
        [state == 0 ? 1 : 0, state == 1 ? 1 : 0, state == 2 ? 1 : 0, Double(time) / Double(horizon)]
    }

    func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        for (j, v) in Self.observation(state: s, time: elapsedSteps).enumerated() { observation[j] = v }
    }

    func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let a = Int(action[0])
        let reward = Self.rewards[s][a]
        s = a
        elapsedSteps += 1
        return StepOutcome(reward: reward, terminated: elapsedSteps == Self.horizon, truncated: false)
    }

    var state: [Double] { [Double(s)] }
    func setState(_ state: [Double]) throws(SimulatorError) { s = Int(state[0]); elapsedSteps = 0 }
    func snapshot() -> SimulatorSnapshot { SimulatorSnapshot(values: [Double(s)], elapsedSteps: elapsedSteps) }
    func restore(_ snapshot: SimulatorSnapshot) { s = Int(snapshot.values[0]); elapsedSteps = snapshot.elapsedSteps }

    /// J(θ) = E[Σ_t r_t] by dynamic programming over (t, s), with π from the policy's
    /// double-precision forward pass.
    static func exactReturn(_ policy: Policy) -> Double {
        zip(initial, exactValues(policy)[0]).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// V^π_t(s) = E[Σ_{u≥t} r_u | s_t = s] (γ = 1) for t = 0 … H (V_H = 0), by dynamic
    /// programming with π from the policy's double-precision forward pass.
    static func exactValues(_ policy: Policy) -> [[Double]] {
        var values = [[Double]](repeating: [0, 0, 0], count: horizon + 1)
        for t in stride(from: horizon - 1, through: 0, by: -1) {
            let observations = Matrix(rows: 3, columns: 4, storage: (0..<3).flatMap { observation(state: $0, time: t) })
            let logits = policy.network.forward(observations).output
            for s in 0..<3 {
                let z = (0..<3).map { logits[s, $0] }
                let m = z.max()!
                let e = z.map { exp($0 - m) }
                let total = e.reduce(0, +)
                for a in 0..<3 { values[t][s] += e[a] / total * (rewards[s][a] + values[t + 1][a]) }
            }
        }
        return values
    }
}

/// A walk on the integers with a short time limit, for the ends of vine branches: observation
/// [x, t], two actions (0: x − 1, 1: x + 1), reward x' after the move; terminated when
/// |x'| reaches 3, truncated when t reaches ``limit`` first. Deterministic given the actions.
final class TimeLimitedWalk: Simulator {
    static let limit = 6

    let id = "TimeLimitedWalk"
    let observationSpace = BoxSpace(low: [-3, 0], high: [3, Double(limit)])
    let actionSpace = ActionSpace.discrete(count: 2)
    let maxEpisodeSteps = limit
    private(set) var elapsedSteps = 0
    private var x = 0.0

    func reset(using random: inout RandomStream) {
        x = Double(random.index(below: 3)) - 1
        elapsedSteps = 0
    }

    func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = x
        observation[1] = Double(elapsedSteps)
    }

    func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        x += action[0] == 0 ? -1 : 1
        elapsedSteps += 1
        let terminated = abs(x) >= 3
        return StepOutcome(reward: x, terminated: terminated, truncated: !terminated && elapsedSteps == Self.limit)
    }

    var state: [Double] { [x, Double(elapsedSteps)] }
    func setState(_ state: [Double]) throws(SimulatorError) { x = state[0]; elapsedSteps = Int(state[1]) }
    func snapshot() -> SimulatorSnapshot { SimulatorSnapshot(values: [x], elapsedSteps: elapsedSteps) }
    func restore(_ snapshot: SimulatorSnapshot) { x = snapshot.values[0]; elapsedSteps = snapshot.elapsedSteps }
}

/// A scalar linear-Gaussian MDP with horizon H = 2: x₀ uniform in [-1, 1), action a ∈ ℝ,
/// x' = x + a, reward −x'², termination after exactly H steps. Observation [x, t].
///
/// With a linear policy μ(x, t) = w_x x + w_t t + b and standard deviation σ:
/// x₁ = αx₀ + b + σξ₀ and x₂ = αx₁ + c + σξ₁ with α = 1 + w_x, c = w_t + b, so
/// E[x₁²] = α²/3 + b² + σ² and E[x₂²] = α² E[x₁²] + 2αc·b + c² + σ² (E[x₁] = b), and
/// J = −E[x₁²] − E[x₂²].
final class LinearGaussianMDP: Simulator {
    static let horizon = 2

    let id = "LinearGaussianMDP"
    let observationSpace = BoxSpace(low: [-.infinity, 0], high: [.infinity, 2])
    let actionSpace = ActionSpace.box(low: [-.infinity], high: [.infinity])
    let maxEpisodeSteps = 100
    private(set) var elapsedSteps = 0
    private var x = 0.0

    func reset(using random: inout RandomStream) {
        x = random.uniform(-1, 1)
        elapsedSteps = 0
    }

    func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = x
        observation[1] = Double(elapsedSteps)
    }

    func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        x += action[0]
        elapsedSteps += 1
        return StepOutcome(reward: -x * x, terminated: elapsedSteps == Self.horizon, truncated: false)
    }

    var state: [Double] { [x] }
    func setState(_ state: [Double]) throws(SimulatorError) { x = state[0]; elapsedSteps = 0 }
    func snapshot() -> SimulatorSnapshot { SimulatorSnapshot(values: [x], elapsedSteps: elapsedSteps) }
    func restore(_ snapshot: SimulatorSnapshot) { x = snapshot.values[0]; elapsedSteps = snapshot.elapsedSteps }

    /// J(θ) in closed form for a linear policy (layer sizes [2, 1]; θ = [w_x, w_t, b, log σ]).
    static func exactReturn(theta: [Double]) -> Double {
        let (wx, wt, b, logStd) = (theta[0], theta[1], theta[2], theta[3])
        let variance = exp(2 * logStd)
        let alpha = 1 + wx, c = wt + b
        let x1Squared = alpha * alpha / 3 + b * b + variance
        let x2Squared = alpha * alpha * x1Squared + 2 * alpha * c * b + c * c + variance
        return -x1Squared - x2Squared
    }
}
