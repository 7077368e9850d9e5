import Foundation
import Testing
import ZMQ

/// Non-blocking receives, timeouts, polling, and shutdown.
@Suite struct WaitingTests {
    @Test func dontWaitOnAnEmptySocketReturnsNil() throws {
        let context = try Context()
        let (router, endpoint) = try makeRouter(context)
        let dealer = try makeDealer(context, endpoint)
        #expect(try router.receive(.dontWait) == nil)
        #expect(try dealer.receive(.dontWait) == nil)
    }

    @Test func receiveTimeoutIsHonoured() throws {
        let context = try Context()
        let (router, _) = try makeRouter(context, timeout: 150)
        #expect(try router.option(.receiveTimeout) == 150)
        let start = DispatchTime.now()
        #expect(try router.receive() == nil)
        let elapsed = seconds(since: start)
        #expect(elapsed >= 0.14 && elapsed < 2, "waited \(elapsed) s")
    }

    @Test func sendWithDontWaitReportsWouldBlock() throws {
        let context = try Context()
        // IMMEDIATE: nothing is queued while no connection is complete, so a send would block.
        let dealer = try makeDealer(context, "tcp://127.0.0.1:1") { try $0.setOption(.immediate, to: true) }
        #expect(try dealer.send(["x"], flags: .dontWait) == false)
        try dealer.setOption(.sendTimeout, to: 50)
        #expect(try dealer.send(["x"]) == false)
    }

    @Test func pollerReportsReadabilityAndTimesOut() throws {
        let context = try Context()
        let (first, firstEndpoint) = try makeRouter(context)
        let (second, secondEndpoint) = try makeRouter(context)
        let poller = Poller([first, second])

        let start = DispatchTime.now()
        #expect(try poller.poll(timeout: 100) == [])
        let elapsed = seconds(since: start)
        #expect(elapsed >= 0.09 && elapsed < 2, "waited \(elapsed) s")
        #expect(try poller.poll(timeout: 0) == [])

        let dealer = try makeDealer(context, secondEndpoint)
        try dealer.send(["to second"])
        #expect(try poller.poll(timeout: 5000) == [1])
        #expect(try poller.sockets[1].receive(.dontWait)?.last?.string == "to second")
        #expect(try poller.poll(timeout: 0) == [])

        let other = try makeDealer(context, firstEndpoint)
        defer { other.close() }
        try other.send(["to first"])
        try dealer.send(["to second again"])
        var ready: Set<Int> = []
        let deadline = DispatchTime.now() + 5
        while ready.count < 2 && DispatchTime.now() < deadline {
            ready.formUnion(try poller.poll(timeout: 100))
        }
        #expect(ready == [0, 1])

        first.close()
        #expect(throws: ZMQError.notSocket) { try poller.poll(timeout: 0) }
    }

    /// A message queued for a peer that never appears must not delay shutdown: the socket's
    /// linger (0 by default, here also 200 ms) bounds the wait of `zmq_ctx_term`.
    @Test(arguments: [0, 200])
    func closingWithAMessagePendingToAnUnreachablePeerIsPrompt(linger: Int) throws {
        let elapsed = runOnThread(timeout: 5) {
            do {
                let context = try Context()
                let dealer = try Socket(context: context, type: .dealer, linger: linger)
                try dealer.connect("tcp://127.0.0.1:1")  // nothing listens on port 1
                #expect(try dealer.send(["never delivered", [Double](repeating: 1, count: 1000)]))
                // Leaving the scope closes the socket and terminates the context.
            } catch {
                Issue.record(error)
            }
        }
        let time = try #require(elapsed, "closing and terminating took more than 5 s")
        #expect(time < Double(linger) / 1000 + 2)
    }

    @Test func shutdownWakesABlockedReceiveWithTerminated() throws {
        let context = try Context()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { context.shutdown() }
        let elapsed = runOnThread(timeout: 5) {
            do {
                let pull = try Socket(context: context, type: .pull)
                try pull.bind("inproc://shutdown-test")
                _ = try pull.receive()
                Issue.record("receive returned without a message")
            } catch {
                #expect(error as? ZMQError == .terminated)
            }
        }
        #expect(elapsed != nil, "receive was not woken by shutdown")
        #expect(throws: ZMQError.terminated) { try Socket(context: context, type: .pull) }
    }
}
