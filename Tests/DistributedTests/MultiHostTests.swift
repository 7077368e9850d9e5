import Foundation
import Testing
import Transport

/// Network namespaces joined by a bridge: one "host" per namespace, each with its own address
/// in 10.77.0.0/24 (used only inside these namespaces). Names are unique per run; ``tearDown()``
/// deletes the namespaces, which takes their links with them.
struct NetworkLab {
    /// One namespace, reachable from the others at `address`.
    struct Host {
        var namespace: String
        var address: String
        /// The host's end of its link, on the hub's side (cut it to cut the host off).
        var hubPort: String
    }

    static let prefix = "trpotest"
    let hub: Host
    private(set) var hosts: [Host] = []

    /// Runs `ip arguments`; throws with its output when it fails.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(description: "ip \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }

    struct LabError: Error, CustomStringConvertible { var description: String }

    /// Whether this process can create network namespaces (root with CAP_SYS_ADMIN and
    /// CAP_NET_ADMIN, and the `ip` tool).
    static var isAvailable: Bool {
        guard getuid() == 0 else { return false }
        let probe = "\(prefix)-probe-\(getpid())"
        guard (try? ip(["netns", "add", probe])) != nil else { return false }
        _ = try? ip(["netns", "delete", probe])
        return true
    }

    /// Deletes namespaces left by runs whose process is gone (a crashed test run).
    static func removeLeftovers() {
        let names = ((try? ip(["netns", "list"])) ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        for name in names where name.hasPrefix(prefix + "-") {
            let fields = name.split(separator: "-")
            if fields.count >= 3, let pid = Int32(fields[1]), kill(pid, 0) != 0 { _ = try? ip(["netns", "delete", name]) }
        }
    }

    /// The hub namespace with a bridge at 10.77.0.1/24.
    init() throws {
        let run = "\(Self.prefix)-\(getpid())-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
        hub = Host(namespace: "\(run)-hub", address: "10.77.0.1", hubPort: "")
        try Self.ip(["netns", "add", hub.namespace])
        try Self.ip(["-n", hub.namespace, "link", "set", "lo", "up"])
        try Self.ip(["-n", hub.namespace, "link", "add", "br0", "type", "bridge"])
        try Self.ip(["-n", hub.namespace, "addr", "add", "10.77.0.1/24", "dev", "br0"])
        try Self.ip(["-n", hub.namespace, "link", "set", "br0", "up"])
    }

    /// A new namespace `name`, linked to the hub's bridge by a veth pair, at 10.77.0.`number`.
    mutating func addHost(_ name: String, number: Int) throws -> Host {
        let host = Host(namespace: hub.namespace.replacingOccurrences(of: "-hub", with: "-\(name)"),
                        address: "10.77.0.\(number)", hubPort: "port\(number)")
        hosts.append(host)
        try Self.ip(["netns", "add", host.namespace])
        try Self.ip(["-n", host.namespace, "link", "set", "lo", "up"])
        try Self.ip(["-n", hub.namespace, "link", "add", host.hubPort, "type", "veth", "peer", "name", "eth0", "netns", host.namespace])
        try Self.ip(["-n", hub.namespace, "link", "set", host.hubPort, "master", "br0"])
        try Self.ip(["-n", hub.namespace, "link", "set", host.hubPort, "up"])
        try Self.ip(["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", "eth0"])
        try Self.ip(["-n", host.namespace, "link", "set", "eth0", "up"])
        return host
    }

    /// Cuts (`up == false`) or restores `host`'s link at the hub, as a pulled cable would:
    /// the host keeps its address and route, and its packets are lost.
    func setLink(of host: Host, up: Bool) throws {
        try Self.ip(["-n", hub.namespace, "link", "set", host.hubPort, up ? "up" : "down"])
    }

    /// Deletes every namespace (their links go with them).
    func tearDown() {
        for namespace in hosts.map(\.namespace) + [hub.namespace] { _ = try? Self.ip(["netns", "delete", namespace]) }
    }
}

/// A learner and workers on different (virtual) hosts, over TCP with CURVE: a worker's link is
/// cut and restored mid-run, and a host with a key not on the allow-list is refused.
@Suite(.serialized) struct MultiHostTests {
    typealias Child = DistributedTests.Child

    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(.enabled(if: inCI || NetworkLab.isAvailable,
                   "needs root and network namespaces (ip netns); with CI=true a missing capability fails instead"))
    func learnerAndWorkersOnThreeHostsSurviveACutLinkAndRefuseAStranger() throws {
        try #require(getuid() == 0, "CI=true but not root: this test needs root for ip netns")
        let started = Date()
        NetworkLab.removeLeftovers()
        var lab = try NetworkLab()
        var children: [Child] = []
        defer {
            for child in children where child.process.isRunning { child.signal(SIGKILL); child.process.waitUntilExit() }
            lab.tearDown()
        }
        let hostA = try lab.addHost("a", number: 2), hostB = try lab.addHost("b", number: 3)
        let stranger = try lab.addHost("x", number: 4)

        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let keys = try SecurityTests.generateKeys(["learner", "stranger"], in: root.appendingPathComponent("keys"), root: root)
        let allowed = try SecurityTests.generateKeys(["a", "b"], in: root.appendingPathComponent("allowed"), root: root)
        let learnerPublic = keys.appendingPathComponent("learner.pub").path
        let endpoint = "tcp://\(lab.hub.address):5555"
        let run = root.appendingPathComponent("run")

        /// `trpo arguments` run inside `namespace`.
        func start(_ name: String, in namespace: String, _ arguments: [String]) throws -> Child {
            let child = try Child(["netns", "exec", namespace, DistributedTests.executable.path] + arguments,
                                  log: root.appendingPathComponent("\(name).log"), executable: URL(fileURLWithPath: "/usr/sbin/ip"))
            children.append(child)
            return child
        }
        func worker(_ id: Int, on host: NetworkLab.Host, key: String) throws -> Child {
            try start("worker\(id)", in: host.namespace, ["worker", "--connect", endpoint, "--worker-id", "\(id)", "--learner-timeout", "3",
                                                         "--curve-secret", key, "--learner-public", learnerPublic])
        }
        let learner = try start("learner", in: lab.hub.namespace, [
            "learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "10000000", "--batch-steps", "2048",
            "--worker-timeout", "2", "--curve-secret", keys.appendingPathComponent("learner.key").path,
            "--allow-workers", allowed.path, "--out", run.path,
        ])
        let a = try worker(0, on: hostA, key: allowed.appendingPathComponent("a.key").path)
        let b = try worker(1, on: hostB, key: allowed.appendingPathComponent("b.key").path)
        let refused = try worker(2, on: stranger, key: keys.appendingPathComponent("stranger.key").path)

        // Both workers train; the stranger is refused and gives up after its learner timeout.
        try #require(learner.waitFor("iter    3/", seconds: 60), "\(learner.output.suffix(2000))")
        #expect(DistributedTests.progressRows(run).last?["workers_alive"] == "2")
        #expect(refused.wait(seconds: 20) == 2, "\(refused.output)")
        #expect(refused.output.contains("the learner refused this worker's key (not on its allow-list)"), "\(refused.output)")
        #expect(!refused.output.contains("collecting"))
        #expect(learner.output.contains("refused a connection from \(stranger.address): CURVE key"), "\(learner.output.suffix(2000))")

        // libzmq 4.3.4 may abort the learner process when a cut link errors (libzmq issue
        // #4841, which ZMTP PINGs from the workers triggered; they send none now, but a
        // restart must still be survived); its supervisor then restarts it from the
        // checkpoint. Such a restart is
        // accepted (and reported): the new learner process knows no worker, so worker 0
        // joins it instead of coming back, and its counters start again.
        let restartLine = "restarting from the checkpoint at iteration"
        var restarted: Bool { learner.output.contains(restartLine) }
        /// Waits until the learner logs `text`, or, after a restart, `otherwise` after it.
        func learnerLogs(_ text: String, otherwise: String, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let output = learner.output
                if output.contains(text) { return true }
                if let restart = output.range(of: restartLine, options: .backwards),
                   output[restart.upperBound...].contains(otherwise) { return true }
                usleep(20_000)
            }
            return false
        }

