import ArgumentParser
import Bench
import Core
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure policy forward, sampling and update speed on this machine (use the release build).",
        discussion: "Figures are medians over --repeats timed runs on one thread; docs/benchmarks.md records them."
    )

    @Option(help: "Timed repeats per figure (after one warm-up).")
    var repeats: Int = 5

    @Option(help: "Scale of the work per repeat (1 = full sizes; e.g. 0.05 for a quick smoke run).")
    var scale: Double = 1

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    func run() throws {
        guard repeats > 0 else { throw usageFailure("--repeats must be positive") }
        guard scale > 0, scale <= 10 else { throw usageFailure("--scale must be in (0, 10]") }
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let suite = BenchmarkSuite(repeats: repeats, scale: scale)
        var results: [BenchmarkResult] = []
        func show(_ r: BenchmarkResult) {
            results.append(r)
            print(String(format: "%-32@ %14.4g %-10@ (min %.4g, max %.4g)  %@", r.name, r.value, r.unit, r.minimum, r.maximum, r.setting))
        }
        show(suite.singleForward(observationSize: 4, head: .categorical(actions: 2), label: "4-64-64-2 tanh (CartPole)"))
        show(suite.singleForward(observationSize: 11, head: .gaussian(dimensions: 3), label: "11-64-64-3 tanh (Hopper)"))
        suite.batchedForward(observationSize: 4, head: .categorical(actions: 2), label: "4-64-64-2 tanh").forEach(show)
        suite.batchedForward(observationSize: 11, head: .gaussian(dimensions: 3), label: "11-64-64-3 tanh").forEach(show)
        for copies in [1, 16, 64] {
            show(try suite.samplingThroughput(environment: "CartPole-v1", copies: copies))
        }
        let valueFit = ValueFitConfiguration()
        for samples in [32_768, 50_000] {
            suite.updateTimes(samples: samples, fisherSubsample: 1, valueFit: valueFit).forEach(show)
            suite.updateTimes(samples: samples, fisherSubsample: 0.1, valueFit: valueFit).forEach(show)
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
    }
}
