import Foundation
import Testing
@testable import Core

/// The generic dense passes: the `Float` specialisation against the `Double` one (which the
/// finite-difference tests in MLPTests and PolicyDerivativeTests check), over several row
/// blocks, and the products the policy step actually calls (``FisherOperator``) against finite
/// differences in `Double`.
///
/// Single-precision bound: inputs and weights of size O(1) through 64-wide layers give
/// products with ~8 significant digits before summation; with blocks of ≤ 256 rows summed in
/// `Float` and the blocks in `Double`, a normwise relative error of 1e-4 leaves an order of
/// magnitude of slack over the ~1e-5 measured, while a wrong term shows at 1e-2 or worse.
@Suite struct DenseKernelTests {
    static let sizes = [7, 64, 64, 3]
    /// More than two row blocks, the last one partial.
    static let rows = 2 * DenseLayout.rowBlock + 37

    static func network(seed: UInt64) -> (MLP, Matrix) {
        var random = RandomStream(seed: seed)
        let parameters = randomVector(MLP.parameterCount(layerSizes: sizes), scale: 0.2, &random)
        return (MLP(layerSizes: sizes, activation: .tanh, parameters: parameters),
                randomMatrix(rows: rows, columns: sizes[0], &random))
    }

    /// The layer values of a forward pass in `S`.
    static func forward<S: BLASScalar>(_ net: MLP, _ input: Matrix, as _: S.Type) -> [S] {
        let values = LayerBuffers<S>(widths: net.layerSizes, capacity: input.rows)
        for i in 0..<input.storage.count { values.pointers[0][i] = S(input.storage[i]) }
        let theta = net.parameters.map { S($0) }
        theta.withUnsafeBufferPointer { t in
            net.layout.forward(activation: net.activation, theta: t.baseAddress!, values: values.pointers,
                               firstRow: 0, rows: input.rows)
        }
        return values.rows(input.rows, ofLayer: net.layerSizes.count - 1)
    }

    @Test func singlePrecisionForwardAgreesWithDouble() {
        let (net, input) = Self.network(seed: 1)
        let double = net.forward(input).output.storage
        // One pass or in row blocks: only BLAS's kernel choice for the tail rows can differ.
        #expect(relativeError(Self.forward(net, input, as: Double.self), double) < 1e-13)
        let single = Self.forward(net, input, as: Float.self).map(Double.init)
        let error = relativeError(single, double)
        reportMeasurement("Float forward vs Double", error)
        #expect(error < 1e-4)
    }

    @Test func policyEvaluatorMatchesTheLearnerNetwork() {
        let (net, input) = Self.network(seed: 2)
        let evaluator = PolicyEvaluator(layerSizes: net.layerSizes, activation: .tanh, capacity: input.rows)
        evaluator.load(net)
        var output = [Double](repeating: .nan, count: input.rows * net.outputSize)
        input.storage.withUnsafeBufferPointer { x in evaluator.evaluate(x.baseAddress!, rows: input.rows, into: &output) }
        #expect(relativeError(output, net.forward(input).output.storage) < 1e-4)
    }

    @Test(arguments: [PolicyHead.gaussian(dimensions: 3), .categorical(actions: 3)])
    func fisherOperatorMatchesFiniteDifferencesAndFloatAgrees(head: PolicyHead) {
        var random = RandomStream(seed: 3, path: [UInt64(head.outputWidth)])
        var policy = Policy(observationSize: 7, head: head, hiddenSizes: [64, 64], initialLogStd: -0.3, random: &random)
        policy.parameters = randomVector(policy.parameterCount, scale: 0.2, &random)
        let states = randomMatrix(rows: Self.rows, columns: 7, &random)
        let tape = policy.network.forward(states)
        let v = randomVector(policy.parameterCount, &random)
        let damping = 0.1

        let exact = FisherOperator<Double>(network: policy.network, head: head, logStd: policy.logStd, tape: tape, damping: damping).apply(v)
        var reference = policy.fisherVectorProduct(v, tape: tape)
        for i in v.indices { reference[i] += damping * v[i] }
        #expect(relativeError(exact, reference) < 1e-12)  // summation order only

        // F v as the derivative of the KL gradient (ε = 1e-5, as in PolicyDerivativeTests).
        let (oldOutputs, oldLogStd) = (tape.output, policy.logStd)
        var expected = finiteDifferenceDirectional(at: policy.parameters, direction: v, epsilon: 1e-5) { t in
            var p = policy
            p.parameters = t
            return p.meanKLGradient(tape: p.network.forward(states), oldOutputs: oldOutputs, oldLogStd: oldLogStd)
        }
        for i in v.indices { expected[i] += damping * v[i] }
        let fdError = relativeError(exact, expected)
        reportMeasurement("FisherOperator<Double> vs FD \(head)", fdError)
        #expect(fdError < 1e-6)

        let single = FisherOperator<Float>(network: policy.network, head: head, logStd: policy.logStd,
                                           tape: policy.network.forward(states, precision: Float.self), damping: damping).apply(v)
        let floatError = relativeError(single, exact)
        reportMeasurement("FisherOperator<Float> vs Double \(head)", floatError)
        #expect(floatError < 1e-4)
        #expect(single.allFinite)
    }

