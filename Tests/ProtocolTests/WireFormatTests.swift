import Core
import Protocol
import Testing

/// The layout facts docs/protocol.md states, checked against the codec.
@Suite struct WireFormatTests {
    /// docs/protocol.md's worked example: a one-row chunk, frame by frame.
    @Test func workedExample() {
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        batch.observations = [1, -2]
        batch.actions = [0.5]
        batch.rewards = [1]
        batch.ends = [.truncated]
        batch.bootstrapRows = [0]
        batch.bootstrapObservations = [1.5, -2.5]
        let chunk = Message.Chunk(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), session: 0xAA,
                                  version: 5, sequence: 0, simulatorSteps: 1, batch: batch)
        let expected = [
            """
            54 52 50 4f 01 00 03 00 88 77 66 55 44 33 22 11 aa 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00
            00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 02 00 00 00 01 00 00 00
            01 00 00 00 00 00 00 00
            """,
            "00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 c0",
            "00 00 00 00 00 00 e0 3f",
            "00 00 00 00 00 00 f0 3f",
            "02",
            "00 00 00 00",
            "00 00 00 00 00 00 f8 3f 00 00 00 00 00 00 04 c0",
            "",
            "",
        ].map { hex in hex.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! } }
        let frames = WireCodec.encode(.chunk(chunk))
        #expect(frames == expected)
        #expect((try? WireCodec.decode(expected)) == .chunk(chunk))
    }

    /// Header sizes and frame counts per kind, as tabulated.
    @Test func headerSizesAndFrameCounts() {
        var generator = MessageGenerator(seed: 3)
        let sizes: [MessageKind: Int] = [.hello: 41, .parameters: 74, .chunk: 72, .heartbeat: 44, .stop: 21,
                                         .requestParameters: 20, .reject: 37]
        for kind in MessageKind.allCases {
            for _ in 0..<20 {
                let message = generator.message(of: kind)
                let frames = WireCodec.encode(message)
                #expect(frames[0].count == sizes[kind])
                #expect(Array(frames[0][0..<8]) == WireCodec.magic + [1, 0, kind.rawValue, frames[0][7]])
                let expectedFrames: Int = switch message {
                case .hello(let hello): if case .box = hello.actionSpace { 5 } else { 3 }
                case .parameters(let parameters): parameters.normalizer == nil ? 4 : 6
                case .chunk: 9
                case .stop, .reject: 2
                case .heartbeat, .requestParameters: 1
                }
                #expect(frames.count == expectedFrames)
            }
        }
    }

    /// A socket layer's own frame type decodes through ``FrameSource``.
    @Test func customFrameSource() throws {
        struct Parts: FrameSource {
            let parts: [[UInt8]]
            var count: Int { parts.count }
            func withFrame<R, E: Error>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
                try parts[index].withFrameBytes(body)
            }
        }
        let message = Message.requestParameters(WorkerIdentity(id: 4, nonce: 5))
        #expect(try WireCodec.decode(Parts(parts: WireCodec.encode(message))) == message)
    }
}
