import Foundation
import Testing
import ZMQ

/// A fresh directory for `ipc://` socket files, removed by `body`'s caller via `defer`.
func temporaryDirectory() throws -> URL {
    let url = URL(fileURLWithPath: NSTemporaryDirectory())
        .appendingPathComponent("zmqtests-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` on a new thread and waits at most `timeout` seconds for it.
///
/// - Returns: The seconds `body` took, or `nil` if it did not finish in time (the thread is
///   then left running, so a hang fails the test instead of hanging the test run).
func runOnThread(timeout: Double, _ body: @escaping @Sendable () -> Void) -> Double? {
    let done = DispatchSemaphore(value: 0)
    let start = DispatchTime.now()
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    guard done.wait(timeout: .now() + timeout) == .success else { return nil }
    return seconds(since: start)
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

extension Frame {
    var string: String { String(decoding: bytes, as: UTF8.self) }
}

/// A bound ROUTER and its resolved endpoint; receives time out after `timeout` ms.
func makeRouter(_ context: Context, _ endpoint: String = "tcp://127.0.0.1:*", timeout: Int = 5000,
                configure: (Socket) throws -> Void = { _ in }) throws -> (Socket, String) {
    let router = try Socket(context: context, type: .router)
    try router.setOption(.receiveTimeout, to: timeout)
    try configure(router)
    try router.bind(endpoint)
    return (router, try router.lastEndpoint)
}

/// A DEALER connected to `endpoint`; receives time out after `timeout` ms.
func makeDealer(_ context: Context, _ endpoint: String, id: String? = nil, timeout: Int = 5000,
                configure: (Socket) throws -> Void = { _ in }) throws -> Socket {
    let dealer = try Socket(context: context, type: .dealer)
    try dealer.setOption(.receiveTimeout, to: timeout)
    if let id { try dealer.setOption(.routingID, to: Array(id.utf8)) }
    try configure(dealer)
    try dealer.connect(endpoint)
    return dealer
}
