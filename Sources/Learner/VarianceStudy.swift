import Core
import Foundation
import Protocol
import Simulators
import Sampling

/// One policy-gradient estimator of the variance study.
public enum GradientEstimatorKind: String, Sendable, Codable, CaseIterable {
    /// Single path with GAE(γ, λ) advantages from the value function (not normalised).
    case singlePath = "single_path"
    /// Vine with independent noise per branch (eq. 15 or 16).
    case vine
    /// Vine with common random numbers across a state's branches.
    case vineCRN = "vine_crn"
}

/// Estimates the policy gradient many times at a fixed policy with single path and with the
/// vine (with and without common random numbers) at equal simulator-step budgets, and compares
/// each estimator with a reference gradient from a much larger single-path budget — the
/// comparison of the paper's §5.2 claim (lower variance per Q-value sample, at the price of
/// more simulator calls). docs/variance.md defines every figure it reports.
public struct VarianceStudy {
    public var configuration: TrainingConfiguration
    public var policy: Policy
    public var normalizer: RunningNormalizer?
    public var valueFunction: ValueFunction
    /// Simulator steps per estimate, and the tolerance every estimator meets them within.
    public var budget: StepBudget
    /// Multiple of ``budget`` for the reference gradient.
    public var referenceMultiple = 20

    public init(configuration: TrainingConfiguration, policy: Policy, normalizer: RunningNormalizer?,
                valueFunction: ValueFunction, budget: StepBudget) {
        self.configuration = configuration
        self.policy = policy
        self.normalizer = normalizer
        self.valueFunction = valueFunction
        self.budget = budget
    }

    /// A study of a run's networks, which must be MLPs: the estimators compared sample
    /// feature vectors (single path and the vine alike).
    /// - Throws: ``ConfigurationError`` for a convolutional policy.
    public init(configuration: TrainingConfiguration, policy: AnyPolicy, normalizer: RunningNormalizer?,
                valueFunction: AnyValueFunction, budget: StepBudget) throws(ConfigurationError) {
        guard case .dense(let policy) = policy, case .dense(let valueFunction) = valueFunction else {
            throw ConfigurationError(message: "trpo variance studies MLP policies on feature vectors; \(configuration.environment)'s policy reads frames")
        }
        self.init(configuration: configuration, policy: policy, normalizer: normalizer, valueFunction: valueFunction, budget: budget)
    }

    func simulators() throws -> [any Simulator] {
        try (0..<configuration.environmentsPerSampler).map { _ in
            try EnvironmentRegistry.make(configuration.environment, modelXML: configuration.modelXML)
        }
    }

    /// The collection of one estimate: single path, `steps` rows on stream 1 000 000 +
    /// `replicate`; vine, one collection with `settings` on stream 2 000 000 + `replicate`.
    /// Every sampler is fresh, so the batch depends only on (seed, stream), not on where it is
    /// collected.
    static func task(replicate: UInt64, steps: Int) -> SamplingTask {
        SamplingTask(stream: 1_000_000 + replicate, sampling: .singlePath, count: steps)
    }

    static func task(replicate: UInt64, settings: VineSettings) -> SamplingTask {
        SamplingTask(stream: 2_000_000 + replicate, sampling: .vine(settings), count: settings.rolloutStates)
    }

    /// The tasks' collections, in order: on `farm`'s workers, or in this process without one
    /// (the same batches either way).
    func collect(_ tasks: [SamplingTask], farm: SamplingFarm?) throws -> [IterationBatch] {
        guard let farm else { return try tasks.map(collect) }
        var batches = [IterationBatch?](repeating: nil, count: tasks.count)
        try farm.run(tasks) { index, batch in batches[index] = batch }
        return batches.map { $0! }  // the farm completes every task
    }

    /// The reference gradient: single path over ``referenceMultiple`` collections of
    /// ``budget`` steps (streams 3 000 000 + k), taken as one batch. In pieces so that each
    /// travels in one chunk when a farm collects them.
    func referenceGradient(farm: SamplingFarm?) throws -> [Double] {
        let tasks = (0..<referenceMultiple).map {
            SamplingTask(stream: 3_000_000 + UInt64($0), sampling: .singlePath, count: budget.steps)
        }
        var rows: SampleBatch?
        for case .singlePath(let batch) in try collect(tasks, farm: farm) {
            if rows == nil { rows = batch } else { rows!.append(batch) }
        }
        return singlePathGradient(rows!).gradient
    }

    /// Makes a task's collection in this process.
    func collect(_ task: SamplingTask) throws -> IterationBatch {
        switch task.sampling {
        case .singlePath:
            let sampler = SinglePathSampler(simulators: try simulators(), policy: policy, normalizer: normalizer,
                                            seed: configuration.seed, stream: task.stream)
            return .singlePath(sampler.collect(steps: task.count))
        case .vine(let settings):
            let sampler = VineSampler(simulators: try simulators(), policy: policy, normalizer: normalizer,
                                      seed: configuration.seed, stream: task.stream, settings: settings)
            return .vine(sampler.collect(states: task.count, abandonIf: nil)!)
        }
    }

