@preconcurrency import CZMQ

/// A typed libzmq socket option: its `ZMQ_…` number and how its value is represented.
///
/// Set and read options through ``Socket/setOption(_:to:)`` and ``Socket/option(_:)``:
///
/// ```swift
/// try router.setOption(.routerMandatory, to: true)
/// try router.setOption(.maximumMessageSize, to: 64 << 20)
/// try dealer.setOption(.curveServerKey, to: CurveKey(z85: serverPublicKey))
/// let port = try router.option(.lastEndpoint)
/// ```
///
/// Durations are in milliseconds, as in libzmq. Some options are write-only in libzmq
/// (``routerMandatory``, ``routerHandover``, ``subscribe``, ``unsubscribe``) and one is
/// read-only (``lastEndpoint``); using them the other way throws
/// ``ZMQError/invalidArgument``. Options must be set before `bind`/`connect` to affect those
/// connections (libzmq applies most options to connections created afterwards).
public struct SocketOption<Value>: Sendable, CustomStringConvertible {
    /// The `ZMQ_…` constant passed to `zmq_setsockopt`/`zmq_getsockopt`.
    public let rawValue: Int32

    /// The C name, e.g. `"ZMQ_LINGER"`.
    public let name: String

    /// Writes `value`; returns the error with an empty operation on failure.
    let write: @Sendable (UnsafeMutableRawPointer, Int32, Value) -> ZMQError?

    /// Reads the value; returns the error with an empty operation on failure.
    let read: @Sendable (UnsafeMutableRawPointer, Int32) -> Result<Value, ZMQError>

    public var description: String { name }
}

extension Socket {
    /// Sets a socket option.
    ///
    /// - Throws: ``ZMQError`` naming the option and value, e.g.
    ///   ``ZMQError/invalidArgument`` if the value is out of range or the socket type does
    ///   not have the option; ``ZMQError/notSocket`` after ``close()``.
    ///
    /// The corresponding C function is `zmq_setsockopt`.
    public func setOption<Value>(_ option: SocketOption<Value>, to value: Value) throws(ZMQError) {
        try withHandle("set \(option.name)") { handle throws(ZMQError) in
            if var error = option.write(handle, option.rawValue, value) {
                error.operation = "set \(option.name) to \(value)"
                throw error
            }
        }
    }

    /// Reads a socket option.
    ///
    /// - Throws: ``ZMQError/invalidArgument`` for write-only options;
    ///   ``ZMQError/notSocket`` after ``close()``.
    ///
    /// The corresponding C function is `zmq_getsockopt`.
    public func option<Value>(_ option: SocketOption<Value>) throws(ZMQError) -> Value {
        try withHandle("get \(option.name)") { handle throws(ZMQError) in
            switch option.read(handle, option.rawValue) {
            case .success(let value):
                return value
            case .failure(var error):
                error.operation = "get \(option.name)"
                throw error
            }
        }
    }
}

// MARK: - Representations

private func invalid() -> ZMQError { ZMQError(code: ZMQError.invalidArgument.code) }

private func set(_ handle: UnsafeMutableRawPointer, _ name: Int32, _ bytes: UnsafeRawBufferPointer) -> ZMQError? {
    zmq_setsockopt(handle, name, bytes.baseAddress, bytes.count) == 0 ? nil : ZMQError.last("")
}

