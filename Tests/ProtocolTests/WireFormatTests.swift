import Core
import Protocol
import Testing

/// The layout facts docs/protocol.md states, checked against the codec.
@Suite struct WireFormatTests {
    /// Frames from space- or newline-separated hex bytes.
    static func frames(_ hex: [String]) -> [[UInt8]] {
        hex.map { frame in frame.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! } }
    }

    static let environmentHex = "4d 6f 75 6e 74 61 69 6e 43 61 72 43 6f 6e 74 69 6e 75 6f 75 73 2d 76 30"

    /// docs/protocol.md's worked example 7.1: a hello that leaves the simulator count to the learner.
    @Test func workedExampleHello() {
        let hello = Message.Hello(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), simulatorCount: 0,
                                  environmentID: "MountainCarContinuous-v0", softwareVersion: "trpo")
        let expected = WireFormatTests.frames([
            """
            54 52 50 4f 01 00 01 00 88 77 66 55 44 33 22 11 01 00 00 00 00 00 00 00 18 00 00 00 04 00 00 00
            """,
            WireFormatTests.environmentHex,
            "74 72 70 6f",
        ])
        #expect(WireCodec.encode(.hello(hello)) == expected)
        #expect((try? WireCodec.decode(expected)) == .hello(hello))
    }

    /// docs/protocol.md's worked example 7.2: parameters with a normaliser.
    @Test func workedExampleParameters() {
        let policy = Policy(head: .gaussian(dimensions: 1),
                            network: MLP(layerSizes: [2, 1], activation: .tanh, parameters: [0.5, -0.5, 0]),
                            logStd: [-0.5])
        let normalizer = RunningNormalizer(mean: [0.5, -1], variance: [1, 4], count: 100, clip: 10)
        let parameters = Message.Parameters(session: 0xAA, version: 5, seed: 1, environmentID: "MountainCarContinuous-v0",
                                            simulatorCount: 8, chunkSteps: 512, quota: 0, policy: policy,
                                            normalizer: normalizer)
        let expected = WireFormatTests.frames([
            """
            54 52 50 4f 01 00 02 01 aa 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
            00 00 00 00 00 00 59 40 00 00 00 00 00 00 24 40 18 00 00 00 08 00 00 00 00 02 00 00 00 00 00 00
            02 00 00 00 03 00 00 00 01 00 00 00 01 00 00 00 02 00 00 00 01 00
            """,
            WireFormatTests.environmentHex,
            "02 00 00 00 01 00 00 00",
            "00 00 00 00 00 00 e0 3f 00 00 00 00 00 00 e0 bf 00 00 00 00 00 00 00 00",
            "00 00 00 00 00 00 e0 bf",
            "00 00 00 00 00 00 e0 3f 00 00 00 00 00 00 f0 bf",
            "00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 10 40",
        ])
        #expect(WireCodec.encode(.parameters(parameters)) == expected)
        #expect((try? WireCodec.decode(expected)) == .parameters(parameters))
    }

    /// docs/protocol.md's worked example 7.3: a one-row chunk, frame by frame.
    @Test func workedExampleChunk() {
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        batch.observations = [1, -2]
        batch.actions = [0.5]
        batch.rewards = [1]
        batch.ends = [.truncated]
        batch.bootstrapRows = [0]
        batch.bootstrapObservations = [1.5, -2.5]
        let chunk = Message.Chunk(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), session: 0xAA,
                                  version: 5, sequence: 0, simulatorSteps: 1, batch: batch)
        let expected = WireFormatTests.frames([
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
        ])
        let frames = WireCodec.encode(.chunk(chunk))
        #expect(frames == expected)
        #expect((try? WireCodec.decode(expected)) == .chunk(chunk))
    }

    /// Header sizes and frame counts per kind, as tabulated.
    @Test func headerSizesAndFrameCounts() {
        var generator = MessageGenerator(seed: 3)
        let sizes: [MessageKind: Int] = [.hello: 32, .parameters: 86, .chunk: 72, .heartbeat: 44, .stop: 21,
                                         .requestParameters: 20, .reject: 37]
        for kind in MessageKind.allCases {
            for _ in 0..<20 {
                let message = generator.message(of: kind)
                let frames = WireCodec.encode(message)
                #expect(frames[0].count == sizes[kind])
                #expect(Array(frames[0][0..<8]) == WireCodec.magic + [1, 0, kind.rawValue, frames[0][7]])
                let expectedFrames: Int = switch message {
                case .hello: 3
                case .parameters(let parameters): parameters.normalizer == nil ? 5 : 7
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
