import Core
import Foundation

/// The learner's state between iterations: everything a checkpoint holds.
public struct TrainerState: Sendable, Codable, Equatable {
    public var configuration: TrainingConfiguration
    /// Completed iterations (policy versions published after the first).
    public var iteration: Int = 0
    /// Environment steps consumed so far.
    public var timesteps: Int = 0
    /// The policy: an MLP on feature vectors, or a convolutional network on frames
    /// (``TrainingConfiguration/frameArchitecture``); the value function has the same trunk.
    public var policy: AnyPolicy
    public var valueFunction: AnyValueFunction
    /// Observation statistics (feature vectors only: frames are read as p/255).
    public var normalizer: RunningNormalizer
    /// Draws Fisher subsamples: the stream (seed, [learner, 1]).
    public var random: RandomStream
    /// Draws value-fit minibatches: the stream (seed, [learner, 2]), apart from ``random`` so
    /// the value fit can run beside the policy step with the numbers of running after it.
    public var valueRandom: RandomStream
    /// Running variance of the discounted return, whose square root scales rewards when
    /// ``TrainingConfiguration/normalizeRewards`` is on (nil until the first batch).
    public var returnStatistics: RunningNormalizer?
    /// Wall time spent by earlier sessions of this run, in seconds.
    public var wallSeconds: Double = 0
    /// The highest evaluation return of the run so far and its iteration, whose policy is
    /// `best/checkpoint.json` (nil: not evaluated yet; see ``EvaluationSchedule``).
    public var bestEvaluation: BestEvaluation? = nil

    public init(configuration: TrainingConfiguration, policy: AnyPolicy, valueFunction: AnyValueFunction,
                normalizer: RunningNormalizer) {
        self.configuration = configuration
        self.policy = policy
        self.valueFunction = valueFunction
        self.normalizer = normalizer
        random = RandomStream(seed: configuration.seed, path: [Trainer.learnerStream, 1])
        valueRandom = Self.valueStream(seed: configuration.seed)
    }

    static func valueStream(seed: UInt64) -> RandomStream { RandomStream(seed: seed, path: [Trainer.learnerStream, 2]) }

    private enum CodingKeys: String, CodingKey {
        case configuration, iteration, timesteps, policy, valueFunction, normalizer, random, valueRandom, returnStatistics,
             wallSeconds, bestEvaluation
    }

    /// Decodes a checkpoint; one written before ``valueRandom`` existed (when one stream drew
    /// both) gets the value stream's start.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        configuration = try c.decode(TrainingConfiguration.self, forKey: .configuration)
        iteration = try c.decode(Int.self, forKey: .iteration)
        timesteps = try c.decode(Int.self, forKey: .timesteps)
        policy = try c.decode(AnyPolicy.self, forKey: .policy)
        valueFunction = try c.decode(AnyValueFunction.self, forKey: .valueFunction)
        normalizer = try c.decode(RunningNormalizer.self, forKey: .normalizer)
        random = try c.decode(RandomStream.self, forKey: .random)
        valueRandom = try c.decodeIfPresent(RandomStream.self, forKey: .valueRandom) ?? Self.valueStream(seed: configuration.seed)
        returnStatistics = try c.decodeIfPresent(RunningNormalizer.self, forKey: .returnStatistics)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
        bestEvaluation = try c.decodeIfPresent(BestEvaluation.self, forKey: .bestEvaluation)
    }
}

/// What one iteration did, for the progress log.
public struct IterationStatistics: Sendable {
    public var iteration: Int
    public var timesteps: Int
    public var samples: Int
    public var episodeReturns: [Double]
    public var episodeLengths: [Int]
    public var policyStep: TRPOStepReport
    /// The trust region δ the step had (``TrainingConfiguration/trpoConfiguration(afterSteps:)``).
    public var maxKL: Double
    public var valueFit: ValueFitReport
    /// Seconds spent in the policy step and in the value fit.
    public var policySeconds: Double
    public var valueSeconds: Double
    /// Mean standard deviation of a Gaussian policy after the step (NaN for categorical).
    public var policyStd: Double
    /// Vine iterations: the rollout set's size, branches, branch steps and the mean
    /// within-state standard deviation of Q̂ (nil for single path).
    public var vine: VineIterationStatistics? = nil

