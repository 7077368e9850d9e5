import CKernels
import Foundation

/// Adam (Kingma & Ba 2015) over a flat parameter vector of any ``BLASScalar``. Its moments
/// persist across fits so the optimiser state is part of a checkpoint.
public struct AdamOptimizer<Scalar: BLASScalar>: Sendable, Codable, Equatable {
    public var learningRate: Scalar
    public var beta1: Scalar = 0.9
    public var beta2: Scalar = 0.999
    public var epsilon: Scalar = 1e-8
    public private(set) var firstMoment: [Scalar]
    public private(set) var secondMoment: [Scalar]
    public private(set) var steps = 0

    public init(parameterCount: Int, learningRate: Scalar) {
        self.learningRate = learningRate
        firstMoment = [Scalar](repeating: 0, count: parameterCount)
        secondMoment = [Scalar](repeating: 0, count: parameterCount)
    }

    /// One descent step along `gradient` (of the loss to minimise).
    public mutating func step(_ parameters: inout [Scalar], gradient: [Scalar]) {
        precondition(gradient.count == parameters.count && parameters.count == firstMoment.count)
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in step(p.baseAddress!, gradient: g.baseAddress!) }
        }
    }

    /// One descent step on `firstMoment.count` parameters at `parameters` along `gradient`.
    public mutating func step(_ parameters: UnsafeMutablePointer<Scalar>, gradient: UnsafePointer<Scalar>) {
        steps += 1
        // The bias corrections in double precision, rounded once.
        let c1 = Scalar(1 - pow(Double(beta1), Double(steps))), c2 = Scalar(1 - pow(Double(beta2), Double(steps)))
        let count = firstMoment.count
        let (lr, b1, b2, eps) = (learningRate, beta1, beta2, epsilon)
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                Scalar.adamStep(parameters: parameters, firstMoment: m.baseAddress!, secondMoment: v.baseAddress!,
                                gradient: gradient, count: count, learningRate: lr, beta1: b1, beta2: b2,
                                epsilon: eps, c1: c1, c2: c2)
            }
        }
    }
}

/// The value function's optimiser: Adam in double precision.
public typealias Adam = AdamOptimizer<Double>

/// Settings of the value-function fit.
public struct ValueFitConfiguration: Sendable, Codable, Equatable {
    /// Passes over the batch per iteration.
    public var epochs = 10
    /// Samples per Adam step.
    public var minibatchSize = 256
    public var learningRate = 1e-3
    /// Precision of the network's products in the fit (forward and reverse mode per
    /// minibatch) and in the learner's predictions V(s) of a batch for its advantages; the
    /// parameters, Adam, the reported loss and GAE stay double precision.
    public var precision: Precision = .single
    public init() {}

    private enum CodingKeys: String, CodingKey { case epochs, minibatchSize, learningRate, precision }

    /// Decodes a configuration; one written before ``precision`` existed gets the default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try container.decode(Int.self, forKey: .epochs)
        minibatchSize = try container.decode(Int.self, forKey: .minibatchSize)
        learningRate = try container.decode(Double.self, forKey: .learningRate)
        precision = try container.decodeIfPresent(Precision.self, forKey: .precision) ?? Self().precision
    }
}

/// What one value fit did.
public struct ValueFitReport: Sendable, Codable, Equatable {
    /// Explained variance of the targets by the predictions before and after the fit.
    public var explainedVarianceBefore: Double
    public var explainedVarianceAfter: Double
    /// Mean squared error after the fit.
    public var loss: Double
    public var adamSteps: Int

    public init(explainedVarianceBefore: Double, explainedVarianceAfter: Double, loss: Double, adamSteps: Int) {
        self.explainedVarianceBefore = explainedVarianceBefore
        self.explainedVarianceAfter = explainedVarianceAfter
        self.loss = loss
        self.adamSteps = adamSteps
    }

    /// No fit (yet): every figure NaN, no steps.
    public init() { self.init(explainedVarianceBefore: .nan, explainedVarianceAfter: .nan, loss: .nan, adamSteps: 0) }
}

/// The state-value baseline V(s): a network with one linear output (an ``MLP`` on feature
/// vectors, ``ValueFunction``, or a ``ConvolutionalNetwork`` on frames,
/// ``ConvolutionalValueFunction``), fitted every iteration by Adam on minibatches of the mean
/// squared error to the λ-returns (the choice of SB3 and Baselines; we document it in
/// docs/architecture.md).
public struct StateValueFunction<Network: ValueNetwork>: Sendable, Codable, Equatable {
    public var network: Network
    public var optimizer: Adam

