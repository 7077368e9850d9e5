import Core
import Foundation

/// Point statistics of R gradient estimates ĝ_1 … ĝ_R against a reference gradient g_ref.
///
/// An estimate is *null* when ‖ĝ‖ ≤ ``nullTolerance`` · ‖g_ref‖: a zero gradient (for example
/// a vine on a policy whose every branch earns the same return, so every advantage is zero),
/// whose cosine to the reference is undefined.
struct EstimateMoments: Equatable {
    /// ‖ĝ‖ / ‖g_ref‖ at or below which an estimate counts as null.
    static let nullTolerance = 1e-9

    /// tr Cov(ĝ): the summed per-coordinate sample variance (divisor R − 1).
    var totalVariance: Double
    /// mean ‖ĝ − g_ref‖².
    var mse: Double
    /// ‖ḡ − g_ref‖ / ‖g_ref‖, ḡ the mean of the estimates.
    var relativeBias: Double
    /// cos(ḡ, g_ref); NaN when ḡ is null.
    var meanEstimateCosine: Double
    /// cos(ĝ_r, g_ref) of each estimate; NaN for a null one.
    var cosines: [Double]
    /// How many estimates are null.
    var nullCount: Int

    /// - Precondition: at least one estimate; every estimate has the reference's length; the
    ///   reference is not zero.
    init(_ estimates: [[Double]], reference: [Double]) {
        precondition(!estimates.isEmpty && estimates.allSatisfy { $0.count == reference.count })
        let referenceNorm = dot(reference, reference).squareRoot()
        precondition(referenceNorm > 0, "the reference gradient is zero")
        let r = Double(estimates.count)
        let mean = Self.mean(estimates)
        func cosine(_ g: [Double]) -> Double {
            let norm = dot(g, g).squareRoot()
            return norm <= Self.nullTolerance * referenceNorm ? .nan : dot(g, reference) / (norm * referenceNorm)
        }
        var totalVariance = 0.0, mse = 0.0
        for e in estimates {
            for i in e.indices {
                totalVariance += (e[i] - mean[i]) * (e[i] - mean[i])
                mse += (e[i] - reference[i]) * (e[i] - reference[i])
            }
        }
        var bias = mean
        axpy(-1, reference, &bias)
        self.totalVariance = totalVariance / max(1, r - 1)
        self.mse = mse / r
        relativeBias = dot(bias, bias).squareRoot() / referenceNorm
        meanEstimateCosine = cosine(mean)
        cosines = estimates.map(cosine)
        nullCount = cosines.count { $0.isNaN }
    }

    /// ḡ, the element-wise mean of equal-length estimates (at least one).
    static func mean(_ estimates: [[Double]]) -> [Double] {
        var mean = [Double](repeating: 0, count: estimates[0].count)
        for e in estimates { axpy(1 / Double(estimates.count), e, &mean) }
        return mean
    }

    /// The mean of ``cosines`` and its standard error; nil when some estimate is null.
    var cosineMean: (mean: Double, standardError: Double)? {
        guard nullCount == 0 else { return nil }
        let r = Double(cosines.count)
        let mean = cosines.reduce(0, +) / r
        let variance = cosines.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, r - 1)
        return (mean, (variance / r).squareRoot())
    }
}

/// The 95 % percentile interval of `values` ([the 2.5th, the 97.5th percentile]), NaNs left
/// out; nil when nothing is left.
func percentileInterval95(_ values: [Double]) -> [Double]? {
    let sorted = values.filter { !$0.isNaN }.sorted()
    guard !sorted.isEmpty else { return nil }
    let n = Double(sorted.count)
    return [sorted[Int(0.025 * n)], sorted[max(0, Int(0.975 * n) - 1)]]
}

/// What R estimates of one estimator cost and gave, before any statistics.
struct EstimatorSample {
    var estimator: GradientEstimatorKind
    var estimates: [[Double]]
    /// Q-value samples behind each estimate (rows for single path, N·K branches for the vine).
    var qSamples: [Int]
    /// Simulator steps of each estimate (trunks and branches for the vine).
    var simulatorSteps: [Int]
    /// Wall seconds per estimate (collection and gradient).
    var wallSeconds: Double
}

