#if canImport(Glibc)
import Glibc
#endif
import ZMQ

/// Why a connection to an endpoint cannot be made, as seen by trying it with the system's own
/// calls (`getaddrinfo`, `connect`). libzmq only says that its attempt failed and will be
/// retried (`ZMQ_EVENT_CONNECT_RETRIED`), never why, so a worker whose attempts fail asks
/// ``probe(_:timeoutMilliseconds:)`` to name the reason.
public enum Unreachability: Equatable, Sendable, CustomStringConvertible {
    /// The host name of a `tcp://` endpoint does not resolve (the resolver's message).
    case unknownHost(String, detail: String)
    /// Nothing listens there: the host answered with a reset (tcp), or the socket file exists
    /// but no process accepts on it (ipc). The corresponding C error is `ECONNREFUSED`.
    case connectionRefused
    /// The `ipc://` socket file does not exist. The corresponding C error is `ENOENT`.
    case noSocketFile(String)
    /// No answer within the probe's timeout (a firewall dropping packets, a host that is down).
    case noAnswer(milliseconds: Int)
    /// Another `connect` error (`ENETUNREACH`, `EHOSTUNREACH`, `EACCES`, …): its `strerror` text.
    case failed(String)

    /// `"connection refused (is the learner running?)"`, `"unknown host learner-0 (Name or
    /// service not known)"`, …
    public var description: String {
        switch self {
        case .unknownHost(let host, let detail): "unknown host \(host) (\(detail))"
        case .connectionRefused: "connection refused (is the learner running?)"
        case .noSocketFile(let path): "no socket file \(path) (is the learner running?)"
        case .noAnswer(let ms): "no answer within \(ms) ms (is the host up, and the port open in its firewall?)"
        case .failed(let what): what
        }
    }

    /// Tries to reach `endpoint` (`tcp://HOST:PORT` or `ipc://PATH`) as libzmq would and
    /// closes the connection at once: nil when it connects (or for another transport, or an
    /// address this parser does not read, which libzmq then reports itself), otherwise why not.
    ///
    /// Blocks for name resolution and for up to `timeoutMilliseconds` of connecting.
    public static func probe(_ endpoint: String, timeoutMilliseconds: Int = 1000) -> Unreachability? {
        if endpoint.hasPrefix("ipc://") { return probeIPC(path: String(endpoint.dropFirst(6))) }
        guard let tcp = TCPEndpoint(endpoint), tcp.source == nil, !tcp.host.isEmpty, !tcp.port.isEmpty,
              tcp.port.allSatisfy(\.isNumber) else { return nil }
        let (host, port) = (tcp.host, tcp.port)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, port, &hints, &list)
        guard status == 0, let first = list else {
            let detail = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            return .unknownHost(host, detail: detail)
        }
        defer { freeaddrinfo(list) }
        return connectOnce(family: first.pointee.ai_family, address: first.pointee.ai_addr, length: first.pointee.ai_addrlen,
                           timeoutMilliseconds: timeoutMilliseconds, path: nil)
    }

    private static func probeIPC(path: String) -> Unreachability? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // libzmq reads a leading "@" as Linux's abstract namespace (a name starting with NUL).
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectOnce(family: AF_UNIX, address: $0, length: length, timeoutMilliseconds: 1000, path: path)
            }
        }
    }

    /// One non-blocking `connect`, waited for up to `timeoutMilliseconds`.
    private static func connectOnce(family: Int32, address: UnsafePointer<sockaddr>?, length: socklen_t,
                                    timeoutMilliseconds: Int, path: String?) -> Unreachability? {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed(String(cString: strerror(errno))) }
        defer { close(fd) }
        var error: Int32 = 0
        if connect(fd, address, length) != 0 {
            error = errno
            if error == EINPROGRESS {
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&descriptor, 1, Int32(timeoutMilliseconds)) > 0 else { return .noAnswer(milliseconds: timeoutMilliseconds) }
                var size = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
            }
        }
        if error == 0 { return nil }
        if error == ECONNREFUSED { return .connectionRefused }
        if error == ENOENT, let path { return .noSocketFile(path) }
        return .failed(String(cString: strerror(error)))
    }
}
