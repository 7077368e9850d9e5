import MetricsExport
import Testing

/// Request parsing, routing and responses as pure functions: bytes in, bytes out, no sockets.
@Suite struct HTTPParsingTests {
    static func parse(_ text: String, limit: Int = 8192, ended: Bool = false) -> HTTPRequestParse {
        HTTPRequestHead.parse(Array(text.utf8), limit: limit, ended: ended)
    }

    static func head(_ text: String) throws -> HTTPRequestHead {
        guard case .complete(let head) = parse(text) else {
            Issue.record("not a complete head: \(parse(text))")
            throw HTTPRequestError.truncated
        }
        return head
    }

    @Test func aScrapeIsParsed() throws {
        let head = try Self.head("GET /metrics HTTP/1.1\r\nHost: learner:9100\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nUser-Agent: Prometheus/2.53.0\r\n\r\n")
        #expect(head.method == "GET" && head.path == "/metrics" && head.minorVersion == 1)
        #expect(head.values(of: "host") == ["learner:9100"])
        #expect(head.values(of: "User-Agent") == ["Prometheus/2.53.0"])
    }

    @Test func targetsQueriesAndTolerances() throws {
        #expect(try Self.head("GET /metrics?name[]=trpo_kl HTTP/1.1\r\nHost: x\r\n\r\n").path == "/metrics")
        #expect(try Self.head("GET http://learner:9100/metrics HTTP/1.1\r\nHost: learner\r\n\r\n").path == "/metrics")
        #expect(try Self.head("GET http://learner:9100 HTTP/1.1\r\nHost: learner\r\n\r\n").path == "/")
        #expect(try Self.head("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").path == "*")
        // HTTP/1.0 needs no Host; bare LF line ends and empty lines before the request are tolerated.
        #expect(try Self.head("\r\n\nGET / HTTP/1.0\n\n").minorVersion == 0)
        // Optional whitespace around a value is not part of it; a body after the head is ignored.
        let head = try Self.head("POST /metrics HTTP/1.1\r\nHost:  x \t\r\nContent-Length: 4\r\n\r\nbody")
        #expect(head.values(of: "Host") == ["x"] && head.method == "POST")
    }

    @Test(arguments: ["", "GET", "GET /metrics HTTP/1.1", "GET /metrics HTTP/1.1\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\n"])
    func anUnfinishedHeadAsksForMore(_ text: String) {
        #expect(Self.parse(text) == .incomplete)
        #expect(Self.parse(text, ended: true) == .invalid(.truncated))
    }

