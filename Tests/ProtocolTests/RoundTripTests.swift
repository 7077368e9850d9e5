import Core
import Protocol
import Testing

@Suite struct RoundTripTests {
    /// decode(encode(m)) == m, and re-encoding gives the same bytes, for random messages of
    /// every kind.
    @Test(arguments: MessageKind.allCases)
    func roundTrip(kind: MessageKind) throws {
        var generator = MessageGenerator(seed: 0x5EED_0000 + UInt64(kind.rawValue))
        for _ in 0..<200 {
            let message = generator.message(of: kind)
            let frames = WireCodec.encode(message)
            let decoded = try WireCodec.decode(frames)
            #expect(decoded == message)
            #expect(decoded.kind == kind)
            #expect(WireCodec.encode(decoded) == frames)
        }
    }

    /// Equality of doubles hides −0 versus +0; the bytes comparison above catches it, and
    /// this checks the values directly on extreme bit patterns.
    @Test func doublesAreBitExact() throws {
        let specials: [Double] = [0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                                  .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, .pi]
        var generator = MessageGenerator(seed: 7)
        var chunk = generator.chunk()
        var batch = SampleBatch(observationSize: 1, actionWidth: 1)
        batch.observations = specials
        batch.actions = specials.reversed()
        batch.rewards = specials
        batch.ends = Array(repeating: .none, count: specials.count - 1) + [.terminated]
        chunk.batch = .features(batch)
        chunk.simulatorSteps = UInt64(specials.count)
        guard case .chunk(let decoded) = try WireCodec.decode(WireCodec.encode(.chunk(chunk))),
              case .features(let back) = decoded.batch else {
            Issue.record("not a chunk of feature vectors")
            return
        }
        #expect(back.observations.map(\.bitPattern) == specials.map(\.bitPattern))
        #expect(back.actions.map(\.bitPattern) == specials.reversed().map(\.bitPattern))

        var parameters = generator.parameters()
        guard case .dense(var policy) = parameters.policy else {
            Issue.record("not a dense policy")
            return
        }
        var normalizer = RunningNormalizer(size: policy.observationSize, clip: .leastNonzeroMagnitude)
        normalizer.update(with: Matrix(rows: 1, columns: normalizer.size,
                                       storage: (0..<normalizer.size).map { [1e-300, -3, .pi][$0 % 3] }))
        parameters.normalizer = normalizer
        policy.parameters = (0..<policy.parameterCount).map { specials[$0 % specials.count] }
        parameters.policy = .dense(policy)
        guard case .parameters(let back) = try WireCodec.decode(WireCodec.encode(.parameters(parameters))) else {
            Issue.record("not parameters")
            return
        }
        #expect(back.policy.parameters.map(\.bitPattern) == parameters.policy.parameters.map(\.bitPattern))
        #expect(back.normalizer!.mean.map(\.bitPattern) == normalizer.mean.map(\.bitPattern))
        #expect(back.normalizer!.variance.map(\.bitPattern) == normalizer.variance.map(\.bitPattern))
        #expect(back.normalizer!.count.bitPattern == normalizer.count.bitPattern)
        #expect(back.normalizer!.clip.bitPattern == normalizer.clip.bitPattern)
        #expect(back.policy.isWellFormed)
    }

    /// The zero-copy path: frames handed as raw buffers at odd addresses decode to the same
    /// message as the `[[UInt8]]` path.
    @Test(arguments: MessageKind.allCases)
    func unalignedBuffers(kind: MessageKind) throws {
        var generator = MessageGenerator(seed: 0xA11 + UInt64(kind.rawValue))
        for _ in 0..<50 {
            let message = generator.message(of: kind)
            let frames = WireCodec.encode(message)
            // One backing store; each frame starts at an odd offset.
            var storage = [UInt8]()
            var ranges = [Range<Int>]()
            for frame in frames {
                storage.append(0xEE)
                ranges.append(storage.count..<(storage.count + frame.count))
                storage += frame
            }
            let decoded = try storage.withUnsafeBytes { (all: UnsafeRawBufferPointer) throws(ProtocolError) -> Message in
                let buffers = ranges.map { UnsafeRawBufferPointer(rebasing: all[$0]) }
                return try WireCodec.decode(buffers)
            }
            #expect(decoded == message)
        }
    }

    /// A chunk of the sampler's shape round-trips, including an empty bootstrap list and
    /// no finished episodes.
    @Test func chunkWithoutTruncationsOrEpisodes() throws {
        var batch = SampleBatch(observationSize: 3, actionWidth: 2)
        batch.observations = [1, 2, 3, 4, 5, 6]
        batch.actions = [0.5, -0.5, 1, -1]
        batch.rewards = [1, 1]
        batch.ends = [.none, .terminated]
        let chunk = Message.Chunk(worker: WorkerIdentity(id: 3, nonce: 9), session: 1, version: 2, sequence: 0,
                                  simulatorSteps: 2, batch: batch)
        #expect(try WireCodec.decode(WireCodec.encode(.chunk(chunk))) == .chunk(chunk))
    }
}
