import Core
import Foundation
import Testing
@testable import Sampling

/// Unbiasedness of the sampled policy gradients on tiny MDPs with exact gradients: the mean of
/// many independent estimates must lie within a few standard errors of what theory predicts.
///
/// Both MDPs end after exactly H steps and use γ = 1 and T = H, so every Q̂ is a complete
/// return. With the rollout set a uniform sample of all trunk positions (t = 0 … H−1 equally
/// often) the policy-gradient theorem gives, for the gradient at θ_old:
/// - single path, (1/n) Σ_i Â_i ∇log π(a_i|s_i) with Â = reward-to-go: ∇J / H;
/// - vine eq. 15 (all actions): (1/N) Σ_n Σ_a ∇π(a|s_n) Q̂(s_n, a): ∇J / H;
/// - vine eq. 16 (K sampled actions, self-normalised): ((K−1)/K) ∇J / H (see `VineSurrogate`).
/// ∇J comes from central differences of the exact J (dynamic programming or closed form).
@Suite struct VineUnbiasednessTests {
    /// Per-coordinate mean and standard error of the mean.
    static func meanAndStandardError(_ samples: [[Double]]) -> (mean: [Double], standardError: [Double]) {
        let r = Double(samples.count)
        let d = samples[0].count
        let mean = (0..<d).map { i in samples.reduce(0) { $0 + $1[i] } / r }
        let se = (0..<d).map { i in
            (samples.reduce(0) { $0 + pow($1[i] - mean[i], 2) } / (r - 1) / r).squareRoot()
        }
        return (mean, se)
    }

    /// max_i |mean_i − expected_i| / se_i.
    static func largestZ(_ estimate: (mean: [Double], standardError: [Double]), _ expected: [Double]) -> Double {
        zip(zip(estimate.mean, estimate.standardError), expected).reduce(0) { max($0, abs($1.0.0 - $1.1) / $1.0.1) }
    }

