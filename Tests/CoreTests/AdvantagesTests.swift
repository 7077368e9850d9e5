import Foundation
import Testing
@testable import Core

@Suite struct AdvantagesTests {
    /// Two trajectories worked out by hand with γ = 0.9, λ = 0.8 (γλ = 0.72).
    ///
    /// Trajectory A (rows 0–2) ends `.terminated`: nothing is bootstrapped after row 2.
    ///   rewards (1, 0, 2), values (0.5, 1.0, 1.5)
    ///   δ₂ = 2 − 1.5                 =  0.5
    ///   δ₁ = 0 + 0.9·1.5 − 1.0       =  0.35
    ///   δ₀ = 1 + 0.9·1.0 − 0.5       =  1.4
    ///   Â₂ = 0.5
    ///   Â₁ = 0.35 + 0.72·0.5         =  0.71
    ///   Â₀ = 1.4 + 0.72·0.71         =  1.9112
    ///   returns Â + V: 2.4112, 1.71, 2.0
    ///
    /// Trajectory B (rows 3–4) ends `.truncated` with V(s₅) = 2.0 bootstrapped.
    ///   rewards (−1, 0.5), values (1.0, 0.5)
    ///   δ₄ = 0.5 + 0.9·2.0 − 0.5     =  1.8
    ///   δ₃ = −1 + 0.9·0.5 − 1.0      = −1.55
    ///   Â₄ = 1.8
    ///   Â₃ = −1.55 + 0.72·1.8        = −0.254
    ///   returns: 0.746, 2.3
    ///
    /// The bootstrap entries of rows that are not truncated hold 100 to show they are unused,
    /// and B's first value must not leak into A's last row.
    @Test func handComputedTwoTrajectories() {
        let result = generalizedAdvantages(
            rewards: [1, 0, 2, -1, 0.5],
            values: [0.5, 1.0, 1.5, 1.0, 0.5],
            bootstrapValues: [100, 100, 100, 100, 2.0],
            ends: [.none, .none, .terminated, .none, .truncated],
            gamma: 0.9, lambda: 0.8)
        let advantages = [1.9112, 0.71, 0.5, -0.254, 1.8]
        let returns = [2.4112, 1.71, 2.0, 0.746, 2.3]
        for i in 0..<5 {
            #expect(abs(result.advantages[i] - advantages[i]) < 1e-12, "row \(i)")
            #expect(abs(result.returns[i] - returns[i]) < 1e-12, "row \(i)")
        }
    }

    /// Random trajectories of random lengths and endings.
    static func trajectories(seed: UInt64)
        -> (rewards: [Double], values: [Double], bootstrap: [Double], ends: [StepEnd])
    {
        var random = RandomStream(seed: seed)
        var rewards: [Double] = [], values: [Double] = [], bootstrap: [Double] = [], ends: [StepEnd] = []
        for t in 0..<6 {
            let length = 1 + random.index(below: 9)
            for step in 0..<length {
                rewards.append(random.normal())
                values.append(random.normal())
                bootstrap.append(random.normal())
                ends.append(step < length - 1 ? .none : (t % 2 == 0 ? .terminated : .truncated))
            }
        }
        return (rewards, values, bootstrap, ends)
    }

    /// λ = 1: Â_t = G_t − V(s_t) with G_t the discounted return to the end of the trajectory,
    /// plus γ^(T−t)·V(s_T) when truncated.
    @Test func lambdaOneGivesDiscountedReturnsMinusValues() {
        let (r, v, b, ends) = Self.trajectories(seed: 1)
        let gamma = 0.95
        let result = generalizedAdvantages(rewards: r, values: v, bootstrapValues: b, ends: ends, gamma: gamma, lambda: 1)
        var start = 0
        for end in ends.indices where ends[end] != .none {
            for t in start...end {
                var g = 0.0, discount = 1.0
                for k in t...end {
                    g += discount * r[k]
                    discount *= gamma
                }
                if ends[end] == .truncated { g += discount * b[end] }
                #expect(abs(result.advantages[t] - (g - v[t])) < 1e-12, "row \(t)")
                #expect(abs(result.returns[t] - g) < 1e-12, "row \(t)")
            }
            start = end + 1
        }
        #expect(start == ends.count)
    }

