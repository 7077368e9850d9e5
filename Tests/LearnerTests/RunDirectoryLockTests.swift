import Foundation
import Testing
@testable import Learner

/// One claim on a run directory at a time (``RunDirectoryLock``); the refusal names the owner.
@Suite struct RunDirectoryLockTests {
    @Test func aSecondClaimIsRefusedUntilTheFirstIsReleased() throws {
        let directory = TrainingRunTests.temporaryDirectory("lock")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let first = try RunDirectoryLock(directory)
        let owner = try String(contentsOf: directory.appendingPathComponent(RunDirectoryLock.fileName), encoding: .utf8)
        #expect(owner == "\(getpid())\n")
        #expect(throws: RunDirectoryError.inUse(path: directory.path, pid: getpid())) { _ = try RunDirectoryLock(directory) }
        first.release()

        let second = try RunDirectoryLock(directory)
        second.release()
        // The lock file stays; a run's files (RunDirectory.runFiles) never include it.
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(RunDirectoryLock.fileName).path))
        #expect(!RunDirectory.runFiles.contains(RunDirectoryLock.fileName))
    }

    @Test func aDirectoryThatCannotHoldTheLockFileIsReportedByName() {
        let missing = TrainingRunTests.temporaryDirectory("lock-missing")
        let file = missing.appendingPathComponent(RunDirectoryLock.fileName).path
        #expect(throws: RunDirectoryError.cannotLock(path: file, reason: "No such file or directory")) { _ = try RunDirectoryLock(missing) }
        #expect(RunDirectoryError.inUse(path: "/r", pid: nil).description
                == "/r is in use by another trpo process: two processes would overwrite each other's checkpoints; wait for it to end or stop it first")
    }
}
