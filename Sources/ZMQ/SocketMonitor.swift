@preconcurrency import CZMQ

/// Kinds of events a socket reports to its monitor, as a set for choosing which to watch.
///
/// The corresponding C constants are `ZMQ_EVENT_…` (arguments of `zmq_socket_monitor`).
public struct SocketEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A connection to a remote peer was established (value: the file descriptor).
    public static let connected = SocketEvents(rawValue: ZMQ_EVENT_CONNECTED)
    /// A connect attempt is waiting to be retried (value: the file descriptor).
    public static let connectDelayed = SocketEvents(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
    /// A connect attempt will be retried (value: the interval in milliseconds). libzmq 4.3.4
    /// says no more about why: a refused tcp connect is `connectDelayed`, `closed`,
    /// `connectRetried`; a host name that does not resolve is `connectRetried` alone; a
    /// missing or refused ipc socket is `closed`, `connectRetried`.
    public static let connectRetried = SocketEvents(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
    /// The socket is bound and listening (value: the file descriptor).
    public static let listening = SocketEvents(rawValue: ZMQ_EVENT_LISTENING)
    /// Binding failed (value: `errno`).
    public static let bindFailed = SocketEvents(rawValue: ZMQ_EVENT_BIND_FAILED)
    /// A connection from a remote peer was accepted (value: the file descriptor).
    public static let accepted = SocketEvents(rawValue: ZMQ_EVENT_ACCEPTED)
    /// Accepting a connection failed (value: `errno`).
    public static let acceptFailed = SocketEvents(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
    /// A connection's file descriptor was closed (value: the file descriptor).
    public static let closed = SocketEvents(rawValue: ZMQ_EVENT_CLOSED)
    /// Closing a file descriptor failed (value: `errno`).
    public static let closeFailed = SocketEvents(rawValue: ZMQ_EVENT_CLOSE_FAILED)
    /// A connection was broken (value: the file descriptor).
    public static let disconnected = SocketEvents(rawValue: ZMQ_EVENT_DISCONNECTED)
    /// The monitor was stopped; the last event a monitor receives (if it asked for it).
    public static let monitorStopped = SocketEvents(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
    /// A ZMTP handshake failed for a reason libzmq does not detail (value: `errno`).
    public static let handshakeFailedNoDetail = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    /// A ZMTP handshake (including any security mechanism) succeeded.
    public static let handshakeSucceeded = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    /// A handshake failed on a protocol error (value: a ``HandshakeProtocolError`` code),
    /// e.g. a plaintext peer meeting a CURVE socket, or a CURVE client with the wrong server key.
    public static let handshakeFailedProtocol = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    /// The peer's credentials were refused (value: the ZAP status code, e.g. 400). A CURVE
    /// client sees it when the server's ZAP handler refuses its key; so does the server.
    public static let handshakeFailedAuth = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    /// Every handshake failure.
    public static let handshakeFailures: SocketEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
    /// Every event.
    public static let all = SocketEvents(rawValue: ZMQ_EVENT_ALL)

    private static let names: [(SocketEvents, String)] = [
        (.connected, "connected"), (.connectDelayed, "connect delayed"), (.connectRetried, "connect retried"),
        (.listening, "listening"), (.bindFailed, "bind failed"), (.accepted, "accepted"),
        (.acceptFailed, "accept failed"), (.closed, "closed"), (.closeFailed, "close failed"),
        (.disconnected, "disconnected"), (.monitorStopped, "monitor stopped"),
        (.handshakeFailedNoDetail, "handshake failed"), (.handshakeSucceeded, "handshake succeeded"),
        (.handshakeFailedProtocol, "handshake failed (protocol)"), (.handshakeFailedAuth, "handshake failed (authentication)"),
    ]

    /// The events' names, e.g. `"handshake failed (authentication)"`, joined by `" | "`.
    public var description: String {
        let known = Self.names.filter { contains($0.0) }.map(\.1)
        return known.isEmpty ? "event 0x\(String(rawValue, radix: 16))" : known.joined(separator: " | ")
    }
}

/// The value of a ``SocketEvents/handshakeFailedProtocol`` event: which rule of ZMTP, its
/// security mechanism or ZAP the peer broke.
///
/// The corresponding C constants are `ZMQ_PROTOCOL_ERROR_…`.
public struct HandshakeProtocolError: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The two ends use different security mechanisms (e.g. plaintext against CURVE).
    public static let mechanismMismatch = HandshakeProtocolError(rawValue: UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH))
    /// A cryptographic check failed (e.g. a CURVE client using the wrong server key).
    public static let cryptographic = HandshakeProtocolError(rawValue: UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC))
    /// The key exchange failed.
    public static let keyExchange = HandshakeProtocolError(rawValue: UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE))
    /// A command arrived out of order.
    public static let unexpectedCommand = HandshakeProtocolError(rawValue: UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND))

    public var description: String {
        switch self {
        case .mechanismMismatch: "security mechanism mismatch"
        case .cryptographic: "cryptographic error"
        case .keyExchange: "key exchange failed"
        case .unexpectedCommand: "unexpected command"
        default: "protocol error 0x\(String(rawValue, radix: 16))"
        }
    }
}

