/// The contract a policy's (or value function's) network meets for TRPO: a flat `Double`
/// parameter vector θ, a batched forward pass that records a tape, and the two derivative
/// passes over that tape — reverse mode for gradients (the surrogate's, the KL's) and forward
/// mode for the analytic Fisher-vector product `Jᵀ M J v`.
///
/// ``MLP`` (input: a `Matrix` of observations) and ``ConvolutionalNetwork`` (input: frames or
/// images) conform; code written against this protocol (``PolicyNetwork`` and the policy-level
/// derivatives of `TRPO.swift`) takes either trunk.
public protocol DifferentiableNetwork: Sendable {
    /// A batch of inputs, one sample per row.
    associatedtype Input
    associatedtype Tape: NetworkTape

    /// θ, in the network's own layout.
    var parameters: [Double] { get set }
    /// Outputs per sample.
    var outputSize: Int { get }

    /// Evaluates the network on a batch; the tape's ``NetworkTape/output`` is `[n × outputSize]`.
    func forward(_ input: Input) -> Tape

    /// Forward mode: `(∂output/∂θ) · tangent`, `[n × outputSize]`, for a `tangent` of
    /// `parameters.count` values.
    func jacobianVectorProduct(_ tape: Tape, tangent: [Double]) -> Matrix

    /// Reverse mode: adds `(∂output/∂θ)ᵀ · outputGradient` (`outputGradient` is
    /// `[n × outputSize]`), summed over the batch, to `gradient` (`parameters.count` values).
    func vectorJacobianProduct(_ tape: Tape, outputGradient: Matrix, into gradient: inout [Double])
}

/// A forward pass's record: the outputs, and what the derivative passes need.
public protocol NetworkTape: Sendable {
    /// Samples in the pass.
    var rows: Int { get }
    /// The network output, `[rows × outputSize]`.
    var output: Matrix { get }
    /// The rows at `indices`, as a tape of their own (the forward pass not recomputed): the
    /// Fisher subsample.
    func gatheringRows(_ indices: [Int]) -> Self
}

extension MLP: DifferentiableNetwork {}
extension DenseTape: NetworkTape {}
extension ConvolutionalNetwork: DifferentiableNetwork {
    /// Frames, as sampled (`forward(_: Matrix)` takes real-valued images besides).
    public typealias Input = FrameBatch
}
