import Protocol
import ZMQ

/// A received ZeroMQ message's frames, handed to the decoder in place (no copy).
struct ReceivedFrames: FrameSource {
    let frames: ArraySlice<Frame>
    var count: Int { frames.count }
    func withFrame<R, E: Error>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try frames[frames.startIndex + index].withUnsafeBytes(body)
    }
}

/// Socket settings shared by both ends.
public struct TransportSettings: Sendable {
    /// Largest frame accepted; a peer sending a larger one is disconnected by libzmq.
    public var maximumFrameBytes = 256 << 20
    /// Decoding bounds (rows, widths, parameters, strings, total bytes).
    public var limits = DecodingLimits.default
    /// Chunks queued per worker on their way to the learner (on the worker's send side and
    /// the learner's receive side). Small on purpose: a worker whose chunks the learner is
    /// not reading (it is updating) stops after a couple and waits for the next version
    /// instead of collecting samples that would only be dropped as stale.
    public var chunkHighWaterMark = 2
    /// Messages queued per peer from the learner to a worker (parameters, heartbeats, stops):
    /// few and small, so a generous bound that never drops one in practice.
    public var controlHighWaterMark = 1000
    public init() {}
}

/// The learner's end of the conversation: one ROUTER socket that every worker connects to.
/// Every message carries the sending connection's routing id, which is how replies are
/// addressed. Used from one thread.
public final class LearnerEndpoint {
    public let context: Context
    private let socket: Socket
    private let poller: Poller
    private let settings: TransportSettings
    private let gatekeeper: CurveGatekeeper?
    /// The endpoint actually bound (a wildcard tcp port resolved).
    public let boundEndpoint: String

    /// What arrived from one peer.
    public struct Received {
        /// The connection's routing id.
        public var peer: [UInt8]
        /// The decoded message, or why it could not be decoded.
        public var message: Result<Protocol.Message, ProtocolError>
        /// Bytes on the wire (all frames but the routing id).
        public var byteCount: Int
    }

    /// Binds `endpoint` (e.g. `tcp://0.0.0.0:5555`, `ipc:///tmp/trpo.sock`).
    ///
    /// - Parameters:
    ///   - curve: When given, the socket is a CURVE server and a ZAP handler on its own
    ///     thread admits only the allow-listed keys; refused connections are counted
    ///     (``refusedConnections``) and logged through `log`. The handler is bound before
    ///     the socket, so no connection is ever admitted unchecked.
    ///   - log: Where refusals are reported (from the handler's thread).
    /// - Throws: ``ZMQError`` if the socket cannot be set up or bound.
    public init(binding endpoint: String, settings: TransportSettings = TransportSettings(),
                curve: CurveServerSecurity? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) throws(ZMQError) {
        context = try Context()
        socket = try Socket(context: context, type: .router)
        self.settings = settings
        try socket.setOption(.routerMandatory, to: true)
        try socket.setOption(.maximumMessageSize, to: settings.maximumFrameBytes)
        try socket.setOption(.sendHighWaterMark, to: settings.controlHighWaterMark)
        try socket.setOption(.receiveHighWaterMark, to: settings.chunkHighWaterMark)
        if let curve {
            try socket.setOption(.curveServer, to: true)
            try socket.setOption(.curveSecretKey, to: curve.keys.secretKey)
            try socket.setOption(.zapDomain, to: "trpo")
            let monitor = SocketMonitor.uniqueEndpoint()
            try socket.startMonitor(at: monitor, events: [.handshakeFailedProtocol, .handshakeFailedNoDetail])
            gatekeeper = try CurveGatekeeper(context: context, security: curve, monitorEndpoint: monitor, log: log)
        } else {
            gatekeeper = nil
        }
        do {
            try socket.bind(endpoint)
            boundEndpoint = try socket.lastEndpoint
        } catch {
            gatekeeper?.stop()
            throw error
        }
        poller = Poller([socket])
    }

    deinit { close() }

    /// Whether the socket is a CURVE server with an allow-list.
    public var usesCurve: Bool { gatekeeper != nil }

    /// Connections refused so far: keys not on the allow-list, peers without CURVE or with
    /// the wrong learner key (0 without CURVE).
    public var refusedConnections: Int { gatekeeper?.refusedConnections ?? 0 }

    /// The next message, waiting up to `timeoutMilliseconds` (nil when none came).
    public func receive(timeoutMilliseconds: Int) throws(ZMQError) -> Received? {
        if let received = try receiveNow() { return received }
        guard try !poller.poll(timeout: timeoutMilliseconds).isEmpty else { return nil }
        return try receiveNow()
    }