    /// ‖se‖ / ‖expected‖: how small a relative bias the check could see.
    static func relativePrecision(_ estimate: (mean: [Double], standardError: [Double]), _ expected: [Double]) -> Double {
        (estimate.standardError.reduce(0) { $0 + $1 * $1 } / expected.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }

    static func report(_ label: String, _ value: Double) {
        if ProcessInfo.processInfo.environment["VINE_REPORT"] != nil { print("[measure] \(label): \(value)") }
    }

    /// Single-path gradients from `replicates` batches of `episodes` whole episodes each.
    static func singlePathGradients(_ policy: Policy, simulator: any Simulator, horizon: Int, episodes: Int,
                                    replicates: Int) -> [[Double]] {
        let sampler = SinglePathSampler(simulators: [simulator], policy: policy, normalizer: nil, seed: 21, stream: 0)
        return (0..<replicates).map { _ in
            let batch = sampler.collect(steps: horizon * episodes)
            precondition(batch.ends.allSatisfy { $0 != .truncated }, "episodes must not be cut")
            var returns = [Double](repeating: 0, count: batch.count)
            var next = 0.0
            for t in stride(from: batch.count - 1, through: 0, by: -1) {
                if batch.ends[t] == .terminated { next = 0 }
                next += batch.rewards[t]
                returns[t] = next
            }
            let policyBatch = PolicyBatch(observations: batch.observationMatrix, actions: batch.actionMatrix, advantages: returns)
            return policy.surrogateGradient(SinglePathSurrogate(policyBatch))
        }
    }

    /// Vine gradients from `replicates` collections.
    static func vineGradients(_ policy: Policy, simulator: any Simulator, settings: VineSettings,
                              replicates: Int) -> [[Double]] {
        let sampler = VineSampler(simulators: [simulator], policy: policy, normalizer: nil, seed: 22, stream: 0, settings: settings)
        return (0..<replicates).map { _ in
            let batch = sampler.collect()
            let surrogate = try! VineSurrogate(batch, normalizer: nil, head: policy.head)
            return policy.surrogateGradient(surrogate)
        }
    }

    static func finiteDifferenceGradient(at x: [Double], epsilon: Double, _ f: ([Double]) -> Double) -> [Double] {
        x.indices.map { i in
            var up = x, down = x
            up[i] += epsilon
            down[i] -= epsilon
            return (f(up) - f(down)) / (2 * epsilon)
        }
    }

    /// ChainMDP (3 actions, H = 3) with a 4-4-3 tanh policy (35 parameters): single path
    /// (batches of 20 episodes), eq. 15 (K = 3, all actions) and eq. 16 with K = 2 sampled
    /// actions (15 states from 10 episodes). 600 replicates each; bound |z| < 4.5 per
    /// coordinate, and each mean must be precise (‖se‖ < 5 % of ‖expected‖) so the check has
    /// power. The eq. 16 check must also reject the estimate without its (K−1)/K factor.
    @Test func discreteEstimatesAreUnbiased() {
        var random = RandomStream(seed: 31)
        var policy = Policy(observationSize: 4, head: .categorical(actions: 3), hiddenSizes: [4], activation: .tanh, random: &random)
        policy.parameters = policy.parameters.map { _ in 0.8 * random.normal() }
        let h = Double(ChainMDP.horizon)
        let exact = Self.finiteDifferenceGradient(at: policy.parameters, epsilon: 1e-5) { theta in
            var p = policy
            p.parameters = theta
            return ChainMDP.exactReturn(p)
        }
        let expected = exact.map { $0 / h }
        let replicates = 600

        let singlePath = Self.meanAndStandardError(Self.singlePathGradients(policy, simulator: ChainMDP(), horizon: 3,
                                                                            episodes: 20, replicates: replicates))
        let zSinglePath = Self.largestZ(singlePath, expected)
        Self.report("chain single path max |z|", zSinglePath)
        Self.report("chain single path relative precision", Self.relativePrecision(singlePath, expected))
        #expect(zSinglePath < 4.5)
        #expect(Self.relativePrecision(singlePath, expected) < 0.05)

        let enumerated = VineSettings(trunkSteps: 30, rolloutStates: 15, actionsPerState: 3, rolloutLength: 3, gamma: 1)
        let eq15 = Self.meanAndStandardError(Self.vineGradients(policy, simulator: ChainMDP(), settings: enumerated,
                                                                replicates: replicates))
        let z15 = Self.largestZ(eq15, expected)
        Self.report("chain eq. 15 max |z|", z15)
        Self.report("chain eq. 15 relative precision", Self.relativePrecision(eq15, expected))
        #expect(z15 < 4.5)
        #expect(Self.relativePrecision(eq15, expected) < 0.05)

        let sampled = VineSettings(trunkSteps: 30, rolloutStates: 15, actionsPerState: 2, rolloutLength: 3, gamma: 1)
        let eq16 = Self.meanAndStandardError(Self.vineGradients(policy, simulator: ChainMDP(), settings: sampled,
                                                                replicates: replicates))
        let z16 = Self.largestZ(eq16, expected.map { $0 / 2 })
        let z16Unscaled = Self.largestZ(eq16, expected)
        Self.report("chain eq. 16 (K = 2) max |z|", z16)
        Self.report("chain eq. 16 against the unscaled gradient, max |z|", z16Unscaled)
        Self.report("chain eq. 16 relative precision", Self.relativePrecision(eq16, expected))
        #expect(z16 < 4.5)
        #expect(z16Unscaled > 8)
        #expect(Self.relativePrecision(eq16, expected) < 0.05)

        // The paper's claim, measured: per state, eq. 15 has a lower-variance estimate.
        let ratio = zip(eq15.standardError, singlePath.standardError).map { $0 / $1 }.reduce(0, +) / Double(exact.count)
        Self.report("chain mean SE ratio eq. 15 / single path", ratio)
    }

    /// LinearGaussianMDP (H = 2) with a linear Gaussian policy θ = [w_x, w_t, b, log σ]:
    /// single path and eq. 16 with K = 4 (expected (3/4) ∇J / H), common random numbers on
    /// and off. 800 replicates each; bound |z| < 4.5 per coordinate, ‖se‖ < 5 % of ‖expected‖.
    @Test func continuousEstimatesAreUnbiased() {
        var random = RandomStream(seed: 32)
        var policy = Policy(observationSize: 2, head: .gaussian(dimensions: 1), hiddenSizes: [], activation: .tanh, random: &random)
        policy.parameters = [-0.4, 0.3, 0.2, log(0.5)]
        let h = Double(LinearGaussianMDP.horizon)
        let exact = Self.finiteDifferenceGradient(at: policy.parameters, epsilon: 1e-5) { LinearGaussianMDP.exactReturn(theta: $0) }
        let expected = exact.map { $0 / h }
        let replicates = 800

        let singlePath = Self.meanAndStandardError(Self.singlePathGradients(policy, simulator: LinearGaussianMDP(), horizon: 2,
                                                                            episodes: 16, replicates: replicates))
        let zSinglePath = Self.largestZ(singlePath, expected)
        Self.report("linear-Gaussian single path max |z|", zSinglePath)
        Self.report("linear-Gaussian single path relative precision", Self.relativePrecision(singlePath, expected))
        #expect(zSinglePath < 4.5)
        #expect(Self.relativePrecision(singlePath, expected) < 0.05)

        for crn in [true, false] {
            let settings = VineSettings(trunkSteps: 32, rolloutStates: 8, actionsPerState: 4, rolloutLength: 2, gamma: 1,
                                        commonRandomNumbers: crn)
            let eq16 = Self.meanAndStandardError(Self.vineGradients(policy, simulator: LinearGaussianMDP(), settings: settings,
                                                                    replicates: replicates))
            let z = Self.largestZ(eq16, expected.map { 0.75 * $0 })
            let zUnscaled = Self.largestZ(eq16, expected)
            Self.report("linear-Gaussian eq. 16 (K = 4, CRN \(crn)) max |z|", z)
            Self.report("linear-Gaussian eq. 16 (CRN \(crn)) against the unscaled gradient, max |z|", zUnscaled)
            Self.report("linear-Gaussian eq. 16 (CRN \(crn)) relative precision", Self.relativePrecision(eq16, expected))
            #expect(z < 4.5)
            #expect(zUnscaled > 6)
            #expect(Self.relativePrecision(eq16, expected) < 0.05)
        }
    }
}
