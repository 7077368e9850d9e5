/// The layout of a fully connected network's flat parameter vector, and the network's three
/// batched passes written once for any ``BLASScalar``.
///
/// Layout: layer after layer, the weights of layer l as an `[inputs × outputs]` row-major
/// block, then its `outputs` biases. ``MLP`` (the learner's `Double` network) and
/// ``PolicyEvaluator`` (the samplers' `Float` copy) both use it.
///
/// The passes work on *layer buffers*: one row-major buffer per layer width, `values[0]` the
/// input `[rows × inputs]`, `values[l]` the post-activation output of layer l (the last one the
/// linear output). Each pass covers the rows `firstRow ..< firstRow + rows` of the value buffers;
/// the tangent and gradient scratch buffers it writes are indexed from their own first row, so a
/// caller can run a pass over a cache-sized block of a large tape with block-sized scratch
/// (``DenseLayout/rowBlock``), which keeps every intermediate in L2 and saves BLAS most of its
/// packing of tall matrices.
public struct DenseLayout: Sendable, Hashable {
    /// Widths from input to output: `[inputs, hidden…, outputs]`.
    public let layerSizes: [Int]
    /// Offset of each layer's weight block in the parameter vector; its biases follow it.
    let weightOffsets: [Int]
    /// The number of parameters.
    public let parameterCount: Int

    /// Rows per block in the fused passes: a block's values, tangents and gradients of a
    /// 64-wide network (about 0.9 MB in `Double`) stay in a 2 MB L2. Chosen by that estimate,
    /// not yet tuned by measurement.
    public static let rowBlock = 256

    public init(layerSizes: [Int]) {
        self.layerSizes = layerSizes
        var offsets: [Int] = []
        var offset = 0
        for (fanIn, fanOut) in zip(layerSizes, layerSizes.dropFirst()) {
            offsets.append(offset)
            offset += fanIn * fanOut + fanOut
        }
        weightOffsets = offsets
        parameterCount = offset
    }

    public var layerCount: Int { layerSizes.count - 1 }
    public var inputSize: Int { layerSizes[0] }
    public var outputSize: Int { layerSizes[layerSizes.count - 1] }
    /// Offset of layer l's biases.
    func biasOffset(_ l: Int) -> Int { weightOffsets[l] + layerSizes[l] * layerSizes[l + 1] }

    // MARK: - Passes

    /// Forward pass over rows `firstRow ..< firstRow + rows`: fills `values[1...]` from `values[0]`.
    func forward<S: BLASScalar>(
        activation: Activation, theta: UnsafePointer<S>,
        values: [UnsafeMutablePointer<S>], firstRow: Int, rows: Int
    ) {
        let layers = layerCount
        for l in 0..<layers {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            let h = values[l] + firstRow &* fanIn
            let z = values[l + 1] + firstRow &* fanOut
            S.layerProduct(rows: rows, n: fanOut, k: fanIn, a: h, lda: fanIn, b: theta + weightOffsets[l], ldb: fanOut,
                           start: .row(theta + biasOffset(l)), tanhOutput: nil, ldh: 0, c: z, ldc: fanOut)
            if l < layers - 1 { activation.apply(z, count: rows &* fanOut) }
        }
    }

