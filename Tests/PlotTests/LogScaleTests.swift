import Testing

@testable import Plot

@Suite struct LogScaleTests {
    @Test func limitsAreThePowersOfTenAroundTheData() {
        let wide = LogScale(covering: 0.003, 0.25)
        #expect((wide.lowerExponent, wide.upperExponent) == (-3, 0))
        #expect(wide.ticks == [0.001, 0.01, 0.1, 1])
        #expect(wide.labels == ["0.001", "0.01", "0.1", "1"])
    }

    /// One or two decades get 2× and 5× ticks too, so a short axis has labels inside it.
    @Test func shortAxesGetTwoAndFiveTicks() {
        let scale = LogScale(covering: 15, 180)
        #expect(scale.ticks == [10, 20, 50, 100, 200, 500, 1000])
        #expect(scale.labels == ["10", "20", "50", "100", "200", "500", "1000"])
        #expect(LogScale(covering: 0.02, 0.07).ticks == [0.01, 0.02, 0.05, 0.1])
    }

    /// A value that is a power of ten stays on its own decade; a single value gets the decade
    /// above it.
    @Test func exactPowersAndSingleValues() {
        #expect(LogScale(covering: 100, 100).ticks == [100, 200, 500, 1000])
        let decades = LogScale(covering: 1, 1000)
        #expect((decades.lowerExponent, decades.upperExponent) == (0, 3))
        #expect(LogScale(covering: 1e-5, 1e-5).lowerExponent == -5)
    }

    @Test func farFromOneLabelsArePowersOfTen() {
        #expect(LogScale(covering: 2e4, 3e7).labels == ["10000", "10⁵", "10⁶", "10⁷", "10⁸"])
        #expect(LogScale(covering: 2e-6, 5e-5).labels == ["10⁻⁶", "2×10⁻⁶", "5×10⁻⁶", "10⁻⁵", "2×10⁻⁵", "5×10⁻⁵", "10⁻⁴"])
    }

    @Test func fractionIsTheLogarithmicPosition() {
        let scale = LogScale(covering: 1, 1000)
        #expect(scale.fraction(1) == 0)
        #expect(scale.fraction(1000) == 1)
        #expect(abs(scale.fraction(10) - 1.0 / 3) < 1e-12)
        #expect(scale.fraction(0) == -.infinity)
    }

    /// The axis covers the data, within a decade each way.
    @Test func coversEveryRangeTightly() {
        let ranges: [(Double, Double)] = [(1e-9, 1e9), (0.5, 0.5), (3.3, 3.4), (999, 1001), (2e-20, 3e-19), (7, 7e5)]
        for (low, high) in ranges {
            let scale = LogScale(covering: low, high)
            #expect(scale.lower <= low && scale.upper >= high, "\(low)...\(high)")
            #expect(scale.lower > low / 10 && scale.upper < high * 10, "\(low)...\(high)")
            #expect(scale.upperExponent > scale.lowerExponent)
            #expect(scale.ticks.count == scale.labels.count && scale.ticks == scale.ticks.sorted())
        }
    }
}