/// One event reported by a monitored socket.
public struct SocketEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened (one member of ``SocketEvents``).
    public var kind: SocketEvents
    /// The event's value: a file descriptor, an `errno`, a retry interval, a
    /// ``HandshakeProtocolError`` code or a ZAP status code, depending on ``kind``.
    public var value: UInt32
    /// The endpoint concerned: for connections a socket accepted, its own bound endpoint
    /// (libzmq does not report the peer's address here).
    public var endpoint: String

    public init(kind: SocketEvents, value: UInt32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// `"handshake failed (protocol) on tcp://…: security mechanism mismatch"`, …
    public var description: String {
        let detail: String =
            switch kind {
            case .handshakeFailedProtocol: ": \(HandshakeProtocolError(rawValue: value))"
            case .handshakeFailedAuth: ": ZAP status \(value)"
            default: ""
            }
        return "\(kind) on \(endpoint)\(detail)"
    }
}

extension Socket {
    /// Starts reporting `events` to a `PAIR` socket bound by libzmq at `endpoint` (an
    /// `inproc://` address unique in the context); read them with a ``SocketMonitor``
    /// connected there. Calling it again replaces the previous monitor.
    ///
    /// Events are sent without blocking: while no monitor is connected, or the monitor's
    /// queue is full, they are dropped.
    ///
    /// - Throws: ``ZMQError/protocolNotSupported`` for a non-`inproc` endpoint,
    ///   ``ZMQError/notSocket`` after ``close()``.
    ///
    /// The corresponding C function is `zmq_socket_monitor`.
    public func startMonitor(at endpoint: String, events: SocketEvents) throws(ZMQError) {
        try withHandle("monitor at \(endpoint)") { handle throws(ZMQError) in
            if zmq_socket_monitor(handle, endpoint, events.rawValue) != 0 { throw ZMQError.last("monitor at \(endpoint)") }
        }
    }

    /// Stops reporting events (a monitor that asked for ``SocketEvents/monitorStopped``
    /// receives it). Does nothing if the socket is closed: closing stops its monitor too.
    ///
    /// The corresponding C function is `zmq_socket_monitor` with a null endpoint.
    public func stopMonitor() {
        try? withHandle("stop monitoring") { handle throws(ZMQError) in _ = zmq_socket_monitor(handle, nil, 0) }
    }
}

/// The reading end of a socket monitor: a `PAIR` socket receiving ``SocketEvent``s.
///
/// For a socket used on the same thread, ``init(watching:events:)`` sets up both ends. To
/// read a socket's events on another thread, call ``Socket/startMonitor(at:events:)`` on the
/// socket's thread and create the monitor with ``init(context:endpoint:)`` on the reading one.
/// Like every socket, a monitor is used from one thread.
///
/// ```swift
/// let monitor = try SocketMonitor(watching: dealer, events: .handshakeFailures)
/// while let event = try monitor.receive(timeoutMilliseconds: 0) { print(event) }
/// ```
public final class SocketMonitor {
    /// The `PAIR` socket events arrive on (for a ``Poller``).
    public let socket: Socket

    /// Connects to the monitor endpoint `endpoint` of a socket in `context` (before or after
    /// that socket's ``Socket/startMonitor(at:events:)``).
    ///
    /// - Throws: ``ZMQError`` if the socket cannot be created or connected.
    public init(context: Context, endpoint: String) throws(ZMQError) {
        socket = try Socket(context: context, type: .pair)
        try socket.connect(endpoint)
    }

    /// Monitors `watched` for `events` through a fresh `inproc://` endpoint.
    ///
    /// - Throws: ``ZMQError`` if monitoring cannot start.
    public convenience init(watching watched: Socket, events: SocketEvents) throws(ZMQError) {
        let endpoint = SocketMonitor.uniqueEndpoint()
        try watched.startMonitor(at: endpoint, events: events)
        try self.init(context: watched.context, endpoint: endpoint)
    }

    /// An `inproc://` address no other monitor in the process uses.
    public static func uniqueEndpoint() -> String {
        var random = SystemRandomNumberGenerator()
        return "inproc://monitor-\(String(random.next() as UInt64, radix: 16))"
    }

    /// The next event, waiting up to `timeoutMilliseconds` (0: don't wait, `-1`: forever);
    /// nil when none came. Malformed event messages are skipped.
    ///
    /// - Throws: ``ZMQError/terminated`` after ``Context/shutdown()``; ``ZMQError/notSocket``
    ///   after ``close()``.
    public func receive(timeoutMilliseconds: Int) throws(ZMQError) -> SocketEvent? {
        // Frame 0: a 16-bit event and a 32-bit value, in host byte order; frame 1: the endpoint.
        guard let message = try socket.receive(timeoutMilliseconds: timeoutMilliseconds), message.count == 2, message[0].count == 6 else { return nil }
        let (event, value) = message[0].withUnsafeBytes {
            ($0.loadUnaligned(as: UInt16.self), $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        return SocketEvent(kind: SocketEvents(rawValue: Int32(event)), value: value,
                           endpoint: String(decoding: message[1].bytes, as: UTF8.self))
    }

    /// Closes the monitor's socket. The watched socket keeps running (its events are dropped).
    public func close() { socket.close() }
}
