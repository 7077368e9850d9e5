@preconcurrency import CZMQ

/// A 32-byte CURVE (Curve25519) key, public or secret.
///
/// Keys are usually written as 40 Z85 characters (ZeroMQ RFC 32), e.g. in configuration
/// files; ``init(z85:)`` parses that form and ``z85`` produces it. To keep secret keys out of
/// logs, ``description`` does not show the key.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes in a key.
    public static let byteCount = 32

    /// The number of Z85 characters in a key's text form.
    public static let z85Count = 40

    /// The 32 key bytes.
    public let bytes: [UInt8]

    /// A key from 32 raw bytes; `nil` for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text.
    ///
    /// - Throws: ``ZMQError/invalidArgument``, with the length found, if `z85` is not 40
    ///   valid Z85 characters.
    public init(z85: String) throws(ZMQError) {
        guard z85.utf8.count == Self.z85Count, let bytes = Z85.decode(z85) else {
            throw ZMQError(
                code: ZMQError.invalidArgument.code,
                operation: "read a CURVE key (expected \(Self.z85Count) Z85 characters, got \(z85.utf8.count))")
        }
        self.bytes = bytes
    }

    /// The key as 40 Z85 characters.
    public var z85: String { Z85.encode(bytes)! }

    /// `"CurveKey(32 bytes)"`; the key itself is not shown.
    public var description: String { "CurveKey(32 bytes)" }
}

/// A CURVE public/secret key pair.
public struct CurveKeyPair: Hashable, Sendable {
    /// The key to give to peers (clients set the server's as ``SocketOption/curveServerKey``).
    public var publicKey: CurveKey
    /// The key to keep private (``SocketOption/curveSecretKey``).
    public var secretKey: CurveKey

    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new random key pair.
    ///
    /// - Throws: ``ZMQError/notSupported`` if libzmq was built without CURVE.
    ///
    /// The corresponding C function is `zmq_curve_keypair`.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
        var secretText = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZMQError.last("generate a CURVE key pair")
        }
        return CurveKeyPair(publicKey: try key(publicText), secretKey: try key(secretText))
    }

    /// Derives the public key that belongs to `secretKey`.
    ///
    /// - Throws: ``ZMQError/notSupported`` if libzmq was built without CURVE.
    ///
    /// The corresponding C function is `zmq_curve_public`.
    public static func publicKey(fromSecret secretKey: CurveKey) throws(ZMQError) -> CurveKey {
        var publicText = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
        let secretText = Array(secretKey.z85.utf8CString)
        guard zmq_curve_public(&publicText, secretText) == 0 else {
            throw ZMQError.last("derive a CURVE public key")
        }
        return try key(publicText)
    }

    private static func key(_ text: [CChar]) throws(ZMQError) -> CurveKey {
        try CurveKey(z85: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// Z85, ZeroMQ's printable encoding of binary data (RFC 32): 4 bytes become 5 characters.
public enum Z85 {
    /// Encodes `bytes`, whose count must be a multiple of 4.
    ///
    /// - Returns: The text (5 characters per 4 bytes), or `nil` if the count is not a
    ///   multiple of 4.
    ///
    /// The corresponding C function is `zmq_z85_encode`.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes Z85 text, whose length must be a multiple of 5.
    ///
    /// - Returns: The bytes (4 per 5 characters), or `nil` if the length is not a multiple
    ///   of 5 or the text has characters outside the Z85 alphabet.
    ///
    /// The corresponding C function is `zmq_z85_decode`.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        if utf8.isEmpty { return [] }  // libzmq rejects empty input; encode([]) is ""
        guard utf8.count % 5 == 0, !utf8.contains(0) else { return nil }
        var bytes = [UInt8](repeating: 0, count: utf8.count / 5 * 4)
        let decoded = text.withCString { zmq_z85_decode(&bytes, $0) }
        return decoded == nil ? nil : bytes
    }
}
