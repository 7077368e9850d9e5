import Foundation
import Synchronization
import Testing
import ZMQ

/// CURVE encryption and key handling.
@Suite struct CurveTests {
    /// A CURVE server ROUTER and a client DEALER that knows `serverKey`.
    func makePair(_ context: Context, server: CurveKeyPair, clientBelieves serverKey: CurveKey,
                  clientTimeout: Int = 5000, serverTimeout: Int = 5000) throws -> (Socket, Socket) {
        let (router, endpoint) = try makeRouter(context, timeout: serverTimeout) {
            try $0.setOption(.curveServer, to: true)
            try $0.setOption(.curveSecretKey, to: server.secretKey)
        }
        let client = try CurveKeyPair.generate()
        let dealer = try makeDealer(context, endpoint, timeout: clientTimeout) {
            try $0.setOption(.curveServerKey, to: serverKey)
            try $0.setOption(.curvePublicKey, to: client.publicKey)
            try $0.setOption(.curveSecretKey, to: client.secretKey)
        }
        return (router, dealer)
    }

    @Test func clientWithTheServerKeyExchangesMessages() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let (router, dealer) = try makePair(context, server: server, clientBelieves: server.publicKey)
        #expect(try router.option(.curveServer) == true)
        #expect(try dealer.option(.curveServerKey) == server.publicKey)

        try dealer.send(["secret batch", [Double](repeating: 0.25, count: 100)])
        let request = try #require(try router.receive())
        #expect(request[1].string == "secret batch")
        #expect(request[2].elements(of: Double.self) == [Double](repeating: 0.25, count: 100))
        try router.send([request[0], "ack"])
        #expect(try dealer.receive()?.first?.string == "ack")
    }

    @Test func clientWithAWrongServerKeyGetsNothingThrough() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        let (router, dealer) = try makePair(
            context, server: server, clientBelieves: impostor.publicKey, serverTimeout: 500)
        defer { dealer.close() }
        try dealer.send(["hello?"])
        #expect(try router.receive() == nil)
    }

    @Test func keyPairsAndPublicKeyDerivation() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey != pair.secretKey)
        #expect(pair.publicKey.z85.count == 40)
        #expect(try CurveKeyPair.publicKey(fromSecret: pair.secretKey) == pair.publicKey)
        #expect(try CurveKey(z85: pair.secretKey.z85) == pair.secretKey)
        #expect(CurveKey(bytes: pair.publicKey.bytes) == pair.publicKey)
        #expect(CurveKey(bytes: [1, 2, 3]) == nil)
        #expect("\(pair.secretKey)" == "CurveKey(32 bytes)")  // keys stay out of logs
        let error = #expect(throws: ZMQError.invalidArgument) { try CurveKey(z85: "tooShort") }
        #expect(error?.description.contains("got 8") == true)
        #expect(throws: ZMQError.invalidArgument) { try CurveKey(z85: String(repeating: "~", count: 40)) }
    }

    @Test func z85() {
        // The test vector from ZeroMQ RFC 32.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
        #expect(Z85.encode([]) == "")
        #expect(Z85.decode("") == [])
        let random = (0..<64).map { _ in UInt8.random(in: 0...255) }
        #expect(Z85.decode(Z85.encode(random)!) == random)
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hello") != nil)
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hell\"") == nil)  // '"' is not in the alphabet
    }
}

/// A ZAP allow-list with ``ZAPHandler``, and what each side's monitor reports when a
/// connection is refused.
@Suite struct ZAPTests {
    final class StopFlag: Sendable {
        let stopped = Atomic<Bool>(false)
    }