    @Test(arguments: [
        ("garbage\r\n\r\n", HTTPRequestError.malformedRequestLine),
        ("GET /metrics\r\n\r\n", .malformedRequestLine),  // HTTP/0.9
        ("GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET /metrics HTTP/1.1 extra\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("G(T /metrics HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET /metrics HTTP/1.x\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET /metrics http/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET /met\u{1}rics HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine),
        ("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", .unsupportedVersion("HTTP/2.0")),
        ("GET /metrics HTTP/1.1\r\n\r\n", .hostRequired),
        ("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .hostRequired),
        ("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", .malformedField),
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", .malformedField),
        ("GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", .malformedField),
        ("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", .malformedField),
        ("GET /metrics HTTP/1.1\r\nHost: x\u{0}y\r\n\r\n", .malformedField),
    ])
    func malformedRequestsAreRefused(_ text: String, _ error: HTTPRequestError) {
        #expect(Self.parse(text) == .invalid(error))
    }

    @Test func theHeadSizeIsBounded() throws {
        let big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(Self.parse(big, limit: 100) == .invalid(.headTooLarge(limit: 100)))
        // Without an end in sight, more than the limit is refused at once, not waited for.
        #expect(Self.parse(String(repeating: "a", count: 101), limit: 100) == .invalid(.headTooLarge(limit: 100)))
        #expect(Self.parse(String(repeating: "\r\n", count: 60), limit: 100) == .invalid(.headTooLarge(limit: 100)))
        // A head of exactly the limit is fine.
        let exact = "GET / HTTP/1.0\r\n\r\n"
        #expect(Self.parse(exact, limit: exact.utf8.count) != .invalid(.headTooLarge(limit: exact.utf8.count)))
        #expect(Self.parse(exact, limit: exact.utf8.count - 1) == .invalid(.headTooLarge(limit: exact.utf8.count - 1)))
    }
}

@Suite struct RoutingTests {
    static let exposition: @Sendable () -> [UInt8] = { Array("trpo_iteration 3\n".utf8) }

    static func respond(_ request: String) throws -> HTTPResponse {
        MetricsRoutes.response(to: try HTTPParsingTests.head(request), exposition: exposition)
    }

    @Test func metricsAreServedInTheExpositionFormat() throws {
        for method in ["GET", "HEAD"] {
            let response = try Self.respond("\(method) /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.fields == [HTTPField("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            #expect(response.body == Self.exposition())
        }
    }

    @Test func theRootPointsToTheMetricsAndOtherPathsAreNotFound() throws {
        let root = try Self.respond("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(root.status == 200 && String(decoding: root.body, as: UTF8.self).contains("/metrics"))
        for path in ["/metric", "/metrics/", "/favicon.ico", "*"] {
            let response = try Self.respond("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 404, "\(path)")
        }
        #expect(try Self.respond("DELETE /nothing HTTP/1.1\r\nHost: x\r\n\r\n").status == 404)
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "OPTIONS", "get", "PATCH"])
    func otherMethodsAreNotAllowed(_ method: String) throws {
        let response = try Self.respond("\(method) /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.status == 405)
        #expect(response.fields.contains(HTTPField("Allow", "GET, HEAD")))
    }

    @Test func refusalsMapToTheirStatus() {
        #expect(HTTPResponse(refusing: .headTooLarge(limit: 8192)).status == 431)
        #expect(HTTPResponse(refusing: .unsupportedVersion("HTTP/2.0")).status == 505)
        for error in [HTTPRequestError.malformedRequestLine, .malformedField, .hostRequired, .truncated] {
            #expect(HTTPResponse(refusing: error).status == 400)
        }
        #expect(MetricsRoutes.timedOut.status == 408)
    }

    @Test func aResponseIsSerializedWithItsLengthAndClosesTheConnection() {
        let response = HTTPResponse.text(404, "Not Found", "nothing here")
        let date = HTTPResponse.date(784_111_777)
        #expect(date == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110's example
        let expected = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nDate: \(date)\r\n"
            + "Content-Length: 13\r\nConnection: close\r\n\r\nnothing here\n"
        #expect(String(decoding: response.serialized(date: date), as: UTF8.self) == expected)
        // HEAD: the same head, with the length of the body that is left out.
        let head = String(decoding: response.serialized(date: date, includeBody: false), as: UTF8.self)
        #expect(head == String(expected.dropLast("nothing here\n".count)))
    }
}

@Suite struct MetricsAddressTests {
    @Test func addressesAreParsed() throws {
        #expect(try MetricsAddress(parsing: "tcp://0.0.0.0:9100") == MetricsAddress(host: "0.0.0.0", port: 9100))
        #expect(try MetricsAddress(parsing: "tcp://*:9100") == MetricsAddress(host: "*", port: 9100))
        #expect(try MetricsAddress(parsing: "tcp://learner-0.example:9100").host == "learner-0.example")
        #expect(try MetricsAddress(parsing: "tcp://127.0.0.1:0").port == 0)
        let v6 = try MetricsAddress(parsing: "tcp://[::1]:9100")
        #expect(v6.host == "::1" && v6.description == "tcp://[::1]:9100")
        #expect(try MetricsAddress(parsing: "tcp://0.0.0.0:9100").description == "tcp://0.0.0.0:9100")
    }

    @Test(arguments: [
        ("9100", "a port alone is not an address; write tcp://0.0.0.0:9100 (every interface) or tcp://127.0.0.1:9100 (this machine only)"),
        ("tcp://0.0.0.0:notaport", "the port must be a number in 0...65535 (got 'notaport'); the form is tcp://HOST:PORT, e.g. tcp://0.0.0.0:9100"),
        ("tcp://0.0.0.0:65536", "the port must be a number in 0...65535 (got '65536')"),
        ("tcp://0.0.0.0:-1", "the port must be a number in 0...65535 (got '-1')"),
        ("tcp://0.0.0.0", "a tcp address needs a port"),
        ("tcp://:9100", "a tcp address needs a host (0.0.0.0 for every interface)"),
        ("tcp://::1:9100", "an IPv6 address goes in brackets, e.g. tcp://[::]:9100"),
        ("tcp://0.0.0.0:9100/metrics", "a tcp address has no path"),
        ("http://0.0.0.0:9100/metrics", "give where to listen, not a URL; the form is tcp://HOST:PORT"),
        ("ipc:///tmp/metrics.sock", "metrics are served over tcp only"),
        ("0.0.0.0:9100", "not a tcp:// address; the form is tcp://HOST:PORT, e.g. tcp://0.0.0.0:9100"),
    ])
    func mistakesAreExplained(_ text: String, _ message: String) {
        #expect(throws: MetricsAddressError.self) { try MetricsAddress(parsing: text) }
        do {
            _ = try MetricsAddress(parsing: text)
        } catch {
            #expect(error.description.hasPrefix(message), "\(error)")
        }
    }
}

@Suite struct ExpositionTextTests {
    @Test func familiesAreSortedAndNonFiniteValuesSpelledAsTheFormatSays() {
        let emitted = """
            # HELP trpo_kl KL.
            # TYPE trpo_kl gauge
            trpo_kl nan
            # HELP trpo_bytes_received_total Bytes.
            # TYPE trpo_bytes_received_total counter
            trpo_bytes_received_total 12
            # TYPE trpo_run_info gauge
            trpo_run_info{environment="a b",version="0.1"} 1.0
            # TYPE trpo_x gauge
            trpo_x{side="up"} inf
            trpo_x{side="down"} -inf
            trpo_x{side="odd"} -nan

            """
        let expected = """
            # HELP trpo_bytes_received_total Bytes.
            # TYPE trpo_bytes_received_total counter
            trpo_bytes_received_total 12
            # HELP trpo_kl KL.
            # TYPE trpo_kl gauge
            trpo_kl NaN
            # TYPE trpo_run_info gauge
            trpo_run_info{environment="a b",version="0.1"} 1.0
            # TYPE trpo_x gauge
            trpo_x{side="up"} +Inf
            trpo_x{side="down"} -Inf
            trpo_x{side="odd"} NaN

            """
        #expect(String(decoding: ExpositionText.normalized(Array(emitted.utf8)), as: UTF8.self) == expected)
        #expect(ExpositionText.normalized([]) == [])
    }
}
