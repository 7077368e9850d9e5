import CKernels

/// An allocation-free evaluator of a policy network for sampling: up to `capacity`
/// observations per call, in single precision with a rational tanh, over BLAS.
///
/// Sampling only needs the network's outputs to pick actions; the learner recomputes
/// log-probabilities in double precision from the stored observations, so single precision
/// here changes no number the update uses. The weights are copied in by ``load(_:)`` when a
/// new policy version arrives.
public final class PolicyEvaluator {
    public let layerSizes: [Int]
    public let activation: Activation
    public let capacity: Int
    private let layout: DenseLayout
    private let weights: UnsafeMutablePointer<Float>
    /// Layer values for `capacity` rows: the input, each hidden layer, the output.
    private let values: LayerBuffers<Float>

    /// An evaluator for networks of `layerSizes` and up to `capacity` rows per call.
    public init(layerSizes: [Int], activation: Activation, capacity: Int) {
        precondition(capacity > 0)
        self.layerSizes = layerSizes
        self.activation = activation
        self.capacity = capacity
        layout = DenseLayout(layerSizes: layerSizes)
        weights = .allocate(capacity: layout.parameterCount)
        weights.initialize(repeating: 0, count: layout.parameterCount)
        values = LayerBuffers(widths: layerSizes, capacity: capacity)
        for (p, width) in zip(values.pointers, layerSizes) { p.initialize(repeating: 0, count: capacity * width) }
    }

    deinit { weights.deallocate() }

    /// Copies a network's parameters (rounded to single precision).
    /// - Precondition: the network has this evaluator's layer sizes and activation.
    public func load(_ network: MLP) {
        precondition(network.layerSizes == layerSizes && network.activation == activation, "network shape differs from the evaluator's")
        network.parameters.withUnsafeBufferPointer { p in
            for i in 0..<layout.parameterCount { weights[i] = Float(p[i]) }
        }
    }

    /// Evaluates the network on `rows` observations.
    /// - Parameters:
    ///   - input: `[rows × inputs]` row-major (already normalised).
    ///   - rows: at most ``capacity``.
    ///   - output: receives `[rows × outputs]` row-major.
    public func evaluate(_ input: UnsafePointer<Double>, rows: Int, into output: UnsafeMutablePointer<Double>) {
        precondition(rows <= capacity)
        let x = values.pointers[0]
        for i in 0..<(rows &* layout.inputSize) { x[i] = Float(input[i]) }
        layout.forward(activation: activation, theta: weights, values: values.pointers, firstRow: 0, rows: rows)
        let y = values.pointers[layout.layerCount]
        for i in 0..<(rows &* layout.outputSize) { output[i] = Double(y[i]) }
    }
}
