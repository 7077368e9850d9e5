import Foundation
import Testing
@testable import Core

/// The policy-level derivatives TRPO uses, in θ = network parameters ++ log-std, against
/// central finite differences of quantities the tests compute independently (naive network
/// loop + closed-form densities).
@Suite struct PolicyDerivativeTests {
    static let heads: [PolicyHead] = [.gaussian(dimensions: 2), .categorical(actions: 3)]
    static let rows = 12

    /// A policy with generic (randomised, not freshly initialised) parameters, a batch of
    /// states and actions drawn from it, random advantages, and a second parameter vector
    /// θ_old near θ.
    static func setup(_ head: PolicyHead, seed: UInt64)
        -> (policy: Policy, batch: PolicyBatch<Matrix>, thetaOld: [Double])
    {
        var random = RandomStream(seed: seed, path: [UInt64(head.outputWidth)])
        var policy = Policy(observationSize: 4, head: head, hiddenSizes: [6, 5], activation: .tanh,
                            initialLogStd: -0.3, random: &random)
        let netCount = policy.network.parameters.count
        let theta = randomVector(netCount, scale: 0.5, &random) + (0..<head.logStdCount).map { _ in random.uniform(-0.5, 0.3) }
        policy.parameters = theta
        let observations = randomMatrix(rows: rows, columns: 4, &random)
        let outputs = policy.network.forward(observations).output
        var actions = Matrix(rows: rows, columns: head.actionWidth)
        for i in 0..<rows {
            switch head {
            case .categorical(let k): actions[i, 0] = Double(random.index(below: k))
            case .gaussian(let d):
                for j in 0..<d { actions[i, j] = outputs[i, j] + exp(policy.logStd[j]) * random.normal() }
            }
        }
        let advantages = randomVector(rows, &random)
        let thetaOld = theta.map { $0 + 0.05 * random.normal() }
        return (policy, PolicyBatch(observations: observations, actions: actions, advantages: advantages), thetaOld)
    }

    /// ∇L(θ_old) for L(θ) = mean(exp(log π_θ − log π_old) · Â), the surrogate evaluated by the
    /// reference implementation. ε = 1e-6; rounding error ≈ 1e-16·|L|/ε ≈ 1e-10 relative.
    @Test(arguments: heads)
    func surrogateGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 1)
        let theta = policy.parameters
        let expected = finiteDifferenceGradient(at: theta, epsilon: 1e-6) { t in
            referenceSurrogate(policy, theta: t, thetaOld: theta, batch: batch)
        }
        let g = policy.surrogateGradient(batch, tape: policy.network.forward(batch.observations))
        #expect(g.count == policy.parameterCount)
        let error = relativeError(g, expected)
        reportMeasurement("surrogate gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// ∇_θ mean KL(π_old ‖ π_θ) at θ ≠ θ_old against differences of the reference KL.
    @Test(arguments: heads)
    func meanKLGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (policy, batch, thetaOld) = Self.setup(head, seed: 2)
        var old = policy
        old.parameters = thetaOld
        let oldOutputs = old.network.forward(batch.observations).output
        let expected = finiteDifferenceGradient(at: policy.parameters, epsilon: 1e-6) { t in
            referencePolicyKL(policy, theta: t, thetaOld: thetaOld, observations: batch.observations)
        }
        let g = policy.meanKLGradient(tape: policy.network.forward(batch.observations), oldOutputs: oldOutputs, oldLogStd: old.logStd)
        let error = relativeError(g, expected)
        reportMeasurement("policy KL gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// At θ = θ_old the KL is zero and so is its gradient (its minimum).
    @Test(arguments: heads)
    func klAndItsGradientVanishAtOldParameters(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 3)
        let tape = policy.network.forward(batch.observations)
        let g = policy.meanKLGradient(tape: tape, oldOutputs: tape.output, oldLogStd: policy.logStd)
        #expect(maxAbs(g) <= 1e-15)
        let kl = policy.head.meanKL(oldOutputs: tape.output, oldLogStd: policy.logStd, newOutputs: tape.output, newLogStd: policy.logStd)
        #expect(abs(kl) <= 1e-15)
        #expect(referencePolicyKL(policy, theta: policy.parameters, thetaOld: policy.parameters, observations: batch.observations) <= 1e-15)
    }

    /// F v equals the derivative of ∇KL along v at θ_old, with π_old held fixed:
    /// (∇KL(θ+εv) − ∇KL(θ−εv)) / 2ε. The KL gradient is itself checked against finite
    /// differences above, so this closes the loop on the Fisher-vector product. ε = 1e-5:
    /// the difference of two O(ε) gradients loses ~u/ε ≈ 1e-11, truncation ~ε² ≈ 1e-10.
    @Test(arguments: heads)
    func fisherVectorProductIsDerivativeOfKLGradient(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 4)
        let tape = policy.network.forward(batch.observations)
        let (oldOutputs, oldLogStd) = (tape.output, policy.logStd)
        var random = RandomStream(seed: 44)
        var worst = 0.0
        for _ in 0..<3 {
            let v = randomVector(policy.parameterCount, &random)
            let expected = finiteDifferenceDirectional(at: policy.parameters, direction: v, epsilon: 1e-5) { t in
                var p = policy
                p.parameters = t
                return p.meanKLGradient(tape: p.network.forward(batch.observations), oldOutputs: oldOutputs, oldLogStd: oldLogStd)
            }
            let fv = policy.fisherVectorProduct(v, tape: tape)
            worst = max(worst, relativeError(fv, expected))
        }
        reportMeasurement("Fisher-vector product vs FD of KL gradient \(head)", worst)
        #expect(worst < 1e-6)
    }

    /// uᵀF v = vᵀF u (to rounding) and vᵀF v ≥ 0 on random vectors.
    @Test(arguments: heads)
    func fisherIsSymmetricPositiveSemidefinite(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 5)
        let tape = policy.network.forward(batch.observations)
        var random = RandomStream(seed: 55)
        for _ in 0..<10 {
            let u = randomVector(policy.parameterCount, &random)
            let v = randomVector(policy.parameterCount, &random)
            let fu = policy.fisherVectorProduct(u, tape: tape)
            let fv = policy.fisherVectorProduct(v, tape: tape)
            let uFv = dot(u, fv), vFu = dot(v, fu)
            let scale = (dot(u, fu) * dot(v, fv)).squareRoot()  // Cauchy–Schwarz bound on |uᵀFv|
            #expect(abs(uFv - vFu) <= 1e-12 * scale)
            #expect(dot(v, fv) >= 0)
            #expect(dot(u, fu) >= 0)
        }
        // A direction that only moves the log-std is seen through 2·I (Gaussian) or not at all.
        var e = [Double](repeating: 0, count: policy.parameterCount)
        if head.logStdCount > 0 {
            e[policy.network.parameters.count] = 1
            let fe = policy.fisherVectorProduct(e, tape: tape)
            #expect(fe[policy.network.parameters.count] == 2)
            #expect(maxAbs(Array(fe[..<policy.network.parameters.count])) == 0)
        }
    }
}
