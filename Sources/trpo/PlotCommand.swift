import ArgumentParser
import Core
import Foundation
import Plot

extension Aggregate: ExpressibleByArgument {}

/// `trpo plot RUN_DIR... --out FILE.svg|FILE.png [--x timesteps|wall|iteration] [--aggregate mean|iqm]
/// [--label L]... [--title T] [--smooth K]`: draws the mean episode return of each run as a learning curve.
///
/// Runs whose `config.json` agree apart from the seed are one configuration: one line for
/// their mean (or IQM) with a 95 % bootstrap band over the seeds (see ``LearningCurvePlot``).
/// The default title names the environment(s); runs of several environments draw a warning.
/// On success it prints the path written. Any failure (a missing run directory or progress
/// log, a missing column, a run without points, an unwritable output, no `rsvg-convert` for a
/// PNG) prints one `error:` line to standard error and exits with code 2.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot learning curves (mean episode return) of training runs as SVG or PNG.",
        discussion: """
            Runs whose config.json agree apart from the seed form one group: one line for their \
            --aggregate at each x and a 95 % percentile-bootstrap band over the seeds, on the x \
            range all of them cover. A PNG is rendered from the SVG by rsvg-convert (Debian \
            package librsvg2-bin).
            """
    )

    @Argument(help: "Run directories, each holding \(ProgressCurves.fileName) (and config.json, to group seeds).")
    var runDirectories: [String] = []

    @Option(help: ArgumentHelp("The file to write (atomically): .svg, or .png rendered by rsvg-convert.", valueName: "file.svg|file.png"))
    var out: String

    @Option(
        name: .customLong("x"),
        help: ArgumentHelp(
            "The x axis: \(ProgressXAxis.allCases.map(\.rawValue).joined(separator: " or ")).",
            valueName: "axis"
        )
    )
    var xAxis: ProgressXAxis = .timesteps

    @Option(name: .customLong("y"), help: ArgumentHelp(
        "The y axis: return (the training episodes' mean return) or eval (the deterministic evaluations of --eval-every).",
        valueName: "axis"))
    var yAxis: ProgressYAxis = .training

    @Option(help: "The line of a group of seeds: mean, or iqm (interquartile mean).")
    var aggregate: Aggregate = .mean

    @Option(help: ArgumentHelp("A group's legend label; repeat once per group, in order of their first run "
                               + "(default: the settings in which the groups differ).", valueName: "label"))
    var label: [String] = []

    @Option(help: "A title above the plot (default: the environments plotted).")
    var title: String?

    @Option(help: ArgumentHelp("Plot each run's trailing mean over its last K points, weighted by the episodes behind each (for return: the mean of the episodes that ended in the last K iterations), e.g. 25 for Atari's few games per iteration (default: off).", valueName: "K"))
    var smooth: Int?

    /// The output formats, by file extension.
    enum Format: String, CaseIterable {
        case svg, png
    }

    var format: Format? { Format(rawValue: URL(fileURLWithPath: out).pathExtension.lowercased()) }

    func validate() throws {
        guard !runDirectories.isEmpty else { throw ValidationError("give at least one run directory to plot") }
        if let smooth, smooth < 1 { throw ValidationError("--smooth must be a number of points ≥ 1 (got \(smooth))") }
        guard format != nil else {
            throw ValidationError("--out \(out): the file name must end in .svg or .png")
        }
    }

    func run() throws {
        do {
            let directories = runDirectories.map { URL(fileURLWithPath: $0) }
            var curves = try directories.map { (directory: URL) throws(PlotError) in
                try ProgressCurves.learningCurve(runDirectory: directory, x: xAxis, y: yAxis, smoothing: smooth)
            }
            let configurations = try directories.map { (directory: URL) throws(PlotError) in
                try RunConfiguration.read(runDirectory: directory)
            }
            let groups = RunGroups(names: curves.map(\.name), configurations: configurations, labels: label)
            guard label.isEmpty || label.count == groups.members.count else {
                throw PlotError.labelCount(given: label.count, groups: groups.members.count)
            }
            for (members, name) in zip(groups.members, groups.labels) {
                for run in members { curves[run].name = name }
            }
            if groups.environments.count > 1 {
                note("warning: these runs are of \(groups.environments.count) environments ("
                     + groups.environments.joined(separator: ", ") + "); their returns are not comparable")
            }
            let plot = LearningCurvePlot(
                title: title ?? (groups.environments.isEmpty ? nil : groups.environments.joined(separator: ", ")),
                xAxis: xAxis.axis, yAxis: yAxis.axis, curves: curves, aggregate: aggregate
            )
            let svg = try plot.svg()
            let destination = URL(fileURLWithPath: out)
            switch format! {  // validate() checked it
            case .svg:
                do {
                    try AtomicFile.write(Data(svg.utf8), to: destination)
                } catch {
                    throw PlotError.writeFailed(path: out, reason: "\(String(cString: strerror(error.code)))")
                }
            case .png:
                try SVGRasterizer.writePNG(svg: svg, to: destination)
            }
            print(out)
        } catch {
            throw runFailure(error)
        }
    }
}
