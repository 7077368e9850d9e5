/// The head of an HTTP/1.x request (RFC 9112): request line and header fields, as the
/// metrics server needs them. A request's body, if any, is never read: the server answers
/// the head and closes the connection.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method, case-sensitive as RFC 9110 has it (`GET`, not `get`).
    public var method: String
    /// The request target as sent (`/metrics?x=1`, `http://host:9100/metrics`, `*`).
    public var target: String
    /// The target's path: without the query, and for an absolute-form target without scheme
    /// and authority (`/` when it has no path); `*` for the asterisk form.
    public var path: String
    /// The minor version of HTTP/1.x (0 or 1).
    public var minorVersion: Int
    public var fields: [HTTPField]

    public init(method: String, target: String, path: String, minorVersion: Int, fields: [HTTPField]) {
        self.method = method
        self.target = target
        self.path = path
        self.minorVersion = minorVersion
        self.fields = fields
    }

    /// The values of the fields named `name` (compared without regard to case), in order.
    public func values(of name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}

/// One header field: its name as sent, its value without surrounding whitespace.
public struct HTTPField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Why bytes received are not a request the server can answer (each maps to one status code,
/// see ``HTTPResponse/init(refusing:)``).
public enum HTTPRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No complete head within the first `limit` bytes (431).
    case headTooLarge(limit: Int)
    /// Not `METHOD SP TARGET SP HTTP/x.y` (400).
    case malformedRequestLine
    /// A header line that is not `name: value`, a folded line, or a control character (400).
    case malformedField
    /// An HTTP/1.1 request without exactly one `Host` field (400, RFC 9112 §3.2).
    case hostRequired
    /// `HTTP/x.y` with a major version other than 1 (505).
    case unsupportedVersion(String)
    /// The connection ended before the head did (400).
    case truncated

    public var description: String {
        switch self {
        case .headTooLarge(let limit): "the request head is larger than \(limit) bytes"
        case .malformedRequestLine: "malformed request line (expected METHOD /path HTTP/1.1)"
        case .malformedField: "malformed header field (expected name: value)"
        case .hostRequired: "an HTTP/1.1 request needs exactly one Host header field"
        case .unsupportedVersion(let version): "\(version) is not supported (HTTP/1.0 and HTTP/1.1 are)"
        case .truncated: "the connection ended before the request head was complete"
        }
    }
}

/// What the bytes received so far on a connection amount to.
public enum HTTPRequestParse: Sendable, Equatable {
    /// The head has not ended yet and is within the limit: read more.
    case incomplete
    case complete(HTTPRequestHead)
    case invalid(HTTPRequestError)
}

extension HTTPRequestHead {
    /// Parses the head at the start of `bytes` (what a connection received so far).
    ///
    /// Lines end with CRLF or, tolerated as RFC 9112 §2.2 allows, a bare LF; empty lines before
    /// the request line are skipped. The head ends at the first empty line after it; bytes after
    /// that (a body, a pipelined request) are ignored.
    /// - Parameters:
    ///   - limit: the most bytes the head may take, its final empty line included.
    ///   - ended: true when the peer has closed its side, so no more bytes will come: an
    ///     unfinished head is then ``HTTPRequestError/truncated``.
    public static func parse(_ bytes: [UInt8], limit: Int, ended: Bool = false) -> HTTPRequestParse {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var end: Int?
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            var line = bytes[start..<i]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = i + 1
            if line.isEmpty {
                if lines.isEmpty { continue }  // empty lines before the request line
                end = start
                break
            }
            lines.append(line)
            if start > limit { break }
        }
        guard let end, end <= limit else {
            if bytes.count > limit || start > limit { return .invalid(.headTooLarge(limit: limit)) }
            return ended ? .invalid(.truncated) : .incomplete
        }
        do {
            return .complete(try head(lines))
        } catch {
            return .invalid(error)
        }
    }

    private static func head(_ lines: [ArraySlice<UInt8>]) throws(HTTPRequestError) -> HTTPRequestHead {
        let parts = lines[0].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenCharacter),
              !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .malformedRequestLine
        }
        let minor = try minorVersion(parts[2])
        let target = String(decoding: parts[1], as: UTF8.self)
        guard let path = path(of: target) else { throw .malformedRequestLine }
        var fields: [HTTPField] = []
        for line in lines.dropFirst() {
            // A line starting with whitespace continues the previous one (obsolete line
            // folding), which RFC 9112 §5.2 lets a server refuse with 400.
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                  line[..<colon].allSatisfy(isTokenCharacter) else { throw .malformedField }
            let value = line[(colon + 1)...]
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .malformedField }
            fields.append(HTTPField(String(decoding: line[..<colon], as: UTF8.self),
                                    String(decoding: value, as: UTF8.self).trimmingWhitespace))
        }
        let head = HTTPRequestHead(method: String(decoding: parts[0], as: UTF8.self), target: target, path: path,
                                   minorVersion: minor, fields: fields)
        if minor >= 1 && head.values(of: "Host").count != 1 { throw .hostRequired }
        return head
    }

    /// The minor version of `HTTP/1.y`.
    private static func minorVersion(_ text: ArraySlice<UInt8>) throws(HTTPRequestError) -> Int {
        let bytes = Array(text)
        let digit = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard bytes.count == 8, bytes.starts(with: Array("HTTP/".utf8)), digit(bytes[5]),
              bytes[6] == UInt8(ascii: "."), digit(bytes[7]) else { throw .malformedRequestLine }
        guard bytes[5] == UInt8(ascii: "1") else { throw .unsupportedVersion(String(decoding: bytes, as: UTF8.self)) }
        return Int(bytes[7] - UInt8(ascii: "0"))
    }

    /// The path of a request target (RFC 9112 §3.2): origin form `/path?query`, absolute form
    /// `http://authority/path?query`, or `*`; nil for anything else.
    private static func path(of target: String) -> String? {
        if target == "*" { return "*" }
        var rest = Substring(target)
        if !rest.hasPrefix("/") {
            let lowered = rest.lowercased()
            guard let scheme = ["http://", "https://"].first(where: { lowered.hasPrefix($0) }) else { return nil }
            rest = rest.dropFirst(scheme.count)
            guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
            rest = rest[slash...]
            if rest.hasPrefix("?") { return "/" }
        }
        return String(rest.prefix { $0 != "?" && $0 != "#" })
    }

    /// RFC 9110 §5.6.2: `!#$%&'*+-.^_`|~`, digits and letters.
    private static func isTokenCharacter(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate var trimmingWhitespace: String {
        let isSpace = { (c: Character) in c == " " || c == "\t" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
