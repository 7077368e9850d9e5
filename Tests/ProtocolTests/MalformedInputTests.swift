import Core
import Protocol
import Testing

/// Small valid messages that the malformed cases are cut from.
enum Base {
    static let worker = WorkerIdentity(id: 7, nonce: 0x0123_4567_89AB_CDEF)

    /// 4 rows, observations of 2, actions of 1; ends [truncated, none, truncated, terminated];
    /// bootstrap rows [0, 2]; one finished episode.
    static let chunk: [[UInt8]] = {
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        batch.observations = [0, 1, 2, 3, 4, 5, 6, 7]
        batch.actions = [0.5, -0.5, 0.25, 0]
        batch.rewards = [1, 1, 1, 1]
        batch.ends = [.truncated, .none, .truncated, .terminated]
        batch.bootstrapRows = [0, 2]
        batch.bootstrapObservations = [10, 11, 12, 13]
        batch.episodeReturns = [2]
        batch.episodeLengths = [2]
        return WireCodec.encode(.chunk(Message.Chunk(worker: worker, session: 1, version: 2, sequence: 3,
                                                     simulatorSteps: 4, batch: batch)))
    }()

    /// ``chunk`` with uint8 observations (4 rows of 2 values, bootstrap frames of 2 values).
    static let pixelChunk: [[UInt8]] = {
        guard case .chunk(var chunk) = try! WireCodec.decode(Base.chunk), case .features(let features) = chunk.batch else {
            fatalError("not a chunk")
        }
        var frames = FrameSamples(observationSize: 2, actionWidth: 1)
        (frames.actions, frames.rewards, frames.ends) = (features.actions, features.rewards, features.ends)
        (frames.bootstrapRows, frames.episodeReturns, frames.episodeLengths) = (features.bootstrapRows, features.episodeReturns,
                                                                              features.episodeLengths)
        frames.observations = [0, 1, 2, 3, 4, 5, 6, 255]
        frames.bootstrapObservations = [10, 11, 12, 13]
        chunk.batch = .frames(frames)
        return WireCodec.encode(.chunk(chunk))
    }()

    /// Environment Pixels-v0: a categorical policy of 2 actions on 5×5×2 frames, convolutions
    /// 2 × 3×3 stride 1 (3×3×2 out), 3 × 2×2 stride 1 (2×2×3 out), no hidden dense layer:
    /// layer sizes [12, 2] and 38 + 27 + 26 = 91 network parameters.
    static let convolutionalParameters: [[UInt8]] = {
        var random = RandomStream(seed: 2)
        let architecture = ConvolutionalArchitecture(
            input: ImageShape(height: 5, width: 5, channels: 2),
            convolutions: [ConvolutionSpec(filters: 2, kernel: 3, stride: 1), ConvolutionSpec(filters: 3, kernel: 2, stride: 1)],
            hiddenSizes: [], activation: .relu)
        let policy = ConvolutionalPolicy(architecture: architecture, head: .categorical(actions: 2), random: &random)
        return WireCodec.encode(.parameters(Message.Parameters(
            session: 1, version: 2, seed: 3, environmentID: "Pixels-v0", simulatorCount: 2, chunkSteps: 1000,
            quota: 2000, policy: .convolutional(policy), normalizer: nil)))
    }()

    /// A worker that accepts only Pendulum-v1 and runs 2 simulators.
    static let hello = WireCodec.encode(.hello(Message.Hello(
        nonce: worker.nonce, workerID: worker.id, simulatorCount: 2, environmentID: "Pendulum-v1", softwareVersion: "test")))

    /// A worker that leaves the environment and the simulator count to the learner.
    static let openHello = WireCodec.encode(.hello(Message.Hello(
        nonce: worker.nonce, workerID: worker.id, simulatorCount: 0, environmentID: "", softwareVersion: "")))

    /// A worker without an id of its own: the learner is to assign one.
    static let assignHello = WireCodec.encode(.hello(Message.Hello(
        nonce: worker.nonce, workerID: nil, simulatorCount: 0, environmentID: "", softwareVersion: "")))

    /// The learner's welcome to ``worker``, whose id it assigned: heartbeats every 1 s, silence
    /// of 10 s drops a worker.
    static let welcome = WireCodec.encode(.welcome(Message.Welcome(
        session: 1, worker: worker, assigned: true, heartbeatInterval: .seconds(1), workerTimeout: .seconds(10),
        softwareVersion: "trpo", environmentID: "gym:Pendulum-v1", environmentArguments: "{}", specRequired: true)))

    /// ``worker``'s spec of a Pendulum: observations (3,) float32, a box of 1 in [−2, 2], a limit
    /// of 200 steps, snapshots.
    static let environmentSpec = WireCodec.encode(.environmentSpec(Message.EnvironmentSpecReport(
        worker: worker, spec: EnvironmentSpec(observationShape: [3], observationType: .float32,
                                              actionSpace: .box(low: [-2], high: [2]), timeLimit: 200, canSnapshot: true))))

    /// The same worker's spec of a CartPole: observations (4,), two actions.
    static let discreteSpec = WireCodec.encode(.environmentSpec(Message.EnvironmentSpecReport(
        worker: worker, spec: EnvironmentSpec(observationShape: [4], observationType: .float32,
                                              actionSpace: .discrete(count: 2), timeLimit: 500, canSnapshot: false))))

    /// Environment Pendulum-v1, 2 suggested simulators, chunks of 1000 rows, a quota of 2000
    /// rows; Gaussian head of 2 dimensions, layer sizes [3, 4, 2] (26 network parameters),
    /// tanh, normaliser of size 3.
    static let parameters: [[UInt8]] = {
        var random = RandomStream(seed: 1)
        let policy = Policy(observationSize: 3, head: .gaussian(dimensions: 2), hiddenSizes: [4], random: &random)
        var normalizer = RunningNormalizer(size: 3)
        normalizer.update(with: Matrix(rows: 2, columns: 3, storage: [1, 2, 3, 4, 5, 6]))
        return WireCodec.encode(.parameters(Message.Parameters(
            session: 1, version: 2, seed: 3, environmentID: "Pendulum-v1", simulatorCount: 2, chunkSteps: 1000,
            quota: 2000, policy: policy, normalizer: normalizer)))
    }()

    /// ``parameters`` for a vine run: trunks of 50 steps, N = 20, K = 4, T = 30, γ = 0.99, CRN.
    static let vineParameters: [[UInt8]] = {
        guard case .parameters(var p) = try! WireCodec.decode(parameters) else { fatalError("not parameters") }
        p.sampling = .vine(VineSettings(trunkSteps: 50, rolloutStates: 20, actionsPerState: 4, rolloutLength: 30, gamma: 0.99))
        return WireCodec.encode(.parameters(p))
    }()

