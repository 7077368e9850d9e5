import Foundation
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
