/// One authentication request from libzmq to a ZAP handler (ZeroMQ RFC 27).
///
/// libzmq sends one for each new connection to a socket that has a security mechanism and a
/// ``SocketOption/zapDomain``; the connection waits for the handler's answer.
public struct ZAPRequest: Sendable, Hashable {
    /// Echoed in the reply so libzmq can match it.
    public var requestID: [UInt8]
    /// The ``SocketOption/zapDomain`` of the socket accepting the connection.
    public var domain: String
    /// The peer's network address without the port, e.g. `"10.0.0.7"` (empty for `ipc`).
    public var address: String
    /// The connection's routing id, if the peer set one.
    public var routingID: [UInt8]
    /// `"NULL"`, `"PLAIN"` or `"CURVE"`.
    public var mechanism: String
    /// The mechanism's credentials: for CURVE one frame, the client's 32-byte public key.
    public var credentials: [[UInt8]]

    /// The client's long-term public key, for a CURVE request.
    public var curvePublicKey: CurveKey? {
        guard mechanism == "CURVE", credentials.count == 1 else { return nil }
        return CurveKey(bytes: credentials[0])
    }

    /// Decodes a request: version `"1.0"`, request id, domain, address, routing id,
    /// mechanism, then the credentials frames.
    ///
    /// - Returns: nil if `message` is not a version 1.0 request.
    public init?(_ message: Message) {
        guard message.count >= 6, message[0].bytes == Array("1.0".utf8) else { return nil }
        func text(_ i: Int) -> String { String(decoding: message[i].bytes, as: UTF8.self) }
        requestID = message[1].bytes
        domain = text(2)
        address = text(3)
        routingID = message[4].bytes
        mechanism = text(5)
        credentials = message.dropFirst(6).map(\.bytes)
    }
}

/// A ZAP handler's verdict (RFC 27 status codes).
public enum ZAPStatus: String, Sendable, Hashable {
    /// Admit the peer.
    case success = "200"
    /// Refuse for now; the peer may retry.
    case temporaryError = "300"
    /// Refuse: the credentials are not acceptable.
    case authenticationFailure = "400"
    /// The handler failed.
    case internalError = "500"
}

/// The reply side of ZAP: a `REP` socket bound at ``endpoint`` in one context, so that every
/// socket of that context with a ZAP domain asks it about each new connection.
///
/// Bind the handler before the sockets it guards accept connections: libzmq admits
/// connections while no handler is bound. One handler per context; used from one thread.
public final class ZAPHandler {
    /// The address RFC 27 fixes for the handler.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The `REP` socket (for a ``Poller``).
    public let socket: Socket

    /// Binds a handler in `context`.
    ///
    /// - Throws: ``ZMQError/addressInUse`` if the context already has one.
    public init(context: Context) throws(ZMQError) {
        socket = try Socket(context: context, type: .rep)
        try socket.bind(Self.endpoint)
    }

    /// The next request, waiting up to `timeoutMilliseconds` (0: don't wait); nil when none
    /// came. A malformed request (which libzmq never sends) is answered with
    /// ``ZAPStatus/internalError`` and skipped.
    ///
    /// Answer every request with ``reply(to:status:text:userID:)`` before receiving the next.
    public func receive(timeoutMilliseconds: Int) throws(ZMQError) -> ZAPRequest? {
        guard let message = try socket.receive(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        guard let request = ZAPRequest(message) else {
            _ = try socket.send(["1.0", message.count > 1 ? message[1].bytes : [], ZAPStatus.internalError.rawValue,
                                 "malformed ZAP request", "", [UInt8]()])
            return nil
        }
        return request
    }

    /// Answers `request`.
    ///
    /// - Parameters:
    ///   - status: Admit (``ZAPStatus/success``) or refuse.
    ///   - text: A reason, for the peer's logs (libzmq does not show it to the application).
    ///   - userID: Who the peer is; the accepting socket's messages from it carry it as the
    ///     `"User-Id"` metadata property (``Frame/metadata(_:)``).
    public func reply(to request: ZAPRequest, status: ZAPStatus, text: String = "", userID: String = "") throws(ZMQError) {
        _ = try socket.send(["1.0", request.requestID, status.rawValue, text, userID, [UInt8]()])
    }

    /// Unbinds and closes the handler.
    public func close() { socket.close() }
}
