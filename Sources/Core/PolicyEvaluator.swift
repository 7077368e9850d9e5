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
    private let weights: UnsafeMutablePointer<Float>
    private let weightCount: Int
    private let layerBuffers: [UnsafeMutablePointer<Float>]
    private let inputBuffer: UnsafeMutablePointer<Float>

    /// An evaluator for networks of `layerSizes` and up to `capacity` rows per call.
    public init(layerSizes: [Int], activation: Activation, capacity: Int) {
        precondition(capacity > 0)
        self.layerSizes = layerSizes
        self.activation = activation
        self.capacity = capacity
        weightCount = MLP.parameterCount(layerSizes: layerSizes)
        weights = .allocate(capacity: weightCount)
        weights.initialize(repeating: 0, count: weightCount)
        inputBuffer = .allocate(capacity: capacity * layerSizes[0])
        layerBuffers = layerSizes.dropFirst().map { width in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0, count: capacity * width)
            return buffer
        }
    }

    deinit {
        weights.deallocate()
        inputBuffer.deallocate()
        for buffer in layerBuffers { buffer.deallocate() }
    }

    /// Copies a network's parameters (rounded to single precision).
    /// - Precondition: the network has this evaluator's layer sizes and activation.
    public func load(_ network: MLP) {
        precondition(network.layerSizes == layerSizes && network.activation == activation, "network shape differs from the evaluator's")
        network.parameters.withUnsafeBufferPointer { p in
            for i in 0..<weightCount { weights[i] = Float(p[i]) }
        }
    }

    /// Evaluates the network on `rows` observations.
    /// - Parameters:
    ///   - input: `[rows × inputs]` row-major (already normalised).
    ///   - rows: at most ``capacity``.
    ///   - output: receives `[rows × outputs]` row-major.
    public func evaluate(_ input: UnsafePointer<Double>, rows: Int, into output: UnsafeMutablePointer<Double>) {
        precondition(rows <= capacity)
        let inputs = layerSizes[0]
        for i in 0..<(rows &* inputs) { inputBuffer[i] = Float(input[i]) }
        var previous = UnsafePointer(inputBuffer)
        var offset = 0
        let layers = layerSizes.count - 1
        for l in 0..<layers {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            let z = layerBuffers[l]
            let bias = weights + offset + fanIn * fanOut
            for i in 0..<rows { (z + i &* fanOut).update(from: bias, count: fanOut) }
            BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: fanOut, k: fanIn,
                      alpha: 1, a: previous, lda: fanIn, b: weights + offset, ldb: fanOut,
                      beta: 1, c: z, ldc: fanOut)
            if l < layers - 1 {
                let count = rows &* fanOut
                switch activation {
                case .tanh: trpo_tanh_f32(z, count)
                case .relu: for i in 0..<count where z[i] < 0 { z[i] = 0 }
                }
            }
            previous = UnsafePointer(z)
            offset += fanIn * fanOut + fanOut
        }
        for i in 0..<(rows &* layerSizes[layers]) { output[i] = Double(previous[i]) }
    }
}
