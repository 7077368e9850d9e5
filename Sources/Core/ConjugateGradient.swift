/// The outcome of a conjugate-gradient solve.
public struct ConjugateGradientResult: Sendable {
    /// The approximate solution x of A x = b.
    public var solution: [Double]
    /// A x, accumulated as Σ α_k A p_k from the products the solve took (A is linear), so a
    /// caller needs no further product for it.
    public var product: [Double]
    /// Iterations performed (products with A, not counting none at the start).
    public var iterations: Int
    /// ‖b − A x‖ at the end, as tracked by the recurrence.
    public var residualNorm: Double
    /// Set when the solve stopped on a non-finite value or a direction of non-positive
    /// curvature instead of converging or using up its iterations.
    public var failure: Failure?

    public enum Failure: String, Sendable, Codable {
        /// A·p held a NaN or an infinity.
        case nonFiniteProduct
        /// pᵀA p ≤ 0: A is not positive definite along p.
        case nonPositiveCurvature
    }
}

/// Solves A x = b for symmetric positive-definite A given only products v ↦ A v
/// (Hestenes–Stiefel conjugate gradient from x = 0).
///
/// - Parameters:
///   - b: the right-hand side.
///   - iterations: the most products with A to spend (the paper uses 10).
///   - residualTolerance: stop once ‖r‖² falls below this.
///   - product: v ↦ A v.
/// - Returns: the iterate reached and its product with A; on a
///   ``ConjugateGradientResult/Failure`` the last finite iterate.
public func conjugateGradient(
    _ b: [Double], iterations: Int, residualTolerance: Double, product: ([Double]) -> [Double]
) -> ConjugateGradientResult {
    var x = [Double](repeating: 0, count: b.count)
    var ax = x
    var r = b
    var p = b
    var rr = dot(r, r)
    var done = 0
    while done < iterations && rr >= residualTolerance {
        let ap = product(p)
        done += 1
        guard ap.allFinite else {
            return ConjugateGradientResult(solution: x, product: ax, iterations: done, residualNorm: rr.squareRoot(), failure: .nonFiniteProduct)
        }
        let curvature = dot(p, ap)
        guard curvature > 0, curvature.isFinite else {
            return ConjugateGradientResult(solution: x, product: ax, iterations: done, residualNorm: rr.squareRoot(), failure: .nonPositiveCurvature)
        }
        let alpha = rr / curvature
        axpy(alpha, p, &x)
        axpy(alpha, ap, &ax)
        axpy(-alpha, ap, &r)
        let rrNext = dot(r, r)
        let beta = rrNext / rr
        for i in p.indices { p[i] = r[i] + beta * p[i] }
        rr = rrNext
    }
    return ConjugateGradientResult(solution: x, product: ax, iterations: done, residualNorm: rr.squareRoot(), failure: nil)
}
