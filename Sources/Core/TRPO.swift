import Foundation

// The TRPO policy step (Schulman et al. 2015, §6 and App. C), one function:
//
//   1. L(θ) = (1/n) Σ_i π_θ(a_i|s_i) / π_old(a_i|s_i) · Â_i           the surrogate
//   2. g = ∇_θ L(θ_old)                                                reverse mode
//   3. F v = (1/n) Σ_i J_iᵀ M_i J_i v + λ v                            Fisher-vector product
//        (J_i: Jacobian of the distribution parameters w.r.t. θ, forward mode;
//         M_i: analytic Fisher of the distribution; on a random subsample of the batch)
//   4. s ≈ F⁻¹ g by k steps of conjugate gradient
//   5. β = √(2δ / sᵀF s), full step β s (the step that would hit the KL boundary if the
//      quadratic model were exact)
//   6. backtracking line search on β: accept the first θ_old + ρᵏ β s whose measured mean
//      KL(π_old ‖ π_θ) is ≤ δ and whose surrogate improved; otherwise restore θ_old.
//
// Any non-finite value along the way ends the step with θ unchanged and a reason.

/// Settings of the policy step. Defaults follow the paper (δ = 0.01, k = 10, 10 % of the
/// batch for Fisher-vector products) with the damping of Baselines/SB3 (0.1).
public struct TRPOConfiguration: Sendable, Codable, Equatable {
    /// δ: the bound on the mean KL(π_old ‖ π_new).
    public var maxKL: Double = 0.01
    /// k: conjugate-gradient iterations.
    public var cgIterations: Int = 10
    /// Conjugate gradient stops once ‖r‖² falls below this.
    public var cgResidualTolerance: Double = 1e-10
    /// λ: damping added to the Fisher matrix (F + λI).
    public var damping: Double = 0.1
    /// Fraction of the batch used for Fisher-vector products, in (0, 1].
    public var fisherSubsample: Double = 0.1
    /// ρ: each backtrack multiplies the step by this.
    public var backtrackRatio: Double = 0.8
    /// Line-search trials after the full step.
    public var maxBacktracks: Int = 10

    public init() {}
}

/// A batch of on-policy samples for the policy step.
public struct PolicyBatch: Sendable {
    /// `[n × observationSize]`, already normalised.
    public var observations: Matrix
    /// `[n × actionWidth]`: the actions taken (unclipped).
    public var actions: Matrix
    /// Â_i, one per row (normalised over the batch by the caller if wanted).
    public var advantages: [Double]

    public init(observations: Matrix, actions: Matrix, advantages: [Double]) {
        precondition(observations.rows == actions.rows && actions.rows == advantages.count, "batch parts disagree on the number of samples")
        self.observations = observations
        self.actions = actions
        self.advantages = advantages
    }
    public var count: Int { advantages.count }
}

/// Why a policy step left θ unchanged.
public enum TRPORejection: String, Sendable, Codable, Equatable {
    case emptyBatch = "empty_batch"
    case nonFiniteSurrogate = "nonfinite_surrogate"
    case nonFiniteGradient = "nonfinite_gradient"
    case zeroGradient = "zero_gradient"
    case nonFiniteFisherProduct = "nonfinite_fisher_product"
    case nonPositiveCurvature = "nonpositive_curvature"
    /// Every trial step exceeded the KL bound (or gave a non-finite KL).
    case klExceeded = "kl_exceeded"
    /// Trial steps within the KL bound did not improve the surrogate.
    case noImprovement = "no_improvement"
}

/// What one policy step did.
public struct TRPOStepReport: Sendable, Codable, Equatable {
    /// Measured mean KL(π_old ‖ π_new) of the accepted step (0 when rejected).
    public var kl: Double = 0
    public var surrogateBefore: Double = 0
    /// Surrogate after the step (equal to before when rejected).
    public var surrogateAfter: Double = 0
    /// gᵀ(step taken): the first-order model's improvement at the accepted step.
    public var expectedImprovement: Double = 0
    public var actualImprovement: Double = 0
    /// Shrinkings of the full step before acceptance (all trials when rejected).
    public var backtracks: Int = 0
    public var cgIterations: Int = 0
    public var cgResidual: Double = 0
    /// ‖θ_new − θ_old‖.
    public var stepNorm: Double = 0
    /// Entropy of π_old averaged over the batch (nats).
    public var entropy: Double = 0
    public var accepted: Bool = false
    public var rejection: TRPORejection?

