import Testing
@testable import Learner

/// ``ValueFitPriority``: a fit starts yielding, turns to sharing the cores when the learner
/// waited for it, and yields again only when it beats its batch by a wide margin.
@Suite struct ValueFitPriorityTests {
    /// `priority.record(…)`, whether it changed the choice.
    func record(_ priority: inout ValueFitPriority, slack: Double, iterationSeconds: Double) -> Bool {
        priority.record(slack: slack, iterationSeconds: iterationSeconds)
    }

    @Test func aFitThatEndsBeforeItsBatchKeepsYielding() {
        var priority = ValueFitPriority()
        #expect(priority.yieldsToSamplers)
        // Hopper-like: the fit ends 3 s before a 4 s batch, or just before it.
        #expect(record(&priority, slack: 3, iterationSeconds: 4) == false)
        #expect(record(&priority, slack: 0.01, iterationSeconds: 4) == false)
        // A short wait (under 10 % of the iteration) is not worth taking the samplers' cores.
        #expect(record(&priority, slack: -0.3, iterationSeconds: 4) == false)
        #expect(priority.yieldsToSamplers)
    }

    @Test func aStarvedFitSharesAndStaysSharingUntilItHasRoomToSpare() {
        var priority = ValueFitPriority()
        // Atari-like: the batch of a 12 s iteration waited 4 s for the fit.
        #expect(record(&priority, slack: -4, iterationSeconds: 12))
        #expect(!priority.yieldsToSamplers)
        // Sharing, it ends before its batch, but by less than 60 % of the iteration: stays.
        #expect(record(&priority, slack: 2, iterationSeconds: 10) == false)
        #expect(record(&priority, slack: 5.5, iterationSeconds: 10) == false)
        #expect(record(&priority, slack: -1, iterationSeconds: 10) == false)
        #expect(!priority.yieldsToSamplers)
        // Ahead by more than 60 %: the fit has room to spare, it yields again.
        #expect(record(&priority, slack: 6.5, iterationSeconds: 10))
        #expect(priority.yieldsToSamplers)
    }

    @Test func measurementsThatMeanNothingChangeNothing() {
        var priority = ValueFitPriority()
        for (slack, iteration) in [(-5.0, 0.0), (-5, -1), (.nan, 10), (-.infinity, 10), (-5, .infinity)] {
            #expect(record(&priority, slack: slack, iterationSeconds: iteration) == false)
        }
        #expect(priority.yieldsToSamplers)
    }
}