    /// A value function over `network` (one output) with a fresh optimiser.
    /// - Precondition: `network.outputSize == 1`.
    public init(network: Network, learningRate: Double) {
        precondition(network.outputSize == 1, "a value network has one output, this one \(network.outputSize)")
        self.network = network
        optimizer = Adam(parameterCount: network.parameters.count, learningRate: learningRate)
    }

    /// V(s) for each state (feature vectors normalised), the network's products in
    /// `precision` (the learner's GAE uses ``ValueFitConfiguration/precision``, the fit's own).
    public func predict(_ states: Network.Input, precision: Precision = .double) -> [Double] {
        network.predictions(states, precision: precision)
    }

    /// Fits V to `targets` by minibatch Adam on ½·mean squared error.
    /// - Parameters:
    ///   - states: n states (feature vectors normalised).
    ///   - targets: n regression targets.
    ///   - predictions: `predict(states, precision: configuration.precision)` when the caller
    ///     has it already (GAE does), for the explained variance before the fit; computed when `nil`.
    ///   - random: shuffles the minibatches.
    public mutating func fit(_ states: Network.Input, targets: [Double], predictions: [Double]? = nil,
                             configuration c: ValueFitConfiguration, random: inout RandomStream) -> ValueFitReport {
        let n = states.rows
        precondition(targets.count == n && (predictions?.count ?? n) == n)
        let before = explainedVariance(predicted: predictions ?? predict(states, precision: c.precision), targets: targets)
        optimizer.learningRate = c.learningRate
        let stepsTaken = network.fitMinibatches(states, targets: targets, optimizer: &optimizer, configuration: c, random: &random)
        // The figures after the fit are diagnostics: computed in the fit's precision.
        let predictions = network.predictions(states, precision: c.precision)
        let loss = zip(predictions, targets).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(max(n, 1))
        return ValueFitReport(explainedVarianceBefore: before,
                              explainedVarianceAfter: explainedVariance(predicted: predictions, targets: targets),
                              loss: loss, adamSteps: stepsTaken)
    }
}

/// A value function on feature vectors: an MLP trunk.
public typealias ValueFunction = StateValueFunction<MLP>

/// A value function on uint8 frames: a convolutional trunk.
public typealias ConvolutionalValueFunction = StateValueFunction<ConvolutionalNetwork>

extension StateValueFunction where Network == MLP {
    /// An MLP value function, orthogonally initialised with gain 1 on the output layer.
    public init(observationSize: Int, hiddenSizes: [Int], activation: Activation = .tanh,
                learningRate: Double, random: inout RandomStream) {
        self.init(network: MLP(layerSizes: [observationSize] + hiddenSizes + [1], activation: activation,
                               outputGain: 1, random: &random),
                  learningRate: learningRate)
    }
}

extension StateValueFunction where Network == ConvolutionalNetwork {
    /// A value function on frames of `architecture.input`, orthogonally initialised with gain 1
    /// on the output layer.
    /// - Precondition: `architecture.isValid`.
    public init(architecture: ConvolutionalArchitecture, learningRate: Double, random: inout RandomStream) {
        self.init(network: ConvolutionalNetwork(architecture: architecture, outputSize: 1, outputGain: 1, random: &random),
                  learningRate: learningRate)
    }
}

/// The network of a ``StateValueFunction``: a ``DifferentiableNetwork`` on a ``StateBatch``
/// and the minibatch loop of its fit, its products in ``ValueFitConfiguration/precision``:
/// ``MLP``'s allocation-free loop, or ``ConvolutionalNetwork``'s, which gathers each
/// minibatch's frames and runs the network's own passes. Both draw the same shuffles.
public protocol ValueNetwork: DifferentiableNetwork, Codable, Equatable where Input: StateBatch {
    /// `configuration.epochs` passes of minibatch Adam on ½·mean squared error to `targets`
    /// (`states.rows` of them), each pass over a fresh shuffle drawn from `random`.
    /// - Returns: the Adam steps taken (a minibatch with a non-finite gradient is skipped).
    mutating func fitMinibatches(_ states: Input, targets: [Double], optimizer: inout Adam,
                                 configuration: ValueFitConfiguration, random: inout RandomStream) -> Int

