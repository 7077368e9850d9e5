import Foundation
import Testing
@testable import Core

/// The two action distributions against closed forms written from their densities, and their
/// derivatives against central finite differences of those closed forms.
@Suite struct PolicyHeadTests {
    static let heads: [PolicyHead] = [.categorical(actions: 4), .gaussian(dimensions: 3)]
    static let rows = 5

    /// Random network outputs, log-std and actions for `rows` states. Gaussian actions are
    /// drawn from the distribution; categorical ones uniformly.
    static func batch(_ head: PolicyHead, seed: UInt64) -> (outputs: Matrix, logStd: [Double], actions: Matrix) {
        var random = RandomStream(seed: seed, path: [UInt64(head.outputWidth)])
        let outputs = randomMatrix(rows: rows, columns: head.outputWidth, &random)
        let logStd = (0..<head.logStdCount).map { _ in random.uniform(-0.7, 0.5) }
        var actions = Matrix(rows: rows, columns: head.actionWidth)
        for i in 0..<rows {
            switch head {
            case .categorical(let k): actions[i, 0] = Double(random.index(below: k))
            case .gaussian(let d):
                for j in 0..<d { actions[i, j] = outputs[i, j] + exp(logStd[j]) * random.normal() }
            }
        }
        return (outputs, logStd, actions)
    }

    // MARK: - Shapes

    @Test func widthsAndActionSpaces() {
        #expect(PolicyHead(.discrete(count: 5)) == .categorical(actions: 5))
        #expect(PolicyHead(.box(low: [-1, -1, -1], high: [1, 1, 1])) == .gaussian(dimensions: 3))
        let c = PolicyHead.categorical(actions: 5), g = PolicyHead.gaussian(dimensions: 3)
        #expect((c.outputWidth, c.logStdCount, c.actionWidth) == (5, 0, 1))
        #expect((g.outputWidth, g.logStdCount, g.actionWidth) == (3, 3, 3))
    }

    // MARK: - Log-probabilities

    @Test(arguments: heads)
    func logProbabilitiesMatchDensity(head: PolicyHead) {
        let (outputs, logStd, actions) = Self.batch(head, seed: 1)
        let logP = head.logProbabilities(outputs: outputs, logStd: logStd, actions: actions)
        let expected = (0..<Self.rows).map {
            referenceLogProbability(head: head, output: row(outputs, $0), logStd: logStd, action: row(actions, $0))
        }
        #expect(relativeError(logP, expected) < 1e-13)
    }

    /// Hand-computed values: softmax([0, ln 3]) = (¼, ¾); a 1-D Gaussian with μ = 1, σ = 2 at
    /// a = 2 has log density −½·(½)² − ln 2 − ½ ln 2π.
    @Test func logProbabilityHandValues() {
        let c = PolicyHead.categorical(actions: 2)
        let logits = Matrix(rows: 2, columns: 2, storage: [0, log(3), 0, log(3)])
        let lp = c.logProbabilities(outputs: logits, logStd: [], actions: Matrix(rows: 2, columns: 1, storage: [0, 1]))
        #expect(abs(lp[0] - log(0.25)) < 1e-15)
        #expect(abs(lp[1] - log(0.75)) < 1e-15)

        let g = PolicyHead.gaussian(dimensions: 1)
        let gp = g.logProbabilities(outputs: Matrix(rows: 1, columns: 1, storage: [1]), logStd: [log(2)],
                                    actions: Matrix(rows: 1, columns: 1, storage: [2]))
        #expect(abs(gp[0] - (-0.125 - log(2) - 0.5 * log(2 * Double.pi))) < 1e-15)
    }

    /// Softmax is shift-invariant; the implementation must stay finite for huge logits.
    @Test func categoricalIsStableForLargeLogits() {
        let head = PolicyHead.categorical(actions: 4)
        let (outputs, _, actions) = Self.batch(head, seed: 2)
        var shifted = outputs
        for i in shifted.storage.indices { shifted.storage[i] += 1000 }
        let a = head.logProbabilities(outputs: outputs, logStd: [], actions: actions)
        let b = head.logProbabilities(outputs: shifted, logStd: [], actions: actions)
        #expect(b.allFinite)
        #expect(relativeError(b, a) < 1e-12)
        let kl = head.meanKL(oldOutputs: outputs, oldLogStd: [], newOutputs: shifted, newLogStd: [])
        #expect(abs(kl) < 1e-12)
        #expect(abs(head.meanEntropy(outputs: shifted, logStd: []) - head.meanEntropy(outputs: outputs, logStd: [])) < 1e-12)
    }

