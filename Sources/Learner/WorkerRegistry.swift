/// The learner's view of its workers: who registered, from which connection, and when each
/// was last heard from and last sent to. A worker silent for longer than ``timeout`` (counted
/// only while the learner is listening, see ``forgive(_:now:)``) is declared gone. Pure: time
/// comes in with every call.
public struct WorkerRegistry: Sendable {
    /// What a worker was last sent as parameters: the same stamp again would tell it nothing.
    public struct ParametersStamp: Sendable, Equatable {
        public var session: UInt64
        public var version: UInt64
        public var quota: Int
    }

    /// One registered worker.
    public struct Record: Sendable, Equatable {
        /// The transport's identity of the connection (ZeroMQ routing id).
        public var peer: [UInt8]
        public var workerID: UInt32
        /// Random per worker process start: tells a restarted worker from its predecessor.
        public var nonce: UInt64
        public var environments: Int
        public var lastHeard: ContinuousClock.Instant
        public var registered: ContinuousClock.Instant
        /// When the learner last sent this worker anything (heartbeats fill longer silences).
        public var lastSent: ContinuousClock.Instant
        /// The highest chunk sequence number seen from this process (nil: none yet).
        public var lastSequence: UInt64?
        /// The parameters last sent (nil: none yet).
        public var lastParameters: ParametersStamp?
        /// In a run of an external environment: whether this registration's environmentSpec
        /// was accepted (until then it gets no parameters). Always true otherwise.
        public var specAccepted = true
    }

    public var timeout: Duration
    public private(set) var records: [Record] = []

    public init(timeout: Duration) { self.timeout = timeout }

    public var aliveCount: Int { records.count }

    /// The record of the connection `peer`, if registered.
    public func record(peer: [UInt8]) -> Record? { records.first { $0.peer == peer } }

    /// Registers (or re-registers) a worker. A record with the same worker id from another
    /// connection or process is replaced (the worker reconnected or restarted).
    /// - Returns: the record it replaced, if any.
    @discardableResult
    public mutating func register(peer: [UInt8], workerID: UInt32, nonce: UInt64, environments: Int,
                                  now: ContinuousClock.Instant) -> Record? {
        let previous = records.first { $0.workerID == workerID || $0.peer == peer }
        records.removeAll { $0.workerID == workerID || $0.peer == peer }
        records.append(Record(peer: peer, workerID: workerID, nonce: nonce, environments: environments,
                              lastHeard: now, registered: now, lastSent: now))
        records.sort { $0.workerID < $1.workerID }
        return previous
    }

    /// Changes the record of `peer` (nothing when it is not registered).
    public mutating func update(peer: [UInt8], _ change: (inout Record) -> Void) {
        if let i = records.firstIndex(where: { $0.peer == peer }) { change(&records[i]) }
    }

    /// Notes traffic from `peer`; false when the peer is not registered.
    @discardableResult
    public mutating func heard(peer: [UInt8], now: ContinuousClock.Instant) -> Bool {
        guard let i = records.firstIndex(where: { $0.peer == peer }) else { return false }
        records[i].lastHeard = now
        return true
    }

    /// Removes and returns the workers silent for longer than the timeout.
    public mutating func expire(now: ContinuousClock.Instant) -> [Record] {
        let gone = records.filter { now - $0.lastHeard > timeout }
        records.removeAll { now - $0.lastHeard > timeout }
        return gone
    }

    /// Removes one worker (it said goodbye or was refused).
    public mutating func remove(peer: [UInt8]) { records.removeAll { $0.peer == peer } }

    /// Discounts a stretch during which the learner could not listen (an update): each
    /// worker's silence is shortened by `deafness`, so the learner's own deafness does not count
    /// as the workers' silence, while a worker that was already silent stays on its way out.
    public mutating func forgive(_ deafness: Duration, now: ContinuousClock.Instant) {
        for i in records.indices { records[i].lastHeard = min(now, records[i].lastHeard + deafness) }
    }
}
