import ArgumentParser
import CGlibcExtras
import Core
import Foundation
import Learner

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

    @Option(name: .customLong("max-restarts"), help: .hidden)
    var maxRestarts: Int = 5

    @Option(name: .customLong("restart-window"), help: .hidden)
    var restartWindow: Double = 600

    /// True in the process that should start and watch the learner rather than be it.
    var supervises: Bool { !noSupervise && supervisorPID == nil }

    /// In a supervised learner process: dies with its supervisor (SIGKILL, as the learner
    /// died before supervision when it was killed), and exits at once if it is already gone.
    func attachToSupervisor() throws {
        guard let supervisorPID else { return }
        _ = trpo_set_parent_death_signal(SIGKILL)
        if getppid() != supervisorPID {
            throw usageFailure("the learner's supervisor (process \(supervisorPID)) is gone")
        }
    }

    func validate() throws {
        guard maxRestarts >= 0 else { throw usageFailure("--max-restarts must be 0 or more") }
        guard restartWindow > 0, restartWindow.isFinite else { throw usageFailure("--restart-window must be positive") }
    }
}

/// Runs the learner in a child process (this executable again, with `--supervisor-pid`) and
/// starts it again from the run's checkpoint when it dies of a crash: SIGABRT (a failed
/// assertion, as in libzmq issue #4841), SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, or SIGKILL
/// (the out-of-memory killer). SIGINT and SIGTERM are forwarded to the child; a child that
/// exits, or dies of a forwarded signal, ends the supervisor with its status. At most
/// `maxRestarts` restarts within `restartWindow` seconds; one more crash is final.
struct LearnerSupervisor {
    /// The learner's command line for its first start (without the executable and
    /// `--supervisor-pid`).
    var arguments: [String]
    /// The run directory, where the learner writes `checkpoint.json` after every iteration.
    var runDirectory: URL
    /// Whether the first start resumes the run in `runDirectory` (its checkpoint is this run's).
    var resumes: Bool
    var options: SupervisionOptions
    var quiet: Bool

    /// Signals that mean the learner process crashed (or was killed by the kernel), not that
    /// someone asked it to stop.
    static let crashSignals: [Int32: String] = [
        SIGABRT: "SIGABRT: an abort, such as libzmq's failed assertion `!_io_error` of libzmq issue #4841, printed above",
        SIGSEGV: "SIGSEGV: a crash", SIGBUS: "SIGBUS: a crash", SIGILL: "SIGILL: a crash or a Swift runtime trap",
        SIGTRAP: "SIGTRAP: a Swift runtime trap", SIGFPE: "SIGFPE: a crash",
        SIGKILL: "SIGKILL: killed, perhaps by the kernel's out-of-memory killer",
    ]

    /// Supervises until the learner ends; returns the status to exit with.
    /// - Parameter watch: called about every 20 ms while a learner process runs, with its pid.
    func run(watch: (Int32) throws -> Void = { _ in }) throws -> Int32 {
        StopRequest.installHandlers()
        let foreignCheckpoint = resumes ? nil : CheckpointStamp(in: runDirectory)
        var restarts: [Date] = []
        var arguments = self.arguments
        while true {
            let child = try ChildProcess(arguments + ["--supervisor-pid", "\(getpid())"])
            let pid = child.pid
            if !quiet && restarts.isEmpty {
                note("learner: running in process \(pid), supervised by process \(getpid()), which restarts it from its checkpoint if it crashes")
            }
            var forwarded: Int32 = 0
            var lastForward = Date.distantPast
            while child.isRunning {
                if StopRequest.isRaised && Date().timeIntervalSince(lastForward) >= 1 {
                    // Again every second: a learner still starting up may not listen for it yet.
                    forwarded = StopRequest.signal == 0 ? SIGTERM : StopRequest.signal
                    child.signal(forwarded)
                    lastForward = Date()
                }
                try watch(pid)
                usleep(20_000)
            }
            let signal: Int32
            switch child.wait() {
            case .exited(let code): return code
            case .signaled(let killer): signal = killer
            }
            let name = Self.signalName(signal)
            guard let why = Self.crashSignals[signal], !StopRequest.isRaised else {
                if forwarded == 0 { note("learner: the learner process \(pid) was ended by \(name); stopping") }
                return 128 + signal
            }
            let now = Date()
            restarts.removeAll { now.timeIntervalSince($0) > options.restartWindow }
            let window = Self.describeWindow(options.restartWindow)
            let checkpoint = CheckpointStamp(in: runDirectory)
            let resumable = checkpoint != nil && (resumes || checkpoint != foreignCheckpoint)
            let continuing = resumable ? "the run in \(runDirectory.path) can go on with --resume \(runDirectory.path)"
                                       : "no checkpoint of this run was written"
            guard restarts.count < options.maxRestarts else {
                note("error: the learner process \(pid) died (\(why)); it was restarted \(restarts.count) time(s) within \(window), "
                     + "the most allowed, so the supervisor gives up; \(continuing)")
                return 128 + signal
            }
            restarts.append(now)
            let from: String
            if resumable {
                let iteration = (try? Checkpoint.load(from: runDirectory).iteration).map { "\($0)" } ?? "?"
                from = "from the checkpoint at iteration \(iteration)"
                arguments = Self.replacingResume(in: self.arguments, with: runDirectory.path)
            } else {
                from = "from scratch (no checkpoint yet)"
                arguments = self.arguments
            }
            note("learner: the learner process \(pid) died (\(why)); restarting \(from) "
                 + "(restart \(restarts.count) of at most \(options.maxRestarts) within \(window))")
        }
    }

