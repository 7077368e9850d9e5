import Foundation
import Testing
@testable import Core

/// The network's three passes against a per-sample loop implementation and central finite
/// differences.
///
/// Finite-difference tolerance: with ε = 1e-6 the truncation error of a central difference is
/// ~ε²·|f‴|/6 ≈ 1e-13 and the rounding error ~u·|f|/ε ≈ 1e-16 · 10 / 1e-6 = 1e-9 for the
/// O(1–10) functionals used here, so a normwise relative error bound of 1e-6 leaves three
/// orders of magnitude of slack while still catching any wrong term (those show up at 1e-2
/// or worse).
@Suite struct MLPTests {
    static let shapes: [[Int]] = [[3, 5, 4, 2], [2, 1], [4, 7, 3], [1, 6, 6, 6, 1]]
    static let epsilon = 1e-6
    static let tolerance = 1e-6

    /// A network with random (not orthogonal-init) parameters and a batch of inputs; for ReLU
    /// the draw is repeated until every hidden pre-activation is at least 1e-3 away from the
    /// kink, so ±ε perturbations (moving them by ≲1e-5) never cross it.
    static func network(_ sizes: [Int], _ activation: Activation, seed: UInt64, rows: Int = 4)
        -> (MLP, Matrix)
    {
        var random = RandomStream(seed: seed, path: [UInt64(sizes.count), UInt64(sizes[0])])
        while true {
            let parameters = randomVector(MLP.parameterCount(layerSizes: sizes), scale: 0.6, &random)
            let input = randomMatrix(rows: rows, columns: sizes[0], &random)
            let reference = naiveForward(layerSizes: sizes, activation: activation, parameters: parameters, input: input)
            if activation == .relu && reference.preActivations.contains(where: { abs($0) < 1e-3 }) { continue }
            return (MLP(layerSizes: sizes, activation: activation, parameters: parameters), input)
        }
    }

    @Test(arguments: shapes, Activation.allCases)
    func forwardMatchesNaiveLoop(sizes: [Int], activation: Activation) {
        let (net, input) = Self.network(sizes, activation, seed: 1, rows: 9)
        let tape = net.forward(input)
        let reference = naiveForward(layerSizes: sizes, activation: activation, parameters: net.parameters, input: input)
        #expect(tape.output.rows == 9 && tape.output.columns == sizes.last!)
        #expect(tape.hidden.count == sizes.count - 2)
        // Only the summation order differs (BLAS vs. loop): a few ulps of the largest term.
        #expect(relativeError(tape.output.storage, reference.output.storage) < 1e-13)
        #expect(tape.input == input)
    }

