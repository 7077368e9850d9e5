import Foundation
import Testing

/// The learner's supervisor (Sources/Supervision/LearnerSupervisor.swift): a learner process that
/// dies of a crash — here SIGABRT, as libzmq's `!_io_error` assertion (libzmq issue #4841)
/// kills it — is started again from its checkpoint, the run completes with every iteration
/// once, and the restarts are bounded.
@Suite(.serialized) struct SupervisorTests {
    typealias Child = DistributedTests.Child

    /// The supervised learner process under `supervisor` (a child whose command line is
    /// `trpo learner … --supervisor-pid`), waiting up to `seconds` for one other than `except`.
    static func learnerProcess(of supervisor: Int32, except: Set<Int32> = [], seconds: Double = 30) -> Int32? {
        childProcess(of: supervisor, with: ["learner", "--supervisor-pid"], except: except, seconds: seconds)
    }

    /// A child of `parent` whose command line holds every word of `words`, waiting up to
    /// `seconds` for one other than `except`.
    static func childProcess(of parent: Int32, with words: [String], except: Set<Int32> = [], seconds: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for pid in DistributedTests.childProcesses(of: parent) where !except.contains(pid) {
                let arguments = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map {
                    $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                } ?? []
                if words.allSatisfy(arguments.contains) { return pid }
            }
            usleep(20_000)
        }
        return nil
    }

    /// For the trpo processes of these tests: no Swift runtime crash handler. It catches a
    /// SIGABRT sent from outside, prints a backtrace and returns (abort(), as in libzmq's failed
    /// assertion, raises SIGABRT again then, and the process dies; a kill does not), and its
    /// swift-backtrace helper can outlive a process killed during the backtrace.
    static let noBacktrace = ["SWIFT_BACKTRACE": "enable=no"]

    /// Kills `pid` with SIGABRT, as libzmq's failed assertion does (abort()), and waits until
    /// it is gone.
    static func abort(_ pid: Int32) {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"), !stat[stat.index(after: close)...].hasPrefix(" Z") else { return }
            kill(pid, SIGABRT)
            usleep(200_000)
        }
        Issue.record("process \(pid) survived SIGABRT")
    }

    /// `trpo train --workers 2` on CartPole-v1, 12 iterations of 2048 steps, into `root/run`.
    static func trainWithTwoWorkers(in root: URL) throws -> (train: Child, run: URL) {
        let run = root.appendingPathComponent("run")
        let train = try Child(["train", "--env", "CartPole-v1", "--steps", "24576", "--batch-steps", "2048", "--workers", "2",
                               "--out", run.path], log: root.appendingPathComponent("train.log"), environment: noBacktrace)
        return (train, run)
    }

    static func iterations(_ run: URL) -> [Int] {
        DistributedTests.progressRows(run).compactMap { Int($0["iteration"] ?? "") }
    }

    @Test func learnerKilledBySIGABRTRestartsFromItsCheckpointAndTheRunCompletes() throws {
        let started = Date()
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let run = root.appendingPathComponent("run")
        // An earlier run in the directory, replaced with --overwrite: the restart must resume
        // the new run (its checkpoint, without --overwrite), and none of the old rows remain.
        let earlier = try Child(["train", "--env", "CartPole-v1", "--steps", "2048", "--batch-steps", "1024", "--quiet", "--out", run.path],
                                log: root.appendingPathComponent("earlier.log"))
        try #require(earlier.wait(seconds: 120) == 0, "\(earlier.output)")
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "24576", "--batch-steps", "2048",
                                 "--out", run.path, "--overwrite"], log: root.appendingPathComponent("learner.log"),
                                environment: Self.noBacktrace)
        let workers = try (0..<2).map { i in
            try Child(["worker", "--connect", endpoint, "--worker-id", "\(i)", "--learner-timeout", "3"],
                      log: root.appendingPathComponent("worker\(i).log"))
        }
        defer { for child in [learner] + workers where child.process.isRunning { child.signal(SIGKILL) } }
        let first = try #require(Self.learnerProcess(of: learner.process.processIdentifier))
        #expect(learner.waitFor("learner: running in process \(first), supervised by process \(learner.process.processIdentifier)", seconds: 10))
        try #require(learner.waitFor("iter    4/", seconds: 60), "\(learner.output.suffix(2000))")
        Self.abort(first)
        let second = try #require(Self.learnerProcess(of: learner.process.processIdentifier, except: [first]),
                                  "no new learner process\n\(learner.output.suffix(2000))")
        #expect(learner.wait(seconds: 120) == 0, "\(learner.output.suffix(3000))")
        for w in workers { #expect(w.wait(seconds: 15, "after the learner finished") == 0, "\(w.output.suffix(1000))") }
        #expect(Self.iterations(run) == Array(1...12), "\(Self.iterations(run))")
        let restart = try #require(learner.output.split(separator: "\n").first { $0.contains("restarting from the checkpoint at iteration") },
                                   "\(learner.output.suffix(3000))")
        #expect(restart.contains("learner process \(first) died (SIGABRT"), "\(restart)")
        #expect(restart.contains("(restart 1 of at most 5 within 10 minutes)"), "\(restart)")
        #expect(learner.output.contains("--overwrite: removed the run that was in \(run.path)"), "\(learner.output.suffix(3000))")
        #expect(learner.output.contains("resuming \(run.path) from iteration "), "\(learner.output.suffix(3000))")
        #expect(DistributedTests.progressRows(run).last?["workers_alive"] == "2")
        #expect(kill(second, 0) != 0, "the restarted learner process outlived its supervisor")
        print("supervised learner, SIGABRT after iteration 4: \(String(format: "%.1f", Date().timeIntervalSince(started))) s; \(restart)")
    }

    @Test func trainWithWorkersSurvivesALearnerCrashAndLeavesNoProcess() throws {
        let started = Date()
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (train, run) = try Self.trainWithTwoWorkers(in: root)
        defer { if train.process.isRunning { train.signal(SIGKILL) } }
        let parent = train.process.processIdentifier
        let first = try #require(Self.learnerProcess(of: parent))
        try #require(train.waitFor("iter    3/", seconds: 60), "\(train.output.suffix(2000))")
        let children = Set(DistributedTests.childProcesses(of: parent))
        #expect(children.count == 3, "the learner and two workers: \(children)")
        Self.abort(first)
        let second = try #require(Self.learnerProcess(of: parent, except: [first]), "\(train.output.suffix(2000))")
        #expect(train.wait(seconds: 120) == 0, "\(train.output.suffix(3000))")
        #expect(Self.iterations(run) == Array(1...12), "\(Self.iterations(run))")
        #expect(train.output.contains("learner: the learner process \(first) died (SIGABRT"), "\(train.output.suffix(3000))")
        // The workers were the parent's children all along and went on with the new learner.
        #expect(DistributedTests.progressRows(run).last?["workers_alive"] == "2")
        usleep(200_000)
        for pid in children.union([second]) { #expect(kill(pid, 0) != 0, "process \(pid) outlived `trpo train`") }
        print("train --workers 2, learner SIGABRT after iteration 3: \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// `train --workers N` starts a local worker again when a crash ends it; the learner takes
    /// it back and the run ends with both workers.
    @Test func trainWithWorkersRestartsACrashedWorker() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (train, run) = try Self.trainWithTwoWorkers(in: root)
        defer { if train.process.isRunning { train.signal(SIGKILL) } }
        let parent = train.process.processIdentifier
        try #require(train.waitFor("iter    3/", seconds: 60), "\(train.output.suffix(2000))")
        // SIGKILL, as the out-of-memory killer sends (a crash signal like libzmq's SIGABRT, and
        // one no handler in the worker can catch).
        let worker = try #require(Self.childProcess(of: parent, with: ["worker", "--worker-id", "0"]))
        kill(worker, SIGKILL)
        #expect(train.wait(seconds: 120) == 0, "\(train.output.suffix(3000))")
        #expect(train.output.contains("worker 0: its process \(worker) died (SIGKILL"), "\(train.output.suffix(3000))")
        #expect(Self.iterations(run) == Array(1...12), "\(Self.iterations(run))")
        #expect(DistributedTests.progressRows(run).last?["workers_alive"] == "2", "\(train.output.suffix(3000))")
    }

    @Test func aLearnerThatKeepsCrashingIsGivenUpOn() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let learner = try Child(["learner", "--bind", "tcp://127.0.0.1:\(DistributedTests.freePort())", "--env", "CartPole-v1",
                                 "--steps", "100000000", "--out", run.path, "--max-restarts", "2", "--restart-window", "600"],
                                log: root.appendingPathComponent("learner.log"), environment: Self.noBacktrace)
        defer { if learner.process.isRunning { learner.signal(SIGKILL) } }
        var killed: Set<Int32> = []
        for _ in 0..<3 {
            let pid = try #require(Self.learnerProcess(of: learner.process.processIdentifier, except: killed),
                                   "\(learner.output.suffix(2000))")
            Self.abort(pid)
            killed.insert(pid)
        }
        #expect(learner.wait(seconds: 30) == 128 + SIGABRT, "\(learner.output.suffix(3000))")
        let output = learner.output
        #expect(output.contains("(restart 2 of at most 2 within 10 minutes)"), "\(output)")
        #expect(output.contains("error: the learner process"), "\(output)")
        #expect(output.contains("it was restarted 2 time(s) within 10 minutes, the most allowed, so the supervisor gives up"), "\(output)")
        for pid in killed { #expect(kill(pid, 0) != 0) }
    }

    @Test func signalsToTheSupervisorStopTheLearnerCleanly() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        for signal in [SIGINT, SIGTERM] {
            let run = root.appendingPathComponent("run\(signal)")
            let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "100000000", "--out", run.path],
                                    log: root.appendingPathComponent("learner\(signal).log"), environment: Self.noBacktrace)
            let worker = try Child(["worker", "--connect", endpoint], log: root.appendingPathComponent("worker\(signal).log"))
            defer { for child in [learner, worker] where child.process.isRunning { child.signal(SIGKILL) } }
            let pid = try #require(Self.learnerProcess(of: learner.process.processIdentifier))
            try #require(learner.waitFor("iter    2/", seconds: 60), "\(learner.output.suffix(2000))")
            learner.signal(signal)
            #expect(learner.wait(seconds: 10) == 0, "\(learner.output.suffix(2000))")
            #expect(learner.output.contains("learner: stop requested; telling workers"))
            #expect(!learner.output.contains("restarting"))
            #expect(worker.wait(seconds: 10) == 0, "\(worker.output.suffix(1000))")
            #expect(kill(pid, 0) != 0, "the learner process outlived its supervisor")
        }
    }

    @Test func noSuperviseRunsTheLearnerInItsOwnProcess() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let learner = try Child(["learner", "--bind", "ipc://\(root.path)/learner.sock", "--env", "CartPole-v1", "--steps", "100000000",
                                 "--out", root.appendingPathComponent("run").path, "--no-supervise"],
                                log: root.appendingPathComponent("learner.log"), environment: Self.noBacktrace)
        defer { if learner.process.isRunning { learner.signal(SIGKILL) } }
        #expect(learner.waitFor("learner: listening on", seconds: 30), "\(learner.output)")
        #expect(DistributedTests.childProcesses(of: learner.process.processIdentifier).isEmpty)
        #expect(!learner.output.contains("supervised by"))
        learner.signal(SIGTERM)
        #expect(learner.wait(seconds: 10) == 0)
    }
}