/// The statistics of one estimator over the replicates: a row of `variance.csv` and an
/// object of `variance.json` (docs/variance.md defines every field).
public struct EstimatorStatistics: Sendable, Codable, Equatable {
    public var estimator: String
    public var replicates: Int
    /// Why the estimator's figures cannot be read as usual (nil: they can): some or all of
    /// its estimates are zero gradients (see ``nullEstimates``).
    public var degenerate: String?
    /// Estimates with ‖ĝ‖ ≤ 10⁻⁹ ‖g_ref‖.
    public var nullEstimates: Int
    /// tr Cov(ĝ): the summed per-coordinate sample variance of the R estimates.
    public var totalVariance: Double
    /// Q-value samples per estimate (rows for single path, N·K branches for the vine).
    public var qSamples: Double
    /// totalVariance × qSamples: the variance one Q-value sample would carry if an estimate
    /// were the mean of qSamples independent ones.
    public var variancePerQSample: Double
    /// mean ‖ĝ − g_ref‖².
    public var mse: Double
    /// ‖ḡ − g_ref‖ / ‖g_ref‖, ḡ the mean estimate.
    public var relativeBias: Double
    /// What ``relativeBias`` would be on average from noise alone, for an unbiased estimator:
    /// √(tr Cov(ĝ)/R + tr Cov(g_ref)) / ‖g_ref‖, with tr Cov(g_ref) = single path's total
    /// variance over the reference's multiple of the budget.
    public var relativeBiasNoiseFloor: Double
    /// cos(ḡ, g_ref); nil when ḡ is a zero gradient.
    public var meanEstimateCosine: Double?
    /// The mean of cos(ĝ_r, g_ref) over the estimates and its standard error; nil when some
    /// estimate is null (its cosine is undefined).
    public var cosineMean: Double?
    public var cosineStandardError: Double?
    /// The budget of simulator steps per estimate, and the relative tolerance it is met within.
    public var budget: Int
    public var budgetTolerance: Double
    /// Simulator steps per estimate: mean, least and most over the replicates.
    public var simSteps: Double
    public var simStepsMin: Int
    public var simStepsMax: Int
    /// simSteps / budget − 1.
    public var budgetDeviation: Double
    /// Whether |budgetDeviation| ≤ budgetTolerance.
    public var withinBudgetTolerance: Bool
    /// Wall seconds per estimate.
    public var wallSeconds: Double
    /// 95 % percentile-bootstrap intervals over the replicates ([low, high]; 1,000 resamples,
    /// seeded; the reference held fixed). nil where the statistic is undefined in every resample.
    public var totalVarianceInterval: [Double]
    public var variancePerQSampleInterval: [Double]
    public var mseInterval: [Double]
    public var relativeBiasInterval: [Double]
    public var meanEstimateCosineInterval: [Double]?

    enum CodingKeys: String, CodingKey {
        case estimator, replicates, degenerate, budget, mse
        case nullEstimates = "null_estimates", totalVariance = "total_variance", qSamples = "q_samples"
        case variancePerQSample = "variance_per_q_sample", relativeBias = "relative_bias"
        case relativeBiasNoiseFloor = "relative_bias_noise_floor", meanEstimateCosine = "mean_estimate_cosine"
        case cosineMean = "cosine_mean", cosineStandardError = "cosine_standard_error"
        case budgetTolerance = "budget_tolerance", simSteps = "sim_steps", simStepsMin = "sim_steps_min"
        case simStepsMax = "sim_steps_max", budgetDeviation = "budget_deviation"
        case withinBudgetTolerance = "within_budget_tolerance", wallSeconds = "wall_seconds"
        case totalVarianceInterval = "total_variance_ci95", variancePerQSampleInterval = "variance_per_q_sample_ci95"
        case mseInterval = "mse_ci95", relativeBiasInterval = "relative_bias_ci95"
        case meanEstimateCosineInterval = "mean_estimate_cosine_ci95"
    }

