@preconcurrency import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq: the `errno` value it set and the operation that failed.
///
/// Two errors compare equal when their ``code``s are equal; ``operation`` is context for
/// people reading logs. So a thrown `bind tcp://0.0.0.0:5555: Address already in use`
/// matches the static member ``addressInUse``:
///
/// ```swift
/// do { try socket.bind(endpoint) }
/// catch let error where error == .addressInUse { … }
/// ```
///
/// Swift Testing's `#expect(throws: ZMQError.hostUnreachable) { … }` works directly, and so
/// does `switch error { case .again: … }` (pattern matching goes through `==`).
///
/// - Note: Swift 6.3.1 crashes (SIL ownership error) on `catch ZMQError.again { … }` in a
///   `do` block whose calls use typed throws when the `do` has no catch-all clause. Write
///   `catch let error where error == .again { … }` instead.
public struct ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `errno` value, as returned by `zmq_errno()`. libzmq reports its own conditions
    /// (``terminated``, ``finiteStateMachine``, …) with codes above `ZMQ_HAUSNUMERO`.
    public var code: Int32

    /// What was being done, such as `"bind tcp://0.0.0.0:5555"` or `"receive"`; empty for
    /// the static members used for comparison.
    public var operation: String

    /// Creates an error from an `errno` code and a description of the failed operation.
    public init(code: Int32, operation: String = "") {
        self.code = code
        self.operation = operation
    }

    /// The error libzmq reports for the calling thread right now, attributed to `operation`.
    ///
    /// The corresponding C function is `zmq_errno`.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation())
    }

    /// libzmq's text for ``code`` (the system's `strerror` text for system codes).
    ///
    /// The corresponding C function is `zmq_strerror`.
    public var message: String {
        guard let text = zmq_strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// `"<operation>: <message>"`, or just the message when there is no operation.
    public var description: String {
        operation.isEmpty ? message : "\(operation): \(message)"
    }

    /// Equal when the codes are equal; the operation is ignored.
    public static func == (lhs: ZMQError, rhs: ZMQError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

// MARK: - Codes the project branches on

extension ZMQError {
    /// The operation would block: a non-blocking call found nothing to do, or a socket
    /// timeout expired. ``Socket/receive(_:retryOnInterrupt:)`` turns this into `nil`.
    ///
    /// The corresponding C error is `EAGAIN`.
    public static let again = ZMQError(code: EAGAIN)

    /// A signal interrupted a blocking call.
    ///
    /// The corresponding C error is `EINTR`.
    public static let interrupted = ZMQError(code: EINTR)

    /// The context was terminated or shut down (``Context/shutdown()``) while the call was
    /// blocked, or before it started. Close the socket and stop.
    ///
    /// The corresponding C error is `ETERM`.
    public static let terminated = ZMQError(code: ZMQ_HAUSNUMERO + 53)

    /// A `ROUTER` socket with ``SocketOption/routerMandatory`` set has no connected peer
    /// with the routing id in frame 0.
    ///
    /// The corresponding C error is `EHOSTUNREACH`.
    public static let hostUnreachable = ZMQError(code: EHOSTUNREACH)

    /// The endpoint is already bound (by this or another process, or by a socket closed
    /// moments ago: `zmq_close` is asynchronous).
    ///
    /// The corresponding C error is `EADDRINUSE`.
    public static let addressInUse = ZMQError(code: EADDRINUSE)

    /// The endpoint names an address that does not exist on this host.
    ///
    /// The corresponding C error is `EADDRNOTAVAIL`.
    public static let addressNotAvailable = ZMQError(code: EADDRNOTAVAIL)

    /// A malformed endpoint, an option value out of range, or an option the socket type
    /// does not have.
    ///
    /// The corresponding C error is `EINVAL`.
    public static let invalidArgument = ZMQError(code: EINVAL)

    /// The endpoint's transport (the part before `://`) is not supported.
    ///
    /// The corresponding C error is `EPROTONOSUPPORT`.
    public static let protocolNotSupported = ZMQError(code: EPROTONOSUPPORT)

    /// The transport does not fit the socket type.
    ///
    /// The corresponding C error is `ENOCOMPATPROTO`.
    public static let incompatibleProtocol = ZMQError(code: ZMQ_HAUSNUMERO + 52)

    /// Binding to a non-existent network interface, or connecting to an `inproc://`
    /// endpoint in a way libzmq cannot satisfy.
    ///
    /// The corresponding C error is `ENODEV`.
    public static let noSuchDevice = ZMQError(code: ENODEV)

    /// The socket was closed (``Socket/close()``), so it cannot be used.
    ///
    /// The corresponding C error is `ENOTSOCK`.
    public static let notSocket = ZMQError(code: ENOTSOCK)

    /// The operation is not valid in the socket's current state, e.g. a `REQ` socket
    /// sending twice without receiving.
    ///
    /// The corresponding C error is `EFSM`.
    public static let finiteStateMachine = ZMQError(code: ZMQ_HAUSNUMERO + 51)

    /// The operation is not supported by this socket type (e.g. `receive` on `PUSH`).
    ///
    /// The corresponding C error is `ENOTSUP`.
    public static let notSupported = ZMQError(code: ENOTSUP)

    /// The context has reached its maximum number of sockets, or the process its limit
    /// of open files.
    ///
    /// The corresponding C error is `EMFILE`.
    public static let tooManySockets = ZMQError(code: EMFILE)

    /// The endpoint is not bound or connected (from ``Socket/unbind(_:)`` and
    /// ``Socket/disconnect(_:)``).
    ///
    /// The corresponding C error is `ENOENT`.
    public static let noSuchEndpoint = ZMQError(code: ENOENT)

    /// Memory could not be allocated for a message.
    ///
    /// The corresponding C error is `ENOMEM`.
    public static let outOfMemory = ZMQError(code: ENOMEM)
}
