import Core
import Protocol

/// A training run's part of the conversation: one batch per parameter version, assembled from
/// the chunks of that version (``BatchAssembler``), with each worker's quota.
///
/// - Deterministic runs: each expected worker's fixed share of the batch (its quota in the
///   canonical assembler), chunks as large as the limits allow.
/// - Streaming runs: each worker's quota is what it has delivered with this version plus an
///   equal share of the rows still missing (at least one chunk), and one chunk is one share,
///   so nobody samples past the batch while the learner updates. When the batch gains no rows
///   for ``stallTimeout`` (and for as long as this version's first chunk took), ``due(live:now:)``
///   names every live worker: those whose quota that raises get a top-up (the same version
///   with a larger quota), which moves a dead or slow worker's share to the others. A quota
///   never shrinks within a version.
public struct TrainingWorkload: ConversationWorkload {
    public typealias Output = Never

    /// The current version's parameters; ``parameters(for:live:now:)`` sets the stream, the
    /// chunk size and the quota per worker. nil until the run has a policy (a run of an
    /// external environment before its first worker's spec): nobody gets parameters then.
    public private(set) var template: Message.Parameters?
    public private(set) var assembler: BatchAssembler<IterationBatch>
    /// Streaming: a batch that gains no rows for this long is topped up.
    public let stallTimeout: Duration
    /// The largest and smallest chunk (rows) the limits and the head allow.
    private var chunkBounds: (maximum: Int, minimum: Int)
    /// This version's chunk size, fixed by the live count when its first parameters went out.
    private var chunkSteps: Int?
    private var versionStarted: ContinuousClock.Instant
    /// When a chunk was last accepted (or the version started).
    private var lastProgress: ContinuousClock.Instant
    /// How long this version's first chunk took: a batch counts as stalled only after a
    /// silence longer than this too (a vine collection takes seconds, and a top-up to a worker
    /// that finished first would compete for the CPU with the others' collections).
    private var quickestChunk: Duration?
    /// Streaming: the quota each worker process was granted with this version, and the rows
    /// accepted from it.
    private var granted: [UInt32: Int] = [:]
    private var accepted: [UInt32: Int] = [:]

    /// - Parameters:
    ///   - template: the first version's parameters (session, version, seed, environment,
    ///     policy, normaliser, sampling, collection, model hash).
    ///   - assembler: the first version's assembler (canonical with quotas: deterministic).
    public init(template: Message.Parameters?, assembler: BatchAssembler<IterationBatch>,
                chunkBounds: (maximum: Int, minimum: Int), stallTimeout: Duration, now: ContinuousClock.Instant) {
        self.template = template
        self.assembler = assembler
        self.chunkBounds = chunkBounds
        self.stallTimeout = stallTimeout
        versionStarted = now
        lastProgress = now
    }

    /// Moves on to the next version (publish it with ``Conversation/Event/published``);
    /// `chunkBounds` replaces the chunk bounds (the first version of a run whose policy was
    /// built after the workload).
    public mutating func start(_ template: Message.Parameters, assembler: BatchAssembler<IterationBatch>,
                               chunkBounds: (maximum: Int, minimum: Int)? = nil, now: ContinuousClock.Instant) {
        self.template = template
        if let chunkBounds { self.chunkBounds = chunkBounds }
        self.assembler = assembler
        chunkSteps = nil
        versionStarted = now
        lastProgress = now
        quickestChunk = nil
        granted = [:]
        accepted = [:]
    }

    public var currentVersion: UInt64 { template?.version ?? 0 }

    public func heartbeatVersion(for worker: UInt32) -> UInt64? { template?.version }

    public mutating func parameters(for worker: UInt32, live: Int, now: ContinuousClock.Instant) -> Message.Parameters? {
        guard var p = template else { return nil }
        p.stream = UInt64(worker)
        let workers = max(1, live)
        let chunk = chunkSteps ?? (assembler.quotas != nil ? chunkBounds.maximum
            : min(chunkBounds.maximum, max(chunkBounds.minimum, (assembler.targetRows + workers - 1) / workers)))
        chunkSteps = chunk
        p.chunkSteps = chunk
        if let quotas = assembler.quotas {
            guard let quota = quotas[worker] else { return nil }
            p.quota = quota
        } else {
            let missing = max(0, assembler.targetRows - assembler.rows)
            let share = (missing + workers - 1) / workers
            let quota = min(Message.Parameters.maxQuota,
                            max(granted[worker] ?? 0, accepted[worker, default: 0] + max(chunk, share)))
            granted[worker] = quota
            p.quota = quota
        }
        return p
    }

    public mutating func offer(_ batch: IterationBatch, version: UInt64, from worker: UInt32, sequence: UInt64,
                               now: ContinuousClock.Instant) -> ChunkVerdict<Never> {
        guard let template else { return .misfit("a chunk before the run has a policy") }
        if let misfit = batch.misfit(policy: template.policy, sampling: template.sampling) { return .misfit(misfit) }
        switch assembler.offer(worker: worker, sequence: sequence, chunkVersion: version, batch: batch) {
        case .accepted:
            lastProgress = now
            quickestChunk = quickestChunk ?? now - versionStarted
            accepted[worker, default: 0] += batch.rows
            return .accepted(nil)
        case .stale: return .stale
        case .surplus: return .surplus
        case .fromTheFuture: return .fromTheFuture
        }
    }

    /// A process gone for good, or replaced, takes its quota with it, and a new process under
    /// this id starts afresh; the rows already accepted stay in the batch. One that may return
    /// (declared gone for silence, or disconnected) keeps its quota and count, as it keeps its
    /// own count of the rows it sent (docs/protocol.md §4.4): reset on one side only, the two
    /// counts would disagree, and a worker back from a learner's stall could find its quota met
    /// by its own count while the batch still waits for rows from it. Its share moves to the
    /// others meanwhile by top-ups, which count missing rows.
    public mutating func release(_ worker: UInt32, mayReturn: Bool) {
        guard !mayReturn else { return }
        granted[worker] = nil
        accepted[worker] = nil
    }

    public mutating func due(live: [UInt32], now: ContinuousClock.Instant) -> [UInt32] {
        guard assembler.quotas == nil, !assembler.isComplete,
              now - lastProgress > max(stallTimeout, quickestChunk ?? .zero) else { return [] }
        lastProgress = now
        return live
    }
}
