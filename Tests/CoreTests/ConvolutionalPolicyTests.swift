import Foundation
import Testing
@testable import Core

/// TRPO on frames: a ``ConvolutionalPolicy``'s policy-level derivatives (θ = network
/// parameters ++ log-std) against central differences of quantities computed independently
/// (the per-pixel reference convolution of ConvolutionalNetworkTests and closed-form
/// densities), the step's promises on a batch of uint8 frames, and learning from pixels.
@Suite struct ConvolutionalPolicyTests {
    /// Non-square frames, two convolutions (stride 2 dropping an edge column, then stride 1),
    /// a hidden dense layer.
    static let architecture = ConvolutionalArchitecture(
        input: ImageShape(height: 9, width: 8, channels: 2),
        convolutions: [ConvolutionSpec(filters: 3, kernel: 3, stride: 2), ConvolutionSpec(filters: 2, kernel: 2, stride: 1)],
        hiddenSizes: [5], activation: .tanh)
    static let heads: [PolicyHead] = [.gaussian(dimensions: 2), .categorical(actions: 3)]

    static func randomFrames(rows: Int, shape: ImageShape, _ random: inout RandomStream) -> FrameBatch {
        FrameBatch(shape: shape, rows: rows, pixels: (0..<(rows * shape.count)).map { _ in UInt8(random.index(below: 256)) })
    }

    /// The frames as the network reads them, `p / 255`, one image per row.
    static func scaled(_ frames: FrameBatch) -> Matrix {
        Matrix(rows: frames.rows, columns: frames.shape.count, storage: frames.pixels.map { Double($0) / 255 })
    }

    /// A policy with generic (randomised) parameters, frames, actions drawn from it, random
    /// advantages, and a second parameter vector θ_old near θ.
    static func setup(_ head: PolicyHead, seed: UInt64, rows: Int = 6)
        -> (policy: ConvolutionalPolicy, batch: PolicyBatch<FrameBatch>, thetaOld: [Double])
    {
        var random = RandomStream(seed: seed, path: [UInt64(head.outputWidth)])
        var policy = ConvolutionalPolicy(architecture: architecture, head: head, initialLogStd: -0.3, random: &random)
        let netCount = policy.network.parameters.count
        policy.parameters = randomVector(netCount, scale: 0.4, &random) + (0..<head.logStdCount).map { _ in random.uniform(-0.5, 0.3) }
        let frames = randomFrames(rows: rows, shape: architecture.input, &random)
        let outputs = policy.network.forward(frames).output
        var actions = Matrix(rows: rows, columns: head.actionWidth)
        for i in 0..<rows {
            switch head {
            case .categorical(let k): actions[i, 0] = Double(random.index(below: k))
            case .gaussian(let d):
                for j in 0..<d { actions[i, j] = outputs[i, j] + exp(policy.logStd[j]) * random.normal() }
            }
        }
        let thetaOld = policy.parameters.map { $0 + 0.05 * random.normal() }
        return (policy, PolicyBatch(observations: frames, actions: actions, advantages: randomVector(rows, &random)), thetaOld)
    }

    /// The distribution parameters at θ by the per-pixel reference convolution.
    static func referenceOutputs(_ policy: ConvolutionalPolicy, theta: [Double], frames: FrameBatch) -> (outputs: Matrix, logStd: [Double]) {
        let n = policy.network.parameters.count
        let outputs = naiveConvolutionalForward(architecture, outputs: policy.head.outputWidth, parameters: Array(theta[..<n]),
                                                input: scaled(frames)).output
        return (outputs, Array(theta[n...]))
    }

    static func referenceSurrogate(_ policy: ConvolutionalPolicy, theta: [Double], thetaOld: [Double],
                                   batch: PolicyBatch<FrameBatch>) -> Double {
        func logProbabilities(_ t: [Double]) -> [Double] {
            let (outputs, logStd) = referenceOutputs(policy, theta: t, frames: batch.observations)
            return (0..<batch.count).map {
                referenceLogProbability(head: policy.head, output: row(outputs, $0), logStd: logStd, action: row(batch.actions, $0))
            }
        }
        let (logP, logPOld) = (logProbabilities(theta), logProbabilities(thetaOld))
        return (0..<batch.count).reduce(0) { $0 + Foundation.exp(logP[$1] - logPOld[$1]) * batch.advantages[$1] } / Double(batch.count)
    }

    static func referenceKL(_ policy: ConvolutionalPolicy, theta: [Double], thetaOld: [Double], frames: FrameBatch) -> Double {
        let new = referenceOutputs(policy, theta: theta, frames: frames)
        let old = referenceOutputs(policy, theta: thetaOld, frames: frames)
        return referenceMeanKL(head: policy.head, oldOutputs: old.outputs, oldLogStd: old.logStd,
                               newOutputs: new.outputs, newLogStd: new.logStd)
    }

