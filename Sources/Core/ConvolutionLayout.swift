/// The parameter layout of a ``ConvolutionalArchitecture`` network and its three batched passes
/// (forward, forward mode, reverse mode), written once for any ``BLASScalar`` in the manner of
/// ``DenseLayout``.
///
/// Parameters, in one flat vector: each convolutional layer's `[k·k·C × F]` weight block
/// (``ConvolutionGeometry``) followed by its `F` biases, then the dense part in
/// ``DenseLayout``'s layout over `[flattened feature map, hidden…, outputs]`.
///
/// The passes work on *value buffers* indexed like ``DenseLayout``'s minus the input: one
/// row-major buffer per layer, `values[j]` the post-activation output of layer `j + 1`
/// (``valueWidths``; convolutional outputs are images channels-last), the last one the linear
/// output. The input is separate (``ConvolutionInput``) so uint8 frames are read, and scaled,
/// only as patches are gathered. Each pass covers rows `firstRow ..< firstRow + rows` of the
/// input and the value buffers; tangent and gradient buffers are indexed from their own row 0,
/// so a caller runs a pass per row block (``rowBlock``) with block-sized scratch. Within a
/// block each convolution gathers the patches of a few images at a time (``patchImages``), so
/// the patch matrix stays about ``patchBudget`` values (in L2) and is never stored.
public struct ConvolutionLayout: Sendable, Hashable {
    public let architecture: ConvolutionalArchitecture
    public let convolutions: [ConvolutionGeometry]
    /// The dense part: `[flattened last feature map, hidden…, outputs]`.
    public let dense: DenseLayout
    /// Offset of each convolution's weight block; its biases follow it.
    let convolutionOffsets: [Int]
    /// Offset of the dense part's parameters.
    let denseOffset: Int
    public let parameterCount: Int
    /// Widths of the value buffers: each convolution's output (`positions · filters`), each
    /// hidden dense layer, the output.
    public let valueWidths: [Int]
    /// Images per patch gather of each convolution.
    let patchImages: [Int]
    /// Capacity of a patch buffer, in values.
    let patchCapacity: Int

    /// Rows per block of the batched passes: the dense part's weights are read once per block
    /// (a 2592 × 256 block is 5 MB in `Double`), and a block's tangents or gradients of
    /// ``ConvolutionalArchitecture/dqn2013`` take 2.4 MB. Chosen by that estimate.
    public static let rowBlock = 64
    /// Target size of the patch matrix gathered at once, in values (1 MB in `Double`).
    static let patchBudget = 1 << 17

    /// - Precondition: `architecture.isValid` and `outputSize > 0`.
    public init(architecture: ConvolutionalArchitecture, outputSize: Int) {
        precondition(architecture.isValid && outputSize > 0, "invalid convolutional architecture \(architecture) with \(outputSize) outputs")
        self.architecture = architecture
        var shape = architecture.input
        var geometries: [ConvolutionGeometry] = []
        var offsets: [Int] = []
        var offset = 0
        for spec in architecture.convolutions {
            let g = ConvolutionGeometry(input: shape, spec: spec)
            geometries.append(g)
            offsets.append(offset)
            offset += g.parameterCount
            shape = g.output
        }
        convolutions = geometries
        convolutionOffsets = offsets
        denseOffset = offset
        dense = DenseLayout(layerSizes: [shape.count] + architecture.hiddenSizes + [outputSize])
        parameterCount = offset + dense.parameterCount
        valueWidths = geometries.map(\.output.count) + dense.layerSizes.dropFirst()
        patchImages = geometries.map { max(1, ConvolutionLayout.patchBudget / ($0.positions * $0.patchWidth)) }
        patchCapacity = zip(geometries, patchImages).map { $0.positions * $0.patchWidth * $1 }.max()!
    }

    public var inputSize: Int { architecture.input.count }
    public var outputSize: Int { dense.outputSize }
    /// Ones needed by ``vectorJacobianProduct`` on blocks of `rows` rows (bias gradients as
    /// column sums).
    func onesCount(rows: Int) -> Int {
        zip(convolutions, patchImages).map { $0.positions * $1 }.reduce(rows, max)
    }

    // MARK: - Passes

