import Foundation
import Testing
@testable import Core

/// The generic convolutional passes in `Float` against the `Double` ones (which
/// ConvolutionalNetworkTests checks against finite differences), on uint8 frames over several
/// row blocks, as a single-precision Fisher-vector product would run them; the sampling
/// evaluator against the learner's network.
///
/// Bound as in DenseKernelTests: O(1) values through layers of ≤ 64-wide patches summed in
/// `Float` agree with `Double` to ~1e-6 relative; 1e-4 leaves slack while a wrong term shows
/// at 1e-2 or worse.
@Suite struct ConvolutionKernelTests {
    static let architecture = ConvolutionalArchitecture(
        input: ImageShape(height: 12, width: 11, channels: 3),
        convolutions: [ConvolutionSpec(filters: 4, kernel: 4, stride: 2), ConvolutionSpec(filters: 5, kernel: 3, stride: 1)],
        hiddenSizes: [8], activation: .tanh)
    static let rows = ConvolutionLayout.rowBlock + 11

    /// The three passes in `S` over all rows, block by block: the output, J v and Jᵀ u.
    static func passes<S: BLASScalar>(_ net: ConvolutionalNetwork, _ frames: FrameBatch, v: [Double], u: Matrix,
                                      as _: S.Type) -> (output: [Double], jv: [Double], jtu: [Double]) {
        let layout = net.layout
        let n = frames.rows
        let theta = net.parameters.map { S($0) }, direction = v.map { S($0) }, gOut = u.storage.map { S($0) }
        let values = LayerBuffers<S>(widths: layout.valueWidths, capacity: n)
        let scratch = LayerBuffers<S>(widths: layout.valueWidths, capacity: ConvolutionLayout.rowBlock)
        let ones = OnesVector<S>(count: layout.onesCount(rows: ConvolutionLayout.rowBlock))
        let patches = UnsafeMutablePointer<S>.allocate(capacity: layout.patchCapacity)
        defer { patches.deallocate() }
        var jv = [Double](), jtu = [S](repeating: 0, count: theta.count)
        let last = layout.valueWidths.count - 1
        frames.pixels.withUnsafeBufferPointer { p in
          gOut.withUnsafeBufferPointer { g in
            let input = ConvolutionInput<S>.pixels(p.baseAddress!)
            for first in stride(from: 0, to: n, by: ConvolutionLayout.rowBlock) {
                let count = min(ConvolutionLayout.rowBlock, n - first)
                layout.forward(theta: theta, input: input, values: values.pointers, firstRow: first, rows: count,
                               patches: patches)
                layout.jacobianVectorProduct(theta: theta, direction: direction, input: input, values: values.pointers,
                                             firstRow: first, rows: count, tangents: scratch.pointers, patches: patches)
                jv += UnsafeBufferPointer(start: scratch.pointers[last], count: count * layout.outputSize).map(Double.init)
                layout.vectorJacobianProduct(theta: theta, input: input, values: values.pointers, firstRow: first,
                                             rows: count, outputGradient: g.baseAddress! + first * layout.outputSize,
                                             gradients: scratch.pointers, ones: ones.pointer, patches: patches,
                                             into: &jtu, inputGradient: nil)
            }
          }
        }
        return (values.rows(n, ofLayer: last).map(Double.init), jv, jtu.map(Double.init))
    }

    @Test func samplingEvaluatorMatchesTheLearnerNetwork() {
        var random = RandomStream(seed: 2)
        let net = ConvolutionalNetwork(architecture: Self.architecture, outputSize: 3, outputGain: 1, random: &random)
        let rows = 5
        let frames = FrameBatch(shape: Self.architecture.input, rows: rows,
                                pixels: (0..<(rows * Self.architecture.input.count)).map { _ in UInt8(random.index(below: 256)) })
        let evaluator = ConvolutionalEvaluator(layout: net.layout, capacity: 8)
        evaluator.load(net)
        var output = [Double](repeating: .nan, count: rows * 3)
        frames.pixels.withUnsafeBufferPointer { p in evaluator.evaluate(p.baseAddress!, rows: rows, into: &output) }
        #expect(relativeError(output, net.forward(frames).output.storage) < 1e-4)
    }

    /// The tape-less outputs (one block's buffers) are the forward pass's, bit for bit, in both
    /// precisions, over several row blocks and a partial last one; so are the value
    /// function's predictions.
    @Test func outputsWithoutATapeEqualTheForwardPass() {
        var random = RandomStream(seed: 3)
        let net = ConvolutionalNetwork(architecture: Self.architecture, outputSize: 3, outputGain: 1, random: &random)
        let rows = 2 * ConvolutionLayout.rowBlock + 7
        let frames = FrameBatch(shape: Self.architecture.input, rows: rows,
                                pixels: (0..<(rows * Self.architecture.input.count)).map { _ in UInt8(random.index(below: 256)) })
        #expect(net.outputs(frames, precision: Double.self) == net.forward(frames, precision: Double.self).output)
        #expect(net.outputs(frames, precision: Float.self) == net.forward(frames, precision: Float.self).output)
        let value = ConvolutionalValueFunction(architecture: Self.architecture, learningRate: 1e-3, random: &random)
        #expect(value.predict(frames) == value.network.forward(frames).output.storage)
    }

    @Test func singlePrecisionPassesAgreeWithDouble() {
        var random = RandomStream(seed: 1)
        let net = ConvolutionalNetwork(architecture: Self.architecture, outputSize: 3,
                                       parameters: randomVector(ConvolutionLayout(architecture: Self.architecture, outputSize: 3).parameterCount,
                                                                scale: 0.3, &random))
        let frames = FrameBatch(shape: Self.architecture.input, rows: Self.rows,
                                pixels: (0..<(Self.rows * Self.architecture.input.count)).map { _ in UInt8(random.index(below: 256)) })
        let v = randomVector(net.parameters.count, &random)
        let u = randomMatrix(rows: Self.rows, columns: 3, &random)

        let tape = net.forward(frames)
        var jtu = [Double](repeating: 0, count: net.parameters.count)
        net.vectorJacobianProduct(tape, outputGradient: u, into: &jtu)
        let reference = (output: tape.output.storage, jv: net.jacobianVectorProduct(tape, tangent: v).storage, jtu: jtu)

        let double = Self.passes(net, frames, v: v, u: u, as: Double.self)
        #expect(relativeError(double.output, reference.output) < 1e-13)
        #expect(relativeError(double.jv, reference.jv) < 1e-13)
        #expect(relativeError(double.jtu, reference.jtu) < 1e-13)

        let single = Self.passes(net, frames, v: v, u: u, as: Float.self)
        for (label, a, b) in [("forward", single.output, reference.output), ("JVP", single.jv, reference.jv),
                              ("VJP", single.jtu, reference.jtu)] {
            let error = relativeError(a, b)
            reportMeasurement("conv Float \(label) vs Double", error)
            #expect(error < 1e-4, "\(label)")
        }
    }
}
