import Testing
@testable import Learner

/// The progress line's ETA: the median recent rate, so a pause does not move it.
@Suite struct RemainingTimeTests {
    @Test func theFirstIterationUsesTheRunsOverallRate() {
        var eta = RemainingTime()
        eta.record(steps: 1_000, wall: 10)  // 100 steps/s
        #expect(eta.seconds(toReach: 5_000) == 40)
        #expect(eta.seconds(toReach: 1_000) == 0)
        #expect(RemainingTime().seconds(toReach: 5_000) == 0)
    }

    @Test func aPauseDoesNotMoveTheEstimateAndASlowerPaceTakesOverWithinTheWindow() {
        var eta = RemainingTime()
        var wall = 0.0, steps = 0
        func iteration(seconds: Double) {
            wall += seconds
            steps += 100
            eta.record(steps: steps, wall: wall)
        }
        for _ in 0..<30 { iteration(seconds: 1) }  // 100 steps/s
        #expect(abs(eta.seconds(toReach: steps + 10_000) - 100) < 1e-9)
        iteration(seconds: 3_601)  // an hour stopped in the middle of an iteration
        #expect(abs(eta.seconds(toReach: steps + 10_000) - 100) < 1e-9, "one paused iteration is passed over")
        // The machine gets busier: 2 s an iteration from here on.
        for _ in 0..<RemainingTime.window / 2 - 1 { iteration(seconds: 2) }
        #expect(eta.seconds(toReach: steps + 10_000) < 200, "still less than half the window")
        for _ in 0..<2 { iteration(seconds: 2) }
        #expect(abs(eta.seconds(toReach: steps + 10_000) - 200) < 1e-9, "more than half the window")
    }

    @Test func aResumedRunsEarlierTimeDoesNotCount() {
        var eta = RemainingTime()
        // Resumed at 50,000 steps after 10 h of an earlier process, now at 1,000 steps/s.
        eta.record(steps: 50_000, wall: 36_000)
        eta.record(steps: 51_000, wall: 36_001)
        #expect(eta.seconds(toReach: 61_000) == 10)
    }
}