    /// 2 states of 3 observations, K = 2 enumerated actions (width 1), branch returns
    /// (1, 2, 3, 4) of lengths (2, 1, 3, 2), branches 0 and 2 cut, 1 and 3 terminated; one
    /// trunk of 10 rows whose episode of 5 steps (return 5) terminates at row 4 and whose last
    /// row is cut (bootstrap row 9).
    static let vineChunk: [[UInt8]] = {
        var batch = VineBatch(observationSize: 3, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        batch.observations = [0, 1, 2, 3, 4, 5]
        batch.actions = [0, 1, 0, 1]
        batch.branchReturns = [1, 2, 3, 4]
        batch.oldLogProbabilities = [-0.5, -1, -0.25, -1.5]
        batch.branchLengths = [2, 1, 3, 2]
        batch.branchEnds = [.truncated, .terminated, .truncated, .terminated]
        batch.cutObservations = [6, 7, 8, 9, 10, 11]
        batch.trunks.observations = (0..<30).map(Double.init)
        batch.trunks.actions = (0..<10).map { Double($0 % 2) }
        batch.trunks.rewards = [Double](repeating: 1, count: 10)
        batch.trunks.ends = (0..<10).map { $0 == 4 ? .terminated : $0 == 9 ? .truncated : .none }
        batch.trunks.bootstrapRows = [9]
        batch.trunks.bootstrapObservations = [30, 31, 32]
        batch.trunks.episodeReturns = [5]
        batch.trunks.episodeLengths = [5]
        return WireCodec.encode(.vineChunk(Message.VineChunk(worker: worker, session: 1, version: 2, sequence: 3, batch: batch)))
    }()

    /// ``vineChunk`` with uint8 observations (states, cut observations, trunk observations and
    /// trunk bootstrap observations one byte per value).
    static let pixelVineChunk: [[UInt8]] = {
        guard case .vineChunk(var chunk) = try! WireCodec.decode(Base.vineChunk), case .features(let features) = chunk.batch else {
            fatalError("not a vine chunk")
        }
        var frames = FrameVineBatch(observationSize: 3, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
        (frames.actions, frames.branchReturns, frames.oldLogProbabilities) = (features.actions, features.branchReturns,
                                                                             features.oldLogProbabilities)
        (frames.branchLengths, frames.branchEnds) = (features.branchLengths, features.branchEnds)
        frames.observations = [0, 1, 2, 3, 4, 255]
        frames.cutObservations = [6, 7, 8, 9, 10, 11]
        let trunks = features.trunks
        (frames.trunks.actions, frames.trunks.rewards, frames.trunks.ends) = (trunks.actions, trunks.rewards, trunks.ends)
        (frames.trunks.bootstrapRows, frames.trunks.episodeReturns, frames.trunks.episodeLengths) =
            (trunks.bootstrapRows, trunks.episodeReturns, trunks.episodeLengths)
        frames.trunks.observations = (0..<30).map(UInt8.init)
        frames.trunks.bootstrapObservations = [30, 31, 32]
        chunk.batch = .frames(frames)
        return WireCodec.encode(.vineChunk(chunk))
    }()

    static let workerHeartbeat = WireCodec.encode(.heartbeat(Message.Heartbeat(
        sender: .worker(worker), sequence: 5, timestamp: 6, version: nil)))
    static let learnerHeartbeat = WireCodec.encode(.heartbeat(Message.Heartbeat(
        sender: .learner(session: 1), sequence: 5, timestamp: 6, version: 9)))
    static let stop = WireCodec.encode(.stop(Message.Stop(session: 1, reason: .finished, message: "done")))
    static let reject = WireCodec.encode(.reject(Message.Reject(
        session: 1, currentVersion: 3, reason: .staleParameters, sequence: nil, message: "")))
    static let request = WireCodec.encode(.requestParameters(worker))

    /// A 22-byte custom model.
    static let modelXML = #"<mujoco model="tiny"/>"#
    static let modelHash = Message.Model.hash(of: modelXML)
    static let model = WireCodec.encode(.model(Message.Model(session: 1, xml: modelXML)))
    static let requestModel = WireCodec.encode(.requestModel(Message.ModelRequest(worker: worker, hash: modelHash)))
    static let leave = WireCodec.encode(.leave(Message.Leave(worker: worker, reason: .incompatible, message: "bad")))
}

struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let frames: [[UInt8]]
    var limits = DecodingLimits.default
    let error: ProtocolError
    var testDescription: String { name }
}

extension MalformedCase {
    init(_ name: String, _ frames: [[UInt8]], limits: DecodingLimits = .default, _ error: ProtocolError) {
        self.init(name: name, frames: frames, limits: limits, error: error)
    }
}

@Suite struct MalformedInputTests {
    static let nan = Double.nan, inf = Double.infinity

