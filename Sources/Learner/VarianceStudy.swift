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

/// The statistics of one estimator over the replicates (the fields of `variance.json`).
public struct EstimatorStatistics: Sendable, Codable {
    public var estimator: String
    /// tr Cov(ĝ): the summed per-coordinate variance of the R estimates.
    public var totalVariance: Double
    /// mean ‖ĝ − g_ref‖².
    public var mse: Double
    /// mean cos(ĝ, g_ref).
    public var cosineMean: Double
    /// Standard error of ``cosineMean``.
    public var cosineStandardError: Double
    /// totalVariance × q_samples: the variance one Q-value sample would carry.
    public var variancePerQSample: Double
    /// Q-value samples per estimate (rows for single path, N·K branches for the vine).
    public var qSamples: Double
    /// Simulator steps per estimate.
    public var simSteps: Double
    /// Wall seconds per estimate.
    public var wallSeconds: Double
    public var replicates: Int
    /// 95 % percentile-bootstrap intervals (1,000 resamples of the replicates, seeded) of
    /// ``totalVariance``, ``mse`` and ``variancePerQSample``.
    public var totalVarianceInterval: [Double]
    public var mseInterval: [Double]
    public var variancePerQSampleInterval: [Double]

    enum CodingKeys: String, CodingKey {
        case estimator, replicates
        case totalVarianceInterval = "total_variance_ci95", mseInterval = "mse_ci95"
        case variancePerQSampleInterval = "variance_per_q_sample_ci95"
        case totalVariance = "total_variance", mse, cosineMean = "cosine_mean", cosineStandardError = "cosine_standard_error"
        case variancePerQSample = "variance_per_q_sample", qSamples = "q_samples", simSteps = "sim_steps"
        case wallSeconds = "wall_seconds"
    }
}

/// Estimates the policy gradient many times at a fixed policy with single path and with the
/// vine (with and without common random numbers) at equal simulator-step budgets, and compares
/// each estimator with a reference gradient from a much larger single-path budget — the
/// comparison of the paper's §5.2 claim (lower variance per Q-value sample, at the price of
/// more simulator calls).
public struct VarianceStudy {
    public var configuration: TrainingConfiguration
    public var policy: Policy
    public var normalizer: RunningNormalizer?
    public var valueFunction: ValueFunction
    /// Simulator steps per estimate.
    public var budget: Int
    /// Multiple of ``budget`` for the reference gradient.
    public var referenceMultiple = 20

