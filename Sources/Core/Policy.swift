/// A stochastic policy: an MLP from (normalised) observations to the parameters of a
/// ``PolicyHead`` distribution, plus the head's state-independent log-std vector.
///
/// The policy's flat parameter vector θ (``parameters``) is the network's parameters followed
/// by the log-std vector; TRPO's gradient, Fisher-vector products and steps all live in this
/// space, so every trainable number, the log-std included, takes part in the update.
public struct Policy: Sendable, Codable, Equatable {
    public let head: PolicyHead
    public var network: MLP
    public var logStd: [Double]

    /// A freshly initialised policy: orthogonal weights with a 0.01 gain on the output layer
    /// (near-uniform logits, near-zero means) and log-std `initialLogStd`.
    public init(observationSize: Int, head: PolicyHead, hiddenSizes: [Int], activation: Activation = .tanh,
                initialLogStd: Double = 0, random: inout RandomStream) {
        self.head = head
        network = MLP(layerSizes: [observationSize] + hiddenSizes + [head.outputWidth], activation: activation,
                      outputGain: 0.01, random: &random)
        logStd = [Double](repeating: initialLogStd, count: head.logStdCount)
    }

    /// A policy from its parts (as carried by a parameters message or a checkpoint).
    /// - Precondition: the parts agree (see ``isWellFormed``).
    public init(head: PolicyHead, network: MLP, logStd: [Double]) {
        self.head = head
        self.network = network
        self.logStd = logStd
        precondition(isWellFormed, "policy parts disagree: network output \(network.outputSize), head \(head), \(logStd.count) log-stds")
    }

    public var observationSize: Int { network.inputSize }

    /// True when the parts agree: the network's parameter count matches its widths, its
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
