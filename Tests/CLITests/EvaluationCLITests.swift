import Foundation
import Testing

/// `--eval-every N --eval-episodes K` as a user runs it (issue 15, item 4).
@Suite struct EvaluationCLITests {
    /// progress.csv as one dictionary per row.
    static func rows(_ directory: URL) throws -> [[String: String]] {
        let text = try String(contentsOf: directory.appendingPathComponent("progress.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }

    /// The iteration saved in a checkpoint file.
    static func iteration(of checkpoint: URL) throws -> Int {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint)) as? [String: Any]
        return try #require(json?["iteration"] as? Int)
    }

    @Test(arguments: [
        (["train", "--env", "CartPole-v1", "--eval-every", "0"], "--eval-every must be positive (got 0)"),
        (["train", "--env", "CartPole-v1", "--eval-every", "2", "--eval-episodes", "-1"], "--eval-episodes must be positive (got -1)"),
        (["train", "--env", "CartPole-v1", "--eval-episodes", "3"], "--eval-episodes applies with --eval-every N"),
    ])
    func malformedEvaluationOptionsAreUsageErrors(arguments: [String], message: String) throws {
        let outcome = try CLITests.run(arguments)
        #expect(outcome.status == 64, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
    }

    @Test func helpSaysWhatNCounts() throws {
        let help = try CLITests.run(["train", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("--eval-every <N> Evaluate the policy after every N-th iteration (N counts iterations)"), "help: \(help)")
        #expect(help.contains("--eval-episodes <K>"), "help: \(help)")
    }

    /// A short CartPole run evaluated every iteration: best/checkpoint.json holds the iteration
    /// with the highest eval_return_mean (the first on ties), and `trpo eval` of DIR/best with
    /// the same episodes (the run seed, deterministic) gives that mean again.
    @Test func theBestCheckpointIsTheArgmaxAndEvalReproducesIt() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        let train = try CLITests.run(["train", "--env", "CartPole-v1", "--seed", "3", "--steps", "3072", "--batch-steps", "512",
                                      "--vf-epochs", "1", "--eval-every", "1", "--eval-episodes", "4", "--out", run.path])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        #expect(train.stderr.contains("| eval "), "stderr: \(train.stderr)")
        let rows = try Self.rows(run)
        #expect(rows.count == 6)
        #expect(rows.allSatisfy { $0["eval_episodes"] == "4" && $0["eval_seconds"] != "" && $0["eval_length_mean"] != "" })
        let returns = rows.map { Double($0["eval_return_mean"] ?? "") ?? .nan }
        let best = returns.indices.first { returns[$0] == returns.max() }!
        let bestDirectory = run.appendingPathComponent("best")
        #expect(try Self.iteration(of: bestDirectory.appendingPathComponent("checkpoint.json")) == best + 1,
                "eval returns \(returns)")

        let eval = try CLITests.run(["eval", "--checkpoint", bestDirectory.path, "--deterministic", "--episodes", "4", "--seed", "3"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("iteration \(best + 1) "), "stdout: \(eval.stdout)")
        #expect(eval.stdout.contains(String(format: "return %.2f ± %.2f", returns[best], Double(rows[best]["eval_return_std"]!)!)),
                "stdout: \(eval.stdout), eval returns \(returns)")

        // --overwrite removes the best policy with the rest of the run.
        let again = try CLITests.run(["train", "--env", "CartPole-v1", "--steps", "512", "--batch-steps", "512", "--vf-epochs", "1",
                                      "--quiet", "--overwrite", "--out", run.path])
        #expect(again.status == 0, "stderr: \(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bestDirectory.path))
    }

    /// The distributed learner evaluates too, in its own process, every N-th iteration and the last.
    @Test func aRunWithWorkersIsEvaluatedByItsLearner() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole-workers")
        let train = try CLITests.run(["train", "--env", "CartPole-v1", "--steps", "1536", "--batch-steps", "512", "--vf-epochs", "1",
                                      "--workers", "1", "--eval-every", "2", "--eval-episodes", "2", "--quiet", "--out", run.path])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        let rows = try Self.rows(run)
        #expect(rows.map { $0["eval_episodes"] } == ["", "2", "2"])
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("best/checkpoint.json").path))
    }
}