    private func receiveNow() throws(ZMQError) -> Received? {
        guard let message = try socket.receive(.dontWait) else { return nil }
        guard message.count >= 2 else {  // a routing id and nothing else
            return Received(peer: message.first?.bytes ?? [], message: .failure(.noFrames), byteCount: 0)
        }
        let frames = ReceivedFrames(frames: message.frames[1...])
        let decoded = Result { () throws(ProtocolError) -> Protocol.Message in try WireCodec.decode(frames, limits: settings.limits) }
        return Received(peer: message[0].bytes, message: decoded, byteCount: message.byteCount - message[0].count)
    }

    /// What became of a message sent to a peer.
    public enum Delivery: Equatable, Sendable {
        case queued
        /// The peer's queue is full (it is not reading): the message was dropped.
        case queueFull
        /// No connection has this routing id any more: the peer disconnected.
        case peerGone
    }

    /// Sends `message` to `peer` without waiting.
    @discardableResult
    public func send(_ message: Protocol.Message, to peer: [UInt8]) -> Delivery {
        var frames: [any ZMQ.FrameBytes] = [peer]
        for frame in WireCodec.encode(message) { frames.append(frame) }
        do {
            return try socket.send(frames, flags: .dontWait) ? .queued : .queueFull
        } catch let error where error == .hostUnreachable {
            return .peerGone
        } catch {
            return .queueFull
        }
    }

    /// Closes the socket, first giving queued messages up to `lingerMilliseconds` to leave
    /// (so a final stop reaches the workers), and stops the ZAP handler. Calling it again
    /// does nothing.
    public func close(lingerMilliseconds: Int = 0) {
        guard !socket.isClosed else { return }
        try? socket.setOption(.linger, to: lingerMilliseconds)
        socket.close()
        gatekeeper?.stop()
    }
}

/// A worker's end: one DEALER socket connected to the learner. libzmq reconnects by itself
/// when the learner restarts (but not after a protocol error on the connection);
/// ``reconnect()`` starts a fresh connection (new routing id) when the learner has been silent,
/// or the link down, too long. What happens to the connection (up, down, refused in
/// its handshake, or unreachable and why) is kept for ``takeLinkEvents(diagnose:)``. Used from one
/// thread.
public final class WorkerEndpoint {
    public let context: Context
    public let endpoint: String
    private var socket: Socket
    private var monitor: SocketMonitor
    private let settings: TransportSettings
    private let curve: CurveClientSecurity?
    /// Whether libzmq reported a connection since its last retry.
    private var attemptConnected = false

    /// Connects to `endpoint` (libzmq keeps retrying while the learner is absent).
    ///
    /// - Parameter curve: When given, the socket is a CURVE client: it encrypts everything
    ///   and proves its key to the learner, which must hold the matching secret key.
    /// - Throws: ``ZMQError`` if the socket cannot be set up (e.g. a malformed endpoint).
    public init(connectingTo endpoint: String, settings: TransportSettings = TransportSettings(),
                curve: CurveClientSecurity? = nil) throws(ZMQError) {
        context = try Context()
        self.endpoint = endpoint
        self.settings = settings
        self.curve = curve
        (socket, monitor) = try WorkerEndpoint.makeSocket(context, endpoint, settings, curve)
    }

    /// The socket events ``takeLinkEvents(diagnose:)`` reads. libzmq 4.3.4 reports a refused tcp
    /// connect as `connect delayed`, `closed`, `connect retried`; an unresolvable host as
    /// `connect retried` alone; a missing or refused ipc socket as `closed`, `connect retried`.
    private static let watchedEvents: SocketEvents = [.connected, .connectRetried, .disconnected,
                                                      .handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedNoDetail]

    private static func makeSocket(_ context: Context, _ endpoint: String, _ settings: TransportSettings,
                                   _ curve: CurveClientSecurity?) throws(ZMQError) -> (Socket, SocketMonitor) {
        let socket = try Socket(context: context, type: .dealer)
        try socket.setOption(.maximumMessageSize, to: settings.maximumFrameBytes)
        try socket.setOption(.sendHighWaterMark, to: settings.chunkHighWaterMark)
        try socket.setOption(.receiveHighWaterMark, to: settings.controlHighWaterMark)
        try socket.setOption(.reconnectInterval, to: 100)
        try socket.setOption(.reconnectIntervalMax, to: 2000)
        // Over a lossy or cut link a connection attempt would otherwise wait out the
        // system's SYN retries (minutes) before the next one starts.
        try socket.setOption(.connectTimeout, to: 2000)
        // No ZMTP heartbeats (ZMQ_HEARTBEAT_IVL stays 0): libzmq 4.3.4 and 4.3.5 abort the
        // process that receives a PING on a connection whose input is stopped (its receive
        // queue full, as the learner's is whenever it is busy: chunkHighWaterMark) and which
        // then fails, answering with a PONG after the I/O error (`!_io_error`, libzmq issue
        // #4841). The conversation's own heartbeats and learner timeout find a dead link.
        if let curve {
            try socket.setOption(.curveServerKey, to: curve.serverKey)
            try socket.setOption(.curvePublicKey, to: curve.keys.publicKey)
            try socket.setOption(.curveSecretKey, to: curve.keys.secretKey)
        }
        let monitor = try SocketMonitor(watching: socket, events: watchedEvents)
        try socket.connect(endpoint)
        return (socket, monitor)
    }

