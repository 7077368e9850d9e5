import CKernels
import Foundation

/// A hidden-layer nonlinearity.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case tanh
    case relu

    /// Applies the activation in place.
    @inline(__always)
    func apply(_ x: UnsafeMutableBufferPointer<Double>) {
        switch self {
        case .tanh: trpo_tanh_f64(x.baseAddress, x.count)
        case .relu: for i in x.indices where x[i] < 0 { x[i] = 0 }
        }
    }

    /// Multiplies `g` in place by the derivative, expressed through the activation's output
    /// `h` (tanh: 1 − h²; relu: 1 where h > 0).
    @inline(__always)
    func multiplyByDerivative(_ g: UnsafeMutableBufferPointer<Double>, output h: UnsafeBufferPointer<Double>) {
        switch self {
        case .tanh: for i in g.indices { g[i] *= 1 - h[i] * h[i] }
        case .relu: for i in g.indices where h[i] <= 0 { g[i] = 0 }
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
    public static func parameterCount(layerSizes: [Int]) -> Int {
        zip(layerSizes, layerSizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    /// Offset of layer `l`'s weight block in ``parameters``; its biases follow the block.
    func weightOffset(_ l: Int) -> Int {
        var offset = 0
        for j in 0..<l { offset += layerSizes[j] * layerSizes[j + 1] + layerSizes[j + 1] }
        return offset
    }

    /// A network with orthogonal initial weights (gain √2 on hidden layers, `outputGain` on
    /// the last) and zero biases, drawn from `random`.
    public init(layerSizes: [Int], activation: Activation = .tanh, outputGain: Double, random: inout RandomStream) {
        precondition(layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }, "an MLP needs at least input and output widths, all positive")
        self.layerSizes = layerSizes
        self.activation = activation
        var parameters = [Double](repeating: 0, count: MLP.parameterCount(layerSizes: layerSizes))
        var offset = 0
        for l in 0..<(layerSizes.count - 1) {
            let (rows, cols) = (layerSizes[l], layerSizes[l + 1])
            let gain = l == layerSizes.count - 2 ? outputGain : 2.0.squareRoot()
            let block = orthogonalMatrix(rows: rows, columns: cols, random: &random)
            for i in 0..<(rows * cols) { parameters[offset + i] = gain * block[i] }
            offset += rows * cols + cols
        }
        self.parameters = parameters
    }

    /// A network over given parameters.
    public init(layerSizes: [Int], activation: Activation, parameters: [Double]) {
        precondition(parameters.count == MLP.parameterCount(layerSizes: layerSizes), "parameter count does not match the layer sizes")
        self.layerSizes = layerSizes
        self.activation = activation
        self.parameters = parameters
    }

    // MARK: - Batched passes

    /// The values a forward pass keeps for the derivative passes.
    public struct Tape: Sendable {
        /// The input batch, `[n × inputs]`.
        public let input: Matrix
        /// Post-activation outputs of each hidden layer, `[n × width]`.
        public let hidden: [Matrix]
        /// The network output, `[n × outputs]`.
        public let output: Matrix
        public var rows: Int { input.rows }
    }

    /// Evaluates the network on a batch.
    /// - Parameter input: `[n × inputSize]`.
    /// - Returns: the tape; its ``Tape/output`` is `[n × outputSize]`.
    public func forward(_ input: Matrix) -> Tape {
        precondition(input.columns == inputSize, "input has \(input.columns) columns, the network takes \(inputSize)")
        let n = input.rows
        var hidden: [Matrix] = []
        hidden.reserveCapacity(layerCount - 1)
        var output = Matrix(rows: n, columns: outputSize)
        parameters.withUnsafeBufferPointer { theta in
            for l in 0..<layerCount {
                let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
                let w = weightOffset(l)
                var z = Matrix(uninitializedRows: n, columns: fanOut)  // bias rows, then += H W
                let previous = l == 0 ? input : hidden[l - 1]
                previous.storage.withUnsafeBufferPointer { h in
                    z.storage.withUnsafeMutableBufferPointer { z in
                        let bias = theta.baseAddress! + w + fanIn * fanOut
                        for i in 0..<n { (z.baseAddress! + i * fanOut).update(from: bias, count: fanOut) }
                        BLAS.gemm(transposeA: false, transposeB: false, m: n, n: fanOut, k: fanIn,
                                  alpha: 1, a: h.baseAddress!, lda: fanIn, b: theta.baseAddress! + w, ldb: fanOut,
                                  beta: 1, c: z.baseAddress!, ldc: fanOut)
                        if l < layerCount - 1 { activation.apply(z) }
                    }
                }
                if l < layerCount - 1 { hidden.append(z) } else { output = z }
            }
        }
        return Tape(input: input, hidden: hidden, output: output)
    }

    /// Reverse mode: accumulates `(∂output/∂θ)ᵀ · outputGradient`, summed over the batch,
    /// into `gradient`.
    /// - Parameters:
    ///   - tape: a forward pass of this network.
    ///   - outputGradient: `[n × outputSize]`, the gradient of a scalar w.r.t. the outputs.
    ///   - gradient: `parameters.count` values, added to (not overwritten).
    public func vectorJacobianProduct(_ tape: Tape, outputGradient: Matrix, into gradient: inout [Double]) {
        precondition(outputGradient.rows == tape.rows && outputGradient.columns == outputSize)
        precondition(gradient.count == parameters.count)
        let n = tape.rows
        var g = outputGradient
        parameters.withUnsafeBufferPointer { theta in
            gradient.withUnsafeMutableBufferPointer { grad in
                for l in stride(from: layerCount - 1, through: 0, by: -1) {
                    let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
                    let w = weightOffset(l)
                    let previous = l == 0 ? tape.input : tape.hidden[l - 1]
                    var gPrevious = Matrix(uninitializedRows: l > 0 ? n : 0, columns: fanIn)  // = G Wᵀ (β = 0)
                    g.storage.withUnsafeBufferPointer { gb in
                        previous.storage.withUnsafeBufferPointer { h in
                            // dW += Hᵀ G ; db += Σ_rows G
                            BLAS.gemm(transposeA: true, transposeB: false, m: fanIn, n: fanOut, k: n,
                                      alpha: 1, a: h.baseAddress!, lda: fanIn, b: gb.baseAddress!, ldb: fanOut,
                                      beta: 1, c: grad.baseAddress! + w, ldc: fanOut)
                            let bias = grad.baseAddress! + w + fanIn * fanOut
                            for i in 0..<n {
                                let row = gb.baseAddress! + i * fanOut
                                for j in 0..<fanOut { bias[j] += row[j] }
                            }
                            guard l > 0 else { return }
                            // G_prev = (G Wᵀ) ⊙ act'(H)
                            gPrevious.storage.withUnsafeMutableBufferPointer { gp in
                                BLAS.gemm(transposeA: false, transposeB: true, m: n, n: fanIn, k: fanOut,
                                          alpha: 1, a: gb.baseAddress!, lda: fanOut, b: theta.baseAddress! + w, ldb: fanOut,
                                          beta: 0, c: gp.baseAddress!, ldc: fanIn)
                                activation.multiplyByDerivative(gp, output: h)
                            }
                        }
                    }
                    if l > 0 { g = gPrevious }
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
        var t = Matrix(rows: 0, columns: 0)  // tangent of the previous layer's output
        var result = Matrix(rows: n, columns: outputSize)
        parameters.withUnsafeBufferPointer { theta in
            tangent.withUnsafeBufferPointer { v in
                for l in 0..<layerCount {
                    let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
                    let w = weightOffset(l)
                    let previous = l == 0 ? tape.input : tape.hidden[l - 1]
                    var dz = Matrix(uninitializedRows: n, columns: fanOut)  // bias tangent rows, then += …
                    dz.storage.withUnsafeMutableBufferPointer { dz in
                        let dBias = v.baseAddress! + w + fanIn * fanOut
                        for i in 0..<n { (dz.baseAddress! + i * fanOut).update(from: dBias, count: fanOut) }
                        previous.storage.withUnsafeBufferPointer { h in
                            // dZ = H dW + T W + db
                            BLAS.gemm(transposeA: false, transposeB: false, m: n, n: fanOut, k: fanIn,
                                      alpha: 1, a: h.baseAddress!, lda: fanIn, b: v.baseAddress! + w, ldb: fanOut,
                                      beta: 1, c: dz.baseAddress!, ldc: fanOut)
                        }
                        if l > 0 {
                            t.storage.withUnsafeBufferPointer { tb in
                                BLAS.gemm(transposeA: false, transposeB: false, m: n, n: fanOut, k: fanIn,
                                          alpha: 1, a: tb.baseAddress!, lda: fanIn, b: theta.baseAddress! + w, ldb: fanOut,
                                          beta: 1, c: dz.baseAddress!, ldc: fanOut)
                            }
                        }
                        if l < layerCount - 1 {
                            tape.hidden[l].storage.withUnsafeBufferPointer { h in
                                activation.multiplyByDerivative(dz, output: h)
                            }
                        }
                    }
                    if l < layerCount - 1 { t = dz } else { result = dz }
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
