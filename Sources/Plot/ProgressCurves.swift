import Foundation

/// What a learning curve from `progress.csv` is plotted against.
public enum ProgressXAxis: String, CaseIterable, Sendable {
    /// Environment steps taken so far (column `timesteps`).
    case timesteps
    /// Wall-clock seconds since the run started (column `wall_seconds`).
    case wall
    /// Policy iterations (column `iteration`), the x axis of the TRPO paper's learning curves.
    case iteration

    /// Parses a command-line value: a raw value, exactly.
    ///
    /// - Throws: ``PlotError/invalidXAxis(_:)``.
    public init(validating text: String) throws(PlotError) {
        guard let axis = ProgressXAxis(rawValue: text) else { throw .invalidXAxis(text) }
        self = axis
    }

    /// The `progress.csv` column holding the x values.
    public var column: String {
        switch self {
        case .timesteps: "timesteps"
        case .wall: "wall_seconds"
        case .iteration: "iteration"
        }
    }

    /// The axis title and tick format.
    public var axis: PlotAxis {
        switch self {
        case .timesteps: PlotAxis(label: "Environment steps", format: .compactCount)
        case .wall: PlotAxis(label: "Wall-clock time", format: .duration)
        case .iteration: PlotAxis(label: "Policy iterations", format: .compactCount)
        }
    }
}

/// Which return a learning curve from `progress.csv` plots.
public enum ProgressYAxis: String, CaseIterable, Sendable {
    /// The mean return of the training episodes that finished in each iteration (column
    /// `episode_return_mean`): the stochastic policy, and for a vine only episodes that end
    /// inside a trunk.
    case training = "return"
    /// The deterministic evaluation of `--eval-every` (column `eval_return_mean`), on the
    /// iterations it ran.
    case evaluation = "eval"

    /// The `progress.csv` column holding the y values.
    public var column: String {
        switch self {
        case .training: "episode_return_mean"
        case .evaluation: "eval_return_mean"
        }
    }

    /// The column counting the episodes behind each y value (the weights of ``LearningCurve/smoothed(window:weights:)``).
    public var episodesColumn: String {
        switch self {
        case .training: "episodes"
        case .evaluation: "eval_episodes"
        }
    }

    /// The axis title and tick format.
    public var axis: PlotAxis {
        switch self {
        case .training: PlotAxis(label: "Mean episode return", format: .plain)
        case .evaluation: PlotAxis(label: "Deterministic evaluation return", format: .plain)
        }
    }
}

/// Reads learning curves from run directories, each holding the trainer's `progress.csv`.
public enum ProgressCurves {
    /// The log's file name inside a run directory.
    public static let fileName = "progress.csv"
    /// The curve of `y` (the training return unless given) against `x` in
    /// `directory/progress.csv`, named after the directory's last path component.
    ///
    /// Rows without a return (or without an x value) are skipped; the curve may be empty. With
    /// `smoothing` K, each point is the trailing mean over the last K points, weighted by the
    /// episodes behind each (``ProgressYAxis/episodesColumn``; 1 each when the log has no such
    /// column): for the training return, the mean return of the episodes that ended in those
    /// K iterations.
    ///
    /// - Throws: ``PlotError/missingRunDirectory(path:)``, ``PlotError/missingProgressFile(path:)``,
    ///   ``PlotError/unreadableFile(path:reason:)``, ``PlotError/missingColumn(_:source:)`` and the
    ///   other parse errors of ``CSVTable``.
    public static func learningCurve(runDirectory directory: URL, x: ProgressXAxis,
                                     y: ProgressYAxis = .training, smoothing: Int? = nil) throws(PlotError) -> LearningCurve {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw .missingRunDirectory(path: directory.path) }
        let file = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { throw .missingProgressFile(path: file.path) }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: file.path, reason: error.localizedDescription)
        }
        let table = try CSVTable(parsing: text, source: file.path)
        let curve = LearningCurve(
            name: directory.standardizedFileURL.lastPathComponent,
            points: try table.points(x: x.column, y: y.column)
        )
        guard let smoothing else { return curve }
        return curve.smoothed(window: smoothing, weights: try table.weights(x: x.column, y: y.column, weight: y.episodesColumn))
    }
}