        // Cut worker 0's cable for six seconds: longer than the learner's worker timeout (2 s)
        // and the worker's learner timeout (3 s), so the worker reconnects while cut off.
        try lab.setLink(of: hostA, up: false)
        let cut = Date()
        #expect(learnerLogs("worker 0 silent for more than", otherwise: "worker 1 joined", seconds: 10), "\(learner.output.suffix(2000))")
        let iterationsBefore = DistributedTests.progressRows(run).count
        #expect(a.waitFor("no word from the learner", seconds: 10), "\(a.output)")
        Thread.sleep(forTimeInterval: max(0, 6 - Date().timeIntervalSince(cut)))
        // Keep the cable cut until the learner has finished an iteration with worker 1 alone
        // (on a loaded machine that can take longer than the six seconds), for at most 30 s more.
        var rowsWhileCut = DistributedTests.progressRows(run)
        let cutDeadline = Date().addingTimeInterval(30)
        while !restarted && Date() < cutDeadline
                && (rowsWhileCut.count <= iterationsBefore || rowsWhileCut.last?["workers_alive"] != "1") {
            Thread.sleep(forTimeInterval: 0.2)
            rowsWhileCut = DistributedTests.progressRows(run)
        }
        let restartedWhileCut = restarted
        try lab.setLink(of: hostA, up: true)

        // The learner carried on with worker 1 alone, and takes worker 0 back.
        if !restartedWhileCut {
            #expect(rowsWhileCut.count > iterationsBefore, "no iteration while worker 0 was cut off")
            #expect(rowsWhileCut.last?["workers_alive"] == "1")
        }
        #expect(learnerLogs("worker 0 is back after being declared gone", otherwise: "worker 0 joined", seconds: 20),
                "\(learner.output.suffix(2000))")
        let back = DistributedTests.progressRows(run).count
        let deadline = Date().addingTimeInterval(30)
        while DistributedTests.progressRows(run).count < back + 2 && Date() < deadline { usleep(100_000) }
        let rows = DistributedTests.progressRows(run)
        #expect(rows.count >= back + 2 && rows.last?["workers_alive"] == "2", "\(rows.suffix(3))")
        #expect(rows.map { Int($0["iteration"] ?? "") ?? 0 } == Array(1...rows.count), "every iteration once")
        // The stranger's refusal is counted (in rows before any restart: counters are per process).
        #expect(rows.compactMap { Int($0["refused_connections"] ?? "") }.max() ?? 0 >= 1)
        if restarted {
            let lines = learner.output.split(separator: "\n").filter { $0.contains(restartLine) || $0.contains("Assertion failed") }
            print("multi-host run: the learner process was restarted by its supervisor:\n" + lines.joined(separator: "\n"))
        }

        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 15) == 0, "\(learner.output.suffix(2000))")
        for w in [a, b] { #expect(w.wait(seconds: 10) == 0, "\(w.output.suffix(1000))") }
        print("multi-host run: \(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(rows.count) iterations, "
              + "cut at iteration \(iterationsBefore), worker 0 back by iteration \(back)")
    }
}
