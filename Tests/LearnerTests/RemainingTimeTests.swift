import Testing
@testable import Learner

/// The progress line's ETA: the recent rate, so a pause leaves it after a window of iterations.
@Suite struct RemainingTimeTests {
    @Test func theFirstIterationUsesTheRunsOverallRate() {
        var eta = RemainingTime()
        eta.record(steps: 1_000, wall: 10)  // 100 steps/s
        #expect(eta.seconds(toReach: 5_000) == 40)
        #expect(eta.seconds(toReach: 1_000) == 0)
        #expect(RemainingTime().seconds(toReach: 5_000) == 0)
    }

    @Test func aPauseLeavesTheEstimateAfterTheWindow() {
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
        let inflated = eta.seconds(toReach: steps + 10_000)
        #expect(inflated > 10_000)
        for _ in 0..<RemainingTime.window - 1 { iteration(seconds: 1) }
        #expect(eta.seconds(toReach: steps + 10_000) > 10_000, "the pause is still inside the window")
        iteration(seconds: 1)
        #expect(abs(eta.seconds(toReach: steps + 10_000) - 100) < 1e-9, "the pause has left the window")
    }

    @Test func aResumedRunsEarlierTimeDoesNotCount() {
        var eta = RemainingTime()
        // Resumed at 50,000 steps after 10 h of an earlier process, now at 1,000 steps/s.
        eta.record(steps: 50_000, wall: 36_000)
        eta.record(steps: 51_000, wall: 36_001)
        #expect(eta.seconds(toReach: 61_000) == 10)
    }
}
