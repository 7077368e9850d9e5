import Foundation
import Testing
import ZMQ

/// Endpoint errors, option round trips, socket lifetime.
@Suite struct EndpointAndOptionTests {
    @Test func bindingABoundTCPEndpointAgainFailsWithAddressInUse() throws {
        let context = try Context()
        let (first, endpoint) = try makeRouter(context)
        let second = try Socket(context: context, type: .router)
        let error = #expect(throws: ZMQError.addressInUse) { try second.bind(endpoint) }
        #expect(!first.isClosed)  // keeps `first` (and its bind) alive until here
        #expect(error?.operation == "bind \(endpoint)")
        #expect(error?.description.contains("Address already in use") == true)
    }

    @Test(arguments: [
        ("tcp://127.0.0.1", ZMQError.invalidArgument),           // no port
        ("tcp://127.0.0.1:notaport", ZMQError.invalidArgument),
        ("no-scheme-at-all", ZMQError.invalidArgument),
        ("carrier-pigeon://loft", ZMQError.protocolNotSupported),
    ])
    func connectingToAMalformedEndpointNamesIt(endpoint: String, expected: ZMQError) throws {
        let context = try Context()
        let dealer = try Socket(context: context, type: .dealer)
        let error = #expect(throws: expected) { try dealer.connect(endpoint) }
        #expect(error?.operation == "connect \(endpoint)")
        #expect(error?.description.hasPrefix("connect \(endpoint): ") == true)
    }

    @Test func unbindAndDisconnect() throws {
        let context = try Context()
        let (router, endpoint) = try makeRouter(context)
        let dealer = try makeDealer(context, endpoint)
        try dealer.disconnect(endpoint)
        try router.unbind(endpoint)
        #expect(throws: ZMQError.noSuchEndpoint) { try router.unbind(endpoint) }
        #expect(throws: ZMQError.noSuchEndpoint) { try dealer.disconnect(endpoint) }
    }

    @Test func optionsRoundTrip() throws {
        let context = try Context()
        let socket = try Socket(context: context, type: .dealer)
        #expect(try socket.option(.linger) == 0)  // set at creation
        #expect(try Socket(context: context, type: .router, linger: 250).option(.linger) == 250)
        #expect(throws: ZMQError.invalidArgument) { try Socket(context: context, type: .router, linger: -1) }
        #expect(throws: ZMQError.invalidArgument) { try socket.setOption(.linger, to: -1) }

        try socket.setOption(.linger, to: 10)
        try socket.setOption(.sendHighWaterMark, to: 4)
        try socket.setOption(.receiveHighWaterMark, to: 5)
        try socket.setOption(.maximumMessageSize, to: 3 << 32)  // needs 64 bits
        try socket.setOption(.routingID, to: Array("worker-7".utf8))
        try socket.setOption(.immediate, to: true)
        try socket.setOption(.reconnectInterval, to: 250)
        try socket.setOption(.reconnectIntervalMax, to: 4000)
        try socket.setOption(.heartbeatInterval, to: 1000)
        try socket.setOption(.heartbeatTimeout, to: 3000)
        try socket.setOption(.heartbeatTTL, to: 6000)
        try socket.setOption(.receiveTimeout, to: 20)
        try socket.setOption(.sendTimeout, to: 30)
        try socket.setOption(.handshakeInterval, to: 2000)
        try socket.setOption(.zapDomain, to: "trpo")
        #expect(try socket.option(.linger) == 10)
        #expect(try socket.option(.sendHighWaterMark) == 4)
        #expect(try socket.option(.receiveHighWaterMark) == 5)
        #expect(try socket.option(.maximumMessageSize) == 3 << 32)
        #expect(try socket.option(.routingID) == Array("worker-7".utf8))
        #expect(try socket.option(.immediate) == true)
        #expect(try socket.option(.reconnectInterval) == 250)
        #expect(try socket.option(.reconnectIntervalMax) == 4000)
        #expect(try socket.option(.heartbeatInterval) == 1000)
        #expect(try socket.option(.heartbeatTimeout) == 3000)
        #expect(try socket.option(.heartbeatTTL) == 6000)
        #expect(try socket.option(.receiveTimeout) == 20)
        #expect(try socket.option(.sendTimeout) == 30)
        #expect(try socket.option(.handshakeInterval) == 2000)
        #expect(try socket.option(.zapDomain) == "trpo")
        #expect(try socket.lastEndpoint == "")

        // Values libzmq rejects, and write-only options.
        let error = #expect(throws: ZMQError.invalidArgument) { try socket.setOption(.routingID, to: []) }
        #expect(error?.operation == "set ZMQ_ROUTING_ID to []")
        #expect(throws: ZMQError.invalidArgument) { try socket.setOption(.linger, to: Int(Int32.max) + 1) }
        let router = try Socket(context: context, type: .router)
        try router.setOption(.routerMandatory, to: true)
        try router.setOption(.routerHandover, to: true)
        #expect(throws: ZMQError.invalidArgument) { try router.option(.routerMandatory) }
        #expect(throws: ZMQError.invalidArgument) { try router.setOption(.lastEndpoint, to: "x") }

        let sub = try Socket(context: context, type: .sub)
        try sub.setOption(.subscribe, to: [])
        try sub.setOption(.unsubscribe, to: [])
    }

    @Test func closedSocketsReportNotSocketAndCloseIsIdempotent() throws {
        let context = try Context()
        let socket = try Socket(context: context, type: .dealer)
        #expect(!socket.isClosed)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        let error = #expect(throws: ZMQError.notSocket) { try socket.bind("tcp://127.0.0.1:*") }
        #expect(error?.operation == "bind tcp://127.0.0.1:*")
        #expect(throws: ZMQError.notSocket) { try socket.send(["x"]) }
        #expect(throws: ZMQError.notSocket) { try socket.receive(.dontWait) }
        #expect(throws: ZMQError.notSocket) { try socket.option(.linger) }
    }

    @Test func emptyMessagesAreRejectedAndOtherFrameTypesAreSent() throws {
        let context = try Context()
        let (router, endpoint) = try makeRouter(context)
        let dealer = try makeDealer(context, endpoint)
        defer { dealer.close() }
        #expect(throws: ZMQError.invalidArgument) { try dealer.send([]) }
        try dealer.send([[UInt8](), "after empty", Data([1, 2, 3]), [Float(1)][...]])
        let message = try #require(try router.receive())
        #expect(message.map(\.count) == [5, 0, 11, 3, 4])
        #expect(message[3].bytes == [1, 2, 3])
        #expect(message[4].elements(of: Float.self) == [1])
        #expect(message[1].isEmpty)
        #expect(message[1].elements(of: Double.self) == [])
    }

    @Test func errorsDescribeThemselves() {
        let error = ZMQError(code: ZMQError.terminated.code, operation: "receive")
        #expect(error.description == "receive: Context was terminated")
        #expect(ZMQError.again.description == "Resource temporarily unavailable")
        #expect(error == .terminated)
        #expect(error != .again)
        switch error {
        case .again: Issue.record("matched the wrong code")
        case .terminated: break
        default: Issue.record("did not match")
        }
    }

    @Test func contexts() throws {
        _ = try Context(ioThreads: 2)
        #expect(throws: ZMQError.invalidArgument) { try Context(ioThreads: -1) }
    }

    @Test func library() {
        let version = LibZMQ.version
        #expect(version.major == 4 && version.minor >= 3)
        #expect(LibZMQ.has("curve"))
        #expect(LibZMQ.has("ipc"))
        #expect(!LibZMQ.has("no-such-capability"))
    }
}
