import CGlibcExtras
import Core
import Foundation
import Learner

/// In a learner process started by a ``LearnerSupervisor`` (whose pid is `supervisorPID`):
/// die with the supervisor (SIGKILL, as the learner died before supervision when it was
/// killed), and end at once if it is already gone.
/// - Throws: ``SupervisionError/supervisorGone(pid:)``.
public func attachToSupervisor(_ supervisorPID: Int32) throws(SupervisionError) {
    _ = trpo_set_parent_death_signal(SIGKILL)
    if getppid() != supervisorPID { throw .supervisorGone(pid: supervisorPID) }
}

/// Runs the learner in a child process (this executable again, with `--supervisor-pid`) and
/// starts it again from the run's checkpoint when it dies of a crash: SIGABRT (a failed
/// assertion, as in libzmq issue #4841), SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, or SIGKILL
/// (the out-of-memory killer). SIGINT and SIGTERM are forwarded to the child; a child that
/// exits, or dies of a forwarded signal, ends the supervisor with its status. At most
/// `maxRestarts` restarts within `restartWindow` seconds; one more crash is final.
public struct LearnerSupervisor {
    /// The learner's command line for its first start (without the executable and
    /// `--supervisor-pid`).
    public var arguments: [String]
    /// The run directory, where the learner writes `checkpoint.json` after every iteration.
    /// A checkpoint found there after a crash is this run's, so the restart resumes it: a new
    /// run must start without one (``RunDirectory/prepareNewRun(in:overwrite:)`` sees to that).
    public var runDirectory: URL
    /// Restarts allowed within ``restartWindow`` seconds; one more crash is final.
    public var maxRestarts: Int
    public var restartWindow: Double
    /// Prints progress lines (the first start) as well as restarts and the final error.
    public var quiet: Bool
    /// Where the supervisor's lines go (standard error in `trpo`).
    public var log: (String) -> Void

    public init(arguments: [String], runDirectory: URL, maxRestarts: Int, restartWindow: Double,
                quiet: Bool, log: @escaping (String) -> Void) {
        self.arguments = arguments
        self.runDirectory = runDirectory
        self.maxRestarts = maxRestarts
        self.restartWindow = restartWindow
        self.quiet = quiet
        self.log = log
    }

    /// Signals that mean the learner process crashed (or was killed by the kernel), not that
    /// someone asked it to stop.
    public static let crashSignals: [Int32: String] = [
        SIGABRT: "SIGABRT: an abort, such as libzmq's failed assertion `!_io_error` of libzmq issue #4841, printed above",
        SIGSEGV: "SIGSEGV: a crash", SIGBUS: "SIGBUS: a crash", SIGILL: "SIGILL: a crash or a Swift runtime trap",
        SIGTRAP: "SIGTRAP: a Swift runtime trap", SIGFPE: "SIGFPE: a crash",
        SIGKILL: "SIGKILL: killed, perhaps by the kernel's out-of-memory killer",
    ]

    /// Supervises until the learner ends; returns the status to exit with.
    /// - Parameter watch: called about every 20 ms while a learner process runs, with its pid.
    public func run(watch: (Int32) throws -> Void = { _ in }) throws -> Int32 {
        StopRequest.installHandlers()
        var restarts: [Date] = []
        var arguments = self.arguments
        while true {
            let child = try ChildProcess(arguments + ["--supervisor-pid", "\(getpid())"])
            let pid = child.pid
            if !quiet && restarts.isEmpty {
                log("learner: running in process \(pid), supervised by process \(getpid()), which restarts it from its checkpoint if it crashes")
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
                if forwarded == 0 { log("learner: the learner process \(pid) was ended by \(name); stopping") }
                return 128 + signal
            }
            let now = Date()
            restarts.removeAll { now.timeIntervalSince($0) > restartWindow }
            let window = Self.describeWindow(restartWindow)
            let resumable = FileManager.default.fileExists(atPath: Checkpoint.url(in: runDirectory).path)
            let continuing = resumable ? "the run in \(runDirectory.path) can go on with --resume \(runDirectory.path)"
                                       : "no checkpoint of this run was written"
            guard restarts.count < maxRestarts else {
                log("error: the learner process \(pid) died (\(why)); it was restarted \(restarts.count) time(s) within \(window), "
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
            log("learner: the learner process \(pid) died (\(why)); restarting \(from) "
                 + "(restart \(restarts.count) of at most \(maxRestarts) within \(window))")
        }
    }

    /// `arguments` without any `--resume DIR` / `--resume=DIR` and `--overwrite` (the run to
    /// resume is this one), then `--resume directory`.
    public static func replacingResume(in arguments: [String], with directory: String) -> [String] {
        var kept: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if argument == "--resume" { skipNext = true; continue }
            if argument.hasPrefix("--resume=") || argument == "--overwrite" { continue }
            kept.append(argument)
        }
        return kept + ["--resume", directory]
    }

    /// "10 minutes", "1 minute", "90 s"
    static func describeWindow(_ seconds: Double) -> String {
        guard seconds < 1e9, Double(Int(seconds)) == seconds, Int(seconds) % 60 == 0 else {
            return seconds < 60 ? String(format: "%g s", seconds) : String(format: "%.0f s", seconds)
        }
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