extension SocketOption where Value == Int {
    /// A C `int` option; values outside `range` are rejected before reaching libzmq.
    static func int32(_ rawValue: Int32, _ name: String, range: ClosedRange<Int> = Int(Int32.min)...Int(Int32.max)) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                guard range.contains(value) else { return invalid() }
                var cValue = Int32(value)
                return withUnsafeBytes(of: &cValue) { set(handle, raw, UnsafeRawBufferPointer($0)) }
            },
            read: { handle, raw in
                var cValue: Int32 = 0
                var size = MemoryLayout<Int32>.size
                guard zmq_getsockopt(handle, raw, &cValue, &size) == 0 else { return .failure(.last("")) }
                return .success(Int(cValue))
            })
    }

    /// A C `int64_t` option.
    static func int64(_ rawValue: Int32, _ name: String) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                var cValue = Int64(value)
                return withUnsafeBytes(of: &cValue) { set(handle, raw, UnsafeRawBufferPointer($0)) }
            },
            read: { handle, raw in
                var cValue: Int64 = 0
                var size = MemoryLayout<Int64>.size
                guard zmq_getsockopt(handle, raw, &cValue, &size) == 0 else { return .failure(.last("")) }
                return .success(Int(cValue))
            })
    }
}

extension SocketOption where Value == Bool {
    /// A C `int` option used as a flag (0 or 1).
    static func flag(_ rawValue: Int32, _ name: String) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                var cValue: Int32 = value ? 1 : 0
                return withUnsafeBytes(of: &cValue) { set(handle, raw, UnsafeRawBufferPointer($0)) }
            },
            read: { handle, raw in
                var cValue: Int32 = 0
                var size = MemoryLayout<Int32>.size
                guard zmq_getsockopt(handle, raw, &cValue, &size) == 0 else { return .failure(.last("")) }
                return .success(cValue != 0)
            })
    }
}

extension SocketOption where Value == [UInt8] {
    /// A binary option of at most `maxCount` bytes.
    static func bytes(_ rawValue: Int32, _ name: String, maxCount: Int = 255) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                value.withUnsafeBytes { set(handle, raw, $0) }
            },
            read: { handle, raw in
                var size = maxCount
                var buffer = [UInt8](repeating: 0, count: maxCount)
                guard zmq_getsockopt(handle, raw, &buffer, &size) == 0 else { return .failure(.last("")) }
                return .success(Array(buffer.prefix(size)))
            })
    }
}

extension SocketOption where Value == String {
    /// A character-string option (libzmq reads it as bytes, returns it NUL-terminated).
    static func string(_ rawValue: Int32, _ name: String, maxCount: Int = 1024) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                Array(value.utf8).withUnsafeBytes { set(handle, raw, $0) }
            },
            read: { handle, raw in
                var size = maxCount + 1
                var buffer = [UInt8](repeating: 0, count: size)
                guard zmq_getsockopt(handle, raw, &buffer, &size) == 0 else { return .failure(.last("")) }
                let text = buffer.prefix(size).prefix { $0 != 0 }
                return .success(String(decoding: text, as: UTF8.self))
            })
    }
}

extension SocketOption where Value == CurveKey {
    /// A CURVE key option, written and read as 32 binary bytes.
    static func curveKey(_ rawValue: Int32, _ name: String) -> Self {
        SocketOption(
            rawValue: rawValue, name: name,
            write: { handle, raw, value in
                value.bytes.withUnsafeBytes { set(handle, raw, $0) }
            },
            read: { handle, raw in
                var size = CurveKey.byteCount
                var buffer = [UInt8](repeating: 0, count: size)
                guard zmq_getsockopt(handle, raw, &buffer, &size) == 0 else { return .failure(.last("")) }
                guard size == CurveKey.byteCount, let key = CurveKey(bytes: buffer) else { return .failure(invalid()) }
                return .success(key)
            })
    }
}

// MARK: - The options the project uses

extension SocketOption where Value == Int {
    /// Milliseconds that pending outgoing messages may wait for delivery after
    /// ``Socket/close()``. Every ``Socket`` sets it at creation (default 0). Negative values
    /// (`-1` = forever, libzmq's default) are rejected: they can make context termination
    /// hang.
    ///
    /// The corresponding C option is `ZMQ_LINGER`.
    public static var linger: Self { .int32(ZMQ_LINGER, "ZMQ_LINGER", range: 0...Int(Int32.max)) }

