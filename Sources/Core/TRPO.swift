import Foundation

// The TRPO policy step (Schulman et al. 2015, §6 and App. C), one function:
//
//   1. L(θ) = (1/n) Σ_i π_θ(a_i|s_i) / π_old(a_i|s_i) · Â_i           the surrogate
//        (single path; a `SurrogateEstimator` supplies L, its gradient and the states —
//         the vine estimators of eqs. 15–16 are in VineSurrogate.swift)
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
    /// Precision of the step's network products: the forward pass at θ_old, the reverse pass
    /// of the gradient, the Fisher-vector products and the line search's trial forwards. The
    /// inputs and parameters are rounded to it, the network outputs come back as `Double`,
    /// and every reduction that decides the step (the accumulation of each row block's
    /// gradient, the metric, conjugate gradient, the surrogate and the KL) is double
    /// precision either way (docs/architecture.md, "Precision"). Encoded under its earlier
    /// name, `fisherPrecision`.
    public var productPrecision: Precision = .single

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxKL, cgIterations, cgResidualTolerance, damping, fisherSubsample, backtrackRatio, maxBacktracks
        case productPrecision = "fisherPrecision"
    }

    /// Decodes a configuration; one written before ``productPrecision`` existed gets the default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxKL = try container.decode(Double.self, forKey: .maxKL)
        cgIterations = try container.decode(Int.self, forKey: .cgIterations)
        cgResidualTolerance = try container.decode(Double.self, forKey: .cgResidualTolerance)
        damping = try container.decode(Double.self, forKey: .damping)
        fisherSubsample = try container.decode(Double.self, forKey: .fisherSubsample)
        backtrackRatio = try container.decode(Double.self, forKey: .backtrackRatio)
        maxBacktracks = try container.decode(Int.self, forKey: .maxBacktracks)
        productPrecision = try container.decodeIfPresent(Precision.self, forKey: .productPrecision) ?? Self().productPrecision
    }
}

/// The floating-point precision of the learner's large network products.
public enum Precision: String, Sendable, Codable, CaseIterable {
    /// `Float` products (sgemm), reductions in `Double`.
    case single
    /// `Double` throughout.
    case double
}

/// A batch of on-policy samples for the policy step.
public struct PolicyBatch<States: StateBatch>: Sendable {
    /// One state per sample, as the policy's network reads them (feature vectors already
    /// normalised, or frames).
    public var observations: States
    /// `[n × actionWidth]`: the actions taken (unclipped).
    public var actions: Matrix
    /// Â_i, one per row (normalised over the batch by the caller if wanted).
    public var advantages: [Double]

