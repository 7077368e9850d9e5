import Foundation
import Synchronization
import ZMQ

/// CURVE on the learner's socket: encryption, and admission of only the workers whose public
/// keys are on an allow-list (checked by a ZAP handler, ZeroMQ RFC 27).
public struct CurveServerSecurity: Sendable {
    /// The learner's key pair (workers are given its public key).
    public var keys: CurveKeyPair
    /// The admitted workers' public keys, each with a name for the logs (its file's name).
    public var allowList: [CurveKey: String]
    /// Where the allow-list came from, for log messages (e.g. its directory).
    public var allowListSource: String

    public init(keys: CurveKeyPair, allowList: [CurveKey: String], allowListSource: String) {
        self.keys = keys
        self.allowList = allowList
        self.allowListSource = allowListSource
    }
}

/// CURVE on a worker's socket: its own key pair and the learner's public key.
public struct CurveClientSecurity: Sendable {
    public var keys: CurveKeyPair
    public var serverKey: CurveKey

    public init(keys: CurveKeyPair, serverKey: CurveKey) {
        self.keys = keys
        self.serverKey = serverKey
    }
}

/// The learner's door keeper: on its own thread (the learner's own thread can be busy for
/// seconds in an update, and new connections wait for the answer), it answers ZAP requests
/// from the allow-list and watches the learner socket's monitor for handshakes that fail
/// before ZAP is asked (a peer without CURVE, or with the wrong learner key). Every refusal is
/// counted and logged, identical refusals at most once per ``RefusalLog/interval``.
final class CurveGatekeeper: Sendable {
    private let refused = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Connections refused so far.
    var refusedConnections: Int { refused.load(ordering: .relaxed) }

    /// Binds the ZAP handler in `context` and connects to the monitor at `monitorEndpoint`,
    /// on a new thread; returns once both are ready.
    ///
    /// - Throws: ``ZMQError`` if the thread could not set up its sockets (e.g. the context
    ///   already has a ZAP handler).
    init(context: Context, security: CurveServerSecurity, monitorEndpoint: String,
         log: @escaping @Sendable (String) -> Void) throws(ZMQError) {
        let ready = DispatchSemaphore(value: 0)
        let setupError = Mutex<ZMQError?>(nil)
        Thread { [self] in
            defer { finished.signal() }
            let zap: ZAPHandler, monitor: SocketMonitor
            do throws(ZMQError) {
                zap = try ZAPHandler(context: context)
                monitor = try SocketMonitor(context: context, endpoint: monitorEndpoint)
            } catch {
                setupError.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            defer { zap.close(); monitor.close() }
            serve(zap, monitor, security, RefusalLog(log: log))
        }.start()
        ready.wait()
        if let error = setupError.withLock({ $0 }) { throw error }
    }

    private func serve(_ zap: ZAPHandler, _ monitor: SocketMonitor, _ security: CurveServerSecurity, _ log: RefusalLog) {
        var log = log
        let poller = Poller([zap.socket, monitor.socket])
        while !stopRequested.load(ordering: .relaxed) {
            do throws(ZMQError) {
                guard try !poller.poll(timeout: 100).isEmpty else { continue }
                while let request = try zap.receive(timeoutMilliseconds: 0) {
                    if let key = request.curvePublicKey, let name = security.allowList[key] {
                        try zap.reply(to: request, status: .success, userID: name)
                        continue
                    }
                    try zap.reply(to: request, status: .authenticationFailure, text: "key not on the allow-list")
                    refused.add(1, ordering: .relaxed)
                    let key = request.curvePublicKey.map { "CURVE key \($0.z85)" } ?? "\(request.mechanism) credentials"
                    let peer = request.address.isEmpty ? "a local peer" : request.address
                    log.refused("a connection from \(peer): \(key) is not on the allow-list (\(security.allowListSource))")
                }
                while let event = try monitor.receive(timeoutMilliseconds: 0) {
                    refused.add(1, ordering: .relaxed)
                    log.refused("a connection (libzmq does not say from where): \(Self.explain(event))")
                }
            } catch {
                log.refused("ZAP handler: \(error)")
                if error == .terminated { return }
            }
        }
    }

    /// A monitor event in the operator's terms. When a plaintext peer meets the CURVE
    /// socket, whichever end notices the mismatch first closes the connection, so the learner
    /// sees either the mismatch or a handshake cut short.
    private static func explain(_ event: SocketEvent) -> String {
        switch (event.kind, HandshakeProtocolError(rawValue: event.value)) {
        case (.handshakeFailedProtocol, .mechanismMismatch):
            "\(event) (a worker without --curve-secret/--learner-public?)"
        case (.handshakeFailedProtocol, .cryptographic):
            "\(event) (a worker with the wrong --learner-public?)"
        case (.handshakeFailedNoDetail, _):
            "closed during the handshake (a worker without CURVE that noticed first, or a network failure)"
        default:
            "\(event)"
        }
    }

    /// Stops the thread and waits for it (at most a poll interval). Later calls do nothing.
    func stop() {
        guard !stopRequested.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }
}

/// Logs refusals, each distinct message at most once per ``interval``, saying how many
/// identical ones were held back, so a peer retrying every second does not flood the log.
struct RefusalLog {
    /// The shortest time between two lines with the same message.
    var interval: Duration = .seconds(30)
    let log: @Sendable (String) -> Void
    private var lastLogged: [String: (at: ContinuousClock.Instant, heldBack: Int)] = [:]
    private let clock = ContinuousClock()

    init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    mutating func refused(_ message: String, now: ContinuousClock.Instant? = nil) {
        let now = now ?? clock.now
        if let last = lastLogged[message], now - last.at < interval {
            lastLogged[message]!.heldBack += 1
            return
        }
        let repeats = lastLogged[message].map { $0.heldBack > 0 ? " (\($0.heldBack) more since the last report)" : "" } ?? ""
        lastLogged[message] = (now, 0)
        log("learner: refused \(message)\(repeats)")
    }
}

/// Whether only this machine can reach an endpoint: `ipc://` and `inproc://` endpoints, and
/// `tcp://` on a loopback address (`127.0.0.0/8`, `::1`, `localhost`). Everything else, such
/// as `tcp://0.0.0.0:5555`, `tcp://*:5555`, an interface name or another transport, may be
/// reachable from other machines.
public func isLocalOnly(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard let host = TCPEndpoint(endpoint)?.host else { return false }
    if host == "localhost" || host == "::1" { return true }
    let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
    return octets.count == 4 && !octets.contains(nil) && octets[0] == 127
}