    static let framing: [MalformedCase] = [
        .init("no frames", [], .noFrames),
        .init("over the total size", Base.chunk, limits: DecodingLimits(maxTotalBytes: 100),
              .messageTooLarge(bytes: 72 + 64 + 32 + 32 + 4 + 8 + 32 + 8 + 4, limit: 100)),
        .init("shorter than the prefix", [Array("TRP".utf8)], .headerTooShort(bytes: 3, expected: 8)),
        .init("empty header", [[]], .headerTooShort(bytes: 0, expected: 8)),
        .init("bad magic", Base.chunk.patching(at: 3, UInt8(ascii: "X")), .badMagic(Array("TRPX".utf8))),
        .init("version 1 (before the vine)", Base.chunk.patching(at: Offset.version, UInt16(1)), .unsupportedVersion(1)),
        .init("version 2 (before custom models)", Base.vineChunk.patching(at: Offset.version, UInt16(2)), .unsupportedVersion(2)),
        .init("version 3 (before assigned ids)", Base.hello.patching(at: Offset.version, UInt16(3)), .unsupportedVersion(3)),
        .init("version 4 (before external environments)", Base.hello.patching(at: Offset.version, UInt16(4)), .unsupportedVersion(4)),
        .init("version 5 (before bootstrapped vine branches)", Base.vineChunk.patching(at: Offset.version, UInt16(5)),
              .unsupportedVersion(5)),
        .init("version 6 (before pixels)", Base.chunk.patching(at: Offset.version, UInt16(6)), .unsupportedVersion(6)),
        .init("version 8", Base.model.patching(at: Offset.version, UInt16(8)), .unsupportedVersion(8)),
        .init("version 0", Base.stop.patching(at: Offset.version, UInt16(0)), .unsupportedVersion(0)),
        .init("kind 0", Base.stop.patching(at: Offset.kind, UInt8(0)), .unknownKind(0)),
        .init("kind 14", Base.stop.patching(at: Offset.kind, UInt8(14)), .unknownKind(14)),
        .init("hello asking for an id while naming one", Base.hello.patching(at: Offset.flags, UInt8(1)),
              .invalidValue(.workerID, 7)),
        .init("undefined hello flag", Base.hello.patching(at: Offset.flags, UInt8(2)), .unknownFlags(kind: .hello, flags: 2)),
        .init("undefined welcome flag", Base.welcome.patching(at: Offset.flags, UInt8(7)), .unknownFlags(kind: .welcome, flags: 7)),
        .init("welcome header one byte short", Base.welcome.replacing(frame: 0, with: Base.welcome[0].dropLast()),
              .headerTooShort(bytes: 47, expected: 48)),
        .init("version-4 welcome (40 bytes)", Base.welcome.replacing(frame: 0, with: Array(Base.welcome[0].prefix(40))),
              .headerTooShort(bytes: 40, expected: 48)),
        .init("welcome without an environment", Base.welcome.patching(at: Offset.Welcome.environmentIDLength, UInt32(0)),
              .invalidValue(.environmentID, 0)),
        .init("welcome arguments beyond maxStringBytes",
              Base.welcome.patching(at: Offset.Welcome.environmentArgumentsLength, UInt32(4097)),
              .limitExceeded(.environmentArguments, count: 4097, limit: 4096)),
        .init("welcome arguments longer than declared", Base.welcome.replacing(frame: 3, with: Array("{} ".utf8)),
              .frameLength(.environmentArguments, bytes: 3, expected: 2)),
        .init("welcome environment not UTF-8", Base.welcome.patching(frame: 2, at: 0, UInt8(0xFF)), .invalidUTF8(.environmentID)),
        .init("welcome arguments not UTF-8", Base.welcome.patching(frame: 3, at: 0, UInt8(0xFE)), .invalidUTF8(.environmentArguments)),
        .init("undefined environmentSpec flag", Base.environmentSpec.patching(at: Offset.flags, UInt8(2)),
              .unknownFlags(kind: .environmentSpec, flags: 2)),
        .init("environmentSpec rank 0", Base.environmentSpec.patching(at: Offset.EnvironmentSpec.observationRank, UInt32(0)),
              .invalidValue(.observationRank, 0)),
        .init("environmentSpec rank 9", Base.environmentSpec.patching(at: Offset.EnvironmentSpec.observationRank, UInt32(9)),
              .invalidValue(.observationRank, 9)),
        .init("environmentSpec action size 0", Base.environmentSpec.patching(at: Offset.EnvironmentSpec.actionSize, UInt32(0)),
              .invalidValue(.actionSize, 0)),
        .init("environmentSpec one discrete action", Base.discreteSpec.patching(at: Offset.EnvironmentSpec.actionSize, UInt32(1)),
              .invalidValue(.actionSize, 1)),
        .init("environmentSpec unknown observation type",
              Base.environmentSpec.patching(at: Offset.EnvironmentSpec.observationType, UInt8(11)), .invalidValue(.observationType, 11)),
        .init("environmentSpec unknown action kind", Base.environmentSpec.patching(at: Offset.EnvironmentSpec.actionKind, UInt8(2)),
              .invalidValue(.actionKind, 2)),
        .init("environmentSpec without its bounds", Array(Base.environmentSpec.prefix(2)),
              .frameCount(kind: .environmentSpec, count: 2, expected: 4)),
        .init("environmentSpec shape frame short", Base.environmentSpec.replacing(frame: 1, with: [3, 0, 0]),
              .frameLength(.observationShape, bytes: 3, expected: 4)),
        .init("environmentSpec discrete space with bounds", Base.discreteSpec.replacing(frame: 2, with: leBytes([0.0])),
              .frameLength(.actionLow, bytes: 8, expected: 0)),
        .init("environmentSpec empty dimension", Base.environmentSpec.replacing(frame: 1, with: leBytes([0] as [UInt32])),
              .invalidEnvironmentSpec("observation shape [0] has an empty dimension")),
        .init("environmentSpec shape beyond maxWidth", Base.environmentSpec.replacing(frame: 1, with: leBytes([65_537] as [UInt32])),
              .invalidEnvironmentSpec("observation shape [65537] exceeds 65536 values")),
        .init("environmentSpec NaN bound", Base.environmentSpec.replacing(frame: 2, with: leBytes([Double.nan])),
              .invalidEnvironmentSpec("action bounds hold NaN")),
        .init("environmentSpec low above high", Base.environmentSpec.replacing(frame: 2, with: leBytes([3.0])),
              .invalidEnvironmentSpec("action bound 0: low 3.0 > high 2.0")),
        .init("welcome heartbeat interval 0", Base.welcome.patching(at: Offset.Welcome.heartbeatInterval, UInt32(0)),
              .invalidValue(.heartbeatInterval, 0)),
        .init("welcome worker timeout 0", Base.welcome.patching(at: Offset.Welcome.workerTimeout, UInt32(0)),
              .invalidValue(.workerTimeout, 0)),
        .init("welcome without its software version", Array(Base.welcome.prefix(1)),
              .frameCount(kind: .welcome, count: 1, expected: 4)),
        .init("welcome software version longer than declared", Base.welcome.replacing(frame: 1, with: Array("trpo!".utf8)),
              .frameLength(.softwareVersion, bytes: 5, expected: 4)),
        .init("welcome software version not UTF-8", Base.welcome.patching(frame: 1, at: 0, UInt8(0xFF)),
              .invalidUTF8(.softwareVersion)),
        .init("model header one byte short", Base.model.replacing(frame: 0, with: Base.model[0].dropLast()),
              .headerTooShort(bytes: 27, expected: 28)),
        .init("leave header one byte long", Base.leave.replacing(frame: 0, with: Base.leave[0] + [0]),
              .headerTooLong(bytes: 26, expected: 25)),
        .init("undefined model flag", Base.model.patching(at: Offset.flags, UInt8(1)), .unknownFlags(kind: .model, flags: 1)),
        .init("model without its text frame", Array(Base.model.prefix(1)), .frameCount(kind: .model, count: 1, expected: 2)),
        .init("model request with an extra frame", Base.requestModel + [[]],
              .frameCount(kind: .requestModel, count: 2, expected: 1)),
        .init("leave without its text frame", Array(Base.leave.prefix(1)), .frameCount(kind: .leave, count: 1, expected: 2)),
        .init("parameters of version 2's 128-byte layout",
              Base.parameters.replacing(frame: 0, with: Array(Base.parameters[0].prefix(128))),
              .headerTooShort(bytes: 128, expected: 136)),
        .init("vine chunk header one byte short", Base.vineChunk.replacing(frame: 0, with: Base.vineChunk[0].dropLast()),
              .headerTooShort(bytes: 76, expected: 77)),
        .init("undefined vine chunk flag", Base.vineChunk.patching(at: Offset.flags, UInt8(2)), .unknownFlags(kind: .vineChunk, flags: 2)),
        .init("f64 vine states read as pixels", Base.vineChunk.patching(at: Offset.flags, UInt8(1)),
              .frameLength(.observations, bytes: 48, expected: 6)),
        .init("pixel vine chunk's cut observations one byte short",
              Base.pixelVineChunk.replacing(frame: 7, with: Array(Base.pixelVineChunk[7].dropLast())),
              .frameLength(.cutObservations, bytes: 5, expected: 6)),
        .init("pixel vine chunk's trunk bootstrap observations one byte long",
              Base.pixelVineChunk.replacing(frame: 13, with: Base.pixelVineChunk[13] + [0]),
              .frameLength(.trunkBootstrapObservations, bytes: 4, expected: 3)),
        .init("pixel vine states read as f64", Base.pixelVineChunk.patching(at: Offset.flags, UInt8(0)),
              .frameLength(.observations, bytes: 6, expected: 48)),
        .init("vine chunk missing a frame", Array(Base.vineChunk.dropLast()), .frameCount(kind: .vineChunk, count: 15, expected: 16)),
        .init("chunk read as a vine chunk", Base.chunk.patching(at: Offset.kind, MessageKind.vineChunk.rawValue),
              .headerTooShort(bytes: 72, expected: 77)),
        .init("parameters of version 1's 86-byte layout", Base.parameters.replacing(frame: 0, with: Array(Base.parameters[0].prefix(86))),
              .headerTooShort(bytes: 86, expected: 136)),
        .init("heartbeat header one byte short", Base.workerHeartbeat.replacing(frame: 0, with: Base.workerHeartbeat[0].dropLast()),
              .headerTooShort(bytes: 43, expected: 44)),
        .init("chunk header one byte long", Base.chunk.replacing(frame: 0, with: Base.chunk[0] + [0]),
              .headerTooLong(bytes: 73, expected: 72)),
        .init("chunk read as stop: header too long", Base.chunk.patching(at: Offset.kind, MessageKind.stop.rawValue),
              .headerTooLong(bytes: 72, expected: 21)),
        .init("undefined chunk flag", Base.chunk.patching(at: Offset.flags, UInt8(2)), .unknownFlags(kind: .chunk, flags: 2)),
        .init("undefined parameters flag", Base.parameters.patching(at: Offset.flags, UInt8(5)), .unknownFlags(kind: .parameters, flags: 5)),
        .init("f64 observations read as pixels", Base.chunk.patching(at: Offset.flags, UInt8(1)),
              .frameLength(.observations, bytes: 64, expected: 8)),
        .init("pixel chunk's bootstrap frames one byte short",
              Base.pixelChunk.replacing(frame: 6, with: Array(Base.pixelChunk[6].dropLast())),
              .frameLength(.bootstrapObservations, bytes: 3, expected: 4)),
        .init("pixels read as f64", Base.pixelChunk.patching(at: Offset.flags, UInt8(0)),
              .frameLength(.observations, bytes: 8, expected: 64)),
        .init("convolutional parameters without their frame", Array(Base.convolutionalParameters.dropLast()),
              .frameCount(kind: .parameters, count: 5, expected: 6)),
        .init("convolutional parameters with a normaliser", Base.parameters.patching(at: Offset.flags, UInt8(3)),
              .invalidConvolutions("a convolutional policy reads frames as p/255 and takes no normaliser")),
        .init("convolutions frame of no convolution",
              Base.convolutionalParameters.replacing(frame: 5, with: leBytes([5, 5, 2] as [UInt32])),
              .frameLength(.convolutions, bytes: 12, expected: 24)),
        .init("convolutions frame not of whole layers",
              Base.convolutionalParameters.replacing(frame: 5, with: Base.convolutionalParameters[5] + [0, 0, 0, 0]),
              .frameLength(.convolutions, bytes: 40, expected: 36)),
        .init("undefined heartbeat flag", Base.workerHeartbeat.patching(at: Offset.flags, UInt8(0x84)),
              .unknownFlags(kind: .heartbeat, flags: 0x84)),
        .init("chunk missing a frame", Array(Base.chunk.dropLast()), .frameCount(kind: .chunk, count: 8, expected: 9)),
        .init("hello of the old 41-byte layout", Base.hello.replacing(frame: 0, with: Base.hello[0] + Array(repeating: 0, count: 9)),
              .headerTooLong(bytes: 41, expected: 32)),
        .init("parameters of the old 74-byte layout", Base.parameters.replacing(frame: 0, with: Array(Base.parameters[0].prefix(74))),
              .headerTooShort(bytes: 74, expected: 136)),
        .init("hello with the old box-bounds frames", Base.hello + [leBytes([-2.0]), leBytes([2.0])],
              .frameCount(kind: .hello, count: 5, expected: 3)),
        .init("hello without its software version", Array(Base.hello.prefix(2)), .frameCount(kind: .hello, count: 2, expected: 3)),
        .init("parameters without normaliser frames", Array(Base.parameters.prefix(5)),
              .frameCount(kind: .parameters, count: 5, expected: 7)),
        .init("parameters without the environment frame", Base.parameters.enumerated().filter { $0.offset != 1 }.map(\.element),
              .frameCount(kind: .parameters, count: 6, expected: 7)),
        .init("stop without its text frame", Array(Base.stop.prefix(1)), .frameCount(kind: .stop, count: 1, expected: 2)),
        .init("heartbeat with an extra frame", Base.workerHeartbeat + [[]], .frameCount(kind: .heartbeat, count: 2, expected: 1)),
        .init("request with an extra frame", Base.request + [[1]],
              .frameCount(kind: .requestParameters, count: 2, expected: 1)),
    ]

