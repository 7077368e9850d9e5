import Foundation

/// The action distribution a policy network parameterises.
///
/// For a batch of `n` states the network produces one output row per state: the logits of a
/// categorical distribution, or the means of a diagonal Gaussian whose log standard
/// deviations are a state-independent vector `r` (the paper's App. D). Every function here
/// works on whole batches: `outputs` is `[n × outputWidth]`, `actions` is `[n × actionWidth]`
/// (a discrete action is its index stored as a whole number; an entry that is not a valid
/// index — NaN, ±∞, fractional or out of range — gets a NaN log-probability and a NaN
/// gradient row, so a corrupt batch is caught by the callers' finiteness checks).
public enum PolicyHead: Sendable, Codable, Hashable {
    case categorical(actions: Int)
    case gaussian(dimensions: Int)

    /// The head matching an action space.
    public init(_ space: ActionSpace) {
        switch space {
        case .discrete(let count): self = .categorical(actions: count)
        case .box(let low, _): self = .gaussian(dimensions: low.count)
        }
    }

    /// Width of the network output: logits or means.
    public var outputWidth: Int {
        switch self {
        case .categorical(let k): k
        case .gaussian(let d): d
        }
    }

    /// Number of state-independent log-std parameters (0 for categorical).
    public var logStdCount: Int {
        switch self {
        case .categorical: 0
        case .gaussian(let d): d
        }
    }

    /// Numbers per action in an action buffer.
    public var actionWidth: Int {
        switch self {
        case .categorical: 1
        case .gaussian(let d): d
        }
    }

    static let halfLog2Pi = 0.5 * log(2 * Double.pi)

    // MARK: - Per-state helpers

    /// Writes softmax(logits) into `p` (length k), stably.
    @inline(__always)
    static func softmax(_ logits: UnsafePointer<Double>, _ k: Int, into p: UnsafeMutablePointer<Double>) {
        var maxLogit = -Double.infinity
        for j in 0..<k where logits[j] > maxLogit { maxLogit = logits[j] }
        var sum = 0.0
        for j in 0..<k {
            p[j] = exp(logits[j] - maxLogit)
            sum += p[j]
        }
        for j in 0..<k { p[j] /= sum }
    }

    /// log Σ exp(logits), stably.
    @inline(__always)
    static func logSumExp(_ logits: UnsafePointer<Double>, _ k: Int) -> Double {
        var maxLogit = -Double.infinity
        for j in 0..<k where logits[j] > maxLogit { maxLogit = logits[j] }
        var sum = 0.0
        for j in 0..<k { sum += exp(logits[j] - maxLogit) }
        return maxLogit + log(sum)
    }

    /// The index a categorical action entry names, or nil when it is not a whole number in
    /// `0..<k` (converting such a value with `Int(_:)` would trap or index out of bounds).
    @inline(__always)
    static func actionIndex(_ a: Double, _ k: Int) -> Int? {
        guard a >= 0, a < Double(k), a == a.rounded(.towardZero) else { return nil }
        return Int(a)
    }

    // MARK: - Sampling

    /// Draws an action for one state.
    /// - Parameters:
    ///   - output: the state's network output (`outputWidth` values).
    ///   - logStd: the log-std vector (`logStdCount` values).
    ///   - deterministic: take the mode (argmax / mean) instead of sampling.
    ///   - action: receives `actionWidth` values.
    ///   - scratch: at least `outputWidth` values of workspace.
    @inline(__always)
    public func sample(
        output: UnsafePointer<Double>, logStd: UnsafePointer<Double>, deterministic: Bool,
        random: inout RandomStream, into action: UnsafeMutablePointer<Double>,
        scratch: UnsafeMutablePointer<Double>
    ) {
        switch self {
        case .categorical(let k):
            if deterministic {
                var best = 0
                for j in 1..<k where output[j] > output[best] { best = j }
                action[0] = Double(best)
                return
            }
            PolicyHead.softmax(output, k, into: scratch)
            let u = random.uniform()
            var cumulative = 0.0
            var chosen = k - 1
            for j in 0..<k {
                cumulative += scratch[j]
                if u < cumulative { chosen = j; break }
            }
            action[0] = Double(chosen)
        case .gaussian(let d):
            for j in 0..<d {
                action[j] = deterministic ? output[j] : output[j] + exp(logStd[j]) * random.normal()
            }
        }
    }

    // MARK: - Batch functions

