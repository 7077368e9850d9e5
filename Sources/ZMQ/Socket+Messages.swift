@preconcurrency import CZMQ

#if canImport(FoundationEssentials)
import FoundationEssentials
#elseif canImport(Foundation)
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value whose contiguous bytes can be sent as one frame.
///
/// Conforming types: arrays, contiguous arrays, array slices and buffer pointers of
/// ``FrameScalar`` elements (so `[UInt8]` headers and `[Double]`/`[Float]` payloads are sent
/// as their raw in-memory bytes: little-endian on this host), raw buffer pointers, `String`
/// (UTF-8), `Data`, and a received ``Frame`` (to forward or echo one, e.g. a routing id).
public protocol FrameBytes {
    /// Calls `body` with the bytes to send; the pointer is valid only during the call.
    func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
}

/// A plain numeric type whose arrays are sent as their in-memory bytes (``FrameBytes``).
///
/// Conform only types that are `BitwiseCopyable` with no padding and no pointers.
public protocol FrameScalar: BitwiseCopyable {}

extension UInt8: FrameScalar {}
extension Int8: FrameScalar {}
extension UInt16: FrameScalar {}
extension Int16: FrameScalar {}
extension UInt32: FrameScalar {}
extension Int32: FrameScalar {}
extension UInt64: FrameScalar {}
extension Int64: FrameScalar {}
extension UInt: FrameScalar {}
extension Int: FrameScalar {}
extension Float: FrameScalar {}
extension Double: FrameScalar {}

extension Array: FrameBytes where Element: FrameScalar {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}

extension ContiguousArray: FrameBytes where Element: FrameScalar {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}

extension ArraySlice: FrameBytes where Element: FrameScalar {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}

extension UnsafeRawBufferPointer: FrameBytes {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(self) }
}

extension UnsafeMutableRawBufferPointer: FrameBytes {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(UnsafeRawBufferPointer(self)) }
}

extension UnsafeBufferPointer: FrameBytes where Element: FrameScalar {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(UnsafeRawBufferPointer(self)) }
}

extension String: FrameBytes {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

extension Data: FrameBytes {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}

extension Frame: FrameBytes {
    public func withUnsafeFrameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}

/// Options for ``Socket/send(_:flags:)`` and ``Socket/receive(_:retryOnInterrupt:)``.
public struct MessageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Do not block: `receive` returns `nil` and `send` returns `false` if it would have
    /// to wait.
    ///
    /// The corresponding C flag is `ZMQ_DONTWAIT`.
    public static let dontWait = MessageFlags(rawValue: ZMQ_DONTWAIT)
}

extension Socket {
    /// Sends a multipart message, one frame per element.
    ///
    /// Each frame's bytes are copied once into a libzmq buffer (`zmq_msg_init_size` plus
    /// `memcpy`); after that libzmq owns the data and `frames` may be reused. libzmq delivers
    /// a multipart message atomically: the peer receives all frames or none.
    ///
    /// ```swift
    /// try dealer.send([header, observations, actions])        // [UInt8], [Double], [Double]
    /// try router.send([message[0], reply])                    // reply to a routing id
    /// ```
    ///
    /// - Parameters:
    ///   - frames: At least one frame.
    ///   - flags: ``MessageFlags/dontWait`` to return `false` instead of blocking.
    /// - Returns: `true` when the message was queued; `false` when it could not be queued
    ///   without waiting (with `dontWait`, or when ``SocketOption/sendTimeout`` expired).
    ///   Messages that `ROUTER` or `PUB` drop silently (unknown peer, high-water mark) count
    ///   as queued.
    /// - Throws: ``ZMQError``: ``ZMQError/hostUnreachable`` (`ROUTER` with
    ///   ``SocketOption/routerMandatory`` and an unknown routing id),
    ///   ``ZMQError/terminated``, ``ZMQError/finiteStateMachine``,
    ///   ``ZMQError/notSupported``, ``ZMQError/invalidArgument`` for an empty `frames`, …
    ///   Interrupted calls are retried.
    ///
    /// The corresponding C functions are `zmq_msg_init_size` and `zmq_msg_send`.
    @discardableResult
    public func send(_ frames: [any FrameBytes], flags: MessageFlags = []) throws(ZMQError) -> Bool {
        guard !frames.isEmpty else {
            throw ZMQError(code: ZMQError.invalidArgument.code, operation: "send an empty message")
        }
        return try withHandle("send") { handle throws(ZMQError) in
            for (index, frame) in frames.enumerated() {
                let more = index < frames.count - 1 ? ZMQ_SNDMORE : 0
                let code = Self.sendFrame(frame, handle, flags.rawValue | more)
                if code == 0 { continue }
                if code == EAGAIN && index == 0 { return false }
                throw ZMQError(code: code, operation: "send frame \(index) of \(frames.count)")
            }
            return true
        }
    }

