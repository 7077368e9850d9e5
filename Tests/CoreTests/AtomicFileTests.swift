import Foundation
import Testing
@testable import Core

@Suite struct AtomicFileTests {
    @Test func replacesTheFileAndLeavesNothingElse() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-atomic-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let target = root.appendingPathComponent("file.json")
        try AtomicFile.write(Data("first".utf8), to: target)
        try AtomicFile.write(Data("second".utf8), to: target)
        #expect(try String(contentsOf: target, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["file.json"])
        #expect(throws: (any Error).self) {
            try AtomicFile.write(Data("x".utf8), to: root.appendingPathComponent("missing/file.json"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["file.json"])
    }
}