    /// The network's one output on each state, its products in `precision` (``forward(_:)``'s
    /// output, without keeping what only the derivative passes need).
    func predictions(_ states: Input, precision: Precision) -> [Double]
}

extension ValueNetwork {
    /// The network's one output on each state, in double precision.
    public func predictions(_ states: Input) -> [Double] { predictions(states, precision: .double) }
}

extension ConvolutionalNetwork: ValueNetwork {
    public func predictions(_ states: FrameBatch, precision: Precision) -> [Double] {
        switch precision {
        case .double: outputs(states, precision: Double.self).storage
        case .single: outputs(states, precision: Float.self).storage
        }
    }

    public mutating func fitMinibatches(_ states: FrameBatch, targets: [Double], optimizer: inout Adam,
                                        configuration c: ValueFitConfiguration, random: inout RandomStream) -> Int {
        switch c.precision {
        case .double: fitMinibatches(Double.self, states, targets: targets, optimizer: &optimizer, configuration: c, random: &random)
        case .single: fitMinibatches(Float.self, states, targets: targets, optimizer: &optimizer, configuration: c, random: &random)
        }
    }

    /// The epochs of minibatch Adam with the network's products in `S` (the Adam step in
    /// double precision on the `Double` parameters).
    mutating func fitMinibatches<S: BLASScalar>(_: S.Type, _ states: FrameBatch, targets: [Double], optimizer: inout Adam,
                                                configuration c: ValueFitConfiguration, random: inout RandomStream) -> Int {
        let n = states.rows
        guard n > 0 else { return 0 }
        let batchSize = max(1, min(c.minibatchSize, n))
        var order = Array(0..<n)
        var stepsTaken = 0
        for _ in 0..<c.epochs {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, random.index(below: i + 1)) }
            for start in stride(from: 0, to: n, by: batchSize) {
                let chosen = Array(order[start..<min(start + batchSize, n)])
                let tape = forward(states.gatheringRows(chosen), precision: S.self)
                let residual = Matrix(rows: chosen.count, columns: 1, storage: chosen.indices.map {
                    (tape.output.storage[$0] - targets[chosen[$0]]) / Double(chosen.count)
                })
                var gradient = [Double](repeating: 0, count: parameters.count)
                vectorJacobianProduct(tape, outputGradient: residual, into: &gradient)
                guard gradient.allFinite else { continue }
                optimizer.step(&parameters, gradient: gradient)
                stepsTaken += 1
            }
        }
        return stepsTaken
    }
}

extension MLP: ValueNetwork {
    public func predictions(_ states: Matrix, precision: Precision) -> [Double] {
        switch precision {
        case .double: outputs(states, precision: Double.self).storage
        case .single: outputs(states, precision: Float.self).storage
        }
    }

    public mutating func fitMinibatches(_ states: Matrix, targets: [Double], optimizer: inout Adam,
                                        configuration c: ValueFitConfiguration, random: inout RandomStream) -> Int {
        switch c.precision {
        case .double: fitMinibatches(Double.self, states, targets: targets, optimizer: &optimizer, configuration: c, random: &random)
        case .single: fitMinibatches(Float.self, states, targets: targets, optimizer: &optimizer, configuration: c, random: &random)
        }
    }