    /// λ = 0: Â_t = δ_t = r_t + γ V(s_{t+1}) − V(s_t), the one-step TD error.
    @Test func lambdaZeroGivesTDErrors() {
        let (r, v, b, ends) = Self.trajectories(seed: 2)
        let gamma = 0.9
        let result = generalizedAdvantages(rewards: r, values: v, bootstrapValues: b, ends: ends, gamma: gamma, lambda: 0)
        for t in r.indices {
            let next: Double
            switch ends[t] {
            case .none: next = v[t + 1]
            case .terminated: next = 0
            case .truncated: next = b[t]
            }
            #expect(abs(result.advantages[t] - (r[t] + gamma * next - v[t])) < 1e-14, "row \(t)")
        }
    }

    // MARK: - Normalisation

    /// Mean 0 and population standard deviation 1, up to the 1e-8 guard in the denominator
    /// (std_out = σ/(σ + 1e-8), so |std_out − 1| ≤ 1e-8/σ).
    @Test(arguments: [2, 3, 50, 1000])
    func normalizedHasZeroMeanUnitStd(count: Int) {
        var random = RandomStream(seed: 3, path: [UInt64(count)])
        let x = (0..<count).map { _ in 5 + 3 * random.normal() }
        let y = normalized(x)
        let mean = y.reduce(0, +) / Double(count)
        let std = (y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)).squareRoot()
        #expect(abs(mean) < 1e-14)
        #expect(abs(std - 1) < 1e-8)
        // Affine: y is (x − m)/s for the sample mean m and std s.
        let m = x.reduce(0, +) / Double(count)
        let s = (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(count)).squareRoot()
        #expect(relativeError(y, x.map { ($0 - m) / s }) < 1e-8)
    }

    /// Two values a < b map to (−1, +1) exactly up to the guard.
    @Test func normalizedHandValues() {
        let y = normalized([3, 7])  // mean 5, std 2
        #expect(abs(y[0] + 1) < 1e-8 && abs(y[1] - 1) < 1e-8)
        #expect(normalized([4.2]) == [0])
        #expect(normalized([]) == [])
    }

    /// A batch of equal values has no spread to rescale: the result is all zeros (so a TRPO
    /// step on it stops with `.zeroGradient`), also when the value is not exactly
    /// representable and the computed mean carries a rounding error of a few ulps, which the
    /// 1e-8 guard would otherwise blow up into O(1) outputs of one sign.
    @Test(arguments: [0.1, 2.5, -7.3, 1e6 + 0.3, 123456.789])
    func normalizedConstantBatchIsZero(value: Double) {
        for count in [2, 3, 200, 2000] {
            let y = normalized([Double](repeating: value, count: count))
            #expect(y.allSatisfy { $0 == 0 }, "\(count) × \(value) gave \(y[0])")
        }
    }

    // MARK: - Explained variance

    @Test func explainedVarianceClosedCases() {
        var random = RandomStream(seed: 4)
        let y = (0..<100).map { _ in random.normal() }
        let mean = y.reduce(0, +) / 100
        #expect(explainedVariance(predicted: y, targets: y) == 1)
        // A constant offset leaves the residual variance at zero.
        #expect(abs(explainedVariance(predicted: y.map { $0 + 3 }, targets: y) - 1) < 1e-12)
        // Predicting the mean explains nothing.
        #expect(abs(explainedVariance(predicted: [Double](repeating: mean, count: 100), targets: y)) < 1e-12)
        // Predicting 0 (any constant) also explains nothing: Var(y − c) = Var(y).
        #expect(abs(explainedVariance(predicted: [Double](repeating: 0, count: 100), targets: y)) < 1e-12)
        // Hand case: y = (1, 2, 3, 4), ŷ = (1, 2, 3, 5): residual (0, 0, 0, −1) has variance
        // ¼ − 1/16 = 3/16, Var(y) = 5/4, so 1 − (3/16)/(5/4) = 0.85.
        #expect(abs(explainedVariance(predicted: [1, 2, 3, 5], targets: [1, 2, 3, 4]) - 0.85) < 1e-15)
        // −ŷ = −y: residual 2y, so 1 − 4 = −3.
        #expect(abs(explainedVariance(predicted: y.map { -$0 }, targets: y) + 3) < 1e-12)
        // Undefined without target variance or with fewer than two samples.
        #expect(explainedVariance(predicted: [1, 2], targets: [5, 5]).isNaN)
        #expect(explainedVariance(predicted: [1], targets: [2]).isNaN)
    }
}