    /// Drops the connection (and anything queued on it) and connects anew.
    public func reconnect() throws(ZMQError) {
        socket.close()
        monitor.close()
        attemptConnected = false
        (socket, monitor) = try WorkerEndpoint.makeSocket(context, endpoint, settings, curve)
    }

    /// Why a connection to the learner was refused during its handshake.
    public enum HandshakeRefusal: Equatable, Sendable {
        /// The learner's ZAP handler refused this worker's CURVE key (the ZAP status code).
        case keyNotAllowed(status: UInt32)
        /// One end uses CURVE and the other does not.
        case mechanismMismatch
        /// Another protocol error in the handshake (libzmq's description).
        case protocolError(String)
        /// The learner closed the connection during the handshake. When one end uses CURVE
        /// and the other does not, whichever notices first closes, so this is the mismatch
        /// seen from the end that noticed second (or a network failure mid-handshake).
        case closedDuringHandshake
    }

    /// What happened to the connection to the learner.
    public enum LinkEvent: Equatable, Sendable {
        /// A connection (tcp or ipc) is up; the ZMTP handshake, and CURVE's, follow.
        case connected
        /// The connection broke; libzmq tries again.
        case disconnected
        /// Connection attempts fail, for this reason; libzmq keeps retrying.
        case unreachable(Unreachability)
        /// The learner refused the connection in its handshake; libzmq retries, and is
        /// refused again.
        case refused(HandshakeRefusal)
    }

    /// The link events since the last call, oldest first. Handshakes cut short without a
    /// reason, as when the network fails, are not refusals and are not reported.
    ///
    /// - Parameter diagnose: When an attempt failed before it connected (libzmq retries
    ///   without having reported a connection since its previous retry), probe the endpoint
    ///   once (``Unreachability/probe(_:timeoutMilliseconds:)``, blocking up to a second past
    ///   name resolution) to say why; a probe that connects adds nothing. Attempts that
    ///   connect and are then refused in the handshake are not probed. A probe that reaches a
    ///   learner just starting is a connection it sees open and close (a CURVE learner counts
    ///   it as refused), so diagnose only while no learner has answered yet.
    public func takeLinkEvents(diagnose: Bool) throws(ZMQError) -> [LinkEvent] {
        var events: [LinkEvent] = []
        var failedAttempt = false
        while let event = try monitor.receive(timeoutMilliseconds: 0) {
            switch event.kind {
            case .connected:
                events.append(.connected)
                (attemptConnected, failedAttempt) = (true, false)
            case .connectRetried:
                failedAttempt = !attemptConnected
                attemptConnected = false
            case .disconnected: events.append(.disconnected)
            case .handshakeFailedAuth: events.append(.refused(.keyNotAllowed(status: event.value)))
            case .handshakeFailedProtocol where HandshakeProtocolError(rawValue: event.value) == .mechanismMismatch:
                events.append(.refused(.mechanismMismatch))
            case .handshakeFailedProtocol: events.append(.refused(.protocolError("\(event)")))
            case .handshakeFailedNoDetail: events.append(.refused(.closedDuringHandshake))
            default: break
            }
        }
        if diagnose, failedAttempt, let why = Unreachability.probe(endpoint) { events.append(.unreachable(why)) }
        return events
    }

    /// Queues `message` for the learner without waiting.
    /// - Returns: false when the queue is full (the learner is not reading).
    @discardableResult
    public func send(_ message: Protocol.Message) throws(ZMQError) -> Bool {
        let frames: [any ZMQ.FrameBytes] = WireCodec.encode(message)
        return try socket.send(frames, flags: .dontWait)
    }

    /// The next message from the learner, waiting up to `timeoutMilliseconds` (0: don't
    /// wait); nil when none came.
    public func receive(timeoutMilliseconds: Int) throws(ZMQError) -> Result<Protocol.Message, ProtocolError>? {
        guard let message = try socket.receive(timeoutMilliseconds: max(0, timeoutMilliseconds)) else { return nil }
        let frames = ReceivedFrames(frames: message.frames[...])
        return Result { () throws(ProtocolError) -> Protocol.Message in try WireCodec.decode(frames, limits: settings.limits) }
    }

    /// Closes the socket, first giving queued messages up to `lingerMilliseconds` to leave
    /// (so a final leave message reaches the learner).
    public func close(lingerMilliseconds: Int = 0) {
        if lingerMilliseconds > 0 { try? socket.setOption(.linger, to: lingerMilliseconds) }
        socket.close()
        monitor.close()
    }
}