    static let lengths: [MalformedCase] = [
        .init("observations one byte short", Base.chunk.replacing(frame: 1, with: Base.chunk[1].dropLast()),
              .frameLength(.observations, bytes: 63, expected: 64)),
        .init("ends one byte long", Base.chunk.replacing(frame: 4, with: Base.chunk[4] + [0]),
              .frameLength(.ends, bytes: 5, expected: 4)),
        .init("episode lengths empty", Base.chunk.replacing(frame: 8, with: []),
              .frameLength(.episodeLengths, bytes: 0, expected: 4)),
        .init("environment id longer than declared", Base.hello.replacing(frame: 1, with: Array("Pendulum-v12".utf8)),
              .frameLength(.environmentID, bytes: 12, expected: 11)),
        .init("environment id where the hello declares none", Base.openHello.replacing(frame: 1, with: Array("CartPole-v1".utf8)),
              .frameLength(.environmentID, bytes: 11, expected: 0)),
        .init("software version longer than declared", Base.hello.replacing(frame: 2, with: Array("tests".utf8)),
              .frameLength(.softwareVersion, bytes: 5, expected: 4)),
        .init("parameters' environment id shorter than declared",
              Base.parameters.replacing(frame: 1, with: Array("Pendulum".utf8)), .frameLength(.environmentID, bytes: 8, expected: 11)),
        .init("layer sizes frame of 2 entries", Base.parameters.replacing(frame: 2, with: leBytes([3, 2] as [UInt32])),
              .frameLength(.layerSizes, bytes: 8, expected: 12)),
        .init("normaliser variance one value short", Base.parameters.replacing(frame: 6, with: leBytes([1.0, 1.0])),
              .frameLength(.normalizerVariance, bytes: 16, expected: 24)),
        .init("stop text longer than declared", Base.stop.replacing(frame: 1, with: Array("done!".utf8)),
              .frameLength(.message, bytes: 5, expected: 4)),
        .init("vine observations one value short", Base.vineChunk.replacing(frame: 1, with: leBytes([0.0, 1, 2, 3, 4])),
              .frameLength(.observations, bytes: 40, expected: 48)),
        .init("branch returns one value short", Base.vineChunk.replacing(frame: 3, with: leBytes([1.0, 2, 3])),
              .frameLength(.branchReturns, bytes: 24, expected: 32)),
        .init("branch lengths one value short", Base.vineChunk.replacing(frame: 5, with: leBytes([2, 1, 3] as [UInt32])),
              .frameLength(.branchLengths, bytes: 12, expected: 16)),
        .init("branch ends one byte long", Base.vineChunk.replacing(frame: 6, with: [2, 1, 2, 1, 1]),
              .frameLength(.branchEnds, bytes: 5, expected: 4)),
        .init("one cut observation fewer than declared", Base.vineChunk.replacing(frame: 7, with: leBytes([6.0, 7, 8])),
              .frameLength(.cutObservations, bytes: 24, expected: 48)),
        .init("cut count not the frame's", Base.vineChunk.patching(at: Offset.VineChunk.cutCount, UInt32(1)),
              .frameLength(.cutObservations, bytes: 48, expected: 24)),
        .init("trunk observations one row short", Base.vineChunk.replacing(frame: 8, with: leBytes((0..<27).map(Double.init))),
              .frameLength(.trunkObservations, bytes: 216, expected: 240)),
        .init("trunk bootstrap observations missing", Base.vineChunk.replacing(frame: 13, with: []),
              .frameLength(.trunkBootstrapObservations, bytes: 0, expected: 24)),
        .init("model text one byte longer than declared", Base.model.replacing(frame: 1, with: Base.model[1] + [0x20]),
              .frameLength(.model, bytes: 23, expected: 22)),
        .init("leave text shorter than declared", Base.leave.replacing(frame: 1, with: Array("ba".utf8)),
              .frameLength(.message, bytes: 2, expected: 3)),
        .init("log π_old one value long", Base.vineChunk.replacing(frame: 4, with: leBytes([1.0, 2, 3, 4, 5])),
              .frameLength(.oldLogProbabilities, bytes: 40, expected: 32)),
    ]

