import Core
import Foundation
import Testing
@testable import Learner

@Suite struct VarianceStatisticsTests {
    static let budget = StepBudget(steps: 100, tolerance: 0.02)

    static func sample(_ estimates: [[Double]], steps: [Int]? = nil) -> EstimatorSample {
        EstimatorSample(estimator: .vine, estimates: estimates, qSamples: Array(repeating: 10, count: estimates.count),
                        simulatorSteps: steps ?? Array(repeating: 100, count: estimates.count), wallSeconds: 0)
    }

    /// Total variance, MSE, bias and cosines against numbers worked by hand.
    @Test func momentsByHand() {
        let m = EstimateMoments([[1, 0], [3, 0]], reference: [2, 0])
        #expect(m.totalVariance == 2)  // sample variance of 1 and 3
        #expect(m.mse == 1)
        #expect(m.relativeBias == 0)
        #expect(m.meanEstimateCosine == 1)
        #expect(m.cosineMean?.mean == 1 && m.cosineMean?.standardError == 0)
        #expect(m.nullCount == 0)
        // Mean (3, 0) against (2, 0): ‖(1, 0)‖ / 2.
        #expect(EstimateMoments([[2, 0], [4, 0]], reference: [2, 0]).relativeBias == 0.5)
        // Orthogonal estimates: cosine 0 each, the mean (1, 1) at 45°.
        let spread = EstimateMoments([[2, 0], [0, 2]], reference: [1, 1])
        #expect(abs(spread.meanEstimateCosine - 1) < 1e-15)
        #expect(abs(spread.cosineMean!.mean - 0.5.squareRoot()) < 1e-15)
    }

    /// A zero (or negligible) gradient is null: its cosine is undefined, not 0.
    @Test func nullEstimatesAreDetected() {
        let zero = EstimateMoments([[0, 0], [0, 0]], reference: [1, 1])
        #expect(zero.nullCount == 2)
        #expect(zero.meanEstimateCosine.isNaN)
        #expect(zero.relativeBias == 1)
        #expect(zero.totalVariance == 0)
        #expect(zero.cosineMean == nil)
        #expect(EstimateMoments([[1e-12, 0], [1, 0]], reference: [1, 0]).nullCount == 1)
        #expect(EstimateMoments([[1e-6, 0], [1, 0]], reference: [1, 0]).nullCount == 0)
        let partly = EstimateMoments([[0, 0], [2, 2]], reference: [1, 1])
        #expect(partly.nullCount == 1 && partly.cosineMean == nil)
        #expect(abs(partly.meanEstimateCosine - 1) < 1e-15 && partly.relativeBias == 0)
    }

    /// An estimator whose estimates are all zero is flagged with its reason, has no cosines,
    /// and its CSV row leaves them empty.
    @Test func aDegenerateEstimatorIsFlagged() {
        let s = EstimatorStatistics(Self.sample([[0, 0], [0, 0], [0, 0]]), reference: [3, 4], referenceVariance: 0,
                                    budget: Self.budget)
        #expect(s.degenerate == "zero gradient in 3 of 3 estimates (cosine undefined)")
        #expect(s.nullEstimates == 3)
        #expect(s.meanEstimateCosine == nil && s.meanEstimateCosineInterval == nil)
        #expect(s.cosineMean == nil && s.cosineStandardError == nil)
        #expect(s.relativeBias == 1 && s.relativeBiasInterval == [1, 1])
        #expect(s.summary.contains("DEGENERATE: zero gradient in 3 of 3 estimates"))
        #expect(s.summary.contains("cos(mean, ref) undefined"))
        let row = VarianceTable.csv([s]).split(separator: "\n")[1].split(separator: ",", omittingEmptySubsequences: false)
        let field = Dictionary(uniqueKeysWithValues: zip(VarianceTable.header, row.map(String.init)))
        #expect(field["degenerate"] == "zero gradient in 3 of 3 estimates (cosine undefined)")
        #expect(field["mean_estimate_cosine"] == "" && field["cosine_mean"] == "")
        #expect(field["relative_bias"] == "1.0")
    }

