import Core
import Foundation
import Learner
import Simulators
import Sampling

/// One measured figure.
public struct BenchmarkResult: Sendable, Codable {
    /// What was measured, e.g. `policy_forward_single`.
    public var name: String
    /// The setting, e.g. `11-64-64-3 tanh`.
    public var setting: String
    /// Median over the repeats.
    public var value: Double
    public var unit: String
    public var repeats: Int
    /// Fastest and slowest repeat.
    public var minimum: Double
    public var maximum: Double
}

/// The micro- and macro-benchmarks behind `trpo bench` (release builds only give meaningful
/// figures). Each figure is the median over repeats of a timed loop on one thread.
public struct BenchmarkSuite {
    public var repeats: Int
    /// Scales the work per repeat (1 = default sizes; smaller for a quick smoke run).
    public var scale: Double

    public init(repeats: Int = 5, scale: Double = 1) {
        self.repeats = repeats
        self.scale = scale
    }

    /// Median, min and max of `repeats` runs of `body`, each returning a figure.
    func measure(_ name: String, _ setting: String, unit: String, _ body: () -> Double) -> BenchmarkResult {
        _ = body()  // warm-up
        let values = (0..<repeats).map { _ in body() }.sorted()
        return BenchmarkResult(name: name, setting: setting, value: values[values.count / 2], unit: unit,
                               repeats: repeats, minimum: values.first!, maximum: values.last!)
    }

    static func seconds(_ body: () -> Void) -> Double { ContinuousClock().measure(body).seconds }

    /// A policy and observations of the given shape, from a fixed seed.
    static func policy(observationSize: Int, head: PolicyHead) -> Policy {
        var random = RandomStream(seed: 42, path: [1])
        return Policy(observationSize: observationSize, head: head, hiddenSizes: [64, 64], random: &random)
    }

    static func observations(rows: Int, columns: Int) -> Matrix {
        var random = RandomStream(seed: 42, path: [2])
        return Matrix(rows: rows, columns: columns, storage: (0..<(rows * columns)).map { _ in random.normal() })
    }

    // MARK: - Policy forward

