import Foundation
import Testing
@testable import Core

/// The vine estimators (paper eqs. 15 and 16) against references written from the equations
/// with raw (uncentred) Q̂, naive network loops and closed-form densities (TestSupport).
@Suite struct VineSurrogateTests {
    /// (head, K, estimator): eq. 15 needs every action once; eq. 16 is tried with a Gaussian
    /// head and with a categorical head whose K actions are sampled.
    static let cases: [(PolicyHead, Int, VineEstimator)] = [
        (.categorical(actions: 3), 3, .enumeratedActions),
        (.gaussian(dimensions: 2), 4, .importanceSampled),
        (.categorical(actions: 5), 3, .importanceSampled),
    ]
    static let states = 9

    /// A policy with generic parameters, N states, K actions per state (enumerated or drawn
    /// from the policy), Q̂ with a large common offset (so the per-state baseline matters
    /// numerically) and θ near θ_old for evaluating L away from θ_old.
    static func setup(_ head: PolicyHead, k: Int, estimator: VineEstimator, seed: UInt64)
        -> (policy: Policy, surrogate: VineSurrogate<Matrix>, q: [Double], actions: Matrix, theta: [Double])
    {
        var random = RandomStream(seed: seed, path: [UInt64(head.outputWidth), UInt64(k)])
        var policy = Policy(observationSize: 4, head: head, hiddenSizes: [6, 5], activation: .tanh, initialLogStd: -0.3, random: &random)
        let netCount = policy.network.parameters.count
        policy.parameters = randomVector(netCount, scale: 0.5, &random) + (0..<head.logStdCount).map { _ in random.uniform(-0.5, 0.3) }
        let observations = randomMatrix(rows: states, columns: 4, &random)
        let outputs = referencePolicyOutputs(policy, theta: policy.parameters, observations: observations).outputs
        var actions = Matrix(rows: states * k, columns: head.actionWidth)
        for i in 0..<states {
            for j in 0..<k {
                switch (head, estimator) {
                case (_, .enumeratedActions): actions[i * k + j, 0] = Double(j)
                case (.categorical(let count), _):
                    // Inverse CDF of softmax(outputs).
                    let p = referenceSoftmax(row(outputs, i))
                    let u = random.uniform()
                    var c = 0.0, chosen = count - 1
                    for a in 0..<count { c += p[a]; if u < c { chosen = a; break } }
                    actions[i * k + j, 0] = Double(chosen)
                case (.gaussian(let d), _):
                    for c in 0..<d { actions[i * k + j, c] = outputs[i, c] + exp(policy.logStd[c]) * random.normal() }
                }
            }
        }
        let q = (0..<(states * k)).map { _ in 150 + 10 * random.normal() }
        let surrogate = try! VineSurrogate(states: observations, actions: actions, qValues: q, actionsPerState: k,
                                           estimator: estimator, head: head)
        let theta = policy.parameters.map { $0 + 0.05 * random.normal() }
        return (policy, surrogate, q, actions, theta)
    }

    /// Eq. 15 or 16 at θ from the definitions, with raw Q̂ and π_old = π at `thetaOld`.
    static func referenceVine(_ policy: Policy, theta: [Double], thetaOld: [Double], observations: Matrix,
                              actions: Matrix, q: [Double], k: Int, estimator: VineEstimator) -> Double {
        let n = observations.rows
        let repeated = Matrix(rows: n * k, columns: observations.columns,
                              storage: (0..<(n * k)).flatMap { row(observations, $0 / k) })
        let logP = referenceLogProbabilities(policy, theta: theta, observations: repeated, actions: actions)
        let logPOld = referenceLogProbabilities(policy, theta: thetaOld, observations: repeated, actions: actions)
        var total = 0.0
        for i in 0..<n {
            switch estimator {
            case .enumeratedActions:
                for j in 0..<k { total += exp(logP[i * k + j]) * q[i * k + j] }
            case .importanceSampled:
                var num = 0.0, den = 0.0
                for j in 0..<k {
                    let w = exp(logP[i * k + j] - logPOld[i * k + j])
                    num += w * q[i * k + j]
                    den += w
                }
                total += num / den
            }
        }
        return total / Double(n)
    }

    static func meanStateQ(_ q: [Double], k: Int) -> Double {
        q.reduce(0, +) / Double(q.count)  // (1/N) Σ_n Q̄_n
    }

