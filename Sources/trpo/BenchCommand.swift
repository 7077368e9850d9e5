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

    /// The groups of figures, in the order they run.
    enum Group: String, CaseIterable, ExpressibleByArgument {
        case forward, sampling, policy, value, mujoco, distributed, convolution, atari
    }

    @Option(parsing: .unconditional, help: "Timed repeats per figure (after one warm-up).")
    var repeats: Int = 5

    @Option(parsing: .unconditional, help: "Scale of the work per repeat (1 = full sizes; e.g. 0.05 for a quick smoke run).")
    var scale: Double = 1

    @Option(help: "Run one group only.")
    var only: Group?

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard repeats > 0 else { throw ValidationError("--repeats must be positive (got \(repeats))") }
        guard scale > 0, scale <= 10 else { throw ValidationError("--scale must be in (0, 10] (got \(scale))") }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let suite = BenchmarkSuite(repeats: repeats, scale: scale)
        var results: [BenchmarkResult] = []
        func show(_ r: BenchmarkResult) {
            results.append(r)
            func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
            let line = pad(r.name, 32) + String(format: "%12.4g ", r.value) + pad(r.unit, 10)
                + String(format: " (min %.4g, max %.4g)  ", r.minimum, r.maximum) + r.setting
            FileHandle.standardOutput.write(Data((line + "\n").utf8))  // unbuffered: one line per figure as it comes
        }
        func runs(_ group: Group) -> Bool { only == nil || only == group }
        if runs(.forward) {
            show(suite.singleForward(observationSize: 4, head: .categorical(actions: 2), label: "4-64-64-2 tanh (CartPole)"))
            show(suite.singleForward(observationSize: 11, head: .gaussian(dimensions: 3), label: "11-64-64-3 tanh (Hopper)"))
            suite.batchedForward(observationSize: 4, head: .categorical(actions: 2), label: "4-64-64-2 tanh").forEach(show)
            suite.batchedForward(observationSize: 11, head: .gaussian(dimensions: 3), label: "11-64-64-3 tanh").forEach(show)
        }
        if runs(.sampling) {
            for copies in [1, 16, 64] {
                show(try suite.samplingThroughput(environment: "CartPole-v1", copies: copies))
            }
        }
        if runs(.policy) {
            for samples in [32_768, 50_000] {
                for fraction in [1, 0.1] { show(suite.policyStepTime(samples: samples, fisherSubsample: fraction)) }
            }
        }
        if runs(.value) {
            // Our default fit, and the work sb3-contrib's default does (10 epochs of 128).
            var sb3Work = ValueFitConfiguration()
            sb3Work.minibatchSize = 128
            for samples in [32_768, 50_000] {
                for configuration in [ValueFitConfiguration(), sb3Work] {
                    show(suite.valueFitTime(samples: samples, configuration: configuration))
                }
            }
        }
        if runs(.mujoco) {
            for environment in ["Hopper-v4", "Walker2d-v4", "HalfCheetah-v4", "Swimmer-v4"] {
                try suite.mujoco(environment: environment).forEach(show)
            }
        }
        if runs(.distributed) {
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            for environment in ["CartPole-v1", "Pendulum-v1"] {
                for workers in [0, 1, 2] {
                    show(try suite.distributedSampling(environment: environment, workers: workers, executable: executable,
                                                       seconds: 3 * scale))
                }
            }
            for curve in [false, true] { try suite.ingestCapacity(curve: curve).forEach(show) }
            show(try suite.broadcastLatency(workers: 2, hidden: [64, 64]))
        }
        if runs(.convolution) {
            let presets: [(ConvolutionalArchitecture, String)] = [
                (.dqn2013, "dqn2013 (16x8x8/4, 32x4x4/2, 256) relu"),
                (.cnnSmall, "cnn_small (8x8x8/4, 16x4x4/2, 128) relu"),
                (.paperAtari, "paper (16x4x4/2, 16x4x4/2, 20) relu"),
            ]
            for (architecture, label) in presets { suite.convolution(architecture, label: label).forEach(show) }
            for (architecture, label) in presets { show(suite.convolutionalValueFit(architecture, label: label)) }
        }
        if only == .atari {
            // Not in the default run: 10,000 frames are 282 MB and the steps take tens of seconds.
            suite.atariPolicyStep(.cnnSmall, label: "cnn_small (8x8x8/4, 16x4x4/2, 128) relu").forEach(show)
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
    }
}
