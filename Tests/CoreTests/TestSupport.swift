import Foundation
@testable import Core

// Independent reference implementations and numerical helpers for the Core tests.
//
// Nothing here calls into the code under test except for plain data types (`Matrix`,
// `RandomStream`, `MLP`'s stored properties): the references are written from the
// mathematical definitions so that a disagreement with Core is a real finding.

// MARK: - Random data

func randomVector(_ count: Int, scale: Double = 1, _ random: inout RandomStream) -> [Double] {
    (0..<count).map { _ in scale * random.normal() }
}

func randomMatrix(rows: Int, columns: Int, scale: Double = 1, _ random: inout RandomStream) -> Matrix {
    Matrix(rows: rows, columns: columns, storage: randomVector(rows * columns, scale: scale, &random))
}

// MARK: - Norms and errors

func maxAbs(_ x: [Double]) -> Double { x.reduce(0) { max($0, abs($1)) } }

func norm2(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// Normwise relative error ‖a − b‖∞ / ‖b‖∞ of `a` against the reference `b`.
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "compared vectors differ in length")
    let diff = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    return diff / max(maxAbs(b), .leastNormalMagnitude)
}

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), .leastNormalMagnitude) }

func bitPatterns(_ x: [Double]) -> [UInt64] { x.map(\.bitPattern) }

/// Prints a measured error when `CORETESTS_REPORT` is set, so the numbers quoted in reviews
/// can be reproduced with `CORETESTS_REPORT=1 swift test --filter CoreTests`.
func reportMeasurement(_ label: String, _ value: Double) {
    if ProcessInfo.processInfo.environment["CORETESTS_REPORT"] != nil {
        print("[measure] \(label): \(String(format: "%.3e", value))")
    }
}

// MARK: - Finite differences

/// Central-difference gradient of a scalar function, one coordinate at a time.
func finiteDifferenceGradient(at x: [Double], epsilon: Double, _ f: ([Double]) -> Double) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    var probe = x
    for i in x.indices {
        probe[i] = x[i] + epsilon
        let up = f(probe)
        probe[i] = x[i] - epsilon
        let down = f(probe)
        probe[i] = x[i]
        g[i] = (up - down) / (2 * epsilon)
    }
    return g
}

/// Central-difference directional derivative of a vector function along `direction`.
func finiteDifferenceDirectional(at x: [Double], direction v: [Double], epsilon: Double,
                                 _ f: ([Double]) -> [Double]) -> [Double] {
    let up = f(zip(x, v).map { $0 + epsilon * $1 })
    let down = f(zip(x, v).map { $0 - epsilon * $1 })
    return zip(up, down).map { ($0 - $1) / (2 * epsilon) }
}

/// (H t)_k ≈ ∂²f/∂x_k∂t by the four-point mixed central difference.
func finiteDifferenceHessianProduct(at x: [Double], tangent t: [Double], epsilon: Double,
                                    _ f: ([Double]) -> Double) -> [Double] {
    var result = [Double](repeating: 0, count: x.count)
    for k in x.indices {
        func value(_ sk: Double, _ st: Double) -> Double {
            var y = zip(x, t).map { $0 + st * epsilon * $1 }
            y[k] += sk * epsilon
            return f(y)
        }
        result[k] = (value(1, 1) - value(1, -1) - value(-1, 1) + value(-1, -1)) / (4 * epsilon * epsilon)
    }
    return result
}

// MARK: - Reference network