    /// The maximum number of outgoing messages queued per peer (0 = no limit; libzmq's
    /// default is 1000). At the limit `ROUTER` and `PUB` drop, other types block.
    ///
    /// The corresponding C option is `ZMQ_SNDHWM`.
    public static var sendHighWaterMark: Self { .int32(ZMQ_SNDHWM, "ZMQ_SNDHWM", range: 0...Int(Int32.max)) }

    /// The maximum number of incoming messages queued per peer (0 = no limit; default 1000).
    ///
    /// The corresponding C option is `ZMQ_RCVHWM`.
    public static var receiveHighWaterMark: Self { .int32(ZMQ_RCVHWM, "ZMQ_RCVHWM", range: 0...Int(Int32.max)) }

    /// The largest inbound *frame* in bytes a peer may send (`-1` = no limit, the default).
    /// A peer that sends a larger frame is disconnected and the message is never delivered.
    /// libzmq checks each frame on its own, not the sum of a multipart message's frames.
    ///
    /// The corresponding C option is `ZMQ_MAXMSGSIZE`.
    public static var maximumMessageSize: Self { .int64(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE") }

    /// Milliseconds before the first reconnection attempt after a connection is lost or
    /// refused (default 100; `-1` disables reconnection).
    ///
    /// The corresponding C option is `ZMQ_RECONNECT_IVL`.
    public static var reconnectInterval: Self { .int32(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL") }

    /// Upper bound in milliseconds for exponential reconnection back-off (default 0: always
    /// wait ``reconnectInterval``).
    ///
    /// The corresponding C option is `ZMQ_RECONNECT_IVL_MAX`.
    public static var reconnectIntervalMax: Self { .int32(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX") }

    /// Milliseconds between ZMTP PING heartbeats on each connection (default 0 = off).
    ///
    /// The corresponding C option is `ZMQ_HEARTBEAT_IVL`.
    public static var heartbeatInterval: Self { .int32(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL") }

    /// Milliseconds without any traffic after a PING before the connection is closed
    /// (default: the heartbeat interval).
    ///
    /// The corresponding C option is `ZMQ_HEARTBEAT_TIMEOUT`.
    public static var heartbeatTimeout: Self { .int32(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT") }

    /// The time-to-live, in milliseconds (rounded to deciseconds, at most 6553500), that this
    /// socket asks remote peers to apply: they close the connection if they hear nothing
    /// for that long.
    ///
    /// The corresponding C option is `ZMQ_HEARTBEAT_TTL`.
    public static var heartbeatTTL: Self { .int32(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL") }

    /// Milliseconds a blocking ``Socket/receive(_:retryOnInterrupt:)`` waits before
    /// returning `nil` (`-1` = forever, the default; 0 = don't wait).
    ///
    /// The corresponding C option is `ZMQ_RCVTIMEO`.
    public static var receiveTimeout: Self { .int32(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO") }

    /// Milliseconds a blocking ``Socket/send(_:flags:)`` waits before returning `false`
    /// (`-1` = forever, the default).
    ///
    /// The corresponding C option is `ZMQ_SNDTIMEO`.
    public static var sendTimeout: Self { .int32(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO") }

    /// Milliseconds a tcp connection attempt may take before it is abandoned and retried
    /// (0, the default: the system's limit, which can be minutes when packets are lost).
    ///
    /// The corresponding C option is `ZMQ_CONNECT_TIMEOUT`.
    public static var connectTimeout: Self { .int32(ZMQ_CONNECT_TIMEOUT, "ZMQ_CONNECT_TIMEOUT", range: 0...Int(Int32.max)) }

    /// Milliseconds allowed for the ZMTP handshake (including CURVE) of a new connection
    /// before it is dropped (default 30000; 0 = no limit).
    ///
    /// The corresponding C option is `ZMQ_HANDSHAKE_IVL`.
    public static var handshakeInterval: Self { .int32(ZMQ_HANDSHAKE_IVL, "ZMQ_HANDSHAKE_IVL", range: 0...Int(Int32.max)) }
}

extension SocketOption where Value == Bool {
    /// For `ROUTER`: fail with ``ZMQError/hostUnreachable`` instead of silently dropping a
    /// message whose routing id names no connected peer. Write-only.
    ///
    /// The corresponding C option is `ZMQ_ROUTER_MANDATORY`.
    public static var routerMandatory: Self { .flag(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY") }

    /// For `ROUTER`: when a new connection presents a routing id already in use, hand the
    /// id over to the new connection instead of refusing it (lets a restarted worker keep
    /// its id). Write-only.
    ///
    /// The corresponding C option is `ZMQ_ROUTER_HANDOVER`.
    public static var routerHandover: Self { .flag(ZMQ_ROUTER_HANDOVER, "ZMQ_ROUTER_HANDOVER") }

    /// Queue outgoing messages only on completed connections, so sends block (or fail with
    /// `dontWait`) while no peer is connected, instead of piling up for a peer that may
    /// never come (default false).
    ///
    /// The corresponding C option is `ZMQ_IMMEDIATE`.
    public static var immediate: Self { .flag(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE") }

    /// Act as a CURVE server: needs ``curveSecretKey``; clients must know the matching
    /// public key.
    ///
    /// The corresponding C option is `ZMQ_CURVE_SERVER`.
    public static var curveServer: Self { .flag(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER") }
}

extension SocketOption where Value == [UInt8] {
    /// The identity this socket presents to a `ROUTER` peer (1–255 bytes, first byte not
    /// 0); the `ROUTER` uses it as the routing-id frame. Set before `connect`.
    ///
    /// The corresponding C option is `ZMQ_ROUTING_ID`.
    public static var routingID: Self { .bytes(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID") }

    /// For `SUB`: receive messages whose first frame starts with these bytes (empty = all).
    /// Write-only.
    ///
    /// The corresponding C option is `ZMQ_SUBSCRIBE`.
    public static var subscribe: Self { .bytes(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE") }

    /// For `SUB`: remove a subscription added with ``subscribe``. Write-only.
    ///
    /// The corresponding C option is `ZMQ_UNSUBSCRIBE`.
    public static var unsubscribe: Self { .bytes(ZMQ_UNSUBSCRIBE, "ZMQ_UNSUBSCRIBE") }
}

extension SocketOption where Value == String {
    /// The ZAP domain: non-empty turns on authentication through a ZAP handler (a `REP`
    /// socket bound to `inproc://zeromq.zap.01` in the same context). Empty (the default)
    /// disables ZAP, so any CURVE client that knows the server key is accepted.
    ///
    /// The corresponding C option is `ZMQ_ZAP_DOMAIN`.
    public static var zapDomain: Self { .string(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", maxCount: 255) }

    /// The last endpoint bound or connected, wildcards resolved. Read-only; also available
    /// as ``Socket/lastEndpoint``.
    ///
    /// The corresponding C option is `ZMQ_LAST_ENDPOINT`.
    public static var lastEndpoint: Self { .string(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT") }
}

extension SocketOption where Value == CurveKey {
    /// This socket's long-term CURVE public key (clients; servers need only the secret key).
    ///
    /// The corresponding C option is `ZMQ_CURVE_PUBLICKEY`.
    public static var curvePublicKey: Self { .curveKey(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY") }

    /// This socket's long-term CURVE secret key (clients and servers).
    ///
    /// The corresponding C option is `ZMQ_CURVE_SECRETKEY`.
    public static var curveSecretKey: Self { .curveKey(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY") }

    /// For a CURVE client: the server's long-term public key. Setting it makes the socket a
    /// CURVE client (it also needs ``curvePublicKey`` and ``curveSecretKey``).
    ///
    /// The corresponding C option is `ZMQ_CURVE_SERVERKEY`.
    public static var curveServerKey: Self { .curveKey(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY") }
}
