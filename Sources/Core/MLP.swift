import CKernels
import Foundation

/// A hidden-layer nonlinearity.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case tanh
    case relu

    /// Applies the activation in place to `count` values.
    @inline(__always)
    func apply<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        switch self {
        case .tanh: S.tanhInPlace(x, count: count)
        case .relu: for i in 0..<count where x[i] < 0 { x[i] = 0 }
        }
    }

    /// Multiplies `count` values of `g` in place by the derivative, expressed through the
    /// activation's output `h` (tanh: 1 − h²; relu: 1 where h > 0).
    @inline(__always)
    func multiplyByDerivative<S: BLASScalar>(_ g: UnsafeMutablePointer<S>, output h: UnsafePointer<S>, count: Int) {
        switch self {
        case .tanh: S.tanhBackward(g, output: h, count: count)
        case .relu: for i in 0..<count where h[i] <= 0 { g[i] = 0 }
        }
    }
}

/// A fully connected network `x ↦ W_L(… act(W_1 x + b_1) …) + b_L` with a linear output.
///
/// All parameters live in one flat vector, ``parameters``, layer after layer: the weights of
/// layer l as an `[inputs × outputs]` row-major block, then its `outputs` biases. Batched
/// passes take one sample per row and run on BLAS. Besides the forward pass the network has
/// the two derivative passes TRPO needs: reverse mode (a vector–Jacobian product, for
/// gradients) and forward mode (a Jacobian–vector product, for Fisher-vector products).
public struct MLP: Sendable, Codable, Equatable {
    /// Widths from input to output: `[inputs, hidden…, outputs]`.
    public let layerSizes: [Int]
    public let activation: Activation
    /// The flat parameter vector (see the type's discussion for the layout).
    public var parameters: [Double]
    /// The parameter layout and the generic passes (shared with ``PolicyEvaluator``).
    public let layout: DenseLayout

    private enum CodingKeys: String, CodingKey { case layerSizes, activation, parameters }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        layerSizes = try container.decode([Int].self, forKey: .layerSizes)
        activation = try container.decode(Activation.self, forKey: .activation)
        parameters = try container.decode([Double].self, forKey: .parameters)
        layout = DenseLayout(layerSizes: layerSizes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(layerSizes, forKey: .layerSizes)
        try container.encode(activation, forKey: .activation)
        try container.encode(parameters, forKey: .parameters)
    }

    public var inputSize: Int { layerSizes.first! }
    public var outputSize: Int { layerSizes.last! }
    var layerCount: Int { layerSizes.count - 1 }

