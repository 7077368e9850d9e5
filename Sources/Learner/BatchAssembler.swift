import Core

/// A batch the assembler can count and join.
public protocol AssemblableBatch: Sendable {
    /// What targets and quotas count: rows of a single-path batch, rollout-set states of a
    /// vine batch.
    var rows: Int { get }
    /// Appends another batch (of the same shapes) after this one.
    mutating func append(_ other: Self)
}

extension Samples: AssemblableBatch {
    public var rows: Int { count }
}

extension VineSamples: AssemblableBatch {
    public var rows: Int { stateCount }
}

/// Collects one iteration's batch from sample chunks tagged with the parameter version they
/// were collected with. TRPO is on-policy: only chunks of the current version are taken;
/// older ones are dropped and counted, never mixed in. "Rows" are whatever the batch type
/// counts (``AssemblableBatch/rows``): single-path rows, or vine rollout-set states.
///
/// Two modes:
/// - *streaming*: chunks are taken in arrival order until the batch holds at least
///   ``targetRows`` rows (whole chunks only; the last one may overshoot);
/// - *canonical* (deterministic runs): each expected worker contributes exactly its quota of
///   rows, and the batch is assembled in (worker id, sequence number) order, so the result does
///   not depend on arrival timing.
public struct BatchAssembler<Batch: AssemblableBatch>: Sendable {
    public let version: UInt64
    public let targetRows: Int
    /// Per-worker quotas in canonical mode (nil when streaming).
    public let quotas: [UInt32: Int]?

    private var chunks: [(worker: UInt32, sequence: UInt64, batch: Batch)] = []
    private var rowsByWorker: [UInt32: Int] = [:]
    public private(set) var rows = 0

    /// What happened to an offered chunk.
    public enum Verdict: Equatable, Sendable {
        case accepted
        /// Collected with an older version: dropped.
        case stale
        /// Tagged with a version not yet published: the sender is confused or not ours.
        case fromTheFuture
        /// The batch is already complete (streaming), or this worker has delivered its quota
        /// or is not expected (canonical): dropped.
        case surplus
    }

    /// A streaming assembler.
    public init(version: UInt64, targetRows: Int) {
        self.version = version
        self.targetRows = targetRows
        quotas = nil
    }

    /// A canonical assembler expecting `quotas[w]` rows from each worker w.
    public init(version: UInt64, quotas: [UInt32: Int]) {
        self.version = version
        self.quotas = quotas
        targetRows = quotas.values.reduce(0, +)
    }

    public var isComplete: Bool {
        if let quotas { return quotas.allSatisfy { rowsByWorker[$0.key, default: 0] >= $0.value } }
        return rows >= targetRows
    }

    /// Offers a chunk from `worker`, its `sequence` number, collected with `chunkVersion`.
    public mutating func offer(worker: UInt32, sequence: UInt64, chunkVersion: UInt64, batch: Batch) -> Verdict {
        if chunkVersion < version { return .stale }
        if chunkVersion > version { return .fromTheFuture }
        if let quotas {
            guard let quota = quotas[worker], rowsByWorker[worker, default: 0] < quota else { return .surplus }
        } else if isComplete {
            return .surplus
        }
        chunks.append((worker, sequence, batch))
        rowsByWorker[worker, default: 0] += batch.rows
        rows += batch.rows
        return .accepted
    }

    /// The accepted chunks joined into one batch: in arrival order when streaming, in
    /// (worker, sequence) order when canonical; nil when none was accepted.
    public func assemble() -> Batch? {
        var ordered = chunks
        if quotas != nil {
            ordered.sort { ($0.worker, $0.sequence) < ($1.worker, $1.sequence) }
        }
        guard var batch = ordered.first?.batch else { return nil }
        for chunk in ordered.dropFirst() { batch.append(chunk.batch) }
        return batch
    }
}

/// Splits `rows` over workers `0..<workers` as evenly as possible (lower ids take the
/// remainder): the quotas of a canonical ``BatchAssembler``.
public func evenQuotas(rows: Int, workers: Int) -> [UInt32: Int] {
    var quotas: [UInt32: Int] = [:]
    for w in 0..<workers { quotas[UInt32(w)] = rows / workers + (w < rows % workers ? 1 : 0) }
    return quotas
}
