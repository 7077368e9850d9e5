import Core
import Protocol
import Transport

/// The shell around a ``Conversation``: the learner's ROUTER endpoint and the one receive loop
/// that `LearnerService` and `SamplingFarm` share. It turns what the endpoint delivers into
/// events, performs the actions (sends, probes, log lines, counters) and feeds back what a
/// send found: a connection gone (``Conversation/Event/peerGone(_:)``) or, for a probe, alive.
///
/// Used from one thread.
public final class ConversationDriver<Workload: ConversationWorkload> {
    public private(set) var conversation: Conversation<Workload>
    public let endpoint: LearnerEndpoint
    /// Refusals, dropped rows and bytes received so far.
    public private(set) var counters = TransportCounters()
    private let log: (LogLevel, String) -> Void
    private let clock = ContinuousClock()

    public init(conversation: Conversation<Workload>, endpoint: LearnerEndpoint, log: @escaping (LogLevel, String) -> Void) {
        self.conversation = conversation
        self.endpoint = endpoint
        self.log = log
    }

    /// Changes the workload (a new version, new tasks); follow with ``Conversation/Event/published``.
    public func updateWorkload(_ change: (inout Workload) -> Void) { change(&conversation.workload) }

    /// Handles at most one message, waiting up to `timeoutMilliseconds` for it, then the timer.
    /// - Returns: the outputs of accepted chunks (a farm's finished tasks).
    public func step(timeoutMilliseconds: Int) throws -> [Workload.Output] {
        var outputs: [Workload.Output] = []
        if let received = try endpoint.receive(timeoutMilliseconds: timeoutMilliseconds) {
            counters.bytesReceived += received.byteCount
            perform(.received(received.message, from: PeerID(received.peer)), outputs: &outputs)
        }
        perform(.tick, outputs: &outputs)
        return outputs
    }

    /// Handles `event` now.
    public func perform(_ event: Conversation<Workload>.Event) {
        var outputs: [Workload.Output] = []
        perform(event, outputs: &outputs)
    }

    private func perform(_ event: Conversation<Workload>.Event, outputs: inout [Workload.Output]) {
        for action in conversation.handle(event, at: clock.now) {
            switch action {
            case .send(let message, let peer):
                switch endpoint.send(message, to: peer.bytes) {
                case .queued: break
                case .queueFull:
                    if case .parameters = message { log(.warning, "\(conversation.settings.logName): \(peer) is not reading; parameters dropped") }
                case .peerGone: perform(.peerGone(peer), outputs: &outputs)
                }
            case .probe(let message, let peer):
                let gone = endpoint.send(message, to: peer.bytes) == .peerGone
                perform(gone ? .peerGone(peer) : .peerAlive(peer), outputs: &outputs)
            case .log(let level, let line):
                log(level, line)
            case .count(.rejectedMessages, let n):
                counters.rejectedMessages += n
            case .count(.staleSamplesDropped, let n):
                counters.staleSamplesDropped += n
            case .output(let output):
                outputs.append(output)
            }
        }
    }
}