    public init(configuration: TrainingConfiguration, policy: Policy, normalizer: RunningNormalizer?,
                valueFunction: ValueFunction, budget: Int) {
        self.configuration = configuration
        self.policy = policy
        self.normalizer = normalizer
        self.valueFunction = valueFunction
        self.budget = budget
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
            SamplingTask(stream: 3_000_000 + UInt64($0), sampling: .singlePath, count: budget)
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


    /// The vine estimate of a collection (eq. 15 or 16).
    func vineGradient(_ batch: VineBatch) throws -> (gradient: [Double], qSamples: Int, simSteps: Int) {
        let surrogate = try VineSurrogate(batch, normalizer: normalizer, head: policy.head)
        return (policy.surrogateGradient(surrogate), batch.branchCount, batch.simulatorSteps)
    }

    /// Vine settings whose collections cost about ``budget`` simulator steps: trunks of
    /// budget / (4 E) steps per copy, and as many rollout-set states as the remaining budget
    /// pays for at the branch length a pilot collection measures.
    func vineSettings(crn: Bool, farm: SamplingFarm?) throws -> VineSettings {
        let copies = configuration.environmentsPerSampler
        var s = configuration.vine
        s.gamma = configuration.gamma
        s.commonRandomNumbers = crn
        s.trunkSteps = max(1, budget / (4 * copies))
        s.rolloutStates = max(1, min(copies * s.trunkSteps, 16))
        let pilot = try gradient(collect([VarianceStudy.task(replicate: 999_999, settings: s)], farm: farm)[0])
        let stepsPerBranch = Double(pilot.simSteps - copies * s.trunkSteps) / Double(max(1, pilot.qSamples))
        let k = Double(pilot.qSamples) / Double(s.rolloutStates)
        let affordable = Double(budget - copies * s.trunkSteps) / max(1, stepsPerBranch * k)
        s.rolloutStates = max(2, min(copies * s.trunkSteps, Int(affordable)))
        return s
    }

    /// Runs the study: `replicates` estimates per estimator and the reference.
    /// - Parameters:
    ///   - farm: workers to collect every batch on (the reference's, the vine's pilot and the
    ///     replicates'; nil: in this process). The results are the same either way.
    ///   - progress: called with a line per finished estimator.
    public func run(replicates: Int, farm: SamplingFarm? = nil,
                    progress: (String) -> Void) throws -> (reference: [Double], statistics: [EstimatorStatistics]) {
        let clock = ContinuousClock()
        let reference = try referenceGradient(farm: farm)
        progress("reference gradient: single path, \(budget * referenceMultiple) steps, ‖g‖ = \(String(format: "%.4g", dot(reference, reference).squareRoot()))")
        var results: [EstimatorStatistics] = []
        for kind in GradientEstimatorKind.allCases {
            let settings = kind == .singlePath ? nil : try vineSettings(crn: kind == .vineCRN, farm: farm)
            let tasks = (0..<replicates).map { r in
                settings.map { VarianceStudy.task(replicate: UInt64(r), settings: $0) }
                    ?? VarianceStudy.task(replicate: UInt64(r), steps: budget)
            }
            var estimates = [[Double]](repeating: [], count: replicates)
            var q = 0.0, steps = 0.0
            let start = clock.now
            let estimate = { (r: Int, batch: IterationBatch) throws in
                let e = try self.gradient(batch)
                estimates[r] = e.gradient
                q += Double(e.qSamples)
                steps += Double(e.simSteps)
            }
            if let farm {
                try farm.run(tasks, completed: estimate)
            } else {
                for (r, task) in tasks.enumerated() { try estimate(r, collect(task)) }
            }
            let wall = (clock.now - start).seconds / Double(replicates)
            let statistics = VarianceStudy.statistics(kind.rawValue, estimates: estimates, reference: reference,
                                                      qSamples: q / Double(replicates), simSteps: steps / Double(replicates),
                                                      wallSeconds: wall)
            results.append(statistics)
            progress(String(format: "%@: total variance %.4g, MSE %.4g, cosine %.3f ± %.3f, %.0f Q-samples, %.0f steps",
                            kind.rawValue, statistics.totalVariance, statistics.mse, statistics.cosineMean,
                            statistics.cosineStandardError, statistics.qSamples, statistics.simSteps))
        }
        return (reference, results)
    }

    static func statistics(_ name: String, estimates: [[Double]], reference: [Double], qSamples: Double, simSteps: Double,
                           wallSeconds: Double) -> EstimatorStatistics {
        let point = moments(estimates, reference: reference)
        // Percentile bootstrap over the replicates.
        var random = RandomStream(seed: 0xB007, path: [UInt64(estimates.count)])
        var variances: [Double] = [], errors: [Double] = []
        for _ in 0..<1000 {
            let resample = (0..<estimates.count).map { _ in estimates[random.index(below: estimates.count)] }
            let m = moments(resample, reference: reference)
            variances.append(m.totalVariance)
            errors.append(m.mse)
        }
        func interval(_ values: [Double]) -> [Double] {
            let sorted = values.sorted()
            return [sorted[Int(0.025 * Double(sorted.count))], sorted[Int(0.975 * Double(sorted.count)) - 1]]
        }
        let varianceInterval = interval(variances)
        return EstimatorStatistics(estimator: name, totalVariance: point.totalVariance, mse: point.mse,
                                   cosineMean: point.cosineMean, cosineStandardError: point.cosineStandardError,
                                   variancePerQSample: point.totalVariance * qSamples, qSamples: qSamples, simSteps: simSteps,
                                   wallSeconds: wallSeconds, replicates: estimates.count,
                                   totalVarianceInterval: varianceInterval, mseInterval: interval(errors),
                                   variancePerQSampleInterval: varianceInterval.map { $0 * qSamples })
    }

    /// Total variance, MSE against the reference, and the mean cosine with its standard error.
    static func moments(_ estimates: [[Double]], reference: [Double])
        -> (totalVariance: Double, mse: Double, cosineMean: Double, cosineStandardError: Double) {
        let r = Double(estimates.count)
        let p = reference.count
        var mean = [Double](repeating: 0, count: p)
        for e in estimates { axpy(1 / r, e, &mean) }
        var totalVariance = 0.0, mse = 0.0
        var cosines: [Double] = []
        let referenceNorm = dot(reference, reference).squareRoot()
        for e in estimates {
            for i in 0..<p {
                totalVariance += (e[i] - mean[i]) * (e[i] - mean[i])
                mse += (e[i] - reference[i]) * (e[i] - reference[i])
            }
            cosines.append(dot(e, reference) / max(dot(e, e).squareRoot() * referenceNorm, .leastNormalMagnitude))
        }
        totalVariance /= max(1, r - 1)
        mse /= r
        let cosineMean = cosines.reduce(0, +) / r
        let cosineVariance = cosines.reduce(0) { $0 + ($1 - cosineMean) * ($1 - cosineMean) } / max(1, r - 1)
        return (totalVariance, mse, cosineMean, (cosineVariance / r).squareRoot())
    }
}