    /// Forward pass over rows `firstRow ..< firstRow + rows`: fills every value buffer.
    /// `patches` holds ``patchCapacity`` values of workspace.
    func forward<S: BLASScalar>(
        theta: UnsafePointer<S>, input: ConvolutionInput<S>, values: [UnsafeMutablePointer<S>],
        firstRow: Int, rows: Int, patches: UnsafeMutablePointer<S>
    ) {
        let activation = architecture.activation
        for (l, g) in convolutions.enumerated() {
            let output = values[l] + firstRow &* g.output.count
            let weights = theta + convolutionOffsets[l]
            let bias = weights + g.patchWidth &* g.filters
            forEachPatchChunk(l, rows: rows) { done, images in
                gatherPatches(l, input: input, values: values, row: firstRow + done, images: images, into: patches)
                S.layerProduct(rows: images &* g.positions, n: g.filters, k: g.patchWidth,
                               a: patches, lda: g.patchWidth, b: weights, ldb: g.filters, start: .row(bias),
                               tanhOutput: nil, ldh: 0, c: output + done &* g.output.count, ldc: g.filters)
            }
            activation.apply(output, count: rows &* g.output.count)
        }
        dense.forward(activation: activation, theta: theta + denseOffset, values: denseBuffers(values),
                      firstRow: firstRow, rows: rows)
    }

    /// Forward mode over rows `firstRow ..< firstRow + rows` of a forward pass at `theta`:
    /// writes `tangents[j]` (rows `0 ..< rows`), the directional derivative of `values[j]` along
    /// the parameter direction `direction`; the last is the output's. The input has no tangent.
    func jacobianVectorProduct<S: BLASScalar>(
        theta: UnsafePointer<S>, direction v: UnsafePointer<S>, input: ConvolutionInput<S>,
        values: [UnsafeMutablePointer<S>], firstRow: Int, rows: Int,
        tangents: [UnsafeMutablePointer<S>], patches: UnsafeMutablePointer<S>
    ) {
        let activation = architecture.activation
        for (l, g) in convolutions.enumerated() {
            let weights = theta + convolutionOffsets[l]
            let dWeights = v + convolutionOffsets[l]
            let dBias = dWeights + g.patchWidth &* g.filters
            let m = g.positions
            forEachPatchChunk(l, rows: rows) { done, images in
                // dZ = P dW + db + dP W, with dP the patches of the input's tangent.
                let dz = tangents[l] + done &* g.output.count
                gatherPatches(l, input: input, values: values, row: firstRow + done, images: images, into: patches)
                S.layerProduct(rows: images &* m, n: g.filters, k: g.patchWidth, a: patches, lda: g.patchWidth,
                               b: dWeights, ldb: g.filters, start: .row(dBias), tanhOutput: nil, ldh: 0,
                               c: dz, ldc: g.filters)
                guard l > 0 else { return }
                g.gatherPatches(from: UnsafePointer(tangents[l - 1] + done &* g.input.count), images: images,
                                into: patches) { $0 }
                S.layerProduct(rows: images &* m, n: g.filters, k: g.patchWidth, a: patches, lda: g.patchWidth,
                               b: weights, ldb: g.filters, start: .accumulate, tanhOutput: nil, ldh: 0,
                               c: dz, ldc: g.filters)
            }
            activation.multiplyByDerivative(tangents[l], output: values[l] + firstRow &* g.output.count,
                                            count: rows &* g.output.count)
        }
        dense.jacobianVectorProduct(activation: activation, theta: theta + denseOffset, direction: v + denseOffset,
                                    values: denseBuffers(values), firstRow: firstRow, rows: rows,
                                    tangents: denseBuffers(tangents), inputHasTangent: true)
    }