    /// Forward mode over rows `firstRow ..< firstRow + rows` of `values` (a forward pass of the
    /// network at `theta`): writes `tangents[l]` (rows `0 ..< rows`, l ≥ 1), the directional
    /// derivative of layer l's output along the parameter direction `direction`;
    /// `tangents[layerCount]` is the output's. `tangents[0]` is the input's tangent when
    /// `inputHasTangent` (the input is a trunk's feature map, as in ``ConvolutionLayout``), and
    /// not used otherwise (the input is data).
    func jacobianVectorProduct<S: BLASScalar>(
        activation: Activation, theta: UnsafePointer<S>, direction v: UnsafePointer<S>,
        values: [UnsafeMutablePointer<S>], firstRow: Int, rows: Int,
        tangents: [UnsafeMutablePointer<S>], inputHasTangent: Bool = false
    ) {
        let layers = layerCount
        for l in 0..<layers {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            let h = values[l] + firstRow &* fanIn
            let dz = tangents[l + 1]
            let output = UnsafePointer(values[l + 1] + firstRow &* fanOut)
            let hidden = l < layers - 1
            let hasTangent = l > 0 || inputHasTangent
            // dZ = 1 dbᵀ + H dW + T W, then ⊙ act'(Z) (fused into the last product for tanh)
            let fusedDerivative = hidden && activation == .tanh ? output : nil
            S.layerProduct(rows: rows, n: fanOut, k: fanIn, a: h, lda: fanIn, b: v + weightOffsets[l], ldb: fanOut,
                           start: .row(v + biasOffset(l)), tanhOutput: hasTangent ? nil : fusedDerivative, ldh: fanOut,
                           c: dz, ldc: fanOut)
            if hasTangent {
                S.layerProduct(rows: rows, n: fanOut, k: fanIn, a: tangents[l], lda: fanIn, b: theta + weightOffsets[l],
                               ldb: fanOut, start: .accumulate, tanhOutput: fusedDerivative, ldh: fanOut, c: dz, ldc: fanOut)
            }
            if hidden && fusedDerivative == nil {
                activation.multiplyByDerivative(dz, output: output, count: rows &* fanOut)
            }
        }
    }

    /// Reverse mode over rows `firstRow ..< firstRow + rows` of `values`: adds
    /// `(∂output/∂θ)ᵀ G`, summed over the rows, to `gradient`, where `G` is `outputGradient`
    /// (`rows × outputs`). Overwrites `gradients[1 ..< layerCount]` (rows `0 ..< rows`);
    /// `ones` holds at least `rows` ones (the bias gradients are column sums, `Gᵀ 1`). With
    /// `propagatesToInput` it also writes `gradients[0]`, the gradient with respect to the input
    /// (`G₁ W₀ᵀ`, no activation derivative: the input's nonlinearity, if any, is the caller's).
    /// `transposedWeights`, when given, is ``transposeWeights(_:into:)`` of `theta`: the products
    /// `G Wᵀ` then run as plain layer products with the tanh derivative fused.
    func vectorJacobianProduct<S: BLASScalar>(
        activation: Activation, theta: UnsafePointer<S>, transposedWeights: UnsafePointer<S>? = nil,
        values: [UnsafeMutablePointer<S>], firstRow: Int, rows: Int,
        outputGradient: UnsafePointer<S>, gradients: [UnsafeMutablePointer<S>], ones: UnsafePointer<S>,
        into gradient: UnsafeMutablePointer<S>, propagatesToInput: Bool = false
    ) {
        let layers = layerCount
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            let g = l == layers - 1 ? outputGradient : UnsafePointer(gradients[l + 1])
            let h = UnsafePointer(values[l] + firstRow &* fanIn)
            // dW += Hᵀ G ; db += Gᵀ 1
            S.transposedProduct(kdim: fanIn, n: fanOut, rows: rows, a: h, lda: fanIn, g: g, ldg: fanOut,
                                c: gradient + weightOffsets[l], ldc: fanOut)
            S.gemv(transpose: true, m: rows, n: fanOut, alpha: 1, a: g, lda: fanOut, x: ones, beta: 1,
                   y: gradient + biasOffset(l))
            guard l > 0 || propagatesToInput else { break }
            // G_prev = (G Wᵀ) ⊙ act'(H)
            let gPrevious = gradients[l]
            let fusedDerivative = l > 0 && activation == .tanh ? h : nil
            if let transposed = transposedWeights {
                S.layerProduct(rows: rows, n: fanIn, k: fanOut, a: g, lda: fanOut, b: transposed + weightOffsets[l],
                               ldb: fanIn, start: .zero, tanhOutput: fusedDerivative, ldh: fanIn, c: gPrevious, ldc: fanIn)
                if l > 0 && fusedDerivative == nil {
                    activation.multiplyByDerivative(gPrevious, output: h, count: rows &* fanIn)
                }
            } else {
                S.gemm(transposeA: false, transposeB: true, m: rows, n: fanIn, k: fanOut,
                       alpha: 1, a: g, lda: fanOut, b: theta + weightOffsets[l], ldb: fanOut,
                       beta: 0, c: gPrevious, ldc: fanIn)
                if l > 0 { activation.multiplyByDerivative(gPrevious, output: h, count: rows &* fanIn) }
            }
        }
    }

    /// Writes each layer's weights transposed, `[outputs × inputs]` row-major, at the layer's
    /// weight offset in `transposed` (``parameterCount`` values; the bias slots are left as
    /// they are), for ``vectorJacobianProduct(activation:theta:transposedWeights:values:firstRow:rows:outputGradient:gradients:ones:into:propagatesToInput:)``.
    func transposeWeights<S: BLASScalar>(_ theta: UnsafePointer<S>, into transposed: UnsafeMutablePointer<S>) {
        for l in 0..<layerCount {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            let w = theta + weightOffsets[l], t = transposed + weightOffsets[l]
            for i in 0..<fanIn {
                for j in 0..<fanOut { t[j &* fanIn &+ i] = w[i &* fanOut &+ j] }
            }
        }
    }
}

