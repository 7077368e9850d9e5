import Glibc

/// An HTTP/1.1 response the metrics server sends before closing the connection.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    /// Header fields besides `Date`, `Content-Length` and `Connection`, which
    /// ``serialized(date:includeBody:)`` writes.
    public var fields: [HTTPField]
    public var body: [UInt8]

    /// `Content-Type` of the Prometheus text exposition format, version 0.0.4.
    public static let expositionContentType = "text/plain; version=0.0.4; charset=utf-8"

    public init(status: Int, reason: String, fields: [HTTPField] = [], body: [UInt8]) {
        self.status = status
        self.reason = reason
        self.fields = fields
        self.body = body
    }

    /// A plain-text response: `text` and a line feed.
    public static func text(_ status: Int, _ reason: String, _ text: String,
                            fields: [HTTPField] = []) -> HTTPResponse {
        HTTPResponse(status: status, reason: reason,
                     fields: [HTTPField("Content-Type", "text/plain; charset=utf-8")] + fields, body: Array((text + "\n").utf8))
    }

    /// The answer to a request that cannot be served: 431 for a head too large, 505 for
    /// another major version, 400 otherwise; the body says what was wrong.
    public init(refusing error: HTTPRequestError) {
        switch error {
        case .headTooLarge: self = .text(431, "Request Header Fields Too Large", "\(error)")
        case .unsupportedVersion: self = .text(505, "HTTP Version Not Supported", "\(error)")
        case .malformedRequestLine, .malformedField, .hostRequired, .truncated: self = .text(400, "Bad Request", "\(error)")
        }
    }

    /// The response's bytes: status line, the fields, `Date`, `Content-Length` (the body's
    /// length, also for a HEAD request) and `Connection: close`, then the body unless
    /// `includeBody` is false (the answer to HEAD).
    /// - Parameter date: the `Date` field's value (``HTTPResponse/date(_:)``).
    public func serialized(date: String, includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for field in fields { head += "\(field.name): \(field.value)\r\n" }
        head += "Date: \(date)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }

    /// `seconds` since the Unix epoch as HTTP's IMF-fixdate (RFC 9110 §5.6.7), e.g.
    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func date(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
