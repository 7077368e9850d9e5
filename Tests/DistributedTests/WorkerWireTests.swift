#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Transport
import ZMQ

/// A worker's connection as seen from a plain TCP peer that speaks just enough ZMTP 3.1 (NULL
/// mechanism) to complete the handshake as a ROUTER: what the worker sends, and what it does
/// when the connection fails in ways libzmq does not recover from by itself.
@Suite struct WorkerWireTests {
    typealias Child = DistributedTests.Child

    /// A TCP listener on 127.0.0.1 that accepts connections one at a time, completes the ZMTP
    /// handshake on each, and collects the frames the peer sends or sends it raw bytes.
    final class ZMTPObserver {
        let listener: Int32
        let port: UInt16
        private var connection: Int32 = -1

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            if !bound { close(fd) }
            try #require(bound, "cannot listen on 127.0.0.1: errno \(errno)")
            listener = fd
            port = UInt16(bigEndian: address.sin_port)
        }

        deinit {
            if connection >= 0 { close(connection) }
            close(listener)
        }

        /// Whether a connection arrives within `seconds`; it becomes the current one.
        func accept(seconds: Double) -> Bool {
            guard readable(listener, milliseconds: Int32(seconds * 1000)) else { return false }
            if connection >= 0 { close(connection) }
            connection = Glibc.accept(listener, nil, nil)
            return connection >= 0
        }

        /// Waits up to `milliseconds` for `fd` to be readable.
        private func readable(_ fd: Int32, milliseconds: Int32) -> Bool {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&entry, 1, milliseconds) == 1
        }

        /// Reads exactly `count` bytes, or nil when the peer closes or is silent for 5 s.
        private func read(_ count: Int) -> [UInt8]? {
            var bytes: [UInt8] = []
            while bytes.count < count {
                guard readable(connection, milliseconds: 5000) else { return nil }
                var buffer = [UInt8](repeating: 0, count: count - bytes.count)
                let n = recv(connection, &buffer, buffer.count, 0)
                guard n > 0 else { return nil }
                bytes += buffer[..<n]
            }
            return bytes
        }

        func write(_ bytes: [UInt8]) throws {
            let n = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            try #require(n == bytes.count, "send failed: errno \(errno)")
        }

        /// One ZMTP frame: whether it is a command, and its body.
        private func readFrame() -> (command: Bool, body: [UInt8])? {
            guard let flags = read(1)?.first else { return nil }
            let long = flags & 0x02 != 0
            guard let sizeBytes = read(long ? 8 : 1) else { return nil }
            let size = sizeBytes.reduce(0) { $0 << 8 | Int($1) }
            guard let body = read(size) else { return nil }
            return (flags & 0x04 != 0, body)
        }

        /// Accepts a connection and completes the handshake as a NULL-mechanism ROUTER.
        func handshake() throws {
            try #require(accept(seconds: 10), "nobody connected")
            let mechanism = Array("NULL".utf8) + [UInt8](repeating: 0, count: 16)
            let greeting: [UInt8] = [0xFF] + [UInt8](repeating: 0, count: 8) + [0x7F, 3, 1] + mechanism
                + [0] + [UInt8](repeating: 0, count: 31)
            try write(greeting)
            let theirs = try #require(read(64), "no greeting")
            #expect(theirs[0] == 0xFF && theirs[9] == 0x7F && Array(theirs[12..<16]) == Array("NULL".utf8))
            let property = Array("Socket-Type".utf8), value = Array("ROUTER".utf8)
            let ready: [UInt8] = [5] + Array("READY".utf8) + [UInt8(property.count)] + property
                + [0, 0, 0, UInt8(value.count)] + value
            try write([0x04, UInt8(ready.count)] + ready)
            let reply = try #require(readFrame(), "no READY")
            #expect(reply.command && Array(reply.body.prefix(6)) == [5] + Array("READY".utf8))
        }

        /// The names of the commands (PING, …) received for `seconds`.
        func commands(seconds: Double) -> [String] {
            var names: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard readable(connection, milliseconds: 50) else { continue }
                guard let frame = readFrame() else { break }
                if frame.command, let size = frame.body.first, frame.body.count > Int(size) {
                    names.append(String(decoding: frame.body[1...Int(size)], as: UTF8.self))
                }
            }
            return names
        }
    }

    /// libzmq 4.3.4 and 4.3.5 abort the learner process (`!_io_error`, libzmq issue #4841)
    /// when a PING reaches a connection whose input is stopped (the learner's receive queue
    /// is full whenever it is busy) and that connection then fails: the PONG goes out after
    /// the I/O error. A worker's socket therefore sends no PING, only the protocol's own
    /// heartbeats, which are messages.
    @Test func aWorkersConnectionCarriesNoZMTPPing() throws {
        let observer = try ZMTPObserver()
        let worker = try WorkerEndpoint(connectingTo: "tcp://127.0.0.1:\(observer.port)")
        defer { worker.close() }
        try observer.handshake()
        let commands = observer.commands(seconds: 2.5)
        #expect(!commands.contains("PING"), "\(commands)")
    }

    /// A frame libzmq cannot take (here one of 2⁴⁰ bytes, over the worker's
    /// `ZMQ_MAXMSGSIZE`) is a protocol error: libzmq closes the connection and, without a
    /// word, never connects again. The worker notices the link down for its learner timeout
    /// and connects afresh.
    @Test func aWorkerWhoseConnectionEndsInAProtocolErrorConnectsAgain() throws {
        let observer = try ZMTPObserver()
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let worker = try Child(["worker", "--connect", "tcp://127.0.0.1:\(observer.port)", "--learner-timeout", "1"],
                               log: root.appendingPathComponent("worker.log"))
        defer { worker.signal(SIGKILL); worker.process.waitUntilExit() }
        try observer.handshake()
        try observer.write([0x02] + (0..<8).map { UInt8(truncatingIfNeeded: (1 << 40) >> (8 * (7 - $0))) })
        #expect(observer.accept(seconds: 10), "no second connection: \(worker.output)")
    }

    /// The observer sees the PINGs of a socket that sends them (so the test above can fail).
    @Test func theObserverSeesThePingsOfASocketWithZMTPHeartbeats() throws {
        let observer = try ZMTPObserver()
        let context = try Context()
        let socket = try Socket(context: context, type: .dealer)
        defer { socket.close() }
        try socket.setOption(.heartbeatInterval, to: 200)
        try socket.connect("tcp://127.0.0.1:\(observer.port)")
        try observer.handshake()
        let commands = observer.commands(seconds: 1.5)
        #expect(commands.contains("PING"), "\(commands)")
    }
}
