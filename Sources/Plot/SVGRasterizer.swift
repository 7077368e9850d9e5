import Core
import Foundation

/// Turns an SVG document into a PNG with librsvg's `rsvg-convert` (Debian package
/// `librsvg2-bin`), run as a child process: a real renderer, so the PNG shows what a browser
/// shows.
public enum SVGRasterizer {
    /// The program run, looked up on `PATH`.
    public static let program = "rsvg-convert"
    /// The Debian package that provides ``program``.
    public static let package = "librsvg2-bin"

    /// Writes `svg` rendered at its own size (one pixel per SVG unit) to `destination` as PNG,
    /// atomically: rsvg-convert writes a temporary file beside it, which is renamed into place.
    ///
    /// - Throws: ``PlotError/rasterizerMissing(program:package:)`` when ``program`` is not on
    ///   `PATH`, ``PlotError/writeFailed(path:reason:)`` when it fails (its standard error is
    ///   the reason) or the file cannot be moved into place.
    public static func writePNG(svg: String, to destination: URL) throws(PlotError) {
        guard let executable = locate() else { throw .rasterizerMissing(program: program, package: package) }
        let directory = destination.deletingLastPathComponent()
        let stem = ".\(destination.lastPathComponent).\(getpid())"
        let input = directory.appendingPathComponent(stem + ".svg"), output = directory.appendingPathComponent(stem + ".png")
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }
        do {
            try Data(svg.utf8).write(to: input)
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--format", "png", "--background-color", "white", "--output", output.path, input.path]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationReason == .exit, process.terminationStatus == 0 else {
                let reason = message.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"
                throw PlotError.writeFailed(path: destination.path, reason: "\(program): \(reason)")
            }
            guard rename(output.path, destination.path) == 0 else {
                throw PlotError.writeFailed(path: destination.path, reason: String(cString: strerror(errno)))
            }
        } catch let error as PlotError {
            throw error
        } catch {
            throw .writeFailed(path: destination.path, reason: error.localizedDescription)
        }
    }

    /// ``program`` on `PATH`.
    private static func locate() -> URL? { executableOnPath(program) }
}