    /// The simulator steps the iteration's batch cost: its rows, or a vine collection's
    /// trunk and branch steps.
    public var simulatorSteps: Int { vine.map { $0.trunkSteps + $0.branchSteps } ?? samples }
    /// The evaluation of the policy after this iteration's update (nil: none was due).
    public var evaluation: EvaluationResult? = nil
}

/// What a vine iteration's batch held.
public struct VineIterationStatistics: Sendable {
    public var states: Int
    public var branches: Int
    public var branchSteps: Int
    /// Simulator steps of the trunks (their rows).
    public var trunkSteps: Int
    /// Mean over states of the standard deviation of the K Q̂ values of a state (bootstrapped
    /// when the run bootstraps).
    public var qSpread: Double
    /// Share of the branches cut by T or by the time limit (rather than terminated), in [0, 1].
    public var cutShare: Double
    /// Mean branch length L, in steps.
    public var meanBranchLength: Double

    /// - Parameter qValues: `[N·K]`, the Q̂ the step used.
    init<Observation>(_ batch: VineSamples<Observation>, qValues: [Double]) {
        states = batch.stateCount
        branches = batch.branchCount
        branchSteps = batch.branchSteps
        trunkSteps = batch.trunkSteps
        let k = batch.actionsPerState
        var total = 0.0
        for n in 0..<states {
            let q = qValues[(n * k)..<((n + 1) * k)]
            let mean = q.reduce(0, +) / Double(k)
            total += (q.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(k)).squareRoot()
        }
        qSpread = states > 0 ? total / Double(states) : .nan
        cutShare = branches > 0 ? Double(batch.cutCount) / Double(branches) : .nan
        meanBranchLength = branches > 0 ? Double(branchSteps) / Double(branches) : .nan
    }
}

/// Turns batches into policy and value updates: GAE, the TRPO step, the value fit, and the
/// observation statistics, in that order.
public struct Trainer: Sendable {
    public private(set) var state: TrainerState

    /// A fresh run: parameters drawn from the streams (seed, [learner, …]), MLPs or, on frames,
    /// convolutional networks of ``TrainingConfiguration/frameArchitecture``.
    /// - Precondition: the configuration is valid (``TrainingConfiguration/validate()``).
    public init(configuration c: TrainingConfiguration, observationSize: Int, actionSpace: ActionSpace) {
        var init_ = RandomStream(seed: c.seed, path: [Trainer.learnerStream, 0])
        let head = PolicyHead(actionSpace)
        let policy: AnyPolicy, value: AnyValueFunction
        if let architecture = c.frameArchitecture {
            precondition(architecture.input.count == observationSize, "frames of \(architecture.input) are not \(observationSize) values")
            policy = .convolutional(ConvolutionalPolicy(architecture: architecture, head: head, initialLogStd: c.initialLogStd,
                                                        random: &init_))
            value = .convolutional(ConvolutionalValueFunction(architecture: architecture, learningRate: c.valueFit.learningRate,
                                                              random: &init_))
        } else {
            policy = .dense(Policy(observationSize: observationSize, head: head, hiddenSizes: c.policyHiddenSizes,
                                   activation: c.activation, initialLogStd: c.initialLogStd, random: &init_))
            value = .dense(ValueFunction(observationSize: observationSize, hiddenSizes: c.valueHiddenSizes, activation: c.activation,
                                         learningRate: c.valueFit.learningRate, random: &init_))
        }
        state = TrainerState(configuration: c, policy: policy, valueFunction: value,
                             normalizer: RunningNormalizer(size: observationSize, clip: c.observationClip))
    }