    /// The per-Q-sample variance, the bias noise floor and the budget figures.
    @Test func derivedFigures() {
        let s = EstimatorStatistics(Self.sample([[1, 0], [3, 0]], steps: [97, 104]), reference: [2, 0],
                                    referenceVariance: 0.5, budget: Self.budget)
        #expect(s.degenerate == nil)
        #expect(s.variancePerQSample == 20)  // 2 × 10 Q-samples
        #expect(s.variancePerQSampleInterval == s.totalVarianceInterval.map { $0 * 10 })
        #expect(s.relativeBiasNoiseFloor == (2.0 / 2 + 0.5).squareRoot() / 2)
        #expect(s.simSteps == 100.5 && s.simStepsMin == 97 && s.simStepsMax == 104)
        #expect(abs(s.budgetDeviation - 0.005) < 1e-12 && s.withinBudgetTolerance)
        #expect(s.totalVarianceInterval[0] <= s.totalVariance && s.totalVariance <= s.totalVarianceInterval[1])
        let over = EstimatorStatistics(Self.sample([[1, 0], [3, 0]], steps: [103, 104]), reference: [2, 0],
                                       referenceVariance: 0.5, budget: Self.budget)
        #expect(!over.withinBudgetTolerance)
        #expect(over.summary.contains("+3.50 % of the budget, ±2 % allowed: OUTSIDE"))
    }

    @Test func percentileIntervals() {
        let values = (1...1000).map(Double.init)
        #expect(percentileInterval95(values) == [26, 975])
        #expect(percentileInterval95(values + [.nan]) == [26, 975])
        #expect(percentileInterval95([.nan]) == nil)
    }

    /// The CSV header is the documented column list, and a reason with a comma is quoted.
    @Test func csvColumns() {
        #expect(VarianceTable.header == [
            "estimator", "replicates", "degenerate", "null_estimates", "total_variance", "total_variance_ci_low",
            "total_variance_ci_high", "q_samples", "variance_per_q_sample", "variance_per_q_sample_ci_low",
            "variance_per_q_sample_ci_high", "mse", "mse_ci_low", "mse_ci_high", "relative_bias", "relative_bias_ci_low",
            "relative_bias_ci_high", "relative_bias_noise_floor", "mean_estimate_cosine", "mean_estimate_cosine_ci_low",
            "mean_estimate_cosine_ci_high", "cosine_mean", "cosine_standard_error", "budget", "budget_tolerance", "sim_steps",
            "sim_steps_min", "sim_steps_max", "budget_deviation", "within_budget_tolerance", "wall_seconds",
        ])
        #expect(VarianceTable.quoted("a, \"b\"") == "\"a, \"\"b\"\"\"")
        #expect(VarianceTable.quoted("plain") == "plain")
    }
}

@Suite struct StepBudgetTests {
    @Test func toleranceIsInclusive() {
        let budget = StepBudget(steps: 20_000, tolerance: 0.02)
        #expect(budget.admits(20_400) && budget.admits(19_600) && budget.admits(20_000))
        #expect(!budget.admits(20_401) && !budget.admits(19_599))
        #expect(abs(budget.deviation(21_000) - 0.05) < 1e-15)
    }

