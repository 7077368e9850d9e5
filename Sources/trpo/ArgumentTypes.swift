import ArgumentParser
import Core
import Foundation
import Plot
import ZMQ

extension SamplerKind: ExpressibleByArgument {}
extension ProgressXAxis: ExpressibleByArgument {}
extension ProgressYAxis: ExpressibleByArgument {}

/// A ZeroMQ endpoint as `--bind` and `--connect` take it: `tcp://HOST:PORT` or `ipc://PATH`,
/// and for `--bind` also `tcp://*:PORT` (every interface). Parsed with
/// ``Endpoint/bind(_:)`` or ``Endpoint/connect(_:)``, so a malformed one is a usage error that
/// states the form.
struct Endpoint: CustomStringConvertible, Equatable {
    /// The endpoint as ZeroMQ takes it.
    let description: String

    /// Why a text is not an endpoint: it names the option and the forms it takes.
    struct FormError: Error, CustomStringConvertible {
        var forms: String
        var reason: String
        var description: String { "\(reason); the form is \(forms)" }
    }

    /// An endpoint to bind: `tcp://HOST:PORT`, `tcp://*:PORT` or `ipc://PATH`.
    static func bind(_ text: String) throws -> Endpoint {
        try Endpoint(text, forms: "tcp://HOST:PORT, tcp://*:PORT (every interface) or ipc://PATH", wildcard: true)
    }

    /// An endpoint to connect to: `tcp://HOST:PORT` or `ipc://PATH`.
    static func connect(_ text: String) throws -> Endpoint {
        try Endpoint(text, forms: "tcp://HOST:PORT or ipc://PATH", wildcard: false)
    }

    private init(_ text: String, forms: String, wildcard: Bool) throws {
        func refuse(_ reason: String) -> FormError { FormError(forms: forms, reason: reason) }
        if text.hasPrefix("ipc://") {
            guard text.count > "ipc://".count else { throw refuse("an ipc endpoint needs a path") }
        } else if text.hasPrefix(TCPEndpoint.scheme) {
            guard let endpoint = TCPEndpoint(text) else { throw refuse("a tcp endpoint needs a port") }
            guard !endpoint.host.isEmpty else { throw refuse("a tcp endpoint needs a host") }
            guard wildcard || endpoint.host != "*" else { throw refuse("* (every interface) is for binding, not connecting") }
            guard let number = Int(endpoint.port), (1...65535).contains(number) else {
                throw refuse("the port must be a number in 1...65535 (got '\(endpoint.port)')")
            }
        } else {
            throw refuse("not a tcp:// or ipc:// endpoint")
        }
        description = text
    }
}

/// Hidden layer widths as `--hidden` takes them: positive integers separated by commas, e.g. `64,64`.
struct LayerWidths: Equatable {
    let widths: [Int]

    struct FormError: Error, CustomStringConvertible {
        var description: String { "give positive widths separated by commas, e.g. 64,64" }
    }

    /// Parses `64,64`; throws ``FormError`` for anything else.
    static func parse(_ text: String) throws -> LayerWidths {
        let widths = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else { throw FormError() }
        return LayerWidths(widths: widths.map { $0! })
    }
}
