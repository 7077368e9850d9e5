/// A batch of states as a policy's or value function's network reads them, one state per
/// row: feature vectors (`Matrix`, normalised) for an ``MLP``, uint8 frames (``FrameBatch``)
/// for a ``ConvolutionalNetwork``.
public protocol StateBatch: Sendable {
    /// States in the batch.
    var rows: Int { get }
    /// Values per state.
    var valuesPerState: Int { get }
    /// The states at `indices`, in that order.
    func gatheringRows(_ indices: [Int]) -> Self
}

extension Matrix: StateBatch {
    public var valuesPerState: Int { columns }
}

extension FrameBatch: StateBatch {
    public var valuesPerState: Int { shape.count }
}

/// The network of a ``StochasticPolicy``: a ``DifferentiableNetwork`` on a batch of
/// ``StateBatch``, plus the two products TRPO's step asks of it in the step's precision
/// (``TRPOConfiguration/productPrecision``): ``MLP`` with its fused Fisher-vector product
/// (``FisherOperator``), ``ConvolutionalNetwork`` through its own passes (one forward-mode
/// pass, the head's metric and one reverse-mode pass per Fisher-vector product).
public protocol PolicyNetwork: DifferentiableNetwork, Codable, Equatable where Input: StateBatch {
    /// True when the parameter vector has the layout's length (a decoded network may violate
    /// this; a constructed one cannot).
    var isWellFormed: Bool { get }

    /// The outputs on `states`, `[states.rows × outputSize]`, with the products in `precision`.
    func outputs(on states: Input, precision: Precision) -> Matrix

    /// A forward pass on `states` at the current parameters, kept for the step's derivative
    /// products (the gradient's reverse pass and the Fisher-vector products), in `precision`.
    func stepProducts(on states: Input, precision: Precision) -> any PolicyStepProducts
}

/// The network's side of one TRPO step: a forward pass at θ_old on the step's states, and the
/// products taken on it. The log-std part of θ is the policy's business, not the network's.
public protocol PolicyStepProducts: AnyObject {
    /// States in the pass.
    var rows: Int { get }
    /// The network outputs at θ_old, `[rows × outputSize]`.
    var outputs: Matrix { get }
    /// Reverse mode: `(∂outputs/∂θ_net)ᵀ · outputGradient` summed over the rows
    /// (`outputGradient` is `[rows × outputSize]`), one entry per network parameter.
    func pullBack(_ outputGradient: Matrix) -> [Double]
    /// The products of the rows at `indices`, the forward pass not recomputed (the Fisher
    /// subsample).
    func gatheringRows(_ indices: [Int]) -> any PolicyStepProducts
    /// v ↦ (F + λI) v over these rows for a policy whose network is at θ_old and whose
    /// distribution is `head` with log-std `logStd`: F v = (1/n) Σ_i J_iᵀ M_i J_i v over the
    /// network block and 2·I over the log-std block (``PolicyHead/fisherProduct``), plus
    /// `damping` · v. `v` has network parameters + log-std entries.
    func fisherOperator(head: PolicyHead, logStd: [Double], damping: Double) -> ([Double]) -> [Double]
}

/// The Fisher-vector product F v = (1/n) Σ_i J_iᵀ M_i J_i v (no damping) of a policy whose
/// network recorded `tape` and whose distribution is `head` with log-std `logStd`; `v` has the
/// network's parameters then the log-std entries.
func fisherVectorProduct<Network: DifferentiableNetwork>(
    network: Network, tape: Network.Tape, head: PolicyHead, logStd: [Double], _ v: [Double]
) -> [Double] {
    let n = network.parameters.count
    precondition(v.count == n + logStd.count, "direction has \(v.count) entries, the policy \(n + logStd.count)")
    let jv = network.jacobianVectorProduct(tape, tangent: Array(v[..<n]))
    let m = head.fisherProduct(outputs: tape.output, logStd: logStd, outputTangent: jv, logStdTangent: Array(v[n...]))
    var result = [Double](repeating: 0, count: n)
    network.vectorJacobianProduct(tape, outputGradient: m.outputs, into: &result)
    return result + m.logStd
}

