import CGlibcExtras
import Foundation
import Glibc

/// Why the metrics server could not start.
public enum MetricsServerError: Error, Equatable, CustomStringConvertible {
    /// Another socket is bound to the address (another learner, another exporter).
    case addressInUse
    /// Binding needs a privilege this process lacks (ports below 1024).
    case permissionDenied
    /// The host is not an address of this machine.
    case addressNotAvailable(host: String)
    /// The host name does not resolve (`getaddrinfo`'s reason).
    case unknownHost(String, reason: String)
    /// Any other failure of a system call, with its errno.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .addressInUse: "address in use"
        case .permissionDenied: "permission denied (ports below 1024 need privileges)"
        case .addressNotAvailable(let host): "\(host) is not an address of this machine"
        case .unknownHost(let host, let reason): "unknown host \(host) (\(reason))"
        case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
        }
    }
}

/// A small HTTP/1.1 server for Prometheus scrapes (answers as ``MetricsRoutes`` lists them),
/// on a thread of its own over POSIX sockets.
///
/// One thread serves every connection with `poll`: each reads one request head (at most
/// ``Limits/headBytes``, within ``Limits/readTimeout`` of its acceptance), gets one answer
/// (within ``Limits/writeTimeout``), and is closed. At most ``Limits/connections`` are open
/// at once; further clients wait in the listen backlog. A slow or hostile client therefore
/// holds one slot for a bounded time and never touches the thread that trains; writes to a
/// peer that went away fail with `EPIPE` instead of raising SIGPIPE.
public final class MetricsServer: @unchecked Sendable {
    /// Bounds on what one connection may cost.
    public struct Limits: Sendable {
        /// The most bytes of a request head (request line and fields); larger heads get 431.
        public var headBytes = 8192
        /// Connections served at once.
        public var connections = 32
        /// From acceptance to a complete head; later, the client gets 408.
        public var readTimeout: Duration = .seconds(5)
        /// From the answer's start to its last byte sent; later, the connection is dropped.
        public var writeTimeout: Duration = .seconds(5)

        public init() {}
    }

    /// The address bound, its port the one the system chose when the asked one was 0.
    public let address: MetricsAddress
    /// Where to scrape: `http://HOST:PORT/metrics`.
    public var url: String {
        let host = address.host == "*" ? "0.0.0.0" : address.host
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(address.port)\(MetricsRoutes.metricsPath)"
    }

    private let wake: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stopped = false

    /// Binds and listens on `address` (so a port in use fails here, before anything else
    /// starts), then serves on a new thread until ``stop()``.
    /// - Parameters:
    ///   - exposition: the metrics in the text exposition format, called on the server's
    ///     thread for every `GET /metrics`.
    /// - Throws: ``MetricsServerError``.
    public init(binding address: MetricsAddress, limits: Limits = Limits(),
                exposition: @escaping @Sendable () -> [UInt8]) throws(MetricsServerError) {
        let (listener, port) = try Self.listen(on: address)
        var pipe: [Int32] = [-1, -1]
        guard trpo_pipe_nonblocking(&pipe) == 0 else {
            let code = errno
            close(listener)
            throw .system(call: "pipe2", errno: code)
        }
        self.address = MetricsAddress(host: address.host, port: port)
        let (wakeUp, finished) = (pipe[0], finished)
        wake = pipe[1]
        let thread = Thread {
            var loop = ServerLoop(listener: listener, wake: wakeUp, limits: limits, exposition: exposition)
            loop.run()
            close(listener)
            close(wakeUp)
            finished.signal()
        }
        thread.name = "trpo-metrics"
        thread.start()
    }

    deinit { stop() }

    /// Closes every connection and the listening socket and waits for the thread to end.
    /// Calling it again does nothing.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        var byte: UInt8 = 1
        _ = write(wake, &byte, 1)
        finished.wait()
        close(wake)
    }

    /// Checks that `address` can be bound now: binds and closes at once. For a process that
    /// leaves the serving to a child it is about to start, to fail before starting it.
    /// - Throws: ``MetricsServerError``, as ``init(binding:limits:exposition:)`` would.
    public static func checkAvailable(_ address: MetricsAddress) throws(MetricsServerError) {
        let (fd, _) = try listen(on: address)
        close(fd)
    }

    /// A listening socket on `address` (the first address its host resolves to) and its port.
    private static func listen(on address: MetricsAddress) throws(MetricsServerError) -> (Int32, Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let host = address.host == "*" ? "0.0.0.0" : address.host
        let status = getaddrinfo(host, "\(address.port)", &hints, &found)
        guard status == 0, let info = found else {
            throw .unknownHost(address.host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family,
                        Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        var one: Int32 = 1
        // A restarted learner rebinds at once, despite connections of its predecessor in TIME_WAIT.
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let code = errno
            close(fd)
            switch code {
            case EADDRINUSE: throw .addressInUse
            case EACCES: throw .permissionDenied
            case EADDRNOTAVAIL: throw .addressNotAvailable(host: address.host)
            default: throw .system(call: "bind", errno: code)
            }
        }
        guard Glibc.listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw code == EADDRINUSE ? .addressInUse : .system(call: "listen", errno: code)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let family = Int32(storage.ss_family)
        let port: UInt16 = withUnsafePointer(to: &storage) {
            if family == AF_INET6 {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
            } else {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
            }
        }
        return (fd, Int(UInt16(bigEndian: port)))
    }
}

