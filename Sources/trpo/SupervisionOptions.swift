import ArgumentParser
import Core
import Foundation
import Learner
import Supervision

/// The hidden options of `trpo learner` and `trpo train --workers N` that run the learner
/// under a ``LearnerSupervisor``.
///
/// Supervision exists because of libzmq issue #4841 (Debian 12's libzmq 4.3.4): when one
/// connection's POLLIN handling hits an I/O error and its POLLOUT is handled in the same
/// batch, libzmq aborts the whole process (`Assertion failed: !_io_error
/// (src/stream_engine_base.cpp:331)`). A worker's broken network link must not end a long run,
/// so the learner runs in a child process that is started again from its checkpoint.
struct SupervisionOptions: ParsableArguments {
    @Flag(name: .customLong("no-supervise"), help: .hidden)
    var noSupervise = false

    /// Set by the supervisor on the learner process it starts.
    @Option(name: .customLong("supervisor-pid"), help: .hidden)
    var supervisorPID: Int32?

    @Option(name: .customLong("max-restarts"), parsing: .unconditional, help: .hidden)
    var maxRestarts: Int = 5

    @Option(name: .customLong("restart-window"), parsing: .unconditional, help: .hidden)
    var restartWindow: Double = 600

    /// True in the process that should start and watch the learner rather than be it.
    var supervises: Bool { !noSupervise && supervisorPID == nil }

    /// True in a learner process its supervisor started (the supervisor checked the command
    /// line's run directory before starting it).
    var isSupervised: Bool { supervisorPID != nil }

    /// In a supervised learner process: see ``Supervision/attachToSupervisor(_:)``.
    func attachToSupervisor() throws {
        guard let supervisorPID else { return }
        do { try Supervision.attachToSupervisor(supervisorPID) } catch { throw runFailure(error) }
    }

    /// A supervisor for `arguments` (the learner's command line) with these limits.
    func supervisor(arguments: [String], directory: URL, quiet: Bool) -> LearnerSupervisor {
        LearnerSupervisor(arguments: arguments, runDirectory: directory, maxRestarts: maxRestarts,
                          restartWindow: restartWindow, quiet: quiet, log: note)
    }

    func validate() throws {
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be 0 or more (got \(maxRestarts))") }
        guard restartWindow > 0, restartWindow.isFinite else {
            throw ValidationError("--restart-window must be a positive number of seconds (got \(restartWindow))")
        }
    }
}

extension LearnerCommand {
    /// `trpo learner` as a supervisor: the same command line in a supervised child process.
    func supervise(directory: URL) throws {
        let supervisor = supervision.supervisor(arguments: Self.ownArguments(command: "learner"), directory: directory,
                                                quiet: training.quiet)
        let status = try supervisor.run()
        if status != 0 { throw ExitCode(status) }
    }

    /// This process's arguments from the subcommand's name on (`learner …`), with the
    /// subcommand named `command`.
    static func ownArguments(command: String) -> [String] {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let i = arguments.firstIndex(where: { !$0.hasPrefix("-") }) { arguments.remove(at: i) }
        return [command] + arguments
    }
}

extension TrainCommand {
    /// `trpo train --workers N` as a supervisor: the local workers are this process's
    /// children (their `--parent-pid` is this process, so they outlive a learner restart and
    /// reconnect by themselves), and the learner is a supervised `trpo learner` child on the
    /// workers' ipc endpoint, with the same options (but `--force-workers`, which only
    /// `train` takes: the learner starts no workers).
    func superviseWithWorkers(directory: URL, configuration: TrainingConfiguration) throws {
        let program = try localWorkers.program(for: configuration)
        var workersFailed: String?
        let status = try withLocalWorkers { endpoint, children in
            let socket = String(endpoint.dropFirst("ipc://".count))
            let arguments = LocalWorkerOptions.removingPython(from: LearnerCommand.ownArguments(command: "learner"))
                .filter { $0 != "--force-workers" }
            let supervisor = supervision.supervisor(arguments: arguments + ["--bind", endpoint], directory: directory,
                                                    quiet: training.quiet)
            return try supervisor.run { _ in
                // Start the workers once the learner has bound the endpoint (the socket file
                // appears in the fresh directory), so a learner that fails to start ends at once.
                if children == nil && FileManager.default.fileExists(atPath: socket) {
                    children = try WorkerProcesses(count: localWorkers.workers, endpoint: endpoint, environments: nil,
                                                   quiet: training.quiet, program: program, log: note)
                }
                try children?.restartCrashed()
                if workersFailed == nil, let failure = children?.allFailed {
                    // Nobody is left to collect: stop the learner as an interrupt would.
                    workersFailed = failure
                    StopRequest.raise()
                }
            }
        }
        if let workersFailed { throw runFailure(workersFailed) }
        if StopRequest.isRaised { throw ExitCode(130) }
        if status != 0 { throw ExitCode(status) }
    }
}
