@preconcurrency import CZMQ

/// The messaging pattern of a ``Socket``.
///
/// The corresponding C constants are `ZMQ_ROUTER`, `ZMQ_DEALER`, … (arguments of
/// `zmq_socket`).
public enum SocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Addressed replies: every received message starts with the sender's routing-id
    /// frame, and every sent message must start with the recipient's.
    case router
    /// Asynchronous requests: round-robins outgoing messages, fair-queues incoming ones.
    case dealer
    /// One-to-one, bidirectional.
    case pair
    /// Pipeline producer (round-robin).
    case push
    /// Pipeline consumer (fair-queued).
    case pull
    /// Broadcast publisher.
    case pub
    /// Broadcast subscriber (set ``SocketOption/subscribe``).
    case sub
    /// Reply side of strict request/reply (also the ZAP handler's socket).
    case rep
    /// Request side of strict request/reply.
    case req

    /// The `ZMQ_…` constant passed to `zmq_socket`.
    public var rawValue: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pair: ZMQ_PAIR
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .rep: ZMQ_REP
        case .req: ZMQ_REQ
        }
    }

    /// `"ROUTER"`, `"DEALER"`, …, as libzmq spells them.
    public var description: String {
        switch self {
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .pair: "PAIR"
        case .push: "PUSH"
        case .pull: "PULL"
        case .pub: "PUB"
        case .sub: "SUB"
        case .rep: "REP"
        case .req: "REQ"
        }
    }
}

/// A libzmq socket.
///
/// A socket belongs to one ``Context`` (which it keeps alive) and must be used from one
/// thread at a time, so `Socket` is not `Sendable`. Every socket gets `ZMQ_LINGER` when it is
/// created (0 ms by default), so closing it and terminating the context never hang on
/// undeliverable messages.
///
/// ```swift
/// let context = try Context()
/// let router = try Socket(context: context, type: .router)
/// try router.setOption(.maximumMessageSize, to: 64 << 20)
/// try router.bind("tcp://0.0.0.0:5555")
/// if let message = try router.receive() {
///     let peer = message[0]                      // routing id
///     try router.send([peer, header, values])    // reply to that peer
/// }
/// ```
///
/// After ``close()`` every operation throws ``ZMQError/notSocket``. `deinit` closes the
/// socket if it is still open.
///
/// - Important: Releasing the last reference closes the socket, and with the default linger
///   of 0 any message it has not yet handed to the network is discarded. Swift may release
///   an object right after its last use, not at the end of its scope (optimized builds do),
///   so a socket that only sends and is then left alone must be kept alive until delivery
///   matters no more: close it explicitly at the end (`defer { socket.close() }`), or use
///   `withExtendedLifetime`.
public final class Socket {
    /// The socket's pattern.
    public let type: SocketType

    /// The context the socket belongs to; the socket keeps it alive.
    public let context: Context

    /// The `void *` from `zmq_socket`, or `nil` after ``close()``.
    private var handle: UnsafeMutableRawPointer?