    @Test(arguments: shapes, Activation.allCases)
    func vectorJacobianProductMatchesFiniteDifferences(sizes: [Int], activation: Activation) {
        let (net, input) = Self.network(sizes, activation, seed: 2)
        var random = RandomStream(seed: 20)
        let u = randomMatrix(rows: input.rows, columns: net.outputSize, &random)
        // f(θ) = Σ_ij u_ij · output_ij(θ), evaluated by the reference loop.
        let f = { (theta: [Double]) -> Double in
            let out = naiveForward(layerSizes: sizes, activation: activation, parameters: theta, input: input).output
            return zip(out.storage, u.storage).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let expected = finiteDifferenceGradient(at: net.parameters, epsilon: Self.epsilon, f)

        // The product accumulates: start from a known non-zero vector and subtract it again.
        let start = randomVector(net.parameters.count, &random)
        var gradient = start
        net.vectorJacobianProduct(net.forward(input), outputGradient: u, into: &gradient)
        let vjp = zip(gradient, start).map { $0 - $1 }

        let error = relativeError(vjp, expected)
        reportMeasurement("MLP VJP vs FD \(sizes) \(activation)", error)
        #expect(error < Self.tolerance)
    }

    @Test(arguments: shapes, Activation.allCases)
    func jacobianVectorProductMatchesFiniteDifferences(sizes: [Int], activation: Activation) {
        let (net, input) = Self.network(sizes, activation, seed: 3)
        var random = RandomStream(seed: 30)
        let v = randomVector(net.parameters.count, &random)
        let expected = finiteDifferenceDirectional(at: net.parameters, direction: v, epsilon: Self.epsilon) { theta in
            naiveForward(layerSizes: sizes, activation: activation, parameters: theta, input: input).output.storage
        }
        let jvp = net.jacobianVectorProduct(net.forward(input), tangent: v)
        #expect(jvp.rows == input.rows && jvp.columns == net.outputSize)
        let error = relativeError(jvp.storage, expected)
        reportMeasurement("MLP JVP vs FD \(sizes) \(activation)", error)
        #expect(error < Self.tolerance)
    }

    /// uᵀ(J v) = (Jᵀ u)ᵀ v holds exactly in exact arithmetic; in Double the two sides are sums
    /// of the same O(10²) products in different orders.
    @Test(arguments: shapes, Activation.allCases)
    func jvpAndVjpAreAdjoint(sizes: [Int], activation: Activation) {
        let (net, input) = Self.network(sizes, activation, seed: 4, rows: 7)
        var random = RandomStream(seed: 40)
        let tape = net.forward(input)
        for _ in 0..<3 {
            let u = randomMatrix(rows: input.rows, columns: net.outputSize, &random)
            let v = randomVector(net.parameters.count, &random)
            let jv = net.jacobianVectorProduct(tape, tangent: v)
            var jtu = [Double](repeating: 0, count: net.parameters.count)
            net.vectorJacobianProduct(tape, outputGradient: u, into: &jtu)
            let lhs = dot(u.storage, jv.storage)
            let rhs = dot(jtu, v)
            let scale = zip(u.storage, jv.storage).reduce(0) { $0 + abs($1.0 * $1.1) }
            #expect(abs(lhs - rhs) <= 1e-12 * scale)
        }
    }

    /// Orthogonal initialisation: each weight block divided by its gain has orthonormal
    /// columns (tall or square blocks) or rows (wide blocks); biases start at zero.
    @Test(arguments: [[3, 8, 8, 2], [6, 6, 6], [2, 16, 1], [5, 3, 9]])
    func orthogonalInitialisation(sizes: [Int]) {
        var random = RandomStream(seed: 5)
        let outputGain = 0.01
        let net = MLP(layerSizes: sizes, activation: .tanh, outputGain: outputGain, random: &random)
        var offset = 0
        for l in 0..<(sizes.count - 1) {
            let (rows, cols) = (sizes[l], sizes[l + 1])
            let gain = l == sizes.count - 2 ? outputGain : 2.0.squareRoot()
            let w = (0..<(rows * cols)).map { net.parameters[offset + $0] / gain }
            // Gram matrix of the columns (tall) or rows (wide) must be the identity.
            let tall = rows >= cols
            let k = tall ? cols : rows
            var worst = 0.0
            for a in 0..<k {
                for b in 0..<k {
                    var s = 0.0
                    if tall {
                        for r in 0..<rows { s += w[r * cols + a] * w[r * cols + b] }
                    } else {
                        for c in 0..<cols { s += w[a * cols + c] * w[b * cols + c] }
                    }
                    worst = max(worst, abs(s - (a == b ? 1 : 0)))
                }
            }
            #expect(worst < 1e-12, "layer \(l) (\(rows)×\(cols)) deviates from orthonormal by \(worst)")
            let biases = net.parameters[(offset + rows * cols)..<(offset + rows * cols + cols)]
            #expect(biases.allSatisfy { $0 == 0 })
            offset += rows * cols + cols
        }
        #expect(offset == net.parameters.count)
    }

    @Test func parameterCountAndLayout() {
        // [3, 5, 4, 2]: 3·5 + 5 + 5·4 + 4 + 4·2 + 2 = 54.
        #expect(MLP.parameterCount(layerSizes: [3, 5, 4, 2]) == 54)
        #expect(MLP.parameterCount(layerSizes: [2, 1]) == 3)
        // A single linear layer with weights w and bias b computes x·W + b: check on e_1.
        let net = MLP(layerSizes: [2, 3], activation: .tanh, parameters: [1, 2, 3, 4, 5, 6, 10, 20, 30])
        let out = net.forward(Matrix(rows: 2, columns: 2, storage: [1, 0, 0, 1])).output
        #expect(out.storage == [11, 22, 33, 14, 25, 36])
    }
}
