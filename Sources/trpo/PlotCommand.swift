import ArgumentParser
import Core
import Foundation
import Plot

/// `trpo plot RUN_DIR... --out FILE.svg [--x timesteps|wall|iteration] [--title T]`: draws the mean
/// episode return of each run as an SVG learning curve.
///
/// On success it prints the path written. Any failure (a missing run directory or progress
/// log, a missing column, a run without points, an invalid `--x`, an unwritable output)
/// prints one `error:` line to standard error and exits with code 2.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot learning curves (mean episode return) of training runs as SVG."
    )

    @Argument(help: "Run directories, each holding \(ProgressCurves.fileName); the legend shows their names.")
    var runDirectories: [String] = []

    @Option(help: ArgumentHelp("The SVG file to write (atomically).", valueName: "file.svg"))
    var out: String

    @Option(
        name: .customLong("x"),
        help: ArgumentHelp(
            "The x axis: \(ProgressXAxis.allCases.map(\.rawValue).joined(separator: " or ")).",
            valueName: "axis"
        )
    )
    var xAxis: ProgressXAxis = .timesteps

    @Option(help: "A title above the plot.")
    var title: String?

    func validate() throws {
        guard !runDirectories.isEmpty else { throw ValidationError("give at least one run directory to plot") }
    }

    func run() throws {
        do {
            let curves = try runDirectories.map { (path: String) throws(PlotError) in
                try ProgressCurves.learningCurve(runDirectory: URL(fileURLWithPath: path), x: xAxis)
            }
            let plot = LearningCurvePlot(title: title, xAxis: xAxis.axis, yAxis: ProgressCurves.returnAxis, curves: curves)
            let svg = try plot.svg()
            do {
                try AtomicFile.write(Data(svg.utf8), to: URL(fileURLWithPath: out))
            } catch {
                throw PlotError.writeFailed(path: out, reason: "\(String(cString: strerror(error.code)))")
            }
            print(out)
        } catch {
            throw runFailure(error)
        }
    }
}
