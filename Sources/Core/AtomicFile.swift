import Foundation

/// A failed atomic write: which step failed on which path, with the system's reason.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var operation: String
    public var code: Int32
    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Writes files so that a reader sees either the old or the new content, never a torn one:
/// the data goes to a temporary file in the same directory, is flushed to disk (fsync), and
/// is then renamed over the destination.
public enum AtomicFile {
    /// Replaces `url`'s contents with `data`; on failure the old file is untouched and the
    /// temporary file is removed.
    ///
    /// - Parameter permissions: The new file's mode, set before any byte is written (so a
    ///   secret never sits in a file more open than this); the process umask still applies.
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws(AtomicFileError) {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
        unlink(temporary)  // a leftover would keep its old mode: always create afresh
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw AtomicFileError(path: url.path, operation: "create a file next to", code: errno) }
        func fail(_ operation: String) -> AtomicFileError {
            let error = AtomicFileError(path: url.path, operation: operation, code: errno)
            close(fd)
            unlink(temporary)
            return error
        }
        let written = data.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written else { throw fail("write") }
        guard fsync(fd) == 0 else { throw fail("flush") }
        guard close(fd) == 0 else {
            let error = AtomicFileError(path: url.path, operation: "close", code: errno)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, url.path) == 0 else {
            let error = AtomicFileError(path: url.path, operation: "replace", code: errno)
            unlink(temporary)
            throw error
        }
    }
}
