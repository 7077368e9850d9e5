import Core
import Foundation
import Simulators
import Testing
import Sampling

/// Speed of vine collection. Off by default; run in a release build:
///
///     VINE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter VineBenchmarkTests
///
/// Prints simulator steps per second for whole collections (trunks + branches) and per phase,
/// the cost of a snapshot + restore, the cost of the one-row forward passes exact CRN needs,
/// and how much CRN shrinks the spread of Q̂ within a state.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["VINE_BENCH"] != nil), .serialized)
struct VineBenchmarkTests {
    static func seconds(_ body: () -> Void) -> Double {
        let d = ContinuousClock().measure(body)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func median(_ runs: Int = 5, _ body: () -> Double) -> Double {
        let values = (0..<runs).map { _ in body() }.sorted()
        return values[runs / 2]
    }

    static func policy(_ simulator: any Simulator) -> Policy {
        var random = RandomStream(seed: 1)
        return Policy(observationSize: simulator.observationSpace.count, head: PolicyHead(simulator.actionSpace),
                      hiddenSizes: [64, 64], activation: .tanh, initialLogStd: 0, random: &random)
    }

    @Test(arguments: [
        (CartPole.environmentID, VineSettings(trunkSteps: 250, rolloutStates: 64, actionsPerState: 2, rolloutLength: 50, gamma: 0.99)),
        (Hopper.environmentID, VineSettings(trunkSteps: 250, rolloutStates: 32, actionsPerState: 4, rolloutLength: 100, gamma: 0.99)),
    ])
    func collectionRate(id: String, settings: VineSettings) throws {
        let copies = 4
        let sims = try (0..<copies).map { _ in try EnvironmentRegistry.make(id) }
        let policy = Self.policy(sims[0])
        let sampler = VineSampler(simulators: sims, policy: policy, normalizer: nil, seed: 1, stream: 0, settings: settings)
        _ = sampler.collect()  // warm-up
        var steps = 0, trunk = 0, branch = 0
        let time = Self.median {
            var batch: VineBatch?
            let t = Self.seconds { batch = sampler.collect() }
            steps = batch!.simulatorSteps
            trunk = batch!.trunkSteps
            branch = batch!.branchSteps
            return t
        }
        print("[bench] \(id) vine E=\(copies) L=\(settings.trunkSteps) N=\(settings.rolloutStates) K=\(settings.actionsPerState) T=\(settings.rolloutLength): \(steps) steps (trunk \(trunk), branches \(branch)) in \(String(format: "%.2f", time * 1e3)) ms = \(Int(Double(steps) / time)) steps/s")

        // Single path on the same copies, for comparison.
        let single = SinglePathSampler(simulators: try (0..<copies).map { _ in try EnvironmentRegistry.make(id) }, policy: policy,
                                       normalizer: nil, seed: 1, stream: 0)
        let singleTime = Self.median { Self.seconds { _ = single.collect(steps: 4000) } }
        print("[bench] \(id) single path E=\(copies): \(Int(4000 / singleTime)) steps/s")

        // Snapshot + restore, and restore alone.
        let sim = sims[0]
        var random = RandomStream(seed: 3)
        sim.reset(using: &random)
        let snapshot = sim.snapshot()
        let count = 20_000
        let both = Self.median { Self.seconds { for _ in 0..<count { sim.restore(sim.snapshot()) } } } / Double(count)
        let restore = Self.median { Self.seconds { for _ in 0..<count { sim.restore(snapshot) } } } / Double(count)
        let step = Self.median {
            sim.restore(snapshot)
            let action = [Double](repeating: 0, count: sim.actionSpace.width)
            return Self.seconds { for _ in 0..<2000 { if sim.step(action).terminated { sim.restore(snapshot) } } } / 2000
        }
        print("[bench] \(id) snapshot+restore \(String(format: "%.0f", both * 1e9)) ns, restore \(String(format: "%.0f", restore * 1e9)) ns, step \(String(format: "%.0f", step * 1e9)) ns")

        // One-row forward passes (what exact CRN costs) against batched rows.
        let evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: .tanh, capacity: 8)
        evaluator.load(policy.network)
        let input = [Double](repeating: 0.1, count: 8 * policy.observationSize)
        var output = [Double](repeating: 0, count: 8 * policy.head.outputWidth)
        let oneRow = Self.median { Self.seconds { for _ in 0..<20_000 { evaluator.evaluate(input, rows: 1, into: &output) } } } / 20_000
        let eightRows = Self.median { Self.seconds { for _ in 0..<20_000 { evaluator.evaluate(input, rows: 8, into: &output) } } } / 20_000
        print("[bench] \(id) 64x64 forward: 1 row \(String(format: "%.0f", oneRow * 1e9)) ns, 8 rows \(String(format: "%.0f", eightRows * 1e9 / 8)) ns/row")
    }

    /// Spread of Q̂ within a state (mean over states of Σ_k (Q̂_k − Q̄)²/(K−1)) with and
    /// without CRN; same rollout set and first actions, so only the continuation noise differs.
    @Test(arguments: [Pendulum.environmentID, Hopper.environmentID])
    func commonRandomNumbersShrinkTheSpread(id: String) throws {
        var spread: [Bool: Double] = [:]
        for crn in [true, false] {
            let settings = VineSettings(trunkSteps: 200, rolloutStates: 64, actionsPerState: 4, rolloutLength: 50, gamma: 0.99,
                                        commonRandomNumbers: crn)
            let sims = try (0..<2).map { _ in try EnvironmentRegistry.make(id) }
            let sampler = VineSampler(simulators: sims, policy: Self.policy(sims[0]), normalizer: nil, seed: 4, stream: 0, settings: settings)
            var total = 0.0, states = 0
            for _ in 0..<4 {
                let batch = sampler.collect()
                let k = batch.actionsPerState
                for n in 0..<batch.stateCount {
                    let q = batch.branchReturns[(n * k)..<((n + 1) * k)]
                    let mean = q.reduce(0, +) / Double(k)
                    total += q.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(k - 1)
                    states += 1
                }
            }
            spread[crn] = total / Double(states)
        }
        print("[bench] \(id) within-state Q̂ variance: CRN \(spread[true]!), independent \(spread[false]!), ratio \(spread[true]! / spread[false]!)")
    }
}
