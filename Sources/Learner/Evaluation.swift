import Core
import Foundation
import Sampling
import Simulators

/// The stream id of evaluation episodes (`trpo eval` and `--eval-every`): episode k starts
/// from the stream (seed, [evaluationStream, 0, reset, k]). It is no worker id a learner
/// assigns and none of `trpo variance`'s replicate streams, and evaluation only ever builds
/// its own simulators and streams, so it never draws from a training stream.
public let evaluationStream: UInt64 = 0x6576_616C  // "eval"

/// The episodes of one evaluation of a policy.
public struct EvaluationResult: Sendable, Equatable {
    /// Undiscounted return of each episode, in the order they were run.
    public var returns: [Double]
    /// Length of each episode, in the same order.
    public var lengths: [Int]

    public init(returns: [Double], lengths: [Int]) {
        self.returns = returns
        self.lengths = lengths
    }

    /// Mean return (NaN without episodes).
    public var returnMean: Double { returns.isEmpty ? .nan : returns.reduce(0, +) / Double(returns.count) }
    /// Population standard deviation of the returns (NaN without episodes).
    public var returnStandardDeviation: Double {
        let mean = returnMean
        return (returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)).squareRoot()
    }
    /// Mean episode length (NaN without episodes).
    public var lengthMean: Double { lengths.isEmpty ? .nan : Double(lengths.reduce(0, +)) / Double(lengths.count) }
}

/// Runs `episodes` whole episodes of a policy on a fresh simulator and reports their returns
/// and lengths. Episode k starts from the stream (seed, [``evaluationStream``, 0, reset, k]),
/// so the same seed gives the same initial states; observations are standardised with
/// `normalizer` as it is (never updated). `deterministic` acts with the distribution's mode
/// (argmax / mean); otherwise actions are sampled from (seed, [``evaluationStream``, 0, action]).
/// - Throws: what ``EnvironmentRegistry/make(_:modelXML:)`` throws for an unknown environment
///   or a model that does not compile.
public func evaluatePolicy(_ policy: Policy, normalizer: RunningNormalizer?, environment: String, modelXML: String? = nil,
                           episodes: Int, deterministic: Bool, seed: UInt64) throws -> EvaluationResult {
    let simulator = try EnvironmentRegistry.make(environment, modelXML: modelXML)
    let sampler = SinglePathSampler(simulators: [simulator], policy: policy, normalizer: normalizer,
                                    seed: seed, stream: evaluationStream)
    sampler.deterministic = deterministic
    var result = EvaluationResult(returns: [], lengths: [])
    while result.returns.count < episodes {
        let batch = sampler.collect(steps: simulator.maxEpisodeSteps)
        result.returns += batch.episodeReturns
        result.lengths += batch.episodeLengths
    }
    return EvaluationResult(returns: Array(result.returns.prefix(episodes)), lengths: Array(result.lengths.prefix(episodes)))
}

/// Evaluation during training (`--eval-every N --eval-episodes K`): after the update of every
/// N-th iteration, and of the run's last, the new policy plays K deterministic episodes with the
/// run seed's evaluation streams (the same K initial states every time, those of
/// `trpo eval --deterministic --episodes K --seed <run seed>`).
public struct EvaluationSchedule: Sendable, Equatable {
    /// Iterations between evaluations (positive).
    public var every: Int
    /// Episodes per evaluation (positive).
    public var episodes: Int

    public init(every: Int, episodes: Int) {
        precondition(every > 0 && episodes > 0, "evaluation needs a positive interval and episode count")
        self.every = every
        self.episodes = episodes
    }

    /// True when the policy after `iteration` is evaluated: every ``every``-th iteration, and
    /// the one that finishes the run.
    public func isDue(after iteration: Int, finishingRun: Bool) -> Bool { iteration % every == 0 || finishingRun }
}

/// The best evaluation of a run so far, kept in its checkpoints so it survives resumes.
public struct BestEvaluation: Sendable, Codable, Equatable {
    /// The iteration whose policy scored it.
    public var iteration: Int
    /// Its mean evaluation return.
    public var returnMean: Double

    /// True when `returnMean` beats the best so far (`best`; nil: none yet). Ties keep the
    /// earlier one; a NaN never wins.
    public static func improves(_ returnMean: Double, on best: BestEvaluation?) -> Bool {
        guard let best else { return !returnMean.isNaN }
        return returnMean > best.returnMean
    }
}
