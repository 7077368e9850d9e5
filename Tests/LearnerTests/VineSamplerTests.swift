import Core
import Foundation
import Simulators
import Testing
@testable import Sampling

/// The vine sampler against what its simulators recorded: counts, Q̂, snapshots, common
/// random numbers; and a vine TRPO step on the collected data.
@Suite struct VineSamplerTests {
    static func policy(for simulator: any Simulator, seed: UInt64, hidden: [Int] = [16]) -> Policy {
        var random = RandomStream(seed: seed)
        return Policy(observationSize: simulator.observationSpace.count, head: PolicyHead(simulator.actionSpace),
                      hiddenSizes: hidden, activation: .tanh, initialLogStd: -0.5, random: &random)
    }

    static func recorders(_ id: String, count: Int) throws -> [RecordingSimulator] {
        try (0..<count).map { _ in RecordingSimulator(try EnvironmentRegistry.make(id)) }
    }

    /// CartPole (E = 2): K = 2 for a 2-action space even though K = 3 was asked for; N·K
    /// branches, all on the first copy; the simulator steps the recorders counted equal the
    /// batch's; every Q̂ is the discounted sum of the rewards its branch recorded, every branch
    /// stops at T, termination or the time limit; π_old's stored log-probabilities agree with
    /// the policy's; trunk episodes agree with the resets.
    @Test func countsAndQValues() throws {
        let settings = VineSettings(trunkSteps: 60, rolloutStates: 24, actionsPerState: 3, rolloutLength: 20, gamma: 0.95)
        let sims = try Self.recorders(CartPole.environmentID, count: 2)
        let policy = Self.policy(for: sims[0], seed: 1)
        let sampler = VineSampler(simulators: sims, policy: policy, normalizer: nil, seed: 7, stream: 3, settings: settings)
        #expect(sampler.actionsPerState == 2 && sampler.estimator == .enumeratedActions)
        let batch = sampler.collect()

        #expect(batch.isConsistent && batch.stateCount == 24 && batch.branchCount == 48 && batch.actionsPerState == 2)
        #expect(batch.actions == (0..<24).flatMap { _ in [0.0, 1.0] })
        #expect(batch.trunkSteps == 2 * 60)
        #expect(sims.reduce(0) { $0 + $1.steps } == batch.simulatorSteps)
        #expect(sims[0].branches.count == 48 && sims[1].branches.isEmpty)
        let branchSteps = sims[0].branches.reduce(0) { $0 + $1.rewards.count }
        #expect(branchSteps == batch.branchSteps)

        let matched = try #require(matchBranches(sims[0].branches, to: batch))
        for (branch, (n, k)) in zip(sims[0].branches, matched) {
            let length = branch.rewards.count
            let last = branch.outcomes[length - 1]
            #expect(length >= 1 && length <= settings.rolloutLength)
            #expect(length == settings.rolloutLength || last.terminated || last.truncated)
            #expect(branch.outcomes.dropLast().allSatisfy { !$0.terminated && !$0.truncated })
            let q = batch.branchReturns[n * 2 + k]
            #expect(abs(q - discountedSum(branch.rewards, gamma: settings.gamma)) <= 1e-12 * max(1, abs(q)))
        }

        // log π_old(a|s) from the softmax of the double-precision network outputs.
        let logits = policy.network.forward(batch.observationMatrix).output
        for n in 0..<batch.stateCount {
            let z = [logits[n, 0], logits[n, 1]]
            let lse = log(exp(z[0]) + exp(z[1]))
            for k in 0..<2 { #expect(abs(batch.oldLogProbabilities[n * 2 + k] - (z[k] - lse)) < 1e-12) }
        }

        // Completed trunk episodes: every reset after a copy's first one ends an episode.
        let resets = sims.map { $0.trunk.filter { if case .reset = $0 { true } else { false } }.count }
        #expect(batch.episodeLengths.count == resets.reduce(0) { $0 + $1 - 1 })
        #expect(batch.episodeLengths.reduce(0, +) <= batch.trunkSteps)
        #expect(zip(batch.episodeReturns, batch.episodeLengths).allSatisfy { $0 == Double($1) })  // CartPole: +1 a step
    }

    /// Snapshots are restored correctly: replaying the trunk on a fresh simulator (same reset
    /// stream, same actions, no snapshot involved) up to each rollout-set state and taking the
    /// branch's first action gives bit for bit the state and reward the branch recorded after
    /// its restore. CartPole (2 copies) and Hopper-v4 (MuJoCo, whose snapshot also carries
    /// warm-start accelerations and controls).
    @Test(arguments: [(CartPole.environmentID, 2), (Hopper.environmentID, 1)])
    func restoredStatesContinueLikeTheOriginal(id: String, copies: Int) throws {
        let settings = VineSettings(trunkSteps: 30, rolloutStates: 8, actionsPerState: 2, rolloutLength: 3, gamma: 0.99)
        let sims = try Self.recorders(id, count: copies)
        let sampler = VineSampler(simulators: sims, policy: Self.policy(for: sims[0], seed: 2), normalizer: nil,
                                  seed: 11, stream: 0, settings: settings)
        _ = sampler.collect()
        var checked = 0
        for branch in sims[0].branches {
            // Find the trunk position whose state is the restored one.
            var found = false
            search: for recorder in sims {
                var lastReset = 0
                for (index, event) in recorder.trunk.enumerated() {
                    let state: [Double]
                    switch event {
                    case .reset(_, let s): lastReset = index; state = s
                    case .step(_, let s, _): state = s
                    }
                    guard state.map(\.bitPattern) == branch.restoredState.map(\.bitPattern) else { continue }
                    let fresh = try EnvironmentRegistry.make(id)
                    for replay in recorder.trunk[lastReset...index] {
                        switch replay {
                        case .reset(var random, _): fresh.reset(using: &random)
                        case .step(let action, _, _): _ = fresh.step(action)
                        }
                    }
                    #expect(fresh.state.map(\.bitPattern) == branch.restoredState.map(\.bitPattern))
                    let outcome = fresh.step(branch.firstAction)
                    #expect(fresh.state.map(\.bitPattern) == branch.states[0].map(\.bitPattern))
                    #expect(outcome.reward.bitPattern == branch.rewards[0].bitPattern)
                    found = true
                    break search
                }
            }
            #expect(found)
            checked += 1
        }
        #expect(checked == 8 * 2)
    }

    /// Common random numbers cover exactly the continuation noise: with the first action of
    /// every branch replaced by the same action, the K branches of a state are bit for bit the
    /// same trajectory (states and Q̂) with CRN on, and differ with CRN off.
    @Test(arguments: [(CartPole.environmentID, [0.0]), (Pendulum.environmentID, [0.5])])
    func commonRandomNumbersShareTheContinuationNoise(id: String, firstAction: [Double]) throws {
        var settings = VineSettings(trunkSteps: 100, rolloutStates: 12, actionsPerState: 3, rolloutLength: 30, gamma: 0.99)
        var differing: [Bool: Int] = [:]
        var compared: [Bool: Int] = [:]
        for crn in [true, false] {
            settings.commonRandomNumbers = crn
            let sims = try Self.recorders(id, count: 1)
            sims[0].firstActionAfterRestore = firstAction
            let sampler = VineSampler(simulators: sims, policy: Self.policy(for: sims[0], seed: 3), normalizer: nil,
                                      seed: 5, stream: 1, settings: settings)
            let batch = sampler.collect()
            let k = batch.actionsPerState
            let matched = try #require(matchBranches(sims[0].branches, to: batch))
            var byState = [[RecordingSimulator.Branch]](repeating: [], count: batch.stateCount)
            for (branch, (n, _)) in zip(sims[0].branches, matched) { byState[n].append(branch) }
            for n in 0..<batch.stateCount where byState[n][0].states.count >= 5 {
                let reference = byState[n][0].states.map { $0.map(\.bitPattern) }
                let same = byState[n].allSatisfy { $0.states.map { $0.map(\.bitPattern) } == reference }
                let sameQ = Set(batch.branchReturns[(n * k)..<((n + 1) * k)].map(\.bitPattern)).count == 1
                compared[crn, default: 0] += 1
                if !same { differing[crn, default: 0] += 1 }
                if crn { #expect(same && sameQ, "state \(n): branches differ under CRN") }
            }
        }
        #expect(compared[true, default: 0] >= 6 && compared[false, default: 0] >= 6)
        #expect(differing[true, default: 0] == 0)
        #expect(differing[false, default: 0] == compared[false, default: 0], "without CRN every state's branches should differ")
    }

    /// A vine TRPO step (eq. 15) on CartPole data from a fresh policy: accepted, the measured
    /// KL over the rollout set (recomputed here from softmaxes) is within δ, and the eq. 15
    /// surrogate with raw Q̂ (recomputed here) improved by the reported amount. The step's
    /// products are `Double`, as the recomputation is, so the two agree to rounding.
    @Test func vineStepOnCartPoleImprovesWithinTheKLBound() throws {
        let settings = VineSettings(trunkSteps: 200, rolloutStates: 64, actionsPerState: 2, rolloutLength: 50, gamma: 0.99)
        let sims = try (0..<2).map { _ in try EnvironmentRegistry.make(CartPole.environmentID) }
        let old = Self.policy(for: sims[0], seed: 4, hidden: [32])
        let sampler = VineSampler(simulators: sims, policy: old, normalizer: nil, seed: 9, stream: 0, settings: settings)
        let batch = sampler.collect()
        let surrogate = try VineSurrogate(batch, normalizer: nil, head: old.head)
        var policy = old
        var c = TRPOConfiguration()
        c.fisherSubsample = 1
        c.productPrecision = .double
        var random = RandomStream(seed: 1)
        let report = policy.vineStep(surrogate, configuration: c, random: &random)
        #expect(report.accepted, "\(String(describing: report.rejection))")

        let states = batch.observationMatrix
        let p0 = old.network.forward(states).output, p1 = policy.network.forward(states).output
        func softmax(_ m: Matrix, _ n: Int) -> [Double] {
            let e = [exp(m[n, 0]), exp(m[n, 1])]
            return e.map { $0 / (e[0] + e[1]) }
        }
        var kl = 0.0, before = 0.0, after = 0.0
        for n in 0..<batch.stateCount {
            let p = softmax(p0, n), q = softmax(p1, n)
            kl += p[0] * log(p[0] / q[0]) + p[1] * log(p[1] / q[1])
            before += p[0] * batch.branchReturns[2 * n] + p[1] * batch.branchReturns[2 * n + 1]
            after += q[0] * batch.branchReturns[2 * n] + q[1] * batch.branchReturns[2 * n + 1]
        }
        let count = Double(batch.stateCount)
        kl /= count; before /= count; after /= count
        #expect(kl > 0 && kl <= c.maxKL)
        #expect(abs(report.kl - kl) < 1e-10)
        #expect(after > before)
        #expect(abs(report.actualImprovement - (after - before)) < 1e-9)
    }

    /// With an observation normaliser the stored log π_old(a|s) are exactly what the learner
    /// computes from the raw observations and the same statistics (bit for bit), and the
    /// sampled first actions are draws around the normalised-input means.
    @Test func normaliserIsApplied() throws {
        let settings = VineSettings(trunkSteps: 50, rolloutStates: 20, actionsPerState: 3, rolloutLength: 5, gamma: 0.99)
        let sims = try (0..<2).map { _ in try EnvironmentRegistry.make(Pendulum.environmentID) }
        let policy = Self.policy(for: sims[0], seed: 8)
        var normalizer = RunningNormalizer(size: 3)
        normalizer.update(with: Matrix(rows: 2, columns: 3, storage: [0.5, -0.2, 3, -0.1, 0.4, -1]))
        let sampler = VineSampler(simulators: sims, policy: policy, normalizer: normalizer, seed: 3, stream: 2, settings: settings)
        let batch = sampler.collect()
        var surrogate = try VineSurrogate(batch, normalizer: normalizer, head: policy.head)
        let outputs = policy.network.forward(surrogate.states).output
        _ = surrogate.bind(head: policy.head, oldOutputs: outputs, oldLogStd: policy.logStd)
        let repeated = Matrix(rows: 60, columns: 1, storage: (0..<60).map { outputs[$0 / 3, 0] })
        let logP = policy.head.logProbabilities(outputs: repeated, logStd: policy.logStd, actions: batch.actionMatrix)
        #expect(logP.map(\.bitPattern) == batch.oldLogProbabilities.map(\.bitPattern))
        // Standardised deviations of the first actions from those means: about N(0, 1).
        let z = (0..<60).map { (batch.actions[$0] - repeated[$0, 0]) / exp(policy.logStd[0]) }
        #expect(abs(z.reduce(0, +) / 60) < 0.5 && abs(z.reduce(0) { $0 + $1 * $1 } / 60 - 1) < 0.5)
        // With the trust region on the trunks, their states are normalised with the same
        // statistics, here or by the caller who has them already (the trainer's value fit).
        let trunks = normalizer.normalized(batch.trunks.observationMatrix)
        let onTrunks = try VineSurrogate(batch, normalizer: normalizer, head: policy.head, trustRegion: .trunks)
        let given = try VineSurrogate(batch, normalizer: normalizer, head: policy.head, trustRegion: .trunks, normalizedTrunks: trunks)
        #expect(onTrunks.constraintStates == trunks && given.constraintStates == trunks)
        #expect(trunks != batch.trunks.observationMatrix)
    }

    /// Same seed, stream and collection index: the same batch; the next collection differs.
    @Test func collectionsAreReproducible() throws {
        let settings = VineSettings(trunkSteps: 40, rolloutStates: 10, actionsPerState: 3, rolloutLength: 10, gamma: 0.99)
        func sampler() throws -> VineSampler {
            let sims = try (0..<2).map { _ in try EnvironmentRegistry.make(Pendulum.environmentID) }
            return VineSampler(simulators: sims, policy: Self.policy(for: sims[0], seed: 6), normalizer: nil,
                               seed: 2, stream: 4, settings: settings)
        }
        let (a, b) = (try sampler(), try sampler())
        let first = a.collect()
        #expect(first == b.collect())
        #expect(first != a.collect())
        b.collectionIndex = 0
        #expect(first == b.collect())
        // Abandoning returns nil and leaves the sampler usable.
        #expect(a.collect(abandonIf: { true }) == nil)
        #expect(a.collect().stateCount == 10)
    }
}