    /// Single-observation forward of the sampling evaluator (ns per call).
    public func singleForward(observationSize: Int, head: PolicyHead, label: String) -> BenchmarkResult {
        let policy = BenchmarkSuite.policy(observationSize: observationSize, head: head)
        let evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: .tanh, capacity: 1)
        evaluator.load(policy.network)
        let input = BenchmarkSuite.observations(rows: 1, columns: observationSize).storage
        var output = [Double](repeating: 0, count: head.outputWidth)
        let calls = Int(200_000 * scale)
        return measure("policy_forward_single", label, unit: "ns/call") {
            var sink = 0.0
            let t = BenchmarkSuite.seconds {
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { y in
                        for _ in 0..<calls {
                            evaluator.evaluate(x.baseAddress!, rows: 1, into: y.baseAddress!)
                            sink += y[0]
                        }
                    }
                }
            }
            precondition(sink.isFinite)
            return t / Double(calls) * 1e9
        }
    }

    /// Batched forward per sample: the sampling evaluator (single precision) on `rows` rows,
    /// and the learner's double-precision forward on a large batch.
    public func batchedForward(observationSize: Int, head: PolicyHead, label: String) -> [BenchmarkResult] {
        let policy = BenchmarkSuite.policy(observationSize: observationSize, head: head)
        let rows = 256
        let evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: .tanh, capacity: rows)
        evaluator.load(policy.network)
        let input = BenchmarkSuite.observations(rows: rows, columns: observationSize).storage
        var output = [Double](repeating: 0, count: rows * head.outputWidth)
        let calls = Int(2_000 * scale)
        let sampling = measure("policy_forward_batched_sampling", "\(label), \(rows) rows, float32", unit: "ns/sample") {
            let t = BenchmarkSuite.seconds {
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { y in
                        for _ in 0..<calls { evaluator.evaluate(x.baseAddress!, rows: rows, into: y.baseAddress!) }
                    }
                }
            }
            return t / Double(calls * rows) * 1e9
        }
        let n = Int(50_000 * scale)
        let batch = BenchmarkSuite.observations(rows: n, columns: observationSize)
        let learner = measure("policy_forward_batched_learner", "\(label), \(n) rows, float64", unit: "ns/sample") {
            BenchmarkSuite.seconds { _ = policy.network.forward(batch) } / Double(n) * 1e9
        }
        return [sampling, learner]
    }

    // MARK: - Sampling

    /// CartPole-v1 environment steps per second on one core with a 64×64 tanh policy in the
    /// loop, for `copies` environments stepped in lockstep (collection included: observations,
    /// actions, rewards and ends are recorded as for training).
    public func samplingThroughput(environment: String, copies: Int) throws -> BenchmarkResult {
        let probe = try EnvironmentRegistry.make(environment)
        let policy = BenchmarkSuite.policy(observationSize: probe.observationSpace.count, head: PolicyHead(probe.actionSpace))
        let simulators = try (0..<copies).map { _ in try EnvironmentRegistry.make(environment) }
        var normalizer = RunningNormalizer(size: probe.observationSpace.count)
        normalizer.update(with: BenchmarkSuite.observations(rows: 64, columns: probe.observationSpace.count))
        let sampler = SinglePathSampler(simulators: simulators, policy: policy, normalizer: normalizer, seed: 1, stream: 0)
        let steps = Int(200_000 * scale)
        return measure("sampling_throughput", "\(environment), 64x64 tanh policy, \(copies) envs in lockstep", unit: "steps/s") {
            var collected = 0
            let t = BenchmarkSuite.seconds { collected = sampler.collect(steps: steps).count }
            return Double(collected) / t
        }
    }

    // MARK: - Update

    /// `TRPO_BENCH_PRECISION=single|double` overrides the products' precision of the policy-
    /// step and value-fit figures, so one binary measures both back to back.
    static var precisionOverride: Precision? {
        ProcessInfo.processInfo.environment["TRPO_BENCH_PRECISION"].flatMap(Precision.init(rawValue:))
    }

    /// A synthetic batch: 11 inputs, 3 Gaussian actions sampled from the policy, advantages
    /// correlated with the actions so the surrogate has a real gradient.
    static func updateBatch(samples n: Int, policy: Policy) -> PolicyBatch<Matrix> {
        let observations = BenchmarkSuite.observations(rows: n, columns: policy.observationSize)
        let means = policy.network.forward(observations).output
        var random = RandomStream(seed: 42, path: [3])
        var actions = Matrix(rows: n, columns: 3)
        var advantages = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<3 {
                actions[i, j] = means[i, j] + random.normal()
            }
            advantages[i] = actions[i, 0] - 0.5 * actions[i, 1] + 0.3 * random.normal()
        }
        return PolicyBatch(observations: observations, actions: actions, advantages: normalized(advantages))
    }

    /// Seconds of one TRPO policy step (gradient, CG, step scaling, line search) for an
    /// 11-input, 3-action Gaussian policy with 64×64 tanh layers.
    public func policyStepTime(samples: Int, fisherSubsample: Double) -> BenchmarkResult {
        let n = max(64, Int(Double(samples) * scale))
        let policy0 = BenchmarkSuite.policy(observationSize: 11, head: .gaussian(dimensions: 3))
        let batch = BenchmarkSuite.updateBatch(samples: n, policy: policy0)
        var configuration = TRPOConfiguration()
        configuration.fisherSubsample = fisherSubsample
        if let precision = BenchmarkSuite.precisionOverride { configuration.productPrecision = precision }
        let label = "\(n) samples, 11-64-64-3 Gaussian, CG 10, Fisher on \(Int(fisherSubsample * 100))%, \(configuration.productPrecision) products"
        return measure("trpo_policy_step", label, unit: "s") {
            var policy = policy0
            var random = RandomStream(seed: 7)
            return BenchmarkSuite.seconds { _ = policy.trpoStep(batch, configuration: configuration, random: &random) }
        }
    }

    /// Seconds of one value fit (11-64-64-1 tanh network, Adam) on `samples` samples.
    public func valueFitTime(samples: Int, configuration: ValueFitConfiguration) -> BenchmarkResult {
        var configuration = configuration
        if let precision = BenchmarkSuite.precisionOverride { configuration.precision = precision }
        let n = max(64, Int(Double(samples) * scale))
        let policy = BenchmarkSuite.policy(observationSize: 11, head: .gaussian(dimensions: 3))
        let batch = BenchmarkSuite.updateBatch(samples: n, policy: policy)
        var random = RandomStream(seed: 8)
        let value0 = ValueFunction(observationSize: 11, hiddenSizes: [64, 64], learningRate: configuration.learningRate, random: &random)
        let targets = batch.advantages.map { $0 * 10 }
        let predictions = value0.predict(batch.observations)  // the trainer's GAE has them
        let label = "\(n) samples, 11-64-64-1, \(configuration.epochs) epochs of minibatch \(configuration.minibatchSize) Adam, \(configuration.precision)"
        return measure("value_fit", label, unit: "s") {
            var value = value0
            var random = RandomStream(seed: 9)
            return BenchmarkSuite.seconds { _ = value.fit(batch.observations, targets: targets, predictions: predictions,
                                                         configuration: configuration, random: &random) }
        }
    }
}

