/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// The CRC-32C of `bytes` (initial value and final XOR 0xFFFFFFFF, as iSCSI and TFRecord use).
    static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked form: rotated right by 15 bits plus a constant, so that a CRC stored
    /// inside data that is itself checksummed does not cancel out.
    static func masked<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// TFRecord framing: each record is its length (u64, little-endian), the masked CRC-32C of
/// those 8 bytes (u32), the data, and the masked CRC-32C of the data (u32).
enum TFRecord {
    static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        var record = length
        record.reserveCapacity(data.count + 16)
        record += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        record += data
        record += withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init)
        return record
    }
}
