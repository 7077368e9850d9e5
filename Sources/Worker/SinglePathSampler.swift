import Core

/// Collects single-path trajectories (the paper's §5.1) from `E` copies of one environment,
/// stepping them in lockstep with the policy evaluated on all `E` observations at once.
///
/// Environments persist across calls to ``collect(steps:)``: an episode cut by the end of a
/// batch continues in the next one (under the new policy) and the cut row is marked
/// `.truncated` with its next observation for bootstrapping.
///
/// Randomness: environment e's initial states come from the stream
/// (seed, [stream, e, `resetTag`, episode]) and its actions from (seed, [stream, e,
/// `actionTag`]), so a run is reproducible from the seed and each copy's numbers do not
/// depend on how many copies there are.
public final class SinglePathSampler {
    public let simulators: [any Simulator]
    public private(set) var policy: Policy
    /// Observation statistics the policy's inputs are standardised with (nil: raw inputs).
    public private(set) var normalizer: RunningNormalizer?
    /// When true, actions are the distribution's mode (for evaluation).
    public var deterministic = false

    private let seed: UInt64
    private let stream: UInt64
    private var actionRandom: [RandomStream]
    private var episodeIndex: [UInt64]
    private var episodeReturn: [Double]
    private var episodeLength: [Int]
    private let evaluator: PolicyEvaluator
    private let observationSize: Int
    private let actionWidth: Int
    // Per-step workspace: raw and normalised observations, outputs, actions.
    private var rawObservations: [Double]
    private var normalizedObservations: [Double]
    private var outputs: [Double]
    private var actionBuffer: [Double]
    private var scratch: [Double]

    static let resetTag: UInt64 = 0x7265_7365_7400_0000  // "reset"
    static let actionTag: UInt64 = 0x6163_7469_6f6e_0000  // "action"

