import Foundation
import Testing
@testable import Core

@Suite struct RunningNormalizerTests {
    static let prior = 1e-4  // the documented prior pseudo-count (mean 0, variance 1)

    /// Batches of different sizes, means and scales per column.
    static func batches(seed: UInt64) -> [Matrix] {
        var random = RandomStream(seed: seed)
        let offsets = [3.0, -50, 0.001], scales = [1.0, 20, 1e-3]
        return [7, 1, 30, 12, 2].map { rows in
            let shift = random.normal()
            var m = Matrix(rows: rows, columns: 3)
            for i in 0..<rows {
                for j in 0..<3 { m[i, j] = offsets[j] + scales[j] * (shift + random.normal()) }
            }
            return m
        }
    }

    /// After several updates the statistics are those of the concatenated data together with
    /// the prior: a weight-c₀ point mass of mean 0 and variance 1, i.e.
    /// μ = Σx / (N + c₀) and σ² = [c₀(1 + μ²) + Σ(x − μ)²] / (N + c₀).
    @Test func updatesMatchConcatenatedData() {
        let batches = Self.batches(seed: 1)
        var normalizer = RunningNormalizer(size: 3)
        for b in batches { normalizer.update(with: b) }
        let all = batches.flatMap { b in (0..<b.rows).map { row(b, $0) } }
        let n = Double(all.count)
        #expect(normalizer.count == Self.prior + n)
        for j in 0..<3 {
            let x = all.map { $0[j] }
            let mean = x.reduce(0, +) / (n + Self.prior)
            let variance = (Self.prior * (1 + mean * mean) + x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }) / (n + Self.prior)
            #expect(relativeError(normalizer.mean[j], mean) < 1e-12, "column \(j)")
            #expect(relativeError(normalizer.variance[j], variance) < 1e-12, "column \(j)")
            // And, the prior being tiny, close to the plain sample statistics.
            let plainMean = x.reduce(0, +) / n
            let plainVariance = x.reduce(0) { $0 + ($1 - plainMean) * ($1 - plainMean) } / n
            #expect(abs(normalizer.mean[j] - plainMean) <= 1e-4 * (abs(plainMean) + 1))
            #expect(abs(normalizer.variance[j] - plainVariance) <= 1e-4 * (plainVariance + 1))
        }
        // The split of the data into batches does not matter.
        var once = RunningNormalizer(size: 3)
        once.update(with: Matrix(rows: all.count, columns: 3, storage: all.flatMap { $0 }))
        #expect(relativeError(once.mean, normalizer.mean) < 1e-12)
        #expect(relativeError(once.variance, normalizer.variance) < 1e-12)
    }

    @Test func emptyBatchChangesNothing() {
        var normalizer = RunningNormalizer(size: 2)
        normalizer.update(with: Matrix(rows: 0, columns: 2))
        #expect(normalizer == RunningNormalizer(size: 2))
    }

    /// (x − μ)/√(σ² + 1e-8), clipped to ±clip.
    @Test(arguments: [10.0, 2.0])
    func normalisationStandardisesAndClips(clip: Double) {
        var normalizer = RunningNormalizer(size: 3, clip: clip)
        for b in Self.batches(seed: 3) { normalizer.update(with: b) }
        var random = RandomStream(seed: 4)
        var x = Matrix(rows: 6, columns: 3)
        for i in 0..<6 {
            for j in 0..<3 {
                let sd = normalizer.variance[j].squareRoot()
                x[i, j] = normalizer.mean[j] + sd * 1.5 * random.normal()
            }
        }
        // Outliers far beyond the clip, both signs.
        for j in 0..<3 {
            let sd = normalizer.variance[j].squareRoot()
            x[0, j] = normalizer.mean[j] + 1e3 * sd
            x[1, j] = normalizer.mean[j] - 1e3 * sd
        }
        let y = normalizer.normalized(x)
        for i in 0..<6 {
            for j in 0..<3 {
                let z = (x[i, j] - normalizer.mean[j]) / (normalizer.variance[j] + 1e-8).squareRoot()
                let expected = min(max(z, -clip), clip)
                #expect(abs(y[i, j] - expected) <= 1e-12 * max(1, abs(expected)), "(\(i), \(j))")
                #expect(abs(y[i, j]) <= clip)
            }
        }
        for j in 0..<3 {
            #expect(y[0, j] == clip && y[1, j] == -clip)
        }
    }
}