/// A per-sample loop evaluation of an MLP from its flat parameters (weights of layer l as an
/// `[inputs × outputs]` row-major block, then the biases), returning the outputs and every
/// hidden pre-activation (so tests can keep ReLU inputs away from the kink).
func naiveForward(layerSizes: [Int], activation: Activation, parameters: [Double], input: Matrix)
    -> (output: Matrix, preActivations: [Double])
{
    var output = Matrix(rows: input.rows, columns: layerSizes.last!)
    var preActivations: [Double] = []
    for i in 0..<input.rows {
        var h = (0..<input.columns).map { input[i, $0] }
        var offset = 0
        for l in 0..<(layerSizes.count - 1) {
            let (fanIn, fanOut) = (layerSizes[l], layerSizes[l + 1])
            var z = [Double](repeating: 0, count: fanOut)
            for j in 0..<fanOut {
                var s = parameters[offset + fanIn * fanOut + j]
                for a in 0..<fanIn { s += h[a] * parameters[offset + a * fanOut + j] }
                z[j] = s
            }
            offset += fanIn * fanOut + fanOut
            if l < layerSizes.count - 2 {
                preActivations += z
                switch activation {
                case .tanh: h = z.map { Foundation.tanh($0) }
                case .relu: h = z.map { max($0, 0) }
                }
            } else {
                h = z
            }
        }
        for j in 0..<h.count { output[i, j] = h[j] }
    }
    return (output, preActivations)
}

// MARK: - Reference distributions

