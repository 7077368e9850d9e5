/// What a ``LearnerService`` reports of one iteration to its ``LearnerObserver``.
public struct IterationReport: Sendable {
    /// The iteration's statistics, as the progress row has them (with the evaluation, if one was due).
    public var statistics: IterationStatistics
    /// The distributed path's counters after the update (cumulative in this process,
    /// ``TransportCounters/workersAlive`` the number registered then).
    public var counters: TransportCounters
    /// Simulator steps of this iteration's batch.
    public var steps: Int
    /// Seconds from the previous version's publication (or the learner's start) until the
    /// batch was complete.
    public var sampleSeconds: Double
    /// Seconds of the update that followed: policy step, value fit, evaluation when due, progress
    /// row and checkpoint.
    public var updateSeconds: Double

    public init(statistics: IterationStatistics, counters: TransportCounters, steps: Int, sampleSeconds: Double,
                updateSeconds: Double) {
        self.statistics = statistics
        self.counters = counters
        self.steps = steps
        self.sampleSeconds = sampleSeconds
        self.updateSeconds = updateSeconds
    }
}

/// Watches a ``LearnerService`` as it runs, e.g. to export metrics (`trpo learner --metrics`).
///
/// Called on the learner's thread, between messages: an observer must return quickly (it
/// delays the conversation with the workers) and must not call back into the learner.
public protocol LearnerObserver: AnyObject {
    /// After each iteration's update, progress row and checkpoint.
    func learnerFinishedIteration(_ report: IterationReport)
    /// When the number of registered workers changed (a worker joined, left or was declared
    /// gone); `counters` are the learner's counters now, ``TransportCounters/workersAlive`` the
    /// new number.
    func learnerWorkersChanged(_ counters: TransportCounters)
}