    /// `arguments` without any `--resume DIR` / `--resume=DIR`, then `--resume directory`.
    static func replacingResume(in arguments: [String], with directory: String) -> [String] {
        var kept: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if argument == "--resume" { skipNext = true; continue }
            if argument.hasPrefix("--resume=") { continue }
            kept.append(argument)
        }
        return kept + ["--resume", directory]
    }

    /// "10 minutes", "1 minute", "90 s"
    static func describeWindow(_ seconds: Double) -> String {
        guard seconds < 1e9, Double(Int(seconds)) == seconds, Int(seconds) % 60 == 0 else { return humanDuration(seconds) }
        let whole = Int(seconds)
        return whole == 60 ? "1 minute" : "\(whole / 60) minutes"
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
                                      SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                                      SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
                                      SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM"]
        return names[signal] ?? "signal \(signal)"
    }
}

/// Which file a run directory's checkpoint is: the checkpoint is replaced atomically (a new
/// file renamed over the old one) after every iteration, so a new write changes the stamp.
/// Tells a checkpoint this run wrote from one left in the directory by an earlier run.
struct CheckpointStamp: Equatable {
    var inode: UInt64
    var size: Int64
    var modified: timespec

    init?(in directory: URL) {
        var info = stat()
        guard stat(Checkpoint.url(in: directory).path, &info) == 0 else { return nil }
        (inode, size, modified) = (UInt64(info.st_ino), Int64(info.st_size), info.st_mtim)
    }

    static func == (a: CheckpointStamp, b: CheckpointStamp) -> Bool {
        a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
    }
}

extension LearnerCommand {
    /// `trpo learner` as a supervisor: the same command line in a supervised child process.
    func supervise() throws {
        let (_, directory, resume) = try training.resolve()
        let supervisor = LearnerSupervisor(arguments: Self.ownArguments(command: "learner"), runDirectory: directory,
                                           resumes: resume, options: supervision, quiet: training.quiet)
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
    /// workers' ipc endpoint, with the same options.
    func superviseWithWorkers(directory: URL, resume: Bool) throws {
        let status = try withLocalWorkers { endpoint, children in
            let socket = String(endpoint.dropFirst("ipc://".count))
            let supervisor = LearnerSupervisor(
                arguments: LearnerCommand.ownArguments(command: "learner") + ["--bind", endpoint],
                runDirectory: directory, resumes: resume, options: supervision, quiet: training.quiet)
            return try supervisor.run { _ in
                // Start the workers once the learner has bound the endpoint (the socket file
                // appears in the fresh directory), so a learner that fails to start ends at once.
                if children == nil && FileManager.default.fileExists(atPath: socket) {
                    children = try WorkerProcesses(count: workers, endpoint: endpoint, environments: nil, quiet: training.quiet)
                }
                try children?.restartCrashed()
            }
        }
        if StopRequest.isRaised { throw ExitCode(130) }
        if status != 0 { throw ExitCode(status) }
    }
}
