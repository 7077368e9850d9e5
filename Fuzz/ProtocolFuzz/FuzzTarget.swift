import Protocol

/// Splits one fuzzer input into frames: byte 0 is the frame count c, then c − 1 frames each
/// prefixed by its length (UInt16, little-endian), and the last frame takes the rest. Short
/// inputs just give fewer frames. Every input maps to some frame list.
func frames(of input: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
    guard let count = input.first else { return [] }
    var frames: [UnsafeRawBufferPointer] = []
    var offset = 1
    while frames.count + 1 < Int(count) && offset + 2 <= input.count {
        let length = Int(input[offset]) | Int(input[offset + 1]) << 8
        offset += 2
        let end = min(input.count, offset + length)
        frames.append(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
        offset = end
    }
    if count > 0 { frames.append(UnsafeRawBufferPointer(rebasing: input[min(offset, input.count)...])) }
    return frames
}

/// The inverse of ``frames(of:)`` for up to 255 frames of up to 65 535 bytes (but the last).
func input(of frames: [[UInt8]]) -> [UInt8] {
    var bytes = [UInt8(frames.count)]
    for frame in frames.dropLast() { bytes += [UInt8(frame.count & 0xFF), UInt8(frame.count >> 8)] + frame }
    return bytes + (frames.last ?? [])
}

/// libFuzzer's entry point: decoding must not trap, and an accepted message must re-encode
/// to exactly the frames it was decoded from.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let raw = frames(of: UnsafeRawBufferPointer(start: data, count: size))
    let limits = DecodingLimits(maxTotalBytes: 1 << 20, maxRows: 4096, maxWidth: 1024, maxParameters: 1 << 16)
    if let message = try? WireCodec.decode(raw, limits: limits) {
        precondition(WireCodec.encode(message) == raw.map { Array($0) }, "accepted a non-canonical message")
    }
    return 0
}
