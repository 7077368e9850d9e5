import Foundation

/// A stochastic policy: a network from states (normalised feature vectors, or frames) to the
/// parameters of a ``PolicyHead`` distribution, plus the head's state-independent log-std
/// vector.
///
/// The policy's flat parameter vector θ (``parameters``) is the network's parameters followed
/// by the log-std vector; TRPO's gradient, Fisher-vector products and steps all live in this
/// space, so every trainable number, the log-std included, takes part in the update. The
/// network is an ``MLP`` (``Policy``) or a ``ConvolutionalNetwork`` (``ConvolutionalPolicy``);
/// the step (TRPO.swift) is written once for both.
public struct StochasticPolicy<Network: PolicyNetwork>: Sendable, Codable, Equatable {
    public let head: PolicyHead
    public var network: Network
    public var logStd: [Double]

    /// A policy from its parts (as carried by a parameters message or a checkpoint).
    /// - Precondition: the parts agree (see ``isWellFormed``).
    public init(head: PolicyHead, network: Network, logStd: [Double]) {
        self.head = head
        self.network = network
        self.logStd = logStd
        precondition(isWellFormed, "policy parts disagree: network output \(network.outputSize), head \(head), \(logStd.count) log-stds")
    }

    /// True when the parts agree: the network's parameter count matches its layout, its
    /// output width matches the head, and there is one log-std per Gaussian dimension.
    /// (A decoded policy may violate this; a constructed one cannot.)
    public var isWellFormed: Bool {
        network.isWellFormed && network.outputSize == head.outputWidth && logStd.count == head.logStdCount
    }
    public var parameterCount: Int { network.parameters.count + logStd.count }

    /// θ: the network parameters followed by the log-std vector.
    public var parameters: [Double] {
        get { network.parameters + logStd }
        set {
            precondition(newValue.count == parameterCount, "policy has \(parameterCount) parameters, got \(newValue.count)")
            let n = network.parameters.count
            network.parameters = Array(newValue[..<n])
            logStd = Array(newValue[n...])
        }
    }
}

/// A policy on feature vectors: an MLP trunk.
public typealias Policy = StochasticPolicy<MLP>

/// A policy on uint8 frames: a convolutional trunk (Atari from pixels).
public typealias ConvolutionalPolicy = StochasticPolicy<ConvolutionalNetwork>

extension StochasticPolicy where Network == MLP {
    /// A freshly initialised policy: orthogonal weights with a 0.01 gain on the output layer
    /// (near-uniform logits, near-zero means) and log-std `initialLogStd`.
    public init(observationSize: Int, head: PolicyHead, hiddenSizes: [Int], activation: Activation = .tanh,
                initialLogStd: Double = 0, random: inout RandomStream) {
        self.init(head: head,
                  network: MLP(layerSizes: [observationSize] + hiddenSizes + [head.outputWidth], activation: activation,
                               outputGain: 0.01, random: &random),
                  logStd: [Double](repeating: initialLogStd, count: head.logStdCount))
    }

    public var observationSize: Int { network.inputSize }
}

extension StochasticPolicy where Network == ConvolutionalNetwork {
    /// A freshly initialised policy on frames of `architecture.input`: orthogonal blocks
    /// (gain √2) with a 0.01 gain on the output layer, as the dense policy, and log-std
    /// `initialLogStd`.
    /// - Precondition: `architecture.isValid`.
    public init(architecture: ConvolutionalArchitecture, head: PolicyHead, initialLogStd: Double = 0,
                random: inout RandomStream) {
        self.init(head: head,
                  network: ConvolutionalNetwork(architecture: architecture, outputSize: head.outputWidth,
                                                outputGain: 0.01, random: &random),
                  logStd: [Double](repeating: initialLogStd, count: head.logStdCount))
    }
}

/// A policy on either trunk, as a run or a parameters message holds it: an MLP on feature
/// vectors, or a convolutional network on frames.
///
/// Coded as the policy itself, so a checkpoint of a dense policy reads as it did before
/// policies took either trunk; a convolutional policy is recognised by its network's
/// `architecture`.
public enum AnyPolicy: Sendable, Equatable, Codable {
    case dense(Policy)
    case convolutional(ConvolutionalPolicy)

    public var head: PolicyHead {
        switch self {
        case .dense(let p): p.head
        case .convolutional(let p): p.head
        }
    }

    public var logStd: [Double] {
        switch self {
        case .dense(let p): p.logStd
        case .convolutional(let p): p.logStd
        }
    }

    /// θ: the network parameters followed by the log-std vector.
    public var parameters: [Double] {
        switch self {
        case .dense(let p): p.parameters
        case .convolutional(let p): p.parameters
        }
    }

    public var isWellFormed: Bool {
        switch self {
        case .dense(let p): p.isWellFormed
        case .convolutional(let p): p.isWellFormed
        }
    }

    /// Values per observation: the MLP's input width, or the pixels of a frame.
    public var observationSize: Int {
        switch self {
        case .dense(let p): p.observationSize
        case .convolutional(let p): p.network.inputSize
        }
    }

    /// The network in words, e.g. `an MLP [4, 64, 64, 2] (4,610 parameters)` or `a
    /// convolutional policy on 84×84×4 uint8 frames: 8 × 8×8/4, 16 × 4×4/2, dense [128]
    /// (170,910 parameters)`.
    public var networkDescription: String {
        let count = parameters.count.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
        switch self {
        case .dense(let p):
            return "an MLP policy \(p.network.layerSizes) (\(count) parameters)"
        case .convolutional(let p):
            let a = p.network.architecture
            let convolutions = a.convolutions.map { "\($0.filters) × \($0.kernel)×\($0.kernel)/\($0.stride)" }.joined(separator: ", ")
            return "a convolutional policy on \(a.input.height)×\(a.input.width)×\(a.input.channels) uint8 frames: "
                + "\(convolutions), dense \(a.hiddenSizes) (\(count) parameters)"
        }
    }

    private enum NetworkKeys: String, CodingKey { case network }
    private enum ArchitectureKeys: String, CodingKey { case architecture }

    public init(from decoder: any Decoder) throws {
        let network = try decoder.container(keyedBy: NetworkKeys.self).nestedContainer(keyedBy: ArchitectureKeys.self, forKey: .network)
        self = network.contains(.architecture)
            ? .convolutional(try ConvolutionalPolicy(from: decoder))
            : .dense(try Policy(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .dense(let p): try p.encode(to: encoder)
        case .convolutional(let p): try p.encode(to: encoder)
        }
    }
}
