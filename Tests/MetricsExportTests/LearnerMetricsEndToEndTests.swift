import Foundation
import MetricsExport
import Testing

/// The `trpo` binary as a user runs it: a real learner and worker on CartPole-v1, scraped
/// with curl, and the command line's mistakes.
@Suite(.serialized) struct LearnerMetricsEndToEndTests {
    static let executable = Bundle.main.bundleURL.appendingPathComponent("trpo")

    /// A process whose output (standard output and error) goes to a file.
    final class Child {
        let process = Process()
        let log: URL

        init(_ executable: URL, _ arguments: [String], log: URL) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.executableURL = executable
            process.arguments = arguments
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits up to `seconds` for the process to end; kills it (and records an issue) if it does not.
        @discardableResult
        func wait(seconds: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            guard !process.isRunning else {
                Issue.record("\(process.arguments?.first ?? "?") still running after \(seconds) s\n\(output.suffix(2000))")
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return process.terminationStatus
        }

        /// Polls `condition` every 100 ms for up to `seconds`; true once it holds.
        func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                if !process.isRunning { return condition() }
                usleep(100_000)
            }
            return false
        }
    }

    /// Runs a command to its end (at most `seconds`), with its standard output and error.
    static func run(_ executable: URL, _ arguments: [String], in directory: URL,
                    seconds: Double = 30) throws -> (status: Int32?, stdout: String, stderr: String) {
        let name = UUID().uuidString
        let (out, err) = (directory.appendingPathComponent("\(name).out"), directory.appendingPathComponent("\(name).err"))
        for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let status: Int32? = process.terminationReason == .exit ? process.terminationStatus : nil
        return (status, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    static let curl: URL? = ["/usr/bin/curl", "/bin/curl", "/usr/local/bin/curl"].map(URL.init(fileURLWithPath:))
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// `curl ARGUMENTS URL`: what it printed, or nil when it failed.
    static func curl(_ url: String, _ arguments: [String] = [], in directory: URL) throws -> String? {
        guard let curl else { return nil }
        let result = try run(curl, ["--silent", "--show-error", "--max-time", "10"] + arguments + [url], in: directory, seconds: 20)
        return result.status == 0 ? result.stdout : nil
    }

    /// The value of the unlabelled sample `name` in an exposition.
    static func value(_ name: String, in exposition: String) -> Double? {
        exposition.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-metrics-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `trpo learner --metrics` with a worker on CartPole-v1: before the worker, the learner
    /// reports no worker and no iteration; once an iteration passed, curl reads every
    /// documented metric, trpo_iteration ≥ 1 and trpo_workers_alive 1.
    @Test func aRealLearnerIsScrapedWithCurl() throws {
        #expect(Self.curl != nil, "curl is not installed (scripts/setup.sh installs it)")
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let endpoint = "ipc://\(root.path)/learner.sock"
        let learner = try Child(Self.executable, ["learner", "--bind", endpoint, "--metrics", "tcp://127.0.0.1:0",
                                                  "--env", "CartPole-v1", "--steps", "10000000", "--batch-steps", "1024",
                                                  "--out", root.appendingPathComponent("run").path],
                                log: root.appendingPathComponent("learner.log"))
        defer { if learner.process.isRunning { kill(learner.process.processIdentifier, SIGKILL) } }
        let announcement = "learner: Prometheus metrics at "
        #expect(learner.waitUntil(seconds: 60) { learner.output.contains(announcement) }, "\(learner.output)")
        guard let line = learner.output.split(separator: "\n").first(where: { $0.hasPrefix(announcement) }) else { return }
        let url = String(line.dropFirst(announcement.count))
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/metrics"))

        let before = try #require(try Self.curl(url, in: root), "\(learner.output)")
        #expect(Self.value("trpo_iteration", in: before) == 0)
        #expect(Self.value("trpo_workers_alive", in: before) == 0)
        #expect(before.contains("trpo_episode_return_mean NaN"))

        let worker = try Child(Self.executable, ["worker", "--connect", endpoint], log: root.appendingPathComponent("worker.log"))
        defer { if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
        var scraped = ""
        let iterated = learner.waitUntil(seconds: 180) {
            scraped = (try? Self.curl(url, in: root)) ?? ""
            return (Self.value("trpo_iteration", in: scraped) ?? 0) >= 1
        }
        #expect(iterated, "learner:\n\(learner.output.suffix(2000))\nworker:\n\(worker.output.suffix(1000))")
        #expect(Self.value("trpo_workers_alive", in: scraped) == 1)
        #expect((Self.value("trpo_timesteps_total", in: scraped) ?? 0) >= 1024)
        #expect((Self.value("trpo_bytes_received_total", in: scraped) ?? 0) > 0)
        #expect(Self.value("trpo_kl", in: scraped)?.isFinite == true)
        #expect(Self.value("trpo_timesteps_target", in: scraped) == 10_000_000)
        for name in LearnerMetricsTests.documented.map({ String($0.prefix { $0 != "{" }) }) {
            #expect(scraped.contains("\n# TYPE \(name) "), "\(name) missing:\n\(scraped)")
        }
        #expect(scraped.contains("trpo_run_info{environment=\"CartPole-v1\",sampler=\"single-path\",version=\""))

        let head = try #require(try Self.curl(url, ["--head"], in: root))
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        let base = String(url.dropLast("/metrics".count))
        for (path, method, status) in [("/nope", "GET", "404"), ("/metrics", "POST", "405"), ("/", "GET", "200")] {
            let code = try Self.curl(base + path, ["--output", "/dev/null", "--write-out", "%{http_code}", "--request", method], in: root)
            #expect(code == status, "\(method) \(path)")
        }

        kill(learner.process.processIdentifier, SIGINT)
        learner.wait(seconds: 60)
        worker.wait(seconds: 30)
        #expect(try Self.curl(url, in: root) == nil, "the metrics end with the learner")
    }

    /// `trpo train --workers 1` starts its learner in a supervised process: the flag reaches it.
    @Test func trainWithWorkersServesMetricsFromItsLearner() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try Self.run(Self.executable, ["train", "--workers", "1", "--metrics", "tcp://127.0.0.1:0", "--env", "CartPole-v1",
                                                    "--steps", "2048", "--batch-steps", "1024",
                                                    "--out", root.appendingPathComponent("run").path],
                                  in: root, seconds: 180)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("learner: Prometheus metrics at http://127.0.0.1:"), "\(result.stderr)")
    }

    /// A new user's mistakes: each one line naming the problem, exit 64 for a malformed
    /// address, 2 for a port in use (before anything of the run is written).
    @Test func mistakesAreOneClearLine() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let learner = ["learner", "--bind", "ipc://\(root.path)/learner.sock", "--env", "CartPole-v1"]
        let usage: [([String], String)] = [
            (learner + ["--metrics", "9100"], "Error: The value '9100' is invalid for '--metrics <tcp://HOST:PORT>': a port alone is not an address; write tcp://0.0.0.0:9100 (every interface) or tcp://127.0.0.1:9100 (this machine only)\n"),
            (learner + ["--metrics", "tcp://0.0.0.0:notaport"], "Error: The value 'tcp://0.0.0.0:notaport' is invalid for '--metrics <tcp://HOST:PORT>': the port must be a number in 0...65535 (got 'notaport'); the form is tcp://HOST:PORT, e.g. tcp://0.0.0.0:9100\n"),
            (learner + ["--metrics", "http://0.0.0.0:9100/metrics"], "Error: The value 'http://0.0.0.0:9100/metrics' is invalid for '--metrics <tcp://HOST:PORT>': give where to listen, not a URL"),
            (["train", "--env", "CartPole-v1", "--metrics", "tcp://0.0.0.0:9100"], "Error: --metrics applies to runs with --workers N (or `trpo learner`)\n"),
        ]
        for (arguments, message) in usage {
            let result = try Self.run(Self.executable, arguments, in: root)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix(message), "\(arguments): \(result.stderr)")
        }

        let squatter = try MetricsServer(binding: MetricsAddress(host: "127.0.0.1", port: 0), exposition: { [] })
        defer { squatter.stop() }
        let taken = "tcp://127.0.0.1:\(squatter.address.port)"
        let run = root.appendingPathComponent("run")
        for arguments in [learner + ["--metrics", taken, "--out", run.path],
                          learner + ["--metrics", taken, "--out", run.path, "--no-supervise"],
                          ["train", "--workers", "1", "--env", "CartPole-v1", "--metrics", taken, "--out", run.path]] {
            let result = try Self.run(Self.executable, arguments, in: root)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr == "error: cannot serve metrics on \(taken): address in use\n", "\(arguments)")
            #expect(!FileManager.default.fileExists(atPath: run.path), "nothing of the run is written")
        }
    }
}
