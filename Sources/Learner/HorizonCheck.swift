import Core
import Foundation
import Sampling

/// How far a vine's Q̂ over T steps (plain or completed with γᴸ V(s_L)) is from Q̂ over a long
/// horizon on the same branches: the bias the branch horizon puts into the vine's gradient.
///
/// Each pair of collections shares its stream: the same trunks, rollout-set states, first
/// actions and (with common random numbers) the same action noise along each branch, so the
/// long collection's branches are the short one's continued past T. Over `collections`
/// pairs, with the Q̂ of every branch pooled:
/// - ``qCorrelation``: Pearson correlation of the short Q̂ with the long Q̂;
/// - ``centeredQCorrelation``: the same after subtracting each state's mean over its K
///   branches, which is what the vine's gradient sees (it ranks a state's actions);
/// - ``gradientCosine`` and ``gradientRelativeBias``: the mean over the pairs of the vine
///   gradient with the short Q̂ against the mean with the long Q̂ (the same states and actions),
///   cos(ḡ_T, ḡ_long) and ‖ḡ_T − ḡ_long‖ / ‖ḡ_long‖.
///
/// The study's own estimators (single path, vine, vine with CRN, the mean of each one's
/// replicates) get a row too, with only the gradient figures: their bias against the same
/// long-horizon gradient, scaled by K/(K−1) for single path when the vine uses eq. 16 (whose
/// expectation is (K−1)/K of the policy gradient; eq. 15's is the gradient itself).
public struct HorizonComparison: Sendable, Codable, Equatable {
    /// `plain` (the paper's Σ_{t<L} γᵗ r_t) or `bootstrapped` (plus γᴸ V(s_L) when cut) for the
    /// paired collections; an estimator of the study (`single_path`, `vine`, `vine_crn`) for
    /// its mean estimate.
    public var qEstimator: String
    /// T of the short branches, and of the long ones.
    public var horizon: Int
    public var longHorizon: Int
    public var collections: Int
    /// Branches per estimator, pooled over the collections.
    public var branches: Int
    /// Share of the short branches cut by T or the time limit.
    public var cutShare: Double
    /// Nil on a study estimator's row (it has no branches paired with the long ones).
    public var qCorrelation: Double?
    public var centeredQCorrelation: Double?
    public var gradientCosine: Double
    public var gradientRelativeBias: Double

    /// One line for standard output.
    public var summary: String {
        guard let qCorrelation, let centeredQCorrelation else {
            return String(format: "horizon: %@'s mean estimate against the %d-step vine gradient: cosine %.3f, relative bias %.3f",
                          qEstimator, longHorizon, gradientCosine, gradientRelativeBias)
        }
        return String(format: "horizon T = %d against %d, %@ Q̂: correlation %.3f (per-state centred %.3f), gradient cosine %.3f, "
                      + "relative bias %.3f (%d collections, %d branches, %.0f %% cut)",
                      horizon, longHorizon, qEstimator, qCorrelation, centeredQCorrelation, gradientCosine, gradientRelativeBias,
                      collections, branches, cutShare * 100)
    }

    /// `horizon.csv`: a header and one row per Q̂ estimator.
    public static func csv(_ rows: [HorizonComparison]) -> String {
        var text = "q_estimator,horizon,long_horizon,collections,branches,cut_share,q_correlation,centered_q_correlation,"
            + "gradient_cosine,gradient_relative_bias\n"
        for r in rows {
            let field = { (x: Double?) in x.map { "\($0)" } ?? "" }
            text += "\(r.qEstimator),\(r.horizon),\(r.longHorizon),\(r.collections),\(r.branches),\(r.cutShare),"
                + "\(field(r.qCorrelation)),\(field(r.centeredQCorrelation)),\(r.gradientCosine),\(r.gradientRelativeBias)\n"
        }
        return text
    }
}

/// Why the horizon check cannot run.
public enum HorizonCheckError: Error, Equatable, CustomStringConvertible {
    /// The long horizon is not longer than the vine's T.
    case notLonger(horizon: Int, longHorizon: Int)
    /// A long collection's states or actions are not its short twin's (the streams diverged).
    case collectionsDiffer(collection: Int)
    /// The long-horizon gradient is zero, so no bias relative to it is defined.
    case zeroLongHorizonGradient

    public var description: String {
        switch self {
        case .notLonger(let t, let long): "the long horizon (\(long)) must exceed the vine's T (\(t))"
        case .collectionsDiffer(let m): "long-horizon collection \(m) does not share its short twin's states and actions"
        case .zeroLongHorizonGradient: "the long-horizon vine gradient is zero: no bias relative to it is defined"
        }
    }
}