    /// Continues from saved state.
    public init(state: TrainerState) { self.state = state }

    static let learnerStream: UInt64 = 0x6C65_6172_6E65_7200  // "learner"

    /// The observation statistics samplers standardise with (nil when normalisation is off).
    public var samplingNormalizer: RunningNormalizer? { state.samplingNormalizer }

    /// An iteration on a batch collected with the current policy and normaliser, but for its
    /// value fit: advantages from the value function as it was when the batch was collected,
    /// then the TRPO step and the observation statistics. The value fit needs only those
    /// advantages' targets, so it is handed to `startValueFit` before the policy step, to run
    /// on any thread (beside the step, and while samplers collect the next batch: they need
    /// the policy and statistics, not V) or after it; it draws from its own stream
    /// (``TrainerState/valueRandom``), so the numbers are the same either way. The iteration is
    /// complete once ``completeUpdate(_:_:)`` took the fit's result; until then the state's
    /// value function is the one the batch was collected with.
    /// - Returns: the iteration's statistics without the value fit's.
    public mutating func updatePolicy(with batch: AnySamples, startValueFit: (PendingValueFit) -> Void) -> IterationStatistics {
        let c = state.configuration
        let trpo = c.trpoConfiguration(afterSteps: state.timesteps)
        let policyStep: TRPOStepReport, policySeconds: Duration
        switch (batch, state.policy, state.valueFunction) {
        case (.features(let batch), .dense(var policy), .dense(let value)):
            let states = samplingInputs(batch.observationMatrix)
            (policyStep, policySeconds) = step(&policy, value: value, batch: batch, states: states,
                                               bootstrapStates: samplingInputs(batch.bootstrapObservationMatrix),
                                               fit: .dense(value, states), trpo: trpo, startValueFit: startValueFit)
            state.policy = .dense(policy)
            if c.normalizeObservations { state.normalizer.update(with: batch.observationMatrix) }
        case (.frames(let batch), .convolutional(var policy), .convolutional(let value)):
            let shape = policy.network.architecture.input
            let states = batch.frames(shape: shape)
            (policyStep, policySeconds) = step(&policy, value: value, batch: batch, states: states,
                                               bootstrapStates: batch.bootstrapFrames(shape: shape),
                                               fit: .convolutional(value, states), trpo: trpo, startValueFit: startValueFit)
            state.policy = .convolutional(policy)
        default:
            preconditionFailure("a chunk's observations do not fit the run's \(c.frameArchitecture == nil ? "MLP" : "convolutional") policy "
                                + "(IterationBatch.misfit refuses them)")
        }
        state.iteration += 1
        state.timesteps += batch.count
        let (returns, lengths): ([Double], [Int]) = switch batch {
        case .features(let b): (b.episodeReturns, b.episodeLengths)
        case .frames(let b): (b.episodeReturns, b.episodeLengths)
        }
        return IterationStatistics(iteration: state.iteration, timesteps: state.timesteps, samples: batch.count,
                                   episodeReturns: returns, episodeLengths: lengths,
                                   policyStep: policyStep, maxKL: trpo.maxKL, valueFit: ValueFitReport(), policySeconds: policySeconds.seconds,
                                   valueSeconds: 0, policyStd: policyStandardDeviation)
    }