    /// A categorical action entry that is not an index in 0..<k gives NaN for its own row
    /// (log-probability and gradient) and leaves the other rows intact, instead of trapping
    /// in `Int(_:)` or reading/writing outside the row.
    @Test(arguments: [Double.nan, .infinity, -1, 4, 1.5, 1e300])
    func invalidCategoricalActionsGiveNaN(bad: Double) {
        let head = PolicyHead.categorical(actions: 4)
        let (outputs, _, good) = Self.batch(head, seed: 14)
        var actions = good
        actions[2, 0] = bad
        let logP = head.logProbabilities(outputs: outputs, logStd: [], actions: actions)
        let expected = head.logProbabilities(outputs: outputs, logStd: [], actions: good)
        #expect(logP[2].isNaN)
        for i in 0..<Self.rows where i != 2 { #expect(logP[i] == expected[i]) }

        let weights = [Double](repeating: 1, count: Self.rows)
        let g = head.weightedLogProbabilityGradient(outputs: outputs, logStd: [], actions: actions, weights: weights)
        let gGood = head.weightedLogProbabilityGradient(outputs: outputs, logStd: [], actions: good, weights: weights)
        #expect(row(g.outputs, 2).allSatisfy { $0.isNaN })
        for i in 0..<Self.rows where i != 2 { #expect(row(g.outputs, i) == row(gGood.outputs, i)) }
    }

    // MARK: - Score function

    /// Σ_i w_i ∇ log π(a_i|s_i) w.r.t. outputs and log-std against central differences of the
    /// reference log density (ε = 1e-6; rounding error ≈ 1e-16·|Σ w log π|/ε ≈ 1e-9).
    @Test(arguments: heads)
    func weightedLogProbabilityGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (outputs, logStd, actions) = Self.batch(head, seed: 3)
        var random = RandomStream(seed: 33)
        let weights = randomVector(Self.rows, &random)
        let x = outputs.storage + logStd
        let f = { (x: [Double]) -> Double in
            let w = head.outputWidth
            let ls = Array(x[(Self.rows * w)...])
            var s = 0.0
            for i in 0..<Self.rows {
                s += weights[i] * referenceLogProbability(head: head, output: Array(x[(i * w)..<((i + 1) * w)]),
                                                          logStd: ls, action: row(actions, i))
            }
            return s
        }
        let expected = finiteDifferenceGradient(at: x, epsilon: 1e-6, f)
        let g = head.weightedLogProbabilityGradient(outputs: outputs, logStd: logStd, actions: actions, weights: weights)
        #expect(g.outputs.rows == Self.rows && g.outputs.columns == head.outputWidth)
        #expect(g.logStd.count == head.logStdCount)
        let error = relativeError(g.outputs.storage + g.logStd, expected)
        reportMeasurement("head score gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    // MARK: - KL divergence

    @Test(arguments: heads)
    func meanKLMatchesClosedFormAndIsNonNegative(head: PolicyHead) {
        var random = RandomStream(seed: 4)
        for trial in 0..<20 {
            let (oldOutputs, oldLogStd, _) = Self.batch(head, seed: 100 + UInt64(trial))
            // New parameters: a perturbation of the old ones of varying size.
            let size = [1e-3, 0.1, 1][trial % 3]
            var newOutputs = oldOutputs
            for i in newOutputs.storage.indices { newOutputs.storage[i] += size * random.normal() }
            let newLogStd = oldLogStd.map { $0 + size * random.normal() }
            let kl = head.meanKL(oldOutputs: oldOutputs, oldLogStd: oldLogStd, newOutputs: newOutputs, newLogStd: newLogStd)
            let expected = referenceMeanKL(head: head, oldOutputs: oldOutputs, oldLogStd: oldLogStd,
                                           newOutputs: newOutputs, newLogStd: newLogStd)
            #expect(kl >= 0)
            // The reference sums p·log(p/q) directly; for tiny KL both sides carry absolute
            // rounding errors ~1e-16, hence the absolute floor.
            #expect(abs(kl - expected) <= 1e-12 * expected + 1e-15, "trial \(trial): \(kl) vs \(expected)")
        }
    }

    @Test(arguments: heads)
    func meanKLVanishesAtIdenticalParameters(head: PolicyHead) {
        let (outputs, logStd, _) = Self.batch(head, seed: 5)
        let kl = head.meanKL(oldOutputs: outputs, oldLogStd: logStd, newOutputs: outputs, newLogStd: logStd)
        #expect(abs(kl) <= 1e-15)
        let g = head.meanKLGradient(oldOutputs: outputs, oldLogStd: logStd, newOutputs: outputs, newLogStd: logStd)
        #expect(maxAbs(g.outputs.storage + g.logStd) <= 1e-15)
    }

    /// Hand-computed cases.
    /// Gaussian, 1-D: μ₁ = 0, σ₁ = 1, μ₂ = 1, σ₂ = 2: KL = ln 2 + (1 + 1)/(2·4) − ½ = ln 2 − ¼.
    /// Categorical: p = (½, ½), q = softmax(ln 3, 0) = (¾, ¼):
    /// KL = ½ ln(½/¾) + ½ ln(½/¼) = ½ ln(4/3).
    @Test func meanKLHandValues() {
        let g = PolicyHead.gaussian(dimensions: 1)
        let klG = g.meanKL(oldOutputs: Matrix(rows: 1, columns: 1, storage: [0]), oldLogStd: [0],
                           newOutputs: Matrix(rows: 1, columns: 1, storage: [1]), newLogStd: [log(2)])
        #expect(abs(klG - (log(2) - 0.25)) < 1e-15)

        let c = PolicyHead.categorical(actions: 2)
        let klC = c.meanKL(oldOutputs: Matrix(rows: 1, columns: 2, storage: [0, 0]), oldLogStd: [],
                           newOutputs: Matrix(rows: 1, columns: 2, storage: [log(3), 0]), newLogStd: [])
        #expect(abs(klC - 0.5 * log(4.0 / 3)) < 1e-15)

        // The mean over states: the two cases above averaged with a zero-KL state.
        let klMean = c.meanKL(oldOutputs: Matrix(rows: 2, columns: 2, storage: [0, 0, 5, 1]), oldLogStd: [],
                              newOutputs: Matrix(rows: 2, columns: 2, storage: [log(3), 0, 5, 1]), newLogStd: [])
        #expect(abs(klMean - 0.25 * log(4.0 / 3)) < 1e-15)
    }

    @Test(arguments: heads)
    func meanKLGradientMatchesFiniteDifferences(head: PolicyHead) {
        let (oldOutputs, oldLogStd, _) = Self.batch(head, seed: 6)
        let (newOutputs, newLogStd, _) = Self.batch(head, seed: 7)
        let w = head.outputWidth
        let f = { (x: [Double]) -> Double in
            referenceMeanKL(head: head, oldOutputs: oldOutputs, oldLogStd: oldLogStd,
                            newOutputs: Matrix(rows: Self.rows, columns: w, storage: Array(x[..<(Self.rows * w)])),
                            newLogStd: Array(x[(Self.rows * w)...]))
        }
        let expected = finiteDifferenceGradient(at: newOutputs.storage + newLogStd, epsilon: 1e-6, f)
        let g = head.meanKLGradient(oldOutputs: oldOutputs, oldLogStd: oldLogStd, newOutputs: newOutputs, newLogStd: newLogStd)
        let error = relativeError(g.outputs.storage + g.logStd, expected)
        reportMeasurement("head KL gradient vs FD \(head)", error)
        #expect(error < 1e-6)
    }

    /// The analytic Fisher product equals the Hessian of the reference mean KL w.r.t. the new
    /// distribution parameters at new = old, applied to a tangent. The Hessian product is a
    /// four-point mixed difference with ε = 1e-4: truncation ~ε² ≈ 1e-8 relative, rounding
    /// ~1e-16·|terms| / (4ε²) ≈ 1e-9; the bound is 1e-5.
    @Test(arguments: heads)
    func fisherProductIsTheHessianOfMeanKL(head: PolicyHead) {
        let (outputs, logStd, _) = Self.batch(head, seed: 8)
        var random = RandomStream(seed: 88)
        let w = head.outputWidth
        let tOut = randomMatrix(rows: Self.rows, columns: w, &random)
        let tLogStd = randomVector(head.logStdCount, &random)
        let f = { (x: [Double]) -> Double in
            referenceMeanKL(head: head, oldOutputs: outputs, oldLogStd: logStd,
                            newOutputs: Matrix(rows: Self.rows, columns: w, storage: Array(x[..<(Self.rows * w)])),
                            newLogStd: Array(x[(Self.rows * w)...]))
        }
        let expected = finiteDifferenceHessianProduct(at: outputs.storage + logStd, tangent: tOut.storage + tLogStd,
                                                      epsilon: 1e-4, f)
        let m = head.fisherProduct(outputs: outputs, logStd: logStd, outputTangent: tOut, logStdTangent: tLogStd)
        let error = relativeError(m.outputs.storage + m.logStd, expected)
        reportMeasurement("head Fisher product vs FD Hessian \(head)", error)
        #expect(error < 1e-5)
    }

    // MARK: - Entropy

    @Test(arguments: heads)
    func meanEntropyMatchesClosedForm(head: PolicyHead) {
        let (outputs, logStd, _) = Self.batch(head, seed: 9)
        var expected = 0.0
        switch head {
        case .categorical:
            for i in 0..<Self.rows {
                expected -= referenceSoftmax(row(outputs, i)).reduce(0) { $0 + $1 * log($1) }
            }
            expected /= Double(Self.rows)
        case .gaussian:
            // ½ ln(2πe σ²) per dimension.
            expected = logStd.reduce(0) { $0 + 0.5 * log(2 * Double.pi * M_E * exp(2 * $1)) }
        }
        #expect(abs(head.meanEntropy(outputs: outputs, logStd: logStd) - expected) < 1e-13)
    }

    @Test func entropyHandValues() {
        // Uniform over k actions: ln k, whatever the (equal) logits.
        let c = PolicyHead.categorical(actions: 6)
        let flat = Matrix(rows: 3, columns: 6, storage: [Double](repeating: 0, count: 6)
            + [Double](repeating: 7, count: 6) + [Double](repeating: -2, count: 6))
        #expect(abs(c.meanEntropy(outputs: flat, logStd: []) - log(6)) < 1e-14)
        // Standard normal: ½ ln(2πe) ≈ 1.4189385332046727.
        let g = PolicyHead.gaussian(dimensions: 1)
        #expect(abs(g.meanEntropy(outputs: Matrix(rows: 1, columns: 1), logStd: [0]) - 1.4189385332046727) < 1e-15)
    }

    // MARK: - Sampling

    /// Draws `count` actions for one state through the pointer-based API.
    static func draw(_ head: PolicyHead, output: [Double], logStd: [Double], deterministic: Bool,
                     count: Int, seed: UInt64) -> [[Double]] {
        var random = RandomStream(seed: seed)
        var action = [Double](repeating: 0, count: head.actionWidth)
        var scratch = [Double](repeating: 0, count: head.outputWidth)
        let logStdStorage = logStd.isEmpty ? [0] : logStd  // keep a valid base address
        var result: [[Double]] = []
        result.reserveCapacity(count)
        output.withUnsafeBufferPointer { o in
            logStdStorage.withUnsafeBufferPointer { s in
                for _ in 0..<count {
                    action.withUnsafeMutableBufferPointer { a in
                        scratch.withUnsafeMutableBufferPointer { w in
                            head.sample(output: o.baseAddress!, logStd: s.baseAddress!, deterministic: deterministic,
                                        random: &random, into: a.baseAddress!, scratch: w.baseAddress!)
                        }
                    }
                    result.append(action)
                }
            }
        }
        return result
    }

    /// Frequencies of 40 000 draws within 4.5 standard errors √(p(1−p)/N) of softmax(logits)
    /// (a false alarm has probability < 1e-5 per action).
    @Test func categoricalSamplingFrequenciesMatchSoftmax() {
        let head = PolicyHead.categorical(actions: 4)
        let logits = [0.3, -1.2, 1.1, 0.0]
        let n = 40_000
        let draws = Self.draw(head, output: logits, logStd: [], deterministic: false, count: n, seed: 10)
        var counts = [Int](repeating: 0, count: 4)
        for a in draws {
            #expect(a[0] == a[0].rounded() && a[0] >= 0 && a[0] < 4)
            counts[Int(a[0])] += 1
        }
        let p = referenceSoftmax(logits)
        for j in 0..<4 {
            let standardError = (p[j] * (1 - p[j]) / Double(n)).squareRoot()
            let frequency = Double(counts[j]) / Double(n)
            #expect(abs(frequency - p[j]) < 4.5 * standardError, "action \(j): \(frequency) vs \(p[j])")
        }
    }

    /// Mean within 4.5 σ/√N, standard deviation within 4.5 σ/√(2N) (its asymptotic standard
    /// error for a normal sample), per dimension.
    @Test func gaussianSamplingMoments() {
        let head = PolicyHead.gaussian(dimensions: 2)
        let mean = [0.5, -1.0], logStd = [log(0.5), log(2.0)]
        let n = 40_000
        let draws = Self.draw(head, output: mean, logStd: logStd, deterministic: false, count: n, seed: 11)
        for j in 0..<2 {
            let x = draws.map { $0[j] }
            let m = x.reduce(0, +) / Double(n)
            let s = (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
            let sigma = exp(logStd[j])
            #expect(abs(m - mean[j]) < 4.5 * sigma / Double(n).squareRoot())
            #expect(abs(s - sigma) < 4.5 * sigma / (2 * Double(n)).squareRoot())
        }
    }

    @Test func deterministicModeIsArgmaxOrMean() {
        let c = PolicyHead.categorical(actions: 5)
        let logits = [0.3, -1.2, 1.1, 2.5, 2.4]
        let modes = Self.draw(c, output: logits, logStd: [], deterministic: true, count: 5, seed: 12)
        #expect(modes.allSatisfy { $0 == [3] })
        let g = PolicyHead.gaussian(dimensions: 3)
        let mean = [0.25, -3, 7.5]
        let means = Self.draw(g, output: mean, logStd: [1, 2, 3], deterministic: true, count: 5, seed: 13)
        #expect(means.allSatisfy { $0 == mean })
    }
}
