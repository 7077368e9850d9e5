import Foundation
import Testing

/// A Python interpreter that has pyzmq: `$TRPO_CONFORMANCE_PYTHON` (e.g. a venv's
/// `bin/python` after `pip install -r Tests/Conformance/requirements.txt`), else `python3`.
let conformancePython: String? = {
    let candidate = ProcessInfo.processInfo.environment["TRPO_CONFORMANCE_PYTHON"] ?? "/usr/bin/env"
    let arguments = candidate == "/usr/bin/env" ? ["python3", "-c", "import zmq"] : ["-c", "import zmq"]
    let process = Process()
    process.executableURL = URL(fileURLWithPath: candidate)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    process.waitUntilExit()
    return process.terminationStatus == 0 ? candidate : nil
}()

/// docs/protocol.md against the learner, from another language: the Python worker in
/// `Tests/Conformance/conformance_client.py`, written from the document alone, provokes every
/// documented learner reply over a real socket.
@Suite(.serialized) struct ConformanceTests {
    @Test(.enabled(if: conformancePython != nil,
                   "needs pyzmq: pip install -r Tests/Conformance/requirements.txt, then set TRPO_CONFORMANCE_PYTHON to that python"))
    func aWorkerWrittenFromTheDocumentGetsEveryDocumentedReply() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Conformance/conformance_client.py")
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let python = conformancePython!
        let arguments = (python == "/usr/bin/env" ? ["python3"] : []) + [script.path, DistributedTests.executable.path]
        let client = try DistributedTests.Child(arguments, log: root.appendingPathComponent("conformance.log"),
                                                executable: URL(fileURLWithPath: python))
        #expect(client.wait(seconds: 600) == 0, "\(client.output)")
        #expect(client.output.contains("all checks passed"), "\(client.output)")
    }
}
