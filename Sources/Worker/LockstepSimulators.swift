import Core

/// `E` copies of one environment acted on by one policy, the machinery both samplers share:
/// every copy is observed, the observations standardised, the policy evaluated on all of
/// them at once in single precision (``PolicyEvaluator``: one sgemm per layer), an action
/// sampled per copy, and every copy stepped.
///
/// The workspace (raw and standardised observations, outputs, actions) is allocated once;
/// a step allocates nothing. What a step means beyond that (recording rows, episode
/// bookkeeping, snapshots) is the caller's: ``observe(copies:)``,
/// ``sampleActions(deterministic:random:)`` and ``stepAll(_:)`` are separate calls, and the raw observations and actions stay readable
/// in between.
final class LockstepSimulators {
    let simulators: [any Simulator]
    private(set) var policy: Policy
    /// Observation statistics the policy's inputs are standardised with (nil: raw inputs).
    private(set) var normalizer: RunningNormalizer?
    let observationSize: Int
    let actionWidth: Int

    private let evaluator: PolicyEvaluator
    /// Copy i's raw observation is `rawObservations[i·observationSize ..< (i+1)·observationSize]`.
    private(set) var rawObservations: [Double]
    private var normalizedObservations: [Double]
    private var outputs: [Double]
    /// Copy i's action is `actions[i·actionWidth ..< (i+1)·actionWidth]`.
    private(set) var actions: [Double]
    private var scratch: [Double]

    init(simulators: [any Simulator], policy: Policy, normalizer: RunningNormalizer?) {
        precondition(!simulators.isEmpty, "a sampler needs at least one simulator")
        self.simulators = simulators
        self.policy = policy
        self.normalizer = normalizer
        let e = simulators.count
        observationSize = simulators[0].observationSpace.count
        actionWidth = simulators[0].actionSpace.width
        evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: policy.network.activation, capacity: e)
        evaluator.load(policy.network)
        rawObservations = [Double](repeating: 0, count: e * observationSize)
        normalizedObservations = rawObservations
        outputs = [Double](repeating: 0, count: e * policy.head.outputWidth)
        actions = [Double](repeating: 0, count: e * actionWidth)
        scratch = [Double](repeating: 0, count: policy.head.outputWidth)
    }

    /// Switches to a new policy version.
    func load(policy: Policy, normalizer: RunningNormalizer?) {
        self.policy = policy
        self.normalizer = normalizer
        evaluator.load(policy.network)
    }

    /// Observes the first `copies` copies into ``rawObservations`` and their standardised
    /// copies into the policy's input rows.
    func observe(copies: Int? = nil) {
        let obsSize = observationSize
        rawObservations.withUnsafeMutableBufferPointer { raw in
            normalizedObservations.withUnsafeMutableBufferPointer { normalized in
                for i in 0..<(copies ?? simulators.count) {
                    let row = UnsafeMutableBufferPointer(rebasing: raw[(i * obsSize)..<((i + 1) * obsSize)])
                    simulators[i].observe(into: row)
                    let target = UnsafeMutableBufferPointer(rebasing: normalized[(i * obsSize)..<((i + 1) * obsSize)])
                    _ = target.update(fromContentsOf: row)
                    normalizer?.normalize(target)
                }
            }
        }
    }

    /// Evaluates the policy on every copy's observed row in one batch and samples copy i's
    /// action into ``actions`` with `random[i]`.
    func sampleActions(deterministic: Bool, random: inout [RandomStream]) {
        precondition(random.count == simulators.count, "one random stream per copy")
        random.withUnsafeMutableBufferPointer { random in
            sampleActions(rows: simulators.count, deterministic: deterministic, random: random.baseAddress!)
        }
    }

    /// Evaluates the policy on copy 0's observed row alone and samples its action with `random`.
    /// (A row's single-precision outputs depend on the batch's shape; see ``VineSampler``.)
    func sampleFirstAction(random: inout RandomStream) {
        withUnsafeMutablePointer(to: &random) { sampleActions(rows: 1, deterministic: false, random: $0) }
    }

    /// Steps every copy, in order, with its action in ``actions`` and hands `body` the copy,
    /// its outcome and its rows: the raw observation the action was chosen on (writable, so
    /// the caller may observe the next state into it) and the action.
    @inline(__always)
    func stepAll(_ body: (_ copy: Int, _ outcome: StepOutcome, _ observation: UnsafeMutableBufferPointer<Double>,
                          _ action: UnsafeBufferPointer<Double>) -> Void) {
        let (obsSize, width) = (observationSize, actionWidth)
        rawObservations.withUnsafeMutableBufferPointer { raw in
            actions.withUnsafeBufferPointer { act in
                for i in simulators.indices {
                    let action = UnsafeBufferPointer(rebasing: act[(i * width)..<((i + 1) * width)])
                    let outcome = simulators[i].step(action)
                    body(i, outcome, UnsafeMutableBufferPointer(rebasing: raw[(i * obsSize)..<((i + 1) * obsSize)]), action)
                }
            }
        }
    }

    /// Steps copy 0 with its action in ``actions``.
    func stepFirst() -> StepOutcome {
        let width = actionWidth
        return actions.withUnsafeBufferPointer { simulators[0].step(UnsafeBufferPointer(rebasing: $0[0..<width])) }
    }

    /// The first `rows` rows: one forward pass, then row i's action drawn with `random[i]`.
    private func sampleActions(rows: Int, deterministic: Bool, random: UnsafeMutablePointer<RandomStream>) {
        let (width, outWidth) = (actionWidth, policy.head.outputWidth)
        normalizedObservations.withUnsafeBufferPointer { normalized in
            outputs.withUnsafeMutableBufferPointer { out in
                evaluator.evaluate(normalized.baseAddress!, rows: rows, into: out.baseAddress!)
                actions.withUnsafeMutableBufferPointer { act in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        policy.logStd.withUnsafeBufferPointer { logStd in
                            for i in 0..<rows {
                                policy.head.sample(output: out.baseAddress! + i * outWidth, logStd: logStd.baseAddress!,
                                                   deterministic: deterministic, random: &random[i],
                                                   into: act.baseAddress! + i * width, scratch: scratch.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }
}
