import Foundation

/// The program `name` in the first directory of `PATH` (or, when `PATH` is unset, of
/// `/usr/local/bin:/usr/bin:/bin`) that holds it as an executable file, as a shell finds it;
/// nil when none does. For the external tools trpo runs (ffmpeg, rsvg-convert).
public func executableOnPath(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    return path.split(separator: ":").lazy
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}