    /// log π(a_i | s_i) for every row.
    public func logProbabilities(outputs: Matrix, logStd: [Double], actions: Matrix) -> [Double] {
        let n = outputs.rows
        var result = [Double](repeating: 0, count: n)
        outputs.storage.withUnsafeBufferPointer { out in
            actions.storage.withUnsafeBufferPointer { act in
                switch self {
                case .categorical(let k):
                    for i in 0..<n {
                        let row = out.baseAddress! + i * k
                        guard let a = PolicyHead.actionIndex(act[i], k) else { result[i] = .nan; continue }
                        result[i] = row[a] - PolicyHead.logSumExp(row, k)
                    }
                case .gaussian(let d):
                    let logStdSum = logStd.reduce(0, +)
                    let inverseVariance = logStd.map { exp(-2 * $0) }
                    for i in 0..<n {
                        var q = 0.0
                        for j in 0..<d {
                            let diff = act[i * d + j] - out[i * d + j]
                            q += diff * diff * inverseVariance[j]
                        }
                        result[i] = -0.5 * q - logStdSum - Double(d) * PolicyHead.halfLog2Pi
                    }
                }
            }
        }
        return result
    }

    /// Σ_i w_i ∇ log π(a_i | s_i), as the gradient with respect to the outputs
    /// (`[n × outputWidth]`, row i scaled by w_i) and to the log-std vector.
    public func weightedLogProbabilityGradient(
        outputs: Matrix, logStd: [Double], actions: Matrix, weights: [Double]
    ) -> (outputs: Matrix, logStd: [Double]) {
        let n = outputs.rows
        var gOut = Matrix(rows: n, columns: outputWidth)
        var gLogStd = [Double](repeating: 0, count: logStdCount)
        outputs.storage.withUnsafeBufferPointer { out in
            actions.storage.withUnsafeBufferPointer { act in
                gOut.storage.withUnsafeMutableBufferPointer { g in
                    switch self {
                    case .categorical(let k):
                        for i in 0..<n {
                            let p = g.baseAddress! + i * k
                            PolicyHead.softmax(out.baseAddress! + i * k, k, into: p)
                            guard let a = PolicyHead.actionIndex(act[i], k) else {
                                for j in 0..<k { p[j] = .nan }
                                continue
                            }
                            for j in 0..<k { p[j] *= -weights[i] }
                            p[a] += weights[i]
                        }
                    case .gaussian(let d):
                        let inverseVariance = logStd.map { exp(-2 * $0) }
                        for i in 0..<n {
                            for j in 0..<d {
                                let z = act[i * d + j] - out[i * d + j]
                                g[i * d + j] = weights[i] * z * inverseVariance[j]
                                gLogStd[j] += weights[i] * (z * z * inverseVariance[j] - 1)
                            }
                        }
                    }
                }
            }
        }
        return (gOut, gLogStd)
    }

    /// Mean over states of KL(π_old(·|s) ‖ π_new(·|s)).
    public func meanKL(oldOutputs: Matrix, oldLogStd: [Double], newOutputs: Matrix, newLogStd: [Double]) -> Double {
        let n = oldOutputs.rows
        guard n > 0 else { return 0 }
        var total = 0.0
        oldOutputs.storage.withUnsafeBufferPointer { old in
            newOutputs.storage.withUnsafeBufferPointer { new in
                switch self {
                case .categorical(let k):
                    for i in 0..<n {
                        let o = old.baseAddress! + i * k, w = new.baseAddress! + i * k
                        let lseOld = PolicyHead.logSumExp(o, k), lseNew = PolicyHead.logSumExp(w, k)
                        for j in 0..<k {
                            let logPOld = o[j] - lseOld
                            total += exp(logPOld) * (logPOld - (w[j] - lseNew))
                        }
                    }
                case .gaussian(let d):
                    let varianceOld = oldLogStd.map { exp(2 * $0) }
                    let inverseVarianceNew = newLogStd.map { exp(-2 * $0) }
                    var constant = 0.0
                    for j in 0..<d { constant += newLogStd[j] - oldLogStd[j] - 0.5 + 0.5 * varianceOld[j] * inverseVarianceNew[j] }
                    total = constant * Double(n)
                    for i in 0..<n {
                        for j in 0..<d {
                            let diff = old[i * d + j] - new[i * d + j]
                            total += 0.5 * diff * diff * inverseVarianceNew[j]
                        }
                    }
                }
            }
        }
        return total / Double(n)
    }

