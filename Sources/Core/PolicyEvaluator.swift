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
                case .tanh: for i in 0..<count { z[i] = rationalTanh(z[i]) }
                case .relu: for i in 0..<count where z[i] < 0 { z[i] = 0 }
                }
            }
            previous = UnsafePointer(z)
            offset += fanIn * fanOut + fanOut
        }
        for i in 0..<(rows &* layerSizes[layers]) { output[i] = Double(previous[i]) }
    }
}

/// tanh in single precision by a [13/6] rational approximation on [−9, 9] (saturating
/// outside); absolute error below 1e-6, branch-free so loops over it vectorise.
@inline(__always)
func rationalTanh(_ x: Float) -> Float {
    let c = min(max(x, -9), 9)
    let x2 = c * c
    var p: Float = -2.76076847742355e-16
    p = p * x2 + 2.00018790482477e-13
    p = p * x2 - 8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = p * x2 + 4.89352455891786e-03
    p *= c
    var q: Float = 1.19825839466702e-06
    q = q * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    return p / q
}
