/// The frames of one received message, readable in place.
///
/// The decoder only borrows each frame's bytes for the duration of a
/// ``withFrame(_:_:)`` call and copies what it keeps, so a socket layer can
/// expose its received buffers (e.g. `zmq_msg_data`/`zmq_msg_size` of each part) without
/// copying them first. Frames need not be aligned. Frame 0 is the header: a ROUTER's
/// routing-id frame must not be included.
public protocol FrameSource {
    /// Number of frames.
    var count: Int { get }
    /// Calls `body` with the bytes of frame `index` (`0 ..< count`).
    /// - Warning: `body` must not let the pointer escape.
    func withFrame<R, E: Error>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

/// One frame's bytes: `[UInt8]` (the codec's own output) or an `UnsafeRawBufferPointer`
/// valid while the decoder runs.
public protocol FrameBytes {
    /// Calls `body` with the bytes.
    func withFrameBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

extension Array: FrameBytes where Element == UInt8 {
    public func withFrameBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // `Array.withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        let result = withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }
}

extension UnsafeRawBufferPointer: FrameBytes {
    public func withFrameBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(self)
    }
}

/// `[[UInt8]]` and `[UnsafeRawBufferPointer]` are frame sources.
extension Array: FrameSource where Element: FrameBytes {
    public func withFrame<R, E: Error>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try self[index].withFrameBytes(body)
    }
}