/// The server thread's state: the listening socket, the wake-up pipe and the open connections.
private struct ServerLoop {
    let listener: Int32
    let wake: Int32
    let context: Connection.Context
    private var connections: [Connection] = []
    /// Accepting pauses until then after running out of descriptors.
    private var acceptResumes: ContinuousClock.Instant

    init(listener: Int32, wake: Int32, limits: MetricsServer.Limits, exposition: @escaping @Sendable () -> [UInt8]) {
        self.listener = listener
        self.wake = wake
        context = Connection.Context(limits: limits, exposition: exposition)
        acceptResumes = context.clock.now
    }

    /// Serves until a byte arrives on the wake-up pipe; then closes every connection.
    mutating func run() {
        let (context, limit) = (context, context.limits.connections)
        while true {
            let now = context.clock.now
            let accepting = connections.count < limit && now >= acceptResumes
            var fds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listener, events: accepting ? Int16(POLLIN) : 0, revents: 0)]
            for c in connections {
                fds.append(pollfd(fd: c.fd, events: Int16(c.phase == .writing ? POLLOUT : POLLIN), revents: 0))
            }
            var wakeAt = connections.map(\.deadline).min()
            if !accepting && connections.count < limit { wakeAt = min(wakeAt ?? acceptResumes, acceptResumes) }
            let timeout = wakeAt.map { Int32(clamping: max(0, ($0 - now).milliseconds) + 1) } ?? -1
            if poll(&fds, nfds_t(fds.count), timeout) < 0 {
                if errno != EINTR { usleep(10_000) }  // ENOMEM: try again shortly
                continue
            }
            if fds[0].revents != 0 { break }
            for i in connections.indices where fds[i + 2].revents != 0 { connections[i].advance(context) }
            let later = context.clock.now
            for i in connections.indices where !connections[i].isClosed && connections[i].deadline <= later {
                connections[i].expire(context)
            }
            connections.removeAll(where: \.isClosed)
            if fds[1].revents != 0 { acceptConnections() }
        }
        for c in connections { close(c.fd) }
        connections = []
    }

    private mutating func acceptConnections() {
        while connections.count < context.limits.connections {
            let fd = trpo_accept_nonblocking(listener)
            if fd >= 0 {
                connections.append(Connection(fd: fd, deadline: context.clock.now + context.limits.readTimeout))
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: acceptResumes = context.clock.now + .milliseconds(100)
            default: break  // EAGAIN: none left
            }
            return
        }
    }
}

/// One accepted connection, from its request to its close.
private struct Connection {
    /// What every connection works with.
    struct Context {
        let limits: MetricsServer.Limits
        let exposition: @Sendable () -> [UInt8]
        let clock = ContinuousClock()
    }

    enum Phase {
        /// Gathering the request head.
        case reading
        /// Sending the answer.
        case writing
        /// Answer sent and our side shut: reading what the client still sends until it closes,
        /// so that closing does not reset the connection before the client read the answer.
        case draining
    }

    /// Lingering after an answer: how long, and how many bytes, before closing regardless.
    static let lingerTime: Duration = .seconds(1)
    static let lingerBytes = 65536

    let fd: Int32
    var phase = Phase.reading
    var received: [UInt8] = []
    var outgoing: [UInt8] = []
    var sent = 0
    var discarded = 0
    var deadline: ContinuousClock.Instant
    var isClosed = false

    init(fd: Int32, deadline: ContinuousClock.Instant) {
        self.fd = fd
        self.deadline = deadline
    }

    /// Does what the phase calls for, now that the socket is ready (or failed).
    mutating func advance(_ context: Context) {
        switch phase {
        case .reading: read(context)
        case .writing: write(context)
        case .draining: drain()
        }
    }

    /// Past the deadline: a client that has not finished its head gets 408; one that does not
    /// take its answer, or lingers, is dropped.
    mutating func expire(_ context: Context) {
        if phase == .reading {
            answer(MetricsRoutes.timedOut, includeBody: true, context)
        } else {
            shut()
        }
    }

    private mutating func read(_ context: Context) {
        let limit = context.limits.headBytes
        var buffer = [UInt8](repeating: 0, count: 4096)
        // One byte past the limit is enough to tell a head that is too large.
        let n = recv(fd, &buffer, min(buffer.count, limit + 1 - received.count), 0)
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { shut() }
            return
        }
        if n == 0 && received.isEmpty {
            shut()  // connected and left without a word (a port probe)
            return
        }
        received += buffer[..<n]
        switch HTTPRequestHead.parse(received, limit: limit, ended: n == 0) {
        case .incomplete: break
        case .complete(let head):
            answer(MetricsRoutes.response(to: head, exposition: context.exposition), includeBody: head.method != "HEAD", context)
        case .invalid(let error):
            answer(HTTPResponse(refusing: error), includeBody: true, context)
        }
    }

    private mutating func answer(_ response: HTTPResponse, includeBody: Bool, _ context: Context) {
        outgoing = response.serialized(date: HTTPResponse.date(Int(time(nil))), includeBody: includeBody)
        received = []
        phase = .writing
        deadline = context.clock.now + context.limits.writeTimeout
        write(context)
    }

    private mutating func write(_ context: Context) {
        while sent < outgoing.count {
            let (fd, sent) = (fd, sent)
            let n = outgoing.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { shut() }
                return
            }
            self.sent += n
        }
        shutdown(fd, Int32(SHUT_WR))
        phase = .draining
        deadline = context.clock.now + Self.lingerTime
    }

    private mutating func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        discarded += max(n, 0)
        if n <= 0 || discarded > Self.lingerBytes { shut() }
    }

    private mutating func shut() {
        close(fd)
        isClosed = true
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
