import Core

/// The simulator steps one estimate may cost in the variance study, and how closely an
/// estimator is to meet them: the mean steps per estimate over the replicates within
/// `steps × (1 ± tolerance)`. (One vine collection's steps are random, as its branches end
/// early at random; see ``VarianceStudy``'s `sample` for how the mean is steered.)
public struct StepBudget: Sendable, Equatable {
    public var steps: Int
    /// Relative: 0.02 for ±2 %.
    public var tolerance: Double

    /// - Precondition: `steps > 0`, `0 < tolerance < 1`.
    public init(steps: Int, tolerance: Double) {
        precondition(steps > 0 && tolerance > 0 && tolerance < 1)
        self.steps = steps
        self.tolerance = tolerance
    }

    /// `steps / budget − 1`.
    public func deviation(_ steps: Double) -> Double { steps / Double(self.steps) - 1 }

    /// Whether `steps` is within the tolerance of the budget: |steps − budget| ≤ tolerance × budget.
    public func admits(_ steps: Double) -> Bool { abs(steps - Double(self.steps)) <= tolerance * Double(self.steps) }

    /// The vine's trunk length and rollout-set size whose collections cost the budget when
    /// each rollout-set state's K branches cost `branchStepsPerState` steps together.
    ///
    /// A quarter of the budget goes to the trunks, the rest to as many states N as it pays
    /// for (at least two, if the trunks can then still run); then the trunks take what the
    /// branches leave, `E·L = steps − N·b` rounded to whole steps per copy, or ⌈N/E⌉ steps per
    /// copy if that is more (the trunks must hold the N states). The expected total is the
    /// budget within E steps. N is at most what leaves each copy one trunk step and the trunks
    /// at least N states.
    /// - Parameters:
    ///   - copies: E, the simulator copies that run trunks side by side.
    ///   - branchStepsPerState: b, the mean simulator steps of one state's K branches.
    /// - Returns: L (steps per copy) and N, or ``VarianceStudyError/budgetTooSmall(budget:branchStepsPerState:copies:)``
    ///   when fewer than two states fit.
    public func vineSize(copies: Int, branchStepsPerState b: Double) -> Result<(trunkSteps: Int, rolloutStates: Int), VarianceStudyError> {
        precondition(copies >= 1 && b > 0)
        let budget = Double(steps), e = Double(copies)
        // N·b + E·L = budget with E·L ≥ max(N, E) ⟹ N ≤ (budget − E)/b and N ≤ budget/(b + 1).
        let most = Int(min((budget - e) / b, budget / (b + 1)).rounded(.down))
        let states = min(most, max(2, Int((0.75 * budget / b).rounded(.down))))
        guard states >= 2 else { return .failure(.budgetTooSmall(budget: steps, branchStepsPerState: b, copies: copies)) }
        let trunkSteps = max(Int(((budget - Double(states) * b) / e).rounded()), (states + copies - 1) / copies)
        return .success((trunkSteps, states))
    }

    /// The trunk length L (steps per copy) that makes a vine collection of `states` states cost
    /// `target` steps in expectation: round((target − N·b) / E), kept within
    /// [nominal / 2, 2 · nominal] and at least ⌈N / E⌉ so that the trunks hold the N states.
    /// - Precondition: `states ≥ 1`, `copies ≥ 1`, `nominal ≥ 1`.
    public static func trunkSteps(forCost target: Double, states: Int, branchStepsPerState b: Double, copies: Int,
                                  nominal: Int) -> Int {
        precondition(states >= 1 && copies >= 1 && nominal >= 1)
        let wanted = Int(((target - Double(states) * b) / Double(copies)).rounded())
        let low = max((states + copies - 1) / copies, max(1, nominal / 2)), high = max(low, 2 * nominal)
        return min(high, max(low, wanted))
    }
}

/// Why the variance study cannot run as asked; ``description`` is one line.
public enum VarianceStudyError: Error, Equatable, CustomStringConvertible {
    /// The budget does not pay for a vine estimate of two rollout-set states.
    case budgetTooSmall(budget: Int, branchStepsPerState: Double, copies: Int)
    /// The reference gradient is zero, so nothing can be compared with it.
    case zeroReference(steps: Int)

    public var description: String {
        switch self {
        case .budgetTooSmall(let budget, let b, let copies):
            "a budget of \(budget) simulator steps cannot pay for a vine estimate: one rollout-set state's branches cost "
                + "\(Int(b.rounded())) steps, and two states plus trunks on \(copies) copies need more; give a larger --budget"
        case .zeroReference(let steps):
            "the reference gradient over \(steps) steps is zero: there is no gradient to compare the estimators with"
        }
    }
}

/// `0.02` as `2 %`.
func formatPercent(_ fraction: Double) -> String {
    let percent = (fraction * 100 * 1000).rounded() / 1000
    return (percent == percent.rounded() ? String(Int(percent)) : String(percent)) + " %"
}