    /// The shared part of a single-path iteration on either trunk: GAE from `value` (the value
    /// function the batch was collected with), its fit handed to `startValueFit`, then the
    /// TRPO step of `policy` on `states` (the batch's observations as the networks read them).
    /// - Returns: the step's report and its duration.
    private mutating func step<Observation, Network: PolicyNetwork, Value: ValueNetwork>(
        _ policy: inout StochasticPolicy<Network>, value: StateValueFunction<Value>, batch: Samples<Observation>,
        states: Network.Input, bootstrapStates: Network.Input, fit: PendingValueFit.Fit, trpo: TRPOConfiguration,
        startValueFit: (PendingValueFit) -> Void
    ) -> (TRPOStepReport, Duration) where Value.Input == Network.Input {
        let gae = advantageEstimates(batch, value: value, states: states, bootstrapStates: bootstrapStates,
                                     rewards: trainingRewards(batch))
        startValueFit(PendingValueFit(iteration: state.iteration + 1, subject: fit, random: state.valueRandom,
                                      targets: gae.returns, predictions: gae.values, configuration: state.configuration.valueFit))
        var report = TRPOStepReport()
        let seconds = ContinuousClock().measure {
            report = policy.trpoStep(PolicyBatch(observations: states, actions: batch.actionMatrix, advantages: normalized(gae.advantages)),
                                     configuration: trpo, random: &state.random)
        }
        return (report, seconds)
    }

    /// Ends the iteration ``updatePolicy(with:startValueFit:)`` began, whose statistics are
    /// `statistics`: the fitted value function and the value stream after the fit become the
    /// state's.
    public mutating func completeUpdate(_ fitted: FittedValue, _ statistics: IterationStatistics) -> IterationStatistics {
        precondition(fitted.iteration == state.iteration && statistics.iteration == state.iteration,
                     "a value fit completes the iteration that began it")
        state.valueFunction = fitted.valueFunction
        state.valueRandom = fitted.random
        var statistics = statistics
        statistics.valueFit = fitted.report
        statistics.valueSeconds = fitted.seconds
        return statistics
    }

    /// Observations as the sampling policy saw them: standardised with the sampling
    /// normaliser, or raw when the run does not normalise.
    func samplingInputs(_ observations: Matrix) -> Matrix {
        state.samplingNormalizer?.normalized(observations) ?? observations
    }

    /// GAE (γ, λ of the run) on `batch`'s trajectories with `value`, the value function as it
    /// was when the batch was collected: cut rows bootstrap from V(s_{t+1}). V's products run
    /// in the value fit's precision (``ValueFitConfiguration/precision``), GAE in `Double`.
    /// - Parameters:
    ///   - states: `batch`'s observations as the networks read them (through
    ///     ``samplingInputs(_:)``, or frames).
    ///   - bootstrapStates: its bootstrap observations likewise.
    ///   - rewards: `[batch.count]`, raw, clipped or scaled (``trainingRewards(_:)``).
    /// - Returns: the advantages, the value function's targets (the λ-returns) and its
    ///   predictions on `states`.
    func advantageEstimates<Observation, Network: ValueNetwork>(
        _ batch: Samples<Observation>, value: StateValueFunction<Network>, states: Network.Input, bootstrapStates: Network.Input,
        rewards: [Double]
    ) -> (advantages: [Double], returns: [Double], values: [Double]) {
        let c = state.configuration
        var bootstrapValues = [Double](repeating: 0, count: batch.count)
        for (k, v) in value.predict(bootstrapStates, precision: c.valueFit.precision).enumerated() {
            bootstrapValues[batch.bootstrapRows[k]] = v
        }
        let values = value.predict(states, precision: c.valueFit.precision)
        let gae = generalizedAdvantages(rewards: rewards, values: values, bootstrapValues: bootstrapValues,
                                        ends: batch.ends, gamma: c.gamma, lambda: c.lambda)
        return (gae.advantages, gae.returns, values)
    }