    /// The policy step's other products: the forward pass that records a tape, the tape-less
    /// forward of the line search, and reverse mode over a tape, in either precision.
    @Test func tapesAndReverseModeInEitherPrecision() {
        var random = RandomStream(seed: 4)
        var net = MLP(layerSizes: [7, 64, 64, 3], outputGain: 0.01, random: &random)
        net.parameters = randomVector(net.parameters.count, scale: 0.2, &random)
        let input = randomMatrix(rows: Self.rows, columns: 7, &random)
        let exact = net.forward(input)
        // The tape-less forward runs the same blocks in the same order: identical in Double.
        #expect(net.outputs(input, precision: Double.self) == exact.output)
        let single = net.forward(input, precision: Float.self)
        let outputError = relativeError(single.output.storage, exact.output.storage)
        reportMeasurement("Float forward vs Double", outputError)
        #expect(outputError < 1e-5)
        #expect(net.outputs(input, precision: Float.self) == single.output)
        #expect(single.gatheringRows([5, 1]).output.storage
                == Array(single.output.storage[15..<18]) + Array(single.output.storage[3..<6]))

        let outputGradient = randomMatrix(rows: Self.rows, columns: 3, &random)
        var reference = [Double](repeating: 0, count: net.parameters.count)
        for row in 0..<Self.rows {  // one row at a time: a different summation from the blocks
            let one = Matrix(rows: 1, columns: 3, storage: Array(outputGradient.storage[(row * 3)..<(row * 3 + 3)]))
            let rowInput = Matrix(rows: 1, columns: 7, storage: Array(input.storage[(row * 7)..<(row * 7 + 7)]))
            net.vectorJacobianProduct(net.forward(rowInput), outputGradient: one, into: &reference)
        }
        var double = [Double](repeating: 1, count: net.parameters.count)  // added to, not overwritten
        net.vectorJacobianProduct(exact, outputGradient: outputGradient, into: &double)
        #expect(relativeError(double.map { $0 - 1 }, reference) < 1e-12)
        var float = [Double](repeating: 0, count: net.parameters.count)
        net.vectorJacobianProduct(single, outputGradient: outputGradient, into: &float)
        let gradientError = relativeError(float, reference)
        reportMeasurement("Float reverse mode vs Double", gradientError)
        #expect(gradientError < 1e-4)
    }

    @Test func singlePrecisionAdamFollowsDouble() {
        var random = RandomStream(seed: 5)
        var pd = randomVector(50, &random)
        var pf = pd.map { Float($0) }
        var ad = Adam(parameterCount: 50, learningRate: 1e-2)
        var af = AdamOptimizer<Float>(parameterCount: 50, learningRate: 1e-2)
        for _ in 0..<20 {
            let g = randomVector(50, &random)
            ad.step(&pd, gradient: g)
            af.step(&pf, gradient: g.map { Float($0) })
        }
        #expect(relativeError(pf.map(Double.init), pd) < 1e-5)
    }
}

/// The value fit's thread yields its core to samplers; the thread that asks is the only one.
@Suite struct ThreadPriorityTests {
    @Test func yieldingLowersOnlyTheCallingThread() async {
        let before = ThreadPriority.currentNiceness
        let inside = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread {
                ThreadPriority.yieldToOtherWork()
                done.resume(returning: ThreadPriority.currentNiceness)
            }
        }
        #expect(inside == ThreadPriority.background)
        #expect(ThreadPriority.currentNiceness == before)
    }
}