    /// True when the widths are positive and the parameter vector has the matching length.
    /// (A decoded network may violate this; a constructed one cannot.)
    public var isWellFormed: Bool {
        layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }
            && parameters.count == MLP.parameterCount(layerSizes: layerSizes)
    }

    /// The number of parameters of a network with these widths.
    public static func parameterCount(layerSizes: [Int]) -> Int { DenseLayout(layerSizes: layerSizes).parameterCount }

    /// A network with orthogonal initial weights (gain √2 on hidden layers, `outputGain` on
    /// the last) and zero biases, drawn from `random`.
    public init(layerSizes: [Int], activation: Activation = .tanh, outputGain: Double, random: inout RandomStream) {
        precondition(layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }, "an MLP needs at least input and output widths, all positive")
        self.layerSizes = layerSizes
        self.activation = activation
        layout = DenseLayout(layerSizes: layerSizes)
        var parameters = [Double](repeating: 0, count: layout.parameterCount)
        for l in 0..<layout.layerCount {
            let (rows, cols, offset) = (layerSizes[l], layerSizes[l + 1], layout.weightOffsets[l])
            let gain = l == layout.layerCount - 1 ? outputGain : 2.0.squareRoot()
            let block = orthogonalMatrix(rows: rows, columns: cols, random: &random)
            for i in 0..<(rows * cols) { parameters[offset + i] = gain * block[i] }
        }
        self.parameters = parameters
    }

    /// A network over given parameters.
    public init(layerSizes: [Int], activation: Activation, parameters: [Double]) {
        precondition(parameters.count == MLP.parameterCount(layerSizes: layerSizes), "parameter count does not match the layer sizes")
        self.layerSizes = layerSizes
        self.activation = activation
        self.parameters = parameters
        layout = DenseLayout(layerSizes: layerSizes)
    }

    // MARK: - Batched passes

    /// The tape of a forward pass in double precision.
    public typealias Tape = DenseTape<Double>

    /// Evaluates the network on a batch (fused over row blocks of ``DenseLayout/rowBlock``).
    /// - Parameter input: `[n × inputSize]`.
    /// - Returns: the tape; its ``DenseTape/output`` is `[n × outputSize]`.
    public func forward(_ input: Matrix) -> Tape { forward(input, precision: Double.self) }

    /// Evaluates the network on a batch with its products in `S`: the input and parameters
    /// are rounded to `S` once, and the tape keeps every layer in `S` (``DenseTape``).
    /// - Parameter input: `[n × inputSize]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ input: Matrix, precision: S.Type) -> DenseTape<S> {
        precondition(input.columns == inputSize, "input has \(input.columns) columns, the network takes \(inputSize)")
        let n = input.rows
        let values = LayerBuffers<S>(widths: layerSizes, capacity: n)
        input.storage.withUnsafeBufferPointer { x in
            for i in 0..<(n * inputSize) { values.pointers[0][i] = S(x[i]) }
        }
        withParameters(as: S.self) { theta in
            for first in stride(from: 0, to: n, by: DenseLayout.rowBlock) {
                layout.forward(activation: activation, theta: theta, values: values.pointers,
                               firstRow: first, rows: min(DenseLayout.rowBlock, n - first))
            }
        }
        return DenseTape(values: values, rows: n)
    }

    /// The outputs alone, `[n × outputSize]`, with the products in `S`: a forward pass that
    /// keeps one row block's layers at a time instead of a tape (the line search's trials).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func outputs<S: BLASScalar>(_ input: Matrix, precision: S.Type) -> Matrix {
        precondition(input.columns == inputSize, "input has \(input.columns) columns, the network takes \(inputSize)")
        let n = input.rows
        let block = min(DenseLayout.rowBlock, max(n, 1))
        let scratch = LayerBuffers<S>(widths: layerSizes, capacity: block)
        var result = Matrix(uninitializedRows: n, columns: outputSize)
        let last = layerCount
        withParameters(as: S.self) { theta in
            input.storage.withUnsafeBufferPointer { x in
                result.storage.withUnsafeMutableBufferPointer { out in
                    for first in stride(from: 0, to: n, by: block) {
                        let rows = min(block, n - first)
                        for i in 0..<(rows * inputSize) { scratch.pointers[0][i] = S(x[first * inputSize + i]) }
                        layout.forward(activation: activation, theta: theta, values: scratch.pointers, firstRow: 0, rows: rows)
                        for i in 0..<(rows * outputSize) { out[first * outputSize + i] = Double(scratch.pointers[last][i]) }
                    }
                }
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
    public func vectorJacobianProduct<S: BLASScalar>(_ tape: DenseTape<S>, outputGradient: Matrix, into gradient: inout [Double]) {
        precondition(outputGradient.rows == tape.rows && outputGradient.columns == outputSize)
        precondition(gradient.count == parameters.count)
        let n = tape.rows
        guard n > 0 else { return }
        let p = parameters.count
        let block = min(DenseLayout.rowBlock, n)
        let scratch = LayerBuffers<S>(widths: layerSizes, capacity: block)
        let ones = OnesVector<S>(count: block)
        let blockGradient = BlockGradient<S>(count: p)
        let transposed = UnsafeMutablePointer<S>.allocate(capacity: p)
        defer { transposed.deallocate() }
        withParameters(as: S.self) { theta in
            layout.transposeWeights(theta, into: transposed)
            gradient.withUnsafeMutableBufferPointer { grad in
                // The output gradient in `S`: read in place when it is `Double`, converted once otherwise.
                func pass(_ gOut: UnsafePointer<S>) {
                    for first in stride(from: 0, to: n, by: block) {
                        layout.vectorJacobianProduct(
                            activation: activation, theta: theta, transposedWeights: transposed, values: tape.values.pointers,
                            firstRow: first, rows: min(block, n - first), outputGradient: gOut + first * outputSize,
                            gradients: scratch.pointers, ones: ones.pointer, into: blockGradient.target(grad.baseAddress!))
                        blockGradient.add(into: grad.baseAddress!)
                    }
                }
                if S.self == Double.self {
                    outputGradient.storage.withUnsafeBufferPointer { pass(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: S.self)) }
                } else {
                    outputGradient.storage.map { S($0) }.withUnsafeBufferPointer { pass($0.baseAddress!) }
                }
            }
        }
    }

    /// Forward mode: the directional derivative of the outputs, `(∂output/∂θ) · tangent`.
    /// - Parameters:
    ///   - tape: a forward pass of this network.
    ///   - tangent: a direction in parameter space (`parameters.count` values).
    /// - Returns: `[n × outputSize]`.
    public func jacobianVectorProduct(_ tape: Tape, tangent: [Double]) -> Matrix {
        precondition(tangent.count == parameters.count)
        let n = tape.rows
        let block = min(DenseLayout.rowBlock, max(n, 1))
        let scratch = LayerBuffers<Double>(widths: layerSizes, capacity: block)
        var result = Matrix(uninitializedRows: n, columns: outputSize)
        let last = layerSizes.count - 1
        parameters.withUnsafeBufferPointer { theta in
            tangent.withUnsafeBufferPointer { v in
                result.storage.withUnsafeMutableBufferPointer { out in
                    for first in stride(from: 0, to: n, by: block) {
                        let rows = min(block, n - first)
                        layout.jacobianVectorProduct(
                            activation: activation, theta: theta.baseAddress!, direction: v.baseAddress!,
                            values: tape.values.pointers, firstRow: first, rows: rows, tangents: scratch.pointers)
                        (out.baseAddress! + first * outputSize).update(from: scratch.pointers[last], count: rows * outputSize)
                    }
                }
            }
        }
        return result
    }
}

