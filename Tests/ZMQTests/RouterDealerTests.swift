import Foundation
import Testing
import ZMQ

/// ROUTER/DEALER exchanges over real tcp and ipc sockets.
@Suite struct RouterDealerTests {
    enum Transport: String, CaseIterable { case tcp, ipc }

    @Test(arguments: Transport.allCases)
    func dealerRequestRouterReply(over transport: Transport) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bindEndpoint = switch transport {
        case .tcp: "tcp://127.0.0.1:*"
        case .ipc: "ipc://\(directory.path)/learner.sock"
        }
        let context = try Context()
        let (router, endpoint) = try makeRouter(context, bindEndpoint)
        if transport == .tcp {
            #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"))
        } else {
            #expect(endpoint == bindEndpoint)
        }
        let dealer = try makeDealer(context, endpoint)

        let header: [UInt8] = [1, 0, 0, 0]
        let values: [Double] = [1.5, -2.25, .pi]
        #expect(try dealer.send([header, values, "tail"]))

        let request = try #require(try router.receive())
        #expect(request.count == 4)  // routing id + 3 frames
        #expect(!request[0].isEmpty)
        #expect(request[1].bytes == header)
        #expect(request[2].elements(of: Double.self) == values)
        #expect(request[2].count == 24)
        #expect(request[3].string == "tail")
        #expect(request[3].elements(of: Double.self) == nil)  // 4 bytes: not a whole Double

        try router.send([request[0], "reply", [Int32(7)]])
        let reply = try #require(try dealer.receive())
        #expect(reply.count == 2)
        #expect(reply[0].string == "reply")
        #expect(reply[1].elements(of: Int32.self) == [7])
    }

    @Test func repliesReachTheDealerNamedByTheRoutingID() throws {
        let context = try Context()
        let (router, endpoint) = try makeRouter(context)
        let workerA = try makeDealer(context, endpoint, id: "worker-A")
        let workerB = try makeDealer(context, endpoint, id: "worker-B")
        try workerA.send(["from A"])
        try workerB.send(["from B"])

        var seen: [String: String] = [:]
        for _ in 0..<2 {
            let message = try #require(try router.receive())
            seen[message[0].string] = message[1].string
        }
        #expect(seen == ["worker-A": "from A", "worker-B": "from B"])

        // Reply in the opposite order, addressing each by its id.
        try router.send(["worker-B", "for B"])
        try router.send(["worker-A", "for A"])
        #expect(try workerA.receive()?.first?.string == "for A")
        #expect(try workerB.receive()?.first?.string == "for B")
        #expect(try workerA.receive(.dontWait) == nil)
        #expect(try workerB.receive(.dontWait) == nil)
    }

    @Test func eightMegabyteFrameArrivesIntactAndOutlivesItsSocketAndContext() throws {
        let values = (0..<(1 << 20)).map { Double($0) * 0.5 - 1e5 }  // 8 MiB
        func exchange() throws -> Message {
            let context = try Context()
            let (router, endpoint) = try makeRouter(context)
            let dealer = try makeDealer(context, endpoint)
            defer { dealer.close() }  // not before the router has the message (linger is 0)
            try dealer.send(["batch", values])
            return try #require(try router.receive())
        }
        // The context and both sockets are gone when `exchange` returns; the frames must
        // still be readable.
        let message = try exchange()
        #expect(message.count == 3)
        #expect(message[2].count == values.count * 8)
        #expect(message[2].elements(of: Double.self) == values)
        let last = message[2].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: $0.count - 8, as: Double.self) }
        #expect(last == values.last)
    }

    /// ZMQ_MAXMSGSIZE is checked per frame: an oversized frame gets its sender disconnected
    /// and is never delivered, the router keeps serving other peers, and a multipart
    /// message whose frames are each under the limit gets through even if their sum is not.
    @Test func oversizedFrameDisconnectsThePeerAndTheRouterKeepsWorking() throws {
        let limit = 1 << 20
        let context = try Context()
        let (router, endpoint) = try makeRouter(context) {
            try $0.setOption(.maximumMessageSize, to: limit)
            try $0.setOption(.routerMandatory, to: true)
        }
        #expect(try router.option(.maximumMessageSize) == limit)
        // No reconnection, so the disconnection stays visible.
        let big = try makeDealer(context, endpoint, id: "big") { try $0.setOption(.reconnectInterval, to: -1) }
        defer { big.close() }  // closing it would also make it unreachable
        let small = try makeDealer(context, endpoint, id: "small")

        // Let "big" connect and register first, so its disconnection can be observed.
        try big.send(["hello"])
        #expect(try router.receive()?.first?.string == "big")

        try big.send(["too big", [UInt8](repeating: 7, count: limit + 1)])
        #expect(try Poller([router]).poll(timeout: 300) == [])

        // The router dropped "big": routing to it now fails.
        func isUnreachable() throws -> Bool {
            do {
                try router.send(["big", "ping"])
                return false
            } catch let error where error == .hostUnreachable {
                return true
            }
        }
        var unreachable = try isUnreachable()
        for _ in 0..<50 where !unreachable {
            usleep(10_000)
            unreachable = try isUnreachable()
        }
        #expect(unreachable)

        try small.send(["still works"])
        let message = try #require(try router.receive())
        #expect(message[0].string == "small")
        #expect(message[1].string == "still works")

        let part = [UInt8](repeating: 1, count: limit / 2 + 100_000)
        try small.send([part, part, part])
        let multipart = try #require(try router.receive())
        #expect(multipart.map(\.count) == [5, part.count, part.count, part.count])
    }

    @Test func routerMandatoryReportsAnUnknownRoutingID() throws {
        let context = try Context()
        let (router, _) = try makeRouter(context) { try $0.setOption(.routerMandatory, to: true) }
        let error = #expect(throws: ZMQError.hostUnreachable) {
            try router.send(["nobody", "payload"])
        }
        #expect(error?.operation == "send frame 0 of 2")

        // Without the option the message is dropped silently.
        let (lax, _) = try makeRouter(context)
        #expect(try lax.send(["nobody", "payload"]))
    }
}