    /// A quarter to the trunks, the rest to states; the trunks absorb the remainder exactly.
    @Test func vineSizeByHand() throws {
        let budget = StepBudget(steps: 20_000, tolerance: 0.02)
        let size = try budget.vineSize(copies: 8, branchStepsPerState: 200).get()
        #expect(size.rolloutStates == 75 && size.trunkSteps == 625)  // 75 · 200 + 8 · 625 = 20,000
        // Branches of one step: the trunks must still hold the states (N ≤ E·L).
        let short = try budget.vineSize(copies: 8, branchStepsPerState: 2).get()
        #expect(short.rolloutStates == 6666 && short.trunkSteps == 834)
        // Two states, if they fit beside a trunk of a step per copy, even beyond three quarters.
        let two = try budget.vineSize(copies: 8, branchStepsPerState: 9000).get()
        #expect(two.rolloutStates == 2 && two.trunkSteps == 250)
        #expect(budget.vineSize(copies: 8, branchStepsPerState: 12_000).map { _ in 0 }
                == .failure(.budgetTooSmall(budget: 20_000, branchStepsPerState: 12_000, copies: 8)))
    }

    /// Wherever a size exists, its expected cost is the budget within E steps (the trunks'
    /// rounding), with at least two states that the trunks hold.
    @Test func vineSizeMeetsTheBudget() {
        for steps in [300, 1000, 4321, 20_000, 123_457] {
            for copies in [1, 3, 8, 16] {
                for b in [2.0, 7.5, 40, 200, 399.9, 1000] {
                    guard case .success(let size) = StepBudget(steps: steps, tolerance: 0.02).vineSize(copies: copies, branchStepsPerState: b)
                    else { continue }
                    let cost = Double(copies * size.trunkSteps) + Double(size.rolloutStates) * b
                    #expect(size.rolloutStates >= 2 && size.rolloutStates <= copies * size.trunkSteps, "\(steps) \(copies) \(b)")
                    #expect(abs(cost - Double(steps)) <= Double(copies), "\(steps) \(copies) \(b): \(cost)")
                }
            }
        }
    }

    /// The trunk takes what the branches leave of the target, within [L/2, 2L] and holding the states.
    @Test func trunkStepsSteerTheCost() {
        // 75 states at 200 steps each leave 5,000 of 20,000 for 8 copies.
        #expect(StepBudget.trunkSteps(forCost: 20_000, states: 75, branchStepsPerState: 200, copies: 8, nominal: 625) == 625)
        #expect(StepBudget.trunkSteps(forCost: 20_800, states: 75, branchStepsPerState: 200, copies: 8, nominal: 625) == 725)
        #expect(StepBudget.trunkSteps(forCost: 19_200, states: 75, branchStepsPerState: 200, copies: 8, nominal: 625) == 525)
        // Clamped to half and twice the nominal trunk.
        #expect(StepBudget.trunkSteps(forCost: 10_000, states: 75, branchStepsPerState: 200, copies: 8, nominal: 625) == 312)
        #expect(StepBudget.trunkSteps(forCost: 90_000, states: 75, branchStepsPerState: 200, copies: 8, nominal: 625) == 1250)
        // Never fewer trunk states than rollout-set states.
        #expect(StepBudget.trunkSteps(forCost: 0, states: 100, branchStepsPerState: 2, copies: 8, nominal: 10) == 13)
    }

    @Test func errorsAreOneLine() {
        let errors: [VarianceStudyError] = [
            .budgetTooSmall(budget: 300, branchStepsPerState: 199.6, copies: 8),
            .zeroReference(steps: 400_000),
        ]
        for error in errors { #expect(!error.description.contains("\n")) }
        #expect(errors[0].description.contains("branches cost 200 steps"))
    }
}

@Suite struct VarianceStudyTests {
    static func dense(_ value: AnyValueFunction) -> ValueFunction {
        guard case .dense(let value) = value else { preconditionFailure("CartPole-v1's value function is an MLP") }
        return value
    }

    static func study(budget: Int = 2000) -> VarianceStudy {
        var c = TrainingConfiguration.preset(for: "CartPole-v1")
        c.environmentsPerSampler = 4
        let trainer = Trainer(configuration: c, observationSize: 4, actionSpace: .discrete(count: 2))
        var study = VarianceStudy(configuration: c, policy: trainer.state.builtInPolicy, normalizer: nil,
                                  valueFunction: Self.dense(trainer.state.valueFunction), budget: StepBudget(steps: budget, tolerance: 0.05))
        study.referenceMultiple = 5
        return study
    }

