import Learner
import Protocol

/// What a learner checks about its run before it binds an endpoint: things a worker could
/// not work with, found while the learner can still refuse the run as a whole.
public enum LearnerPreflight {
    /// Checks `configuration` for a learner serving `deterministicWorkers` workers
    /// deterministically (nil: streaming).
    /// - Throws: ``SupervisionError/tooManyDeterministicVineWorkers(workers:rolloutStates:)``
    ///   when a deterministic vine run has more workers than rollout states, and
    ///   ``SupervisionError/modelTooLarge(bytes:limit:)`` when the custom model exceeds what a
    ///   worker decodes (``DecodingLimits/maxModelBytes``).
    public static func check(_ configuration: TrainingConfiguration, deterministicWorkers: Int?) throws(SupervisionError) {
        if configuration.sampler == .vine, let n = deterministicWorkers, configuration.vine.rolloutStates < n {
            throw .tooManyDeterministicVineWorkers(workers: n, rolloutStates: configuration.vine.rolloutStates)
        }
        let limit = DecodingLimits.default.maxModelBytes
        if let xml = configuration.modelXML, xml.utf8.count > limit {
            throw .modelTooLarge(bytes: xml.utf8.count, limit: limit)
        }
    }
}