/// softmax by the textbook formula (inputs kept moderate by the tests).
func referenceSoftmax(_ logits: [Double]) -> [Double] {
    let e = logits.map { Foundation.exp($0) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

func row(_ m: Matrix, _ i: Int) -> [Double] { (0..<m.columns).map { m[i, $0] } }

/// log π(a|s) from the density itself: log of softmax(logits)[a], or of
/// Π_j exp(−(a_j − μ_j)² / 2σ_j²) / (σ_j √(2π)).
func referenceLogProbability(head: PolicyHead, output: [Double], logStd: [Double], action: [Double]) -> Double {
    switch head {
    case .categorical:
        return Foundation.log(referenceSoftmax(output)[Int(action[0])])
    case .gaussian(let d):
        var density = 1.0
        for j in 0..<d {
            let sigma = Foundation.exp(logStd[j])
            let z = (action[j] - output[j]) / sigma
            density *= Foundation.exp(-z * z / 2) / (sigma * (2 * Double.pi).squareRoot())
        }
        return Foundation.log(density)
    }
}

/// KL(old ‖ new) for one state: Σ p log(p/q), or per dimension
/// log(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²) / (2σ₂²) − ½.
func referenceKL(head: PolicyHead, oldOutput: [Double], oldLogStd: [Double],
                 newOutput: [Double], newLogStd: [Double]) -> Double {
    switch head {
    case .categorical:
        let p = referenceSoftmax(oldOutput), q = referenceSoftmax(newOutput)
        return zip(p, q).reduce(0) { $0 + $1.0 * Foundation.log($1.0 / $1.1) }
    case .gaussian(let d):
        var kl = 0.0
        for j in 0..<d {
            let s1 = Foundation.exp(oldLogStd[j]), s2 = Foundation.exp(newLogStd[j])
            let dm = oldOutput[j] - newOutput[j]
            kl += Foundation.log(s2 / s1) + (s1 * s1 + dm * dm) / (2 * s2 * s2) - 0.5
        }
        return kl
    }
}

func referenceMeanKL(head: PolicyHead, oldOutputs: Matrix, oldLogStd: [Double],
                     newOutputs: Matrix, newLogStd: [Double]) -> Double {
    var total = 0.0
    for i in 0..<oldOutputs.rows {
        total += referenceKL(head: head, oldOutput: row(oldOutputs, i), oldLogStd: oldLogStd,
                             newOutput: row(newOutputs, i), newLogStd: newLogStd)
    }
    return total / Double(oldOutputs.rows)
}

// MARK: - Reference policy quantities on flat θ

/// Splits θ into network parameters and log-std and evaluates the network naively.
func referencePolicyOutputs(_ policy: Policy, theta: [Double], observations: Matrix) -> (outputs: Matrix, logStd: [Double]) {
    let n = MLP.parameterCount(layerSizes: policy.network.layerSizes)
    let outputs = naiveForward(layerSizes: policy.network.layerSizes, activation: policy.network.activation,
                               parameters: Array(theta[..<n]), input: observations).output
    return (outputs, Array(theta[n...]))
}

func referenceLogProbabilities(_ policy: Policy, theta: [Double], observations: Matrix, actions: Matrix) -> [Double] {
    let (outputs, logStd) = referencePolicyOutputs(policy, theta: theta, observations: observations)
    return (0..<outputs.rows).map {
        referenceLogProbability(head: policy.head, output: row(outputs, $0), logStd: logStd, action: row(actions, $0))
    }
}

/// L(θ) = mean_i exp(log π_θ(a_i|s_i) − log π_old(a_i|s_i)) · Â_i.
func referenceSurrogate(_ policy: Policy, theta: [Double], thetaOld: [Double], batch: PolicyBatch<Matrix>) -> Double {
    let logP = referenceLogProbabilities(policy, theta: theta, observations: batch.observations, actions: batch.actions)
    let logPOld = referenceLogProbabilities(policy, theta: thetaOld, observations: batch.observations, actions: batch.actions)
    var s = 0.0
    for i in 0..<batch.count { s += Foundation.exp(logP[i] - logPOld[i]) * batch.advantages[i] }
    return s / Double(batch.count)
}

/// mean_i KL(π_θold(·|s_i) ‖ π_θ(·|s_i)).
func referencePolicyKL(_ policy: Policy, theta: [Double], thetaOld: [Double], observations: Matrix) -> Double {
    let new = referencePolicyOutputs(policy, theta: theta, observations: observations)
    let old = referencePolicyOutputs(policy, theta: thetaOld, observations: observations)
    return referenceMeanKL(head: policy.head, oldOutputs: old.outputs, oldLogStd: old.logStd,
                           newOutputs: new.outputs, newLogStd: new.logStd)
}

// MARK: - Dense linear algebra

/// Solves A x = b by Gaussian elimination with partial pivoting (A row-major, n × n).
func solveByGaussianElimination(_ a: [[Double]], _ b: [Double]) -> [Double] {
    let n = b.count
    var m = a
    var rhs = b
    for col in 0..<n {
        let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
        m.swapAt(col, pivot)
        rhs.swapAt(col, pivot)
        for r in (col + 1)..<max(col + 1, n) {
            let factor = m[r][col] / m[col][col]
            if factor == 0 { continue }
            for c in col..<n { m[r][c] -= factor * m[col][c] }
            rhs[r] -= factor * rhs[col]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for r in stride(from: n - 1, through: 0, by: -1) {
        var s = rhs[r]
        for c in (r + 1)..<max(r + 1, n) { s -= m[r][c] * x[c] }
        x[r] = s / m[r][r]
    }
    return x
}

func matrixVector(_ a: [[Double]], _ v: [Double]) -> [Double] {
    a.map { rowValues in zip(rowValues, v).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// A random n × n orthogonal matrix (Gram–Schmidt on Gaussian columns), as rows.
func randomOrthogonal(_ n: Int, _ random: inout RandomStream) -> [[Double]] {
    var columns: [[Double]] = []
    while columns.count < n {
        var v = randomVector(n, &random)
        for _ in 0..<2 {
            for u in columns {
                let c = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<n { v[i] -= c * u[i] }
            }
        }
        let length = norm2(v)
        if length > 1e-6 { columns.append(v.map { $0 / length }) }
    }
    return (0..<n).map { i in (0..<n).map { j in columns[j][i] } }
}

/// Q diag(λ) Qᵀ for a random orthogonal Q.
func symmetricMatrix(eigenvalues: [Double], _ random: inout RandomStream) -> [[Double]] {
    let n = eigenvalues.count
    let q = randomOrthogonal(n, &random)
    return (0..<n).map { i in
        (0..<n).map { j in (0..<n).reduce(0) { $0 + q[i][$1] * eigenvalues[$1] * q[j][$1] } }
    }
}
