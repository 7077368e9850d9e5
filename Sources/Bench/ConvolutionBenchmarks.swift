import Core
import Foundation

// MARK: - Convolutional trunks

extension BenchmarkSuite {
    /// For a convolutional policy trunk with a categorical head of 6 actions on a batch of
    /// 1,000 (× ``scale``) random 84×84×4 uint8 frames, in double and in single precision:
    /// the forward pass, the forward pass plus one reverse-mode pass (a policy gradient's
    /// work), and one Fisher-vector product on the recorded tape (forward mode, the head's
    /// metric, reverse mode: what conjugate gradient calls k + 1 times per step), each in
    /// seconds; the whole TRPO step on the frames (Fisher on 10 %); and the sampling
    /// evaluator's single-precision forward on 16 frames per call (16 copies in lockstep), in
    /// ns per frame.
    public func convolution(_ architecture: ConvolutionalArchitecture, label: String) -> [BenchmarkResult] {
        let n = max(16, Int(1_000 * scale))
        let head = PolicyHead.categorical(actions: 6)
        var random = RandomStream(seed: 42, path: [4])
        let network = ConvolutionalNetwork(architecture: architecture, outputSize: head.outputWidth, outputGain: 0.01,
                                           random: &random)
        let frames = BenchmarkSuite.randomFrames(architecture.input, rows: n, random: &random)
        let pixels = frames.pixels
        let outputGradient = Matrix(rows: n, columns: head.outputWidth,
                                    storage: (0..<(n * head.outputWidth)).map { _ in random.normal() / Double(n) })
        let direction = (0..<network.parameters.count).map { _ in random.normal() }
        let shape = "\(label), \(n) frames \(architecture.input.height)x\(architecture.input.width)x\(architecture.input.channels) uint8, \(network.parameters.count) parameters"

        var results: [BenchmarkResult] = []
        func passes<S: BLASScalar>(_: S.Type, _ precision: String) {
            let setting = "\(shape), \(precision)"
            results.append(measure("conv_forward", setting, unit: "s") {
                BenchmarkSuite.seconds { precondition(network.forward(frames, precision: S.self).output.storage.allFinite) }
            })
            results.append(measure("conv_forward_vjp", setting, unit: "s") {
                BenchmarkSuite.seconds {
                    var gradient = [Double](repeating: 0, count: network.parameters.count)
                    network.vectorJacobianProduct(network.forward(frames, precision: S.self), outputGradient: outputGradient,
                                                  into: &gradient)
                    precondition(gradient.allFinite)
                }
            })
            let tape = network.forward(frames, precision: S.self)
            results.append(measure("conv_fisher_vector_product", setting, unit: "s") {
                BenchmarkSuite.seconds {
                    let jv = network.jacobianVectorProduct(tape, tangent: direction)
                    let m = head.fisherProduct(outputs: tape.output, logStd: [], outputTangent: jv, logStdTangent: [])
                    var product = [Double](repeating: 0, count: network.parameters.count)
                    network.vectorJacobianProduct(tape, outputGradient: m.outputs, into: &product)
                    precondition(product.allFinite)
                }
            })
        }
        passes(Double.self, "float64")
        passes(Float.self, "float32")

        // The whole TRPO step on the frames: the paper's settings (δ 0.01, CG 10, Fisher on 10 %).
        let batch = BenchmarkSuite.frameBatch(frames, actions: head.outputWidth, random: &random)
        let policy = ConvolutionalPolicy(head: head, network: network, logStd: [])
        for precision in Precision.allCases {
            results.append(policyStep(policy, batch, shape: shape, fisherSubsample: 0.1, precision: precision))
        }
        let copies = 16
        let evaluator = ConvolutionalEvaluator(layout: network.layout, capacity: copies)
        evaluator.load(network)
        var sampled = [Double](repeating: 0, count: copies * head.outputWidth)
        let calls = n / copies
        let sampling = measure("conv_forward_sampling", "\(label), \(copies) frames per call, float32", unit: "ns/frame") {
            BenchmarkSuite.seconds {
                pixels.withUnsafeBufferPointer { p in
                    for call in 0..<calls {
                        evaluator.evaluate(p.baseAddress! + call * copies * architecture.input.count,
                                           rows: copies, into: &sampled)
                    }
                }
            } / Double(calls * copies) * 1e9
        }
        return results + [sampling]
    }