    /// The parameters a ``SamplingFarm`` sends with every task: this study's environment,
    /// seed, simulator count, policy and normaliser.
    public var farmTemplate: Message.Parameters {
        Message.Parameters(session: 0, version: 0, seed: configuration.seed, environmentID: configuration.environment,
                           simulatorCount: configuration.environmentsPerSampler, chunkSteps: 1, quota: 0, policy: policy,
                           normalizer: normalizer)
    }

    /// One estimate from a collected batch.
    func gradient(_ batch: IterationBatch) throws -> (gradient: [Double], qSamples: Int, simSteps: Int) {
        switch batch {
        case .singlePath(let rows): singlePathGradient(rows)
        case .vine(let collection): try vineGradient(collection)
        case .frames, .frameVine: preconditionFailure("a variance study's policy is dense, so its tasks refuse frames (IterationBatch.misfit)")
        }
    }

    /// The single-path estimate of a batch: GAE(γ, λ) advantages from the value function.
    func singlePathGradient(_ batch: SampleBatch) -> (gradient: [Double], qSamples: Int, simSteps: Int) {
        let observations = normalizer.map { $0.normalized(batch.observationMatrix) } ?? batch.observationMatrix
        let bootstrap = normalizer.map { $0.normalized(batch.bootstrapObservationMatrix) } ?? batch.bootstrapObservationMatrix
        var bootstrapValues = [Double](repeating: 0, count: batch.count)
        for (k, v) in valueFunction.predict(bootstrap).enumerated() { bootstrapValues[batch.bootstrapRows[k]] = v }
        let gae = generalizedAdvantages(rewards: batch.rewards, values: valueFunction.predict(observations),
                                        bootstrapValues: bootstrapValues, ends: batch.ends,
                                        gamma: configuration.gamma, lambda: configuration.lambda)
        let policyBatch = PolicyBatch(observations: observations, actions: batch.actionMatrix, advantages: gae.advantages)
        let gradient = policy.surrogateGradient(policyBatch, tape: policy.network.forward(observations))
        return (gradient, batch.count, batch.count)
    }


    /// The vine estimate of a collection (eq. 15 or 16), with Q̂ as the configuration's
    /// ``TrainingConfiguration/vineBootstrap`` completes it (with the study's value function).
    func vineGradient(_ batch: VineBatch) throws -> (gradient: [Double], qSamples: Int, simSteps: Int) {
        let q = try batch.qValues(gamma: configuration.gamma,
                                  cutValues: configuration.vineBootstrap == .value ? cutValues(batch) : nil)
        return (try vineGradient(batch, qValues: q), batch.branchCount, batch.simulatorSteps)
    }

    /// Pilot collections per calibration round of ``calibrateVine(crn:farm:)``, and its rounds.
    static let (pilotsPerRound, calibrationRounds) = (4, 2)

    /// Vine settings sized to ``budget``, and the branch cost per state measured on the way.
    ///
    /// A small pilot collection measures b, what one rollout-set state's K branches cost;
    /// then each round sizes the rollout set and trunks with
    /// ``StepBudget/vineSize(copies:branchStepsPerState:)`` from b pooled over every pilot so
    /// far and makes ``pilotsPerRound`` pilot collections at that size. The settings returned
    /// are sized from b pooled over all of them. Pilots use the streams of replicates 999 999,
    /// 999 998, … (so replicates must stay below 999 990 to be independent of them).
    /// - Throws: ``VarianceStudyError/budgetTooSmall(budget:branchStepsPerState:copies:)``.
    func calibrateVine(crn: Bool, farm: SamplingFarm?) throws -> (settings: VineSettings, cost: BranchCost) {
        let copies = configuration.environmentsPerSampler
        var s = configuration.vine
        s.gamma = configuration.gamma
        s.commonRandomNumbers = crn
        s.trunkSteps = max(1, budget.steps / (4 * copies))
        s.rolloutStates = max(1, min(copies * s.trunkSteps, 16))
        var cost = BranchCost()
        var pilotCount: UInt64 = 0
        func pilots(_ count: Int) throws {
            let tasks = (0..<count).map { _ in
                pilotCount += 1
                return VarianceStudy.task(replicate: 1_000_000 - pilotCount, settings: s)
            }
            for batch in try collect(tasks, farm: farm) { cost.add(batch) }
        }
        func resize() throws {
            let size = try budget.vineSize(copies: copies, branchStepsPerState: cost.perState).get()
            (s.trunkSteps, s.rolloutStates) = (size.trunkSteps, size.rolloutStates)
        }
        try pilots(1)
        for _ in 0..<VarianceStudy.calibrationRounds {
            try resize()
            try pilots(VarianceStudy.pilotsPerRound)
        }
        try resize()
        return (s, cost)
    }