    /// The epochs of minibatch Adam, with the network's products in `S`: every buffer is
    /// allocated once per fit, each minibatch is gathered straight into the forward pass's
    /// input buffer, and the Adam step runs in double precision on the `Double` parameters
    /// (the `S` copy of the parameters is refreshed after each step).
    /// - Returns: the Adam steps taken (a minibatch with a non-finite gradient is skipped).
    mutating func fitMinibatches<S: BLASScalar>(_: S.Type, _ observations: Matrix, targets: [Double],
                                                optimizer: inout Adam, configuration c: ValueFitConfiguration,
                                                random: inout RandomStream) -> Int {
        let n = observations.rows
        guard n > 0 else { return 0 }
        let activation = self.activation
        let p = layout.parameterCount
        let inputs = layout.inputSize
        let batchSize = max(1, min(c.minibatchSize, n))
        let values = LayerBuffers<S>(widths: layout.layerSizes, capacity: batchSize)
        let scratch = LayerBuffers<S>(widths: layout.layerSizes, capacity: batchSize)
        let ones = OnesVector<S>(count: batchSize)
        let theta = UnsafeMutableBufferPointer<S>.allocate(capacity: p)
        let transposed = UnsafeMutablePointer<S>.allocate(capacity: p)
        let gradientS = UnsafeMutableBufferPointer<S>.allocate(capacity: p)
        let residual = UnsafeMutableBufferPointer<S>.allocate(capacity: batchSize)
        let gradient = UnsafeMutableBufferPointer<Double>.allocate(capacity: p)
        defer { theta.deallocate(); transposed.deallocate(); gradientS.deallocate(); residual.deallocate(); gradient.deallocate() }
        func loadParameters(_ parameters: [Double]) {
            for i in 0..<p { theta[i] = S(parameters[i]) }
            layout.transposeWeights(UnsafePointer(theta.baseAddress!), into: transposed)
        }
        loadParameters(parameters)
        var order = Array(0..<n)
        var stepsTaken = 0
        observations.storage.withUnsafeBufferPointer { x in
            for _ in 0..<c.epochs {
                for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, random.index(below: i + 1)) }
                var start = 0
                while start < n {
                    let rows = min(start + batchSize, n) - start
                    let input = values.pointers[0]
                    for k in 0..<rows {
                        let src = x.baseAddress! + order[start + k] * inputs, dst = input + k * inputs
                        for j in 0..<inputs { dst[j] = S(src[j]) }
                    }
                    layout.forward(activation: activation, theta: theta.baseAddress!, values: values.pointers,
                                   firstRow: 0, rows: rows)
                    let output = values.pointers[layout.layerCount]
                    for k in 0..<rows { residual[k] = S((Double(output[k]) - targets[order[start + k]]) / Double(rows)) }
                    start += batchSize
                    gradientS.update(repeating: 0)
                    layout.vectorJacobianProduct(
                        activation: activation, theta: theta.baseAddress!, transposedWeights: transposed,
                        values: values.pointers, firstRow: 0,
                        rows: rows, outputGradient: residual.baseAddress!, gradients: scratch.pointers,
                        ones: ones.pointer, into: gradientS.baseAddress!)
                    var nonFinite = 0.0  // stays 0 unless a component is infinite or NaN
                    for i in 0..<p {
                        let g = Double(gradientS[i])
                        gradient[i] = g
                        nonFinite += g * 0
                    }
                    guard nonFinite == 0 else { continue }
                    parameters.withUnsafeMutableBufferPointer { optimizer.step($0.baseAddress!, gradient: gradient.baseAddress!) }
                    loadParameters(parameters)
                    stepsTaken += 1
                }
            }
        }
        return stepsTaken
    }
}

/// A value function on either trunk, as a run holds it beside its ``AnyPolicy``.
///
/// Coded as the value function itself, so a checkpoint of an MLP value function reads as it
/// did before; a convolutional one is recognised by its network's `architecture`.
public enum AnyValueFunction: Sendable, Equatable, Codable {
    case dense(ValueFunction)
    case convolutional(ConvolutionalValueFunction)

    /// The network's parameters.
    public var parameters: [Double] {
        switch self {
        case .dense(let v): v.network.parameters
        case .convolutional(let v): v.network.parameters
        }
    }

    public var isWellFormed: Bool {
        switch self {
        case .dense(let v): v.network.isWellFormed && v.network.outputSize == 1
        case .convolutional(let v): v.network.isWellFormed && v.network.outputSize == 1
        }
    }

    /// Values per observation: the MLP's input width, or the pixels of a frame.
    public var observationSize: Int {
        switch self {
        case .dense(let v): v.network.inputSize
        case .convolutional(let v): v.network.inputSize
        }
    }

    private enum NetworkKeys: String, CodingKey { case network }
    private enum ArchitectureKeys: String, CodingKey { case architecture }

    public init(from decoder: any Decoder) throws {
        let network = try decoder.container(keyedBy: NetworkKeys.self).nestedContainer(keyedBy: ArchitectureKeys.self, forKey: .network)
        self = network.contains(.architecture)
            ? .convolutional(try ConvolutionalValueFunction(from: decoder))
            : .dense(try ValueFunction(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .dense(let v): try v.encode(to: encoder)
        case .convolutional(let v): try v.encode(to: encoder)
        }
    }
}