    /// The statistics of `sample` against `reference`.
    /// - Parameters:
    ///   - referenceVariance: tr Cov(g_ref), for ``relativeBiasNoiseFloor``.
    ///   - budget: the step budget the sample's estimates were sized for.
    /// - Precondition: as for ``EstimateMoments``; at least two estimates.
    init(_ sample: EstimatorSample, reference: [Double], referenceVariance: Double, budget: StepBudget) {
        let estimates = sample.estimates
        precondition(estimates.count >= 2 && sample.simulatorSteps.count == estimates.count
                     && sample.qSamples.count == estimates.count)
        let point = EstimateMoments(estimates, reference: reference)
        var random = RandomStream(seed: 0xB007, path: [UInt64(estimates.count)])
        var resampled: [EstimateMoments] = []
        for _ in 0..<1000 {
            let resample = (0..<estimates.count).map { _ in estimates[random.index(below: estimates.count)] }
            resampled.append(EstimateMoments(resample, reference: reference))
        }
        func interval(_ statistic: (EstimateMoments) -> Double) -> [Double]? { percentileInterval95(resampled.map(statistic)) }
        let r = Double(estimates.count), q = Double(sample.qSamples.reduce(0, +)) / r
        let steps = Double(sample.simulatorSteps.reduce(0, +)) / r
        let referenceNorm = dot(reference, reference).squareRoot()
        estimator = sample.estimator.rawValue
        replicates = estimates.count
        nullEstimates = point.nullCount
        degenerate = point.nullCount == 0 ? nil
            : "zero gradient in \(point.nullCount) of \(estimates.count) estimates (cosine undefined)"
        totalVariance = point.totalVariance
        qSamples = q
        variancePerQSample = point.totalVariance * q
        mse = point.mse
        relativeBias = point.relativeBias
        relativeBiasNoiseFloor = (point.totalVariance / r + referenceVariance).squareRoot() / referenceNorm
        meanEstimateCosine = point.meanEstimateCosine.isNaN ? nil : point.meanEstimateCosine
        cosineMean = point.cosineMean?.mean
        cosineStandardError = point.cosineMean?.standardError
        self.budget = budget.steps
        budgetTolerance = budget.tolerance
        simSteps = steps
        simStepsMin = sample.simulatorSteps.min()!
        simStepsMax = sample.simulatorSteps.max()!
        budgetDeviation = budget.deviation(steps)
        withinBudgetTolerance = budget.admits(steps)
        wallSeconds = sample.wallSeconds
        // Total variance, MSE and bias are finite in every resample.
        totalVarianceInterval = interval(\.totalVariance)!
        variancePerQSampleInterval = totalVarianceInterval.map { $0 * q }
        mseInterval = interval(\.mse)!
        relativeBiasInterval = interval(\.relativeBias)!
        meanEstimateCosineInterval = interval(\.meanEstimateCosine)
    }

    /// One line for standard output: the figures, the budget met, and the degenerate flag.
    public var summary: String {
        func g(_ x: Double) -> String { String(format: "%.4g", x) }
        func ci(_ i: [Double]?) -> String { i.map { " [\(g($0[0])), \(g($0[1]))]" } ?? "" }
        let cosine = cosineMean.map { String(format: "%.3f ± %.3f", $0, cosineStandardError!) } ?? "undefined"
        let meanCosine = meanEstimateCosine.map { String(format: "%.3f", $0) } ?? "undefined"
        var line = "\(estimator): total variance \(g(totalVariance))\(ci(totalVarianceInterval)), "
            + "per Q-sample \(g(variancePerQSample))\(ci(variancePerQSampleInterval)) (\(Int(qSamples)) Q-samples), "
            + "relative bias \(g(relativeBias))\(ci(relativeBiasInterval)) (noise floor \(g(relativeBiasNoiseFloor))), "
            + "cos(mean, ref) \(meanCosine)\(ci(meanEstimateCosineInterval)), mean cosine \(cosine), "
            + String(format: "%.0f steps per estimate (%d–%d, %+.2f %% of the budget, ±%g %% allowed%@)",
                     simSteps, simStepsMin, simStepsMax, 100 * budgetDeviation, 100 * budgetTolerance,
                     withinBudgetTolerance ? "" : ": OUTSIDE")
        if let degenerate { line += "; DEGENERATE: \(degenerate)" }
        return line
    }
}
