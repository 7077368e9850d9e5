import Testing

@testable import Plot

/// ``Aggregate``, ``BootstrapInterval`` and ``SeedSummary`` against values worked out by hand.
@Suite struct SeedStatisticsTests {
    @Test func meanAndInterquartileMean() {
        #expect(Aggregate.mean.of([1, 2, 3, 4]) == 2.5)
        // ⌊n/4⌋ cut from each end: nothing below four values, one of 4 to 7, two of 8.
        #expect(Aggregate.iqm.of([3, 1, 100]) == Aggregate.mean.of([3, 1, 100]))
        #expect(Aggregate.iqm.of([4, 1, 3, 2]) == 2.5)
        #expect(Aggregate.iqm.of([1, 2, 3, 4, 100]) == 3)
        #expect(Aggregate.iqm.of([-50, 1, 2, 3, 4, 5, 6, 1000]) == 3.5)
    }

    @Test func quantilesInterpolateBetweenOrderStatistics() {
        #expect(BootstrapInterval.quantile([0, 10], 0.25) == 2.5)
        #expect(BootstrapInterval.quantile([1, 2, 3, 4, 5], 0.5) == 3)
        #expect(BootstrapInterval.quantile([1, 2, 3, 4, 5], 0.975) == 4.9)
    }

    @Test func oneValueOrEqualValuesGiveAPointInterval() {
        #expect(BootstrapInterval(.mean, of: [7]) == BootstrapInterval(lower: 7, upper: 7))
        #expect(BootstrapInterval(.iqm, of: [2, 2, 2, 2, 2]) == BootstrapInterval(lower: 2, upper: 2))
    }

    /// Means of two draws from {0, 1}: 0, ½ or 1 with probabilities ¼, ½, ¼, so the 2.5 % and
    /// 97.5 % quantiles are 0 and 1.
    @Test func twoValues() {
        #expect(BootstrapInterval(.mean, of: [0, 1]) == BootstrapInterval(lower: 0, upper: 1))
    }

    /// Means of four draws from {0, 0, 0, 1}: P(0) = (¾)⁴ ≈ 0.32 > 2.5 %, so the lower end is 0;
    /// P(mean ≥ ¾) ≈ 5.1 % > 2.5 % but P(1) ≈ 0.4 % < 2.5 %, so the upper end is ¾.
    @Test func oneOutlierInFour() {
        #expect(BootstrapInterval(.mean, of: [0, 0, 0, 1]) == BootstrapInterval(lower: 0, upper: 0.75))
    }

    @Test func deterministic() {
        let scores = [3509.55, 1816.85, 3702.17, 2400, 15]
        #expect(BootstrapInterval(.mean, of: scores) == BootstrapInterval(.mean, of: scores))
        let interval = BootstrapInterval(.mean, of: scores)
        #expect(interval.lower < Aggregate.mean.of(scores) && Aggregate.mean.of(scores) < interval.upper)
        #expect(interval.lower >= scores.min()! && interval.upper <= scores.max()!)
    }

    @Test func summary() {
        let summary = SeedSummary(scores: [1, 2, 3, 4, 100])
        #expect(summary.mean == 22)
        #expect(summary.iqm == 3)
        #expect(summary.meanInterval == BootstrapInterval(.mean, of: [1, 2, 3, 4, 100]))
    }
}