    /// ∇L(θ_old) against central differences (ε = 1e-6) of the raw-Q̂ reference: the per-state
    /// baseline leaves the gradient unchanged (eq. 15: Σ_k ∇π(a_k|s) = 0; eq. 16: invariant to
    /// a per-state shift). Bound 1e-6 relative; rounding of the differences is ≈ 1e-16 · 150 /
    /// 1e-6 against gradients of order 1–10.
    @Test(arguments: cases)
    func gradientMatchesFiniteDifferences(head: PolicyHead, k: Int, estimator: VineEstimator) {
        let (policy, surrogate, q, actions, _) = Self.setup(head, k: k, estimator: estimator, seed: 1)
        let thetaOld = policy.parameters
        let expected = finiteDifferenceGradient(at: thetaOld, epsilon: 1e-6) { t in
            Self.referenceVine(policy, theta: t, thetaOld: thetaOld, observations: surrogate.states, actions: actions,
                               q: q, k: k, estimator: estimator)
        }
        let g = policy.surrogateGradient(surrogate)
        #expect(g.count == policy.parameterCount)
        let error = relativeError(g, expected)
        reportMeasurement("vine \(estimator) gradient vs FD \(head)", error)
        #expect(error < 1e-6)
        #expect(maxAbs(expected) > 1e-2, "the check must not be vacuous")
    }

    /// L(θ) at θ ≠ θ_old equals the raw-Q̂ reference minus the constant (1/N) Σ_n Q̄_n, for
    /// both estimators (for eq. 15 because Σ_k π_θ(a_k|s) = 1). At θ_old eq. 16 is 0.
    @Test(arguments: cases)
    func surrogateMatchesReferenceUpToTheBaseline(head: PolicyHead, k: Int, estimator: VineEstimator) {
        let (policy, surrogate, q, actions, theta) = Self.setup(head, k: k, estimator: estimator, seed: 2)
        let thetaOld = policy.parameters
        let offset = Self.meanStateQ(q, k: k)
        for t in [theta, thetaOld] {
            let expected = Self.referenceVine(policy, theta: t, thetaOld: thetaOld, observations: surrogate.states,
                                              actions: actions, q: q, k: k, estimator: estimator) - offset
            let value = policy.surrogate(surrogate, at: t)
            #expect(abs(value - expected) < 1e-11, "L = \(value), reference \(expected)")
        }
        if estimator == .importanceSampled { #expect(abs(policy.surrogate(surrogate, at: thetaOld)) < 1e-12) }
    }

    /// Eq. 16 stays finite when the importance weights would overflow a naive exp: a trial
    /// whose log-ratio is ~ +1000 at one action still gives a convex combination of Q̂.
    @Test func selfNormalisationIsStableForHugeWeights() {
        let head = PolicyHead.gaussian(dimensions: 1)
        var random = RandomStream(seed: 5)
        let policy = Policy(observationSize: 2, head: head, hiddenSizes: [3], activation: .tanh, initialLogStd: 0, random: &random)
        let states = Matrix(rows: 1, columns: 2, storage: [0.1, -0.2])
        let mean = policy.network.forward(states).output[0, 0]
        let actions = Matrix(rows: 2, columns: 1, storage: [mean + 45, mean - 45])
        var surrogate = try! VineSurrogate(states: states, actions: actions, qValues: [3, 1], actionsPerState: 2,
                                           estimator: .importanceSampled, head: head)
        _ = surrogate.bind(head: head, oldOutputs: policy.network.forward(states).output, oldLogStd: policy.logStd)
        // New mean at the first action: log w₁ − log w₂ = 45·90 ≈ 4050 (σ = 1).
        let value = surrogate.surrogate(outputs: Matrix(rows: 1, columns: 1, storage: [mean + 45]), logStd: [0])
        #expect(abs(value - 1) < 1e-12)  // all weight on Q̂ = 3, centred by the mean 2
    }

    /// A vine step on synthetic data keeps its promises, checked by the reference (in
    /// `Double`; the step's products are too, so they agree to rounding): measured KL over the
    /// N states ≤ δ, the raw-Q̂ surrogate improved by the reported amount.
    @Test(arguments: cases)
    func vineStepImprovesWithinTheTrustRegion(head: PolicyHead, k: Int, estimator: VineEstimator) {
        var (policy, surrogate, q, actions, _) = Self.setup(head, k: k, estimator: estimator, seed: 3)
        let old = policy
        var c = TRPOConfiguration()
        c.fisherSubsample = 1
        c.productPrecision = .double
        var random = RandomStream(seed: 4)
        let report = policy.vineStep(surrogate, configuration: c, random: &random)
        #expect(report.accepted, "\(String(describing: report.rejection))")
        let kl = referencePolicyKL(old, theta: policy.parameters, thetaOld: old.parameters, observations: surrogate.states)
        #expect(kl > 0 && kl <= c.maxKL)
        #expect(relativeError(report.kl, kl) < 1e-10)
        let before = Self.referenceVine(old, theta: old.parameters, thetaOld: old.parameters, observations: surrogate.states,
                                        actions: actions, q: q, k: k, estimator: estimator)
        let after = Self.referenceVine(old, theta: policy.parameters, thetaOld: old.parameters, observations: surrogate.states,
                                       actions: actions, q: q, k: k, estimator: estimator)
        #expect(after > before)
        #expect(abs(report.actualImprovement - (after - before)) < 1e-9)
    }

    /// With constraint states the step measures its KL there: the accepted step's reported
    /// KL is the reference mean KL over those states (within δ), not over the rollout set;
    /// and constraint states equal to the rollout set give exactly the step without them.
    @Test(arguments: cases)
    func constraintStatesCarryTheTrustRegion(head: PolicyHead, k: Int, estimator: VineEstimator) throws {
        let (policy, surrogate, q, actions, _) = Self.setup(head, k: k, estimator: estimator, seed: 5)
        var c = TRPOConfiguration()
        c.fisherSubsample = 1
        c.productPrecision = .double
        var random = RandomStream(seed: 6)
        let trunks = randomMatrix(rows: 40, columns: 4, &random)
        let wide = try VineSurrogate(states: surrogate.states, actions: actions, qValues: q, actionsPerState: k,
                                     estimator: estimator, head: head, constraintStates: trunks)
        var stepped = policy
        let report = stepped.vineStep(wide, configuration: c, random: &random)
        #expect(report.accepted, "\(String(describing: report.rejection))")
        let klTrunks = referencePolicyKL(policy, theta: stepped.parameters, thetaOld: policy.parameters, observations: trunks)
        let klRolloutSet = referencePolicyKL(policy, theta: stepped.parameters, thetaOld: policy.parameters, observations: surrogate.states)
        #expect(klTrunks > 0 && klTrunks <= c.maxKL)
        #expect(relativeError(report.kl, klTrunks) < 1e-10)
        #expect(relativeError(report.kl, klRolloutSet) > 1e-3)

        let same = try VineSurrogate(states: surrogate.states, actions: actions, qValues: q, actionsPerState: k,
                                     estimator: estimator, head: head, constraintStates: surrogate.states)
        var (a, b) = (policy, policy)
        var (ra, rb) = (RandomStream(seed: 7), RandomStream(seed: 7))
        let reportA = a.vineStep(same, configuration: c, random: &ra)
        let reportB = b.vineStep(surrogate, configuration: c, random: &rb)
        #expect(a.parameters == b.parameters)
        #expect(reportA.kl == reportB.kl && reportA.surrogateAfter == reportB.surrogateAfter)

        #expect(throws: VineSurrogateError.inconsistentBatch) {
            try VineSurrogate(states: surrogate.states, actions: actions, qValues: q, actionsPerState: k, estimator: estimator,
                              head: head, constraintStates: Matrix(rows: 3, columns: 5))
        }
    }

