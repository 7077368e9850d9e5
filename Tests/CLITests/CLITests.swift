import Foundation
import Testing

/// Runs the built `trpo` executable as a user would and checks exit codes, messages and files.
@Suite struct CLITests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let executable = Bundle.main.bundleURL.appendingPathComponent("trpo")

    static func run(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test(arguments: [
        (["train", "--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
        (["train"], "--env is required"),
        (["train", "--env", "CartPole-v1", "--max-kl=-1"], "max KL must be positive"),
        (["train", "--env", "CartPole-v1", "--hidden", "64,x"], "--hidden takes positive widths"),
        (["train", "--env", "CartPole-v1", "--fisher-subsample", "1.5"], "Fisher subsample must be in (0, 1]"),
        (["train", "--resume", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["eval", "--checkpoint", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["plot", "/nonexistent/run", "--out", "/tmp/never.svg"], "/nonexistent/run"),
        (["bench", "--only", "everything"], "--only takes one of"),
    ])
    func badInputIsOneLineAndExitCodeTwo(arguments: [String], message: String) throws {
        let outcome = try Self.run(arguments)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains(message), "stderr was: \(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("error: "))
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func trainEvalPlotAndResumeAsAUserWould() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        let train = try Self.run(["train", "--env", "CartPole-v1", "--steps", "2048", "--batch-steps", "1024",
                                  "--vf-epochs", "2", "--out", run.path])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        #expect(train.stderr.contains("iter    1/2"))
        #expect(train.stdout.contains("done: 2,048 steps"))
        for file in ["config.json", "progress.csv", "checkpoint.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file) missing")
        }
        let csv = try String(contentsOf: run.appendingPathComponent("progress.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("iteration,timesteps,wall_seconds,episode_return_mean,episode_length_mean,episodes,kl,surrogate_before,surrogate_after,entropy,explained_variance,backtracks,cg_residual,accepted"))

        let eval = try Self.run(["eval", "--checkpoint", run.path, "--episodes", "3", "--deterministic"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("3 deterministic episodes: return"))

        let svg = root.appendingPathComponent("curve.svg")
        let plot = try Self.run(["plot", run.path, "--out", svg.path])
        #expect(plot.status == 0, "stderr: \(plot.stderr)")
        #expect(try String(contentsOf: svg, encoding: .utf8).contains("<svg"))

        // A finished run resumed has nothing left to do and says so.
        let resumed = try Self.run(["train", "--resume", run.path, "--quiet"])
        #expect(resumed.status == 0)
        #expect(resumed.stdout.contains("done: 2,048 steps"))

        // A damaged checkpoint is refused by name.
        try Data("{\"configuration\": 1".utf8).write(to: run.appendingPathComponent("checkpoint.json"))
        let broken = try Self.run(["eval", "--checkpoint", run.path])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("corrupt checkpoint"))
    }

    @Test func envListAndReplay() throws {
        let list = try Self.run(["env", "list"])
        #expect(list.status == 0)
        for id in ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0"] {
            #expect(list.stdout.contains(id))
        }
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let input = root.appendingPathComponent("replay.json")
        try Data(#"{"state": [0.0, 0.0, 0.0, 0.0], "actions": [1, 0, 1]}"#.utf8).write(to: input)
        let replay = try Self.run(["env", "replay", "--env", "CartPole-v1", "--input", input.path])
        #expect(replay.status == 0)
        let lines = replay.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix(#"{"t":0,"obs":["#))
        try Data(#"{"state": [0.0, 0.0], "actions": [1]}"#.utf8).write(to: input)
        let bad = try Self.run(["env", "replay", "--env", "CartPole-v1", "--input", input.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("state has 2 values, expected 4"))
    }
}