    /// The horizon check on CartPole-v1 (time limit 500): at T = 500 every branch already
    /// ends by falling or by the time limit, so the long horizon's Q̂ are the same numbers
    /// (correlations and cosine 1, bias 0, for plain and bootstrapped alike, as the long
    /// one is completed the same way); a study estimator's row (here a zero estimate, at
    /// relative distance 1) has only the gradient figures; at T = 5 most branches are cut, the
    /// plain Q̂ differ from the long ones and the bootstrapped from the plain. A horizon not
    /// beyond T is refused.
    @Test func theHorizonCheckComparesTheSameBranches() throws {
        var study = Self.study()
        study.configuration.vine = VineSettings(trunkSteps: 60, rolloutStates: 12, actionsPerState: 2, rolloutLength: 500,
                                                gamma: study.configuration.gamma)
        let same = try study.horizonCheck(longHorizon: 1000, collections: 2,
                                          estimates: [(.singlePath, [[Double](repeating: 0, count: study.policy.parameterCount)])])
        #expect(same.map(\.qEstimator) == ["plain", "bootstrapped", "single_path"])
        for row in same.prefix(2) {
            #expect(row.branches == 48 && row.horizon == 500 && row.longHorizon == 1000)
            #expect(abs(row.qCorrelation! - 1) < 1e-12 && abs(row.centeredQCorrelation! - 1) < 1e-12, "\(row)")
            #expect(abs(row.gradientCosine - 1) < 1e-12 && row.gradientRelativeBias < 1e-12, "\(row)")
        }
        // A zero estimate is at relative distance 1 from any reference; its row has no Q̂ figures.
        #expect(same[2].gradientRelativeBias == 1 && same[2].qCorrelation == nil)
        #expect(HorizonComparison.csv(same).split(separator: "\n")[3].hasPrefix("single_path,500,1000,2,48,"))
        #expect(HorizonComparison.csv(same).split(separator: "\n")[3].contains(",,,"))
        study.configuration.vine.rolloutLength = 5
        let short = try study.horizonCheck(longHorizon: 1000, collections: 2)
        #expect(short[0].cutShare > 0.5)
        #expect(short[0].qCorrelation! < 1 - 1e-6 && short[0].gradientRelativeBias > 1e-6)
        #expect(short[0].qCorrelation != short[1].qCorrelation)
        #expect(HorizonComparison.csv(short).split(separator: "\n").count == 3)
        #expect(throws: HorizonCheckError.notLonger(horizon: 5, longHorizon: 5)) {
            try study.horizonCheck(longHorizon: 5, collections: 1)
        }
    }

    /// A real (tiny) study runs all three estimators with finite, consistent figures, sizes the
    /// vine to the budget, and gives the same figures again from the same seed.
    @Test func aSmallStudyMeetsItsBudgetAndRepeats() throws {
        let (reference, statistics, estimates) = try Self.study().run(replicates: 3) { _ in }
        #expect(estimates.count == 3 && estimates.allSatisfy { $0.count == 3 && $0.allSatisfy { $0.count == reference.count && $0.allFinite } })
        #expect(reference.allFinite && dot(reference, reference) > 0)
        #expect(statistics.map(\.estimator) == ["single_path", "vine", "vine_crn"])
        for s in statistics {
            #expect(s.degenerate == nil)
            #expect(s.totalVariance.isFinite && s.totalVariance >= 0)
            #expect(s.totalVarianceInterval[0] <= s.totalVarianceInterval[1])
            #expect(s.totalVarianceInterval[1] > 0)
            #expect(s.meanEstimateCosine! > 0.5, "\(s.estimator) points away from the reference")
            #expect(s.relativeBias.isFinite && s.relativeBiasNoiseFloor > 0)
            #expect(s.withinBudgetTolerance, "\(s.estimator) used \(s.simSteps) steps for a budget of 2000 ± 5 %")
        }
        #expect(statistics[0].simSteps == 2000)
        let again = try Self.study().run(replicates: 3) { _ in }.statistics
        func withoutTime(_ s: [EstimatorStatistics]) -> [EstimatorStatistics] {
            s.map { var s = $0; s.wallSeconds = 0; return s }
        }
        #expect(withoutTime(again) == withoutTime(statistics))
    }

    /// A budget that cannot pay for two rollout-set states is refused before any replicate.
    @Test func aBudgetTooSmallForTheVineIsRefused() throws {
        #expect {
            _ = try Self.study(budget: 50).run(replicates: 2) { _ in }
        } throws: { error in
            if case .budgetTooSmall(budget: 50, _, copies: 4)? = error as? VarianceStudyError { return true }
            return false
        }
    }
}