    /// The rewards the learner's targets are computed from: the batch's, their signs with
    /// ``TrainingConfiguration/clipRewards``, then scaled with
    /// ``TrainingConfiguration/normalizeRewards``. Episode returns in the logs stay raw.
    mutating func trainingRewards<Observation>(_ batch: Samples<Observation>) -> [Double] {
        let c = state.configuration
        var rewards = batch.rewards
        if c.clipRewards { rewards = rewards.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 } }
        return c.normalizeRewards ? scaledRewards(rewards, ends: batch.ends) : rewards
    }

    /// `rewards` divided by the running standard deviation of the discounted return (updated
    /// with these rewards' returns first) and clipped to ±10, as SB3's VecNormalize scales
    /// them: the return R ← γR + r runs along each trajectory (ended by `ends`) from its first
    /// row.
    mutating func scaledRewards(_ rewards: [Double], ends: [StepEnd]) -> [Double] {
        let gamma = state.configuration.gamma
        var returns = Matrix(rows: rewards.count, columns: 1)
        var running = 0.0
        for t in 0..<rewards.count {
            running = gamma * running + rewards[t]
            returns.storage[t] = running
            if ends[t] != .none { running = 0 }
        }
        var statistics = state.returnStatistics ?? RunningNormalizer(size: 1)
        statistics.update(with: returns)
        state.returnStatistics = statistics
        let scale = 1 / (statistics.variance[0] + RunningNormalizer.epsilon).squareRoot()
        return rewards.map { min(max($0 * scale, -10), 10) }
    }

    /// One vine iteration: Q̂ of every branch, the vine surrogate (eq. 15 or 16) on the
    /// rollout-set states, the same TRPO step (its KL and Fisher matrix on the rollout set or
    /// the trunks, ``TrainingConfiguration/vineTrustRegion``), the value fit on the trunks, and the
    /// observation statistics updated from the rollout-set states (a uniform sample of trunk
    /// states). Timesteps count every simulator step, trunks and branches.
    ///
    /// With ``VineBootstrap/value`` a cut branch's Q̂ is its return plus γᴸ V(s_L) (γ: the
    /// vine's), V as it was when the batch was collected; then V is fitted on the trunks' GAE
    /// λ-returns exactly as single path fits it (same V before the fit, same settings). The
    /// trunks' rewards are not scaled (``TrainingConfiguration/normalizeRewards``): V must
    /// predict in the units of the branch returns it completes. With ``VineBootstrap/none``
    /// Q̂ is the plain return and V is left alone.
    /// - Throws: ``VineSurrogateError`` for a malformed batch or a non-finite Q̂ (nothing is
    ///   changed then).
    public mutating func update(vine batch: AnyVineSamples) throws(VineSurrogateError) -> IterationStatistics {
        var pending: PendingValueFit?
        let statistics = try update(vine: batch) { pending = $0 }
        return pending.map { completeUpdate($0.fit(), statistics) } ?? statistics
    }

    /// ``update(vine:)`` with its value fit handed out, as single path's
    /// (``updatePolicy(with:startValueFit:)``): with ``VineBootstrap/value`` the fit on the
    /// trunks goes to `startValueFit` before the step, and the iteration is complete once
    /// ``completeUpdate(_:_:)`` gets its result (the next batch's Q̂ needs it); with
    /// ``VineBootstrap/none`` there is no fit and the statistics are complete.
    public mutating func update(vine batch: AnyVineSamples,
                                startValueFit: (PendingValueFit) -> Void) throws(VineSurrogateError) -> IterationStatistics {
        let c = state.configuration
        switch (batch, state.policy, state.valueFunction) {
        case (.features(let batch), .dense(var policy), .dense(let value)):
            let (normalizer, head) = (state.samplingNormalizer, policy.head)
            let inputs = { (observations: Matrix) in normalizer?.normalized(observations) ?? observations }
            let statistics = try vineIteration(
                batch, policy: &policy, value: value, cutStates: inputs(batch.cutObservationMatrix),
                trunkStates: { (inputs(batch.trunks.observationMatrix), inputs(batch.trunks.bootstrapObservationMatrix)) },
                fit: { .dense(value, $0) }, startValueFit: startValueFit
            ) { (qValues, trunks) throws(VineSurrogateError) in
                try VineSurrogate(batch, normalizer: normalizer, head: head, qValues: qValues,
                                  trustRegion: c.vineTrustRegion, normalizedTrunks: trunks)
            }
            state.policy = .dense(policy)
            if c.normalizeObservations { state.normalizer.update(with: batch.observationMatrix) }
            return statistics
        case (.frames(let batch), .convolutional(var policy), .convolutional(let value)):
            let (shape, head) = (policy.network.architecture.input, policy.head)
            guard shape.count == batch.observationSize else { throw .shape("frames of \(batch.observationSize) values, the network takes \(shape)") }
            let statistics = try vineIteration(
                batch, policy: &policy, value: value, cutStates: batch.cutFrames(shape: shape),
                trunkStates: { (batch.trunks.frames(shape: shape), batch.trunks.bootstrapFrames(shape: shape)) },
                fit: { .convolutional(value, $0) }, startValueFit: startValueFit
            ) { (qValues, _) throws(VineSurrogateError) in
                try VineSurrogate(batch, shape: shape, head: head, qValues: qValues, trustRegion: c.vineTrustRegion)
            }
            state.policy = .convolutional(policy)
            return statistics
        default:
            preconditionFailure("a vine chunk's observations do not fit the run's policy (IterationBatch.misfit refuses them)")
        }
    }

    /// The vine iteration on either trunk: Q̂ (bootstrapped with V on `cutStates`, the cut
    /// branches' end states, when the run bootstraps, and then V's fit on the trunks'
    /// λ-returns handed to `startValueFit`), the surrogate `makeSurrogate` builds from Q̂ (and
    /// the trunks' states, when computed), and the TRPO step. Counts the iteration; the caller
    /// stores the policy.
    private mutating func vineIteration<Observation, Network: PolicyNetwork, Value: ValueNetwork>(
        _ batch: VineSamples<Observation>, policy: inout StochasticPolicy<Network>, value: StateValueFunction<Value>,
        cutStates: @autoclosure () -> Network.Input, trunkStates: () -> (states: Network.Input, bootstrap: Network.Input),
        fit: (Network.Input) -> PendingValueFit.Fit, startValueFit: (PendingValueFit) -> Void,
        makeSurrogate: ([Double], Network.Input?) throws(VineSurrogateError) -> VineSurrogate<Network.Input>
    ) throws(VineSurrogateError) -> IterationStatistics where Value.Input == Network.Input {
        let c = state.configuration
        var qValues = batch.branchReturns
        var trunkInputs: Network.Input?
        var pending: PendingValueFit?
        if c.vineBootstrap == .value {
            guard batch.isConsistent, batch.trunks.count > 0 else { throw .inconsistentBatch }
            qValues = try batch.qValues(gamma: c.vine.gamma, cutValues: value.predict(cutStates(), precision: c.valueFit.precision))
            let trunks = trunkStates()
            let estimates = advantageEstimates(batch.trunks, value: value, states: trunks.states, bootstrapStates: trunks.bootstrap,
                                               rewards: batch.trunks.rewards)
            trunkInputs = trunks.states
            pending = PendingValueFit(iteration: state.iteration + 1, subject: fit(trunks.states), random: state.valueRandom,
                                      targets: estimates.returns, predictions: estimates.values, configuration: c.valueFit)
        }
        let surrogate = try makeSurrogate(qValues, trunkInputs)
        pending.map(startValueFit)
        let trpo = c.trpoConfiguration(afterSteps: state.timesteps)
        var policyStep = TRPOStepReport()
        let policySeconds = ContinuousClock().measure {
            policyStep = policy.vineStep(surrogate, configuration: trpo, random: &state.random)
        }
        state.iteration += 1
        state.timesteps += batch.simulatorSteps
        return IterationStatistics(iteration: state.iteration, timesteps: state.timesteps, samples: batch.branchCount,
                                   episodeReturns: batch.episodeReturns, episodeLengths: batch.episodeLengths,
                                   policyStep: policyStep, maxKL: trpo.maxKL, valueFit: ValueFitReport(),
                                   policySeconds: policySeconds.seconds, valueSeconds: 0,
                                   policyStd: Self.meanStandardDeviation(logStd: policy.logStd),
                                   vine: VineIterationStatistics(batch, qValues: qValues))
    }

    /// Mean standard deviation of a Gaussian policy (NaN for a categorical one).
    var policyStandardDeviation: Double { Self.meanStandardDeviation(logStd: state.policy.logStd) }

    /// Mean of exp(log-std) (NaN when there is none).
    static func meanStandardDeviation(logStd: [Double]) -> Double {
        logStd.isEmpty ? .nan : logStd.reduce(0) { $0 + exp($1) } / Double(logStd.count)
    }

    /// Adds wall time spent outside ``update(with:)`` bookkeeping (kept across resumes).
    public mutating func recordWallTime(_ seconds: Double) { state.wallSeconds = seconds }

    /// Records the run's new best evaluation (the caller has checked it improves on the last).
    public mutating func recordBestEvaluation(_ best: BestEvaluation) { state.bestEvaluation = best }
}