    /// Creates a socket and sets its linger period.
    ///
    /// - Parameters:
    ///   - context: The context that owns the socket.
    ///   - type: The messaging pattern.
    ///   - linger: Milliseconds that ``close()`` lets pending outgoing messages wait for
    ///     delivery, in the background (0 discards them at once; `-1`, waiting forever,
    ///     is rejected because it can make context termination hang).
    /// - Throws: ``ZMQError``: ``ZMQError/terminated`` after ``Context/shutdown()``,
    ///   ``ZMQError/tooManySockets``, or ``ZMQError/invalidArgument`` for a negative
    ///   `linger`.
    ///
    /// The corresponding C functions are `zmq_socket` and `zmq_setsockopt(ZMQ_LINGER)`.
    public init(context: Context, type: SocketType, linger: Int = 0) throws(ZMQError) {
        guard linger >= 0 else {
            throw ZMQError(code: ZMQError.invalidArgument.code, operation: "create a \(type) socket with linger \(linger)")
        }
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("create a \(type) socket")
        }
        self.type = type
        self.context = context
        self.handle = handle
        try setOption(.linger, to: linger)
    }

    deinit {
        close()
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket. Pending outgoing messages get the linger period to be sent by the
    /// I/O thread, in the background. Calling `close()` again does nothing.
    ///
    /// libzmq closes asynchronously: an endpoint this socket was bound to may stay busy for
    /// a moment (binding it again can fail with ``ZMQError/addressInUse``).
    ///
    /// The corresponding C function is `zmq_close`.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        _ = zmq_close(handle)
    }

    /// Calls `body` with the open socket's handle, or throws ``ZMQError/notSocket``.
    func withHandle<R>(
        _ operation: @autoclosure () -> String,
        _ body: (UnsafeMutableRawPointer) throws(ZMQError) -> R
    ) throws(ZMQError) -> R {
        guard let handle else {
            throw ZMQError(code: ZMQError.notSocket.code, operation: operation())
        }
        return try body(handle)
    }

    // MARK: - Endpoints

    /// Accepts connections on `endpoint`.
    ///
    /// Endpoints look like `tcp://0.0.0.0:5555`, `tcp://127.0.0.1:*` (any free port; read
    /// it back with ``lastEndpoint``), `ipc:///tmp/learner.sock` or `inproc://name`.
    ///
    /// - Throws: ``ZMQError`` naming the endpoint: ``ZMQError/addressInUse``,
    ///   ``ZMQError/invalidArgument`` (malformed), ``ZMQError/protocolNotSupported``,
    ///   ``ZMQError/addressNotAvailable``, ``ZMQError/noSuchDevice``, …
    ///
    /// The corresponding C function is `zmq_bind`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        try endpointCall("bind", endpoint, zmq_bind)
    }

    /// Connects to `endpoint`. For `tcp` and `ipc` this only starts connecting: it succeeds
    /// while the peer is absent, and libzmq keeps reconnecting (see
    /// ``SocketOption/reconnectInterval``).
    ///
    /// - Throws: ``ZMQError`` naming the endpoint, e.g. ``ZMQError/invalidArgument`` for a
    ///   malformed endpoint or ``ZMQError/protocolNotSupported`` for an unknown transport.
    ///
    /// The corresponding C function is `zmq_connect`.
    public func connect(_ endpoint: String) throws(ZMQError) {
        try endpointCall("connect", endpoint, zmq_connect)
    }

    /// Stops accepting connections on `endpoint`, which must be the exact string passed to
    /// ``bind(_:)`` or, for wildcard binds, the value of ``lastEndpoint``.
    ///
    /// - Throws: ``ZMQError/noSuchEndpoint`` if the socket is not bound there.
    ///
    /// The corresponding C function is `zmq_unbind`.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try endpointCall("unbind", endpoint, zmq_unbind)
    }

    /// Disconnects from `endpoint`, which must be the string passed to ``connect(_:)``.
    ///
    /// - Throws: ``ZMQError/noSuchEndpoint`` if the socket is not connected there.
    ///
    /// The corresponding C function is `zmq_disconnect`.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try endpointCall("disconnect", endpoint, zmq_disconnect)
    }

    private func endpointCall(
        _ verb: String,
        _ endpoint: String,
        _ call: (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Int32
    ) throws(ZMQError) {
        try withHandle("\(verb) \(endpoint)") { handle throws(ZMQError) in
            if call(handle, endpoint) != 0 { throw ZMQError.last("\(verb) \(endpoint)") }
        }
    }

    /// The endpoint of the last successful ``bind(_:)`` or ``connect(_:)``, with wildcards
    /// resolved: after `bind("tcp://127.0.0.1:*")` it is e.g. `tcp://127.0.0.1:37125`.
    /// Empty if the socket has not bound or connected.
    ///
    /// The corresponding C function is `zmq_getsockopt(ZMQ_LAST_ENDPOINT)`.
    public var lastEndpoint: String {
        get throws(ZMQError) { try option(.lastEndpoint) }
    }
}
