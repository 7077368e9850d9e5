@preconcurrency import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits until one of several sockets has a message to receive.
///
/// ```swift
/// let poller = Poller([router, control])
/// while !stopRequested {
///     for index in try poller.poll(timeout: 100) {
///         while let message = try poller.sockets[index].receive(.dontWait) { … }
///     }
/// }
/// ```
///
/// The poller holds its sockets, so, like them, it is used from one thread.
public struct Poller {
    /// The sockets to watch, in the order ``poll(timeout:)`` reports indices.
    public var sockets: [Socket]

    /// A poller watching `sockets` for readability.
    public init(_ sockets: [Socket] = []) {
        self.sockets = sockets
    }

    /// Waits until at least one socket has a complete message queued, or `timeout`
    /// milliseconds pass.
    ///
    /// - Parameter timeout: Milliseconds to wait; 0 checks without waiting, `-1` waits
    ///   forever.
    /// - Returns: The indices into ``sockets`` of the readable sockets, in increasing order;
    ///   empty when the timeout expired or a signal interrupted the wait (so the caller can
    ///   check a stop flag and poll again).
    /// - Throws: ``ZMQError``: ``ZMQError/terminated`` after ``Context/shutdown()``,
    ///   ``ZMQError/notSocket`` if a socket was closed.
    ///
    /// The corresponding C function is `zmq_poll`.
    public func poll(timeout: Int) throws(ZMQError) -> [Int] {
        var items: [zmq_pollitem_t] = []
        items.reserveCapacity(sockets.count)
        for (index, socket) in sockets.enumerated() {
            let handle = try socket.withHandle("poll socket \(index)") { $0 }
            items.append(zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let ready = zmq_poll(&items, Int32(items.count), timeout)
        if ready < 0 {
            let code = zmq_errno()
            if code == EINTR { return [] }
            throw ZMQError(code: code, operation: "poll \(items.count) sockets")
        }
        if ready == 0 { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}

extension Socket {
    /// Receives the next message, waiting up to `timeoutMilliseconds` for one to arrive
    /// (0: don't wait; `-1`: forever), whatever ``SocketOption/receiveTimeout`` says.
    ///
    /// - Returns: The message, or `nil` if none arrived in time or a signal interrupted the wait.
    /// - Throws: As ``receive(_:retryOnInterrupt:)`` and ``Poller/poll(timeout:)``.
    public func receive(timeoutMilliseconds: Int) throws(ZMQError) -> Message? {
        if let message = try receive(.dontWait) { return message }
        guard timeoutMilliseconds != 0, try !Poller([self]).poll(timeout: timeoutMilliseconds).isEmpty else { return nil }
        return try receive(.dontWait)
    }
}
