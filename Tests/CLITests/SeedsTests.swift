import Foundation
import Testing

/// `trpo train --seeds` and `trpo plot` of the runs it makes, as a user would run them.
@Suite struct SeedsTests {
    /// A two-iteration CartPole run: a few seconds even in a debug build.
    static let shortRun = ["train", "--env", "CartPole-v1", "--steps", "2048", "--batch-steps", "1024", "--vf-epochs", "2"]

    /// `progress.csv` without the columns that measure time, which differ between any two runs.
    static func progressWithoutTimes(_ directory: URL) throws -> [[Substring]] {
        let rows = try String(contentsOf: directory.appendingPathComponent("progress.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let timing: Set<Substring> = ["wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds", "samples_per_second"]
        let keep = rows[0].indices.filter { !timing.contains(rows[0][$0]) }
        return rows.map { row in keep.map { row[$0] } }
    }

    @Test(arguments: [
        (["--seeds", "3-1"], "invalid for '--seeds"),
        (["--seeds", "1,2,1"], "invalid for '--seeds"),
        (["--seeds", "1-3,2"], "invalid for '--seeds"),
        (["--seeds", ""], "invalid for '--seeds"),
        (["--seeds", "1,,2"], "invalid for '--seeds"),
        (["--seeds", "1-2", "--seed", "1"], "--seeds and --seed contradict each other"),
        (["--seeds", "1-2", "--resume", "runs/x"], "--seeds starts new runs"),
        (["--seeds", "1-2", "--tensorboard", "tb"], "--tensorboard DIR would be shared"),
        (["--seeds", "1-2", "--parallel", "--workers", "2"], "--parallel runs each seed in one process"),
        (["--parallel"], "--parallel applies to --seeds"),
    ])
    func malformedSeedsAreUsageErrors(extra: [String], message: String) throws {
        let outcome = try CLITests.run(["train", "--env", "CartPole-v1"] + extra)
        #expect(outcome.status == 64, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
    }

    /// Each seed's run is the run `--seed S` makes; the summary names every seed and the statistics.
    @Test func eachSeedIsTheRunOfItsSeed() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let sweep = try CLITests.run(Self.shortRun + ["--seeds", "1-2", "--out", root.appendingPathComponent("cp").path])
        #expect(sweep.status == 0, "stderr: \(sweep.stderr)")
        let single = root.appendingPathComponent("single")
        let alone = try CLITests.run(Self.shortRun + ["--seed", "2", "--out", single.path, "--quiet"])
        #expect(alone.status == 0, "stderr: \(alone.stderr)")
        let seed2 = root.appendingPathComponent("cp-seed2")
        #expect(try Self.progressWithoutTimes(seed2) == Self.progressWithoutTimes(single))
        #expect(try Self.progressWithoutTimes(seed2) != Self.progressWithoutTimes(root.appendingPathComponent("cp-seed1")))
        let lines = sweep.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("1 | \(root.path)/cp-seed1 | ") }, "stdout: \(sweep.stdout)")
        #expect(lines.contains { $0.hasPrefix("2 | \(root.path)/cp-seed2 | ") }, "stdout: \(sweep.stdout)")
        #expect(lines.last?.hasPrefix("mean ") == true && lines.last!.contains("IQM")
                && lines.last!.contains("95% bootstrap CI of the mean ["), "stdout: \(sweep.stdout)")

        // Plotted together: one configuration, one line with a band, titled by the environment.
        let svg = root.appendingPathComponent("seeds.svg")
        let plot = try CLITests.run(["plot", root.appendingPathComponent("cp-seed1").path, seed2.path, "--out", svg.path])
        #expect(plot.status == 0, "stderr: \(plot.stderr)")
        let text = try String(contentsOf: svg, encoding: .utf8)
        #expect(text.components(separatedBy: "<polyline").count == 2)
        #expect(text.components(separatedBy: "<polygon").count == 2)
        #expect(text.contains(">CartPole-v1 (2 seeds)</text>") && text.contains(">CartPole-v1</text>"))
        // A second configuration: each group labelled by the setting that differs, or by --label.
        let labelled = try CLITests.run(["plot", seed2.path, single.path, root.appendingPathComponent("cp-seed1").path,
                                         "--out", svg.path, "--label", "sweep", "--label", "alone"])
        #expect(labelled.status == 2 && labelled.stderr.contains("2 --label for 1 group of runs"), "stderr: \(labelled.stderr)")
    }

    /// `--parallel` runs the seeds as child processes at once; all of them finish.
    @Test func parallelSeedsAllFinish() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let sweep = try CLITests.run(Self.shortRun + ["--seeds", "1,3", "--parallel", "--out", root.appendingPathComponent("p").path])
        #expect(sweep.status == 0, "stderr: \(sweep.stderr)")
        #expect(sweep.stderr.contains("seed 1: finished") && sweep.stderr.contains("seed 3: finished"), "stderr: \(sweep.stderr)")
        for seed in [1, 3] {
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("p-seed\(seed)/checkpoint.json").path))
        }
    }

    /// The environment may come from a --config file instead of --env.
    @Test func seedsTakeTheEnvironmentFromAConfigFile() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("cartpole.yaml")
        try "env: CartPole-v1\nsteps: 2048\nbatch-steps: 1024\n".write(to: file, atomically: true, encoding: .utf8)
        let sweep = try CLITests.run(["train", "--config", file.path, "--seeds", "1", "--quiet",
                                      "--out", root.appendingPathComponent("c").path])
        #expect(sweep.status == 0, "stderr: \(sweep.stderr)")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("c-seed1/checkpoint.json").path))
    }

    /// Ctrl-C stops every seed's run and says which finished; exit 130.
    @Test func interruptStopsAllSeeds() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let process = Process()
        process.executableURL = CLITests.executable
        process.arguments = ["train", "--env", "CartPole-v1", "--steps", "1000000", "--seeds", "1-3", "--quiet",
                             "--out", root.appendingPathComponent("c").path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Once seed 1's run has logged an iteration, the sweep is under way with its handlers installed.
        let log = root.appendingPathComponent("c-seed1/checkpoint.json")
        while !FileManager.default.fileExists(atPath: log.path) && process.isRunning { usleep(50_000) }
        kill(process.processIdentifier, SIGINT)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "stdout: \(stdout)")
        #expect(stdout.contains("stopped: no seed finished"), "stdout: \(stdout)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("c-seed2").path))
    }

    /// A hand-made run directory: `progress.csv` with `returns` every 1,000 steps and a `config.json`.
    static func fakeRun(_ directory: URL, environment: String, seed: Int, returns: [Double]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let rows = returns.enumerated().map { "\($0 + 1),\(($0 + 1) * 1000),\($1)" }
        try (["iteration,timesteps,episode_return_mean"] + rows).joined(separator: "\n")
            .write(to: directory.appendingPathComponent("progress.csv"), atomically: true, encoding: .utf8)
        try #"{"environment":"\#(environment)","seed":\#(seed),"gamma":0.99}"#
            .write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    }

    @Test func plotWarnsOfMixedEnvironmentsAndWritesAPNG() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try Self.fakeRun(a, environment: "CartPole-v1", seed: 1, returns: [10, 20, 30])
        try Self.fakeRun(b, environment: "Pendulum-v1", seed: 1, returns: [-900, -500, -200])
        let png = root.appendingPathComponent("mixed.png")
        let plot = try CLITests.run(["plot", a.path, b.path, "--out", png.path])
        #expect(plot.status == 0, "stderr: \(plot.stderr)")
        #expect(plot.stderr.split(separator: "\n").count == 1 && plot.stderr.hasPrefix("warning: these runs are of 2 environments"))
        let bytes = try Data(contentsOf: png)
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        // The IHDR chunk: the canvas's 720 × 440 pixels.
        #expect(bytes[16..<24] == Data([0, 0, 0x02, 0xD0, 0, 0, 0x01, 0xB8]))
        // Without rsvg-convert on PATH: one error line naming the Debian package, exit 2.
        let missing = try CLITests.run(["plot", a.path, "--out", png.path], environment: ["PATH": "/nonexistent"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("error: ") && missing.stderr.contains("librsvg2-bin"), "stderr: \(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)
        // Another format is a usage error.
        let pdf = try CLITests.run(["plot", a.path, "--out", root.appendingPathComponent("x.pdf").path])
        #expect(pdf.status == 64 && pdf.stderr.contains("must end in .svg or .png"), "stderr: \(pdf.stderr)")
    }
}