extension VarianceStudy {
    /// The horizon check at the configuration's vine settings (common random numbers on):
    /// `collections` pairs on streams 4 000 000 + m, T and `longHorizon`, compared with
    /// ``HorizonComparison``'s figures for the plain and the bootstrapped Q̂ (the latter
    /// completes a cut branch with the study's value function). The long Q̂ is completed with
    /// V only where a branch is cut by `longHorizon` or the time limit. Each of `estimates`
    /// (a study estimator's replicates) is compared with the long-horizon gradient too.
    /// - Throws: ``HorizonCheckError``; a collection's or the surrogate's error.
    public func horizonCheck(longHorizon: Int, collections: Int, farm: SamplingFarm? = nil,
                             estimates: [(estimator: GradientEstimatorKind, replicates: [[Double]])] = []) throws -> [HorizonComparison] {
        precondition(collections >= 1)
        var short = configuration.vine
        short.gamma = configuration.gamma
        short.commonRandomNumbers = true
        guard longHorizon > short.rolloutLength else {
            throw HorizonCheckError.notLonger(horizon: short.rolloutLength, longHorizon: longHorizon)
        }
        var long = short
        long.rolloutLength = longHorizon
        let streams = (0..<collections).map { 4_000_000 + UInt64($0) }
        let tasks = streams.map { SamplingTask(stream: $0, sampling: .vine(short), count: short.rolloutStates) }
            + streams.map { SamplingTask(stream: $0, sampling: .vine(long), count: long.rolloutStates) }
        let batches = try collect(tasks, farm: farm).map { batch -> VineBatch in
            guard case .vine(let vine) = batch else { preconditionFailure("a vine task gave a single-path batch") }
            return vine
        }
        let (shorts, longs) = (Array(batches[..<collections]), Array(batches[collections...]))
        for m in 0..<collections where shorts[m].observations != longs[m].observations || shorts[m].actions != longs[m].actions {
            throw HorizonCheckError.collectionsDiffer(collection: m)
        }
        let gamma = short.gamma
        let longQ = try longs.map { try $0.qValues(gamma: gamma, cutValues: cutValues($0)) }
        let longGradients = try zip(longs, longQ).map { try vineGradient($0, qValues: $1) }
        let longMean = EstimateMoments.mean(longGradients)
        guard dot(longMean, longMean) > 0 else { throw HorizonCheckError.zeroLongHorizonGradient }
        let k = short.actionsPerState
        let (longFlat, longCentered) = (longQ.flatMap { $0 }, longQ.flatMap { centeredPerState($0, actionsPerState: k) })
        let branches = shorts.reduce(0) { $0 + $1.branchCount }
        let cutShare = Double(shorts.reduce(0) { $0 + $1.cutCount }) / Double(branches)
        var rows: [HorizonComparison] = []
        for (name, bootstraps) in [("plain", false), ("bootstrapped", true)] {
            let q = try shorts.map { try $0.qValues(gamma: gamma, cutValues: bootstraps ? cutValues($0) : nil) }
            let moments = EstimateMoments(try zip(shorts, q).map { try vineGradient($0, qValues: $1) }, reference: longMean)
            rows.append(HorizonComparison(
                qEstimator: name, horizon: short.rolloutLength, longHorizon: longHorizon, collections: collections,
                branches: branches, cutShare: cutShare,
                qCorrelation: correlation(q.flatMap { $0 }, longFlat),
                centeredQCorrelation: correlation(q.flatMap { centeredPerState($0, actionsPerState: k) }, longCentered),
                gradientCosine: moments.meanEstimateCosine, gradientRelativeBias: moments.relativeBias))
        }
        // Single path estimates the gradient itself; eq. 16 estimates (K−1)/K of it.
        let singlePathScale = shorts[0].estimator == .importanceSampled && k > 1 ? Double(k) / Double(k - 1) : 1
        for (estimator, replicates) in estimates {
            let moments = EstimateMoments(replicates, reference: estimator == .singlePath ? longMean.map { $0 * singlePathScale } : longMean)
            rows.append(HorizonComparison(
                qEstimator: estimator.rawValue, horizon: short.rolloutLength, longHorizon: longHorizon, collections: collections,
                branches: branches, cutShare: cutShare, qCorrelation: nil, centeredQCorrelation: nil,
                gradientCosine: moments.meanEstimateCosine, gradientRelativeBias: moments.relativeBias))
        }
        return rows
    }

    /// V(s_L) of a collection's cut branches, with the study's normaliser and value function.
    func cutValues(_ batch: VineBatch) -> [Double] {
        let inputs = batch.cutObservationMatrix
        return valueFunction.predict(normalizer?.normalized(inputs) ?? inputs)
    }

    /// The vine gradient (eq. 15 or 16) of a collection with the given Q̂.
    func vineGradient(_ batch: VineBatch, qValues: [Double]) throws -> [Double] {
        policy.surrogateGradient(try VineSurrogate(batch, normalizer: normalizer, head: policy.head, qValues: qValues))
    }
}

/// Pearson's correlation (NaN when either side is constant).
private func correlation(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
    var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
    for (a, b) in zip(x, y) {
        sxy += (a - mx) * (b - my)
        sxx += (a - mx) * (a - mx)
        syy += (b - my) * (b - my)
    }
    return sxy / (sxx * syy).squareRoot()
}
