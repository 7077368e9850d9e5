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

    /// Runs `trpo arguments` to its end, with this process's environment changed by `environment`.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
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

    /// A malformed command line: one message naming the option, exit 64 (argument-parser's
    /// validation failure), however the value was written.
    @Test(arguments: [
        (["train", "--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
        (["train"], "--env is required"),
        (["train", "--env", "CartPole-v1", "--max-kl=-1"], "Error: --max-kl -1.0: max KL must be positive (got -1.0)"),
        (["train", "--env", "CartPole-v1", "--max-kl", "-1"], "Error: --max-kl -1.0: max KL must be positive (got -1.0)"),
        (["train", "--env", "CartPole-v1", "--steps", "-5"], "Error: --steps -5: total steps must be positive (got -5)"),
        (["train", "--env", "CartPole-v1", "--steps=-5"], "Error: --steps -5: total steps must be positive (got -5)"),
        (["train", "--env", "CartPole-v1", "--workers", "-1"], "--workers must be 0 or more (got -1)"),
        (["variance", "--env", "CartPole-v1", "--workers", "-1"], "--workers must be 0 or more (got -1)"),
        (["variance", "--env", "CartPole-v1", "--long-horizon", "1"], "--long-horizon must be at least 2 steps (got 1)"),
        (["variance", "--env", "CartPole-v1", "--horizon-collections", "0"], "--horizon-collections must be at least 1 (got 0)"),
        (["variance", "--env", "CartPole-v1", "--vine-bootstrap", "both"], "'both'"),
        (["eval", "--checkpoint", "x", "--episodes", "-3"], "--episodes must be positive (got -3)"),
        (["train", "--env", "CartPole-v1", "--hidden", "64,x"], "give positive widths separated by commas, e.g. 64,64"),
        (["train", "--env", "CartPole-v1", "--sampler", "vines"], "Please provide one of"),
        (["train", "--env", "CartPole-v1", "--fisher-subsample", "1.5"], "Error: --fisher-subsample 1.5: Fisher subsample must be in (0, 1]"),
        (["train", "--env", "CartPole-v1", "--deterministic"], "--deterministic applies to runs with --workers N"),
        (["train", "--resume", "somewhere", "--overwrite"], "give one of them"),
        (["learner", "--bind", "5555", "--env", "CartPole-v1"], "the form is tcp://HOST:PORT, tcp://*:PORT (every interface) or ipc://PATH"),
        (["learner", "--bind", "tcp://0.0.0.0", "--env", "CartPole-v1"], "a tcp endpoint needs a port"),
        (["worker", "--connect", "learner-host:5555"], "the form is tcp://HOST:PORT or ipc://PATH"),
        (["worker", "--connect", "tcp://*:5555"], "* (every interface) is for binding, not connecting"),
        (["bench", "--only", "everything"], "Please provide one of"),
        (["bench", "--repeats", "-2"], "--repeats must be positive (got -2)"),
        (["plot", "--out", "/tmp/never.svg"], "give at least one run directory to plot"),
        (["plot", "/nonexistent/run", "--out", "/tmp/never.svg", "--x", "steps"], "Please provide one of"),
        (["env", "replay", "--env", "NoSuchEnv-v0", "--input", "/nonexistent/input.json"], "unknown environment 'NoSuchEnv-v0'"),
        (["learner", "--bind", "ipc:///tmp/never.sock", "--env", "CartPole-v1", "--curve-secret", "k.key"],
         "--curve-secret and --allow-workers go together"),
    ])
    func aMalformedCommandLineIsAUsageErrorWithExitCode64(arguments: [String], message: String) throws {
        let outcome = try Self.run(arguments)
        #expect(outcome.status == 64, "stderr was: \(outcome.stderr)")
        #expect(outcome.stderr.contains(message), "stderr was: \(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("Error: "), "stderr was: \(outcome.stderr)")
    }

    /// A well-formed command that cannot be carried out: one `error:` line, exit 2.
    @Test(arguments: [
        (["train", "--resume", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["eval", "--checkpoint", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["plot", "/nonexistent/run", "--out", "/tmp/never.svg"], "/nonexistent/run"),
    ])
    func aCommandThatCannotBeCarriedOutIsOneLineAndExitCodeTwo(arguments: [String], message: String) throws {
        let outcome = try Self.run(arguments)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains(message), "stderr was: \(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("error: "))
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    /// Bare `trpo` is a usage error: its help on standard error, and a failing status.
    @Test func bareTrpoPrintsItsHelpAndFails() throws {
        let outcome = try Self.run([])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("USAGE: trpo <subcommand>"), "stderr was: \(outcome.stderr)")
        #expect(outcome.stderr.contains("Exit status:"))
    }

    /// `--workers` above 4 per core is refused with the bound in the message (issue 11: 100000
    /// started thousands of processes); `--force-workers` lets it through to the next check.
    @Test func tooManyWorkersAreRefusedUnlessForced() throws {
        let bound = 4 * ProcessInfo.processInfo.activeProcessorCount
        let refused = try Self.run(["train", "--env", "CartPole-v1", "--workers", "\(bound + 1)", "--steps", "1"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--workers \(bound + 1) is more than \(bound), 4 per core"), "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("--force-workers"))
        let variance = try Self.run(["variance", "--env", "CartPole-v1", "--workers", "100000", "--budget", "1"])
        #expect(variance.status == 64)
        #expect(variance.stderr.contains("is more than \(bound)"), "stderr: \(variance.stderr)")
        // Forced, the worker count passes and the next problem is the one reported.
        let forced = try Self.run(["train", "--env", "CartPole-v1", "--workers", "\(bound + 1)", "--force-workers", "--steps=-5"])
        #expect(forced.status == 64)
        #expect(forced.stderr.contains("--steps -5: total steps must be positive"), "stderr: \(forced.stderr)")
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
        // Each line shows the mean of the last (up to) 100 finished episodes beside the
        // iteration's own: after iteration 1 those are its episodes, after iteration 2 the last
        // 100 of both (CartPole's first 1,024 steps finish more than 30 episodes each).
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let progress = train.stderr.split(separator: "\n").filter { $0.hasPrefix("iter ") }
        #expect(progress.count == 2)
        if let first = rows.first, progress.count == 2, let mean = Double(first[3]) {
            #expect(progress[0].contains(String(format: "| %d-ep %.1f |", Int(first[5]) ?? -1, mean)), "\(progress[0])")
            let seen = rows.reduce(0) { $0 + (Int($1[5]) ?? 0) }
            #expect(progress[1].contains("| \(min(seen, 100))-ep "), "\(progress[1])")
        }

        let eval = try Self.run(["eval", "--checkpoint", run.path, "--episodes", "3", "--deterministic"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("3 deterministic episodes: return"))

        let svg = root.appendingPathComponent("curve.svg")
        let plot = try Self.run(["plot", run.path, "--out", svg.path])
        #expect(plot.status == 0, "stderr: \(plot.stderr)")
        #expect(try String(contentsOf: svg, encoding: .utf8).contains("<svg"))

        // A finished run resumed has nothing left to do and says so, without training.
        let resumed = try Self.run(["train", "--resume", run.path, "--quiet"])
        #expect(resumed.status == 0)
        #expect(resumed.stdout == "\(run.path) is finished: 2,048 steps done at iteration 2, its total is 2,048; nothing to train "
                + "(give --steps above 2,048 to continue it)\n", "stdout: \(resumed.stdout)")
        let fewer = try Self.run(["train", "--resume", run.path, "--steps", "1024"])
        #expect(fewer.status == 0)
        #expect(fewer.stdout.hasPrefix("\(run.path) is finished: 2,048 steps done at iteration 2, --steps is 1,024;"), "\(fewer.stdout)")
        #expect(!resumed.stdout.contains("done:") && !resumed.stdout.contains("no episode finished"))

        // A damaged checkpoint is refused by name.
        try Data("{\"configuration\": 1".utf8).write(to: run.appendingPathComponent("checkpoint.json"))
        let broken = try Self.run(["eval", "--checkpoint", run.path])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("corrupt checkpoint"))
    }

    /// An endpoint no learner can bind (its directory does not exist): a learner that got as
    /// far as binding ends at once instead of waiting for workers.
    static let unbindable = "ipc:///nonexistent-trpo-directory/learner.sock"

    /// A small finished CartPole-v1 run in `directory`: 2 iterations of 512 steps.
    static func trainSmallCartPole(into directory: URL, _ extra: [String] = []) throws -> Outcome {
        let outcome = try run(["train", "--env", "CartPole-v1", "--steps", "1024", "--batch-steps", "512", "--vf-epochs", "1",
                               "--quiet", "--out", directory.path] + extra)
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        return outcome
    }

    /// Issue 11, point 3: a checkpoint whose policy does not fit the environment it names is
    /// refused by eval, variance and --resume (exit 2), never run past its buffers; variance
    /// refuses an --env other than the checkpoint's, naming both.
    @Test func aCheckpointIsCheckedAgainstItsEnvironment() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        _ = try Self.trainSmallCartPole(into: run)

        let variance = try Self.run(["variance", "--env", "Pendulum-v1", "--checkpoint", run.path, "--replicates", "2",
                                     "--budget", "100", "--out", root.appendingPathComponent("variance").path])
        #expect(variance.status == 2)
        #expect(variance.stderr.contains("--env Pendulum-v1 does not match the checkpoint in \(run.path), which is a run of CartPole-v1"),
                "stderr: \(variance.stderr)")

        let file = run.appendingPathComponent("checkpoint.json")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains(#""environment":"CartPole-v1""#))
        try Data(text.replacingOccurrences(of: #""environment":"CartPole-v1""#, with: #""environment":"Pendulum-v1""#).utf8)
            .write(to: file)
        let expected = "inconsistent checkpoint \(file.path): its policy does not fit Pendulum-v1, the environment it names: "
            + "the policy takes 4 observations and gives 2 discrete actions, Pendulum-v1 has 3 observations and "
            + "1-dimensional continuous actions"
        for arguments in [["eval", "--checkpoint", run.path, "--episodes", "2"],
                          ["variance", "--checkpoint", run.path, "--replicates", "2", "--budget", "100",
                           "--out", root.appendingPathComponent("variance").path],
                          ["train", "--resume", run.path, "--steps", "2048"],
                          ["learner", "--bind", Self.unbindable, "--resume", run.path, "--steps", "2048"]] {
            let outcome = try Self.run(arguments)
            #expect(outcome.status == 2, "\(arguments[0]): \(outcome.stdout)")
            #expect(outcome.stderr == "error: \(expected)\n", "\(arguments[0]): \(outcome.stderr)")
        }
    }

    /// Issue 11, point 4: `train --out` refuses a directory that holds a run unless --resume or
    /// --overwrite; the run in it is untouched.
    @Test func aRunDirectoryIsNeverOverwrittenSilently() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        _ = try Self.trainSmallCartPole(into: run)
        let files = try ["config.json", "progress.csv", "checkpoint.json"].map { try Data(contentsOf: run.appendingPathComponent($0)) }

        let refused = try Self.run(["train", "--env", "Acrobot-v1", "--steps", "512", "--batch-steps", "512", "--out", run.path])
        #expect(refused.status == 2)
        #expect(refused.stderr == "error: \(run.path) already holds a run (checkpoint.json, config.json, progress.csv); "
                + "continue it with --resume \(run.path), or give --overwrite to replace it\n", "stderr: \(refused.stderr)")
        let learner = try Self.run(["learner", "--bind", Self.unbindable, "--env", "Acrobot-v1", "--out", run.path])
        #expect(learner.status == 2)
        #expect(learner.stderr.contains("already holds a run"), "stderr: \(learner.stderr)")
        #expect(try ["config.json", "progress.csv", "checkpoint.json"].map { try Data(contentsOf: run.appendingPathComponent($0)) } == files)

        let overwritten = try Self.run(["train", "--env", "Acrobot-v1", "--steps", "512", "--batch-steps", "512", "--vf-epochs", "1",
                                        "--quiet", "--out", run.path, "--overwrite"])
        #expect(overwritten.status == 0, "stderr: \(overwritten.stderr)")
        #expect(overwritten.stderr.contains("--overwrite: removed the run that was in \(run.path)"))
        let config = try String(contentsOf: run.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("Acrobot-v1"))
        let rows = try String(contentsOf: run.appendingPathComponent("progress.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 2)
    }

    /// Issue 11, point 5: `--resume` says where it starts, `--steps` extends a finished run,
    /// and options that would change the run are refused by name.
    @Test func resumeContinuesTheRunItNamesAndOnlyThatRun() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        _ = try Self.trainSmallCartPole(into: run)

        let changed = try Self.run(["train", "--resume", run.path, "--env", "Pendulum-v1", "--max-kl", "0.5", "--seed", "1",
                                    "--batch-steps", "512"])
        #expect(changed.status == 2)
        #expect(changed.stderr == "error: --resume \(run.path) continues the run as it was configured; only --steps, "
                + "--vine-bootstrap, --vine-length, --vine-kl-states may change, and --env Pendulum-v1 is not the run's CartPole-v1; --max-kl 0.5 is not the run's 0.01\n", "stderr: \(changed.stderr)")

        // The same options as the run's (as a restart passes them) and a larger budget: it goes on.
        let extended = try Self.run(["train", "--resume", run.path, "--env", "CartPole-v1", "--batch-steps", "512", "--steps", "2048",
                                     "--vf-epochs", "1", "--out", run.path + "/"])
        #expect(extended.status == 0, "stderr: \(extended.stderr)")
        #expect(extended.stderr.hasPrefix("resuming \(run.path) from iteration 2 (1,024 steps; the run ends at 2,048)\n"),
                "stderr: \(extended.stderr)")
        #expect(extended.stderr.contains("iter    3/4") && extended.stderr.contains("iter    4/4"))
        #expect(extended.stdout.hasPrefix("done: 2,048 steps"))
        let rows = try String(contentsOf: run.appendingPathComponent("progress.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.dropFirst().map { $0.split(separator: ",")[0] } == ["1", "2", "3", "4"])
    }

    /// Issue 13: a vine resumed with another Q̂ estimator (here the plateau experiment's
    /// `--vine-bootstrap none` → `value`, a longer T, the KL on the trunks) goes on with it,
    /// says so, and its checkpoint records it; a value the configuration refuses is an error.
    @Test func aVineResumesWithAnotherEstimator() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("vine")
        let started = try Self.run(["train", "--env", "Pendulum-v1", "--sampler", "vine", "--steps", "4000", "--trunk-steps", "100",
                                    "--vine-states", "20", "--vine-length", "10", "--vine-bootstrap", "none", "--quiet", "--out", run.path])
        #expect(started.status == 0, "stderr: \(started.stderr)")
        let refused = try Self.run(["train", "--resume", run.path, "--steps", "8000", "--vine-length", "0"])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("error: --resume \(run.path): --vine-length 0: "), "stderr: \(refused.stderr)")
        let resumed = try Self.run(["train", "--resume", run.path, "--steps", "8000", "--vine-bootstrap", "value",
                                    "--vine-length", "20", "--vine-kl-states", "trunks"])
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
        #expect(resumed.stderr.contains(" with --vine-length 20 (was 10), --vine-bootstrap value (was none), "
                                        + "--vine-kl-states trunks (was rollout-set)\n"), "stderr: \(resumed.stderr)")
        let saved = try Self.run(["train", "--resume", run.path, "--print-config"])
        #expect(saved.stdout.contains("\nvine-length: 20\n") && saved.stdout.contains("\nvine-bootstrap: value\n")
                && saved.stdout.contains("\nvine-kl-states: trunks\n"), "\(saved.stdout)")
    }

    /// Issue 11, point 8: Ctrl-C in `train` (one process, or `--workers 2`) ends with a line that
    /// says the run was interrupted, where its checkpoint is and how to go on, not "done"; and
    /// the checkpoint holds the last iteration in progress.csv although `--checkpoint-every`
    /// had not asked for it yet.
    @Test(arguments: [[], ["--workers", "2"]])
    func anInterruptedRunSaysSoAndHowToResume(workers: [String]) throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        let (process, stdout) = try Self.startLongCartPole(into: run, workers: workers, logs: root)
        let checkpoint = run.appendingPathComponent("checkpoint.json")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let out = try String(contentsOf: stdout, encoding: .utf8)
        let last = out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("interrupted at iteration "), "stdout: \(out)")
        #expect(last.contains("checkpoint \(checkpoint.path); continue with --resume \(run.path)"), "stdout: \(out)")
        #expect(!out.contains("done:"))
        let text = try String(contentsOf: run.appendingPathComponent("progress.csv"), encoding: .utf8)
        let lastRow = text.split(separator: "\n").last.map { $0.split(separator: ",").first.map(String.init) ?? "" } ?? ""
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint)) as? [String: Any]
        #expect((saved?["iteration"] as? Int).map(String.init) == lastRow, "progress.csv ends at iteration \(lastRow)")
        #expect(last.hasPrefix("interrupted at iteration \(lastRow)"), "stdout: \(out)")
    }

    /// A CartPole run of 10⁸ steps in `run` (`--workers` as given), started in the background
    /// with its standard output to `logs/stdout`; returns once its first iteration is
    /// checkpointed (waiting at most two minutes, not a timing check).
    static func startLongCartPole(into run: URL, workers: [String], logs: URL) throws -> (Process, stdout: URL) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["train", "--env", "CartPole-v1", "--steps", "100000000", "--batch-steps", "1024", "--checkpoint-every", "3600",
                             "--quiet", "--out", run.path] + workers
        let stdout = logs.appendingPathComponent("stdout"), stderr = logs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        let checkpoint = run.appendingPathComponent("checkpoint.json")
        for _ in 0..<1200 where process.isRunning && !FileManager.default.fileExists(atPath: checkpoint.path) { usleep(100_000) }
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))
        return (process, stdout)
    }

    /// While a run trains (in one process, or a supervisor with its learner and workers), every
    /// other command that would write its directory is refused in one line naming the owner's
    /// process id, and the run goes on; once the owner exits the directory is free again.
    @Test(arguments: [[], ["--workers", "2"]])
    func aRunInUseIsRefusedToASecondCommand(workers: [String]) throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        let (process, _) = try Self.startLongCartPole(into: run, workers: workers, logs: root)
        let expected = "error: \(run.path) is in use by another trpo process (pid \(process.processIdentifier)): two processes "
            + "would overwrite each other's checkpoints; wait for it to end or stop it first\n"
        for arguments in [["train", "--resume", run.path],
                          ["train", "--env", "CartPole-v1", "--out", run.path, "--overwrite"],
                          ["train", "--env", "CartPole-v1", "--out", run.path, "--workers", "1"],
                          ["learner", "--bind", Self.unbindable, "--resume", run.path]] {
            let refused = try Self.run(arguments)
            #expect(refused.status == 2, "\(arguments)")
            #expect(refused.stderr == expected, "\(arguments): \(refused.stderr)")
        }
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let finished = try Self.run(["train", "--resume", run.path, "--steps", "1024"])
        #expect(finished.status == 0, "stderr: \(finished.stderr)")
        #expect(finished.stdout.contains("is finished"), "stdout: \(finished.stdout)")
    }

    /// A gym: run (or a render of one) with a Python that lacks the worker package is refused in
    /// one line naming what was tried, before anything is written.
    @Test func aPythonWithoutTheWorkerPackageIsRefusedFirst() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("gym")
        let expected = "error: no Python with the trpo-worker package, which makes gym:ID and py:MODULE:FACTORY environments "
            + "(tried --python /bin/false: exit status 1): run scripts/setup.sh (it makes .venv), or `pip install ./python` "
            + "into a venv and pass --python PATH or set TRPO_PYTHON\n"
        for supervision in [[], ["--no-supervise"]] {
            let train = try Self.run(["train", "--env", "gym:CartPole-v1", "--workers", "1", "--python", "/bin/false",
                                      "--out", run.path] + supervision)
            #expect(train.status == 2 && train.stderr == expected, "\(train.stderr)")
            #expect(!FileManager.default.fileExists(atPath: run.path))
        }
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

/// `trpo bench --only distributed` drives real worker processes through its own stand-in
/// learner: every setting must have measured samples (a worker that never starts sampling,
/// as when the stand-in forgot the protocol's welcome, shows as 0 steps/s).
@Suite struct DistributedBenchTests {
    @Test func everySamplingSettingMeasuresSamples() throws {
        let bench = try CLITests.run(["bench", "--only", "distributed", "--scale", "0.2", "--repeats", "1"])
        #expect(bench.status == 0, "stderr: \(bench.stderr)")
        let rates = bench.stdout.split(separator: "\n").filter { $0.hasPrefix("sampling_aggregate") }
            .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } }
        #expect(rates.count == 6, "stdout: \(bench.stdout)")
        #expect(rates.allSatisfy { $0 > 0 }, "stdout: \(bench.stdout)")
    }
}
