/// The parts of a libzmq `tcp://` endpoint, `tcp://[SOURCE;]HOST:PORT`, split as libzmq splits
/// them (zmq_tcp(7)): the port after the last colon, the host before it (an IPv6 address in
/// brackets, which are removed), an optional source address before a semicolon.
///
/// Splitting only: whether the host resolves, or the port is in range, is for the caller (a
/// bind takes `*` and port 0 where a connect does not).
public struct TCPEndpoint: Sendable, Equatable {
    /// The source address to connect from (`SOURCE;`), if given.
    public var source: String?
    /// The host, without brackets: an IPv4 address, a name, `*`, or an IPv6 address.
    public var host: String
    /// Whether the host was written in brackets (`[::1]`).
    public var isBracketed: Bool
    /// The port as written (not checked to be a number).
    public var port: String

    public static let scheme = "tcp://"

    public init(source: String?, host: String, isBracketed: Bool, port: String) {
        self.source = source
        self.host = host
        self.isBracketed = isBracketed
        self.port = port
    }

    /// Splits `endpoint`; nil when it is not `tcp://` or has no colon before a port.
    public init?(_ endpoint: String) {
        guard endpoint.hasPrefix(Self.scheme) else { return nil }
        var address = Substring(endpoint.dropFirst(Self.scheme.count))
        if let semicolon = address.lastIndex(of: ";") {
            source = String(address[..<semicolon])
            address = address[address.index(after: semicolon)...]
        }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = address[..<colon]
        port = String(address[address.index(after: colon)...])
        isBracketed = host.count > 2 && host.hasPrefix("[") && host.hasSuffix("]")
        if isBracketed { host = host.dropFirst().dropLast() }
        self.host = String(host)
    }
}