/// The fused, precision-generic products of a dense network (``FisherOperator``).
final class DenseStepProducts<S: BLASScalar>: PolicyStepProducts {
    let network: MLP
    let tape: DenseTape<S>

    init(network: MLP, tape: DenseTape<S>) {
        self.network = network
        self.tape = tape
    }

    var rows: Int { tape.rows }
    var outputs: Matrix { tape.output }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func pullBack(_ outputGradient: Matrix) -> [Double] {
        var g = [Double](repeating: 0, count: network.parameters.count)
        network.vectorJacobianProduct(tape, outputGradient: outputGradient, into: &g)
        return g
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func gatheringRows(_ indices: [Int]) -> any PolicyStepProducts {
        DenseStepProducts(network: network, tape: tape.gatheringRows(indices))
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func fisherOperator(head: PolicyHead, logStd: [Double], damping: Double) -> ([Double]) -> [Double] {
        FisherOperator(network: network, head: head, logStd: logStd, tape: tape, damping: damping).apply
    }
}

extension MLP: PolicyNetwork {
    public func outputs(on states: Matrix, precision: Precision) -> Matrix {
        switch precision {
        case .single: outputs(states, precision: Float.self)
        case .double: outputs(states, precision: Double.self)
        }
    }

    public func stepProducts(on states: Matrix, precision: Precision) -> any PolicyStepProducts {
        switch precision {
        case .single: DenseStepProducts(network: self, tape: forward(states, precision: Float.self))
        case .double: DenseStepProducts(network: self, tape: forward(states, precision: Double.self))
        }
    }
}

/// The products of a convolutional trunk in precision `S` (``ConvolutionTape``): the
/// network outputs, the gradient's reverse pass and the Fisher-vector products, each
/// reduction into `Double` per row block.
final class ConvolutionStepProducts<S: BLASScalar>: PolicyStepProducts {
    let network: ConvolutionalNetwork
    let tape: ConvolutionTape<S>

    init(network: ConvolutionalNetwork, tape: ConvolutionTape<S>) {
        self.network = network
        self.tape = tape
    }

    var rows: Int { tape.rows }
    var outputs: Matrix { tape.output }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func pullBack(_ outputGradient: Matrix) -> [Double] {
        var g = [Double](repeating: 0, count: network.parameters.count)
        network.vectorJacobianProduct(tape, outputGradient: outputGradient, into: &g)
        return g
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func gatheringRows(_ indices: [Int]) -> any PolicyStepProducts {
        ConvolutionStepProducts(network: network, tape: tape.gatheringRows(indices))
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func fisherOperator(head: PolicyHead, logStd: [Double], damping: Double) -> ([Double]) -> [Double] {
        { [network, tape] v in
            let n = network.parameters.count
            precondition(v.count == n + logStd.count, "direction has \(v.count) entries, the policy \(n + logStd.count)")
            let jv = network.jacobianVectorProduct(tape, tangent: Array(v[..<n]))
            let m = head.fisherProduct(outputs: tape.output, logStd: logStd, outputTangent: jv, logStdTangent: Array(v[n...]))
            var result = [Double](repeating: 0, count: n)
            network.vectorJacobianProduct(tape, outputGradient: m.outputs, into: &result)
            result += m.logStd
            for i in result.indices { result[i] += damping * v[i] }
            return result
        }
    }
}

extension ConvolutionalNetwork: PolicyNetwork {
    public func outputs(on states: FrameBatch, precision: Precision) -> Matrix {
        switch precision {
        case .single: outputs(states, precision: Float.self)
        case .double: outputs(states, precision: Double.self)
        }
    }

    public func stepProducts(on states: FrameBatch, precision: Precision) -> any PolicyStepProducts {
        switch precision {
        case .single: ConvolutionStepProducts(network: self, tape: forward(states, precision: Float.self))
        case .double: ConvolutionStepProducts(network: self, tape: forward(states, precision: Double.self))
        }
    }
}