    static let counts: [MalformedCase] = [
        .init("rows over the limit", Base.chunk, limits: DecodingLimits(maxRows: 3), .limitExceeded(.rows, count: 4, limit: 3)),
        .init("observation size over the width limit", Base.chunk, limits: DecodingLimits(maxWidth: 1),
              .limitExceeded(.observationSize, count: 2, limit: 1)),
        .init("more bootstrap rows than rows", Base.chunk.patching(at: Offset.Chunk.bootstrapCount, UInt32(5)),
              .limitExceeded(.bootstrapRows, count: 5, limit: 4)),
        .init("more episodes than rows", Base.chunk.patching(at: Offset.Chunk.episodeCount, UInt32(5)),
              .limitExceeded(.episodeReturns, count: 5, limit: 4)),
        .init("model over the model limit", Base.model, limits: DecodingLimits(maxModelBytes: 21),
              .limitExceeded(.model, count: 22, limit: 21)),
        .init("model of 2³² − 1 bytes", Base.model.patching(at: Offset.Model.length, UInt32.max),
              .limitExceeded(.model, count: Int(UInt32.max), limit: 4 << 20)),
        .init("leave text over the string limit", Base.leave.patching(at: Offset.Leave.messageLength, UInt32(4097)),
              .limitExceeded(.message, count: 4097, limit: 4096)),
        .init("chunk steps over the row limit", Base.parameters, limits: DecodingLimits(maxRows: 999),
              .limitExceeded(.chunkSteps, count: 1000, limit: 999)),
        .init("network parameters over the limit", Base.parameters, limits: DecodingLimits(maxParameters: 25),
              .limitExceeded(.networkParameters, count: 26, limit: 25)),
        .init("layer width over the limit", Base.parameters, limits: DecodingLimits(maxWidth: 3),
              .limitExceeded(.layerSizes, count: 4, limit: 3)),
        .init("simulator count over the width limit", Base.parameters.patching(at: Offset.Parameters.simulatorCount, UInt32(65_537)),
              .limitExceeded(.simulatorCount, count: 65_537, limit: 65_536)),
        .init("quota of 2³¹", Base.parameters.patching(at: Offset.Parameters.quota, UInt32(1) << 31),
              .limitExceeded(.quota, count: 1 << 31, limit: Message.Parameters.maxQuota)),
        .init("quota of 2³² − 1", Base.parameters.patching(at: Offset.Parameters.quota, UInt32.max),
              .limitExceeded(.quota, count: Int(UInt32.max), limit: Int(Int32.max))),
        .init("environment id over the string limit", Base.hello, limits: DecodingLimits(maxStringBytes: 4),
              .limitExceeded(.environmentID, count: 11, limit: 4)),
        .init("software version over the string limit", Base.hello.patching(at: Offset.Hello.softwareVersionLength, UInt32.max),
              .limitExceeded(.softwareVersion, count: Int(UInt32.max), limit: 4096)),
        .init("parameters' environment id over the string limit", Base.parameters, limits: DecodingLimits(maxStringBytes: 10),
              .limitExceeded(.environmentID, count: 11, limit: 10)),
        .init("stop text over the string limit", Base.stop.patching(at: Offset.Stop.messageLength, UInt32.max),
              .limitExceeded(.message, count: Int(UInt32.max), limit: 4096)),
        .init("observation element count overflows",
              Base.chunk.patching(at: Offset.Chunk.rows, UInt32.max).patching(at: Offset.Chunk.observationSize, UInt32.max)
                  .patching(at: Offset.Chunk.simulatorSteps, UInt64.max),
              limits: DecodingLimits(maxRows: .max, maxWidth: .max), .countOverflow(.observations)),
        .init("vine states over the row limit", Base.vineChunk, limits: DecodingLimits(maxRows: 1),
              .limitExceeded(.states, count: 2, limit: 1)),
        .init("vine branches over the row limit", Base.vineChunk, limits: DecodingLimits(maxRows: 3),
              .limitExceeded(.branches, count: 4, limit: 3)),
        .init("K over the width limit", Base.vineChunk, limits: DecodingLimits(maxWidth: 1),
              .limitExceeded(.actionsPerState, count: 2, limit: 1)),
        .init("more trunk episodes than trunk steps", Base.vineChunk.patching(at: Offset.VineChunk.episodeCount, UInt32(11)),
              .limitExceeded(.episodeReturns, count: 11, limit: 10)),
        .init("vine trunk steps over the row limit", Base.vineParameters, limits: DecodingLimits(maxRows: 40),
              .limitExceeded(.trunkSteps, count: 50, limit: 40)),
        .init("vine K over the width limit", Base.vineParameters.patching(at: Offset.Parameters.actionsPerState, UInt32(65_537)),
              .limitExceeded(.actionsPerState, count: 65_537, limit: 65_536)),
        .init("implied parameter count overflows",
              Base.parameters.replacing(frame: 2, with: leBytes([UInt32.max, UInt32.max, 2])),
              limits: DecodingLimits(maxWidth: .max), .countOverflow(.networkParameters)),
    ]

