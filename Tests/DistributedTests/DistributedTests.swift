import Core
import Foundation
import Protocol
import Testing
import ZMQ

/// Real learner and worker processes talking over real sockets, driven as a user would.
@Suite(.serialized) struct DistributedTests {
    static let executable = Bundle.main.bundleURL.appendingPathComponent("trpo")

    /// A child process whose output goes to files in the test's directory.
    final class Child {
        let process = Process()
        let log: URL
        /// Runs `executable` (the trpo binary unless told) with `arguments`.
        /// `environment` entries are added to this process's environment.
        init(_ arguments: [String], log: URL, executable: URL = DistributedTests.executable,
             environment: [String: String] = [:]) throws {
            self.log = log
            if !environment.isEmpty {
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            }
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.executableURL = executable
            process.arguments = arguments
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }
        /// Waits up to `seconds`; kills the process and fails the test if it is still running.
        @discardableResult
        func wait(seconds: Double, _ comment: String = "") -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                Issue.record("\(process.arguments?.first ?? "?") still running after \(seconds) s \(comment)\n\(output.suffix(2000))")
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return process.terminationStatus
        }
        /// Waits until the log contains `text` (or `seconds` pass).
        func waitFor(_ text: String, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if output.contains(text) { return true }
                usleep(20_000)
            }
            return false
        }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-dist-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A tcp port on 127.0.0.1 that was free a moment ago.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func progressRows(_ directory: URL) -> [[String: String]] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("progress.csv"), encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    @Test func learnerAndTwoWorkersOverTCPSolveCartPole() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(Self.freePort())"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "60000",
                                 "--out", run.path, "--quiet"], log: root.appendingPathComponent("learner.log"))
        let workers = try (0..<2).map { i in
            try Child(["worker", "--connect", endpoint, "--worker-id", "\(i)"], log: root.appendingPathComponent("worker\(i).log"))
        }
        #expect(learner.wait(seconds: 240) == 0, "\(learner.output.suffix(2000))")
        for w in workers { #expect(w.wait(seconds: 10, "after the learner finished") == 0) }
        let rows = Self.progressRows(run)
        let best = rows.compactMap { Double($0["episode_return_mean"] ?? "") }.max() ?? 0
        #expect(best >= 475, "best iteration mean return \(best)")
        #expect(rows.last?["workers_alive"] == "2")
    }

    @Test func killedWorkerIsDeclaredGoneAndTheRunCompletes() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "61440",
                                 "--batch-steps", "2048", "--worker-timeout", "1", "--out", run.path],
                                log: root.appendingPathComponent("learner.log"))
        let doomed = try Child(["worker", "--connect", endpoint, "--worker-id", "0"], log: root.appendingPathComponent("w0.log"))
        let survivor = try Child(["worker", "--connect", endpoint, "--worker-id", "1"], log: root.appendingPathComponent("w1.log"))
        #expect(learner.waitFor("iter    2/", seconds: 60))
        // Registered before it dies (on a loaded machine the other worker alone may have
        // collected the first iterations, and a process killed unregistered is never declared gone).
        #expect(doomed.waitFor("collecting CartPole-v1 from version", seconds: 60), "\(doomed.output.suffix(1000))")
        doomed.signal(SIGKILL)
        doomed.process.waitUntilExit()
        // A late joiner gets the current version at once.
        let late = try Child(["worker", "--connect", endpoint, "--worker-id", "2"], log: root.appendingPathComponent("w2.log"))
        #expect(late.waitFor("collecting CartPole-v1 from version", seconds: 10), "late worker: \(late.output)")
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(2000))")
        #expect(learner.output.contains("worker 0 disconnected; declared gone") || learner.output.contains("worker 0 silent for more than"))
        #expect(survivor.wait(seconds: 10) == 0)
        #expect(late.wait(seconds: 10) == 0)
        let rows = Self.progressRows(run)
        #expect(rows.count == 30)
        #expect(rows.last?["workers_alive"] == "2")
    }

    @Test func learnerRestartedWithResumeKeepsItsWorkers() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let run = root.appendingPathComponent("run")
        let arguments = ["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "20480", "--batch-steps", "2048", "--out", run.path]
        let first = try Child(arguments, log: root.appendingPathComponent("learner1.log"))
        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "0", "--learner-timeout", "3"],
                               log: root.appendingPathComponent("w0.log"))
        #expect(first.waitFor("iter    3/", seconds: 60))
        first.signal(SIGKILL)
        first.process.waitUntilExit()
        // The checkpoint's iteration: the first is always saved, later ones every --checkpoint-every.
        let checkpoint = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("checkpoint.json")))
        let saved = try #require((checkpoint as? [String: Any])?["iteration"] as? Int)
        #expect(saved >= 1 && saved <= Self.progressRows(run).count)
        let second = try Child(["learner", "--bind", endpoint, "--resume", run.path], log: root.appendingPathComponent("learner2.log"))
        #expect(second.wait(seconds: 120) == 0, "\(second.output.suffix(2000))")
        #expect(worker.wait(seconds: 15) == 0, "\(worker.output.suffix(2000))")
        let rows = Self.progressRows(run)
        #expect(rows.map { Int($0["iteration"]!)! } == Array(1...10))
        // The resumed learner went on from the checkpoint's iteration.
        #expect(second.output.contains("iter    \(saved + 1)/") || saved == 10)
    }

    @Test func garbageNeverTakesTheLearnerDown() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "8192",
                                 "--batch-steps", "2048", "--max-message-mb", "1", "--out", run.path],
                                log: root.appendingPathComponent("learner.log"))
        let context = try Context()
        let attacker = try Socket(context: context, type: .dealer)
        defer { attacker.close() }
        try attacker.connect(endpoint)
        // 1. garbage bytes
        try attacker.send([[UInt8](repeating: 0xAB, count: 37)])
        // 2. a wrong protocol version
        var wrongVersion = WireCodec.encode(.requestParameters(WorkerIdentity(id: 9, nonce: 1)))
        wrongVersion[0][4] = 99
        try attacker.send(wrongVersion)
        // 3. a chunk full of NaN, encoded honestly (the decoder must refuse it)
        var frames = WireCodec.encode(.heartbeat(Message.Heartbeat(sender: .worker(WorkerIdentity(id: 9, nonce: 1)), sequence: 1, timestamp: 0, version: nil)))
        try attacker.send(frames)
        frames = nanChunkFrames()
        try attacker.send(frames)
        // 4. an oversized message: 1.5 MiB in two frames against a 1 MiB limit
        try attacker.send([WireCodec.encode(.requestParameters(WorkerIdentity(id: 9, nonce: 1)))[0],
                           [UInt8](repeating: 7, count: 768 << 10), [UInt8](repeating: 7, count: 768 << 10)])
        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "0"], log: root.appendingPathComponent("w0.log"))
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(2000))")
        #expect(worker.wait(seconds: 10) == 0)
        let rejected = Int(Self.progressRows(run).last?["rejected_messages"] ?? "") ?? 0
        #expect(rejected >= 4, "rejected \(rejected)\n\(learner.output.suffix(2000))")
        #expect(learner.output.contains("undecodable message"))
        #expect(learner.output.contains("exceeds the limit of 1048576"), "\(learner.output.suffix(3000))")
    }

    @Test func signalsStopEverythingCleanly() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // A worker stops cleanly on SIGTERM.
        let endpoint = "ipc://\(root.path)/learner.sock"
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "100000000",
                                 "--out", root.appendingPathComponent("a").path], log: root.appendingPathComponent("learner.log"))
        let worker = try Child(["worker", "--connect", endpoint], log: root.appendingPathComponent("w.log"))
        #expect(worker.waitFor("collecting", seconds: 20))
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 5) == 0, "\(worker.output.suffix(1000))")
        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 5) != nil)

        // `train --workers 2` forwards SIGTERM: no process is left behind.
        let train = try Child(["train", "--env", "CartPole-v1", "--steps", "100000000", "--workers", "2",
                               "--out", root.appendingPathComponent("b").path], log: root.appendingPathComponent("train.log"))
        #expect(train.waitFor("iter    2/", seconds: 30), "\(train.output.suffix(1000))")
        // Two workers and the supervised learner process (SupervisorTests).
        let children = Self.childProcesses(of: train.process.processIdentifier)
        #expect(children.count == 3)
        train.signal(SIGTERM)
        #expect(train.wait(seconds: 10) == 130)
        usleep(200_000)
        for pid in children { #expect(kill(pid, 0) != 0, "worker process \(pid) outlived its parent") }
    }

    /// The pids whose parent is `pid` (from /proc).
    static func childProcesses(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    /// A chunk whose observations are NaN, with a valid header.
    func nanChunkFrames() -> [[UInt8]] {
        var batch = SampleBatchFixture.make(rows: 4, observationSize: 4)
        batch.observations = [Double](repeating: .nan, count: batch.observations.count)
        // Encode with finite values, then overwrite the observations frame with NaN bytes.
        var finite = batch
        finite.observations = [Double](repeating: 0, count: batch.observations.count)
        var frames = WireCodec.encode(.chunk(Message.Chunk(worker: WorkerIdentity(id: 9, nonce: 1), session: 1, version: 0,
                                                          sequence: 0, simulatorSteps: 4, batch: finite)))
        frames[1] = batch.observations.withUnsafeBytes { Array($0) }
        return frames
    }

    @Test func deterministicRunsRepeatAndOneWorkerEqualsOneProcess() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func distributed(_ name: String, workers: Int, _ extra: [String] = []) throws -> URL {
            let run = root.appendingPathComponent(name)
            let child = try Child(["train", "--env", "Pendulum-v1", "--steps", "6144", "--batch-steps", "2048", "--workers", "\(workers)",
                                   "--deterministic", "--out", run.path, "--quiet"] + extra, log: root.appendingPathComponent("\(name).log"))
            #expect(child.wait(seconds: 120) == 0, "\(child.output.suffix(2000))")
            return run
        }
        func timingFree(_ rows: [[String: String]]) -> [[String: String]] {
            rows.map { $0.filter { !["wall_seconds", "sample_seconds", "policy_seconds", "value_seconds", "publish_seconds", "samples_per_second", "bytes_received"].contains($0.key) } }
        }
        // The value fit overlapped with the next batch's sampling (the default) or in line: the same run.
        let a = try distributed("a", workers: 2), b = try distributed("b", workers: 2, ["--no-overlap"])
        #expect(Self.progressRows(a).count == 3)
        #expect(timingFree(Self.progressRows(a)) == timingFree(Self.progressRows(b)))

        let one = try distributed("one", workers: 1)
        let local = root.appendingPathComponent("local")
        let child = try Child(["train", "--env", "Pendulum-v1", "--steps", "6144", "--batch-steps", "2048", "--out", local.path, "--quiet"],
                              log: root.appendingPathComponent("local.log"))
        #expect(child.wait(seconds: 120) == 0)
        let policy = { (dir: URL) -> [Double] in
            let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("checkpoint.json"))) as! [String: Any]
            let policy = json["policy"] as! [String: Any]
            let network = policy["network"] as! [String: Any]
            return (network["parameters"] as! [Double]) + (policy["logStd"] as! [Double])
        }
        #expect(policy(one) == policy(local))
    }
}

/// Small valid batches for the tests.
enum SampleBatchFixture {
    static func make(rows: Int, observationSize: Int) -> Core.SampleBatch {
        var b = Core.SampleBatch(observationSize: observationSize, actionWidth: 1)
        for t in 0..<rows {
            b.observations += [Double](repeating: 0.1, count: observationSize)
            b.actions.append(Double(t % 2))
            b.rewards.append(1)
            b.ends.append(t == rows - 1 ? .terminated : .none)
        }
        return b
    }
}
