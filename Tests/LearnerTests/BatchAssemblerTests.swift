import Core
import Testing
@testable import Learner

@Suite struct BatchAssemblerTests {
    /// A one-trajectory chunk of `rows` rows whose rewards encode (worker, sequence).
    static func chunk(rows: Int, tag: Double) -> SampleBatch {
        var b = SampleBatch(observationSize: 1, actionWidth: 1)
        for t in 0..<rows {
            b.observations.append(Double(t))
            b.actions.append(0)
            b.rewards.append(tag)
            b.ends.append(t == rows - 1 ? .terminated : .none)
        }
        return b
    }

    @Test func streamingTakesCurrentVersionUntilFull() {
        var a = BatchAssembler<SampleBatch>(version: 5, targetRows: 10)
        do { let verdict = a.offer(worker: 0, sequence: 0, chunkVersion: 4, batch: Self.chunk(rows: 4, tag: 1)); #expect(verdict == .stale) }
        do { let verdict = a.offer(worker: 0, sequence: 1, chunkVersion: 6, batch: Self.chunk(rows: 4, tag: 1)); #expect(verdict == .fromTheFuture) }
        do { let verdict = a.offer(worker: 1, sequence: 0, chunkVersion: 5, batch: Self.chunk(rows: 4, tag: 2)); #expect(verdict == .accepted) }
        #expect(!a.isComplete)
        do { let verdict = a.offer(worker: 0, sequence: 2, chunkVersion: 5, batch: Self.chunk(rows: 4, tag: 3)); #expect(verdict == .accepted) }
        do { let verdict = a.offer(worker: 1, sequence: 1, chunkVersion: 5, batch: Self.chunk(rows: 4, tag: 4)); #expect(verdict == .accepted) }
        #expect(a.isComplete && a.rows == 12)
        do { let verdict = a.offer(worker: 0, sequence: 3, chunkVersion: 5, batch: Self.chunk(rows: 4, tag: 5)); #expect(verdict == .surplus) }
        let batch = a.assemble()!
        #expect(batch.count == 12)
        #expect(Set(batch.rewards) == [2, 3, 4])  // arrival order, nothing stale mixed in
        #expect(Array(batch.rewards.prefix(4)) == [2, 2, 2, 2])
    }

    @Test func canonicalOrderIgnoresArrivalOrder() {
        let quotas = evenQuotas(rows: 9, workers: 2)
        #expect(quotas == [0: 5, 1: 4])
        var forward = BatchAssembler<SampleBatch>(version: 1, quotas: quotas)
        var backward = BatchAssembler<SampleBatch>(version: 1, quotas: quotas)
        let offers: [(UInt32, UInt64, Int)] = [(0, 0, 3), (0, 1, 2), (1, 0, 2), (1, 1, 2)]
        for (w, s, n) in offers {
            do { let verdict = forward.offer(worker: w, sequence: s, chunkVersion: 1, batch: Self.chunk(rows: n, tag: Double(w * 10) + Double(s))); #expect(verdict == .accepted) }
        }
        for (w, s, n) in offers.reversed() {
            do { let verdict = backward.offer(worker: w, sequence: s, chunkVersion: 1, batch: Self.chunk(rows: n, tag: Double(w * 10) + Double(s))); #expect(verdict == .accepted) }
        }
        #expect(forward.isComplete && backward.isComplete)
        #expect(forward.assemble() == backward.assemble())
        #expect(forward.assemble()?.rewards == [0, 0, 0, 1, 1, 10, 10, 11, 11])
        do { let verdict = forward.offer(worker: 2, sequence: 0, chunkVersion: 1, batch: Self.chunk(rows: 1, tag: 0)); #expect(verdict == .surplus) }
        do { let verdict = forward.offer(worker: 0, sequence: 2, chunkVersion: 1, batch: Self.chunk(rows: 1, tag: 0)); #expect(verdict == .surplus) }
    }
}

@Suite struct WorkerRegistryTests {
    @Test func silenceExpiresAndReregistrationReplaces() {
        let clock = ContinuousClock()
        let t0 = clock.now
        var r = WorkerRegistry(timeout: .seconds(3))
        r.register(peer: [1], workerID: 0, nonce: 11, environments: 8, now: t0)
        r.register(peer: [2], workerID: 1, nonce: 12, environments: 8, now: t0)
        #expect(r.aliveCount == 2)
        let heardKnown = r.heard(peer: [1], now: t0 + .seconds(2))
        let heardStranger = r.heard(peer: [9], now: t0)
        #expect(heardKnown && !heardStranger)
        let gone = r.expire(now: t0 + .seconds(4))
        #expect(gone.map(\.workerID) == [1])
        #expect(r.aliveCount == 1)
        // Worker 0 restarts and connects anew: the old record is replaced.
        let replaced = r.register(peer: [3], workerID: 0, nonce: 99, environments: 4, now: t0 + .seconds(5))
        #expect(replaced?.nonce == 11)
        #expect(r.record(peer: [1]) == nil && r.record(peer: [3])?.nonce == 99)
        // A 50 s update from t0+10: the learner's deafness does not count as silence, so
        // worker 1 (heard at t0+9) survives it, while worker 0 (silent since t0+5, already
        // 5 s before the update) goes; and worker 1 goes too if it stays silent afterwards.
        r.register(peer: [4], workerID: 1, nonce: 5, environments: 4, now: t0 + .seconds(9))
        r.forgive(.seconds(50), now: t0 + .seconds(60))
        let afterUpdate = r.expire(now: t0 + .seconds(60))
        #expect(afterUpdate.map(\.workerID) == [0])
        let later = r.expire(now: t0 + .seconds(64))
        #expect(later.map(\.workerID) == [1])
    }
}
