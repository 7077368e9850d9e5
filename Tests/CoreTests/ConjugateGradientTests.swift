import Foundation
import Testing
@testable import Core

/// Conjugate gradient against Gaussian elimination, its product budget, and its failure modes.
@Suite struct ConjugateGradientTests {
    /// A random SPD matrix with eigenvalues spread log-uniformly over [1, κ].
    static func spd(_ n: Int, condition: Double, _ random: inout RandomStream) -> [[Double]] {
        let eigenvalues = (0..<n).map { i in pow(condition, n == 1 ? 0 : Double(i) / Double(n - 1)) }
        return symmetricMatrix(eigenvalues: eigenvalues, &random)
    }

    /// With 5n iterations (plenty: exact CG needs n, rounding costs a few more at κ = 100)
    /// and a residual tolerance of 1e-30 the iterate matches the direct solve to 1e-8.
    @Test(arguments: [5, 10, 20, 50])
    func solvesSPDSystems(n: Int) {
        var random = RandomStream(seed: 1, path: [UInt64(n)])
        let a = Self.spd(n, condition: 100, &random)
        let b = randomVector(n, &random)
        let direct = solveByGaussianElimination(a, b)
        // The direct solve itself is accurate to ~κ·u; confirm via the residual.
        #expect(relativeError(matrixVector(a, direct), b) < 1e-12)
        var products = 0
        let result = conjugateGradient(b, iterations: 5 * n, residualTolerance: 1e-30) { v in
            products += 1
            return matrixVector(a, v)
        }
        #expect(result.failure == nil)
        #expect(result.iterations == products)
        let error = norm2(zip(result.solution, direct).map { $0 - $1 }) / norm2(direct)
        reportMeasurement("CG vs Gaussian elimination n=\(n)", error)
        #expect(error < 1e-8)
        // The tracked residual agrees with the true one, ‖b − A x‖.
        let trueResidual = norm2(zip(b, matrixVector(a, result.solution)).map { $0 - $1 })
        #expect(abs(result.residualNorm - trueResidual) < 1e-8 * norm2(b))
    }

    /// `iterations: k` spends exactly k products when the tolerance cannot stop it earlier,
    /// and never more than k.
    @Test(arguments: [0, 1, 3, 7])
    func respectsTheIterationBudget(k: Int) {
        var random = RandomStream(seed: 2)
        let a = Self.spd(12, condition: 1000, &random)
        let b = randomVector(12, &random)
        var products = 0
        let result = conjugateGradient(b, iterations: k, residualTolerance: 0) { v in
            products += 1
            return matrixVector(a, v)
        }
        #expect(products == k)
        #expect(result.iterations == k)
        #expect(result.failure == nil)
        if k == 0 { #expect(result.solution == [Double](repeating: 0, count: 12)) }
        // The accumulated product is A x without another product (the step's sᵀF s).
        #expect(norm2(zip(result.product, matrixVector(a, result.solution)).map { $0 - $1 })
                <= 1e-12 * max(norm2(b), 1))

        // A loose tolerance stops early, still within budget.
        var loose = 0
        let early = conjugateGradient(b, iterations: 50, residualTolerance: 1e-2 * dot(b, b)) { v in
            loose += 1
            return matrixVector(a, v)
        }
        #expect(loose == early.iterations && loose <= 50 && loose < 12)
        #expect(early.residualNorm * early.residualNorm < 1e-2 * dot(b, b))
    }

    /// One CG step from x = 0 is the exact line minimiser along b: x = (bᵀb / bᵀA b) b.
    @Test func firstStepByHand() {
        // A = [[2, 1], [1, 3]], b = (1, 1): bᵀb = 2, A b = (3, 4), bᵀA b = 7, x = (2/7, 2/7).
        let a: [[Double]] = [[2, 1], [1, 3]]
        let result = conjugateGradient([1, 1], iterations: 1, residualTolerance: 0) { matrixVector(a, $0) }
        #expect(abs(result.solution[0] - 2.0 / 7) < 1e-16 && abs(result.solution[1] - 2.0 / 7) < 1e-16)
        // r = b − x A b·... = (1 − 6/7, 1 − 8/7) = (1/7, −1/7), ‖r‖ = √2/7.
        #expect(abs(result.residualNorm - 2.0.squareRoot() / 7) < 1e-16)
        // Two steps solve a 2×2 system: x = A⁻¹ b = (2/5, 1/5).
        let two = conjugateGradient([1, 1], iterations: 2, residualTolerance: 0) { matrixVector(a, $0) }
        #expect(abs(two.solution[0] - 0.4) < 1e-15 && abs(two.solution[1] - 0.2) < 1e-15)
    }

    /// A direction of negative curvature: on diag(1, −1, 2) with b = e₂ the very first pᵀAp is −1.
    @Test func indefiniteMatrixReportsNonPositiveCurvature() {
        let a: [[Double]] = [[1, 0, 0], [0, -1, 0], [0, 0, 2]]
        let result = conjugateGradient([0, 1, 0], iterations: 10, residualTolerance: 1e-20) { matrixVector(a, $0) }
        #expect(result.failure == .nonPositiveCurvature)
        #expect(result.iterations == 1)
        #expect(result.solution == [0, 0, 0])  // the last finite iterate: the start
    }

    /// A generic indefinite matrix: the n A-conjugate directions CG would build diagonalise A,
    /// so by Sylvester's law of inertia one of them must have pᵀAp < 0 before the solve ends.
    @Test(arguments: [4, 9, 16])
    func randomIndefiniteMatrixReportsNonPositiveCurvature(n: Int) {
        var random = RandomStream(seed: 3, path: [UInt64(n)])
        let eigenvalues = (0..<n).map { i in i == n / 2 ? -0.5 : 1 + Double(i) }
        let a = symmetricMatrix(eigenvalues: eigenvalues, &random)
        let b = randomVector(n, &random)
        let result = conjugateGradient(b, iterations: 3 * n, residualTolerance: 0) { matrixVector(a, $0) }
        #expect(result.failure == .nonPositiveCurvature)
        #expect(result.iterations <= n)
        #expect(result.solution.allFinite)
    }

    /// A product that turns NaN on the third call stops the solve there, returning the iterate
    /// after two steps (bitwise the same as a clean two-iteration solve).
    @Test(arguments: [Double.nan, .infinity])
    func nonFiniteProductIsReported(bad: Double) {
        var random = RandomStream(seed: 4)
        let a = Self.spd(8, condition: 10, &random)
        let b = randomVector(8, &random)
        var calls = 0
        let result = conjugateGradient(b, iterations: 10, residualTolerance: 0) { v in
            calls += 1
            var av = matrixVector(a, v)
            if calls == 3 { av[5] = bad }
            return av
        }
        #expect(result.failure == .nonFiniteProduct)
        #expect(result.iterations == 3 && calls == 3)
        let clean = conjugateGradient(b, iterations: 2, residualTolerance: 0) { matrixVector(a, $0) }
        #expect(bitPatterns(result.solution) == bitPatterns(clean.solution))
    }
}
