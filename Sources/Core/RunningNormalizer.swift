/// Running mean and variance of observations, and the clipped standardisation they define:
/// x ↦ clip((x − μ) / √(σ² + ε), −c, c).
///
/// The learner owns it: it standardises each batch with the statistics the workers used to
/// collect it, then folds the batch in (Chan et al.'s parallel update), and ships the new
/// statistics with the next parameters. It is saved in checkpoints.
public struct RunningNormalizer: Sendable, Codable, Equatable {
    public private(set) var mean: [Double]
    public private(set) var variance: [Double]
    /// √(σ² + ε) per component, kept with the variances so the sampling hot path does no
    /// square roots (not encoded: derived from ``variance``).
    private var standardDeviation: [Double] = []
    /// The (possibly fractional) number of samples folded in so far.
    public private(set) var count: Double
    /// c: standardised values are clipped to [−c, c].
    public var clip: Double
    public static let epsilon = 1e-8

    /// Identity statistics (mean 0, variance 1) with a tiny prior count, as in Baselines.
    public init(size: Int, clip: Double = 10) {
        mean = [Double](repeating: 0, count: size)
        variance = [Double](repeating: 1, count: size)
        count = 1e-4
        self.clip = clip
        standardDeviation = RunningNormalizer.standardDeviations(variance)
    }

    static func standardDeviations(_ variance: [Double]) -> [Double] {
        variance.map { ($0 + epsilon).squareRoot() }
    }

    enum CodingKeys: String, CodingKey { case mean, variance, count, clip }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mean = try c.decode([Double].self, forKey: .mean)
        variance = try c.decode([Double].self, forKey: .variance)
        count = try c.decode(Double.self, forKey: .count)
        clip = try c.decode(Double.self, forKey: .clip)
        standardDeviation = RunningNormalizer.standardDeviations(variance)
    }

    /// Statistics restored from their parts (as carried by a parameters message).
    /// - Precondition: equal lengths, finite values, non-negative variances and count, positive clip.
    public init(mean: [Double], variance: [Double], count: Double, clip: Double) {
        precondition(mean.count == variance.count && mean.allFinite && variance.allFinite
                     && variance.allSatisfy { $0 >= 0 } && count >= 0 && count.isFinite && clip > 0,
                     "normaliser statistics must be consistent and finite")
        self.mean = mean
        self.variance = variance
        self.count = count
        self.clip = clip
        standardDeviation = RunningNormalizer.standardDeviations(variance)
    }

    public var size: Int { mean.count }

    /// Folds a batch of raw observations (`[n × size]`) into the statistics.
    public mutating func update(with batch: Matrix) {
        precondition(batch.columns == size)
        let n = Double(batch.rows)
        guard batch.rows > 0 else { return }
        for j in 0..<size {
            var m = 0.0
            for i in 0..<batch.rows { m += batch[i, j] }
            m /= n
            var v = 0.0
            for i in 0..<batch.rows { let d = batch[i, j] - m; v += d * d }
            v /= n
            let total = count + n
            let delta = m - mean[j]
            let m2 = variance[j] * count + v * n + delta * delta * count * n / total
            mean[j] += delta * n / total
            variance[j] = m2 / total
        }
        count += n
        standardDeviation = RunningNormalizer.standardDeviations(variance)
    }

    /// Standardises `count` values in place.
    @inline(__always)
    public func normalize(_ x: UnsafeMutableBufferPointer<Double>) {
        for j in 0..<x.count {
            let z = (x[j] - mean[j]) / standardDeviation[j]
            x[j] = min(max(z, -clip), clip)
        }
    }

    /// A standardised copy of a batch (`[n × size]`).
    public func normalized(_ batch: Matrix) -> Matrix {
        var result = batch
        result.storage.withUnsafeMutableBufferPointer { s in
            for i in 0..<batch.rows {
                normalize(UnsafeMutableBufferPointer(rebasing: s[(i * size)..<((i + 1) * size)]))
            }
        }
        return result
    }
}
