import Foundation
import Testing
@testable import Core

/// The convolutional network's three passes against a direct (per-pixel loop) convolution and
/// central finite differences in `Double`, the adjoint identity between forward and reverse
/// mode, the uint8 frame path, initialisation and the presets.
///
/// Tolerances as in MLPTests: ε = 1e-6 gives a central-difference truncation error ~1e-13 and
/// a rounding error ~1e-9 relative for the O(1–10) functionals used here, so 1e-6 leaves three
/// orders of magnitude of slack while a wrong term shows at 1e-2 or worse.
@Suite struct ConvolutionalNetworkTests {
    /// Odd sizes, stride 1–3, kernels covering the whole image, no hidden dense layer.
    static let architectures: [ConvolutionalArchitecture] = [
        ConvolutionalArchitecture(
            input: ImageShape(height: 10, width: 10, channels: 2),
            convolutions: [ConvolutionSpec(filters: 3, kernel: 3, stride: 2), ConvolutionSpec(filters: 4, kernel: 2, stride: 1)],
            hiddenSizes: [5], activation: .tanh),
        ConvolutionalArchitecture(
            input: ImageShape(height: 9, width: 7, channels: 3),
            convolutions: [ConvolutionSpec(filters: 2, kernel: 3, stride: 2), ConvolutionSpec(filters: 3, kernel: 2, stride: 2)],
            hiddenSizes: [], activation: .tanh),
        ConvolutionalArchitecture(
            input: ImageShape(height: 5, width: 5, channels: 1),
            convolutions: [ConvolutionSpec(filters: 4, kernel: 5, stride: 1)],
            hiddenSizes: [3, 4], activation: .tanh),
        ConvolutionalArchitecture(
            input: ImageShape(height: 11, width: 8, channels: 2),
            convolutions: [ConvolutionSpec(filters: 3, kernel: 4, stride: 3), ConvolutionSpec(filters: 2, kernel: 2, stride: 1)],
            hiddenSizes: [4], activation: .tanh),
    ]
    static let activations = Activation.allCases
    static let outputs = 3
    static let epsilon = 1e-6
    static let tolerance = 1e-6

    static func with(_ architecture: ConvolutionalArchitecture, _ activation: Activation) -> ConvolutionalArchitecture {
        var a = architecture
        a.activation = activation
        return a
    }

    /// A network with random parameters and a batch of inputs. The hidden biases are shifted
    /// by +0.5 so that no ReLU layer of these narrow networks is dead for a whole batch (which
    /// would make the products vacuous); for ReLU the draw is repeated until every
    /// pre-activation is at least 1e-3 from the kink (as in MLPTests), unless `avoidingKinks`
    /// is false (large batches, checked without finite differences).
    static func network(_ architecture: ConvolutionalArchitecture, seed: UInt64, rows: Int = 4, avoidingKinks: Bool = true)
        -> (ConvolutionalNetwork, Matrix)
    {
        var random = RandomStream(seed: seed, path: [UInt64(architecture.input.count), UInt64(architecture.convolutions.count)])
        let layout = ConvolutionLayout(architecture: architecture, outputSize: outputs)
        var hiddenBiases: [Range<Int>] = zip(layout.convolutions, layout.convolutionOffsets).map { g, offset in
            (offset + g.patchWidth * g.filters)..<(offset + g.parameterCount)
        }
        for l in 0..<(layout.dense.layerCount - 1) {
            let start = layout.denseOffset + layout.dense.biasOffset(l)
            hiddenBiases.append(start..<(start + layout.dense.layerSizes[l + 1]))
        }
        while true {
            var parameters = randomVector(layout.parameterCount, scale: 0.4, &random)
            for range in hiddenBiases { for i in range { parameters[i] += 0.5 } }
            let input = randomMatrix(rows: rows, columns: architecture.input.count, &random)
            let reference = naiveConvolutionalForward(architecture, outputs: outputs, parameters: parameters, input: input)
            if avoidingKinks && architecture.activation == .relu && reference.preActivations.contains(where: { abs($0) < 1e-3 }) { continue }
            return (ConvolutionalNetwork(architecture: architecture, outputSize: outputs, parameters: parameters), input)
        }
    }

