#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The claim of one process on a run directory: an exclusive `flock(2)` on `DIR/.lock`, so
/// that two commands never train (and checkpoint) the same run at once. The lock file holds
/// the owner's process id for the refusal's message.
///
/// The lock lasts until ``release()`` or the end of the process (the kernel releases it when
/// the process exits, however it exits, so a crash leaves no stale lock behind). Its
/// descriptor is close-on-exec: child processes (workers, a supervised learner) do not hold it.
/// Locks are per open file, so a second claim from the same process is refused as well.
public struct RunDirectoryLock: ~Copyable {
    /// The lock file's name inside the run directory.
    public static let fileName = ".lock"

    private let descriptor: Int32

    /// Claims `directory` (which must exist) for this process, without waiting.
    /// - Throws: ``RunDirectoryError/inUse(path:pid:)`` when another process (or another claim
    ///   of this one) holds it; ``RunDirectoryError/cannotLock(path:reason:)`` when the lock file
    ///   cannot be opened or locked.
    public init(_ directory: URL) throws(RunDirectoryError) {
        let path = directory.appendingPathComponent(Self.fileName).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotLock(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            let owner = Self.readOwner(fd)
            close(fd)
            if error == EWOULDBLOCK { throw .inUse(path: directory.path, pid: owner) }
            throw .cannotLock(path: path, reason: String(cString: strerror(error)))
        }
        let record = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = fd
    }

    /// Gives the directory up (closing the lock file; the file stays, unlocked).
    public consuming func release() {
        close(descriptor)
    }

    /// The process id written in the lock file, when it holds one.
    private static func readOwner(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
