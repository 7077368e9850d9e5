import Core

/// `E` copies of one environment acted on by one policy, the machinery both samplers share:
/// every copy is observed, the observations standardised, the policy evaluated on all of
/// them at once in single precision (``PolicyEvaluator``: one sgemm per layer), an action
/// sampled per copy, and every copy stepped.
///
/// The workspace (raw and standardised observations, outputs, actions) is allocated once;
/// a step allocates nothing. What a step means beyond that (recording rows, episode
/// bookkeeping, snapshots) is the caller's: ``observe(copies:)``,
/// ``sampleActions(deterministic:random:)`` and ``stepAll(_:)`` are separate calls, and the
/// raw observations stay readable in between (``rawObservation(_:)``).
final class LockstepSimulators {
    let simulators: [any Simulator]
    private(set) var policy: Policy
    /// Observation statistics the policy's inputs are standardised with (nil: raw inputs).
    private(set) var normalizer: RunningNormalizer?
    let observationSize: Int
    let actionWidth: Int

    private let evaluator: PolicyEvaluator
    // The workspace, allocated once and owned (freed in deinit): plain buffers rather than
    // arrays, so a step enters no exclusivity-checked accesses.
    /// Copy i's raw observation: `rawObservations[i·observationSize ..< (i+1)·observationSize]`.
    private let rawObservations: UnsafeMutableBufferPointer<Double>
    private let normalizedObservations: UnsafeMutableBufferPointer<Double>
    private let outputs: UnsafeMutableBufferPointer<Double>
    /// Copy i's action: `actions[i·actionWidth ..< (i+1)·actionWidth]`.
    private let actions: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// The policy's log standard deviations (empty for a categorical head), copied on load.
    private let logStd: UnsafeMutableBufferPointer<Double>

    init(simulators: [any Simulator], policy: Policy, normalizer: RunningNormalizer?) {
        precondition(!simulators.isEmpty, "a sampler needs at least one simulator")
        self.simulators = simulators
        self.policy = policy
        self.normalizer = normalizer
        let e = simulators.count
        observationSize = simulators[0].observationSpace.count
        actionWidth = simulators[0].actionSpace.width
        evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: policy.network.activation, capacity: e)
        func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Double> {
            let b = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(count, 1))
            b.initialize(repeating: 0)
            return b
        }
        rawObservations = buffer(e * observationSize)
        normalizedObservations = buffer(e * observationSize)
        outputs = buffer(e * policy.head.outputWidth)
        actions = buffer(e * actionWidth)
        scratch = buffer(policy.head.outputWidth)
        logStd = buffer(policy.logStd.count)
        load(policy: policy, normalizer: normalizer)
    }

    deinit {
        for b in [rawObservations, normalizedObservations, outputs, actions, scratch, logStd] { b.deallocate() }
    }

    /// Switches to a new policy version.
    /// - Precondition: the policy has the first one's head and layer sizes.
    func load(policy: Policy, normalizer: RunningNormalizer?) {
        precondition(policy.head == self.policy.head, "a new policy version must keep the head")
        self.policy = policy
        self.normalizer = normalizer
        evaluator.load(policy.network)
        _ = logStd.update(fromContentsOf: policy.logStd)
    }

    /// Copy i's raw observation, as last observed; valid until the next ``observe(copies:)``
    /// (do not keep it).
    func rawObservation(_ i: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: rawObservations[(i * observationSize)..<((i + 1) * observationSize)])
    }

    /// Observes the first `copies` copies (default: all) into the raw rows and their
    /// standardised copies into the policy's input rows.
    func observe(copies: Int? = nil) {
        let obsSize = observationSize
        for i in 0..<(copies ?? simulators.count) {
            let row = UnsafeMutableBufferPointer(rebasing: rawObservations[(i * obsSize)..<((i + 1) * obsSize)])
            simulators[i].observe(into: row)
            let target = UnsafeMutableBufferPointer(rebasing: normalizedObservations[(i * obsSize)..<((i + 1) * obsSize)])
            _ = target.update(fromContentsOf: row)
            normalizer?.normalize(target)
        }
    }

    /// Evaluates the policy on every copy's observed row in one batch and samples copy i's
    /// action with `random[i]`.
    func sampleActions(deterministic: Bool, random: inout [RandomStream]) {
        precondition(random.count == simulators.count, "one random stream per copy")
        random.withUnsafeMutableBufferPointer { random in
            sampleActions(rows: simulators.count, deterministic: deterministic, random: random.baseAddress!)
        }
    }

    /// Evaluates the policy on copy 0's observed row alone and samples its action with
    /// `random`. (A row's single-precision outputs depend on the batch's shape; see
    /// ``VineSampler``.)
    func sampleFirstAction(random: inout RandomStream) {
        withUnsafeMutablePointer(to: &random) { sampleActions(rows: 1, deterministic: false, random: $0) }
    }

    /// Steps every copy, in order, with its sampled action and hands `body` the copy, its
    /// outcome and its rows: the raw observation the action was chosen on (writable, so the
    /// caller may observe the next state into it) and the action. The rows are valid only
    /// during the call.
    @inline(__always)
    func stepAll(_ body: (_ copy: Int, _ outcome: StepOutcome, _ observation: UnsafeMutableBufferPointer<Double>,
                          _ action: UnsafeBufferPointer<Double>) -> Void) {
        let (obsSize, width) = (observationSize, actionWidth)
        for i in simulators.indices {
            let action = UnsafeBufferPointer(rebasing: actions[(i * width)..<((i + 1) * width)])
            let outcome = simulators[i].step(action)
            body(i, outcome, UnsafeMutableBufferPointer(rebasing: rawObservations[(i * obsSize)..<((i + 1) * obsSize)]), action)
        }
    }

    /// Steps copy 0 with its sampled action.
    func stepFirst() -> StepOutcome {
        simulators[0].step(UnsafeBufferPointer(rebasing: actions[0..<actionWidth]))
    }

    /// The first `rows` rows: one forward pass, then row i's action drawn with `random[i]`.
    private func sampleActions(rows: Int, deterministic: Bool, random: UnsafeMutablePointer<RandomStream>) {
        let (width, outWidth) = (actionWidth, policy.head.outputWidth)
        let head = policy.head
        evaluator.evaluate(normalizedObservations.baseAddress!, rows: rows, into: outputs.baseAddress!)
        for i in 0..<rows {
            head.sample(output: outputs.baseAddress! + i * outWidth, logStd: logStd.baseAddress!, deterministic: deterministic,
                        random: &random[i], into: actions.baseAddress! + i * width, scratch: scratch.baseAddress!)
        }
    }
}