    @Test(arguments: architectures, activations)
    func forwardMatchesDirectConvolution(architecture: ConvolutionalArchitecture, activation: Activation) {
        let (net, input) = Self.network(Self.with(architecture, activation), seed: 1, rows: 9)
        let tape = net.forward(input)
        let reference = naiveConvolutionalForward(net.architecture, outputs: Self.outputs, parameters: net.parameters, input: input)
        #expect(tape.output.rows == 9 && tape.output.columns == Self.outputs)
        // Only the summation order differs (BLAS vs. loop).
        #expect(relativeError(tape.output.storage, reference.output.storage) < 1e-13)
    }

    @Test(arguments: architectures, activations)
    func vectorJacobianProductMatchesFiniteDifferences(architecture: ConvolutionalArchitecture, activation: Activation) {
        let architecture = Self.with(architecture, activation)
        let (net, input) = Self.network(architecture, seed: 2)
        var random = RandomStream(seed: 20)
        let u = randomMatrix(rows: input.rows, columns: Self.outputs, &random)
        // f(θ) = Σ_ij u_ij · output_ij(θ), by the direct convolution.
        let f = { (theta: [Double]) -> Double in
            let out = naiveConvolutionalForward(architecture, outputs: Self.outputs, parameters: theta, input: input).output
            return zip(out.storage, u.storage).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let expected = finiteDifferenceGradient(at: net.parameters, epsilon: Self.epsilon, f)
        // The product accumulates: start from a known vector and subtract it again.
        let start = randomVector(net.parameters.count, &random)
        var gradient = start
        net.vectorJacobianProduct(net.forward(input), outputGradient: u, into: &gradient)
        let error = relativeError(zip(gradient, start).map { $0 - $1 }, expected)
        reportMeasurement("conv VJP vs FD \(architecture.input) \(activation)", error)
        #expect(error < Self.tolerance)
    }

    @Test(arguments: architectures, activations)
    func inputGradientMatchesFiniteDifferences(architecture: ConvolutionalArchitecture, activation: Activation) {
        let architecture = Self.with(architecture, activation)
        let (net, input) = Self.network(architecture, seed: 3)
        var random = RandomStream(seed: 30)
        let u = randomMatrix(rows: input.rows, columns: Self.outputs, &random)
        let expected = finiteDifferenceGradient(at: input.storage, epsilon: Self.epsilon) { x in
            let out = naiveConvolutionalForward(architecture, outputs: Self.outputs, parameters: net.parameters,
                                                input: Matrix(rows: input.rows, columns: input.columns, storage: x)).output
            return zip(out.storage, u.storage).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var gradient = [Double](repeating: 0, count: net.parameters.count)
        var inputGradient = Matrix(rows: 0, columns: 0)
        net.vectorJacobianProduct(net.forward(input), outputGradient: u, into: &gradient, inputGradient: &inputGradient)
        #expect(inputGradient.rows == input.rows && inputGradient.columns == input.columns)
        #expect(maxAbs(expected) > 1e-2)  // not vacuous: the outputs depend on the input
        let error = relativeError(inputGradient.storage, expected)
        reportMeasurement("conv input VJP vs FD \(architecture.input) \(activation)", error)
        #expect(error < Self.tolerance)
        // The parameter part is the same as without the input gradient.
        var alone = [Double](repeating: 0, count: net.parameters.count)
        net.vectorJacobianProduct(net.forward(input), outputGradient: u, into: &alone)
        #expect(gradient == alone)
    }

    @Test(arguments: architectures, activations)
    func jacobianVectorProductMatchesFiniteDifferences(architecture: ConvolutionalArchitecture, activation: Activation) {
        let architecture = Self.with(architecture, activation)
        let (net, input) = Self.network(architecture, seed: 4)
        var random = RandomStream(seed: 40)
        let v = randomVector(net.parameters.count, &random)
        let expected = finiteDifferenceDirectional(at: net.parameters, direction: v, epsilon: Self.epsilon) { theta in
            naiveConvolutionalForward(architecture, outputs: Self.outputs, parameters: theta, input: input).output.storage
        }
        let jvp = net.jacobianVectorProduct(net.forward(input), tangent: v)
        #expect(jvp.rows == input.rows && jvp.columns == Self.outputs)
        let error = relativeError(jvp.storage, expected)
        reportMeasurement("conv JVP vs FD \(architecture.input) \(activation)", error)
        #expect(error < Self.tolerance)
    }

    /// uᵀ(J v) = (Jᵀ u)ᵀ v, on a batch of several row blocks (the last one partial) of a
    /// network whose first layer gathers its patches three images at a time (rows 3 + 3 + 1 …).
    @Test(arguments: activations)
    func jvpAndVjpAreAdjointOverBlocksAndPatchChunks(activation: Activation) {
        let architecture = ConvolutionalArchitecture(
            input: ImageShape(height: 26, width: 26, channels: 4),
            convolutions: [ConvolutionSpec(filters: 2, kernel: 4, stride: 1), ConvolutionSpec(filters: 2, kernel: 3, stride: 2)],
            hiddenSizes: [4], activation: activation)
        let layout = ConvolutionLayout(architecture: architecture, outputSize: Self.outputs)
        #expect(layout.patchImages[0] == 3)
        let rows = 2 * ConvolutionLayout.rowBlock + 5
        let (net, input) = Self.network(architecture, seed: 5, rows: rows, avoidingKinks: false)
        let tape = net.forward(input)
        let reference = naiveConvolutionalForward(architecture, outputs: Self.outputs, parameters: net.parameters, input: input)
        #expect(relativeError(tape.output.storage, reference.output.storage) < 1e-13)
        var random = RandomStream(seed: 50)
        for _ in 0..<2 {
            let u = randomMatrix(rows: rows, columns: Self.outputs, &random)
            let v = randomVector(net.parameters.count, &random)
            let jv = net.jacobianVectorProduct(tape, tangent: v)
            var jtu = [Double](repeating: 0, count: net.parameters.count)
            net.vectorJacobianProduct(tape, outputGradient: u, into: &jtu)
            let (lhs, rhs) = (dot(u.storage, jv.storage), dot(jtu, v))
            let scale = zip(u.storage, jv.storage).reduce(0) { $0 + abs($1.0 * $1.1) }
            #expect(abs(lhs - rhs) <= 1e-12 * scale)
        }
        // One directional derivative through every block, against the direct convolution
        // (tanh only: ReLU's kinks are not kept away from in a batch this large).
        guard activation == .tanh else { return }
        let v = randomVector(net.parameters.count, &random)
        let expected = finiteDifferenceDirectional(at: net.parameters, direction: v, epsilon: Self.epsilon) { theta in
            naiveConvolutionalForward(architecture, outputs: Self.outputs, parameters: theta, input: input).output.storage
        }
        #expect(relativeError(net.jacobianVectorProduct(tape, tangent: v).storage, expected) < Self.tolerance)
    }

    @Test(arguments: architectures)
    func jvpAndVjpAreAdjoint(architecture: ConvolutionalArchitecture) {
        let (net, input) = Self.network(architecture, seed: 6, rows: 7)
        var random = RandomStream(seed: 60)
        let tape = net.forward(input)
        let u = randomMatrix(rows: input.rows, columns: Self.outputs, &random)
        let v = randomVector(net.parameters.count, &random)
        var jtu = [Double](repeating: 0, count: net.parameters.count)
        net.vectorJacobianProduct(tape, outputGradient: u, into: &jtu)
        let jv = net.jacobianVectorProduct(tape, tangent: v)
        let scale = zip(u.storage, jv.storage).reduce(0) { $0 + abs($1.0 * $1.1) }
        #expect(abs(dot(u.storage, jv.storage) - dot(jtu, v)) <= 1e-12 * scale)
    }

    /// The tape of gathered rows gives the products of a forward pass of those rows (up to
    /// BLAS's kernel choice for a different number of rows: the last bits).
    @Test func gatheredTapeMatchesForwardOfTheRows() {
        let (net, input) = Self.network(Self.architectures[0], seed: 7, rows: 10)
        let indices = [7, 2, 2, 9]
        let gathered = net.forward(input).gatheringRows(indices)
        let direct = net.forward(input.gatheringRows(indices))
        #expect(relativeError(gathered.output.storage, direct.output.storage) < 1e-13)
        var random = RandomStream(seed: 70)
        let v = randomVector(net.parameters.count, &random)
        #expect(relativeError(net.jacobianVectorProduct(gathered, tangent: v).storage,
                              net.jacobianVectorProduct(direct, tangent: v).storage) < 1e-13)
        let u = randomMatrix(rows: indices.count, columns: Self.outputs, &random)
        var fromGathered = [Double](repeating: 0, count: net.parameters.count), fromDirect = fromGathered
        net.vectorJacobianProduct(gathered, outputGradient: u, into: &fromGathered)
        net.vectorJacobianProduct(direct, outputGradient: u, into: &fromDirect)
        #expect(relativeError(fromGathered, fromDirect) < 1e-13)
    }