    /// - Parameters:
    ///   - simulators: the environment copies (same id), owned by the sampler from now on.
    ///   - policy, normalizer: the version to sample with (see ``load(policy:normalizer:)``).
    ///   - seed: the run seed; `stream`: this sampler's id within the run (worker id).
    public init(simulators: [any Simulator], policy: Policy, normalizer: RunningNormalizer?, seed: UInt64, stream: UInt64) {
        precondition(!simulators.isEmpty, "a sampler needs at least one simulator")
        self.simulators = simulators
        self.policy = policy
        self.normalizer = normalizer
        self.seed = seed
        self.stream = stream
        let e = simulators.count
        observationSize = simulators[0].observationSpace.count
        actionWidth = simulators[0].actionSpace.width
        actionRandom = (0..<e).map { RandomStream(seed: seed, path: [stream, UInt64($0), SinglePathSampler.actionTag]) }
        episodeIndex = [UInt64](repeating: 0, count: e)
        episodeReturn = [Double](repeating: 0, count: e)
        episodeLength = [Int](repeating: 0, count: e)
        evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: policy.network.activation, capacity: e)
        evaluator.load(policy.network)
        rawObservations = [Double](repeating: 0, count: e * observationSize)
        normalizedObservations = rawObservations
        outputs = [Double](repeating: 0, count: e * policy.head.outputWidth)
        actionBuffer = [Double](repeating: 0, count: e * actionWidth)
        scratch = [Double](repeating: 0, count: policy.head.outputWidth)
        for i in 0..<e { resetEnvironment(i) }
    }

    /// Switches to a new policy version.
    public func load(policy: Policy, normalizer: RunningNormalizer?) {
        self.policy = policy
        self.normalizer = normalizer
        evaluator.load(policy.network)
    }

    private func resetEnvironment(_ i: Int) {
        var random = RandomStream(seed: seed, path: [stream, UInt64(i), SinglePathSampler.resetTag, episodeIndex[i]])
        simulators[i].reset(using: &random)
        episodeIndex[i] += 1
        episodeReturn[i] = 0
        episodeLength[i] = 0
    }

    /// Collects about `steps` transitions: each copy steps ⌈steps / E⌉ times. Every
    /// trajectory in the result ends (episodes still running are cut with `.truncated` and
    /// continue in the next call), so a batch is self-contained.
    /// - Returns: the copies' trajectories, copy after copy.
    public func collect(steps: Int) -> SampleBatch {
        collect(steps: steps, abandonIf: nil)!
    }

    /// Like ``collect(steps:)``, but asks `abandonIf` every `checkInterval` lockstep steps
    /// and gives up, returning nil, as soon as it answers true (a new policy version has
    /// arrived, or the worker is stopping). The simulators keep their states: episodes in
    /// flight continue under the next policy.
    public func collect(steps: Int, abandonIf: (() -> Bool)?, checkInterval: Int = 16) -> SampleBatch? {
        let e = simulators.count
        let perCopy = max(1, (steps + e - 1) / e)
        let (obsSize, width) = (observationSize, actionWidth)
        // Each copy's rows are recorded into its own batch, then the batches are joined.
        var parts = (0..<e).map { _ in
            var part = SampleBatch(observationSize: obsSize, actionWidth: width)
            part.observations.reserveCapacity(perCopy * obsSize)
            part.actions.reserveCapacity(perCopy * width)
            part.rewards.reserveCapacity(perCopy)
            part.ends.reserveCapacity(perCopy)
            return part
        }
        for t in 0..<perCopy {
            if let abandonIf, t % checkInterval == 0, abandonIf() { return nil }
            stepAll(into: &parts, last: t == perCopy - 1)
        }
        var batch = SampleBatch(observationSize: obsSize, actionWidth: width)
        for part in parts { batch.append(part) }
        return batch
    }

    /// One lockstep step of every copy, recorded into `parts`.
    private func stepAll(into parts: inout [SampleBatch], last: Bool) {
        let e = simulators.count
        let (obsSize, width, outWidth) = (observationSize, actionWidth, policy.head.outputWidth)
        rawObservations.withUnsafeMutableBufferPointer { raw in
            normalizedObservations.withUnsafeMutableBufferPointer { normalized in
                for i in 0..<e {
                    let row = UnsafeMutableBufferPointer(rebasing: raw[(i * obsSize)..<((i + 1) * obsSize)])
                    simulators[i].observe(into: row)
                    let target = UnsafeMutableBufferPointer(rebasing: normalized[(i * obsSize)..<((i + 1) * obsSize)])
                    _ = target.update(fromContentsOf: row)
                    normalizer?.normalize(target)
                }
                outputs.withUnsafeMutableBufferPointer { out in
                    evaluator.evaluate(normalized.baseAddress!, rows: e, into: out.baseAddress!)
                    actionBuffer.withUnsafeMutableBufferPointer { act in
                        scratch.withUnsafeMutableBufferPointer { scratch in
                            policy.logStd.withUnsafeBufferPointer { logStd in
                                for i in 0..<e {
                                    policy.head.sample(output: out.baseAddress! + i * outWidth, logStd: logStd.baseAddress!,
                                                       deterministic: deterministic, random: &actionRandom[i],
                                                       into: act.baseAddress! + i * width, scratch: scratch.baseAddress!)
                                }
                            }
                        }
                        for i in 0..<e {
                            let action = UnsafeBufferPointer(rebasing: act[(i * width)..<((i + 1) * width)])
                            let outcome = simulators[i].step(action)
                            parts[i].observations.append(contentsOf: raw[(i * obsSize)..<((i + 1) * obsSize)])
                            parts[i].actions.append(contentsOf: action)
                            parts[i].rewards.append(outcome.reward)
                            episodeReturn[i] += outcome.reward
                            episodeLength[i] += 1
                            if outcome.terminated || outcome.truncated {
                                parts[i].episodeReturns.append(episodeReturn[i])
                                parts[i].episodeLengths.append(episodeLength[i])
                            }
                            if outcome.terminated {
                                parts[i].ends.append(.terminated)
                                resetEnvironment(i)
                            } else if outcome.truncated || last {
                                parts[i].ends.append(.truncated)
                                parts[i].bootstrapRows.append(parts[i].rewards.count - 1)
                                let next = UnsafeMutableBufferPointer(rebasing: raw[(i * obsSize)..<((i + 1) * obsSize)])
                                simulators[i].observe(into: next)
                                parts[i].bootstrapObservations.append(contentsOf: next)
                                if outcome.truncated { resetEnvironment(i) }
                            } else {
                                parts[i].ends.append(.none)
                            }
                        }
                    }
                }
            }
        }
    }
}