    /// The whole TRPO step of `policy` on `batch` (δ 0.01, CG 10, the Fisher product on
    /// `fisherSubsample` of it), products in `precision`, in seconds.
    func policyStep(_ policy: ConvolutionalPolicy, _ batch: PolicyBatch<FrameBatch>, shape: String, fisherSubsample: Double,
                    precision: Precision) -> BenchmarkResult {
        var c = TRPOConfiguration()
        c.productPrecision = precision
        c.fisherSubsample = fisherSubsample
        let setting = "\(shape), Fisher on \(Int((fisherSubsample * 100).rounded())) %, CG 10, \(precision == .single ? "float32" : "float64")"
        return measure("conv_policy_step", setting, unit: "s") {
            BenchmarkSuite.seconds {
                var stepped = policy
                var stream = RandomStream(seed: 7)
                _ = stepped.trpoStep(batch, configuration: c, random: &stream)
            }
        }
    }

    /// `rows` frames of `shape` with uniformly random pixels.
    static func randomFrames(_ shape: ImageShape, rows: Int, random: inout RandomStream) -> FrameBatch {
        FrameBatch(shape: shape, rows: rows, pixels: (0..<(rows * shape.count)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
    }

    /// Uniformly random actions of a categorical head of `actions` and standard normal
    /// advantages for `frames`.
    static func frameBatch(_ frames: FrameBatch, actions: Int, random: inout RandomStream) -> PolicyBatch<FrameBatch> {
        let n = frames.rows
        let chosen = Matrix(rows: n, columns: 1, storage: (0..<n).map { _ in Double(random.index(below: actions)) })
        return PolicyBatch(observations: frames, actions: chosen, advantages: (0..<n).map { _ in random.normal() })
    }

    /// The learner's policy step on an Atari-sized batch: 10,000 (× ``scale``) random
    /// 84×84×4 uint8 frames, 6 actions, for `architecture`, in single precision (the learner's
    /// default), with the Fisher product on 10 % (the paper) and on the whole batch
    /// (sb3-contrib's only choice); then the process's peak resident memory so far, in MB.
    /// benchmarks/sb3_contrib/atari_side_by_side.sh runs sb3-contrib's CnnPolicy step beside it.
    public func atariPolicyStep(_ architecture: ConvolutionalArchitecture, label: String) -> [BenchmarkResult] {
        let n = max(16, Int(10_000 * scale))
        let head = PolicyHead.categorical(actions: 6)
        var random = RandomStream(seed: 44, path: [4])
        let network = ConvolutionalNetwork(architecture: architecture, outputSize: head.outputWidth, outputGain: 0.01,
                                           random: &random)
        let frames = BenchmarkSuite.randomFrames(architecture.input, rows: n, random: &random)
        let batch = BenchmarkSuite.frameBatch(frames, actions: head.outputWidth, random: &random)
        let policy = ConvolutionalPolicy(head: head, network: network, logStd: [])
        let shape = "\(label), \(n) frames 84x84x4 uint8, \(network.parameters.count) parameters"
        var results = [0.1, 1].map { policyStep(policy, batch, shape: shape, fisherSubsample: $0, precision: .single) }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Double(usage.ru_maxrss) / 1024  // kB on Linux
        results.append(BenchmarkResult(name: "peak_rss", setting: "the bench process after the steps above (frames \(n * architecture.input.count / 1_000_000) MB)",
                                       value: peak, unit: "MB", repeats: 1, minimum: peak, maximum: peak))
        return results
    }

    /// Seconds of one value fit on 8,192 (× ``scale``) random 84×84×4 uint8 frames with a
    /// convolutional value function of `architecture`: the learner's fit of an Atari batch
    /// (Baselines' 3 epochs; minibatch 256, float32 products), the explained variance before and
    /// after included as the trainer runs it.
    public func convolutionalValueFit(_ architecture: ConvolutionalArchitecture, label: String) -> BenchmarkResult {
        let n = max(256, Int(8_192 * scale))
        var random = RandomStream(seed: 43, path: [4])
        let value0 = ConvolutionalValueFunction(architecture: architecture, learningRate: 1e-4, random: &random)
        let frames = BenchmarkSuite.randomFrames(architecture.input, rows: n, random: &random)
        let targets = (0..<n).map { _ in random.normal() }
        let predictions = value0.predict(frames)
        var configuration = ValueFitConfiguration()
        configuration.epochs = 3
        configuration.learningRate = 1e-4
        if let precision = BenchmarkSuite.precisionOverride { configuration.precision = precision }
        let setting = "\(label), \(n) frames, \(configuration.epochs) epochs of minibatch \(configuration.minibatchSize) Adam, \(configuration.precision)"
        return measure("conv_value_fit", setting, unit: "s") {
            var value = value0
            var stream = RandomStream(seed: 9)
            return BenchmarkSuite.seconds {
                _ = value.fit(frames, targets: targets, predictions: predictions, configuration: configuration, random: &stream)
            }
        }
    }
}
