/// Whether a learner's value fit yields its core to the samplers on its machine (nice 19,
/// ``ThreadPriority/yieldToOtherWork()``) or takes its share beside them, decided from how the
/// last fit ended against the batch sampled meanwhile. A pure state machine: the learner
/// measures, this decides.
///
/// Yielding suits a fit that needs no more than the cores the samplers leave free (during the
/// policy step, when they wait for the new version, and between their chunks): it then never
/// slows them. A fit that needs more is starved while they sample and finishes alone
/// afterwards, with a core idle and the next update waiting for it (a convolutional value
/// network on Atari: ~5.5 CPU-seconds of fit beside a 2.5 s policy step and 5 s of sampling);
/// sharing the cores then ends both sooner. Hysteresis keeps the choice from flapping: it turns
/// to sharing when the learner waited for a yielding fit longer than ``waitShare`` of the
/// iteration, and back to yielding when a sharing fit was done before its batch by more than
/// ``aheadShare`` of it. A yielding fit starts beside the policy step, on the core it leaves
/// free; a sharing one starts after it, so that it never slows the step (during which the
/// learner does not serve its workers: a slower step on a machine with other work would leave
/// them without word from it longer). Either choice gives the same numbers; only the schedule
/// differs.
public struct ValueFitPriority: Sendable, Equatable {
    /// Whether the next fit runs at background priority (the start: a fit is assumed cheap).
    public private(set) var yieldsToSamplers = true

    /// The share of an iteration the learner may wait for a yielding fit before it shares.
    public static let waitShare = 0.1
    /// The share of an iteration by which a sharing fit must beat its batch to yield again: a
    /// fit done within the first 40 % of an iteration fits in the cores the samplers leave
    /// free. (Measured on Breakout, cnn_small, 2 workers on 2 cores: at 0.3 the choice
    /// flipped every iteration, sharing iterations taking 7–10 s and yielding ones 12–15 s.)
    public static let aheadShare = 0.6

    public init() {}

    /// Takes in the last fit.
    /// - Parameters:
    ///   - slack: seconds from the fit's end to its batch's completion: positive when the fit
    ///     was done first, negative when the learner waited for it with the batch complete.
    ///   - iterationSeconds: the wall time of the iteration, batch to batch.
    /// - Returns: whether the choice changed.
    @discardableResult
    public mutating func record(slack: Double, iterationSeconds: Double) -> Bool {
        guard slack.isFinite, iterationSeconds.isFinite, iterationSeconds > 0 else { return false }
        let before = yieldsToSamplers
        if yieldsToSamplers {
            if -slack > Self.waitShare * iterationSeconds { yieldsToSamplers = false }
        } else if slack > Self.aheadShare * iterationSeconds {
            yieldsToSamplers = true
        }
        return yieldsToSamplers != before
    }
}
