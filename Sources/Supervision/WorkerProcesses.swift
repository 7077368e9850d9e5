import Core
import Foundation

/// Which worker program `trpo train --workers N` starts.
public enum WorkerProgram: Sendable, Equatable {
    /// `trpo worker` (this executable), for the built-in environments.
    case builtIn
    /// The Python worker package, `INTERPRETER -m trpo_worker.cli`, for environments only it
    /// can make (`gym:ID`, `py:MODULE:FACTORY`).
    case python(interpreter: String)

    /// The executable (nil: this one) and arguments of worker `id`.
    func commandLine(id: Int, endpoint: String, environments: Int?, quiet: Bool) -> (executable: String?, arguments: [String]) {
        var arguments = ["--connect", endpoint, "--worker-id", "\(id)", "--parent-pid", "\(getpid())"]
        if let environments { arguments += ["--envs", "\(environments)"] }
        if quiet { arguments.append("--quiet") }
        switch self {
        case .builtIn: return (nil, ["worker"] + arguments)
        case .python(let interpreter): return (interpreter, ["-m", "trpo_worker.cli"] + arguments)
        }
    }
}

/// The worker child processes of `trpo train --workers N`: the same executable run as
/// `trpo worker --connect ENDPOINT --worker-id i --parent-pid P` (or the Python worker with the
/// same options). They exit when the learner says stop, on SIGINT/SIGTERM, or when this
/// process is gone; ``terminate()`` makes sure.
public final class WorkerProcesses {
    private var processes: [ChildProcess] = []
    /// When each worker was restarted after a crash (see ``restartCrashed(limit:window:)``).
    private var restarts: [[Date]]
    private let log: (String) -> Void

    /// Starts `count` workers connected to `endpoint`; `quiet` ones print only warnings and
    /// errors. Restarts are reported to `log`.
    public init(count: Int, endpoint: String, environments: Int?, quiet: Bool, program: WorkerProgram = .builtIn,
                log: @escaping (String) -> Void) throws(SupervisionError) {
        restarts = Array(repeating: [], count: count)
        self.log = log
        for id in 0..<count {
            let command = program.commandLine(id: id, endpoint: endpoint, environments: environments, quiet: quiet)
            processes.append(try ChildProcess(command.arguments, executable: command.executable))
        }
    }

    /// Starts again, with the same arguments, each worker that died of a crash signal
    /// (``LearnerSupervisor/crashSignals``: libzmq's abort of issue #4841 can hit a worker
    /// too) rather than exiting, at most `limit` times per worker within `window` seconds;
    /// says so on standard error. Workers that exited, and any after a stop request, stay
    /// as they are. The worker registers again and the learner takes it back.
    public func restartCrashed(limit: Int = 5, window: TimeInterval = 600) throws(SupervisionError) {
        guard !StopRequest.isRaised else { return }
        let now = Date()
        for (id, process) in processes.enumerated() {
            guard case .signaled(let signal) = process.poll(), let why = LearnerSupervisor.crashSignals[signal] else { continue }
            restarts[id].removeAll { now.timeIntervalSince($0) > window }
            guard restarts[id].count < limit else { continue }
            restarts[id].append(now)
            log("worker \(id): its process \(process.pid) died (\(why)); starting it again "
                 + "(restart \(restarts[id].count) of at most \(limit) within \(Int(window / 60)) minutes)")
            processes[id] = try ChildProcess(process.arguments, executable: process.executable)
        }
    }

    /// Why the run cannot go on with these workers, once every one of them has exited on its
    /// own with a failure status (say, the Python workers could not make the environment:
    /// their reasons are on standard error); nil while any runs or any ended well.
    public var allFailed: String? {
        let endings = processes.map { $0.poll() }
        guard !processes.isEmpty, endings.allSatisfy({ $0 != nil && $0 != .exited(0) }) else { return nil }
        let statuses = endings.enumerated().map { id, ending in
            switch ending! {
            case .exited(let status): "worker \(id): exit \(status)"
            case .signaled(let signal): "worker \(id): signal \(signal)"
            }
        }
        return "every worker process ended (\(statuses.joined(separator: ", "))); see their messages above"
    }

    /// Waits up to `seconds` for the workers to exit by themselves, then sends SIGTERM, and
    /// SIGKILL to any still running two seconds later, and reaps them all.
    public func terminate(after seconds: Double = 5) {
        func waitAll(_ limit: Double) {
            let deadline = Date().addingTimeInterval(limit)
            while processes.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        }
        waitAll(seconds)
        for p in processes where p.isRunning { p.signal(SIGTERM) }
        waitAll(2)
        for p in processes where p.isRunning { p.signal(SIGKILL) }
        for p in processes { p.wait() }
    }
}

/// Runs `body` with an ipc endpoint in a fresh temporary directory (removed afterwards) for a
/// learner in this process and its local `trpo worker` children, with SIGINT and SIGTERM
/// turned into stop requests; `body` starts the children with ``WorkerProcesses`` once it
/// has bound the endpoint. Any child still running at the end is terminated.
public func withLocalWorkers<R>(_ body: (_ endpoint: String, _ children: inout WorkerProcesses?) throws -> R) throws -> R {
    StopRequest.installHandlers()
    let socketDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-\(getpid())")
    try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: socketDirectory) }
    var children: WorkerProcesses?
    defer { children?.terminate() }
    return try body("ipc://\(socketDirectory.path)/learner.sock", &children)
}
