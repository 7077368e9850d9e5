import Testing

@testable import Plot

@Suite struct NiceScaleTests {
    @Test func stepsAreOneTwoFive() {
        let steps = NiceScale(covering: 0, 1_000_000, maxIntervals: 5)
        #expect(steps.ticks == [0, 200_000, 400_000, 600_000, 800_000, 1_000_000])

        let returns = NiceScale(covering: 9.5, 500, maxIntervals: 5)
        #expect(returns.ticks == [0, 100, 200, 300, 400, 500])
    }

    @Test func negativeRange() {
        let pendulum = NiceScale(covering: -1234, -151, maxIntervals: 7)
        #expect(pendulum.ticks == [-1400, -1200, -1000, -800, -600, -400, -200, 0])
        let coarse = NiceScale(covering: -1234, -151, maxIntervals: 6)
        #expect(coarse.ticks == [-1500, -1000, -500, 0])
    }

    @Test func rangeAcrossZero() {
        #expect(
            NiceScale(covering: -0.3, 0.45, maxIntervals: 8).ticks == [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.4, 0.5]
        )
    }

    @Test func tinyRangeTicksEqualDecimalLiterals() {
        let scale = NiceScale(covering: 0.001, 0.0012, maxIntervals: 4)
        #expect(scale.ticks == [0.001, 0.00105, 0.0011, 0.00115, 0.0012])
        #expect(NiceScale(covering: 0, 0.7, maxIntervals: 7).ticks == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
        #expect(NiceScale(covering: 0, 3e-9, maxIntervals: 3).ticks == [0, 1e-9, 2e-9, 3e-9])
    }

    @Test func degenerateRangesAreWidened() {
        #expect(NiceScale(covering: 5, 5, maxIntervals: 4).ticks == [4.5, 5, 5.5])
        #expect(NiceScale(covering: 0, 0, maxIntervals: 4).ticks == [-1, -0.5, 0, 0.5, 1])
        #expect(NiceScale(covering: -200, -200, maxIntervals: 4).ticks == [-220, -210, -200, -190, -180])
        let nearlyFlat = NiceScale(covering: 1e6, 1e6 + 1e-6, maxIntervals: 4)
        #expect(nearlyFlat.lower <= 1e6 && nearlyFlat.upper >= 1e6 && nearlyFlat.upper - nearlyFlat.lower >= 1e5)
    }

    @Test func coversRangeWithinIntervalLimit() {
        let ranges: [(Double, Double)] = [
            (0, 1), (0.3, 0.31), (-1e9, 3), (17, 23_456), (-7.25, -7.2), (1e-12, 2e-12), (-3, 1e-3), (1, 1e15),
        ]
        for (low, high) in ranges {
            for maxIntervals in 2...10 {
                let scale = NiceScale(covering: low, high, maxIntervals: maxIntervals)
                #expect(scale.lower <= low && scale.upper >= high, "\(low)...\(high)")
                #expect(scale.lastIndex - scale.firstIndex <= maxIntervals)
                #expect(scale.lastIndex > scale.firstIndex)
                #expect([1, 2, 5].contains(scale.mantissa))
            }
        }
    }
}

@Suite struct TickLabelTests {
    func labels(_ format: TickFormat, _ low: Double, _ high: Double, _ maxIntervals: Int) -> [String] {
        AxisTicks(format: format, covering: low, high, maxIntervals: maxIntervals).labels
    }

    @Test func compactCounts() {
        let ticks = AxisTicks(format: .compactCount, covering: 0, 1_200_000, maxIntervals: 6)
        #expect(ticks.labels == ["0", "200k", "400k", "600k", "800k", "1M", "1.2M"])
        #expect(labels(.compactCount, 0, 2_000_000, 8) == ["0", "500k", "1M", "1.5M", "2M"])
        #expect(labels(.compactCount, 0, 50_000, 5) == ["0", "10k", "20k", "30k", "40k", "50k"])
        #expect(labels(.compactCount, 0, 600, 3) == ["0", "200", "400", "600"])
        #expect(labels(.compactCount, 0, 3e9, 3) == ["0", "1B", "2B", "3B"])
    }

    @Test func plainNumbersKeepTheStepsDecimals() {
        let pendulum = ["−1400", "−1200", "−1000", "−800", "−600", "−400", "−200", "0"]
        #expect(labels(.plain, -1234, -151, 7) == pendulum)
        #expect(labels(.plain, 0, 1, 5) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(labels(.plain, 0.9, 1.1, 4) == ["0.90", "0.95", "1.00", "1.05", "1.10"])
    }

    @Test func onlyTinyNumbersUseScientificNotation() {
        #expect(labels(.plain, 0, 4e-4, 4) == ["0", "1e−4", "2e−4", "3e−4", "4e−4"])
        #expect(labels(.plain, -5e-6, 5e-6, 2) == ["−5e−6", "0", "5e−6"])
        #expect(labels(.plain, 0, 1.5e-4, 3) == ["0", "0.5e−4", "1.0e−4", "1.5e−4"])
        #expect(labels(.plain, 0, 2.5e7, 5) == ["0", "5000000", "10000000", "15000000", "20000000", "25000000"])
    }

    @Test func durationsPickTheirUnit() {
        let seconds = AxisTicks(format: .duration, covering: 0, 90, maxIntervals: 5)
        #expect(seconds.unitName == "s")
        #expect(seconds.labels == ["0", "20", "40", "60", "80", "100"])

        let minutes = AxisTicks(format: .duration, covering: 0, 1800, maxIntervals: 6)
        #expect(minutes.unitName == "min")
        #expect(minutes.labels == ["0", "5", "10", "15", "20", "25", "30"])
        #expect(minutes.positions == [0, 300, 600, 900, 1200, 1500, 1800])
        #expect(minutes.upper == 1800)

        let hours = AxisTicks(format: .duration, covering: 0, 36_000, maxIntervals: 5)
        #expect(hours.unitName == "h")
        #expect(hours.labels == ["0", "2", "4", "6", "8", "10"])
    }
}