// MARK: - MuJoCo

extension BenchmarkSuite {
    /// For one MuJoCo environment: the raw `mj_step` rate, a worker's environment-step rate
    /// with a 64×64 policy in the loop (8 copies in lockstep, collection included), that rate
    /// as a fraction of the raw one divided by the frame skip, and the cost of a snapshot plus
    /// a restore.
    public func mujoco(environment: String) throws -> [BenchmarkResult] {
        let probe = try EnvironmentRegistry.make(environment)
        guard let simulator = probe as? any MuJoCoSimulator else { return [] }
        let model = simulator.model
        let rawSteps = Int(50_000 * scale)
        let raw = measure("mujoco_raw_step", "\(environment): mj_step on one thread, random controls", unit: "steps/s") {
            model.rawStepRate(steps: rawSteps)
        }
        let frameSkip = (Double(0.05 / model.timestep)).rounded() == 5 && environment == "HalfCheetah-v4" ? 5.0 : 4.0
        let policy = BenchmarkSuite.policy(observationSize: probe.observationSpace.count, head: PolicyHead(probe.actionSpace))
        let simulators = try (0..<8).map { _ in try EnvironmentRegistry.make(environment) }
        let sampler = SinglePathSampler(simulators: simulators, policy: policy,
                                        normalizer: RunningNormalizer(size: probe.observationSpace.count), seed: 1, stream: 0)
        let envSteps = Int(16_000 * scale)
        let worker = measure("mujoco_worker_steps", "\(environment): 8 copies, 64x64 policy in the loop", unit: "env steps/s") {
            var rows = 0
            let t = BenchmarkSuite.seconds { rows = sampler.collect(steps: envSteps).count }
            return Double(rows) / t
        }
        let fraction = worker.value * frameSkip / raw.value
        var random = RandomStream(seed: 2)
        simulator.reset(using: &random)
        let action = [Double](repeating: 0.1, count: probe.actionSpace.width)
        for _ in 0..<300 { if simulator.step(action).terminated { simulator.reset(using: &random) } }
        let pairs = Int(100_000 * scale)
        let snapshotRestore = measure("mujoco_snapshot_restore", "\(environment): snapshot() + restore(_:)", unit: "µs") {
            BenchmarkSuite.seconds {
                for _ in 0..<pairs { simulator.restore(simulator.snapshot()) }
            } / Double(pairs) * 1e6
        }
        return [raw, worker,
                BenchmarkResult(name: "mujoco_worker_fraction_of_raw", setting: "\(environment): env steps × frame skip \(Int(frameSkip)) / raw",
                                value: fraction, unit: "", repeats: 1, minimum: fraction, maximum: fraction),
                snapshotRestore]
    }
}