    /// Malformed batches are refused with a reason, not trapped on.
    @Test func malformedBatchesAreRefused() throws {
        let states = Matrix(rows: 2, columns: 3)
        let head = PolicyHead.categorical(actions: 2)
        let ordered = Matrix(rows: 4, columns: 1, storage: [0, 1, 0, 1])
        _ = try VineSurrogate(states: states, actions: ordered, qValues: [1, 2, 3, 4], actionsPerState: 2,
                              estimator: .enumeratedActions, head: head)
        #expect(throws: VineSurrogateError.notEnumerated(state: 1)) {
            try VineSurrogate(states: states, actions: Matrix(rows: 4, columns: 1, storage: [0, 1, 1, 0]),
                              qValues: [1, 2, 3, 4], actionsPerState: 2, estimator: .enumeratedActions, head: head)
        }
        #expect(throws: VineSurrogateError.notEnumerated(state: 0)) {
            try VineSurrogate(states: states, actions: ordered, qValues: [1, 2, 3, 4], actionsPerState: 2,
                              estimator: .enumeratedActions, head: .categorical(actions: 3))
        }
        #expect(throws: VineSurrogateError.inconsistentBatch) {
            try VineSurrogate(states: states, actions: ordered, qValues: [1, 2, 3], actionsPerState: 2,
                              estimator: .importanceSampled, head: head)
        }
        var batch = VineBatch(observationSize: 3, actionWidth: 1, actionsPerState: 2, estimator: .importanceSampled)
        batch.observations = [0, 0, 0]
        batch.actions = [0, 1]
        batch.branchReturns = [1, 2]
        batch.branchLengths = [1, 3]
        batch.branchEnds = [.terminated, .truncated]
        batch.cutObservations = [0, 0, 1]
        #expect(throws: VineSurrogateError.inconsistentBatch) { try VineSurrogate(batch, normalizer: nil, head: head) }
        batch.oldLogProbabilities = [-1, -1]
        _ = try VineSurrogate(batch, normalizer: nil, head: head)
        #expect(throws: VineSurrogateError.self) { try VineSurrogate(batch, normalizer: RunningNormalizer(size: 4), head: head) }
    }

    /// Q̂ by hand: a cut branch of length L gets γᴸ V(s_L) added, a terminated one nothing; the
    /// values must be one per cut branch, and a Q̂ that is not finite is refused.
    @Test func qValuesBootstrapCutBranchesOnly() throws {
        var batch = VineBatch(observationSize: 1, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        batch.observations = [0, 1]
        batch.actions = [0, 1, 0, 1]
        batch.branchReturns = [1, 2, 3, 4]
        batch.oldLogProbabilities = [-0.7, -0.7, -0.7, -0.7]
        batch.branchLengths = [3, 1, 2, 5]
        batch.branchEnds = [.truncated, .terminated, .terminated, .truncated]
        batch.cutObservations = [7, 8]
        #expect(batch.isConsistent && batch.cutCount == 2)
        #expect(try batch.qValues(gamma: 0.5, cutValues: nil) == [1, 2, 3, 4])
        #expect(try batch.qValues(gamma: 0.5, cutValues: [8, 64]) == [1 + 0.125 * 8, 2, 3, 4 + 0.03125 * 64])
        #expect(throws: VineSurrogateError.inconsistentBatch) { try batch.qValues(gamma: 0.5, cutValues: [1]) }
        #expect(throws: VineSurrogateError.nonFiniteQValue(branch: 3)) { try batch.qValues(gamma: 0.5, cutValues: [1, .infinity]) }
        #expect(throws: VineSurrogateError.nonFiniteQValue(branch: 0)) { try batch.qValues(gamma: 0.5, cutValues: [.nan, 1]) }
        batch.branchEnds[1] = .none
        #expect(!batch.isConsistent)
    }

    /// `append` concatenates states, branches and trunks in order and adds the step counts.
    @Test func appendConcatenates() {
        var a = VineBatch(observationSize: 1, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        a.observations = [1]; a.actions = [0, 1]; a.branchReturns = [5, 6]; a.oldLogProbabilities = [-0.5, -1]
        a.branchLengths = [3, 4]; a.branchEnds = [.terminated, .truncated]; a.cutObservations = [9]
        a.trunks.observations = [1, 2, 3]; a.trunks.actions = [0, 1, 0]; a.trunks.rewards = [1, 1, 1]
        a.trunks.ends = [.none, .none, .terminated]; a.trunks.episodeReturns = [3]; a.trunks.episodeLengths = [3]
        var b = a
        b.observations = [2]; b.branchReturns = [7, 8]; b.branchLengths = [1, 1]; b.branchEnds = [.truncated, .truncated]
        b.cutObservations = [10, 11]
        b.trunks.observations = [4]; b.trunks.actions = [1]; b.trunks.rewards = [1]; b.trunks.ends = [.truncated]
        b.trunks.bootstrapRows = [0]; b.trunks.bootstrapObservations = [5]; b.trunks.episodeReturns = []; b.trunks.episodeLengths = []
        a.append(b)
        #expect(a.stateCount == 2 && a.branchCount == 4 && a.isConsistent && a.cutCount == 3)
        #expect(a.observations == [1, 2] && a.branchReturns == [5, 6, 7, 8] && a.actions == [0, 1, 0, 1])
        #expect(a.cutObservations == [9, 10, 11] && a.branchLengths == [3, 4, 1, 1])
        #expect(a.trunks.bootstrapRows == [3] && a.trunks.observations == [1, 2, 3, 4])
        #expect(a.simulatorSteps == 4 + 9 && a.episodeReturns == [3])
    }

    /// The settings' branching rule and validation.
    @Test func settingsBranchingAndValidation() {
        var s = VineSettings(trunkSteps: 10, rolloutStates: 5, actionsPerState: 4, rolloutLength: 3, gamma: 0.9)
        #expect(s.branching(for: .discrete(count: 2)) == (2, .enumeratedActions))
        #expect(s.branching(for: .discrete(count: 4)) == (4, .enumeratedActions))
        #expect(s.branching(for: .discrete(count: 6)) == (4, .importanceSampled))
        #expect(s.branching(for: .box(low: [-1], high: [1])) == (4, .importanceSampled))
        #expect(s.problem(simulatorCount: 1) == nil)
        s.rolloutStates = 11
        #expect(s.problem(simulatorCount: 1) != nil && s.problem(simulatorCount: 2) == nil)
        s.actionsPerState = 1
        #expect(s.problem(simulatorCount: 2) != nil)
        s.actionsPerState = 2
        s.gamma = .nan
        #expect(s.problem(simulatorCount: 2) != nil)
    }
}