    static let values: [MalformedCase] = [
        .init("zero rows", Base.chunk.patching(at: Offset.Chunk.rows, UInt32(0)), .invalidValue(.rows, 0)),
        .init("zero observation size", Base.chunk.patching(at: Offset.Chunk.observationSize, UInt32(0)),
              .invalidValue(.observationSize, 0)),
        .init("zero action width", Base.chunk.patching(at: Offset.Chunk.actionWidth, UInt32(0)), .invalidValue(.actionWidth, 0)),
        .init("fewer simulator steps than rows", Base.chunk.patching(at: Offset.Chunk.simulatorSteps, UInt64(3)),
              .invalidValue(.simulatorSteps, 3)),
        .init("empty environment id in parameters",
              Base.parameters.patching(at: Offset.Parameters.environmentIDLength, UInt32(0)).replacing(frame: 1, with: []),
              .invalidValue(.environmentID, 0)),
        .init("zero simulators in parameters", Base.parameters.patching(at: Offset.Parameters.simulatorCount, UInt32(0)),
              .invalidValue(.simulatorCount, 0)),
        .init("head kind 2", Base.parameters.patching(at: Offset.Parameters.headKind, UInt8(2)), .invalidValue(.headKind, 2)),
        .init("activation 2", Base.parameters.patching(at: Offset.Parameters.activation, UInt8(2)),
              .invalidValue(.activation, 2)),
        .init("zero chunk steps", Base.parameters.patching(at: Offset.Parameters.chunkSteps, UInt32(0)),
              .invalidValue(.chunkSteps, 0)),
        .init("zero head size", Base.parameters.patching(at: Offset.Parameters.headSize, UInt32(0)), .invalidValue(.headSize, 0)),
        .init("one layer size", Base.parameters.patching(at: Offset.Parameters.layerCount, UInt32(1)),
              .invalidValue(.layerSizes, 1)),
        .init("normaliser size without the flag", Base.parameters.patching(at: Offset.flags, UInt8(0)),
              .invalidValue(.normalizerSize, 3)),
        .init("layer size 0", Base.parameters.replacing(frame: 2, with: leBytes([3, 0, 2] as [UInt32])),
              .invalidValue(.layerSizes, 0)),
        .init("sampler 2", Base.parameters.patching(at: Offset.Parameters.sampler, UInt8(2)), .invalidValue(.sampler, 2)),
        .init("single path with trunk steps", Base.parameters.patching(at: Offset.Parameters.trunkSteps, UInt32(5)),
              .invalidValue(.trunkSteps, 5)),
        .init("single path with a vine γ", Base.parameters.patching(at: Offset.Parameters.vineGamma, double: 0.99),
              .invalidValue(.vineGamma, (0.99).bitPattern)),
        .init("single path with CRN", Base.parameters.patching(at: Offset.Parameters.commonRandomNumbers, UInt8(1)),
              .invalidValue(.commonRandomNumbers, 1)),
        .init("vine with zero trunk steps", Base.vineParameters.patching(at: Offset.Parameters.trunkSteps, UInt32(0)),
              .invalidValue(.trunkSteps, 0)),
        .init("vine with zero rollout states", Base.vineParameters.patching(at: Offset.Parameters.rolloutStates, UInt32(0)),
              .invalidValue(.rolloutStates, 0)),
        .init("vine with one action per state", Base.vineParameters.patching(at: Offset.Parameters.actionsPerState, UInt32(1)),
              .invalidValue(.actionsPerState, 1)),
        .init("vine with zero rollout length", Base.vineParameters.patching(at: Offset.Parameters.rolloutLength, UInt32(0)),
              .invalidValue(.rolloutLength, 0)),
        .init("vine CRN 2", Base.vineParameters.patching(at: Offset.Parameters.commonRandomNumbers, UInt8(2)),
              .invalidValue(.commonRandomNumbers, 2)),
        .init("NaN vine γ", Base.vineParameters.patching(at: Offset.Parameters.vineGamma, double: nan), .nonFinite(.vineGamma, index: 0)),
        .init("vine γ of 1.5", Base.vineParameters.patching(at: Offset.Parameters.vineGamma, double: 1.5),
              .invalidNumber(.vineGamma, 1.5)),
        .init("negative vine γ", Base.vineParameters.patching(at: Offset.Parameters.vineGamma, double: -0.5),
              .invalidNumber(.vineGamma, -0.5)),
        .init("vine estimator 2", Base.vineChunk.patching(at: Offset.VineChunk.estimator, UInt8(2)), .invalidValue(.estimator, 2)),
        .init("zero vine states", Base.vineChunk.patching(at: Offset.VineChunk.states, UInt32(0)), .invalidValue(.states, 0)),
        .init("one branch per state", Base.vineChunk.patching(at: Offset.VineChunk.actionsPerState, UInt32(1)),
              .invalidValue(.actionsPerState, 1)),
        .init("zero vine observation size", Base.vineChunk.patching(at: Offset.VineChunk.observationSize, UInt32(0)),
              .invalidValue(.observationSize, 0)),
        .init("enumerated actions of width 2", Base.vineChunk.patching(at: Offset.VineChunk.actionWidth, UInt32(2)),
              .invalidValue(.actionWidth, 2)),
        .init("fewer trunk steps than states", Base.vineChunk.patching(at: Offset.VineChunk.trunkSteps, UInt32(1)),
              .invalidValue(.trunkSteps, 1)),
        .init("trunk steps over the row limit", Base.vineChunk.patching(at: Offset.VineChunk.trunkSteps, UInt32(70_000)),
              .limitExceeded(.trunkSteps, count: 70_000, limit: 65_536)),
        .init("more trunk bootstrap rows than trunk rows", Base.vineChunk.patching(at: Offset.VineChunk.trunkBootstrapCount, UInt32(11)),
              .limitExceeded(.trunkBootstrapRows, count: 11, limit: 10)),
        .init("more cut branches than branches", Base.vineChunk.patching(at: Offset.VineChunk.cutCount, UInt32(5)),
              .limitExceeded(.cutCount, count: 5, limit: 4)),
        .init("vine episode length 0", Base.vineChunk.replacing(frame: 15, with: leBytes([0] as [UInt32])),
              .invalidValue(.episodeLengths, 0)),
        .init("branch length 0", Base.vineChunk.replacing(frame: 5, with: leBytes([2, 0, 3, 2] as [UInt32])),
              .invalidValue(.branchLengths, 0)),
        .init("branch end 0 (a branch always ends)", Base.vineChunk.replacing(frame: 6, with: [2, 0, 2, 1]),
              .invalidValue(.branchEnds, 0)),
        .init("branch end 3", Base.vineChunk.replacing(frame: 6, with: [2, 1, 3, 1]), .invalidValue(.branchEnds, 3)),
        .init("branch ends marking one cut of two declared", Base.vineChunk.replacing(frame: 6, with: [2, 1, 1, 1]),
              .cutCountMismatch(declared: 2, marked: 1)),
        .init("NaN cut observation", Base.vineChunk.patching(frame: 7, at: 8, double: nan), .nonFinite(.cutObservations, index: 1)),
        .init("infinite trunk reward", Base.vineChunk.patching(frame: 10, at: 24, double: inf), .nonFinite(.trunkRewards, index: 3)),
        .init("NaN trunk bootstrap observation", Base.vineChunk.patching(frame: 13, at: 16, double: nan),
              .nonFinite(.trunkBootstrapObservations, index: 2)),
        .init("trunk whose last row does not end", Base.vineChunk.replacing(frame: 11, with: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
                  .patching(at: Offset.VineChunk.trunkBootstrapCount, UInt32(0)).replacing(frame: 12, with: [])
                  .replacing(frame: 13, with: []), .unterminatedChunk),
        .init("trunk bootstrap row on a terminated row", Base.vineChunk.replacing(frame: 12, with: leBytes([4] as [UInt32])),
              .bootstrapRowMismatch(row: 4)),
        .init("NaN vine observation", Base.vineChunk.patching(frame: 1, at: 40, double: nan), .nonFinite(.observations, index: 5)),
        .init("infinite sampled action", Base.vineChunk.patching(at: Offset.VineChunk.estimator, UInt8(1))
                  .patching(frame: 2, at: 16, double: inf), .nonFinite(.actions, index: 2)),
        .init("NaN branch return", Base.vineChunk.patching(frame: 3, at: 16, double: nan), .nonFinite(.branchReturns, index: 2)),
        .init("−∞ log π_old", Base.vineChunk.patching(frame: 4, at: 0, double: -inf), .nonFinite(.oldLogProbabilities, index: 0)),
        .init("infinite trunk episode return", Base.vineChunk.patching(frame: 14, at: 0, double: inf),
              .nonFinite(.episodeReturns, index: 0)),
        .init("learner heartbeat with a worker id", Base.learnerHeartbeat.patching(at: Offset.Heartbeat.workerID, UInt32(5)),
              .invalidValue(.workerID, 5)),
        .init("heartbeat version without the flag", Base.workerHeartbeat.patching(at: Offset.Heartbeat.version, UInt64(9)),
              .invalidValue(.version, 9)),
        .init("model hash 0", Base.model.patching(at: Offset.Model.hash, UInt64(0)), .invalidValue(.modelHash, 0)),
        .init("empty model", Base.model.patching(at: Offset.Model.length, UInt32(0)).replacing(frame: 1, with: []),
              .invalidValue(.model, 0)),
        .init("request for model 0", Base.requestModel.patching(at: Offset.RequestModel.hash, UInt64(0)),
              .invalidValue(.modelHash, 0)),
        .init("leave reason 0", Base.leave.patching(at: Offset.Leave.reason, UInt8(0)), .invalidValue(.leaveReason, 0)),
        .init("leave reason 2", Base.leave.patching(at: Offset.Leave.reason, UInt8(2)), .invalidValue(.leaveReason, 2)),
        .init("model text not UTF-8", Base.model.patching(frame: 1, at: 3, UInt8(0xFF)), .invalidUTF8(.model)),
        .init("leave text with a cut sequence", Base.leave.replacing(frame: 1, with: [0x62, 0x61, 0xE2]), .invalidUTF8(.message)),
        .init("stop reason 0", Base.stop.patching(at: Offset.Stop.reason, UInt8(0)), .invalidValue(.stopReason, 0)),
        .init("stop reason 9", Base.stop.patching(at: Offset.Stop.reason, UInt8(9)), .invalidValue(.stopReason, 9)),
        .init("reject reason 3", Base.reject.patching(at: Offset.Reject.reason, UInt8(3)), .invalidValue(.rejectReason, 3)),
        .init("reject sequence without the flag", Base.reject.patching(at: Offset.Reject.sequence, UInt64(4)),
              .invalidValue(.sequence, 4)),
        .init("episode length 0", Base.chunk.replacing(frame: 8, with: leBytes([0] as [UInt32])),
              .invalidValue(.episodeLengths, 0)),
        .init("NaN observation", Base.chunk.patching(frame: 1, at: 24, double: nan), .nonFinite(.observations, index: 3)),
        .init("infinite action", Base.chunk.patching(frame: 2, at: 8, double: inf), .nonFinite(.actions, index: 1)),
        .init("−∞ reward", Base.chunk.patching(frame: 3, at: 0, double: -inf), .nonFinite(.rewards, index: 0)),
        .init("NaN bootstrap observation", Base.chunk.patching(frame: 6, at: 24, double: nan),
              .nonFinite(.bootstrapObservations, index: 3)),
        .init("infinite episode return", Base.chunk.patching(frame: 7, at: 0, double: inf), .nonFinite(.episodeReturns, index: 0)),
        .init("NaN network parameter", Base.parameters.patching(frame: 3, at: 40, double: nan),
              .nonFinite(.networkParameters, index: 5)),
        .init("infinite log-std", Base.parameters.patching(frame: 4, at: 8, double: inf), .nonFinite(.logStd, index: 1)),
        .init("NaN normaliser mean", Base.parameters.patching(frame: 5, at: 16, double: nan),
              .nonFinite(.normalizerMean, index: 2)),
        .init("infinite normaliser variance", Base.parameters.patching(frame: 6, at: 0, double: inf),
              .nonFinite(.normalizerVariance, index: 0)),
        .init("infinite normaliser count", Base.parameters.patching(at: Offset.Parameters.normalizerCount, double: inf),
              .nonFinite(.normalizerCount, index: 0)),
        .init("NaN clip", Base.parameters.patching(at: Offset.Parameters.normalizerClip, double: nan),
              .nonFinite(.normalizerClip, index: 0)),
        .init("negative normaliser count", Base.parameters.patching(at: Offset.Parameters.normalizerCount, double: -1),
              .invalidNumber(.normalizerCount, -1)),
        .init("zero clip", Base.parameters.patching(at: Offset.Parameters.normalizerClip, double: 0),
              .invalidNumber(.normalizerClip, 0)),
        .init("negative variance", Base.parameters.patching(frame: 6, at: 8, double: -1e-300), .negativeVariance(index: 1)),
        .init("environment id not UTF-8", Base.hello.patching(frame: 1, at: 0, UInt8(0xFF)), .invalidUTF8(.environmentID)),
        .init("parameters' environment id not UTF-8", Base.parameters.patching(frame: 1, at: 10, UInt8(0xC3)),
              .invalidUTF8(.environmentID)),
        .init("software version with a surrogate", Base.hello.replacing(frame: 2, with: [0xED, 0xA0, 0x80, 0x41]),
              .invalidUTF8(.softwareVersion)),
        .init("stop text with a cut sequence", Base.stop.replacing(frame: 1, with: [0x64, 0x6F, 0x6E, 0xC3]),
              .invalidUTF8(.message)),
    ]

    static let structure: [MalformedCase] = [
        .init("end 3", Base.chunk.patching(frame: 4, at: 2, UInt8(3)), .invalidEnd(row: 2, value: 3)),
        .init("end 255 on the first row", Base.chunk.patching(frame: 4, at: 0, UInt8(255)), .invalidEnd(row: 0, value: 255)),
        .init("last row continues", Base.chunk.patching(frame: 4, at: 3, UInt8(0)), .unterminatedChunk),
        .init("bootstrap row beyond the chunk", Base.chunk.patching(frame: 5, at: 4, UInt32(4)),
              .bootstrapRowOutOfRange(index: 1, row: 4)),
        .init("bootstrap rows descending", Base.chunk.replacing(frame: 5, with: leBytes([2, 0] as [UInt32])),
              .bootstrapRowsNotAscending(index: 1)),
        .init("bootstrap row repeated", Base.chunk.replacing(frame: 5, with: leBytes([0, 0] as [UInt32])),
              .bootstrapRowsNotAscending(index: 1)),
        .init("bootstrap row that continues", Base.chunk.replacing(frame: 5, with: leBytes([0, 1] as [UInt32])),
              .bootstrapRowMismatch(row: 1)),
        .init("bootstrap row that terminated", Base.chunk.replacing(frame: 5, with: leBytes([0, 3] as [UInt32])),
              .bootstrapRowMismatch(row: 3)),
        .init("truncated row not listed", Base.chunk.patching(frame: 4, at: 1, StepEnd.truncated.rawValue),
              .bootstrapRowMismatch(row: 1)),
        .init("more episodes than ending rows",
              Base.chunk.patching(at: Offset.Chunk.episodeCount, UInt32(4))
                  .replacing(frame: 7, with: leBytes([1.0, 1, 1, 1])).replacing(frame: 8, with: leBytes([1, 1, 1, 1] as [UInt32])),
              .tooManyEpisodes(episodes: 4, endingRows: 3)),
        .init("parameter count not the layers'", Base.parameters.replacing(frame: 2, with: leBytes([3, 5, 2] as [UInt32])),
              .parameterCountMismatch(declared: 26, expected: 32)),
        .init("output width not the head's", Base.parameters.replacing(frame: 2, with: leBytes([3, 4, 3] as [UInt32])),
              .outputWidthMismatch(network: 3, head: 2)),
        .init("log-std count not the head's", Base.parameters.patching(at: Offset.Parameters.logStdCount, UInt32(1)),
              .logStdCountMismatch(declared: 1, expected: 2)),
        .init("categorical head with log-stds", Base.parameters.patching(at: Offset.Parameters.headKind, UInt8(0)),
              .logStdCountMismatch(declared: 2, expected: 0)),
        .init("enumerated actions out of order", Base.vineChunk.replacing(frame: 2, with: leBytes([0.0, 1, 1, 0])),
              .actionsNotEnumerated(state: 1)),
        .init("enumerated action 0.5", Base.vineChunk.patching(frame: 2, at: 0, double: 0.5), .actionsNotEnumerated(state: 0)),
        .init("model hash not the text's", Base.model.patching(at: Offset.Model.hash, Base.modelHash &+ 1),
              .modelHashMismatch(declared: Base.modelHash &+ 1, computed: Base.modelHash)),
        .init("model text changed under its hash", Base.model.patching(frame: 1, at: 15, UInt8(ascii: "T")),
              .modelHashMismatch(declared: Base.modelHash, computed: Message.Model.hash(of: #"<mujoco model="Tiny"/>"#))),
        .init("normaliser size not the input width", Base.parameters.replacing(frame: 2, with: leBytes([2, 4, 2] as [UInt32])),
              .normalizerSizeMismatch(normalizer: 3, input: 2)),
        .init("nine convolutions", Base.convolutionalParameters.replacing(
                  frame: 5, with: leBytes([5, 5, 2] + Array(repeating: [1, 1, 1] as [UInt32], count: 9).flatMap { $0 })),
              .limitExceeded(.convolutions, count: 9, limit: 8)),
        .init("a convolution of zero filters", Base.convolutionalParameters.patching(frame: 5, at: 12, UInt32(0)),
              .invalidValue(.convolutions, 0)),
        .init("a kernel wider than its input", Base.convolutionalParameters.patching(frame: 5, at: 16, UInt32(6)),
              .invalidConvolutions("convolution 1's 6×6 kernel exceeds its 5×5 input")),
        .init("a frame over the width limit", Base.convolutionalParameters.patching(frame: 5, at: 0, UInt32(60_000)),
              .invalidConvolutions("input 60000×5×2 exceeds 65536 values")),
        .init("flattened output not the first layer size",
              Base.convolutionalParameters.patching(frame: 5, at: 24, UInt32(2)),
              .invalidConvolutions("the flattened output of 2×2×2 is 8 values, the first layer size 12")),
        .init("parameter count one short of the convolutions' and the dense layer's",
              Base.convolutionalParameters.patching(at: Offset.Parameters.parameterCount, UInt32(90))
                  .replacing(frame: 3, with: Array(Base.convolutionalParameters[3].dropLast(8))),
              .parameterCountMismatch(declared: 90, expected: (3 * 3 * 2 * 2 + 2) + (2 * 2 * 2 * 3 + 3) + (12 * 2 + 2))),
    ]

    @Test func basesAreValid() throws {
        for frames in [Base.chunk, Base.pixelChunk, Base.pixelVineChunk, Base.convolutionalParameters, Base.hello, Base.openHello, Base.parameters, Base.vineParameters, Base.vineChunk, Base.workerHeartbeat,
                       Base.learnerHeartbeat, Base.stop, Base.reject, Base.request, Base.model, Base.requestModel,
                       Base.leave, Base.assignHello, Base.welcome, Base.environmentSpec, Base.discreteSpec] {
            _ = try WireCodec.decode(frames)
        }
    }

    /// The edges of the allowed ranges decode: a hello that leaves the environment and the
    /// simulator count to the learner (or asks for 2³² − 1 simulators), quotas of 0 and
    /// 2³¹ − 1, one suggested simulator and maxWidth of them, stop reason 8.
    @Test func boundaryValuesAreAccepted() throws {
        #expect(try WireCodec.decode(Base.openHello)
            == .hello(Message.Hello(nonce: Base.worker.nonce, workerID: Base.worker.id, simulatorCount: 0, environmentID: "",
                                    softwareVersion: "")))
        #expect(try WireCodec.decode(Base.hello.patching(at: Offset.Hello.simulatorCount, UInt32.max))
            == .hello(Message.Hello(nonce: Base.worker.nonce, workerID: Base.worker.id, simulatorCount: Int(UInt32.max),
                                    environmentID: "Pendulum-v1", softwareVersion: "test")))
        #expect(try WireCodec.decode(Base.assignHello)
            == .hello(Message.Hello(nonce: Base.worker.nonce, workerID: nil, simulatorCount: 0, environmentID: "",
                                    softwareVersion: "")))
        #expect(try WireCodec.decode(Base.welcome.patching(at: Offset.Welcome.heartbeatInterval, UInt32(1))
            .patching(at: Offset.Welcome.workerTimeout, UInt32.max))
            == .welcome(Message.Welcome(session: 1, worker: Base.worker, assigned: true, heartbeatInterval: .milliseconds(1),
                                        workerTimeout: .milliseconds(Int64(UInt32.max)), softwareVersion: "trpo",
                                        environmentID: "gym:Pendulum-v1", environmentArguments: "{}", specRequired: true)))
        // Unbounded boxes travel as ±∞.
        let unbounded = EnvironmentSpec(observationShape: [2, 3], observationType: .int64,
                                        actionSpace: .box(low: [-.infinity], high: [.infinity]), timeLimit: nil, canSnapshot: false)
        let report = Message.EnvironmentSpecReport(worker: Base.worker, spec: unbounded)
        #expect(try WireCodec.decode(WireCodec.encode(.environmentSpec(report))) == .environmentSpec(report))

