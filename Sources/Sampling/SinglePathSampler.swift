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
    public var simulators: [any Simulator] { lockstep.simulators }
    public var policy: Policy { lockstep.policy }
    /// Observation statistics the policy's inputs are standardised with (nil: raw inputs).
    public var normalizer: RunningNormalizer? { lockstep.normalizer }
    /// When true, actions are the distribution's mode (for evaluation).
    public var deterministic = false

    private let lockstep: LockstepSimulators
    private let seed: UInt64
    private let stream: UInt64
    private var actionRandom: [RandomStream]
    private var episodeIndex: [UInt64]
    private var episodeReturn: [Double]
    private var episodeLength: [Int]

    static let resetTag: UInt64 = 0x7265_7365_7400_0000  // "reset"
    static let actionTag: UInt64 = 0x6163_7469_6f6e_0000  // "action"

    /// - Parameters:
    ///   - simulators: the environment copies (same id), owned by the sampler from now on.
    ///   - policy, normalizer: the version to sample with (see ``load(policy:normalizer:)``).
    ///   - seed: the run seed; `stream`: this sampler's id within the run (worker id).
    public init(simulators: [any Simulator], policy: Policy, normalizer: RunningNormalizer?, seed: UInt64, stream: UInt64) {
        lockstep = LockstepSimulators(simulators: simulators, policy: policy, normalizer: normalizer)
        self.seed = seed
        self.stream = stream
        let e = simulators.count
        actionRandom = (0..<e).map { RandomStream(seed: seed, path: [stream, UInt64($0), SinglePathSampler.actionTag]) }
        episodeIndex = [UInt64](repeating: 0, count: e)
        episodeReturn = [Double](repeating: 0, count: e)
        episodeLength = [Int](repeating: 0, count: e)
        for i in 0..<e { resetEnvironment(i) }
    }

    /// Switches to a new policy version.
    public func load(policy: Policy, normalizer: RunningNormalizer?) {
        lockstep.load(policy: policy, normalizer: normalizer)
    }

    private func resetEnvironment(_ i: Int) {
        var random = RandomStream(seed: seed, path: [stream, UInt64(i), SinglePathSampler.resetTag, episodeIndex[i]])
        lockstep.simulators[i].reset(using: &random)
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
        let e = lockstep.simulators.count
        let perCopy = max(1, (steps + e - 1) / e)
        let (obsSize, width) = (lockstep.observationSize, lockstep.actionWidth)
        // Each copy's rows are recorded into its own batch, then the batches are joined.
        var parts = (0..<e).map { _ in SampleBatch(observationSize: obsSize, actionWidth: width, reservingRows: perCopy) }
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
        lockstep.observe()
        lockstep.sampleActions(deterministic: deterministic, random: &actionRandom)
        lockstep.stepAll { i, outcome, observation, action in
            let end: StepEnd = outcome.terminated ? .terminated : outcome.truncated || last ? .truncated : .none
            parts[i].append(observation: UnsafeBufferPointer(observation), action: action, reward: outcome.reward, end: end)
            episodeReturn[i] += outcome.reward
            episodeLength[i] += 1
            if outcome.terminated || outcome.truncated {
                parts[i].episodeReturns.append(episodeReturn[i])
                parts[i].episodeLengths.append(episodeLength[i])
            }
            if end == .truncated {
                lockstep.simulators[i].observe(into: observation)
                parts[i].appendBootstrap(observation: UnsafeBufferPointer(observation))
            }
            if outcome.terminated || outcome.truncated { resetEnvironment(i) }
        }
    }
}
