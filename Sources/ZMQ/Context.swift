@preconcurrency import CZMQ

/// A libzmq context: the I/O threads and the `inproc://` namespace that sockets share.
///
/// Create one per process and pass it to every ``Socket``. The context lives as long as
/// any reference to it: every socket keeps a strong reference to its context, so the
/// context is terminated only after the last of its sockets has been closed and released.
///
/// ## Shutdown contract
///
/// `deinit` calls `zmq_ctx_term`, which blocks until every socket of the context is closed
/// and, for each socket, its `ZMQ_LINGER` period has passed. Because sockets retain their
/// context, no socket can still be open when `deinit` runs; because every ``Socket`` sets
/// ``SocketOption/linger`` when it is created (0 ms unless you choose a bound), termination
/// never waits for messages to unreachable peers. Do not set `linger` to `-1` (infinite):
/// with a message queued to a peer that never appears, termination would hang forever.
///
/// To stop threads blocked in ``Socket/receive(_:retryOnInterrupt:)`` or
/// ``Poller/poll(timeout:)``, call ``shutdown()`` from any thread: their calls then
/// throw ``ZMQError/terminated``, after which they should close their sockets.
///
/// ## Thread safety
///
/// `Context` is `@unchecked Sendable`: libzmq documents contexts as thread-safe ("the
/// context is thread safe and may be shared among as many application threads as
/// necessary"), the handle is immutable, and `zmq_ctx_term` runs only once, in `deinit`,
/// when no other reference remains. Sockets created from it are not thread-safe.
public final class Context: @unchecked Sendable {
    /// The `void *` returned by `zmq_ctx_new`; valid until `deinit`.
    let handle: UnsafeMutableRawPointer

    /// Creates a context.
    ///
    /// - Parameter ioThreads: The number of libzmq I/O threads (libzmq's default is 1,
    ///   enough for about a gigabyte per second of traffic).
    /// - Throws: ``ZMQError`` if libzmq cannot create the context (for example
    ///   ``ZMQError/tooManySockets`` when out of file descriptors) or rejects `ioThreads`.
    ///
    /// The corresponding C functions are `zmq_ctx_new` and `zmq_ctx_set`.
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("create a context") }
        if ioThreads != 1 {
            // Before `self.handle` is set, so that `deinit` does not run for a failed init.
            guard let threads = Int32(exactly: ioThreads), threads >= 0,
                  zmq_ctx_set(handle, ZMQ_IO_THREADS, threads) == 0
            else {
                zmq_ctx_term(handle)
                throw ZMQError(code: ZMQError.invalidArgument.code, operation: "set ZMQ_IO_THREADS to \(ioThreads)")
            }
        }
        self.handle = handle
    }

    /// Makes blocking operations on this context's sockets, in every thread, throw
    /// ``ZMQError/terminated``, and makes creating new sockets fail.
    ///
    /// Sockets stay open; close them (or release them) afterwards. Safe to call from any
    /// thread, any number of times.
    ///
    /// The corresponding C function is `zmq_ctx_shutdown`.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    /// Terminates the context (see the shutdown contract above), retrying if a signal
    /// interrupts the wait.
    ///
    /// The corresponding C function is `zmq_ctx_term`.
    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