    /// A CURVE server ROUTER whose context has a ZAP handler admitting `allowList`, served on
    /// a thread until the returned flag is raised.
    func guardedRouter(_ context: Context, server: CurveKeyPair, allowList: [CurveKey: String])
        throws -> (router: Socket, endpoint: String, stop: () -> Void) {
        let flag = StopFlag()
        let bound = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            defer { finished.signal() }
            do {
                let handler = try ZAPHandler(context: context)
                bound.signal()
                while !flag.stopped.load(ordering: .relaxed) {
                    guard let request = try handler.receive(timeoutMilliseconds: 50) else { continue }
                    #expect(request.domain == "trpo" && request.mechanism == "CURVE" && request.address == "127.0.0.1")
                    if let key = request.curvePublicKey, let user = allowList[key] {
                        try handler.reply(to: request, status: .success, userID: user)
                    } else {
                        try handler.reply(to: request, status: .authenticationFailure, text: "unknown key")
                    }
                }
                handler.close()
            } catch {
                Issue.record(error)
                bound.signal()
            }
        }.start()
        #expect(bound.wait(timeout: .now() + 5) == .success)
        let (router, endpoint) = try makeRouter(context, timeout: 300) {
            try $0.setOption(.curveServer, to: true)
            try $0.setOption(.curveSecretKey, to: server.secretKey)
            try $0.setOption(.zapDomain, to: "trpo")
        }
        return (router, endpoint, {
            flag.stopped.store(true, ordering: .relaxed)
            _ = finished.wait(timeout: .now() + 5)
        })
    }

    /// The first event of `kinds` from `monitor` within `seconds`.
    func firstEvent(_ monitor: SocketMonitor, _ kinds: SocketEvents, seconds: Double = 5) throws -> SocketEvent? {
        let deadline = DispatchTime.now() + seconds
        while DispatchTime.now() < deadline {
            if let event = try monitor.receive(timeoutMilliseconds: 100), kinds.contains(event.kind) { return event }
        }
        return nil
    }

    @Test func handlerAcceptsOnlyAllowListedClientKeys() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let (router, endpoint, stop) = try guardedRouter(context, server: server, allowList: [allowed.publicKey: "worker-1"])
        defer { stop() }
        func client(_ keys: CurveKeyPair) throws -> Socket {
            try makeDealer(context, endpoint) {
                try $0.setOption(.curveServerKey, to: server.publicKey)
                try $0.setOption(.curvePublicKey, to: keys.publicKey)
                try $0.setOption(.curveSecretKey, to: keys.secretKey)
            }
        }
        let good = try client(allowed)
        let bad = try client(stranger)
        defer { good.close(); bad.close() }
        try bad.send(["from stranger"])
        try good.send(["from worker"])

        let message = try #require(try router.receive())
        #expect(message[1].string == "from worker")
        #expect(message[1].metadata("User-Id") == "worker-1")
        #expect(try router.receive() == nil)
    }

    @Test func refusedClientsSeeWhyOnTheirMonitor() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let (router, endpoint, stop) = try guardedRouter(context, server: server, allowList: [:])
        defer { stop() }
        let serverMonitor = try SocketMonitor(watching: router, events: SocketEvents.handshakeFailures.union(.monitorStopped))
        defer { serverMonitor.close() }

        // A client whose key is not on the list: refused by ZAP with status 400.
        let stranger = try CurveKeyPair.generate()
        let refused = try Socket(context: context, type: .dealer)
        defer { refused.close() }
        try refused.setOption(.curveServerKey, to: server.publicKey)
        try refused.setOption(.curvePublicKey, to: stranger.publicKey)
        try refused.setOption(.curveSecretKey, to: stranger.secretKey)
        let refusedMonitor = try SocketMonitor(watching: refused, events: .handshakeFailures)
        defer { refusedMonitor.close() }
        try refused.connect(endpoint)
        let auth = try #require(try firstEvent(refusedMonitor, .handshakeFailures))
        #expect(auth.kind == .handshakeFailedAuth && auth.value == 400, "\(auth)")
        #expect(auth.endpoint == endpoint)

        // A client without CURVE: a mechanism mismatch, reported on both ends.
        let plain = try Socket(context: context, type: .dealer)
        defer { plain.close() }
        let plainMonitor = try SocketMonitor(watching: plain, events: .handshakeFailures)
        defer { plainMonitor.close() }
        try plain.connect(endpoint)
        let mismatch = try #require(try firstEvent(plainMonitor, .handshakeFailures))
        #expect(mismatch.kind == .handshakeFailedProtocol, "\(mismatch)")
        #expect(HandshakeProtocolError(rawValue: mismatch.value) == .mechanismMismatch)
        #expect("\(mismatch)".contains("security mechanism mismatch"))
        let serverSide = try #require(try firstEvent(serverMonitor, .handshakeFailedProtocol))
        #expect(HandshakeProtocolError(rawValue: serverSide.value) == .mechanismMismatch)
        router.stopMonitor()
        #expect(try firstEvent(serverMonitor, .monitorStopped) != nil)
    }

    @Test func requestsDecodeAsRFC27Says() throws {
        let context = try Context()
        let (a, b) = (try Socket(context: context, type: .pair), try Socket(context: context, type: .pair))
        try a.bind("inproc://zap-codec")
        try b.connect("inproc://zap-codec")
        let key = try CurveKeyPair.generate().publicKey
        try b.send(["1.0", "7", "trpo", "10.0.0.2", "", "CURVE", key.bytes])
        let message = try #require(try a.receive())
        let request = try #require(ZAPRequest(message))
        #expect(request.requestID == Array("7".utf8) && request.address == "10.0.0.2" && request.curvePublicKey == key)
        try b.send(["2.0", "7", "trpo", "", "", "NULL"])
        let wrongVersion = try #require(try a.receive())
        #expect(ZAPRequest(wrongVersion) == nil)
    }
}
