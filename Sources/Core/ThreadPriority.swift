import CKernels

/// Scheduling of the calling thread.
public enum ThreadPriority {
    /// The nice value of ``yieldToOtherWork()``: Linux weighs a nice-19 thread at 15 against
    /// 1,024 for a normal one, so it gets about 1.5 % of a core that normal work wants.
    public static let background: Int32 = 19

    /// Makes the calling thread (only it) yield its core to the machine's other work: it runs
    /// on what they leave free. Best effort: a system that refuses leaves it as it was.
    public static func yieldToOtherWork() {
        _ = trpo_set_this_thread_niceness(background)
    }

    /// The calling thread's nice value (0 unless lowered).
    public static var currentNiceness: Int32 { trpo_this_thread_niceness() }
}