    public init(observations: States, actions: Matrix, advantages: [Double]) {
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

/// A sample estimate of the surrogate objective L(θ) that ``Policy/trpoStep(_:configuration:random:)``
/// maximises under the KL constraint.
///
/// The step evaluates everything on the estimator's ``states``: the policy's outputs there
/// give the surrogate, its gradient at θ_old, the mean KL(π_old ‖ π_θ) of the line search and
/// the Fisher matrix; an estimator with ``constraintStates`` has the KL and the Fisher
/// matrix measured there instead. Two estimators exist: ``SinglePathSurrogate`` (importance-weighted
/// advantages of sampled actions, §5.1) and ``VineSurrogate`` (Q̂ of several actions per
/// state, eqs. 15 and 16).
public protocol SurrogateEstimator {
    /// A batch of states as the policy's network reads them.
    associatedtype States: StateBatch

    /// n states (feature vectors already normalised, or frames): the states the surrogate,
    /// the KL and the Fisher matrix are evaluated on.
    var states: States { get }

    /// Fixes π_old, before any other use: its outputs on ``states`` and its log-std.
    /// - Returns: L(θ_old), and whether it and every π_old quantity the estimator keeps
    ///   (log-probabilities of the sampled actions) are finite; the step is rejected if not.
    mutating func bind(head: PolicyHead, oldOutputs: Matrix, oldLogStd: [Double]) -> (surrogate: Double, isFinite: Bool)

    /// L(θ) for a policy whose outputs on ``states`` are `outputs` and whose log-std is
    /// `logStd`.
    func surrogate(outputs: Matrix, logStd: [Double]) -> Double

    /// ∇L at θ_old with respect to the distribution parameters: `[n × outputWidth]` for the
    /// outputs on ``states`` and one entry per log-std. The step pulls the first part back
    /// through the network.
    func gradientAtOld() -> (outputs: Matrix, logStd: [Double])

    /// m states: where the KL constraint and the Fisher matrix are measured when that is not
    /// ``states`` (nil: on ``states``). A vine measures them on its trunks' states, a sample of
    /// ρ_old far larger than its rollout set, with ``VineTrustRegion/trunks``.
    var constraintStates: States? { get }
}

extension SurrogateEstimator {
    public var constraintStates: States? { nil }
}

/// The single-path estimator (§5.1): L(θ) = (1/n) Σ_i π_θ(a_i|s_i) / π_old(a_i|s_i) · Â_i
/// over the samples of a ``PolicyBatch``.
public struct SinglePathSurrogate<States: StateBatch>: SurrogateEstimator, Sendable {
    public let batch: PolicyBatch<States>
    private var head: PolicyHead?
    private var oldOutputs = Matrix(rows: 0, columns: 0)
    private var oldLogStd: [Double] = []
    private var oldLogProbabilities: [Double] = []

    public init(_ batch: PolicyBatch<States>) { self.batch = batch }

    public var states: States { batch.observations }

    public mutating func bind(head: PolicyHead, oldOutputs: Matrix, oldLogStd: [Double]) -> (surrogate: Double, isFinite: Bool) {
        self.head = head
        self.oldOutputs = oldOutputs
        self.oldLogStd = oldLogStd
        oldLogProbabilities = head.logProbabilities(outputs: oldOutputs, logStd: oldLogStd, actions: batch.actions)
        let surrogate = batch.advantages.reduce(0, +) / Double(batch.count)  // ratio = 1
        return (surrogate, surrogate.isFinite && oldLogProbabilities.allFinite)
    }

    public func surrogate(outputs: Matrix, logStd: [Double]) -> Double {
        let logP = head!.logProbabilities(outputs: outputs, logStd: logStd, actions: batch.actions)
        var surrogate = 0.0
        for i in 0..<batch.count { surrogate += exp(logP[i] - oldLogProbabilities[i]) * batch.advantages[i] }
        return surrogate / Double(batch.count)
    }

    /// (1/n) Σ_i Â_i ∇ log π(a_i|s_i) at θ_old, where the ratio is 1.
    public func gradientAtOld() -> (outputs: Matrix, logStd: [Double]) {
        let weights = batch.advantages.map { $0 / Double(batch.count) }
        return head!.weightedLogProbabilityGradient(outputs: oldOutputs, logStd: oldLogStd, actions: batch.actions, weights: weights)
    }
}

extension StochasticPolicy {
    /// L(θ) of an estimator at `parameters`, with π_old = this policy (convenience for
    /// diagnostics and tests; the step itself evaluates trials without rebinding).
    public func surrogate<Estimator: SurrogateEstimator>(_ estimator: Estimator, at parameters: [Double]) -> Double
        where Estimator.States == Network.Input
    {
        var bound = estimator
        _ = bound.bind(head: head, oldOutputs: network.forward(bound.states).output, oldLogStd: logStd)
        var trial = self
        trial.parameters = parameters
        return bound.surrogate(outputs: trial.network.forward(bound.states).output, logStd: trial.logStd)
    }

    /// ∇_θ L at the current parameters (θ = θ_old) of an estimator: its gradient with respect
    /// to the distribution parameters pulled back through the network (reverse mode).
    public func surrogateGradient<Estimator: SurrogateEstimator>(_ estimator: Estimator) -> [Double]
        where Estimator.States == Network.Input
    {
        var bound = estimator
        let tape = network.forward(bound.states)
        _ = bound.bind(head: head, oldOutputs: tape.output, oldLogStd: logStd)
        return pullBack(bound.gradientAtOld(), tape: tape)
    }

    /// θ-gradient from a gradient with respect to the distribution parameters on `tape`'s states.
    func pullBack(_ d: (outputs: Matrix, logStd: [Double]), tape: Network.Tape) -> [Double] {
        var g = [Double](repeating: 0, count: network.parameters.count)
        network.vectorJacobianProduct(tape, outputGradient: d.outputs, into: &g)
        return g + d.logStd
    }

    /// g = ∇_θ L(θ) at the current parameters, where the ratio is 1 (θ = θ_old):
    /// (1/n) Σ_i Â_i ∇_θ log π_θ(a_i|s_i).
    public func surrogateGradient(_ batch: PolicyBatch<Network.Input>, tape: Network.Tape) -> [Double] {
        let weights = batch.advantages.map { $0 / Double(batch.count) }
        return pullBack(head.weightedLogProbabilityGradient(outputs: tape.output, logStd: logStd, actions: batch.actions,
                                                            weights: weights), tape: tape)
    }

    /// The Fisher-vector product F v = (1/n) Σ_i J_iᵀ M_i J_i v (no damping) over the states
    /// recorded in `tape`, evaluated at the current parameters.
    public func fisherVectorProduct(_ v: [Double], tape: Network.Tape) -> [Double] {
        Core.fisherVectorProduct(network: network, tape: tape, head: head, logStd: logStd, v)
    }

    /// ∇_θ of the mean KL(π_old ‖ π_θ) at the current parameters, with π_old given by
    /// `oldOutputs` and `oldLogStd` on the states of `tape`.
    public func meanKLGradient(tape: Network.Tape, oldOutputs: Matrix, oldLogStd: [Double]) -> [Double] {
        pullBack(head.meanKLGradient(oldOutputs: oldOutputs, oldLogStd: oldLogStd, newOutputs: tape.output, newLogStd: logStd),
                 tape: tape)
    }

    /// One TRPO step on `batch` with the single-path estimator; updates the parameters only
    /// when the step is accepted.
    ///
    /// - Parameters:
    ///   - batch: on-policy samples collected with the current parameters.
    ///   - configuration: δ, CG, damping, subsample and line-search settings.
    ///   - random: draws the Fisher subsample.
    /// - Returns: the step's diagnostics; `accepted == false` means θ is unchanged.
    public mutating func trpoStep(_ batch: PolicyBatch<Network.Input>, configuration c: TRPOConfiguration,
                                  random: inout RandomStream) -> TRPOStepReport {
        trpoStep(SinglePathSurrogate(batch), configuration: c, random: &random)
    }

    /// One TRPO step maximising an estimator's surrogate; updates the parameters only when
    /// the step is accepted. The KL constraint and the Fisher matrix are measured on the
    /// estimator's ``SurrogateEstimator/constraintStates`` if it has them and on its states
    /// otherwise (the Fisher matrix on a random `fisherSubsample` of them). The network's
    /// products run in ``TRPOConfiguration/productPrecision`` (``PolicyNetwork``).
    ///
    /// - Parameters:
    ///   - estimator: a surrogate estimated from samples collected with the current parameters.
    ///   - configuration: δ, CG, damping, subsample and line-search settings.
    ///   - random: draws the Fisher subsample.
    /// - Returns: the step's diagnostics; `accepted == false` means θ is unchanged.
    public mutating func trpoStep<Estimator: SurrogateEstimator>(
        _ estimator: Estimator, configuration c: TRPOConfiguration, random: inout RandomStream
    ) -> TRPOStepReport where Estimator.States == Network.Input {
        var report = TRPOStepReport()
        var estimator = estimator
        let states = estimator.states
        guard states.rows > 0 else { report.rejection = .emptyBatch; return report }
        let thetaOld = parameters
        let precision = c.productPrecision

        // 1. π_old on the states and the surrogate at θ_old.
        let products = network.stepProducts(on: states, precision: precision)
        let oldOutputs = products.outputs
        report.entropy = head.meanEntropy(outputs: oldOutputs, logStd: logStd)
        let (before, isFinite) = estimator.bind(head: head, oldOutputs: oldOutputs, oldLogStd: logStd)
        report.surrogateBefore = before
        report.surrogateAfter = report.surrogateBefore
        guard isFinite else { report.rejection = .nonFiniteSurrogate; return report }

        // 2. The policy gradient.
        let d = estimator.gradientAtOld()
        let g = products.pullBack(d.outputs) + d.logStd
        guard g.allFinite else { report.rejection = .nonFiniteGradient; return report }
        guard dot(g, g) > 0 else { report.rejection = .zeroGradient; return report }

        // The states of the KL constraint and the Fisher matrix, and π_old there.
        let constraintStates = estimator.constraintStates
        let constraintProducts = constraintStates.map { network.stepProducts(on: $0, precision: precision) } ?? products
        let oldConstraintOutputs = constraintProducts.outputs

        // 3–4. Natural-gradient direction s ≈ (F + λI)⁻¹ g on a subsample.
        let fisherProducts = fisherSubsample(constraintProducts, fraction: c.fisherSubsample, random: &random)
        let fvp = fisherProducts.fisherOperator(head: head, logStd: logStd, damping: c.damping)
        let cg = conjugateGradient(g, iterations: c.cgIterations, residualTolerance: c.cgResidualTolerance, product: fvp)
        report.cgIterations = cg.iterations
        report.cgResidual = cg.residualNorm
        switch cg.failure {
        case .nonFiniteProduct?: report.rejection = .nonFiniteFisherProduct; return report
        case .nonPositiveCurvature?: report.rejection = .nonPositiveCurvature; return report
        case nil: break
        }
        let s = cg.solution

        // 5. Scale to the trust region: ½ (βs)ᵀF(βs) = δ, with F s as CG accumulated it.
        let fs = cg.product
        guard fs.allFinite else { report.rejection = .nonFiniteFisherProduct; return report }
        let sFs = dot(s, fs)
        guard sFs > 0, sFs.isFinite else { report.rejection = .nonPositiveCurvature; return report }
        let beta = (2 * c.maxKL / sFs).squareRoot()
        let fullStep = s.map { beta * $0 }
        let fullExpected = dot(g, fullStep)

        // 6. Backtracking line search with the KL constraint checked on all the constraint states.
        var fraction = 1.0
        var lastFailure = TRPORejection.klExceeded
        for trial in 0...c.maxBacktracks {
            var theta = thetaOld
            axpy(fraction, fullStep, &theta)
            var candidate = self
            candidate.parameters = theta
            let outputs = candidate.network.outputs(on: states, precision: precision)
            let surrogate = estimator.surrogate(outputs: outputs, logStd: candidate.logStd)
            let kl = head.meanKL(oldOutputs: oldConstraintOutputs, oldLogStd: logStd,
                                 newOutputs: constraintStates.map { candidate.network.outputs(on: $0, precision: precision) } ?? outputs,
                                 newLogStd: candidate.logStd)
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

    /// The products of a random `fraction` of `all`'s states (all of them when the fraction
    /// covers them).
    func fisherSubsample(_ all: any PolicyStepProducts, fraction: Double,
                         random: inout RandomStream) -> any PolicyStepProducts {
        let n = all.rows
        let m = min(n, max(1, Int((fraction * Double(n)).rounded(.up))))
        guard m < n else { return all }
        // Partial Fisher–Yates: the first m entries are a uniform sample without replacement.
        var indices = Array(0..<n)
        for i in 0..<m { indices.swapAt(i, i + random.index(below: n - i)) }
        return all.gatheringRows(Array(indices[..<m]).sorted())  // the rows' forward pass, not recomputed
    }
}

/// The damped Fisher-vector product v ↦ (F + λI) v of a policy on a fixed tape, as conjugate
/// gradient calls it k + 1 times per step: everything that does not depend on v is prepared
/// once (the tape in the products' precision `S`, the parameters, the metric's constants and
/// every scratch buffer), and each product runs one fused forward-mode → metric → reverse-mode
/// pass per row block of ``DenseLayout/rowBlock`` so the block's intermediates stay in cache.
///
/// With `S == Double` this is ``Policy/fisherVectorProduct(_:tape:)`` plus damping up to the
/// summation order. With `S == Float` the network products run in single precision (sgemm);
/// the metric is evaluated in double precision and the per-block parameter gradients are
/// accumulated in a `Double` vector, so the result, and every CG dot product taken of it, is
/// double precision.
final class FisherOperator<S: BLASScalar> {
    let network: MLP
    let head: PolicyHead
    /// The tape's network outputs, `[rows × outputs]`.
    let outputs: [Double]
    let damping: Double
    let rows: Int
    let block: Int
    /// The tape's layer values.
    let values: LayerBuffers<S>
    let theta: UnsafeMutablePointer<S>
    /// `theta`'s weights transposed (``DenseLayout/transposeWeights(_:into:)``).
    let transposedWeights: UnsafeMutablePointer<S>
    let direction: UnsafeMutablePointer<S>
    /// Each block's parameter gradient on its way to the `Double` result.
    let blockGradient: BlockGradient<S>
    let tangents: LayerBuffers<S>
    let gradients: LayerBuffers<S>
    /// M_i J_i v of a block, `[block × outputs]`.
    let metricProduct: UnsafeMutablePointer<S>
    let ones: OnesVector<S>
    let inverseVariance: [Double]

    init(network: MLP, head: PolicyHead, logStd: [Double], tape: DenseTape<S>, damping: Double) {
        self.network = network
        self.head = head
        outputs = tape.output.storage
        self.damping = damping
        rows = tape.rows
        block = min(DenseLayout.rowBlock, max(rows, 1))
        let p = network.parameters.count
        values = tape.values
        let theta = UnsafeMutablePointer<S>.allocate(capacity: p)
        for i in 0..<p { theta[i] = S(network.parameters[i]) }
        self.theta = theta
        transposedWeights = .allocate(capacity: p)
        network.layout.transposeWeights(theta, into: transposedWeights)
        direction = .allocate(capacity: p)
        blockGradient = BlockGradient(count: p)
        tangents = LayerBuffers(widths: network.layerSizes, capacity: block)
        gradients = LayerBuffers(widths: network.layerSizes, capacity: block)
        metricProduct = .allocate(capacity: block * network.outputSize)
        ones = OnesVector(count: block)
        inverseVariance = logStd.map { exp(-2 * $0) }
    }

    deinit {
        theta.deallocate()
        transposedWeights.deallocate()
        direction.deallocate()
        metricProduct.deallocate()
    }

    /// (F + λI) v.
    func apply(_ v: [Double]) -> [Double] {
        let layout = network.layout
        let p = network.parameters.count
        precondition(v.count == p + inverseVariance.count)
        var result = [Double](repeating: 0, count: v.count)
        v.withUnsafeBufferPointer { v in
            for i in 0..<p { direction[i] = S(v[i]) }
        }
        let outputWidth = network.outputSize
        result.withUnsafeMutableBufferPointer { acc in
            inverseVariance.withUnsafeBufferPointer { iv in outputs.withUnsafeBufferPointer { outputs in
                for first in stride(from: 0, to: rows, by: block) {
                    let count = min(block, rows - first)
                    layout.jacobianVectorProduct(
                        activation: network.activation, theta: theta, direction: direction,
                        values: values.pointers, firstRow: first, rows: count, tangents: tangents.pointers)
                    head.applyFisher(
                        outputs: outputs.baseAddress! + first * outputWidth, inverseVariance: iv.baseAddress!,
                        tangent: UnsafePointer(tangents.pointers[layout.layerCount]), rows: count,
                        scale: 1 / Double(rows), into: metricProduct)
                    layout.vectorJacobianProduct(
                        activation: network.activation, theta: theta, transposedWeights: transposedWeights,
                        values: values.pointers, firstRow: first, rows: count, outputGradient: metricProduct, gradients: gradients.pointers,
                        ones: ones.pointer, into: blockGradient.target(acc.baseAddress!))
                    blockGradient.add(into: acc.baseAddress!)
                }
            } }
            // The log-std block of the metric (2·I), then the damping.
            for j in p..<v.count { acc[j] = 2 * v[j] }
            for i in 0..<v.count { acc[i] += damping * v[i] }
        }
        return result
    }
}
