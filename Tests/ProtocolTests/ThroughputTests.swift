import Core
import Protocol
import Testing

/// Wire overhead and decode speed of sampler-sized chunks: 4096 rows, 11-wide observations,
/// 3-wide actions, episodes of 1000 steps. Speed is printed, not asserted (this VM's timings
/// vary several-fold); run it in a release build for meaningful numbers:
/// `swift test -c release -Xswiftc -enable-testing --filter ThroughputTests`.
@Suite struct ThroughputTests {
    static let rows = 4096, observationSize = 11, actionWidth = 3

    static func chunk() -> Message.Chunk {
        var generator = MessageGenerator(seed: 0x7090)
        var batch = SampleBatch(observationSize: observationSize, actionWidth: actionWidth)
        batch.observations = (0..<(rows * observationSize)).map { _ in generator.random.normal() }
        batch.actions = (0..<(rows * actionWidth)).map { _ in generator.random.normal() }
        batch.rewards = (0..<rows).map { _ in generator.random.normal() }
        for row in 0..<rows {
            let end: StepEnd = row == rows - 1 ? .truncated : (row % 1000 == 999 ? .truncated : .none)
            batch.ends.append(end)
            if end == .truncated {
                batch.bootstrapRows.append(row)
                batch.bootstrapObservations += (0..<observationSize).map { _ in generator.random.normal() }
                if row % 1000 == 999 {
                    batch.episodeReturns.append(100)
                    batch.episodeLengths.append(1000)
                }
            }
        }
        return Message.Chunk(worker: WorkerIdentity(id: 1, nonce: 2), session: 3, version: 4, sequence: 5,
                             simulatorSteps: UInt64(rows), batch: batch)
    }

    /// Payload bytes of one sample: observation, action, reward (Float64) and end (UInt8).
    static let rawBytesPerSample = (observationSize + actionWidth + 1) * 8 + 1

    /// Bytes a ZMTP 3 connection carries for these frames: each frame has a flags byte and a
    /// 1-byte (≤ 255) or 8-byte size. (The routing-id frame never crosses the wire: the
    /// ROUTER adds it locally.)
    static func zmtpBytes(_ frames: [[UInt8]]) -> Int {
        frames.reduce(0) { $0 + $1.count + ($1.count <= 255 ? 2 : 9) }
    }

    @Test func wireBytesPerSampleWithinTenPercentOfPayload() {
        let frames = WireCodec.encode(.chunk(Self.chunk()))
        let perSample = Double(Self.zmtpBytes(frames)) / Double(Self.rows)
        print("chunk of \(Self.rows) rows: \(Self.zmtpBytes(frames)) bytes on the wire, \(perSample) per sample, raw payload \(Self.rawBytesPerSample) (ratio \(perSample / Double(Self.rawBytesPerSample)))")
        #expect(perSample <= 1.1 * Double(Self.rawBytesPerSample))
    }

    @Test func decodeThroughput() throws {
        let chunk = Self.chunk()
        let frames = WireCodec.encode(.chunk(chunk))
        let bytes = frames.reduce(0) { $0 + $1.count }
        #expect(try WireCodec.decode(frames) == .chunk(chunk))

        // Frames at odd addresses, as a socket layer might hand them.
        var storage = [UInt8]()
        var ranges = [Range<Int>]()
        for frame in frames {
            storage.append(0)
            ranges.append(storage.count..<(storage.count + frame.count))
            storage += frame
        }

        func measure(_ label: String, _ decode: () throws -> Message) throws {
            var decoded = 0
            let clock = ContinuousClock()
            let start = clock.now
            var elapsed = Duration.zero
            while elapsed < .milliseconds(700) {
                for _ in 0..<20 {
                    guard case .chunk(let c) = try decode() else { Issue.record("not a chunk"); return }
                    decoded += c.batch.count
                }
                elapsed = clock.now - start
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let samples = Double(decoded) / seconds
            print("\(label): \(Int(samples)) samples/s, \(Int(samples * Double(bytes) / Double(Self.rows) / 1e6)) MB/s")
        }
        try measure("decode [[UInt8]]") { try WireCodec.decode(frames) }
        try storage.withUnsafeBytes { all in
            let buffers = ranges.map { UnsafeRawBufferPointer(rebasing: all[$0]) }
            try measure("decode unaligned [UnsafeRawBufferPointer]") { try WireCodec.decode(buffers) }
        }
        try measure("encode + decode") { try WireCodec.decode(WireCodec.encode(.chunk(chunk))) }
    }
}