/// Row-major buffers for every layer width of a network, for up to `capacity` rows: the
/// layer values of a forward pass, or the scratch of a derivative pass. Owned memory with
/// stable addresses, so a pass takes plain pointers (no nested `withUnsafe…` closures).
/// Immutable after its filling pass; shared read-only thereafter.
public final class LayerBuffers<S: BLASScalar>: @unchecked Sendable {
    public let widths: [Int]
    public let capacity: Int
    /// One buffer per width, `capacity × widths[l]` elements each.
    let pointers: [UnsafeMutablePointer<S>]

    public init(widths: [Int], capacity: Int) {
        self.widths = widths
        self.capacity = capacity
        pointers = widths.map { UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, capacity * $0)) }
    }

    deinit { for p in pointers { p.deallocate() } }

    /// Layer `l`'s rows, `count × widths[l]` values from row 0, as a new array.
    func rows(_ count: Int, ofLayer l: Int) -> [S] {
        Array(UnsafeBufferPointer(start: pointers[l], count: count * widths[l]))
    }
}

/// A vector of `count` ones, for bias gradients as column sums (`Gᵀ 1`).
final class OnesVector<S: BLASScalar>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<S>
    init(count: Int) {
        pointer = .allocate(capacity: Swift.max(1, count))
        pointer.initialize(repeating: 1, count: Swift.max(1, count))
    }
    deinit { pointer.deallocate() }
}

/// Where a pass in precision `S` writes a row block's parameter gradient so that it reaches a
/// `Double` sum: the sum itself when `S == Double`, otherwise a block buffer that ``add(into:)``
/// adds to the sum once the block is done (the accumulation over blocks stays `Double`).
final class BlockGradient<S: BLASScalar> {
    let count: Int
    private let buffer: UnsafeMutablePointer<S>?

    /// For `count` parameters.
    init(count: Int) {
        self.count = count
        buffer = S.self == Double.self ? nil : .allocate(capacity: Swift.max(1, count))
    }

    deinit { buffer?.deallocate() }

    /// The pointer a block's pass adds its gradient to (zeroed first when it is the buffer).
    func target(_ sum: UnsafeMutablePointer<Double>) -> UnsafeMutablePointer<S> {
        guard let buffer else { return UnsafeMutableRawPointer(sum).assumingMemoryBound(to: S.self) }
        buffer.update(repeating: 0, count: count)
        return buffer
    }

    /// Adds the block's gradient to `sum` (nothing to do when the pass wrote `sum` directly).
    func add(into sum: UnsafeMutablePointer<Double>) {
        guard let buffer else { return }
        for i in 0..<count { sum[i] += Double(buffer[i]) }
    }
}
