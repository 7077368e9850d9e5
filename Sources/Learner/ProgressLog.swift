import Core
import Foundation

/// `progress.csv`: one row per iteration. The first columns are the documented interface
/// (see docs/outputs.md); the rest are extra diagnostics.
public struct ProgressLog {
    public static let columns = [
        "iteration", "timesteps", "wall_seconds", "episode_return_mean", "episode_length_mean", "episodes",
        "kl", "surrogate_before", "surrogate_after", "entropy", "explained_variance", "backtracks", "cg_residual",
        "accepted",
        // Extras.
        "episode_return_std", "episode_return_min", "episode_return_max", "expected_improvement",
        "actual_improvement", "cg_iterations", "step_norm", "rejection", "explained_variance_after", "value_loss",
        "policy_std", "sample_seconds", "policy_seconds", "value_seconds", "samples", "publish_seconds",
        // The distributed path's counters (cumulative, except workers_alive and samples_per_second).
        "workers_alive", "samples_per_second", "stale_samples_dropped", "rejected_messages", "bytes_received",
        "refused_connections",
        // Vine iterations (empty for single path).
        "vine_states", "vine_branches", "vine_branch_steps", "vine_q_spread", "vine_cut_share", "vine_branch_length_mean",
        // Evaluation during training (empty on iterations without one; see EvaluationSchedule).
        "eval_return_mean", "eval_return_std", "eval_length_mean", "eval_episodes", "eval_seconds",
        // The step's trust region (constant unless --kl-schedule says otherwise).
        "max_kl",
    ]

    /// Columns whose values depend on timing, so two identical runs differ only there.
    public static let timingColumns: Set<String> = [
        "wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds", "samples_per_second",
        "eval_seconds",
    ]

    private let url: URL
    private var handle: FileHandle

    /// Opens `url`, creating it with the header; when `resumeAfter` is given, an existing file
    /// is kept up to and including that iteration's row and appended to.
    public init(url: URL, resumeAfter iteration: Int? = nil) throws {
        self.url = url
        var content = ProgressLog.columns.joined(separator: ",") + "\n"
        if let iteration, let existing = try? String(contentsOf: url, encoding: .utf8) {
            let kept = existing.split(separator: "\n").dropFirst().filter { line in
                guard let first = line.split(separator: ",", maxSplits: 1).first, let i = Int(first) else { return false }
                return i <= iteration
            }
            content += kept.map { $0 + "\n" }.joined()
        }
        try AtomicFile.write(Data(content.utf8), to: url)
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    /// Appends one row (values in ``columns`` order) and flushes it.
    public mutating func append(_ values: [String: String]) throws {
        let row = ProgressLog.columns.map { values[$0] ?? "" }.joined(separator: ",") + "\n"
        try handle.write(contentsOf: Data(row.utf8))
        try handle.synchronize()
    }

    /// Formats a number for the log: shortest round-trip form, empty for NaN.
    public static func format(_ x: Double) -> String { x.isNaN ? "" : "\(x)" }
}
