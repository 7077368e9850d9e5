import Core

/// Collects vine batches (the paper's §5.2) from `E` copies of one environment.
///
/// One collection, for settings (trunk length L, N states, K actions, rollout length T, γ):
///
/// 1. **Rollout set first.** N of the `E·L` trunk positions (copy e, step t) are drawn
///    uniformly without replacement before anything is simulated, so the trunks only need to
///    snapshot the chosen states (`Simulator.snapshot()`), not all of them.
/// 2. **Trunks.** Every copy starts a fresh episode (s₀ ∼ ρ₀, as the paper's trunks do) and
///    runs L steps of π_old in lockstep with the other copies, one batched forward pass per
///    step; an episode that ends is reset and the trunk goes on. At each chosen position the
///    raw observation and a snapshot are kept. (Trunks shorter than the episodes never reach
///    late states; the paper's trunks of 1000 steps cover whole locomotion episodes.)
/// 3. **Actions.** At every rollout-set state, K actions: each action once for a discrete
///    space with at most K actions (eq. 15; K becomes the action count), otherwise K draws
///    from π_old (eq. 16; for continuous spaces this is the paper's q = π_old, for larger
///    discrete spaces it keeps the π_old-based importance weights simple). π_old's outputs
///    here come from a double-precision forward pass, and so do the stored log π_old(a|s).
/// 4. **Branches.** For each (n, k): restore s_n's snapshot, take a_{n,k}, then follow π_old
///    for at most T − 1 more steps; stop at termination or at the time limit (the snapshot
///    carries the step count). Record Σ_{t<L} γᵗ r_t, L, whether the branch terminated or was
///    cut, and a cut branch's end observation s_L; the learner completes Q̂ (``VineBatch``).
///
/// **Common random numbers.** Simulators are deterministic given their state and actions,
/// so the only randomness in a branch is π_old's action noise after the first step. With
/// `commonRandomNumbers` every branch of state n draws that noise from its own copy of the
/// stream (seed, [stream, `branchTag`, collection, n]): the K branches of a state see the
/// same numbers, in the same order, and differ only through their first action. Without it
/// branch k uses (…, n, k). For the copies to agree bit for bit the continuation's forward
/// pass is evaluated one row at a time: BLAS results depend on the batch's shape (measured
/// with OpenBLAS: a row's single-precision output changes in the last bits with the number
/// of rows and the row's position), so batching branches would break exact CRN. Branches
/// therefore run one after another on the first simulator copy.
///
/// Other streams: copy e's resets (…, e, `resetTag`, collection, episode) and trunk actions
/// (…, e, `trunkTag`, collection); the rollout set (…, `rolloutSetTag`, collection); the
/// sampled first actions of state n (…, `firstActionTag`, collection, n). `collection` is
/// ``collectionIndex``, advanced by every call to `collect`, so a run is reproducible from
/// the seed.
public final class VineSampler {
    public var simulators: [any Simulator] { lockstep.simulators }
    public var policy: Policy { lockstep.policy }
    /// Observation statistics the policy's inputs are standardised with (nil: raw inputs).
    public var normalizer: RunningNormalizer? { lockstep.normalizer }
    public let settings: VineSettings
    /// The index of the next collection; part of every stream's path. Set it (e.g. to the
    /// policy version) to make collections independent of how many were made before.
    public var collectionIndex: UInt64 = 0

    private let lockstep: LockstepSimulators
    private let seed: UInt64
    private let stream: UInt64
    private let observationSize: Int
    private let actionWidth: Int
    private let branching: (actionsPerState: Int, estimator: VineEstimator)
    // Workspace reused across collections.
    private var scratch: [Double]
    private var positions: [Int] = []

    static let resetTag: UInt64 = 0x7672_6573_6574_0000  // "vreset"
    static let trunkTag: UInt64 = 0x7674_7275_6e6b_0000  // "vtrunk"
    static let rolloutSetTag: UInt64 = 0x7673_6574_0000_0000  // "vset"
    static let firstActionTag: UInt64 = 0x7666_6972_7374_0000  // "vfirst"
    static let branchTag: UInt64 = 0x7662_7261_6e63_6800  // "vbranch"

    /// - Parameters:
    ///   - simulators: the environment copies (same id), owned by the sampler from now on.
    ///   - policy, normalizer: the version to sample with (see ``load(policy:normalizer:)``).
    ///   - seed: the run seed; `stream`: this sampler's id within the run (worker id).
    ///   - settings: must pass ``VineSettings/problem(simulatorCount:)``.
    public init(simulators: [any Simulator], policy: Policy, normalizer: RunningNormalizer?, seed: UInt64, stream: UInt64,
                settings: VineSettings) {
        precondition(!simulators.isEmpty, "a sampler needs at least one simulator")
        if let problem = settings.problem(simulatorCount: simulators.count) { preconditionFailure(problem) }
        precondition(policy.head == PolicyHead(simulators[0].actionSpace), "the policy's head does not fit the action space")
        lockstep = LockstepSimulators(simulators: simulators, policy: policy, normalizer: normalizer)
        self.seed = seed
        self.stream = stream
        self.settings = settings
        observationSize = lockstep.observationSize
        actionWidth = lockstep.actionWidth
        branching = settings.branching(for: simulators[0].actionSpace)
        scratch = [Double](repeating: 0, count: policy.head.outputWidth)
    }

