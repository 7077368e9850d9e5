import Foundation
import Testing

/// The deployment pieces under `deploy/`, exercised for real where this machine allows: a
/// single-node Slurm cluster, an sshd on 127.0.0.1, `systemd-analyze verify`, and the
/// Kubernetes schema. Each test drives a bash script in `scripts/` with the `trpo` binary
/// and a time limit; the script starts, checks and stops everything itself.
@Suite(.serialized) struct DeployTests {
    static let executable = Bundle.main.bundleURL.appendingPathComponent("trpo")
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("scripts")
    static let environment = ProcessInfo.processInfo.environment
    static let isRoot = getuid() == 0
    /// CI installs every tool these tests need, so there a missing one fails instead of skipping.
    static let inCI = environment["CI"] == "true"

    /// Whether `tool` is an executable on PATH or in the sbin directories.
    static func installed(_ tool: String) -> Bool {
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return path.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// Runs `scripts/NAME` with `arguments`, stops it (TERM, so its cleanup runs, then KILL)
    /// after `seconds`, prints its output and run time, and returns its exit status.
    @discardableResult
    static func script(_ name: String, _ arguments: [String] = [], seconds: Double) throws -> Int32 {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-deploy-\(name)-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [scripts.appendingPathComponent(name).path] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        // The child inherits this thread's signal mask, in which the test runner blocks signals;
        // the scripts and the daemons they start must receive TERM and INT as they would from a shell.
        var unblocked = sigset_t(), saved = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
        let deadline = started.addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            Issue.record("\(name) still running after \(seconds) s; stopping it")
            process.terminate()
            let grace = Date().addingTimeInterval(20)
            while process.isRunning && Date() < grace { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        print("── \(name): exit \(process.terminationStatus) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s\n\(output)")
        return process.terminationStatus
    }

    @Test(.enabled(if: isRoot, "skipped: the Slurm test needs root (slurmd runs the job as its submitter)"),
          .enabled(if: inCI || installed("slurmctld"), "skipped: Slurm is not installed (apt-get install slurm-wlm munge)"))
    func slurmBatchJobOnASingleNodeCluster() throws {
        try #require(Self.installed("slurmctld") && Self.installed("munged"), "CI must install slurm-wlm and munge (.ci/run)")
        #expect(try Self.script("slurm.sh", [Self.executable.path], seconds: 110) == 0)
    }

    @Test(.enabled(if: isRoot, "skipped: the ssh launcher test needs root (it runs an sshd)"),
          .enabled(if: inCI || installed("sshd"), "skipped: sshd is not installed (apt-get install openssh-server)"))
    func sshLauncherRunsToTheEndAndStopsEverythingOnControlC() throws {
        try #require(Self.installed("sshd") && Self.installed("ssh"), "CI must install openssh-server and openssh-client (.ci/run)")
        #expect(try Self.script("ssh-launch.sh", [Self.executable.path], seconds: 110) == 0)
    }

    @Test(.enabled(if: inCI || installed("systemd-analyze"), "skipped: systemd-analyze is not installed (apt-get install systemd)"))
    func systemdUnitsVerifyAndTheirCommandsRunAndResume() throws {
        try #require(Self.installed("systemd-analyze"), "CI must install systemd (.ci/run)")
        #expect(try Self.script("systemd.sh", [Self.executable.path], seconds: 90) == 0)
    }

    /// kubernetes-validate from PyPI: where .ci/run installs it, or TRPO_K8S_VALIDATOR, or on PATH.
    static let validator: String? = {
        let candidates = [environment["TRPO_K8S_VALIDATOR"], "/opt/trpo-venv/bin/kubernetes-validate"].compactMap { $0 }
            + (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/kubernetes-validate" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test(.enabled(if: inCI || validator != nil,
                   "skipped: kubernetes-validate is not installed (python3 -m venv /opt/trpo-venv && /opt/trpo-venv/bin/pip install kubernetes-validate)"))
    func kubernetesManifestsValidateAndTheirCommandsRun() throws {
        let validator = try #require(Self.validator, "CI must install kubernetes-validate in /opt/trpo-venv (.ci/run)")
        #expect(try Self.script("k8s.sh", [Self.executable.path, validator], seconds: 90) == 0)
    }

    @Test(.enabled(if: installed("apt-cache") && installed("dpkg") && installed("readelf"),
                   "skipped: the Containerfile check reads Debian's package database (apt-cache, dpkg, readelf)"))
    func containerfileNamesExistingPathsAndPackagesThatProvideTheLibraries() throws {
        #expect(try Self.script("containerfile.sh", [Self.executable.path], seconds: 60) == 0)
    }
}
