import Foundation
import Glibc
import MetricsExport
import Testing

/// A test's client over a real TCP connection. Every read is bounded by a receive timeout, so
/// a server that does not answer fails the test instead of hanging it.
final class TestClient {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads give up after `timeout` seconds of silence.
    init(port: Int, timeout: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the server closes the connection (or the timeout passes: then what came).
    func readToEnd() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// One request, the whole response.
    static func exchange(port: Int, _ request: String) throws -> String {
        let client = try TestClient(port: port)
        client.send(request)
        return client.readToEnd()
    }
}

extension String {
    /// The status code of an HTTP response.
    var status: Int? { split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } }
    /// The body of an HTTP response.
    var body: String { components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") }
}

/// The server over real sockets on 127.0.0.1.
@Suite struct MetricsServerTests {
    static let exposition: @Sendable () -> [UInt8] = { Array("# TYPE trpo_iteration gauge\ntrpo_iteration 7.0\n".utf8) }

    static func server(_ limits: MetricsServer.Limits = MetricsServer.Limits()) throws -> MetricsServer {
        try MetricsServer(binding: MetricsAddress(host: "127.0.0.1", port: 0), limits: limits, exposition: exposition)
    }

    @Test func answersEveryKindOfRequest() throws {
        let server = try Self.server()
        defer { server.stop() }
        let port = server.address.port
        #expect(port > 0 && server.url == "http://127.0.0.1:\(port)/metrics")

        let metrics = try TestClient.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(metrics.status == 200)
        #expect(metrics.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(metrics.contains("\r\nContent-Length: \(Self.exposition().count)\r\n"))
        #expect(metrics.body == String(decoding: Self.exposition(), as: UTF8.self))

        let head = try TestClient.exchange(port: port, "HEAD /metrics HTTP/1.0\r\n\r\n")
        #expect(head.status == 200 && head.body.isEmpty && head.contains("Content-Length: \(Self.exposition().count)"))

        let answers: [(String, Int)] = [
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            ("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 405),
            ("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("garbage\r\n\r\n", 400),
            ("GET /metrics HTTP/1.1\r\n\r\n", 400),
            ("GET /metrics HTTP/3.0\r\nHost: x\r\n\r\n", 505),
            ("GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "y", count: 10_000) + "\r\n\r\n", 431),
        ]
        for (request, status) in answers {
            let response = try TestClient.exchange(port: port, request)
            #expect(response.status == status, "\(request.prefix(40)): \(response.prefix(200))")
            #expect(response.contains("\r\nConnection: close\r\n"))
        }
        let refused = try TestClient.exchange(port: port, "PUT /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(refused.contains("\r\nAllow: GET, HEAD\r\n"))
    }

    /// A request sent a byte at a time is answered like any other.
    @Test func aRequestInPiecesIsAnswered() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = try TestClient(port: server.address.port)
        for byte in "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8 {
            client.send([byte])
            usleep(1000)
        }
        #expect(client.readToEnd().status == 200)
    }

    /// A client that ends its side before finishing the head gets 400; one that connects and
    /// leaves without a word gets nothing, and the server goes on.
    @Test func clientsThatLeaveEarly() throws {
        let server = try Self.server()
        defer { server.stop() }
        let port = server.address.port
        let partial = try TestClient(port: port)
        partial.send("GET /metrics HT")
        shutdown(partial.fd, Int32(SHUT_WR))
        #expect(partial.readToEnd().status == 400)
        let silent = try TestClient(port: port)
        shutdown(silent.fd, Int32(SHUT_WR))
        #expect(silent.readToEnd() == "")
        #expect(try TestClient.exchange(port: port, "GET /metrics HTTP/1.0\r\n\r\n").status == 200)
    }

    /// Clients that open connections and say nothing hold them only until the read timeout
    /// (then 408), and meanwhile others are served: with every slot taken, a new client waits
    /// in the backlog and is served once one frees.
    @Test func slowClientsStallNobody() throws {
        var limits = MetricsServer.Limits()
        limits.connections = 2
        limits.readTimeout = .milliseconds(500)
        let server = try Self.server(limits)
        defer { server.stop() }
        let port = server.address.port
        let slow = try TestClient(port: port)
        slow.send("GET /metrics HTTP/1.1\r\n")  // and never the rest
        // One slot left: served while the slow client holds the other.
        #expect(try TestClient.exchange(port: port, "GET /metrics HTTP/1.0\r\n\r\n").status == 200)
        let silent = try TestClient(port: port)
        // Both slots held: this one waits until a slow client times out, then is served.
        #expect(try TestClient.exchange(port: port, "GET /metrics HTTP/1.0\r\n\r\n").status == 200)
        #expect(slow.readToEnd().status == 408)
        #expect(silent.readToEnd().status == 408)
    }

    /// Many connections open at once, their requests finished in reverse order; and many
    /// clients on several threads at once.
    @Test func concurrentClientsAreAllServed() throws {
        let server = try Self.server()
        defer { server.stop() }
        let port = server.address.port
        let clients = try (0..<16).map { _ in try TestClient(port: port) }
        for c in clients { c.send("GET /metrics HTTP/1.1\r\n") }
        for c in clients.reversed() { c.send("Host: x\r\n\r\n") }
        for c in clients { #expect(c.readToEnd().status == 200) }

        final class Statuses: @unchecked Sendable {
            let lock = NSLock()
            var values: [Int?] = []
            func append(_ status: Int?) { lock.withLock { values.append(status) } }
        }
        let statuses = Statuses()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let path = i % 4 == 3 ? "/elsewhere" : "/metrics"
            statuses.append(try? TestClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n").status)
        }
        #expect(statuses.values.count == 64)
        #expect(statuses.values.filter { $0 == 200 }.count == 48)
        #expect(statuses.values.filter { $0 == 404 }.count == 16)
    }

    /// A client that sends a large body it was never asked for still reads its answer (the
    /// server drains before closing instead of resetting the connection).
    @Test func anUnreadBodyDoesNotResetTheAnswer() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = try TestClient(port: server.address.port)
        client.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + String(repeating: "z", count: 20_000))
        #expect(client.readToEnd().status == 405)
    }

    @Test func aPortInUseIsReportedAndStopFreesIt() throws {
        let first = try Self.server()
        let taken = MetricsAddress(host: "127.0.0.1", port: first.address.port)
        #expect(throws: MetricsServerError.addressInUse) {
            _ = try MetricsServer(binding: taken, exposition: Self.exposition)
        }
        #expect(throws: MetricsServerError.addressInUse) { try MetricsServer.checkAvailable(taken) }
        #expect("\(MetricsServerError.addressInUse)" == "address in use")
        first.stop()
        first.stop()  // again: nothing
        #expect(throws: (any Error).self) { try TestClient(port: taken.port) }
        let second = try MetricsServer(binding: taken, exposition: Self.exposition)
        defer { second.stop() }
        #expect(try TestClient.exchange(port: taken.port, "GET /metrics HTTP/1.0\r\n\r\n").status == 200)
    }

    @Test func anUnknownHostIsReported() throws {
        #expect {
            _ = try MetricsServer(binding: MetricsAddress(host: "no-such-host.invalid", port: 0), exposition: Self.exposition)
        } throws: { error in
            "\(error)".hasPrefix("unknown host no-such-host.invalid")
        }
    }
}