    /// Switches to a new policy version.
    public func load(policy: Policy, normalizer: RunningNormalizer?) {
        lockstep.load(policy: policy, normalizer: normalizer)
    }

    /// K and the estimator this sampler's batches are for.
    public var actionsPerState: Int { branching.actionsPerState }
    public var estimator: VineEstimator { branching.estimator }

    /// The largest rollout set one collection can draw: every trunk state, `E·L`.
    public var maximumStates: Int { simulators.count * settings.trunkSteps }

    /// One collection: `E·L` trunk steps, then N·K branches.
    public func collect() -> VineBatch {
        collect(abandonIf: nil)!
    }

    /// Like ``collect()``, but with a rollout set of `states` states (default: the settings'
    /// N), asking `abandonIf` every `checkInterval` trunk steps and before every
    /// `checkInterval`-th branch, and giving up, returning nil, as soon as it answers true (a
    /// new policy version has arrived, or the worker is stopping).
    /// - Precondition: `1 ≤ states ≤ simulators.count × settings.trunkSteps`.
    public func collect(states: Int? = nil, abandonIf: (() -> Bool)?, checkInterval: Int = 16) -> VineBatch? {
        let n = states ?? settings.rolloutStates
        precondition(n >= 1 && n <= maximumStates, "a rollout set of \(n) states does not fit \(maximumStates) trunk states")
        let collection = collectionIndex
        collectionIndex += 1
        var batch = VineBatch(observationSize: observationSize, actionWidth: actionWidth,
                              actionsPerState: branching.actionsPerState, estimator: branching.estimator)
        batch.observations = [Double](repeating: 0, count: n * observationSize)
        var snapshots = [SimulatorSnapshot?](repeating: nil, count: n)
        guard runTrunks(collection: collection, states: n, into: &batch, snapshots: &snapshots, abandonIf: abandonIf,
                        checkInterval: checkInterval)
        else { return nil }
        chooseActions(collection: collection, states: n, into: &batch)
        guard runBranches(collection: collection, into: &batch, snapshots: snapshots.map { $0! }, abandonIf: abandonIf,
                          checkInterval: checkInterval)
        else { return nil }
        return batch
    }

    // MARK: - Phases

    /// The sorted positions `e·L + t` of the rollout set: a uniform sample of N of the E·L
    /// trunk positions without replacement (partial Fisher–Yates).
    private func chooseRolloutSet(collection: UInt64, states n: Int) -> ArraySlice<Int> {
        let total = maximumStates
        var random = RandomStream(seed: seed, path: [stream, Self.rolloutSetTag, collection])
        if positions.count != total { positions = Array(0..<total) } else { for i in 0..<total { positions[i] = i } }
        for i in 0..<n { positions.swapAt(i, i + random.index(below: total - i)) }
        positions[..<n].sort()
        return positions[..<n]
    }

    /// Runs the trunks, recording them as trajectories (copy after copy, each cut by the
    /// trunk's end marked `.truncated` with its bootstrap observation, as single path does)
    /// and the rollout set's raw observations and snapshots.
    /// - Returns: false when abandoned.
    private func runTrunks(collection: UInt64, states: Int, into batch: inout VineBatch, snapshots: inout [SimulatorSnapshot?],
                           abandonIf: (() -> Bool)?, checkInterval: Int) -> Bool {
        let e = simulators.count
        let length = settings.trunkSteps
        let obsSize = observationSize
        let chosen = chooseRolloutSet(collection: collection, states: states)
        // next[i]: the rank (= rollout-set index n) of copy i's next chosen position.
        var next = (0..<e).map { i in chosen.firstIndex { $0 >= i * length } ?? chosen.endIndex }
        var episode = [UInt64](repeating: 0, count: e)
        var episodeReturn = [Double](repeating: 0, count: e)
        var episodeLength = [Int](repeating: 0, count: e)
        var parts = (0..<e).map { _ in SampleBatch(observationSize: obsSize, actionWidth: actionWidth, reservingRows: length) }
        var actionRandom = (0..<e).map { RandomStream(seed: seed, path: [stream, UInt64($0), Self.trunkTag, collection]) }
        func reset(_ i: Int) {
            var random = RandomStream(seed: seed, path: [stream, UInt64(i), Self.resetTag, collection, episode[i]])
            simulators[i].reset(using: &random)
            episode[i] += 1
            episodeReturn[i] = 0
            episodeLength[i] = 0
        }
        for i in 0..<e { reset(i) }

        for t in 0..<length {
            if let abandonIf, t % checkInterval == 0, abandonIf() { return false }
            lockstep.observe()
            for i in 0..<e where next[i] < chosen.endIndex && chosen[next[i]] == i * length + t {
                let row = next[i]
                let observation = lockstep.rawObservation(i)
                for j in 0..<obsSize { batch.observations[row * obsSize + j] = observation[j] }
                snapshots[row] = simulators[i].snapshot()
                next[i] += 1
            }
            lockstep.sampleActions(deterministic: false, random: &actionRandom)
            let last = t == length - 1
            lockstep.stepAll { i, outcome, observation, action in
                let end: StepEnd = outcome.terminated ? .terminated : outcome.truncated || last ? .truncated : .none
                parts[i].append(observation: UnsafeBufferPointer(observation), action: action, reward: outcome.reward, end: end)
                if end == .truncated {
                    simulators[i].observe(into: observation)
                    parts[i].appendBootstrap(observation: UnsafeBufferPointer(observation))
                }
                episodeReturn[i] += outcome.reward
                episodeLength[i] += 1
                if outcome.terminated || outcome.truncated {
                    parts[i].episodeReturns.append(episodeReturn[i])
                    parts[i].episodeLengths.append(episodeLength[i])
                    reset(i)
                }
            }
        }
        for part in parts { batch.trunks.append(part) }
        return true
    }

