@preconcurrency import CZMQ

// The ZMQ module: a typed Swift layer over libzmq (≥ 4.3).
//
// - `Context` owns `zmq_ctx_new`; `Socket` owns one `zmq_socket` and keeps its context alive.
// - `Socket.send(_:flags:)` takes any `FrameBytes` values as frames; `Socket.receive` returns a
//   `Message` of `Frame`s that keep libzmq's buffers (read them with `withUnsafeBytes`).
// - Options are typed `SocketOption<Value>` values; errors are `ZMQError` (errno + operation).
// - `Poller` wraps `zmq_poll`; `CurveKey`, `CurveKeyPair` and `Z85` cover CURVE key handling.

/// Facts about the libzmq library linked into the process.
///
/// (Named `LibZMQ`, not `ZMQ`, so that a type does not shadow the module name: `ZMQ.Socket`
/// stays usable for disambiguation.)
public enum LibZMQ {
    /// The libzmq version, e.g. `(4, 3, 4)`.
    ///
    /// The corresponding C function is `zmq_version`.
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether libzmq was built with `capability`: `"curve"`, `"ipc"`, `"pgm"`, `"tipc"`,
    /// `"norm"`, `"gssapi"` or `"draft"`.
    ///
    /// The corresponding C function is `zmq_has`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
