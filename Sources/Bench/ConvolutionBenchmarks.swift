import Core

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
        let pixels = (0..<(n * architecture.input.count)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let frames = FrameBatch(shape: architecture.input, rows: n, pixels: pixels)
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
        let actions = Matrix(rows: n, columns: 1, storage: (0..<n).map { _ in Double(random.index(below: 6)) })
        let advantages = (0..<n).map { _ in random.normal() }
        let policy = ConvolutionalPolicy(head: head, network: network, logStd: [])
        for precision in Precision.allCases {
            var c = TRPOConfiguration()
            c.productPrecision = precision
            results.append(measure("conv_policy_step", "\(shape), Fisher on 10 %, CG 10, \(precision == .single ? "float32" : "float64")",
                                   unit: "s") {
                BenchmarkSuite.seconds {
                    var stepped = policy
                    var stream = RandomStream(seed: 7)
                    _ = stepped.trpoStep(PolicyBatch(observations: frames, actions: actions, advantages: advantages),
                                         configuration: c, random: &stream)
                }
            })
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

    /// Seconds of one value fit on 8,192 (× ``scale``) random 84×84×4 uint8 frames with a
    /// convolutional value function of `architecture`: the learner's fit of an Atari batch
    /// (Baselines' 3 epochs; minibatch 256, float32 products), the explained variance before and
    /// after included as the trainer runs it.
    public func convolutionalValueFit(_ architecture: ConvolutionalArchitecture, label: String) -> BenchmarkResult {
        let n = max(256, Int(8_192 * scale))
        var random = RandomStream(seed: 43, path: [4])
        let value0 = ConvolutionalValueFunction(architecture: architecture, learningRate: 1e-4, random: &random)
        let frames = FrameBatch(shape: architecture.input, rows: n,
                                pixels: (0..<(n * architecture.input.count)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
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
