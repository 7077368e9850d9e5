import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces a file's contents all at once.
public enum AtomicFile {
    /// Writes `text` as UTF-8 to a new temporary file in `url`'s directory, then renames it
    /// over `url`, so readers see either the old file or the whole new one, never a part.
    ///
    /// The temporary file is removed if anything fails.
    ///
    /// - Throws: ``PlotError/writeFailed(path:reason:)``.
    public static func write(_ text: String, to url: URL) throws(PlotError) {
        let unique = "\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(unique).tmp")
        do {
            try Data(text.utf8).write(to: temporary, options: .withoutOverwriting)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .writeFailed(path: url.path, reason: error.localizedDescription)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .writeFailed(path: url.path, reason: reason)
        }
    }
}
