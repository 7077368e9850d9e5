import Core
import Foundation

/// The worker child processes of `trpo train --workers N`: the same executable run as
/// `trpo worker --connect ENDPOINT --worker-id i --parent-pid P`. They exit when the learner
/// says stop, on SIGINT/SIGTERM, or when this process is gone; ``terminate()`` makes sure.
final class WorkerProcesses {
    private var processes: [Process] = []

    /// Starts `count` workers connected to `endpoint`; `quiet` ones print only warnings and errors.
    init(count: Int, endpoint: String, environments: Int?, quiet: Bool) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        for id in 0..<count {
            let process = Process()
            process.executableURL = executable
            var arguments = ["worker", "--connect", endpoint, "--worker-id", "\(id)",
                             "--parent-pid", "\(getpid())"]
            if let environments { arguments += ["--envs", "\(environments)"] }
            if quiet { arguments.append("--quiet") }
            process.arguments = arguments
            try process.run()
            processes.append(process)
        }
    }

    /// Waits up to `seconds` for the workers to exit by themselves, then sends SIGTERM, and
    /// SIGKILL to any still running two seconds later. Returns the exit statuses.
    @discardableResult
    func terminate(after seconds: Double = 5) -> [Int32] {
        func waitAll(_ limit: Double) {
            let deadline = Date().addingTimeInterval(limit)
            while processes.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        }
        waitAll(seconds)
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        waitAll(2)
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in processes { p.waitUntilExit() }
        return processes.map(\.terminationStatus)
    }
}

/// Runs `body` with an ipc endpoint in a fresh temporary directory (removed afterwards) for a
/// learner in this process and its local `trpo worker` children, with SIGINT and SIGTERM
/// turned into stop requests; `body` starts the children with ``WorkerProcesses`` once it
/// has bound the endpoint. Any child still running at the end is terminated.
func withLocalWorkers<R>(_ body: (_ endpoint: String, _ children: inout WorkerProcesses?) throws -> R) throws -> R {
    StopRequest.installHandlers()
    let socketDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-\(getpid())")
    try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: socketDirectory) }
    var children: WorkerProcesses?
    defer { children?.terminate() }
    return try body("ipc://\(socketDirectory.path)/learner.sock", &children)
}