    /// Reverse mode over rows `firstRow ..< firstRow + rows`: adds `(∂output/∂θ)ᵀ G`, summed
    /// over the rows, to `gradient`, where `G` is `outputGradient` (`rows × outputs`), and
    /// writes `(∂output/∂input)ᵀ G` (`rows × inputSize`, from row 0) to `inputGradient` when
    /// given. Overwrites `gradients[0 ..< count − 1]` (rows `0 ..< rows`); `ones` holds at least
    /// ``onesCount(rows:)`` ones.
    func vectorJacobianProduct<S: BLASScalar>(
        theta: UnsafePointer<S>, input: ConvolutionInput<S>, values: [UnsafeMutablePointer<S>],
        firstRow: Int, rows: Int, outputGradient: UnsafePointer<S>, gradients: [UnsafeMutablePointer<S>],
        ones: UnsafePointer<S>, patches: UnsafeMutablePointer<S>,
        into gradient: UnsafeMutablePointer<S>, inputGradient: UnsafeMutablePointer<S>?
    ) {
        let activation = architecture.activation
        dense.vectorJacobianProduct(activation: activation, theta: theta + denseOffset, values: denseBuffers(values),
                                    firstRow: firstRow, rows: rows, outputGradient: outputGradient,
                                    gradients: denseBuffers(gradients), ones: ones, into: gradient + denseOffset,
                                    propagatesToInput: true)
        for l in stride(from: convolutions.count - 1, through: 0, by: -1) {
            let g = convolutions[l]
            // The gradient with respect to the layer's output, then its pre-activation.
            let gOut = gradients[l]
            activation.multiplyByDerivative(gOut, output: values[l] + firstRow &* g.output.count,
                                            count: rows &* g.output.count)
            let weights = theta + convolutionOffsets[l]
            let dWeights = gradient + convolutionOffsets[l]
            let dBias = dWeights + g.patchWidth &* g.filters
            let target = l > 0 ? gradients[l - 1] : inputGradient
            target?.update(repeating: 0, count: rows &* g.input.count)
            forEachPatchChunk(l, rows: rows) { done, images in
                let gz = UnsafePointer(gOut + done &* g.output.count)
                let m = images &* g.positions
                // dW += Pᵀ G ; db += Gᵀ 1
                gatherPatches(l, input: input, values: values, row: firstRow + done, images: images, into: patches)
                S.transposedProduct(kdim: g.patchWidth, n: g.filters, rows: m, a: patches, lda: g.patchWidth,
                                    g: gz, ldg: g.filters, c: dWeights, ldc: g.filters)
                S.gemv(transpose: true, m: m, n: g.filters, alpha: 1, a: gz, lda: g.filters, x: ones, beta: 1, y: dBias)
                guard let target else { return }
                // dP = G Wᵀ, scattered back onto the input image.
                S.gemm(transposeA: false, transposeB: true, m: m, n: g.patchWidth, k: g.filters,
                       alpha: 1, a: gz, lda: g.filters, b: weights, ldb: g.filters,
                       beta: 0, c: patches, ldc: g.patchWidth)
                g.scatterPatches(patches, images: images, into: target + done &* g.input.count)
            }
        }
    }

    // MARK: - Helpers

    /// The buffers of the dense part, `[last feature map, hidden…, output]`, as ``DenseLayout``
    /// indexes them.
    @inline(__always)
    func denseBuffers<S>(_ buffers: [UnsafeMutablePointer<S>]) -> [UnsafeMutablePointer<S>] {
        Array(buffers[(convolutions.count - 1)...])
    }

    /// Calls `body(done, images)` for consecutive chunks of at most `patchImages[l]` of `rows`.
    @inline(__always)
    func forEachPatchChunk(_ l: Int, rows: Int, _ body: (Int, Int) -> Void) {
        var done = 0
        while done < rows {
            let images = min(patchImages[l], rows - done)
            body(done, images)
            done += images
        }
    }

    /// Gathers the patches of convolution `l` over `images` input images from row `row`.
    @inline(__always)
    func gatherPatches<S: BLASScalar>(_ l: Int, input: ConvolutionInput<S>, values: [UnsafeMutablePointer<S>],
                                      row: Int, images: Int, into patches: UnsafeMutablePointer<S>) {
        let g = convolutions[l]
        let offset = row &* g.input.count
        if l > 0 {
            g.gatherPatches(from: UnsafePointer(values[l - 1] + offset), images: images, into: patches) { $0 }
            return
        }
        switch input {
        case .values(let x):
            g.gatherPatches(from: x + offset, images: images, into: patches) { $0 }
        case .pixels(let p):
            let scale = 1 / S(255)
            g.gatherPatches(from: p + offset, images: images, into: patches) { S($0) * scale }
        }
    }
}

/// The input rows of a convolutional pass: `[rows × inputSize]` row-major, channels-last
/// images.
enum ConvolutionInput<S: BLASScalar> {
    /// uint8 pixels, read as `p · (1/255)` (the reciprocal rounded in `S`), so a frame batch
    /// never exists in floating point beyond one patch chunk.
    case pixels(UnsafePointer<UInt8>)
    /// Values used as they are.
    case values(UnsafePointer<S>)
}
