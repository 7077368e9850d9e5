import Core
import Testing
@testable import Learner

@Suite struct RewardScalingTests {
    /// Rewards are divided by the standard deviation of the discounted returns along each
    /// trajectory (including the normaliser's tiny prior), computed here independently.
    @Test func rewardsAreScaledByTheReturnsStandardDeviation() {
        var c = TrainingConfiguration.preset(for: "Pendulum-v1")
        c.gamma = 0.5
        c.normalizeRewards = true
        var trainer = Trainer(configuration: c, observationSize: 3, actionSpace: .box(low: [-2], high: [2]))
        var batch = SampleBatch(observationSize: 3, actionWidth: 1)
        let rewards = [1.0, 2.0, 4.0, -1.0, 3.0]
        let ends: [StepEnd] = [.none, .none, .terminated, .none, .truncated]
        for (r, e) in zip(rewards, ends) {
            batch.observations += [0, 0, 0]
            batch.actions.append(0)
            batch.rewards.append(r)
            batch.ends.append(e)
        }
        batch.bootstrapRows = [4]
        batch.bootstrapObservations = [0, 0, 0]
        let scaled = trainer.trainingRewards(batch)
        // Discounted returns restart at each trajectory: 1, 2.5, 5.25 | -1, 2.5.
        let returns = [1.0, 2.5, 5.25, -1.0, 2.5]
        let n = Double(returns.count), prior = 1e-4
        let mean = returns.reduce(0, +) / n
        let variance = returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        // Chan's merge with the prior (mean 0, variance 1, weight 1e-4).
        let total = prior + n
        let merged = (1 * prior + variance * n + mean * mean * prior * n / total) / total
        let expected = rewards.map { $0 / (merged + 1e-8).squareRoot() }
        for (a, b) in zip(scaled, expected) { #expect(abs(a - b) < 1e-12) }
        #expect(trainer.state.returnStatistics?.count == prior + n)
    }

    /// With reward clipping the learner trains on −1, 0, +1 (and scales those when both are
    /// on); the batch, whose rewards the logs report, is not changed. A vine run refuses it.
    @Test func clippedRewardsAreSigns() throws {
        var c = TrainingConfiguration.preset(for: "CartPole-v1")
        c.clipRewards = true
        var batch = SampleBatch(observationSize: 4, actionWidth: 1)
        let rewards = [21.0, 0.0, -0.25, 1e-9, -7.0]
        for (r, e) in zip(rewards, [StepEnd.none, .none, .none, .none, .terminated]) {
            batch.observations += [0, 0, 0, 0]
            batch.actions.append(0)
            batch.rewards.append(r)
            batch.ends.append(e)
        }
        var trainer = Trainer(configuration: c, observationSize: 4, actionSpace: .discrete(count: 2))
        #expect(trainer.trainingRewards(batch) == [1, 0, -1, 1, -1])
        #expect(batch.rewards == rewards)

        c.normalizeRewards = true
        var both = Trainer(configuration: c, observationSize: 4, actionSpace: .discrete(count: 2))
        var signs = Trainer(configuration: c, observationSize: 4, actionSpace: .discrete(count: 2))
        #expect(both.trainingRewards(batch) == signs.scaledRewards([1, 0, -1, 1, -1], ends: batch.ends))

        c.sampler = .vine
        #expect(throws: ConfigurationError.self) { try c.validate() }
    }
}
