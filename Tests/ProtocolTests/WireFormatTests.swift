import Core
import Foundation
import Protocol
import Testing

/// The layout facts docs/protocol.md states, checked against the codec; the worked examples
/// are read out of the document (``DocumentedExamples``).
@Suite struct WireFormatTests {
    /// Frames from space- or newline-separated hex bytes.
    static func frames(_ hex: [String]) -> [[UInt8]] {
        hex.map { frame in frame.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! } }
    }

    /// docs/protocol.md's worked example 7.1: a hello that leaves the simulator count to the learner.
    @Test func workedExampleHello() throws {
        let hello = Message.Hello(nonce: 0x1122_3344_5566_7788, workerID: 1, simulatorCount: 0,
                                  environmentID: "MountainCarContinuous-v0", softwareVersion: "trpo")
        let expected = try DocumentedExamples.allFrames("7.1")
        #expect(WireCodec.encode(.hello(hello)) == expected)
        #expect((try? WireCodec.decode(expected)) == .hello(hello))
    }

    /// docs/protocol.md's worked example 7.2: parameters with a normaliser.
    @Test func workedExampleParameters() throws {
        let policy = Policy(head: .gaussian(dimensions: 1),
                            network: MLP(layerSizes: [2, 1], activation: .tanh, parameters: [0.5, -0.5, 0]),
                            logStd: [-0.5])
        let normalizer = RunningNormalizer(mean: [0.5, -1], variance: [1, 4], count: 100, clip: 10)
        let parameters = Message.Parameters(session: 0xAA, version: 5, seed: 1, environmentID: "MountainCarContinuous-v0",
                                            simulatorCount: 8, chunkSteps: 512, quota: 0, policy: policy,
                                            normalizer: normalizer, sampling: .singlePath, stream: 1, collection: 5)
        let expected = try DocumentedExamples.allFrames("7.2")
        #expect(WireCodec.encode(.parameters(parameters)) == expected)
        #expect((try? WireCodec.decode(expected)) == .parameters(parameters))
    }

    /// docs/protocol.md's worked example 7.4: the parameters of 7.2 for a vine run (trunks
    /// of 250 steps, N = 100, K = 4, T = 100, γ = 0.99, CRN), worker 1's share of 50 states.
    @Test func workedExampleVineParameters() throws {
        guard case .parameters(var parameters) = try WireCodec.decode(DocumentedExamples.allFrames("7.2")) else {
            Issue.record("worked example 7.2 is not parameters")
            return
        }
        parameters.sampling = .vine(VineSettings(trunkSteps: 250, rolloutStates: 100, actionsPerState: 4, rolloutLength: 100,
                                                 gamma: 0.99, commonRandomNumbers: true))
        parameters.chunkSteps = 50
        parameters.quota = 50
        let header = try DocumentedExamples.frames("7.4")[0]!
        var frames = WireCodec.encode(.parameters(parameters))
        #expect(frames[0] == header)
        frames[0] = header
        #expect(try WireCodec.decode(frames) == .parameters(parameters))
    }

    /// docs/protocol.md's worked example 7.5: a vine chunk of one state and its two
    /// enumerated actions, one branch cut and one terminated, and a trunk of four rows.
    @Test func workedExampleVineChunk() throws {
        let chunk = Message.VineChunk(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), session: 0xAA,
                                      version: 5, sequence: 1, batch: Self.exampleVineBatch)
        let expected = try DocumentedExamples.allFrames("7.5")
        #expect(WireCodec.encode(.vineChunk(chunk)) == expected)
        #expect((try? WireCodec.decode(expected)) == .vineChunk(chunk))
        let batch = Self.exampleVineBatch
        #expect(batch.trunkSteps == 4 && batch.branchSteps == 5 && batch.cutCount == 1 && chunk.batch.simulatorSteps == 9)
    }

    /// The batch of worked example 7.5.
    static var exampleVineBatch: VineBatch {
        var batch = VineBatch(observationSize: 2, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        batch.observations = [0.5, -1]
        batch.actions = [0, 1]
        batch.branchReturns = [3, 2.5]
        batch.oldLogProbabilities = [log(0.5), log(0.5)]
        batch.branchLengths = [3, 2]
        batch.branchEnds = [.truncated, .terminated]
        batch.cutObservations = [1.5, -2.5]
        batch.trunks.observations = [0, 0, 0.5, -1, 1, -2, 0, 0.5]
        batch.trunks.actions = [1, 0, 1, 0]
        batch.trunks.rewards = [1, 1, 1, 1]
        batch.trunks.ends = [.none, .none, .terminated, .truncated]
        batch.trunks.bootstrapRows = [3]
        batch.trunks.bootstrapObservations = [0.5, 0]
        batch.trunks.episodeReturns = [3]
        batch.trunks.episodeLengths = [3]
        return batch
    }

    /// docs/protocol.md's worked example 7.3: a one-row chunk, frame by frame.
    @Test func workedExampleChunk() throws {
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        batch.observations = [1, -2]
        batch.actions = [0.5]
        batch.rewards = [1]
        batch.ends = [.truncated]
        batch.bootstrapRows = [0]
        batch.bootstrapObservations = [1.5, -2.5]
        let chunk = Message.Chunk(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), session: 0xAA,
                                  version: 5, sequence: 0, simulatorSteps: 1, batch: batch)
        let expected = try DocumentedExamples.allFrames("7.3")
        let frames = WireCodec.encode(.chunk(chunk))
        #expect(frames == expected)
        #expect((try? WireCodec.decode(expected)) == .chunk(chunk))
    }

    /// docs/protocol.md's worked example 7.6: the learner of 7.2 runs a custom model, the
    /// nine-byte MJCF text `<mujoco/>`; its parameters name it by hash.
    @Test func workedExampleModel() throws {
        let model = Message.Model(session: 0xAA, xml: "<mujoco/>")
        #expect(model.hash == 0xF405_3C9F_5A9D_B5A9)
        let expected = try DocumentedExamples.allFrames("7.6")
        #expect(WireCodec.encode(.model(model)) == expected)
        #expect(try WireCodec.decode(expected) == .model(model))
        // The parameters of 7.2 naming it: header bytes 72…79 hold the hash.
        let policy = Policy(head: .gaussian(dimensions: 1),
                            network: MLP(layerSizes: [2, 1], activation: .tanh, parameters: [0.5, -0.5, 0]), logStd: [-0.5])
        let parameters = Message.Parameters(session: 0xAA, version: 5, seed: 1, environmentID: "MountainCarContinuous-v0",
                                            simulatorCount: 8, chunkSteps: 512, quota: 0, policy: policy, normalizer: nil,
                                            modelHash: model.hash)
        #expect(Array(WireCodec.encode(.parameters(parameters))[0][72..<80]) == WireFormatTests.frames(["a9 b5 9d 5a 9f 3c 05 f4"])[0])
    }

    /// docs/protocol.md's worked examples 7.7 (worker 1 asks for that model) and 7.8 (a
    /// worker that cannot collect for the run leaves).
    @Test func workedExampleRequestModelAndLeave() throws {
        let worker = WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788)
        let request = Message.ModelRequest(worker: worker, hash: 0xF405_3C9F_5A9D_B5A9)
        let requestFrames = try DocumentedExamples.allFrames("7.7")
        #expect(WireCodec.encode(.requestModel(request)) == requestFrames)
        #expect(try WireCodec.decode(requestFrames) == .requestModel(request))
        let leave = Message.Leave(worker: worker, reason: .incompatible, message: "no body")
        let leaveFrames = try DocumentedExamples.allFrames("7.8")
        #expect(WireCodec.encode(.leave(leave)) == leaveFrames)
        #expect(try WireCodec.decode(leaveFrames) == .leave(leave))
    }

    /// Header sizes and frame counts per kind, as tabulated.
    /// docs/protocol.md's worked examples 7.9 (a worker started without an id asks the
    /// learner for one) and 7.10 (the learner's welcome assigns it id 3).
    @Test func workedExampleAssignedID() throws {
        let hello = Message.Hello(nonce: 0x1122_3344_5566_7788, workerID: nil, simulatorCount: 0, environmentID: "",
                                  softwareVersion: "trpo")
        let helloFrames = try DocumentedExamples.allFrames("7.9")
        #expect(WireCodec.encode(.hello(hello)) == helloFrames)
        #expect(try WireCodec.decode(helloFrames) == .hello(hello))

        let welcome = Message.Welcome(session: 0xAA, worker: WorkerIdentity(id: 3, nonce: 0x1122_3344_5566_7788),
                                      assigned: true, heartbeatInterval: .seconds(1), workerTimeout: .seconds(10),
                                      softwareVersion: "trpo", environmentID: "CartPole-v1")
        let welcomeFrames = try DocumentedExamples.allFrames("7.10")
        #expect(WireCodec.encode(.welcome(welcome)) == welcomeFrames)
        #expect(try WireCodec.decode(welcomeFrames) == .welcome(welcome))
    }

    /// docs/protocol.md's worked examples 7.11 (the welcome of a run of `gym:Pendulum-v1`
    /// with arguments, asking for the spec) and 7.12 (the worker's environmentSpec).
    @Test func workedExampleExternalEnvironment() throws {
        let worker = WorkerIdentity(id: 3, nonce: 0x1122_3344_5566_7788)
        let welcome = Message.Welcome(session: 0xAA, worker: worker, assigned: true, heartbeatInterval: .seconds(1),
                                      workerTimeout: .seconds(10), softwareVersion: "trpo", environmentID: "gym:Pendulum-v1",
                                      environmentArguments: #"{"g": 9.81}"#, specRequired: true)
        let welcomeFrames = try DocumentedExamples.allFrames("7.11")
        #expect(WireCodec.encode(.welcome(welcome)) == welcomeFrames)
        #expect(try WireCodec.decode(welcomeFrames) == .welcome(welcome))

        let spec = EnvironmentSpec(observationShape: [3], observationType: .float32, actionSpace: .box(low: [-2], high: [2]),
                                   timeLimit: 200, canSnapshot: true)
        let report = Message.EnvironmentSpecReport(worker: worker, spec: spec)
        let specFrames = try DocumentedExamples.allFrames("7.12")
        #expect(WireCodec.encode(.environmentSpec(report)) == specFrames)
        #expect(try WireCodec.decode(specFrames) == .environmentSpec(report))
        // The example's second worker, whose box is [-3, 3], differs as the document says.
        var other = spec
        other.actionSpace = .box(low: [-3], high: [3])
        #expect(other.difference(from: spec) == "action low [-3.0] (run: [-2.0])")
    }

    /// docs/protocol.md's worked example 7.13: parameters of a convolutional policy.
    @Test func workedExampleConvolutionalParameters() throws {
        let architecture = ConvolutionalArchitecture(
            input: ImageShape(height: 2, width: 2, channels: 1), convolutions: [ConvolutionSpec(filters: 1, kernel: 2, stride: 1)],
            hiddenSizes: [], activation: .relu)
        let policy = ConvolutionalPolicy(
            head: .categorical(actions: 2),
            network: ConvolutionalNetwork(architecture: architecture, outputSize: 2, parameters: [0.5, -0.5, 0.25, 0, 0, 1, -1, 0, 0]),
            logStd: [])
        let parameters = Message.Parameters(session: 0xAA, version: 5, seed: 1, environmentID: "Pixels-v0", simulatorCount: 8,
                                            chunkSteps: 512, quota: 0, policy: .convolutional(policy), normalizer: nil,
                                            stream: 1, collection: 5)
        let expected = try DocumentedExamples.allFrames("7.13")
        #expect(WireCodec.encode(.parameters(parameters)) == expected)
        #expect((try? WireCodec.decode(expected)) == .parameters(parameters))
        // The logits the text states: h = relu((0.5·p00 − 0.5·p01 + 0.25·p10) / 255), (h, −h).
        let logits = policy.network.forward(FrameBatch(shape: architecture.input, rows: 1, pixels: [200, 40, 100, 7])).output
        let h = (0.5 * 200 - 0.5 * 40 + 0.25 * 100) / 255.0
        #expect(abs(logits[0, 0] - h) < 1e-12 && abs(logits[0, 1] + h) < 1e-12)
    }

    /// docs/protocol.md's worked example 7.14: a chunk of uint8 frames.
    @Test func workedExamplePixelChunk() throws {
        var batch = FrameSamples(observationSize: 4, actionWidth: 1)
        batch.observations = [0, 255, 16, 128, 1, 2, 3, 4]
        batch.actions = [1, 0]
        batch.rewards = [0, 1]
        batch.ends = [.terminated, .truncated]
        batch.bootstrapRows = [1]
        batch.bootstrapObservations = [9, 8, 7, 6]
        batch.episodeReturns = [0]
        batch.episodeLengths = [40]
        let chunk = Message.Chunk(worker: WorkerIdentity(id: 1, nonce: 0x1122_3344_5566_7788), session: 0xAA, version: 5,
                                  sequence: 0, simulatorSteps: 2, batch: .frames(batch))
        let expected = try DocumentedExamples.allFrames("7.14")
        #expect(WireCodec.encode(.chunk(chunk)) == expected)
        #expect((try? WireCodec.decode(expected)) == .chunk(chunk))
    }

    @Test func headerSizesAndFrameCounts() {
        var generator = MessageGenerator(seed: 3)
        let sizes: [MessageKind: Int] = [.hello: 32, .parameters: 136, .chunk: 72, .heartbeat: 44, .stop: 21,
                                         .requestParameters: 20, .reject: 37, .vineChunk: 77, .model: 28,
                                         .requestModel: 28, .leave: 25, .welcome: 48, .environmentSpec: 34]
        for kind in MessageKind.allCases {
            for _ in 0..<20 {
                let message = generator.message(of: kind)
                let frames = WireCodec.encode(message)
                #expect(frames[0].count == sizes[kind])
                #expect(Array(frames[0][0..<8]) == WireCodec.magic + [7, 0, kind.rawValue, frames[0][7]])
                let expectedFrames: Int = switch message {
                case .hello: 3
                case .parameters(let parameters):
                    if case .convolutional = parameters.policy { 6 } else { parameters.normalizer == nil ? 5 : 7 }
                case .chunk: 9
                case .vineChunk: 16
                case .stop, .reject, .model, .leave: 2
                case .welcome, .environmentSpec: 4
                case .heartbeat, .requestParameters, .requestModel: 1
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
