import Core

/// How the scores of several seeds are summarised in one number.
public enum Aggregate: String, CaseIterable, Sendable {
    /// The arithmetic mean.
    case mean
    /// The interquartile mean (rliable's IQM, Agarwal et al. 2021): the mean of the middle
    /// half, after ⌊n/4⌋ of the sorted values are cut from each end (`scipy.stats.trim_mean(x, 0.25)`).
    /// Below four values nothing is cut, and it is the mean.
    case iqm

    /// The summary of `values`.
    ///
    /// - Precondition: `values` is not empty.
    public func of(_ values: [Double]) -> Double {
        var scratch = values  // copied only if the IQM sorts it
        return of(reordering: &scratch)
    }

    /// The same, free to reorder `values` (the IQM sorts them in place): no allocation, for
    /// the bootstrap's inner loop.
    func of(reordering values: inout [Double]) -> Double {
        precondition(!values.isEmpty, "aggregate of no values")
        switch self {
        case .mean:
            return values.reduce(0, +) / Double(values.count)
        case .iqm:
            values.sort()
            let cut = values.count / 4
            let middle = values[cut..<(values.count - cut)]
            return middle.reduce(0, +) / Double(middle.count)
        }
    }
}

/// A percentile-bootstrap confidence interval of an ``Aggregate`` of a few scores (one per
/// seed): `resamples` times, n values are drawn from the n scores with replacement and
/// aggregated; the interval runs from the (1 − level)/2 to the (1 + level)/2 quantile of those
/// resampled aggregates (quantiles by linear interpolation between order statistics, numpy's
/// default).
///
/// The draws come from ``RandomStream`` seeded with ``seed``, so the same scores always give
/// the same interval. With one score, or all scores equal, the interval is that score.
public struct BootstrapInterval: Equatable, Sendable {
    /// The resamples drawn by default.
    public static let defaultResamples = 10_000
    /// The seed of the resampling stream: a constant, so intervals are reproducible.
    public static let seed: UInt64 = 2021

    public let lower: Double
    public let upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    /// The interval of `aggregate` over `values` at confidence `level`.
    ///
    /// - Precondition: `values` is not empty, `resamples` is positive, `level` is in (0, 1).
    public init(_ aggregate: Aggregate, of values: [Double], level: Double = 0.95, resamples: Int = defaultResamples) {
        precondition(!values.isEmpty && resamples > 0 && level > 0 && level < 1, "bootstrap of no values")
        var random = RandomStream(seed: BootstrapInterval.seed)
        var sample = values
        var statistics: [Double] = []
        statistics.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for i in sample.indices { sample[i] = values[Int.random(in: 0..<values.count, using: &random)] }
            statistics.append(aggregate.of(reordering: &sample))  // redrawn whole next time
        }
        statistics.sort()
        lower = BootstrapInterval.quantile(statistics, (1 - level) / 2)
        upper = BootstrapInterval.quantile(statistics, (1 + level) / 2)
    }

    /// The `q`-quantile of sorted `values`, interpolating linearly between order statistics.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}

/// The summary of one configuration's final scores over seeds: mean, IQM and a 95 % bootstrap
/// interval of the mean.
public struct SeedSummary: Equatable, Sendable {
    public let mean: Double
    public let iqm: Double
    /// The 95 % percentile-bootstrap interval of the mean (``BootstrapInterval``).
    public let meanInterval: BootstrapInterval

    /// - Precondition: `scores` is not empty.
    public init(scores: [Double]) {
        mean = Aggregate.mean.of(scores)
        iqm = Aggregate.iqm.of(scores)
        meanInterval = BootstrapInterval(.mean, of: scores)
    }
}