    /// The K actions of every rollout-set state and their log π_old, from a double-precision
    /// forward pass on the states.
    private func chooseActions(collection: UInt64, states n: Int, into batch: inout VineBatch) {
        let (k, width) = (branching.actionsPerState, actionWidth)
        let raw = batch.observationMatrix
        let states = normalizer?.normalized(raw) ?? raw
        let stateOutputs = policy.network.forward(states).output
        let outWidth = stateOutputs.columns
        var actions = Matrix(rows: n * k, columns: width)
        var repeated = Matrix(rows: n * k, columns: outWidth)
        stateOutputs.storage.withUnsafeBufferPointer { out in
            actions.storage.withUnsafeMutableBufferPointer { act in
                repeated.storage.withUnsafeMutableBufferPointer { rep in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        policy.logStd.withUnsafeBufferPointer { logStd in
                            for i in 0..<n {
                                var random = RandomStream(seed: seed, path: [stream, Self.firstActionTag, collection, UInt64(i)])
                                for j in 0..<k {
                                    let b = i * k + j
                                    (rep.baseAddress! + b * outWidth).update(from: out.baseAddress! + i * outWidth, count: outWidth)
                                    if branching.estimator == .enumeratedActions {
                                        act[b] = Double(j)
                                    } else {
                                        policy.head.sample(output: out.baseAddress! + i * outWidth, logStd: logStd.baseAddress!,
                                                           deterministic: false, random: &random,
                                                           into: act.baseAddress! + b * width, scratch: scratch.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        batch.actions = actions.storage
        batch.oldLogProbabilities = policy.head.logProbabilities(outputs: repeated, logStd: policy.logStd, actions: actions)
    }

    /// Runs the N·K branches on the first simulator copy and records each one's return,
    /// length and end, and the end observation of each cut one.
    /// - Returns: false when abandoned.
    private func runBranches(collection: UInt64, into batch: inout VineBatch, snapshots: [SimulatorSnapshot],
                             abandonIf: (() -> Bool)?, checkInterval: Int) -> Bool {
        let (n, k, width) = (batch.stateCount, branching.actionsPerState, actionWidth)
        let (length, gamma) = (settings.rolloutLength, settings.gamma)
        let simulator = simulators[0]
        batch.branchReturns.reserveCapacity(n * k)
        batch.branchLengths.reserveCapacity(n * k)
        batch.branchEnds.reserveCapacity(n * k)
        var endObservation = [Double](repeating: 0, count: observationSize)
        for i in 0..<n {
            let common = RandomStream(seed: seed, path: [stream, Self.branchTag, collection, UInt64(i)])
            for j in 0..<k {
                let b = i * k + j
                if let abandonIf, b % checkInterval == 0, abandonIf() { return false }
                var random = settings.commonRandomNumbers
                    ? common : RandomStream(seed: seed, path: [stream, Self.branchTag, collection, UInt64(i), UInt64(j)])
                simulator.restore(snapshots[i])
                var outcome = batch.actions.withUnsafeBufferPointer {
                    simulator.step(UnsafeBufferPointer(rebasing: $0[(b * width)..<((b + 1) * width)]))
                }
                var q = outcome.reward
                var discount = 1.0
                var taken = 1
                while !outcome.terminated && !outcome.truncated && taken < length {
                    outcome = continuationStep(random: &random)
                    discount *= gamma
                    q += discount * outcome.reward
                    taken += 1
                }
                batch.branchReturns.append(q)
                batch.branchLengths.append(taken)
                if outcome.terminated {
                    batch.branchEnds.append(.terminated)
                } else {
                    batch.branchEnds.append(.truncated)
                    endObservation.withUnsafeMutableBufferPointer { simulator.observe(into: $0) }
                    batch.cutObservations += endObservation
                }
            }
        }
        return true
    }

    /// One step of π_old on the first simulator copy, its forward pass on that row alone (see
    /// the type's discussion of common random numbers).
    @inline(__always)
    private func continuationStep(random: inout RandomStream) -> StepOutcome {
        lockstep.observe(copies: 1)
        lockstep.sampleFirstAction(random: &random)
        return lockstep.stepFirst()
    }
}
