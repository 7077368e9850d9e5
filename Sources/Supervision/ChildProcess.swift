import Foundation

/// A child process running this executable (`/proc/self/exe`), or another program, with other
/// arguments: the supervised learner and the local workers (`trpo worker`, or the Python
/// worker of an external environment). Started with `posix_spawn` and reaped with
/// `waitpid` — not Foundation's `Process`, which learns that a child ended only when the last
/// copy of a socket it hands the child closes, so it could miss a child that died of a signal
/// while a descendant (such as the Swift runtime's swift-backtrace) still held that socket.
public final class ChildProcess {
    /// How a child ended.
    public enum Ending: Equatable, Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal killed it.
        case signaled(Int32)
    }

    public let pid: pid_t
    /// The program it runs (an absolute path).
    public let executable: String
    /// Its arguments (argv[1...]).
    public let arguments: [String]
    /// How it ended, once ``poll()`` or ``wait()`` has seen it end; nil before.
    public private(set) var ending: Ending?

    /// Starts `executable` (nil: this executable) with `arguments` and this process's environment, with SIGINT
    /// and SIGTERM at their default action (this process may ignore them, see
    /// ``StopRequest``) and no signal blocked; other dispositions (nohup's SIGHUP) are kept.
    /// Descriptors other than 0, 1 and 2 are closed in the child.
    /// - Throws: ``SupervisionError/cannotStart(command:reason:)`` when `posix_spawn` fails.
    public init(_ arguments: [String], executable: String? = nil) throws(SupervisionError) {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), mask = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        // Only standard input, output and error go to the child: other inherited descriptors
        // would outlive this process in the child (and in any helper it starts).
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        let executable = executable ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw .cannotStart(command: ([executable] + arguments).joined(separator: " "), reason: String(cString: strerror(status)))
        }
        self.pid = pid
        self.executable = executable
        self.arguments = arguments
    }

    /// How the child ended, without waiting; nil while it runs.
    @discardableResult
    public func poll() -> Ending? { reap(options: WNOHANG) }

    /// Waits for the child to end.
    @discardableResult
    public func wait() -> Ending {
        while true { if let ending = reap(options: 0) { return ending } }
    }

    public var isRunning: Bool { poll() == nil }

    /// Sends `signal` to the child while it has not been reaped (its pid is still its own).
    public func signal(_ signal: Int32) {
        if ending == nil { kill(pid, signal) }
    }

    private func reap(options: Int32) -> Ending? {
        if let ending { return ending }
        var status: Int32 = 0
        let result = waitpid(pid, &status, options)
        if result == 0 || (result < 0 && errno == EINTR) { return nil }
        if result != pid {  // not our child any more: cannot happen
            ending = .exited(1)
        } else {
            // WIFEXITED / WTERMSIG are macros Swift does not import.
            let signal = status & 0x7f
            ending = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }
        return ending
    }
}
