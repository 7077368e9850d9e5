import Core
import Foundation
import Testing
@testable import Learner
@testable import Sampling

/// Vine branches that reach past the branch horizon (`--vine-bootstrap value`): what the
/// sampler records about each branch's end and its trunks, how Q̂ is completed with a value
/// function, and the learner's use of V as it was when the batch was collected.
@Suite struct VineBootstrapTests {
    static func policy(for simulator: any Simulator, seed: UInt64) -> Policy {
        var random = RandomStream(seed: seed)
        return Policy(observationSize: simulator.observationSpace.count, head: PolicyHead(simulator.actionSpace),
                      hiddenSizes: [8], activation: .tanh, random: &random)
    }

    /// An arbitrary value of an observation [x, t] of ``TimeLimitedWalk``, to bootstrap with.
    static func walkValue(_ observation: [Double]) -> Double { 2 * observation[0] - 0.25 * observation[1] + 0.5 }

    /// TimeLimitedWalk (time limit 6), T = 4, 2 copies: every recorded branch is in the batch
    /// with its length and end: `.terminated` exactly when its last step terminated (|x| = 3),
    /// otherwise cut, by T or by the time limit, with the observation after its last step.
    /// Q̂ completed with V is, by hand from the recording, Σ γᵗ r_t + γᴸ V(s_L) for a cut branch
    /// and Σ γᵗ r_t for a terminated one; all three kinds of ends occur.
    @Test func cutBranchesAreBootstrappedAndTerminatedOnesAreNot() throws {
        let settings = VineSettings(trunkSteps: 40, rolloutStates: 30, actionsPerState: 2, rolloutLength: 4, gamma: 0.9)
        let sims = [RecordingSimulator(TimeLimitedWalk()), RecordingSimulator(TimeLimitedWalk())]
        let sampler = VineSampler(simulators: sims, policy: Self.policy(for: sims[0], seed: 5), normalizer: nil,
                                  seed: 9, stream: 1, settings: settings)
        let batch = sampler.collect()
        #expect(batch.isConsistent && batch.branchCount == 60)
        let cutValues = (0..<batch.cutCount).map { Self.walkValue(Array(batch.cutObservations[(2 * $0)..<(2 * $0 + 2)])) }
        let q = try batch.qValues(gamma: settings.gamma, cutValues: cutValues)
        #expect(try batch.qValues(gamma: settings.gamma, cutValues: nil) == batch.branchReturns)

        let matched = try #require(matchBranches(sims[0].branches, to: batch))
        var cutRank = [Int](repeating: -1, count: batch.branchCount)
        var rank = 0
        for b in 0..<batch.branchCount where batch.branchEnds[b] == .truncated { cutRank[b] = rank; rank += 1 }
        var (terminated, cutByT, cutByLimit) = (0, 0, 0)
        for (branch, (n, k)) in zip(sims[0].branches, matched) {
            let b = n * 2 + k
            let length = branch.rewards.count
            let last = branch.outcomes[length - 1]
            #expect(batch.branchLengths[b] == length)
            let partial = discountedSum(branch.rewards, gamma: settings.gamma)
            #expect(abs(batch.branchReturns[b] - partial) <= 1e-12)
            if last.terminated {
                terminated += 1
                #expect(batch.branchEnds[b] == .terminated)
                #expect(q[b] == batch.branchReturns[b])
            } else {
                if last.truncated { cutByLimit += 1 } else { cutByT += 1; #expect(length == settings.rolloutLength) }
                #expect(batch.branchEnds[b] == .truncated)
                let end = branch.states[length - 1]  // TimeLimitedWalk's state is its observation
                #expect(Array(batch.cutObservations[(2 * cutRank[b])..<(2 * cutRank[b] + 2)]) == end)
                let expected = partial + pow(settings.gamma, Double(length)) * Self.walkValue(end)
                #expect(abs(q[b] - expected) <= 1e-12)
            }
        }
        #expect(terminated > 0 && cutByT > 0 && cutByLimit > 0, "ends: \(terminated) terminated, \(cutByT) by T, \(cutByLimit) by the limit")
    }

    /// The trunks travel as single-path trajectories: E·L rows, copy after copy, each copy's rows
    /// what its recorder saw; an episode's last row ends `.terminated` or `.truncated` (time
    /// limit) and each copy's last row is cut, with the next observation to bootstrap from; the
    /// finished episodes' returns are the sums of their rewards.
    @Test func trunksAreTrajectories() throws {
        let settings = VineSettings(trunkSteps: 25, rolloutStates: 10, actionsPerState: 2, rolloutLength: 3, gamma: 0.9)
        let sims = [RecordingSimulator(TimeLimitedWalk()), RecordingSimulator(TimeLimitedWalk())]
        let sampler = VineSampler(simulators: sims, policy: Self.policy(for: sims[0], seed: 6), normalizer: nil,
                                  seed: 4, stream: 0, settings: settings)
        let trunks = sampler.collect().trunks
        #expect(trunks.count == 50 && trunks.observations.count == 100 && trunks.actions.count == 50)
        var bootstrap = 0
        var episodeReturn = 0.0
        var returns: [Double] = []
        for (copy, recorder) in sims.enumerated() {
            let steps = recorder.trunk.compactMap { event -> (action: [Double], state: [Double], reward: Double)? in
                if case .step(let action, let state, let reward) = event { (action, state, reward) } else { nil }
            }
            #expect(steps.count == 25)
            for (t, step) in steps.enumerated() {
                let row = copy * 25 + t
                #expect(trunks.rewards[row] == step.reward && trunks.actions[row] == step.action[0])
                episodeReturn += step.reward
                let terminal = abs(step.state[0]) >= 3
                let limit = !terminal && step.state[1] == Double(TimeLimitedWalk.limit)
                let expectedEnd: StepEnd = terminal ? .terminated : limit || t == 24 ? .truncated : .none
                #expect(trunks.ends[row] == expectedEnd)
                if expectedEnd == .truncated {
                    #expect(trunks.bootstrapRows[bootstrap] == row)
                    #expect(Array(trunks.bootstrapObservations[(2 * bootstrap)..<(2 * bootstrap + 2)]) == step.state)
                    bootstrap += 1
                }
                if terminal || limit { returns.append(episodeReturn) }
                if expectedEnd != .none { episodeReturn = 0 }
            }
        }
        #expect(bootstrap == trunks.bootstrapRows.count)
        #expect(trunks.episodeReturns == returns && !returns.isEmpty)
    }

    /// ChainMDP (H = 3, deterministic transitions: the action names the next state) with
    /// T = 1 and the exact V^π: every branch is one step, a non-final one is cut and completed
    /// with V_{t+1}(s'), so Q̂(s_t, a) = R[s][a] + V_{t+1}(a) is the full-horizon Q exactly.
    /// Without bootstrapping it would be R[s][a] alone; with T = H nothing is cut.
    @Test func bootstrappedQWithAnExactValueIsTheFullHorizonQ() throws {
        var random = RandomStream(seed: 8)
        var policy = Policy(observationSize: 4, head: .categorical(actions: 3), hiddenSizes: [4], activation: .tanh, random: &random)
        policy.parameters = policy.parameters.map { _ in 0.8 * random.normal() }
        let values = ChainMDP.exactValues(policy)
        func decode(_ o: ArraySlice<Double>) -> (s: Int, t: Int) {
            let o = Array(o)
            return (o[0] == 1 ? 0 : o[1] == 1 ? 1 : 2, Int((o[3] * Double(ChainMDP.horizon)).rounded()))
        }

        let settings = VineSettings(trunkSteps: 30, rolloutStates: 20, actionsPerState: 3, rolloutLength: 1, gamma: 1)
        let batch = VineSampler(simulators: [ChainMDP()], policy: policy, normalizer: nil, seed: 3, stream: 0,
                                settings: settings).collect()
        let cutValues = (0..<batch.cutCount).map { c in
            let (s, t) = decode(batch.cutObservations[(4 * c)..<(4 * c + 4)])
            return values[t][s]
        }
        let q = try batch.qValues(gamma: 1, cutValues: cutValues)
        var cuts = 0
        for n in 0..<batch.stateCount {
            let (s, t) = decode(batch.observations[(4 * n)..<(4 * n + 4)])
            for a in 0..<3 {
                let b = n * 3 + a
                let exactQ = ChainMDP.rewards[s][a] + values[t + 1][a]
                #expect(abs(q[b] - exactQ) <= 1e-12, "state \(s) at t = \(t), action \(a)")
                #expect(batch.branchEnds[b] == (t == ChainMDP.horizon - 1 ? .terminated : .truncated))
                if batch.branchEnds[b] == .truncated { cuts += 1 }
            }
        }
        #expect(cuts > 0 && cuts == batch.cutCount)

        let full = VineSettings(trunkSteps: 30, rolloutStates: 20, actionsPerState: 3, rolloutLength: ChainMDP.horizon, gamma: 1)
        let whole = VineSampler(simulators: [ChainMDP()], policy: policy, normalizer: nil, seed: 3, stream: 0,
                                settings: full).collect()
        #expect(whole.cutCount == 0 && whole.branchEnds.allSatisfy { $0 == .terminated })
    }

    /// `Trainer.update(vine:)` with `value`: Q̂ is completed with V as it was when the batch was
    /// collected (the logged Q̂ spread is that of those Q̂), then V is fitted on the trunks (a
    /// finite explained variance, V changed). With `none`: the plain returns, V untouched.
    @Test(arguments: [VineBootstrap.value, .none])
    func trainerBootstrapsWithTheValueFunctionAsCollected(bootstrap: VineBootstrap) throws {
        var c = TrainingConfiguration(environment: "TimeLimitedWalk", totalSteps: 10_000, batchSteps: 100)
        c.sampler = .vine
        c.gamma = 0.9
        c.vine = VineSettings(trunkSteps: 40, rolloutStates: 16, actionsPerState: 2, rolloutLength: 3, gamma: 0.9)
        c.vineBootstrap = bootstrap
        var trainer = Trainer(configuration: c, observationSize: 2, actionSpace: .discrete(count: 2))
        let sampler = VineSampler(simulators: [TimeLimitedWalk(), TimeLimitedWalk()], policy: trainer.state.builtInPolicy,
                                  normalizer: trainer.samplingNormalizer, seed: 2, stream: 0, settings: c.vine)
        let batch = sampler.collect()
        #expect(batch.cutCount > 0)
        let before = trainer.state
        let cutInputs = trainer.samplingNormalizer?.normalized(batch.cutObservationMatrix) ?? batch.cutObservationMatrix
        guard case .dense(let valueBefore) = before.valueFunction else {
            Issue.record("an MLP value function")
            return
        }
        let q = try batch.qValues(gamma: 0.9, cutValues: bootstrap == .value ? valueBefore.predict(cutInputs, precision: c.valueFit.precision) : nil)

        let statistics = try trainer.update(vine: .features(batch))
        let vine = try #require(statistics.vine)
        #expect(abs(vine.qSpread - VineIterationStatistics(batch, qValues: q).qSpread) <= 1e-12)
        #expect(vine.cutShare == Double(batch.cutCount) / Double(batch.branchCount))
        #expect(vine.meanBranchLength == Double(batch.branchSteps) / Double(batch.branchCount))
        switch bootstrap {
        case .value:
            #expect(statistics.valueFit.explainedVarianceBefore.isFinite && statistics.valueFit.adamSteps > 0)
            #expect(trainer.state.valueFunction != before.valueFunction)
            #expect(q != batch.branchReturns)
        case .none:
            #expect(statistics.valueFit.explainedVarianceBefore.isNaN && statistics.valueFit.adamSteps == 0)
            #expect(trainer.state.valueFunction == before.valueFunction)
        }
        #expect(statistics.timesteps == batch.trunkSteps + batch.branchSteps)
    }

    /// A configuration written before `vineBootstrap` existed decodes with `.none` (the
    /// estimator it ran); new configurations default to `.value` and round-trip.
    @Test func configurationsWithoutTheSettingDecodeAsNone() throws {
        var c = TrainingConfiguration(environment: "CartPole-v1", totalSteps: 1000, batchSteps: 100)
        #expect(c.vineBootstrap == .value)
        #expect(try TrainingRunTests.decodedWithout("vineBootstrap", from: c).vineBootstrap == .none)
        c.vineBootstrap = .none
        #expect(try TrainingRunTests.decodedWithout("vineBootstrap", from: c).vineBootstrap == .none)
    }

    /// Likewise `vineTrustRegion`: absent it is `.rolloutSet` (what earlier runs measured the
    /// KL on); set, it round-trips.
    @Test func configurationsWithoutTheTrustRegionDecodeAsTheRolloutSet() throws {
        var c = TrainingConfiguration(environment: "Hopper-v4", totalSteps: 1000, batchSteps: 100)
        c.vineTrustRegion = .trunks
        #expect(try TrainingRunTests.decodedWithout("vineTrustRegion", from: c).vineTrustRegion == .rolloutSet)
    }

    /// `Trainer.update(vine:)` with the KL on the trunks: the step's KL is the mean over the
    /// trunks' states (normalised as collected), within δ.
    @Test func trainerMeasuresTheKLOnTheTrunks() throws {
        var c = TrainingConfiguration(environment: "TimeLimitedWalk", totalSteps: 10_000, batchSteps: 100)
        c.sampler = .vine
        c.vine = VineSettings(trunkSteps: 40, rolloutStates: 16, actionsPerState: 2, rolloutLength: 3, gamma: 0.99)
        c.vineTrustRegion = .trunks
        c.trpo.productPrecision = .double
        var trainer = Trainer(configuration: c, observationSize: 2, actionSpace: .discrete(count: 2))
        let sampler = VineSampler(simulators: [TimeLimitedWalk(), TimeLimitedWalk()], policy: trainer.state.builtInPolicy,
                                  normalizer: trainer.samplingNormalizer, seed: 2, stream: 0, settings: c.vine)
        let batch = sampler.collect()
        let old = trainer.state.builtInPolicy
        let trunkInputs = trainer.samplingNormalizer?.normalized(batch.trunks.observationMatrix) ?? batch.trunks.observationMatrix
        let statistics = try trainer.update(vine: .features(batch))
        #expect(statistics.policyStep.accepted)
        let new = trainer.state.builtInPolicy
        let kl = old.head.meanKL(oldOutputs: old.network.forward(trunkInputs).output, oldLogStd: old.logStd,
                                 newOutputs: new.network.forward(trunkInputs).output, newLogStd: new.logStd)
        #expect(abs(statistics.policyStep.kl - kl) <= 1e-12 * max(1, kl))
        #expect(kl > 0 && kl <= c.trpo.maxKL)
    }
}
