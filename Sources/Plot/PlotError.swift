/// Everything that can go wrong while reading progress logs, rendering a plot or writing it.
///
/// Each case names one failure and carries what a user needs to find it (a path, a line, a
/// column); ``description`` is a single line suitable for printing after `error: `.
public enum PlotError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The plot was given no curves at all.
    case noCurves
    /// A curve has no points (for a progress log: no row has both an x and a y value).
    case emptyCurve(name: String)
    /// A curve has a point whose x or y is NaN or infinite.
    case nonFinitePoint(curve: String)
    /// A CSV text has no header row.
    case emptyCSV(source: String)
    /// A quoted CSV field that opens on `line` never closes.
    case unterminatedQuote(source: String, line: Int)
    /// A CSV row has more non-empty fields than the header has columns.
    case extraFields(source: String, line: Int, count: Int, expected: Int)
    /// A CSV header lacks a column the caller needs.
    case missingColumn(String, source: String)
    /// A non-empty CSV field that should hold a number does not.
    case invalidNumber(source: String, line: Int, column: String, text: String)
    /// A run directory does not exist (or is not a directory).
    case missingRunDirectory(path: String)
    /// A run directory has no progress log.
    case missingProgressFile(path: String)
    /// A file exists but could not be read as UTF-8 text.
    case unreadableFile(path: String, reason: String)
    /// The x-axis choice is not one of ``ProgressXAxis``'s raw values.
    case invalidXAxis(String)
    /// The output file could not be written or moved into place.
    case writeFailed(path: String, reason: String)
    /// The program that renders SVG as PNG is not installed.
    case rasterizerMissing(program: String, package: String)
    /// `--label` was given, but not once per group of runs.
    case labelCount(given: Int, groups: Int)
    /// A bar chart's data cannot be drawn (the reason says which panel and why).
    case invalidBarChart(String)

    public var description: String {
        switch self {
        case .noCurves:
            "nothing to plot: no runs given"
        case .emptyCurve(let name):
            "run '\(name)' has no points to plot"
        case .nonFinitePoint(let curve):
            "run '\(curve)' has a point that is NaN or infinite"
        case .emptyCSV(let source):
            "\(source): empty file, expected a header row"
        case .unterminatedQuote(let source, let line):
            "\(source):\(line): quoted field is never closed"
        case .extraFields(let source, let line, let count, let expected):
            "\(source):\(line): \(count) fields, but the header has \(expected) columns"
        case .missingColumn(let column, let source):
            "\(source): no column '\(column)'"
        case .invalidNumber(let source, let line, let column, let text):
            "\(source):\(line): column '\(column)' holds '\(text)', not a number"
        case .missingRunDirectory(let path):
            "run directory '\(path)' does not exist"
        case .missingProgressFile(let path):
            "no progress log '\(path)'"
        case .unreadableFile(let path, let reason):
            "cannot read '\(path)': \(reason)"
        case .invalidXAxis(let value):
            "invalid x axis '\(value)': expected "
                + ProgressXAxis.allCases.dropLast().map { "'\($0.rawValue)'" }.joined(separator: ", ")
                + " or '\(ProgressXAxis.allCases.last!.rawValue)'"
        case .writeFailed(let path, let reason):
            "cannot write '\(path)': \(reason)"
        case .rasterizerMissing(let program, let package):
            "cannot write a PNG: \(program) is not installed (Debian package \(package): apt-get install \(package))"
        case .labelCount(let given, let groups):
            "\(given) --label for \(groups) group\(groups == 1 ? "" : "s") of runs: give one per group, in order of their first run"
        case .invalidBarChart(let reason):
            "cannot draw the bar chart: \(reason)"
        }
    }
}
