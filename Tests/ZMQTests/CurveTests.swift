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

/// The pieces a ZAP allow-list needs are expressible with this module: a `REP` handler on
/// `inproc://zeromq.zap.01` answering RFC 27 requests, and a CURVE server with a ZAP domain.
@Suite struct ZAPTests {
    final class StopFlag: Sendable {
        let stopped = Atomic<Bool>(false)
    }

    @Test func handlerAcceptsOnlyAllowListedClientKeys() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let allowList = [allowed.publicKey: "worker-1"]

        let flag = StopFlag()
        let bound = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            defer { finished.signal() }
            do {
                let handler = try Socket(context: context, type: .rep)
                try handler.setOption(.receiveTimeout, to: 50)
                try handler.bind("inproc://zeromq.zap.01")
                bound.signal()
                while !flag.stopped.load(ordering: .relaxed) {
                    // version, request id, domain, address, routing id, mechanism, client key
                    guard let request = try handler.receive() else { continue }
                    let key = request.count == 7 ? CurveKey(bytes: request[6].bytes) : nil
                    let user = key.flatMap { allowList[$0] }
                    try handler.send([
                        "1.0", request[1],
                        user == nil ? "400" : "200", user == nil ? "unknown key" : "OK",
                        user ?? "", [UInt8](),
                    ])
                }
            } catch {
                Issue.record(error)
                bound.signal()
            }
        }.start()
        #expect(bound.wait(timeout: .now() + 5) == .success)
        defer {
            flag.stopped.store(true, ordering: .relaxed)
            _ = finished.wait(timeout: .now() + 5)
        }

        let (router, endpoint) = try makeRouter(context, timeout: 300) {
            try $0.setOption(.curveServer, to: true)
            try $0.setOption(.curveSecretKey, to: server.secretKey)
            try $0.setOption(.zapDomain, to: "trpo")
        }
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
}