        let patches: [(offset: Int, value: UInt32, holds: (Message.Parameters) -> Bool)] = [
            (Offset.Parameters.quota, 0, { $0.quota == 0 }),
            (Offset.Parameters.quota, UInt32(Int32.max), { $0.quota == Message.Parameters.maxQuota }),
            (Offset.Parameters.simulatorCount, 1, { $0.simulatorCount == 1 }),
            (Offset.Parameters.simulatorCount, 65_536, { $0.simulatorCount == DecodingLimits.default.maxWidth }),
        ]
        for patch in patches {
            let message = try WireCodec.decode(Base.parameters.patching(at: patch.offset, patch.value))
            guard case .parameters(let parameters) = message else {
                Issue.record("decoded \(message.kind), expected parameters")
                continue
            }
            #expect(patch.holds(parameters))
            #expect(parameters.environmentID == "Pendulum-v1" && parameters.chunkSteps == 1000)
        }

        #expect(try WireCodec.decode(Base.stop.patching(at: Offset.Stop.reason, UInt8(8)))
            == .stop(Message.Stop(session: 1, reason: .unexpectedWorker, message: "done")))
    }

    @Test(arguments: framing + lengths + counts + values + structure)
    func malformed(_ testCase: MalformedCase) {
        #expect(decodingError(testCase.frames, limits: testCase.limits) == testCase.error)
    }

    /// Every error describes itself in words.
    @Test(arguments: framing + lengths + counts + values + structure)
    func descriptions(_ testCase: MalformedCase) {
        #expect(!testCase.error.description.isEmpty)
    }
}
