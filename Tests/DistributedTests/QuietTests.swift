import Foundation
import Testing

/// `--quiet` on the distributed paths: the summary only, but warnings and errors still.
@Suite(.serialized) struct QuietTests {
    typealias Child = DistributedTests.Child

    @Test func trainWithWorkersQuietPrintsOnlyTheSummary() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let train = try Child(["train", "--env", "CartPole-v1", "--steps", "8192", "--batch-steps", "2048", "--workers", "2",
                               "--quiet", "--out", run.path], log: root.appendingPathComponent("train.log"))
        #expect(train.wait(seconds: 120) == 0, "\(train.output.suffix(2000))")
        let lines = train.output.split(separator: "\n")
        #expect(lines.count == 1, "\(train.output)")
        #expect(lines.first?.hasPrefix("done: 8,192 steps in ") == true, "\(train.output)")
        #expect(DistributedTests.progressRows(run).count == 4)
    }

    @Test func quietWorkerStillWarns() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // Nobody listens: the worker says why it cannot reach the learner and keeps trying.
        let worker = try Child(["worker", "--connect", "ipc://\(root.path)/nobody.sock", "--learner-timeout", "0.5", "--quiet"],
                               log: root.appendingPathComponent("worker.log"))
        #expect(worker.waitFor("cannot reach", seconds: 20), "\(worker.output)")
        worker.signal(SIGINT)
        // It never reached a learner: stopped by SIGINT, it exits 128 + 2.
        #expect(worker.wait(seconds: 10) == 130, "\(worker.output)")
        #expect(!worker.output.contains("connecting to"), "\(worker.output)")
        #expect(!worker.output.contains("sent 0 chunks"), "\(worker.output)")
    }
}
