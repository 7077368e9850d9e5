import Core
import Foundation

// Core's Policy and RunningNormalizer have no public initialisers from their parts, which a
// decoder needs. Until Core adds `Policy.init(head:network:logStd:)` and
// `RunningNormalizer.init(mean:variance:count:clip:)`, these build them through public API.
// Both callers pass parts the decoder has already validated.

extension Policy {
    /// The policy with exactly these parts.
    ///
    /// Initialises a one-layer placeholder network (cost O(head width)) and replaces it, so
    /// no random weights of the real size are ever drawn.
    static func assembled(head: PolicyHead, network: MLP, logStd: [Double]) -> Policy {
        var random = RandomStream(seed: 0)
        var policy = Policy(observationSize: 1, head: head, hiddenSizes: [], random: &random)
        policy.network = network
        policy.logStd = logStd
        return policy
    }
}

extension RunningNormalizer {
    /// The normaliser with exactly these statistics (finite; variances non-negative).
    ///
    /// Goes through the type's synthesised `Codable` conformance as JSON, which round-trips
    /// every finite Double exactly; it costs a few microseconds per statistic, once per
    /// parameters message.
    static func restored(mean: [Double], variance: [Double], count: Double, clip: Double) -> RunningNormalizer {
        struct Statistics: Encodable {
            let mean: [Double], variance: [Double], count: Double, clip: Double
        }
        do {
            let json = try JSONEncoder().encode(Statistics(mean: mean, variance: variance, count: count, clip: clip))
            return try JSONDecoder().decode(RunningNormalizer.self, from: json)
        } catch {
            preconditionFailure("RunningNormalizer's Codable layout is no longer (mean, variance, count, clip): \(error)")
        }
    }
}
