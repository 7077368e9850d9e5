@preconcurrency import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One received part of a multipart message, owning libzmq's buffer.
///
/// A frame wraps the `zmq_msg_t` that `zmq_msg_recv` filled, so receiving does not copy the
/// payload; read it in place with ``withUnsafeBytes(_:)``, or copy it out with ``bytes`` or
/// ``elements(of:)``. The buffer is released (`zmq_msg_close`) when the last reference to
/// the frame goes away; it does not depend on the socket or context staying open.
///
/// ## Alignment
///
/// libzmq does not align frame payloads: large frames received over `tcp`/`ipc` can point
/// into its receive buffer at any offset, and small ones (≤ 33 bytes) live inside the
/// `zmq_msg_t`. Do not bind the bytes to `Double` directly; use ``elements(of:)`` (one
/// `memcpy` into a new array) or `UnsafeRawBufferPointer.loadUnaligned(fromByteOffset:as:)`.
///
/// ## Thread safety
///
/// `Frame` is immutable after it is received, and is `@unchecked Sendable` on that basis:
/// the only libzmq calls made on it after receipt are the read-only `zmq_msg_data`,
/// `zmq_msg_size` and `zmq_msg_gets`, and `zmq_msg_close` once in `deinit` (the buffer's
/// reference count is atomic). Frames are never passed to `zmq_msg_copy`, which mutates its
/// source; sending a frame copies its bytes like any other ``FrameBytes``.
public final class Frame: @unchecked Sendable {
    /// A heap-allocated `zmq_msg_t`, so its address (and, for small frames, the address of
    /// the payload stored inside it) is stable for the frame's lifetime.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// An empty, initialized message, ready for `zmq_msg_recv`.
    init() {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)  // cannot fail
    }

    /// Receives one frame into `self`. Returns 0 or `zmq_errno()`.
    func receive(from socket: UnsafeMutableRawPointer, flags: Int32) -> Int32 {
        zmq_msg_recv(message, socket, flags) >= 0 ? 0 : zmq_errno()
    }

    /// Whether more frames of the same message follow this one.
    var hasMore: Bool { zmq_msg_more(message) != 0 }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// The number of payload bytes.
    ///
    /// The corresponding C function is `zmq_msg_size`.
    public var count: Int { zmq_msg_size(message) }

    /// Whether the frame has no payload (an empty delimiter frame, for instance).
    public var isEmpty: Bool { count == 0 }

    /// Calls `body` with the payload, without copying it.
    ///
    /// - Warning: Do not let the pointer escape `body`; it is valid only during the call.
    ///   The bytes are not necessarily aligned for any type wider than a byte.
    ///
    /// The corresponding C function is `zmq_msg_data`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let start = zmq_msg_data(message)
        return try body(UnsafeRawBufferPointer(start: start, count: count))
    }

    /// A copy of the payload.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The payload reinterpreted as an array of `T` (for instance little-endian `Double`s on
    /// a little-endian host), copied with one `memcpy` so alignment does not matter.
    ///
    /// - Returns: `nil` if the byte count is not a multiple of `MemoryLayout<T>.stride`.
    public func elements<T: BitwiseCopyable>(of type: T.Type) -> [T]? {
        let stride = MemoryLayout<T>.stride
        return withUnsafeBytes { raw -> [T]? in
            guard raw.count % stride == 0 else { return nil }
            let n = raw.count / stride
            return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
                if n > 0 { memcpy(buffer.baseAddress!, raw.baseAddress!, raw.count) }
                initialized = n
            }
        }
    }

    /// A metadata property attached to the message by libzmq, such as `"Peer-Address"`,
    /// `"Socket-Type"`, `"Routing-Id"` or, with a ZAP handler, `"User-Id"`; `nil` if absent.
    ///
    /// The corresponding C function is `zmq_msg_gets`.
    public func metadata(_ property: String) -> String? {
        guard let value = zmq_msg_gets(message, property) else { return nil }
        return String(cString: value)
    }
}

extension Frame: CustomStringConvertible {
    /// `"Frame(<count> bytes)"`.
    public var description: String { "Frame(\(count) bytes)" }
}

/// A complete multipart message as received: one or more ``Frame``s.
///
/// On a `ROUTER` socket frame 0 is the sender's routing id; reply by sending a message whose
/// first frame is that id.
public struct Message: RandomAccessCollection, Sendable {
    /// The frames in order.
    public var frames: [Frame]

    /// A message made of `frames`.
    public init(_ frames: [Frame]) { self.frames = frames }

    public var startIndex: Int { frames.startIndex }
    public var endIndex: Int { frames.endIndex }
    public subscript(position: Int) -> Frame { frames[position] }

    /// The total payload bytes over all frames.
    public var byteCount: Int { frames.reduce(0) { $0 + $1.count } }
}
