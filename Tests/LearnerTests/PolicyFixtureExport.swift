import Core
import Foundation
import Testing

/// Writes `python/tests/fixtures/policy_reference.json`: policies (layer sizes, activation,
/// parameters, log-stds, normaliser), raw observations, and what Swift computes from them —
/// the normalised observations, the network outputs in double precision (`MLP.forward`), the
/// sampling evaluator's single-precision outputs (`PolicyEvaluator`) and log-probabilities of
/// given actions (`PolicyHead.logProbabilities`). The Python worker's tests check its numpy
/// policy against this file.
///
/// Runs only with `TRPO_WRITE_FIXTURES=1` (`TRPO_WRITE_FIXTURES=1 swift test --filter
/// PolicyFixtureExport`); otherwise it does nothing, so the committed fixture stays put.
@Suite struct PolicyFixtureExport {
    struct Case: Encodable {
        var name: String
        var layerSizes: [Int]
        var activation: String
        var head: String
        var headSize: Int
        var parameters: [Double]
        var logStd: [Double]
        var normalizer: Normalizer?
        var rows: Int
        var observations: [Double]
        var normalizedObservations: [Double]
        var outputs: [Double]
        var evaluatorOutputs: [Double]
        var actions: [Double]
        var logProbabilities: [Double]
    }

    struct Normalizer: Encodable {
        var mean: [Double]
        var variance: [Double]
        var count: Double
        var clip: Double
    }

    struct Fixture: Encodable {
        var description: String
        var cases: [Case]
    }

    static func makeCase(name: String, observationSize: Int, hidden: [Int], activation: Activation, head: PolicyHead,
                         normalized: Bool, clip: Double, seed: UInt64) -> Case {
        var random = RandomStream(seed: seed, path: [42])
        let layerSizes = [observationSize] + hidden + [head.outputWidth]
        let count = MLP.parameterCount(layerSizes: layerSizes)
        let parameters = (0..<count).map { _ in random.normal() * 0.5 }
        let network = MLP(layerSizes: layerSizes, activation: activation, parameters: parameters)
        let logStd = (0..<head.logStdCount).map { _ in random.uniform(-1, 0.5) }
        let policy = Policy(head: head, network: network, logStd: logStd)
        var normalizer: RunningNormalizer? = nil
        if normalized {
            let mean = (0..<observationSize).map { _ in random.normal() }
            // One zero variance: the 1e-8 epsilon then decides the scale.
            let variance = (0..<observationSize).map { j in j == observationSize - 1 ? 0 : random.uniform(0.1, 4) }
            normalizer = RunningNormalizer(mean: mean, variance: variance, count: 1234.5, clip: clip)
        }
        let rows = 17
        var observations = (0..<(rows * observationSize)).map { _ in random.normal() * 2 }
        // A few outliers so clipping matters.
        observations[0] = 1e3
        observations[observationSize + 1] = -1e3
        let raw = Matrix(rows: rows, columns: observationSize, storage: observations)
        let input = normalizer?.normalized(raw) ?? raw
        let outputs = policy.network.forward(input).output
        let evaluator = PolicyEvaluator(layerSizes: layerSizes, activation: activation, capacity: rows)
        evaluator.load(policy.network)
        var evaluated = [Double](repeating: 0, count: rows * head.outputWidth)
        input.storage.withUnsafeBufferPointer { i in
            evaluated.withUnsafeMutableBufferPointer { o in evaluator.evaluate(i.baseAddress!, rows: rows, into: o.baseAddress!) }
        }
        var actions: [Double] = []
        switch head {
        case .categorical(let k):
            actions = (0..<rows).map { Double($0 % k) }
        case .gaussian(let d):
            actions = (0..<(rows * d)).map { outputs.storage[$0] + random.normal() }
        }
        let actionMatrix = Matrix(rows: rows, columns: head.actionWidth, storage: actions)
        let logProbabilities = head.logProbabilities(outputs: outputs, logStd: logStd, actions: actionMatrix)
        let headName: String
        switch head {
        case .categorical: headName = "categorical"
        case .gaussian: headName = "gaussian"
        }
        return Case(
            name: name, layerSizes: layerSizes, activation: activation.rawValue, head: headName,
            headSize: head.outputWidth, parameters: parameters, logStd: logStd,
            normalizer: normalizer.map { Normalizer(mean: $0.mean, variance: $0.variance, count: $0.count, clip: $0.clip) },
            rows: rows, observations: observations, normalizedObservations: input.storage,
            outputs: outputs.storage, evaluatorOutputs: evaluated, actions: actions,
            logProbabilities: logProbabilities)
    }

    @Test func writePolicyFixture() throws {
        guard ProcessInfo.processInfo.environment["TRPO_WRITE_FIXTURES"] == "1" else { return }
        let fixture = Fixture(
            description: "Written by Tests/LearnerTests/PolicyFixtureExport.swift (TRPO_WRITE_FIXTURES=1 swift test --filter PolicyFixtureExport). Arrays are row-major.",
            cases: [
                Self.makeCase(name: "categorical-tanh", observationSize: 4, hidden: [64, 64], activation: .tanh,
                         head: .categorical(actions: 2), normalized: true, clip: 10, seed: 1),
                Self.makeCase(name: "categorical3-tanh-clip3", observationSize: 6, hidden: [32], activation: .tanh,
                         head: .categorical(actions: 3), normalized: true, clip: 3, seed: 2),
                Self.makeCase(name: "gaussian-tanh", observationSize: 3, hidden: [64, 64], activation: .tanh,
                         head: .gaussian(dimensions: 1), normalized: false, clip: 10, seed: 3),
                Self.makeCase(name: "gaussian3-relu", observationSize: 5, hidden: [16, 8], activation: .relu,
                         head: .gaussian(dimensions: 3), normalized: true, clip: 10, seed: 4),
            ])
        try PythonFixture.write(fixture, named: "policy_reference.json")
    }
}