/// The value fit of an iteration (``Trainer/updatePolicy(with:startValueFit:)``): everything
/// it reads, so it can run on any thread.
public struct PendingValueFit: Sendable {
    /// The value function as the batch was collected and the states it is fitted on: the
    /// batch's observations as it sees them (normalised with the statistics the batch was
    /// collected with, or frames), one per target.
    enum Fit: Sendable {
        case dense(ValueFunction, Matrix)
        case convolutional(ConvolutionalValueFunction, FrameBatch)
    }

    /// The iteration it completes.
    public let iteration: Int
    fileprivate let subject: Fit
    fileprivate let random: RandomStream
    /// GAE returns, one per row.
    fileprivate let targets: [Double]
    /// The value function's predictions on the states (GAE's), one per row.
    fileprivate let predictions: [Double]
    fileprivate let configuration: ValueFitConfiguration

    /// Fits the value function to the returns.
    public func fit() -> FittedValue {
        var random = random
        let started = ContinuousClock.now
        let (valueFunction, report): (AnyValueFunction, ValueFitReport)
        switch subject {
        case .dense(var value, let states):
            let report_ = value.fit(states, targets: targets, predictions: predictions, configuration: configuration, random: &random)
            (valueFunction, report) = (.dense(value), report_)
        case .convolutional(var value, let states):
            let report_ = value.fit(states, targets: targets, predictions: predictions, configuration: configuration, random: &random)
            (valueFunction, report) = (.convolutional(value), report_)
        }
        return FittedValue(iteration: iteration, valueFunction: valueFunction, random: random, report: report,
                           seconds: (ContinuousClock.now - started).seconds)
    }
}