    public init() {}
}

extension Policy {
    /// Evaluates the surrogate L(θ) and KL(π_old ‖ π_θ) of `parameters` on a batch.
    func surrogateAndKL(parameters: [Double], batch: PolicyBatch, oldLogProbabilities: [Double],
                        oldOutputs: Matrix) -> (surrogate: Double, kl: Double) {
        var trial = self
        trial.parameters = parameters
        let outputs = trial.network.forward(batch.observations).output
        let logP = head.logProbabilities(outputs: outputs, logStd: trial.logStd, actions: batch.actions)
        var surrogate = 0.0
        for i in 0..<batch.count { surrogate += exp(logP[i] - oldLogProbabilities[i]) * batch.advantages[i] }
        surrogate /= Double(batch.count)
        let kl = head.meanKL(oldOutputs: oldOutputs, oldLogStd: logStd, newOutputs: outputs, newLogStd: trial.logStd)
        return (surrogate, kl)
    }

    /// g = ∇_θ L(θ) at the current parameters, where the ratio is 1 (θ = θ_old):
    /// (1/n) Σ_i Â_i ∇_θ log π_θ(a_i|s_i).
    public func surrogateGradient(_ batch: PolicyBatch, tape: MLP.Tape) -> [Double] {
        let weights = batch.advantages.map { $0 / Double(batch.count) }
        let d = head.weightedLogProbabilityGradient(outputs: tape.output, logStd: logStd, actions: batch.actions, weights: weights)
        var g = [Double](repeating: 0, count: network.parameters.count)
        network.vectorJacobianProduct(tape, outputGradient: d.outputs, into: &g)
        return g + d.logStd
    }

    /// The Fisher-vector product F v = (1/n) Σ_i J_iᵀ M_i J_i v (no damping) over the states
    /// recorded in `tape`, evaluated at the current parameters.
    public func fisherVectorProduct(_ v: [Double], tape: MLP.Tape) -> [Double] {
        let n = network.parameters.count
        let jv = network.jacobianVectorProduct(tape, tangent: Array(v[..<n]))
        let m = head.fisherProduct(outputs: tape.output, logStd: logStd, outputTangent: jv, logStdTangent: Array(v[n...]))
        var result = [Double](repeating: 0, count: n)
        network.vectorJacobianProduct(tape, outputGradient: m.outputs, into: &result)
        return result + m.logStd
    }

    /// ∇_θ of the mean KL(π_old ‖ π_θ) at the current parameters, with π_old given by
    /// `oldOutputs` and `oldLogStd` on the states of `tape`.
    public func meanKLGradient(tape: MLP.Tape, oldOutputs: Matrix, oldLogStd: [Double]) -> [Double] {
        let d = head.meanKLGradient(oldOutputs: oldOutputs, oldLogStd: oldLogStd, newOutputs: tape.output, newLogStd: logStd)
        var g = [Double](repeating: 0, count: network.parameters.count)
        network.vectorJacobianProduct(tape, outputGradient: d.outputs, into: &g)
        return g + d.logStd
    }

