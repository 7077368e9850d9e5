import Foundation
import Testing

/// Issue 15, item 3: `--config FILE.yaml`, `--print-config`, the run directory's `config.yaml`
/// and `trpo presets`.
@Suite struct ConfigFileTests {
    typealias Outcome = CLITests.Outcome

    static func run(_ arguments: [String]) throws -> Outcome { try CLITests.run(arguments) }

    /// The environment ids `trpo env list` prints.
    static func environments() throws -> [String] {
        let list = try run(["env", "list"])
        #expect(list.status == 0)
        return list.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) }
    }

    /// `progress.csv` without its timing columns (the only ones two identical runs may differ in:
    /// `ProgressLog.timingColumns`, which this target, depending on the executable only, cannot import).
    static func progressWithoutTiming(_ directory: URL) throws -> [[String]] {
        let timing: Set<String> = ["wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds",
                                   "samples_per_second"]
        let rows = try String(contentsOf: directory.appendingPathComponent("progress.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let kept = rows[0].indices.filter { !timing.contains(rows[0][$0]) }
        return rows.map { row in kept.map { row[$0] } }
    }

    /// For every environment's preset and both samplers: print → config → print is byte-identical,
    /// and printing creates nothing.
    @Test func printConfigRoundTripsThroughConfigForEveryPreset() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let ids = try Self.environments()
        #expect(ids.contains("CartPole-v1") && ids.contains("Swimmer-v4"))
        for id in ids {
            for sampler in ["single-path", "vine"] {
                let out = root.appendingPathComponent("never-\(id)-\(sampler)")
                let printed = try Self.run(["train", "--env", id, "--sampler", sampler, "--out", out.path, "--print-config"])
                #expect(printed.status == 0, "\(id) \(sampler): \(printed.stderr)")
                #expect(printed.stdout.hasPrefix("env: \(id)\nsampler: \(sampler)\n"), "\(printed.stdout)")
                let file = root.appendingPathComponent("\(id)-\(sampler).yaml")
                try Data(printed.stdout.utf8).write(to: file)
                let again = try Self.run(["train", "--config", file.path, "--out", out.path, "--print-config"])
                #expect(again.status == 0, "\(id) \(sampler): \(again.stderr)")
                #expect(again.stdout == printed.stdout, "\(id) \(sampler)")
                #expect(!FileManager.default.fileExists(atPath: out.path))
            }
        }
    }

    /// Options override the file; a flag's key is its name without `no-`.
    @Test func optionsOverrideTheFile() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("pendulum.yaml")
        try Data("env: Pendulum-v1\nmax-kl: 0.02\nhidden: [32, 16]\nreward-norm: true\ngamma: 0.95\n".utf8).write(to: file)
        let printed = try Self.run(["train", "--config", file.path, "--max-kl", "0.05", "--no-reward-norm", "--print-config"])
        #expect(printed.status == 0, "\(printed.stderr)")
        for line in ["env: Pendulum-v1", "max-kl: 0.05", "hidden: [32, 16]", "reward-norm: false", "gamma: 0.95", "obs-norm: false"] {
            #expect(printed.stdout.split(separator: "\n").contains(Substring(line)), "\(line) in \(printed.stdout)")
        }
    }

    /// Settings are checked together, whatever their order: a vine's shorter trunks fit the
    /// fewer rollout states given after them; a setting that cannot fit is the one named.
    @Test func settingsAreCheckedTogether() throws {
        for flags in [["--trunk-steps", "50", "--vine-states", "50"], ["--vine-states", "50", "--trunk-steps", "50"]] {
            let printed = try Self.run(["train", "--env", "Pendulum-v1", "--sampler", "vine"] + flags + ["--print-config"])
            #expect(printed.status == 0, "\(flags): \(printed.stderr)")
            #expect(printed.stdout.contains("trunk-steps: 50\n") && printed.stdout.contains("vine-states: 50\n"))
        }
        let refused = try Self.run(["train", "--env", "Pendulum-v1", "--sampler", "vine", "--trunk-steps", "10", "--print-config"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--trunk-steps 10: vine rollout set of 625 states exceeds the 80 trunk states"), "\(refused.stderr)")
    }

    /// A run started from the printed YAML has the same config.json as one started from the
    /// flags; the run directory's config.yaml is that YAML and reruns it exactly (the same
    /// progress.csv apart from timing); `--resume` takes a file that repeats the run's settings
    /// and refuses one that changes them.
    @Test func theRunDirectorysConfigYAMLRerunsItExactly() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let flags = ["--env", "CartPole-v1", "--steps", "1024", "--batch-steps", "512", "--vf-epochs", "1", "--seed", "3"]
        let fromFlags = root.appendingPathComponent("flags"), fromYAML = root.appendingPathComponent("yaml")
        let rerun = root.appendingPathComponent("rerun")
        #expect(try Self.run(["train"] + flags + ["--quiet", "--out", fromFlags.path]).status == 0)

        let printed = try Self.run(["train"] + flags + ["--print-config"])
        #expect(printed.status == 0)
        let file = root.appendingPathComponent("printed.yaml")
        try Data(printed.stdout.utf8).write(to: file)
        #expect(try String(contentsOf: fromFlags.appendingPathComponent("config.yaml"), encoding: .utf8) == printed.stdout)
        #expect(try Self.run(["train", "--config", file.path, "--quiet", "--out", fromYAML.path]).status == 0)
        #expect(try Data(contentsOf: fromYAML.appendingPathComponent("config.json"))
                == Data(contentsOf: fromFlags.appendingPathComponent("config.json")))

        let again = try Self.run(["train", "--config", fromFlags.appendingPathComponent("config.yaml").path, "--quiet",
                                  "--out", rerun.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Data(contentsOf: rerun.appendingPathComponent("config.json"))
                == Data(contentsOf: fromFlags.appendingPathComponent("config.json")))
        let expected = try Self.progressWithoutTiming(fromFlags)
        #expect(expected.count == 3)
        #expect(try Self.progressWithoutTiming(rerun) == expected)
        #expect(try Self.progressWithoutTiming(fromYAML) == expected)

        // --resume with the run's own config.yaml continues it; a file that changes it is refused.
        let resumed = try Self.run(["train", "--resume", fromFlags.path, "--config", fromFlags.appendingPathComponent("config.yaml").path,
                                    "--steps", "1536", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let changed = root.appendingPathComponent("changed.yaml")
        try Data(printed.stdout.replacingOccurrences(of: "max-kl: 0.01\n", with: "max-kl: 0.02\n").utf8).write(to: changed)
        let refused = try Self.run(["train", "--resume", fromFlags.path, "--config", changed.path, "--steps", "2048"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "error: --resume \(fromFlags.path) continues the run as it was configured; only --steps, "
                + "--vine-bootstrap, --vine-length, --vine-kl-states may change, and \(changed.path): max-kl 0.02 is not the run's 0.01\n", "\(refused.stderr)")
        // An option overrides the file here too (as a supervisor's restart repeats both).
        let overridden = try Self.run(["train", "--resume", fromFlags.path, "--config", changed.path, "--max-kl", "0.01",
                                       "--steps", "2048", "--quiet"])
        #expect(overridden.status == 0, "\(overridden.stderr)")

        // --overwrite removes config.yaml with the rest of the run.
        let acrobot = try Self.run(["train", "--env", "Acrobot-v1", "--steps", "512", "--batch-steps", "512", "--vf-epochs", "1",
                                    "--quiet", "--overwrite", "--out", fromFlags.path])
        #expect(acrobot.status == 0, "\(acrobot.stderr)")
        #expect(try String(contentsOf: fromFlags.appendingPathComponent("config.yaml"), encoding: .utf8).hasPrefix("env: Acrobot-v1\n"))
    }

    /// RL-Zoo's layout, the settings under the environment's id, reads as the flat one.
    @Test func theSettingsMayBeUnderTheEnvironmentsIDAsInRLZoo() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let nested = root.appendingPathComponent("nested.yaml"), flat = root.appendingPathComponent("flat.yaml")
        try Data("Acrobot-v1:\n  max-kl: 0.03\n  hidden: [32, 32]\n".utf8).write(to: nested)
        try Data("env: Acrobot-v1\nmax-kl: 0.03\nhidden: [32, 32]\n".utf8).write(to: flat)
        let fromNested = try Self.run(["train", "--config", nested.path, "--print-config"])
        #expect(fromNested.status == 0, "\(fromNested.stderr)")
        #expect(fromNested.stdout.hasPrefix("env: Acrobot-v1\n") && fromNested.stdout.contains("\nmax-kl: 0.03\n"))
        #expect(fromNested.stdout == (try Self.run(["train", "--config", flat.path, "--print-config"])).stdout)
    }

    /// `--kl-schedule` is printed as a key the file reads back (the banner names the schedule).
    @Test func theKLScheduleRoundTripsThroughTheFile() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let printed = try Self.run(["train", "--env", "Hopper-v4", "--kl-schedule", "linear", "--print-config"])
        #expect(printed.status == 0 && printed.stdout.contains("\nkl-schedule: linear\n"), "\(printed.stdout)")
        #expect(try Self.run(["train", "--env", "Hopper-v4", "--print-config"]).stdout.contains("\nkl-schedule: constant\n"))
        let file = root.appendingPathComponent("linear.yaml")
        try Data(printed.stdout.utf8).write(to: file)
        #expect(try Self.run(["train", "--config", file.path, "--print-config"]).stdout == printed.stdout)
    }

    /// A short vine run started from the printed YAML has the same config.json as one started
    /// from the flags.
    @Test func aVineRunFromThePrintedYAMLIsTheFlagsRun() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let flags = ["--env", "CartPole-v1", "--sampler", "vine", "--steps", "1000", "--trunk-steps", "50", "--vine-states", "20",
                     "--vine-length", "20", "--no-crn", "--vf-epochs", "1", "--vine-bootstrap", "none",
                     "--vine-kl-states", "trunks"]
        let fromFlags = root.appendingPathComponent("flags"), fromYAML = root.appendingPathComponent("yaml")
        let trained = try Self.run(["train"] + flags + ["--quiet", "--out", fromFlags.path])
        #expect(trained.status == 0, "\(trained.stderr)")
        let printed = try Self.run(["train"] + flags + ["--print-config"])
        #expect(printed.stdout.contains("\ncrn: false\n") && printed.stdout.contains("\nvine-bootstrap: none\n")
                && printed.stdout.contains("\nvine-kl-states: trunks\n"))
        let file = root.appendingPathComponent("vine.yaml")
        try Data(printed.stdout.utf8).write(to: file)
        let again = try Self.run(["train", "--config", file.path, "--quiet", "--out", fromYAML.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Data(contentsOf: fromYAML.appendingPathComponent("config.json"))
                == Data(contentsOf: fromFlags.appendingPathComponent("config.json")))
        #expect(try Self.progressWithoutTiming(fromYAML) == Self.progressWithoutTiming(fromFlags))
    }

    /// A malformed config file is one usage error naming the file, the key and the problem
    /// (exit 64); an unreadable one is a run failure (exit 2).
    @Test(arguments: [
        ("max-kl: 0.02\nbatch_size: 64\n", "unknown key 'batch_size' (the keys are env, env-kwargs, sampler, model, seed, steps, batch-steps"),
        ("max-kl: lots\n", "max-kl: 'lots' is not a number"),
        ("max-kl: -1\n", "max-kl -1.0: max KL must be positive (got -1.0)"),
        ("steps: 1.5\n", "steps: '1.5' is not an integer"),
        ("hidden: [64, x]\n", "hidden: '64,x' is not positive widths, e.g. [64, 64]"),
        ("crn: maybe\n", "crn: 'maybe' is not true or false"),
        ("vine-bootstrap: always\n", "vine-bootstrap: 'always' is not none or value"),
        ("vine-kl-states: all\n", "vine-kl-states: 'all' is not rollout-set or trunks"),
        ("kl-schedule: cosine\n", "kl-schedule: 'cosine' is not constant or linear"),
        ("sampler: vines\n", "sampler: 'vines' is not one of single-path, vine"),
        ("env: NoSuchEnv-v0\n", "env: unknown environment 'NoSuchEnv-v0'"),
        ("vf-lr: {a: 1}\n", "vf-lr: expected a value, not a mapping"),
        ("- max-kl\n", "expected a mapping of settings (key: value), e.g. max-kl: 0.01"),
        ("max-kl: [0.01\n", "not valid YAML"),
    ])
    func aMalformedConfigFileIsAUsageError(yaml: String, message: String) throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("bad.yaml")
        try Data(yaml.utf8).write(to: file)
        let outcome = try Self.run(["train", "--env", "CartPole-v1", "--config", file.path, "--print-config"])
        #expect(outcome.status == 64, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("Error: \(file.path): "), "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func anUnreadableConfigFileIsExitTwo() throws {
        let outcome = try Self.run(["train", "--config", "/nonexistent/config.yaml"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr == "error: cannot read config file /nonexistent/config.yaml\n", "stderr: \(outcome.stderr)")
    }

    /// `trpo presets ENV` prints both presets as --config YAML, each with its source.
    @Test func presetsListsTheValuesWithTheirSources() throws {
        let presets = try Self.run(["presets", "CartPole-v1"])
        #expect(presets.status == 0, "\(presets.stderr)")
        let documents = presets.stdout.components(separatedBy: "---\n")
        #expect(documents.count == 2)
        #expect(documents[0].hasPrefix("# CartPole-v1, single-path: sweep over δ ∈ {0.01, 0.02}"), "\(presets.stdout)")
        #expect(documents[1].hasPrefix("# CartPole-v1, vine: ours: 500 on seeds 1–3"), "\(presets.stdout)")
        let printed = try Self.run(["train", "--env", "CartPole-v1", "--print-config"])
        #expect(String(documents[0].split(separator: "\n", maxSplits: 1)[1]) == printed.stdout, "\(documents[0]) vs \(printed.stdout)")
        let all = try Self.run(["presets"])
        #expect(all.status == 0)
        // Both samplers of every built-in environment, then of the paper's 7 Atari games.
        #expect(all.stdout.components(separatedBy: "---\n").count == 2 * (try Self.environments().count + 7))
        let unknown = try Self.run(["presets", "NoSuchEnv-v0"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown environment 'NoSuchEnv-v0'"))
    }

    /// Every `gym:ALE/…` game takes the Atari preset (the paper's δ, γ and Fisher subsample;
    /// Baselines' batch, critic passes and reward clipping) and its vine (every action from
    /// each state, rewards unclipped).
    @Test func atariGamesTakeTheAtariPreset() throws {
        let pong = try Self.run(["presets", "gym:ALE/Pong-v5", "--sampler", "single-path"])
        #expect(pong.status == 0, "\(pong.stderr)")
        #expect(pong.stdout.hasPrefix("# gym:ALE/Pong-v5, single-path: the paper's Atari column"), "\(pong.stdout)")
        for line in ["steps: 10000000", "batch-steps: 8192", "max-kl: 0.01", "gamma: 0.99", "fisher-subsample: 0.1",
                     "cg-iters: 10", "vf-epochs: 3", "reward-clip: true", "trunk: auto"] {
            #expect(pong.stdout.contains("\n\(line)\n"), "\(line) in \(pong.stdout)")
        }
        let breakout = try Self.run(["train", "--env", "gym:ALE/Breakout-v5", "--print-config"])
        #expect(breakout.stdout == pong.stdout.split(separator: "\n", maxSplits: 1)[1].replacingOccurrences(of: "Pong", with: "Breakout"))
        let vine = try Self.run(["presets", "gym:ALE/Pong-v5", "--sampler", "vine"])
        #expect(vine.status == 0 && vine.stdout.hasPrefix("# gym:ALE/Pong-v5, vine: the paper's Atari vine"), "\(vine.stdout)")
        for line in ["steps: 10000000", "reward-clip: false", "trunk-steps: 1000", "vine-states: 64", "vine-actions: 18",
                     "vine-length: 100", "fisher-subsample: 1.0", "vine-bootstrap: value"] {
            #expect(vine.stdout.contains("\n\(line)\n"), "\(line) in \(vine.stdout)")
        }
        let malformed = try Self.run(["presets", "gym:"])
        #expect(malformed.status == 64 && malformed.stderr.contains("expected gym:ID"), "\(malformed.stderr)")
    }
}
