/// A convolutional network `image ↦ dense(flatten(conv_L(… conv_1(image))))` with a linear
/// output: the trunk for policies and value functions on pixels, with the same contract as
/// ``MLP`` (``DifferentiableNetwork``): `Double` parameters in one flat vector
/// (``ConvolutionLayout``), batched passes on BLAS that return a tape, reverse mode (a
/// vector–Jacobian product, for gradients; also with respect to the input) and forward mode
/// (a Jacobian–vector product, for Fisher-vector products).
///
/// Input: one image per row, channels-last `height × width × channels`
/// (``ConvolutionalArchitecture/input``), either uint8 frames (``FrameBatch``, read as
/// `p / 255`) or real values (`Matrix`, used as they are).
public struct ConvolutionalNetwork: Sendable, Codable, Equatable {
    public let architecture: ConvolutionalArchitecture
    /// The flat parameter vector (see ``ConvolutionLayout`` for the layout).
    public var parameters: [Double]
    /// The parameter layout and the generic passes.
    public let layout: ConvolutionLayout

    private enum CodingKeys: String, CodingKey { case architecture, outputSize, parameters }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try container.decode(ConvolutionalArchitecture.self, forKey: .architecture)
        let outputSize = try container.decode(Int.self, forKey: .outputSize)
        parameters = try container.decode([Double].self, forKey: .parameters)
        guard architecture.isValid, outputSize > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .architecture, in: container,
                                                   debugDescription: "invalid convolutional architecture")
        }
        layout = ConvolutionLayout(architecture: architecture, outputSize: outputSize)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(architecture, forKey: .architecture)
        try container.encode(outputSize, forKey: .outputSize)
        try container.encode(parameters, forKey: .parameters)
    }

    /// Values per input row: `architecture.input.count`.
    public var inputSize: Int { layout.inputSize }
    public var outputSize: Int { layout.outputSize }

    /// True when the parameter vector has the layout's length. (A decoded network may violate
    /// this; a constructed one cannot.)
    public var isWellFormed: Bool { parameters.count == layout.parameterCount }

    /// A network with orthogonal initial weights and zero biases, drawn from `random`: every
    /// convolution's `[k·k·C × F]` block and every hidden dense block orthogonal with gain √2
    /// (Baselines' `ortho_init(√2)` for its conv and fc layers), the output block with
    /// `outputGain`. The convolutions draw first, then the dense part exactly as an ``MLP`` of
    /// its widths would, so the same seed gives the same parameters.
    /// - Precondition: `architecture.isValid` and `outputSize > 0`.
    public init(architecture: ConvolutionalArchitecture, outputSize: Int, outputGain: Double, random: inout RandomStream) {
        self.architecture = architecture
        layout = ConvolutionLayout(architecture: architecture, outputSize: outputSize)
        var parameters: [Double] = []
        parameters.reserveCapacity(layout.parameterCount)
        for g in layout.convolutions {
            let block = orthogonalMatrix(rows: g.patchWidth, columns: g.filters, random: &random)
            parameters += block.map { 2.0.squareRoot() * $0 }
            parameters += repeatElement(0, count: g.filters)
        }
        parameters += MLP(layerSizes: layout.dense.layerSizes, activation: architecture.activation,
                          outputGain: outputGain, random: &random).parameters
        self.parameters = parameters
    }

    /// A network over given parameters.
    /// - Precondition: `architecture.isValid`, `outputSize > 0` and the count matches.
    public init(architecture: ConvolutionalArchitecture, outputSize: Int, parameters: [Double]) {
        self.architecture = architecture
        layout = ConvolutionLayout(architecture: architecture, outputSize: outputSize)
        precondition(parameters.count == layout.parameterCount, "parameter count does not match the architecture")
        self.parameters = parameters
    }

    /// The double-precision tape (``DifferentiableNetwork``).
    public typealias Tape = ConvolutionTape<Double>

    // MARK: - Batched passes

    /// Evaluates the network on a batch of frames.
    /// - Parameter frames: `shape == architecture.input`.
    /// - Returns: the tape; its ``ConvolutionTape/output`` is `[n × outputSize]`.
    public func forward(_ frames: FrameBatch) -> Tape { forward(frames, precision: Double.self) }

    /// Evaluates the network on a batch of frames with its products in `S`: the tape keeps
    /// every layer's output in `S` (and the frames as bytes); its output is `Double`.
    /// - Parameter frames: `shape == architecture.input`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ frames: FrameBatch, precision: S.Type) -> ConvolutionTape<S> {
        precondition(frames.shape == architecture.input, "frames are \(frames.shape), the network takes \(architecture.input)")
        return forward(.pixels(frames.pixels), rows: frames.rows)
    }

    /// Evaluates the network on a batch of real-valued images.
    /// - Parameter input: `[n × inputSize]`, one channels-last image per row.
    /// - Returns: the tape; its ``ConvolutionTape/output`` is `[n × outputSize]`.
    public func forward(_ input: Matrix) -> Tape {
        precondition(input.columns == inputSize, "input has \(input.columns) columns, the network takes \(inputSize)")
        return forward(.values(input.storage), rows: input.rows)
    }

    func forward<S: BLASScalar>(_ input: ConvolutionTape<S>.Input, rows n: Int) -> ConvolutionTape<S> {
        let values = LayerBuffers<S>(widths: layout.valueWidths, capacity: n)
        let patches = UnsafeMutablePointer<S>.allocate(capacity: layout.patchCapacity)
        defer { patches.deallocate() }
        withParameters(as: S.self) { theta in
            input.withPassInput { x in
                for first in stride(from: 0, to: n, by: ConvolutionLayout.rowBlock) {
                    layout.forward(theta: theta, input: x, values: values.pointers, firstRow: first,
                                   rows: min(ConvolutionLayout.rowBlock, n - first), patches: patches)
                }
            }
        }
        return ConvolutionTape(input: input, inputWidth: inputSize, values: values, rows: n)
    }

    /// The outputs on `frames` with the products in `S`, `[n × outputSize]`, without keeping
    /// a tape: the forward pass runs a row block at a time through block-sized buffers, so it
    /// holds one block's layer values instead of every row's (for 8,192 Atari frames and
    /// cnn_small, 0.3 MB instead of 303 MB in `Double`). The same numbers as
    /// `forward(frames, precision:).output`: the same blocks through the same kernels.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func outputs<S: BLASScalar>(_ frames: FrameBatch, precision: S.Type) -> Matrix {
        precondition(frames.shape == architecture.input, "frames are \(frames.shape), the network takes \(architecture.input)")
        return withParameters(as: S.self) { theta in
            frames.pixels.withUnsafeBufferPointer { pixels in
                blockwise(rows: frames.rows) { first, rows, buffers, patches in
                    // The block's frames as rows 0 ..< rows of their own input.
                    layout.forward(theta: theta, input: .pixels(pixels.baseAddress! + first * inputSize), values: buffers,
                                   firstRow: 0, rows: rows, patches: patches)
                }
            }
        }
    }

    /// A pass over `n` rows a row block at a time: `pass(first, rows, buffers, patches)` fills
    /// block-sized layer buffers (rows `0 ..< rows`) for rows `first ..< first + rows`; the
    /// last buffer (the output) of each block is gathered into the `[n × outputSize]` result.
    private func blockwise<S: BLASScalar>(
        rows n: Int, _ pass: (_ first: Int, _ rows: Int, [UnsafeMutablePointer<S>], UnsafeMutablePointer<S>) -> Void
    ) -> Matrix {
        let block = min(ConvolutionLayout.rowBlock, max(n, 1))
        let buffers = LayerBuffers<S>(widths: layout.valueWidths, capacity: block)
        let patches = UnsafeMutablePointer<S>.allocate(capacity: layout.patchCapacity)
        defer { patches.deallocate() }
        var result = Matrix(uninitializedRows: n, columns: outputSize)
        let output = buffers.pointers[layout.valueWidths.count - 1]
        result.storage.withUnsafeMutableBufferPointer { out in
            for first in stride(from: 0, to: n, by: block) {
                let rows = min(block, n - first)
                pass(first, rows, buffers.pointers, patches)
                for i in 0..<(rows * outputSize) { out[first * outputSize + i] = Double(output[i]) }
            }
        }
        return result
    }

    /// Calls `body` with the parameters in `S` (the stored vector itself when `S == Double`).
    func withParameters<S: BLASScalar, R>(as type: S.Type, _ body: (UnsafePointer<S>) -> R) -> R {
        parameters.withScalars(as: type, body)
    }

    /// Reverse mode: accumulates `(∂output/∂θ)ᵀ · outputGradient`, summed over the batch,
    /// into `gradient`. The products run in the tape's precision `S`; each row block's
    /// gradient is added to `gradient` in double precision.
    /// - Parameters:
    ///   - tape: a forward pass of this network.
    ///   - outputGradient: `[n × outputSize]`, the gradient of a scalar w.r.t. the outputs.
    ///   - gradient: `parameters.count` values, added to (not overwritten).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func vectorJacobianProduct<S: BLASScalar>(_ tape: ConvolutionTape<S>, outputGradient: Matrix,
                                                     into gradient: inout [Double]) {
        reverse(tape, outputGradient: outputGradient, into: &gradient, inputGradient: nil)
    }

    /// Reverse mode with respect to the parameters and the input: as
    /// ``vectorJacobianProduct(_:outputGradient:into:)``, and returns
    /// `(∂output/∂input)ᵀ · outputGradient` row by row, `[n × inputSize]`, with respect to the
    /// values the network reads (for frames: `p / 255`).
    public func vectorJacobianProduct(_ tape: Tape, outputGradient: Matrix, into gradient: inout [Double],
                                      inputGradient: inout Matrix) {
        inputGradient = Matrix(rows: tape.rows, columns: inputSize)
        reverse(tape, outputGradient: outputGradient, into: &gradient, inputGradient: &inputGradient.storage)
    }

    private func reverse<S: BLASScalar>(_ tape: ConvolutionTape<S>, outputGradient: Matrix, into gradient: inout [Double],
                                        inputGradient: UnsafeMutablePointer<S>?) {
        precondition(outputGradient.rows == tape.rows && outputGradient.columns == outputSize)
        precondition(gradient.count == parameters.count)
        let n = tape.rows
        let block = min(ConvolutionLayout.rowBlock, max(n, 1))
        let scratch = LayerBuffers<S>(widths: layout.valueWidths, capacity: block)
        let ones = OnesVector<S>(count: layout.onesCount(rows: block))
        let patches = UnsafeMutablePointer<S>.allocate(capacity: layout.patchCapacity)
        defer { patches.deallocate() }
        let blockGradient = BlockGradient<S>(count: parameters.count)
        withParameters(as: S.self) { theta in
            gradient.withUnsafeMutableBufferPointer { grad in
                outputGradient.storage.withScalars(as: S.self) { gOut in
                    tape.input.withPassInput { x in
                        for first in stride(from: 0, to: n, by: block) {
                            layout.vectorJacobianProduct(
                                theta: theta, input: x, values: tape.values.pointers, firstRow: first,
                                rows: min(block, n - first), outputGradient: gOut + first * outputSize,
                                gradients: scratch.pointers, ones: ones.pointer, patches: patches,
                                into: blockGradient.target(grad.baseAddress!),
                                inputGradient: inputGradient.map { $0 + first * inputSize })
                            blockGradient.add(into: grad.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Forward mode: the directional derivative of the outputs, `(∂output/∂θ) · tangent`, with
    /// the products in the tape's precision.
    /// - Parameters:
    ///   - tape: a forward pass of this network.
    ///   - tangent: a direction in parameter space (`parameters.count` values).
    /// - Returns: `[n × outputSize]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func jacobianVectorProduct<S: BLASScalar>(_ tape: ConvolutionTape<S>, tangent: [Double]) -> Matrix {
        precondition(tangent.count == parameters.count)
        return withParameters(as: S.self) { theta in
            tangent.withScalars(as: S.self) { v in
                tape.input.withPassInput { x in
                    blockwise(rows: tape.rows) { first, rows, tangents, patches in
                        layout.jacobianVectorProduct(theta: theta, direction: v, input: x, values: tape.values.pointers,
                                                     firstRow: first, rows: rows, tangents: tangents, patches: patches)
                    }
                }
            }
        }
    }
}

/// The values a forward pass of a ``ConvolutionalNetwork`` keeps for the derivative passes:
/// the input as given (uint8 frames stay uint8) and every layer's output for every row, in
/// precision `S`; the network output in `Double`. ``ConvolutionalNetwork/Tape`` is the
/// double-precision one.
public struct ConvolutionTape<S: BLASScalar>: NetworkTape {
    /// The input rows, as given.
    enum Input: Sendable {
        case pixels([UInt8])
        case values([Double])

        /// Calls `body` with the input as a pass reads it.
        func withPassInput<R>(_ body: (ConvolutionInput<S>) -> R) -> R {
            switch self {
            case .pixels(let p): return p.withUnsafeBufferPointer { body(.pixels($0.baseAddress!)) }
            case .values(let x): return x.withScalars(as: S.self) { body(.values($0)) }
            }
        }
    }

    let input: Input
    /// Values per input row.
    let inputWidth: Int
    /// `values.pointers[j]`: the output of layer j + 1 (``ConvolutionLayout/valueWidths``).
    let values: LayerBuffers<S>
    public let rows: Int
    /// The network output, `[n × outputs]`.
    public let output: Matrix

    init(input: Input, inputWidth: Int, values: LayerBuffers<S>, rows: Int) {
        self.input = input
        self.inputWidth = inputWidth
        self.values = values
        self.rows = rows
        let last = values.widths.count - 1
        output = Matrix(rows: rows, columns: values.widths[last], storage: values.rows(rows, ofLayer: last).map { Double($0) })
    }

    /// The rows at `indices`, as a tape of their own (the forward pass not recomputed).
    public func gatheringRows(_ indices: [Int]) -> Self {
        let gathered = LayerBuffers<S>(widths: values.widths, capacity: indices.count)
        for (l, width) in values.widths.enumerated() {
            let src = values.pointers[l], dst = gathered.pointers[l]
            for (r, i) in indices.enumerated() { (dst + r &* width).update(from: src + i &* width, count: width) }
        }
        func pick<E>(_ x: [E]) -> [E] { indices.flatMap { x[($0 * inputWidth)..<(($0 + 1) * inputWidth)] } }
        let picked: Input = switch input {
        case .pixels(let p): .pixels(pick(p))
        case .values(let x): .values(pick(x))
        }
        return Self(input: picked, inputWidth: inputWidth, values: gathered, rows: indices.count)
    }
}