    /// Gradient of ``meanKL(oldOutputs:oldLogStd:newOutputs:newLogStd:)`` with respect to the
    /// new distribution's outputs and log-std.
    public func meanKLGradient(oldOutputs: Matrix, oldLogStd: [Double], newOutputs: Matrix, newLogStd: [Double]) -> (outputs: Matrix, logStd: [Double]) {
        let n = oldOutputs.rows
        let scale = 1 / Double(n)
        var gOut = Matrix(rows: n, columns: outputWidth)
        var gLogStd = [Double](repeating: 0, count: logStdCount)
        oldOutputs.storage.withUnsafeBufferPointer { old in
            newOutputs.storage.withUnsafeBufferPointer { new in
                gOut.storage.withUnsafeMutableBufferPointer { g in
                    switch self {
                    case .categorical(let k):
                        var pOld = [Double](repeating: 0, count: k)
                        for i in 0..<n {
                            PolicyHead.softmax(old.baseAddress! + i * k, k, into: &pOld)
                            PolicyHead.softmax(new.baseAddress! + i * k, k, into: g.baseAddress! + i * k)
                            for j in 0..<k { g[i * k + j] = scale * (g[i * k + j] - pOld[j]) }
                        }
                    case .gaussian(let d):
                        let varianceOld = oldLogStd.map { exp(2 * $0) }
                        let inverseVarianceNew = newLogStd.map { exp(-2 * $0) }
                        for j in 0..<d { gLogStd[j] = 1 - varianceOld[j] * inverseVarianceNew[j] }
                        for i in 0..<n {
                            for j in 0..<d {
                                let diff = new[i * d + j] - old[i * d + j]
                                g[i * d + j] = scale * diff * inverseVarianceNew[j]
                                gLogStd[j] -= scale * diff * diff * inverseVarianceNew[j]
                            }
                        }
                    }
                }
            }
        }
        return (gOut, gLogStd)
    }

    /// The Fisher metric of the mean KL applied to a tangent of the distribution parameters:
    /// (1/n) Σ_i M_i t_i, with M_i the Hessian of KL(π_i ‖ ·) at π_i (the analytic Fisher of
    /// the distribution; App. C.1 of the paper). For the categorical head
    /// M t = p ⊙ t − p (pᵀ t) on logits; for the Gaussian head M is diag(1/σ²) on the means
    /// and 2·I on the log-stds, with no cross terms.
    public func fisherProduct(outputs: Matrix, logStd: [Double], outputTangent: Matrix, logStdTangent: [Double]) -> (outputs: Matrix, logStd: [Double]) {
        let n = outputs.rows
        var result = Matrix(rows: n, columns: outputWidth)
        let inverseVariance = logStd.map { exp(-2 * $0) }
        outputs.storage.withUnsafeBufferPointer { out in
            outputTangent.storage.withUnsafeBufferPointer { t in
                result.storage.withUnsafeMutableBufferPointer { r in
                    inverseVariance.withUnsafeBufferPointer { iv in
                        applyFisher(outputs: out.baseAddress!, inverseVariance: iv.baseAddress!, tangent: t.baseAddress!,
                                    rows: n, scale: 1 / Double(n), into: r.baseAddress!)
                    }
                }
            }
        }
        return (result, logStdTangent.map { 2 * $0 })
    }

    /// The output part of ``fisherProduct(outputs:logStd:outputTangent:logStdTangent:)`` on
    /// `rows` rows, allocation-free: `result_i = scale · M_i t_i`. `inverseVariance` holds
    /// exp(−2 r_j) for the Gaussian head (unused by the categorical one). `T` is the tangent's
    /// and the result's element type (the products may run in single precision); the metric
    /// itself is evaluated in double precision.
    @inline(__always)
    func applyFisher<T: BLASScalar>(outputs out: UnsafePointer<Double>, inverseVariance: UnsafePointer<Double>,
                                    tangent t: UnsafePointer<T>, rows: Int, scale: Double,
                                    into r: UnsafeMutablePointer<T>) {
        switch self {
        case .categorical(let k):
            withUnsafeTemporaryAllocation(of: Double.self, capacity: k) { pBuffer in
                let p = pBuffer.baseAddress!
                for i in 0..<rows {
                    PolicyHead.softmax(out + i &* k, k, into: p)
                    var pt = 0.0
                    for j in 0..<k { pt += p[j] * Double(t[i &* k &+ j]) }
                    for j in 0..<k { r[i &* k &+ j] = T(scale * p[j] * (Double(t[i &* k &+ j]) - pt)) }
                }
            }
        case .gaussian(let d):
            for i in 0..<rows {
                for j in 0..<d { r[i &* d &+ j] = T(scale * Double(t[i &* d &+ j]) * inverseVariance[j]) }
            }
        }
    }

    /// Mean entropy over states, in nats.
    public func meanEntropy(outputs: Matrix, logStd: [Double]) -> Double {
        switch self {
        case .categorical(let k):
            let n = outputs.rows
            guard n > 0 else { return 0 }
            var total = 0.0
            outputs.storage.withUnsafeBufferPointer { out in
                for i in 0..<n {
                    let row = out.baseAddress! + i * k
                    let lse = PolicyHead.logSumExp(row, k)
                    for j in 0..<k {
                        let logP = row[j] - lse
                        total -= exp(logP) * logP
                    }
                }
            }
            return total / Double(n)
        case .gaussian:
            return logStd.reduce(0) { $0 + $1 + 0.5 + PolicyHead.halfLog2Pi }
        }
    }
}
