/// What the metrics server answers (every answer closes the connection):
///
/// | request | answer |
/// | --- | --- |
/// | `GET /metrics`, `HEAD /metrics` (any query) | 200, the exposition as ``HTTPResponse/expositionContentType`` |
/// | `GET /`, `HEAD /` | 200, a line pointing to /metrics |
/// | another path | 404 |
/// | another method on `/` or `/metrics` | 405 with `Allow: GET, HEAD` |
/// | a malformed request | 400 (431 for a head too large, 505 for HTTP/2 and later) |
/// | no complete head within the read timeout | 408 |
public enum MetricsRoutes {
    /// The path of the metrics.
    public static let metricsPath = "/metrics"

    /// The answer to `head`.
    /// - Parameter exposition: the metrics in the text exposition format; called only for
    ///   `GET` and `HEAD` of ``metricsPath``.
    public static func response(to head: HTTPRequestHead, exposition: () -> [UInt8]) -> HTTPResponse {
        let known = [metricsPath, "/"]
        guard known.contains(head.path) else {
            return .text(404, "Not Found", "not found: \(head.path); the metrics are at \(metricsPath)")
        }
        guard head.method == "GET" || head.method == "HEAD" else {
            return .text(405, "Method Not Allowed", "\(head.method) is not allowed here: use GET or HEAD",
                         fields: [HTTPField("Allow", "GET, HEAD")])
        }
        if head.path == "/" {
            return .text(200, "OK", "trpo learner: Prometheus metrics at \(metricsPath)")
        }
        return HTTPResponse(status: 200, reason: "OK", fields: [HTTPField("Content-Type", HTTPResponse.expositionContentType)],
                            body: exposition())
    }

    /// The answer when no complete head arrived within the read timeout.
    public static let timedOut = HTTPResponse.text(408, "Request Timeout", "no complete request in time")
}
