/// An allocation-free evaluator of a ``ConvolutionalNetwork`` for sampling: up to `capacity`
/// uint8 frames per call (the E copies a sampler steps in lockstep), in single precision over
/// BLAS — the pixel counterpart of ``PolicyEvaluator``.
///
/// Sampling only needs the outputs to pick actions; the learner recomputes everything the
/// update uses in `Double` from the stored frames. The weights are copied in by ``load(_:)``
/// when a new policy version arrives.
public final class ConvolutionalEvaluator {
    public let layout: ConvolutionLayout
    public let capacity: Int
    private let weights: UnsafeMutablePointer<Float>
    /// Layer values for `capacity` rows (``ConvolutionLayout/valueWidths``).
    private let values: LayerBuffers<Float>
    private let patches: UnsafeMutablePointer<Float>

    /// An evaluator for networks of `layout` and up to `capacity` frames per call.
    public init(layout: ConvolutionLayout, capacity: Int) {
        precondition(capacity > 0)
        self.layout = layout
        self.capacity = capacity
        weights = .allocate(capacity: layout.parameterCount)
        weights.initialize(repeating: 0, count: layout.parameterCount)
        values = LayerBuffers(widths: layout.valueWidths, capacity: capacity)
        patches = .allocate(capacity: layout.patchCapacity)
    }

    deinit {
        weights.deallocate()
        patches.deallocate()
    }

    /// Copies a network's parameters (rounded to single precision).
    /// - Precondition: the network has this evaluator's layout.
    public func load(_ network: ConvolutionalNetwork) {
        precondition(network.layout == layout, "network shape differs from the evaluator's")
        network.parameters.withUnsafeBufferPointer { p in
            for i in 0..<layout.parameterCount { weights[i] = Float(p[i]) }
        }
    }

    /// Evaluates the network on `rows` frames.
    /// - Parameters:
    ///   - frames: `[rows × inputSize]` uint8 pixels, channels-last, read as p / 255.
    ///   - rows: at most ``capacity``.
    ///   - output: receives `[rows × outputs]` row-major.
    public func evaluate(_ frames: UnsafePointer<UInt8>, rows: Int, into output: UnsafeMutablePointer<Double>) {
        precondition(rows <= capacity)
        layout.forward(theta: weights, input: .pixels(frames), values: values.pointers, firstRow: 0, rows: rows,
                       patches: patches)
        let y = values.pointers[layout.valueWidths.count - 1]
        for i in 0..<(rows &* layout.outputSize) { output[i] = Double(y[i]) }
    }
}