    /// ∇L(θ_old) through the convolutional trunk, the log-std block included (ε = 1e-6, as in
    /// PolicyDerivativeTests).
    @Test(arguments: heads)
    func surrogateGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 1)
        let theta = policy.parameters
        let expected = finiteDifferenceGradient(at: theta, epsilon: 1e-6) { t in
            Self.referenceSurrogate(policy, theta: t, thetaOld: theta, batch: batch)
        }
        let g = policy.surrogateGradient(SinglePathSurrogate(batch))
        #expect(g.count == policy.parameterCount)
        let error = relativeError(g, expected)
        reportMeasurement("conv policy surrogate gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// ∇_θ mean KL(π_old ‖ π_θ) at θ ≠ θ_old against differences of the reference KL.
    @Test(arguments: heads)
    func meanKLGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (policy, batch, thetaOld) = Self.setup(head, seed: 2)
        let frames = batch.observations
        var old = policy
        old.parameters = thetaOld
        let expected = finiteDifferenceGradient(at: policy.parameters, epsilon: 1e-6) { t in
            Self.referenceKL(policy, theta: t, thetaOld: thetaOld, frames: frames)
        }
        let g = policy.meanKLGradient(tape: policy.network.forward(frames), oldOutputs: old.network.forward(frames).output,
                                      oldLogStd: old.logStd)
        let error = relativeError(g, expected)
        reportMeasurement("conv policy KL gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// The operator the step hands to conjugate gradient, (F + λI) v with the log-std block,
    /// against the directional derivative of the mean-KL gradient at θ = θ_old (F is the
    /// KL's Hessian there), whatever the step's precision; its subsample against a forward
    /// pass of the chosen rows (equal up to the rounding of BLAS's blocking).
    @Test(arguments: heads)
    func stepFisherOperatorMatchesFiniteDifferences(head: PolicyHead) {
        let (policy, batch, _) = Self.setup(head, seed: 3)
        let frames = batch.observations
        var random = RandomStream(seed: 30)
        let v = randomVector(policy.parameterCount, &random)
        let damping = 0.1
        let oldOutputs = policy.network.forward(frames).output
        var expected = finiteDifferenceDirectional(at: policy.parameters, direction: v, epsilon: 1e-5) { t in
            var moved = policy
            moved.parameters = t
            return moved.meanKLGradient(tape: moved.network.forward(frames), oldOutputs: oldOutputs, oldLogStd: policy.logStd)
        }
        for i in v.indices { expected[i] += damping * v[i] }
        for precision in Precision.allCases {
            let products = policy.network.stepProducts(on: frames, precision: precision)
            let fv = products.fisherOperator(head: head, logStd: policy.logStd, damping: damping)(v)
            let error = relativeError(fv, expected)
            reportMeasurement("conv policy Fisher operator vs FD \(head) \(precision)", error)
            #expect(error < 1e-6)
        }

        let rows = [4, 1, 3]
        let gathered = policy.network.stepProducts(on: frames, precision: .double).gatheringRows(rows)
        let direct = policy.network.stepProducts(on: frames.gatheringRows(rows), precision: .double)
        #expect(gathered.rows == 3)
        #expect(relativeError(gathered.outputs.storage, direct.outputs.storage) < 1e-13)  // BLAS blocking only
        #expect(relativeError(gathered.fisherOperator(head: head, logStd: policy.logStd, damping: damping)(v),
                              direct.fisherOperator(head: head, logStd: policy.logStd, damping: damping)(v)) < 1e-13)
    }

    /// An accepted step on 64 frames: the measured KL (recomputed by the reference) within δ,
    /// the reference surrogate improved by what the report says, θ moved, and the same seed
    /// giving the same θ bit for bit. With the products in `Float` (the default) the report's
    /// KL and improvement are those of the `Float` outputs, so they agree with the `Double`
    /// reference to `Float`'s rounding (relative 1e-5) rather than to 1e-9.
    @Test(arguments: heads, Precision.allCases)
    func stepOnFramesKeepsItsPromises(head: PolicyHead, precision: Precision) {
        let (start, batch, _) = Self.setup(head, seed: 4, rows: 64)
        var c = TRPOConfiguration()
        c.fisherSubsample = 0.25
        c.productPrecision = precision
        let tolerance = precision == .double ? 1e-9 : 1e-5
        func step() -> (ConvolutionalPolicy, TRPOStepReport) {
            var policy = start
            var random = RandomStream(seed: 40)
            let report = policy.trpoStep(batch, configuration: c, random: &random)
            return (policy, report)
        }
        let (policy, report) = step()
        #expect(report.accepted, "rejected: \(String(describing: report.rejection))")
        #expect(report.kl > 0 && report.kl <= c.maxKL)
        let kl = Self.referenceKL(start, theta: policy.parameters, thetaOld: start.parameters, frames: batch.observations)
        #expect(abs(kl - report.kl) <= tolerance * max(kl, 1e-3))
        let surrogate = Self.referenceSurrogate(start, theta: policy.parameters, thetaOld: start.parameters, batch: batch)
        let before = batch.advantages.reduce(0, +) / Double(batch.count)
        #expect(surrogate > before)
        #expect(abs((surrogate - before) - report.actualImprovement) <= tolerance * max(abs(surrogate - before), 1e-3))
        #expect(policy.parameters != start.parameters)
        #expect(bitPatterns(step().0.parameters) == bitPatterns(policy.parameters))
    }

    /// Non-finite advantages end the step before anything moves.
    @Test func nonFiniteAdvantagesAreRejected() {
        let (start, batch, _) = Self.setup(.categorical(actions: 3), seed: 5, rows: 16)
        var corrupted = batch
        corrupted.advantages[7] = .nan
        var policy = start
        var random = RandomStream(seed: 50)
        let report = policy.trpoStep(corrupted, configuration: TRPOConfiguration(), random: &random)
        #expect(!report.accepted)
        #expect(report.rejection == .nonFiniteSurrogate)
        #expect(bitPatterns(policy.parameters) == bitPatterns(start.parameters))
    }

    /// TRPO learns from pixels: a contextual bandit whose frame shows a bright 3×3 block in
    /// the left or the right half, where action 0 pays 1 on the left and action 1 on the
    /// right. From a near-uniform initial policy (P(correct) ≈ 0.5), 25 steps of δ = 0.02 on
    /// 128 sampled frames each, with the mean reward as baseline, must make the correct action
    /// likely on fresh frames.
    @Test func pixelBanditIsLearned() {
        let shape = ImageShape(height: 12, width: 12, channels: 1)
        let architecture = ConvolutionalArchitecture(
            input: shape, convolutions: [ConvolutionSpec(filters: 4, kernel: 4, stride: 2)], hiddenSizes: [16], activation: .relu)
        var random = RandomStream(seed: 7)
        var policy = ConvolutionalPolicy(architecture: architecture, head: .categorical(actions: 2), random: &random)

        func scenes(_ n: Int) -> (FrameBatch, [Int]) {
            var pixels = [UInt8](repeating: 20, count: n * shape.count)
            var sides: [Int] = []
            for i in 0..<n {
                let side = random.index(below: 2)
                sides.append(side)
                let (y, x) = (random.index(below: 10), side * 6 + random.index(below: 4))
                for dy in 0..<3 { for dx in 0..<3 { pixels[i * shape.count + (y + dy) * shape.width + x + dx] = 255 } }
            }
            return (FrameBatch(shape: shape, rows: n, pixels: pixels), sides)
        }
        func correctProbability() -> Double {
            let (frames, sides) = scenes(400)
            let logits = policy.network.forward(frames).output
            return (0..<frames.rows).reduce(0) { $0 + referenceSoftmax(row(logits, $1))[sides[$1]] } / Double(frames.rows)
        }

        let initial = correctProbability()
        var c = TRPOConfiguration()
        c.maxKL = 0.02
        c.fisherSubsample = 0.5
        for _ in 0..<25 {
            let (frames, sides) = scenes(128)
            let logits = policy.network.forward(frames).output
            var actions = Matrix(rows: frames.rows, columns: 1)
            var rewards: [Double] = []
            for i in 0..<frames.rows {
                let p = referenceSoftmax(row(logits, i))
                let a = random.uniform(0, 1) < p[0] ? 0 : 1
                actions[i, 0] = Double(a)
                rewards.append(a == sides[i] ? 1 : 0)
            }
            let baseline = rewards.reduce(0, +) / Double(rewards.count)
            let report = policy.trpoStep(PolicyBatch(observations: frames, actions: actions, advantages: rewards.map { $0 - baseline }),
                                         configuration: c, random: &random)
            #expect(report.rejection == nil || report.rejection == .zeroGradient)
        }
        let final = correctProbability()
        reportMeasurement("pixel bandit P(correct) before", initial)
        reportMeasurement("pixel bandit P(correct) after", final)
        #expect(abs(initial - 0.5) < 0.05)
        #expect(final > 0.9)
    }

    /// A convolutional policy survives JSON (as a checkpoint stores it); a dense one still
    /// encodes as `head`, `network`, `logStd`, the keys of checkpoints written before policies
    /// took either trunk.
    @Test func codableRoundTrip() throws {
        let (policy, _, _) = Self.setup(.gaussian(dimensions: 2), seed: 6)
        let decoded = try JSONDecoder().decode(ConvolutionalPolicy.self, from: JSONEncoder().encode(policy))
        #expect(decoded == policy)
        #expect(decoded.isWellFormed)

        var random = RandomStream(seed: 60)
        let dense = Policy(observationSize: 3, head: .categorical(actions: 2), hiddenSizes: [4], random: &random)
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(dense)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["head", "network", "logStd"])
        #expect(try JSONDecoder().decode(Policy.self, from: JSONEncoder().encode(dense)) == dense)
    }
}
