/// How a step ended its trajectory.
public enum StepEnd: UInt8, Sendable, Codable {
    /// The next row continues the same trajectory.
    case none = 0
    /// The episode reached a terminal state: the value beyond it is zero.
    case terminated = 1
    /// The trajectory was cut while the state was not terminal (time limit, or the end of a
    /// collected segment): the value beyond it is bootstrapped from V(s_{t+1}).
    case truncated = 2
}

/// Generalised advantage estimation (Schulman et al. 2016) over rows laid out trajectory
/// after trajectory, each in time order.
///
/// δ_t = r_t + γ V(s_{t+1}) − V(s_t), with V(s_{t+1}) = 0 after termination, the next row's
/// value inside a trajectory, and `bootstrapValues[t]` where the trajectory was truncated;
/// Â_t = δ_t + γλ Â_{t+1} inside a trajectory.
///
/// - Parameters:
///   - rewards, values, ends: one entry per row; `values[t]` = V(s_t).
///   - bootstrapValues: V(s_{t+1}) for rows whose end is `.truncated` (other entries unused).
///   - gamma: discount γ; lambda: λ.
/// - Returns: the advantages Â and the λ-returns Â + V (the value function's targets).
public func generalizedAdvantages(
    rewards: [Double], values: [Double], bootstrapValues: [Double], ends: [StepEnd],
    gamma: Double, lambda: Double
) -> (advantages: [Double], returns: [Double]) {
    let n = rewards.count
    precondition(values.count == n && bootstrapValues.count == n && ends.count == n, "GAE inputs disagree on the number of rows")
    var advantages = [Double](repeating: 0, count: n)
    var next = 0.0  // Â_{t+1} within the current trajectory
    for t in stride(from: n - 1, through: 0, by: -1) {
        let delta: Double
        switch ends[t] {
        case .terminated:
            delta = rewards[t] - values[t]
            next = 0
        case .truncated:
            delta = rewards[t] + gamma * bootstrapValues[t] - values[t]
            next = 0
        case .none:
            precondition(t + 1 < n, "the last row must end its trajectory")
            delta = rewards[t] + gamma * values[t + 1] - values[t]
        }
        next = delta + gamma * lambda * next
        advantages[t] = next
    }
    let returns = zip(advantages, values).map { $0 + $1 }
    return (advantages, returns)
}

/// Rescales to zero mean and unit standard deviation, x ↦ (x − mean) / (std + 1e-8); a
/// batch of equal values (no spread to rescale) maps to all zeros.
public func normalized(_ x: [Double]) -> [Double] {
    guard x.count > 1 else { return x.map { _ in 0 } }
    var mean = x.reduce(0, +) / Double(x.count)
    // Second pass: remove the rounding error of the first. Otherwise equal values sit a few
    // ulps off the computed mean and the 1e-8 guard turns that into O(1) outputs of one sign.
    mean += x.reduce(0) { $0 + ($1 - mean) } / Double(x.count)
    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
    let std = variance.squareRoot()
    return x.map { ($0 - mean) / (std + 1e-8) }
}

/// 1 − Var(y − ŷ) / Var(y): 1 is a perfect fit, 0 no better than the mean, negative worse.
/// NaN when y has no variance.
public func explainedVariance(predicted: [Double], targets: [Double]) -> Double {
    precondition(predicted.count == targets.count)
    let n = Double(targets.count)
    guard n > 1 else { return .nan }
    func variance(_ v: [Double]) -> Double {
        let m = v.reduce(0, +) / n
        return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n
    }
    let vy = variance(targets)
    guard vy > 0 else { return .nan }
    return 1 - variance(zip(targets, predicted).map { $0 - $1 }) / vy
}
