import Foundation
import TensorBoard

/// `progress.csv`'s rows as TensorBoard scalars: one event per iteration at step =
/// `timesteps`, every numeric column a scalar. Columns that Stable-Baselines3 users know under
/// another name are logged under that name (``tag(for:)``); the rest as `trpo/<column>`.
public struct TensorBoardLog {
    /// Stable-Baselines3 / sb3-contrib TRPO tags for the progress columns that have one.
    public static let stableBaselinesTags: [String: String] = [
        "episode_return_mean": "rollout/ep_rew_mean",
        "episode_length_mean": "rollout/ep_len_mean",
        "kl": "train/kl_divergence_loss",
        "surrogate_after": "train/policy_objective",
        "value_loss": "train/value_loss",
        "explained_variance": "train/explained_variance",
        "accepted": "train/is_line_search_success",
        "policy_std": "train/std",
        "samples_per_second": "time/fps",
        "iteration": "time/iterations",
        "wall_seconds": "time/time_elapsed",
        "timesteps": "time/total_timesteps",
        "eval_return_mean": "eval/mean_reward",
        "eval_length_mean": "eval/mean_ep_length",
    ]

    /// The TensorBoard tag of a progress.csv column.
    public static func tag(for column: String) -> String { stableBaselinesTags[column] ?? "trpo/\(column)" }

    private let writer: EventFileWriter

    /// A new event file in `directory` (created if needed).
    /// - Parameter resumingAfter: the timesteps of the checkpoint a resumed run continues
    ///   from: TensorBoard drops the earlier files' events past it, as progress.csv drops its
    ///   rows past the checkpoint.
    public init(directory: URL, resumingAfter timesteps: Int? = nil) throws {
        writer = try EventFileWriter(directory: directory, resumingAt: timesteps.map { Int64($0) + 1 })
    }

    /// The event file being written.
    public var url: URL { writer.url }

    /// Logs one progress.csv row (column → formatted value); empty and non-numeric cells are
    /// left out.
    public func append(_ row: [String: String]) throws {
        guard let step = row["timesteps"].flatMap(Int64.init) else { return }
        let scalars = ProgressLog.columns.compactMap { column -> (tag: String, value: Double)? in
            guard let text = row[column], let value = Double(text) else { return nil }
            return (TensorBoardLog.tag(for: column), value)
        }
        try writer.write(scalars, step: step)
    }
}
