import Core
import Learner
import Protocol

/// A ``Conversation`` driven by hand, the way swift-nio's `EmbeddedChannel` drives a handler:
/// messages go in as events at a time the test sets, and what the machine sends lands in
/// per-connection outboxes. Connections are in-memory: a send to one the test has
/// disconnected feeds ``Conversation/Event/peerGone(_:)`` back, as the real shell does on
/// EHOSTUNREACH. Probes are answered at once unless ``holdProbes`` is set, so a test can
/// interleave events with a probe in flight.
struct EmbeddedLearner<Workload: ConversationWorkload> {
    var machine: Conversation<Workload>
    var now: ContinuousClock.Instant
    /// Connections that exist.
    var connected: Set<PeerID> = []
    /// What each connection has received and not yet been taken.
    var outbox: [PeerID: [Message]] = [:]
    var lines: [String] = []
    var rejected = 0
    var staleDropped = 0
    var outputs: [Workload.Output] = []
    /// Probes not answered yet (when ``holdProbes``).
    var heldProbes: [PeerID] = []
    var holdProbes = false

    init(settings: Conversation<Workload>.Settings, workload: Workload) {
        machine = Conversation(settings: settings, workload: workload)
        now = ContinuousClock().now
    }

    mutating func connect(_ peer: PeerID) { connected.insert(peer) }
    mutating func disconnect(_ peer: PeerID) {
        connected.remove(peer)
        outbox[peer] = nil
    }

    /// `message` arrives from `peer` (which is connected, if it was not yet).
    mutating func receive(_ message: Message, from peer: PeerID) {
        connected.insert(peer)
        handle(.received(.success(message), from: peer))
    }

    /// Raw frames arrive from `peer`: decoded by the real codec first, as the endpoint does.
    mutating func receive(frames: [[UInt8]], from peer: PeerID) {
        connected.insert(peer)
        handle(.received(Result { () throws(ProtocolError) -> Message in try WireCodec.decode(frames) }, from: peer))
    }

    /// Time passes, then the timer fires.
    mutating func advance(_ duration: Duration) {
        now = now + duration
        handle(.tick)
    }

    /// Answers the oldest held probe as the transport would now.
    mutating func answerProbe() {
        let peer = heldProbes.removeFirst()
        handle(connected.contains(peer) ? .peerAlive(peer) : .peerGone(peer))
    }

    mutating func handle(_ event: Conversation<Workload>.Event) {
        for action in machine.handle(event, at: now) {
            switch action {
            case .send(let message, let peer):
                if connected.contains(peer) {
                    // Through the codec both ways, as on the wire.
                    outbox[peer, default: []].append(try! WireCodec.decode(WireCodec.encode(message)))
                } else {
                    handle(.peerGone(peer))
                }
            case .probe(let message, let peer):
                guard case .heartbeat = message else { fatalError("a probe is a heartbeat") }
                if connected.contains(peer) { outbox[peer, default: []].append(message) }
                if holdProbes {
                    heldProbes.append(peer)
                } else {
                    handle(connected.contains(peer) ? .peerAlive(peer) : .peerGone(peer))
                }
            case .log(_, let line): lines.append(line)
            case .count(.rejectedMessages, let n): rejected += n
            case .count(.staleSamplesDropped, let n): staleDropped += n
            case .output(let output): outputs.append(output)
            }
        }
    }

    /// Everything `peer` received since the last take.
    mutating func take(_ peer: PeerID) -> [Message] {
        defer { outbox[peer] = [] }
        return outbox[peer] ?? []
    }

    /// The kinds `peer` received since the last take, heartbeats left out.
    mutating func kinds(_ peer: PeerID) -> [MessageKind] { take(peer).map(\.kind).filter { $0 != .heartbeat } }
}