/// A finished value fit, for ``Trainer/completeUpdate(_:_:)``.
public struct FittedValue: Sendable {
    /// The iteration it completes.
    public let iteration: Int
    fileprivate let valueFunction: AnyValueFunction
    fileprivate let random: RandomStream
    fileprivate let report: ValueFitReport
    /// Seconds the fit took.
    public let seconds: Double
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

extension TrainerState {
    /// The observation statistics a policy of this state sees its observations through: the
    /// saved statistics, or nil when the run does not normalise observations or its policy
    /// reads frames.
    public var samplingNormalizer: RunningNormalizer? {
        guard case .dense = policy, configuration.normalizeObservations else { return nil }
        return normalizer
    }

    /// The MLP policy of a run of a built-in environment: what the Swift samplers,
    /// evaluations and videos take.
    /// - Precondition: the run's environment is built in. Its observations are feature
    ///   vectors, so ``Trainer/init(configuration:observationSize:actionSpace:)`` gives it an
    ///   MLP and ``Checkpoint/load(from:)`` refuses any other trunk; frames come only from
    ///   Python workers' environments.
    public var builtInPolicy: Policy {
        guard case .dense(let policy) = policy else { preconditionFailure("\(configuration.environment)'s policy is not an MLP") }
        return policy
    }
}