    /// One TRPO step on `batch`; updates the parameters only when the step is accepted.
    ///
    /// - Parameters:
    ///   - batch: on-policy samples collected with the current parameters.
    ///   - configuration: δ, CG, damping, subsample and line-search settings.
    ///   - random: draws the Fisher subsample.
    /// - Returns: the step's diagnostics; `accepted == false` means θ is unchanged.
    public mutating func trpoStep(_ batch: PolicyBatch, configuration c: TRPOConfiguration,
                                  random: inout RandomStream) -> TRPOStepReport {
        var report = TRPOStepReport()
        guard batch.count > 0 else { report.rejection = .emptyBatch; return report }
        let thetaOld = parameters

        // 1. π_old on the batch and the surrogate at θ_old.
        let tape = network.forward(batch.observations)
        let oldOutputs = tape.output
        let oldLogP = head.logProbabilities(outputs: oldOutputs, logStd: logStd, actions: batch.actions)
        report.entropy = head.meanEntropy(outputs: oldOutputs, logStd: logStd)
        report.surrogateBefore = batch.advantages.reduce(0, +) / Double(batch.count)  // ratio = 1
        report.surrogateAfter = report.surrogateBefore
        guard report.surrogateBefore.isFinite, oldLogP.allFinite else { report.rejection = .nonFiniteSurrogate; return report }

        // 2. The policy gradient.
        let g = surrogateGradient(batch, tape: tape)
        guard g.allFinite else { report.rejection = .nonFiniteGradient; return report }
        guard dot(g, g) > 0 else { report.rejection = .zeroGradient; return report }

        // 3–4. Natural-gradient direction s ≈ (F + λI)⁻¹ g on a subsample.
        let fisherTape = fisherSubsampleTape(batch, fraction: c.fisherSubsample, fullTape: tape, random: &random)
        let policyOld = self
        let fvp = { (v: [Double]) -> [Double] in
            var fv = policyOld.fisherVectorProduct(v, tape: fisherTape)
            axpy(c.damping, v, &fv)
            return fv
        }
        let cg = conjugateGradient(g, iterations: c.cgIterations, residualTolerance: c.cgResidualTolerance, product: fvp)
        report.cgIterations = cg.iterations
        report.cgResidual = cg.residualNorm
        switch cg.failure {
        case .nonFiniteProduct?: report.rejection = .nonFiniteFisherProduct; return report
        case .nonPositiveCurvature?: report.rejection = .nonPositiveCurvature; return report
        case nil: break
        }
        let s = cg.solution

        // 5. Scale to the trust region: ½ (βs)ᵀF(βs) = δ.
        let fs = fvp(s)
        guard fs.allFinite else { report.rejection = .nonFiniteFisherProduct; return report }
        let sFs = dot(s, fs)
        guard sFs > 0, sFs.isFinite else { report.rejection = .nonPositiveCurvature; return report }
        let beta = (2 * c.maxKL / sFs).squareRoot()
        let fullStep = s.map { beta * $0 }
        let fullExpected = dot(g, fullStep)

        // 6. Backtracking line search with the KL constraint checked on the whole batch.
        var fraction = 1.0
        var lastFailure = TRPORejection.klExceeded
        for trial in 0...c.maxBacktracks {
            var theta = thetaOld
            axpy(fraction, fullStep, &theta)
            let (surrogate, kl) = surrogateAndKL(parameters: theta, batch: batch, oldLogProbabilities: oldLogP, oldOutputs: oldOutputs)
            if !kl.isFinite || kl > c.maxKL {
                lastFailure = .klExceeded
            } else if !surrogate.isFinite || surrogate <= report.surrogateBefore {
                lastFailure = .noImprovement
            } else {
                parameters = theta
                report.accepted = true
                report.kl = kl
                report.surrogateAfter = surrogate
                report.actualImprovement = surrogate - report.surrogateBefore
                report.expectedImprovement = fraction * fullExpected
                report.backtracks = trial
                report.stepNorm = fraction * dot(fullStep, fullStep).squareRoot()
                return report
            }
            fraction *= c.backtrackRatio
        }
        // No trial was accepted; θ was only ever written on acceptance, so it is still θ_old.
        report.backtracks = c.maxBacktracks + 1
        report.rejection = lastFailure
        return report
    }

    /// The tape of a random `fraction` of the batch (the whole batch's tape when the fraction
    /// covers it).
    func fisherSubsampleTape(_ batch: PolicyBatch, fraction: Double, fullTape: MLP.Tape,
                             random: inout RandomStream) -> MLP.Tape {
        let n = batch.count
        let m = min(n, max(1, Int((fraction * Double(n)).rounded(.up))))
        guard m < n else { return fullTape }
        // Partial Fisher–Yates: the first m entries are a uniform sample without replacement.
        var indices = Array(0..<n)
        for i in 0..<m { indices.swapAt(i, i + random.index(below: n - i)) }
        let chosen = Array(indices[..<m]).sorted()
        return network.forward(batch.observations.gatheringRows(chosen))
    }
}