    /// Copies `frame` into a new `zmq_msg_t` and sends it, retrying on `EINTR`.
    /// Returns 0 or the error code.
    private static func sendFrame(_ frame: any FrameBytes, _ socket: UnsafeMutableRawPointer, _ flags: Int32) -> Int32 {
        withUnsafeTemporaryAllocation(of: zmq_msg_t.self, capacity: 1) { slot in
            let message = slot.baseAddress!
            let initialized = frame.withUnsafeFrameBytes { bytes -> Bool in
                guard zmq_msg_init_size(message, bytes.count) == 0 else { return false }
                if bytes.count > 0 { memcpy(zmq_msg_data(message), bytes.baseAddress!, bytes.count) }
                return true
            }
            guard initialized else { return zmq_errno() }
            while true {
                if zmq_msg_send(message, socket, flags) >= 0 { return 0 }  // libzmq now owns it
                let code = zmq_errno()
                if code == EINTR { continue }
                zmq_msg_close(message)
                return code
            }
        }
    }

    /// Receives a complete multipart message.
    ///
    /// The frames keep libzmq's buffers (no copy); see ``Frame``.
    ///
    /// - Parameters:
    ///   - flags: ``MessageFlags/dontWait`` to return `nil` at once if no message is queued.
    ///   - retryOnInterrupt: Whether to retry when a signal interrupts the wait (default);
    ///     `false` throws ``ZMQError/interrupted`` instead, so a signal handler that sets a
    ///     stop flag can take effect.
    /// - Returns: The message, or `nil` if none arrived: immediately with `dontWait`, or
    ///   within ``SocketOption/receiveTimeout`` if one is set.
    /// - Throws: ``ZMQError``: ``ZMQError/terminated`` after ``Context/shutdown()``,
    ///   ``ZMQError/notSupported`` for send-only socket types,
    ///   ``ZMQError/finiteStateMachine``, ``ZMQError/notSocket`` after ``close()``.
    ///
    /// The corresponding C function is `zmq_msg_recv`.
    public func receive(_ flags: MessageFlags = [], retryOnInterrupt: Bool = true) throws(ZMQError) -> Message? {
        try withHandle("receive") { handle throws(ZMQError) -> Message? in
            var frames: [Frame] = []
            while true {
                let frame = Frame()
                // Later frames of a message arrive together with the first: never wait for them.
                let code = frame.receive(from: handle, flags: frames.isEmpty ? flags.rawValue : 0)
                if code == 0 {
                    frames.append(frame)
                    if !frame.hasMore { return Message(frames) }
                } else if code == EINTR && (retryOnInterrupt || !frames.isEmpty) {
                    continue
                } else if code == EAGAIN && frames.isEmpty {
                    return nil
                } else {
                    let operation = frames.isEmpty ? "receive" : "receive frame \(frames.count)"
                    throw ZMQError(code: code, operation: operation)
                }
            }
        }
    }
}
