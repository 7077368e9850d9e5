import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A process-wide "please stop" flag raised by SIGINT or SIGTERM (or by code), which long
/// loops poll between units of work so they can finish cleanly: send their goodbyes, write
/// their files, and exit 0.
public enum StopRequest {
    private static let raised = Atomic<Int32>(0)
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    private static let installLock = Mutex<Bool>(false)

    /// The signal that raised the flag (0 when raised by code or not raised).
    public static var signal: Int32 { raised.load(ordering: .acquiring) & 0xFFFF }

    /// True once a stop was requested.
    public static var isRaised: Bool { raised.load(ordering: .acquiring) != 0 }

    /// Raises the flag from code (for example when a learner says the run is over).
    public static func raise() { _ = raised.compareExchange(expected: 0, desired: 1 << 16, ordering: .acquiringAndReleasing) }

    /// Routes SIGINT and SIGTERM to the flag instead of killing the process. Idempotent.
    public static func installHandlers() {
        installLock.withLock { installed in
            guard !installed else { return }
            installed = true
            for sig in [SIGINT, SIGTERM] {
                Glibc.signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { _ = raised.compareExchange(expected: 0, desired: sig, ordering: .acquiringAndReleasing) }
                source.resume()
                sources.append(source)
            }
        }
    }
}
