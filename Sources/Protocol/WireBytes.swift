import Core

// Little-endian byte helpers: header fields one by one, arrays in bulk. Everything here is
// independent of the host's byte order.

/// Builds a header frame field by field.
struct HeaderWriter {
    private(set) var bytes: [UInt8]

    /// Starts a header with the common 8-byte prefix: magic, version, kind, flags.
    init(kind: MessageKind, flags: UInt8 = 0) {
        bytes = []
        bytes.reserveCapacity(HeaderLayout.size(of: kind))
        bytes += WireCodec.magic
        append(WireCodec.version)
        append(kind.rawValue)
        append(flags)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func append(_ value: Double) { append(value.bitPattern) }

    /// Appends a count that the format stores as UInt32.
    /// - Precondition: `0 ≤ count ≤ UInt32.max` (larger messages are not representable).
    mutating func appendCount(_ count: Int, _ field: Field) {
        precondition(count >= 0 && count <= Int(UInt32.max), "\(field) \(count) does not fit the wire format's UInt32")
        append(UInt32(count))
    }
}

/// Reads header fields in order from a header whose length has already been checked.
struct HeaderReader {
    private let bytes: [UInt8]
    private var offset = HeaderLayout.prefixSize

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        var value = T.zero
        for i in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + i]) << (8 * i) }
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func readDouble() -> Double { Double(bitPattern: read(UInt64.self)) }

    /// True when every byte has been read (the layout and the reads agree).
    var isAtEnd: Bool { offset == bytes.count }
}

// MARK: - Arrays

/// An observation element type and its wire encoding: f64 little-endian, or one byte.
protocol WireObservation: ObservationElement {
    /// Bytes per value on the wire.
    static var wireSize: Int { get }
    /// The wire bytes of `values`.
    static func wireBytes(of values: [Self]) -> [UInt8]
    /// The values in a frame whose length is a multiple of ``wireSize``: f64 must be finite.
    static func values(_ frame: UnsafeRawBufferPointer, _ field: Field) throws(ProtocolError) -> [Self]
}

extension Double: WireObservation {
    static var wireSize: Int { 8 }
    static func wireBytes(of values: [Double]) -> [UInt8] { WireArray.bytes(of: values) }
    static func values(_ frame: UnsafeRawBufferPointer, _ field: Field) throws(ProtocolError) -> [Double] {
        try WireArray.doubles(frame, field, finite: true)
    }
}

extension UInt8: WireObservation {
    static var wireSize: Int { 1 }
    static func wireBytes(of values: [UInt8]) -> [UInt8] { values }
    static func values(_ frame: UnsafeRawBufferPointer, _ field: Field) throws(ProtocolError) -> [UInt8] { Array(frame) }
}

enum WireArray {
    /// The IEEE-754 little-endian bytes of `values`.
    static func bytes(of values: [Double]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 8) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            values.withUnsafeBufferPointer { source in
                for i in source.indices {
                    raw.storeBytes(of: source[i].bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                }
            }
            initialized = values.count * 8
        }
    }

    /// The UInt32 little-endian bytes of `values`.
    /// - Precondition: every value is in `0...UInt32.max`.
    static func uint32Bytes(of values: [Int], _ field: Field) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 4) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (i, value) in values.enumerated() {
                precondition(value >= 0 && value <= Int(UInt32.max), "\(field) value \(value) does not fit UInt32")
                raw.storeBytes(of: UInt32(value).littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
            initialized = values.count * 4
        }
    }

    /// Reads `frame.count / 8` little-endian doubles (the caller has checked the length),
    /// rejecting NaN and ±∞ when `finite` is set, in one pass and one allocation.
    static func doubles(_ frame: UnsafeRawBufferPointer, _ field: Field, finite: Bool) throws(ProtocolError) -> [Double] {
        let count = frame.count / 8
        // min over (exponent bits XOR all-ones exponent): zero exactly when some value has an
        // all-ones exponent, i.e. is NaN or infinite.
        let exponent: UInt64 = 0x7FF0_0000_0000_0000
        var finiteness = UInt64.max
        let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let source = frame.baseAddress, let target = buffer.baseAddress else { initialized = 0; return }
            for i in 0..<count {
                let bits = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                finiteness = min(finiteness, (bits & exponent) ^ exponent)
                target[i] = Double(bitPattern: bits)
            }
            initialized = count
        }
        if finite && finiteness == 0, let index = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(field, index: index)
        }
        return values
    }

    /// Reads `frame.count / 4` little-endian UInt32 values as `Int`s.
    static func uint32s(_ frame: UnsafeRawBufferPointer) -> [Int] {
        let count = frame.count / 4
        return [Int](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                buffer[i] = Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            initialized = count
        }
    }

    /// The frame as a string, when it is valid UTF-8.
    static func string(_ frame: UnsafeRawBufferPointer, _ field: Field) throws(ProtocolError) -> String {
        guard let string = String(validating: frame, as: UTF8.self) else { throw .invalidUTF8(field) }
        return string
    }
}