/// A `rows × columns` matrix with orthonormal columns (or rows, when wider than tall),
/// row-major, from Gram–Schmidt on Gaussian samples.
func orthogonalMatrix(rows: Int, columns: Int, random: inout RandomStream) -> [Double] {
    // Orthonormalise `k` vectors of length `m`, then lay them out as columns (or rows).
    let tall = rows >= columns
    let (m, k) = tall ? (rows, columns) : (columns, rows)
    var vectors = [[Double]]()
    vectors.reserveCapacity(k)
    while vectors.count < k {
        var v = (0..<m).map { _ in random.normal() }
        for _ in 0..<2 {  // two passes of modified Gram–Schmidt for stability
            for u in vectors { axpy(-dot(u, v), u, &v) }
        }
        let norm = dot(v, v).squareRoot()
        if norm < 1e-8 { continue }
        vectors.append(v.map { $0 / norm })
    }
    var result = [Double](repeating: 0, count: rows * columns)
    for (a, v) in vectors.enumerated() {
        for b in 0..<m {
            if tall { result[b * columns + a] = v[b] } else { result[a * columns + b] = v[b] }
        }
    }
    return result
}

/// The values a forward pass of an ``MLP`` keeps for the derivative passes: every layer's
/// output for every row in ``LayerBuffers`` of precision `S` (layer 0 the input), and the
/// network output in `Double`. ``MLP/Tape`` is the double-precision one.
public struct DenseTape<S: BLASScalar>: Sendable {
    /// `values.pointers[0]` the input, `[l]` the post-activation output of hidden layer l,
    /// the last the network output.
    let values: LayerBuffers<S>
    public let rows: Int
    /// The network output, `[n × outputs]`.
    public let output: Matrix

    init(values: LayerBuffers<S>, rows: Int) {
        self.values = values
        self.rows = rows
        let widths = values.widths
        output = Matrix(rows: rows, columns: widths[widths.count - 1],
                        storage: values.rows(rows, ofLayer: widths.count - 1).map { Double($0) })
    }

    /// The input batch, `[n × inputs]` (a copy).
    public var input: Matrix { layer(0) }
    /// Post-activation outputs of each hidden layer, `[n × width]` (copies).
    public var hidden: [Matrix] { (1..<(values.widths.count - 1)).map(layer) }

    private func layer(_ l: Int) -> Matrix {
        Matrix(rows: rows, columns: values.widths[l], storage: values.rows(rows, ofLayer: l).map { Double($0) })
    }

    /// The rows at `indices` (sorted or not), as a tape of their own: the forward pass of
    /// those rows without recomputing it.
    public func gatheringRows(_ indices: [Int]) -> Self {
        let gathered = LayerBuffers<S>(widths: values.widths, capacity: indices.count)
        for (l, width) in values.widths.enumerated() {
            let src = values.pointers[l], dst = gathered.pointers[l]
            for (r, i) in indices.enumerated() { (dst + r &* width).update(from: src + i &* width, count: width) }
        }
        return Self(values: gathered, rows: indices.count)
    }
}
