import ZMQ

/// Where the metrics server listens, as `--metrics` takes it: `tcp://HOST:PORT`.
///
/// HOST is an IPv4 address (`0.0.0.0`: every interface), a host name, `*` (every interface,
/// as `--bind` takes it) or an IPv6 address in brackets (`tcp://[::]:9100`). PORT is
/// `0...65535`, 0 meaning any free port (the server reports the one it got). The path is
/// always `/metrics`: the address says only where to listen.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host to bind, without brackets (`*` is kept: it means every interface).
    public let host: String
    public let port: Int

    /// `tcp://HOST:PORT`, an IPv6 host in brackets.
    public var description: String { "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `tcp://HOST:PORT`.
    /// - Throws: ``MetricsAddressError`` saying what is wrong and showing the form, with a
    ///   suggestion for the usual slips (a bare port, an `http://` URL).
    public init(parsing text: String) throws(MetricsAddressError) {
        func refuse(_ reason: String) -> MetricsAddressError { MetricsAddressError(reason: reason) }
        if let port = Int(text), port >= 0 {
            throw MetricsAddressError(reason: "a port alone is not an address",
                                      hint: "write tcp://0.0.0.0:\(port) (every interface) or tcp://127.0.0.1:\(port) (this machine only)")
        }
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            throw MetricsAddressError(reason: "give where to listen, not a URL",
                                      hint: "the form is tcp://HOST:PORT, e.g. tcp://0.0.0.0:9100 (the path is always /metrics)")
        }
        guard text.hasPrefix(TCPEndpoint.scheme) else {
            throw refuse(text.hasPrefix("ipc://") ? "metrics are served over tcp only" : "not a tcp:// address")
        }
        guard let endpoint = TCPEndpoint(text) else { throw refuse("a tcp address needs a port") }
        guard endpoint.source == nil else { throw refuse("a metrics address has no source address (SOURCE;)") }
        let (host, port) = (endpoint.host, endpoint.port)
        if !endpoint.isBracketed && host.contains(":") {
            throw refuse("an IPv6 address goes in brackets, e.g. tcp://[::]:9100")
        }
        guard !host.isEmpty else { throw refuse("a tcp address needs a host (0.0.0.0 for every interface)") }
        guard !host.contains("/") && !port.contains("/") else {
            throw refuse("a tcp address has no path (the metrics are always served at /metrics)")
        }
        guard port.allSatisfy(\.isASCII), let number = Int(port), (0...65535).contains(number) else {
            throw refuse("the port must be a number in 0...65535 (got '\(port)')")
        }
        self.host = host
        self.port = number
    }
}

/// Why a text is not a ``MetricsAddress``.
public struct MetricsAddressError: Error, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var reason: String
    /// What to write instead (nil: the form).
    public var hint: String?

    public init(reason: String, hint: String? = nil) {
        self.reason = reason
        self.hint = hint
    }

    public var description: String { "\(reason); \(hint ?? "the form is tcp://HOST:PORT, e.g. tcp://0.0.0.0:9100")" }
}
