import Foundation
import Testing

/// `trpo variance` as a user runs it, on a converged CartPole policy (issue 13, item 3).
@Suite struct VarianceCLITests {
    /// On a policy that keeps the pole up, every vine branch earns the same return, so the vine's
    /// gradients are zero: the CSV and standard output flag both vines as degenerate, the chart
    /// draws a marked gap instead of their bars, and every estimator meets the budget.
    @Test func aConvergedPolicyFlagsTheVineAsDegenerate() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("cartpole")
        let train = try CLITests.run(["train", "--env", "CartPole-v1", "--sampler", "vine", "--quiet", "--out", run.path])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        #expect(train.stdout.contains("last iteration's mean return 500.0"), "\(train.stdout)")

        let out = root.appendingPathComponent("variance")
        let variance = try CLITests.run(["variance", "--checkpoint", run.path, "--replicates", "3", "--budget", "2000",
                                         "--out", out.path])
        #expect(variance.status == 0, "stderr: \(variance.stderr)")
        let lines = try String(contentsOf: out.appendingPathComponent("variance.csv"), encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        for column in ["degenerate", "null_estimates", "relative_bias", "relative_bias_ci_low", "relative_bias_noise_floor",
                       "mean_estimate_cosine", "variance_per_q_sample", "sim_steps", "sim_steps_min", "sim_steps_max",
                       "budget", "budget_tolerance", "within_budget_tolerance"] {
            #expect(header.contains(column), "no column \(column) in \(header)")
        }
        let rows = lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
        #expect(rows.map { $0["estimator"] } == ["single_path", "vine", "vine_crn"])
        for row in rows {
            #expect(row["within_budget_tolerance"] == "true", "\(row)")
            #expect(row["budget"] == "2000" && row["budget_tolerance"] == "0.02")
        }
        #expect(rows[0]["degenerate"] == "")
        for row in rows.dropFirst() {
            #expect(row["degenerate"]!.hasPrefix("zero gradient in "), "\(row)")
            #expect(row["mean_estimate_cosine"] == "" && row["cosine_mean"] == "", "\(row)")
        }
        #expect(variance.stdout.contains("vine: ") && variance.stdout.contains("DEGENERATE: zero gradient in "), "\(variance.stdout)")
        #expect(variance.stdout.contains("±2 % allowed"))
        let svg = try String(contentsOf: out.appendingPathComponent("variance.svg"), encoding: .utf8)
        #expect(svg.contains("degenerate: zero gradient in "))
    }

    /// A budget too small for two vine states is one `error:` line and exit 2; a tolerance out
    /// of range is a usage error.
    @Test func impossibleBudgetsAreRefused() throws {
        let root = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let small = try CLITests.run(["variance", "--env", "Hopper-v4", "--replicates", "2", "--budget", "100",
                                      "--out", root.appendingPathComponent("v").path])
        #expect(small.status == 2, "stderr: \(small.stderr)")
        #expect(small.stderr.hasSuffix("give a larger --budget\n"), "stderr: \(small.stderr)")
        #expect(small.stderr.split(separator: "\n").last!.hasPrefix("error: a budget of 100 simulator steps cannot pay for a vine estimate"))
        let tolerance = try CLITests.run(["variance", "--env", "CartPole-v1", "--budget-tolerance", "0"])
        #expect(tolerance.status == 64)
        #expect(tolerance.stderr.contains("--budget-tolerance must be above 0 and below 0.5 (got 0.0)"), "\(tolerance.stderr)")
    }
}