    /// uint8 frames read as p · (1/255) give exactly the passes of those values as a matrix.
    @Test func framesAreScaledPixels() {
        var architecture = Self.architectures[0]
        architecture.activation = .relu
        let (net, _) = Self.network(architecture, seed: 8)
        var random = RandomStream(seed: 80)
        let rows = 5
        let pixels = (0..<(rows * architecture.input.count)).map { _ in UInt8(random.index(below: 256)) }
        let frames = FrameBatch(shape: architecture.input, rows: rows, pixels: pixels)
        let values = Matrix(rows: rows, columns: architecture.input.count, storage: pixels.map { Double($0) * (1 / 255) })
        let (fromFrames, fromValues) = (net.forward(frames), net.forward(values))
        #expect(fromFrames.output == fromValues.output)
        let u = randomMatrix(rows: rows, columns: Self.outputs, &random)
        var g1 = [Double](repeating: 0, count: net.parameters.count), g2 = g1
        net.vectorJacobianProduct(fromFrames, outputGradient: u, into: &g1)
        net.vectorJacobianProduct(fromValues, outputGradient: u, into: &g2)
        #expect(g1 == g2)
        let v = randomVector(net.parameters.count, &random)
        #expect(net.jacobianVectorProduct(fromFrames, tangent: v) == net.jacobianVectorProduct(fromValues, tangent: v))
        #expect(relativeError(net.forward(frames.gatheringRows([4, 0])).output.storage,
                              fromFrames.gatheringRows([4, 0]).output.storage) < 1e-13)
    }

    /// A non-finite input value is not trapped or hidden: it reaches that row's outputs, its
    /// tangents and the summed gradient, where the policy step's finiteness checks reject the
    /// step (as with the MLP); the other rows stay finite.
    @Test(arguments: activations)
    func nonFiniteInputPropagates(activation: Activation) {
        let (net, clean) = Self.network(Self.with(Self.architectures[0], activation), seed: 9)
        var input = clean
        input[1, 17] = .nan
        let tape = net.forward(input)
        for i in 0..<input.rows {
            let finite = row(tape.output, i).allSatisfy(\.isFinite)
            #expect(finite == (i != 1), "row \(i)")
        }
        var random = RandomStream(seed: 90)
        let jv = net.jacobianVectorProduct(tape, tangent: randomVector(net.parameters.count, &random))
        #expect(!row(jv, 1).allSatisfy(\.isFinite) && row(jv, 0).allSatisfy(\.isFinite))
        var gradient = [Double](repeating: 0, count: net.parameters.count)
        net.vectorJacobianProduct(tape, outputGradient: randomMatrix(rows: input.rows, columns: Self.outputs, &random), into: &gradient)
        #expect(!gradient.allFinite)
    }

    /// The Fisher-vector product of a policy head on a convolutional trunk, composed through
    /// ``DifferentiableNetwork`` (J v, the head's metric, Jᵀ), against the directional
    /// derivative of the mean-KL gradient, for both heads.
    @Test(arguments: [PolicyHead.gaussian(dimensions: 3), .categorical(actions: 3)])
    func fisherVectorProductMatchesFiniteDifferences(head: PolicyHead) {
        let (net, input) = Self.network(Self.architectures[3], seed: 10, rows: 6)
        var random = RandomStream(seed: 100)
        let logStd = (0..<head.logStdCount).map { _ in random.uniform(-0.5, 0.3) }
        let tape = net.forward(input)
        let v = randomVector(net.parameters.count, &random)
        let fv = fisherVectorProduct(net, head: head, logStd: logStd, tape: tape, tangent: v)
        let oldOutputs = tape.output
        let expected = finiteDifferenceDirectional(at: net.parameters, direction: v, epsilon: 1e-5) { theta in
            var moved = net
            moved.parameters = theta
            let movedTape = moved.forward(input)
            let d = head.meanKLGradient(oldOutputs: oldOutputs, oldLogStd: logStd, newOutputs: movedTape.output, newLogStd: logStd)
            var g = [Double](repeating: 0, count: theta.count)
            moved.vectorJacobianProduct(movedTape, outputGradient: d.outputs, into: &g)
            return g
        }
        let error = relativeError(fv, expected)
        reportMeasurement("conv Fisher-vector product vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// Orthogonal initialisation: each convolution's block over √2 has orthonormal columns
    /// (or rows); biases are zero; the dense part is the MLP initialisation drawn next from the
    /// same stream; the same seed gives the same parameters.
    @Test func initialisationIsOrthogonalAndDeterministic() {
        let architecture = ConvolutionalArchitecture.cnnSmall
        var random = RandomStream(seed: 11)
        let net = ConvolutionalNetwork(architecture: architecture, outputSize: 6, outputGain: 0.01, random: &random)
        var again = RandomStream(seed: 11)
        #expect(ConvolutionalNetwork(architecture: architecture, outputSize: 6, outputGain: 0.01, random: &again) == net)
        var offset = 0
        var replay = RandomStream(seed: 11)
        for g in net.layout.convolutions {
            let (rows, columns) = (g.patchWidth, g.filters)
            let w = (0..<(rows * columns)).map { net.parameters[offset + $0] / 2.0.squareRoot() }
            var worst = 0.0
            for a in 0..<columns {
                for b in 0..<columns {
                    var s = 0.0
                    for r in 0..<rows { s += w[r * columns + a] * w[r * columns + b] }
                    worst = max(worst, abs(s - (a == b ? 1 : 0)))
                }
            }
            #expect(worst < 1e-12, "\(rows)×\(columns) block deviates from orthonormal by \(worst)")
            #expect(net.parameters[(offset + rows * columns)..<(offset + g.parameterCount)].allSatisfy { $0 == 0 })
            _ = orthogonalMatrix(rows: rows, columns: columns, random: &replay)
            offset += g.parameterCount
        }
        let dense = MLP(layerSizes: net.layout.dense.layerSizes, activation: .relu, outputGain: 0.01, random: &replay)
        #expect(Array(net.parameters[offset...]) == dense.parameters)
    }

    @Test func presetsHaveTheirShapesAndCounts() {
        let cases: [(ConvolutionalArchitecture, [ImageShape], Int)] = [
            (.paperAtari, [ImageShape(height: 41, width: 41, channels: 16), ImageShape(height: 19, width: 19, channels: 16)], 120_692 + 21 * 6),
            (.cnnSmall, [ImageShape(height: 20, width: 20, channels: 8), ImageShape(height: 9, width: 9, channels: 16)], 170_136 + 129 * 6),
            (.dqn2013, [ImageShape(height: 20, width: 20, channels: 16), ImageShape(height: 9, width: 9, channels: 32)], 676_144 + 257 * 6),
        ]
        for (architecture, shapes, count) in cases {
            #expect(architecture.isValid)
            let layout = ConvolutionLayout(architecture: architecture, outputSize: 6)
            #expect(layout.convolutions.map(\.output) == shapes)
            #expect(layout.parameterCount == count)
        }
        var tooLarge = ConvolutionalArchitecture.cnnSmall
        tooLarge.convolutions.append(ConvolutionSpec(filters: 4, kernel: 10, stride: 1))
        #expect(!tooLarge.isValid)
    }

    @Test func codableRoundTrip() throws {
        var random = RandomStream(seed: 12)
        let net = ConvolutionalNetwork(architecture: Self.architectures[1], outputSize: 2, outputGain: 1, random: &random)
        let decoded = try JSONDecoder().decode(ConvolutionalNetwork.self, from: JSONEncoder().encode(net))
        #expect(decoded == net)
        #expect(decoded.isWellFormed)
    }
}

/// (J v, the head's metric, Jᵀ) for any ``DifferentiableNetwork``: the network part of the
/// policy's Fisher-vector product (no log-std block, no damping).
func fisherVectorProduct<N: DifferentiableNetwork>(_ network: N, head: PolicyHead, logStd: [Double],
                                                   tape: N.Tape, tangent v: [Double]) -> [Double] {
    let jv = network.jacobianVectorProduct(tape, tangent: v)
    let m = head.fisherProduct(outputs: tape.output, logStd: logStd, outputTangent: jv,
                               logStdTangent: [Double](repeating: 0, count: head.logStdCount))
    var result = [Double](repeating: 0, count: v.count)
    network.vectorJacobianProduct(tape, outputGradient: m.outputs, into: &result)
    return result
}

// MARK: - Reference convolutional network

/// A per-pixel loop evaluation of a convolutional network from its flat parameters (each
/// convolution's weights indexed [ky][kx][c][f], then its biases; the dense part as in
/// ``naiveForward(layerSizes:activation:parameters:input:)``), returning the outputs and every
/// pre-activation.
func naiveConvolutionalForward(_ architecture: ConvolutionalArchitecture, outputs: Int, parameters: [Double], input: Matrix)
    -> (output: Matrix, preActivations: [Double])
{
    var preActivations: [Double] = []
    var flattened: [Double] = []
    var flatWidth = 0
    var denseOffset = 0
    for i in 0..<input.rows {
        var image = row(input, i)
        var (h, w, c) = (architecture.input.height, architecture.input.width, architecture.input.channels)
        var offset = 0
        for spec in architecture.convolutions {
            let (k, s, f) = (spec.kernel, spec.stride, spec.filters)
            let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1)
            let biases = offset + k * k * c * f
            var out = [Double](repeating: 0, count: oh * ow * f)
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for filter in 0..<f {
                        var z = parameters[biases + filter]
                        for ky in 0..<k {
                            for kx in 0..<k {
                                for channel in 0..<c {
                                    let pixel = image[((oy * s + ky) * w + (ox * s + kx)) * c + channel]
                                    z += pixel * parameters[offset + ((ky * k + kx) * c + channel) * f + filter]
                                }
                            }
                        }
                        preActivations.append(z)
                        out[(oy * ow + ox) * f + filter] = architecture.activation == .tanh ? Foundation.tanh(z) : max(z, 0)
                    }
                }
            }
            offset = biases + f
            image = out
            (h, w, c) = (oh, ow, f)
        }
        flattened += image
        flatWidth = image.count
        denseOffset = offset
    }
    let dense = naiveForward(layerSizes: [flatWidth] + architecture.hiddenSizes + [outputs], activation: architecture.activation,
                             parameters: Array(parameters[denseOffset...]),
                             input: Matrix(rows: input.rows, columns: flatWidth, storage: flattened))
    return (dense.output, preActivations + dense.preActivations)
}