    /// Runs the study: `replicates` estimates per estimator and the reference.
    /// - Parameters:
    ///   - replicates: at least 2, below 999 990.
    ///   - farm: workers to collect every batch on (the reference's, the vine's pilots and the
    ///     replicates'; nil: in this process). The results are the same either way.
    ///   - progress: called with a line per step of the study (the figures are in the statistics).
    /// - Returns: the reference gradient, each estimator's statistics, and each estimator's
    ///   estimates (in the order of the statistics).
    /// - Throws: ``VarianceStudyError`` when the reference gradient is zero or the vine cannot
    ///   be sized to the budget; a collection's error.
    public func run(replicates: Int, farm: SamplingFarm? = nil, progress: (String) -> Void)
        throws -> (reference: [Double], statistics: [EstimatorStatistics], estimates: [[[Double]]]) {
        precondition(replicates >= 2 && replicates < 999_990)
        let reference = try referenceGradient(farm: farm)
        let referenceNorm = dot(reference, reference).squareRoot()
        let referenceSteps = budget.steps * referenceMultiple
        guard referenceNorm > 0 else { throw VarianceStudyError.zeroReference(steps: referenceSteps) }
        progress("reference gradient: single path, \(referenceSteps) steps, ‖g‖ = \(String(format: "%.4g", referenceNorm))")
        progress("budget: \(budget.steps) simulator steps per estimate ± \(formatPercent(budget.tolerance)) (mean over the replicates)")
        var samples: [EstimatorSample] = []
        for kind in GradientEstimatorKind.allCases {
            let sample = try self.sample(kind, replicates: replicates, farm: farm)
            let mean = { (counts: [Int]) in Double(counts.reduce(0, +)) / Double(replicates) }
            progress(String(format: "%@: %d estimates, %.0f Q-samples and %.0f simulator steps each, %.3f s each", kind.rawValue,
                            replicates, mean(sample.qSamples), mean(sample.simulatorSteps), sample.wallSeconds))
            samples.append(sample)
        }
        // The reference is the mean of `referenceMultiple` single-path estimates' worth of rows.
        let singlePath = samples.first { $0.estimator == .singlePath }!
        let referenceVariance = EstimateMoments(singlePath.estimates, reference: reference).totalVariance / Double(referenceMultiple)
        let statistics = samples.map {
            EstimatorStatistics($0, reference: reference, referenceVariance: referenceVariance, budget: budget)
        }
        return (reference, statistics, samples.map(\.estimates))
    }

    /// `replicates` estimates of one estimator.
    ///
    /// Single path collects exactly ``budget`` steps per estimate. The vine is sized by
    /// ``calibrateVine(crn:farm:)``; then its replicates run in order, each with the trunk
    /// length that brings the steps spent so far to (r + 1) budgets at the branch cost measured
    /// so far (``StepBudget/trunkSteps(forCost:states:branchStepsPerState:copies:nominal:)``),
    /// so the mean steps per estimate misses the budget only by the last replicate's miss of
    /// its target, over R. Every choice depends only on earlier collections, so the estimates
    /// are the same with or without a farm.
    func sample(_ kind: GradientEstimatorKind, replicates: Int, farm: SamplingFarm?) throws -> EstimatorSample {
        var sample = EstimatorSample(estimator: kind, estimates: Array(repeating: [], count: replicates),
                                     qSamples: Array(repeating: 0, count: replicates),
                                     simulatorSteps: Array(repeating: 0, count: replicates), wallSeconds: 0)
        let clock = ContinuousClock()
        var start = clock.now
        let estimate = { (r: Int, batch: IterationBatch) throws in
            let e = try self.gradient(batch)
            sample.estimates[r] = e.gradient
            sample.simulatorSteps[r] = e.simSteps
            sample.qSamples[r] = e.qSamples
        }
        if kind == .singlePath {
            let tasks = (0..<replicates).map { VarianceStudy.task(replicate: UInt64($0), steps: budget.steps) }
            if let farm {
                try farm.run(tasks, completed: estimate)
            } else {
                for (r, task) in tasks.enumerated() { try estimate(r, collect(task)) }
            }
        } else {
            var (settings, cost) = try calibrateVine(crn: kind == .vineCRN, farm: farm)
            start = clock.now
            let nominal = settings.trunkSteps
            for r in 0..<replicates {
                let spent = sample.simulatorSteps.reduce(0, +)
                settings.trunkSteps = StepBudget.trunkSteps(forCost: Double(budget.steps * (r + 1) - spent), states: settings.rolloutStates,
                                                            branchStepsPerState: cost.perState,
                                                            copies: configuration.environmentsPerSampler, nominal: nominal)
                let batch = try collect([VarianceStudy.task(replicate: UInt64(r), settings: settings)], farm: farm)[0]
                try estimate(r, batch)
                cost.add(batch)
            }
        }
        sample.wallSeconds = (clock.now - start).seconds / Double(replicates)
        return sample
    }
}

/// The vine's branch cost so far: branch steps and rollout-set states over the collections seen.
struct BranchCost {
    var steps = 0, states = 0

    mutating func add(_ batch: IterationBatch) {
        guard case .vine(let vine) = batch else { preconditionFailure("a vine task gave a single-path batch") }
        steps += vine.branchSteps
        states += vine.stateCount
    }

    /// b: branch steps per rollout-set state (the K branches together).
    var perState: Double { Double(steps) / Double(states) }
}
