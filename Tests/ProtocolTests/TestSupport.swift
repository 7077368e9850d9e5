import Core
import Protocol

/// Random valid messages of every kind, for round-trip and mutation tests.
struct MessageGenerator {
    var random: RandomStream

    init(seed: UInt64) { random = RandomStream(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func bool() -> Bool { Bool.random(using: &random) }
    mutating func word() -> UInt64 { random.next() }

    /// Any finite double, from the whole range of bit patterns (subnormals, ±0 included).
    mutating func finite() -> Double {
        while true {
            let value = Double(bitPattern: random.next())
            if value.isFinite { return value }
        }
    }

    /// A finite double of moderate size (most of the time) or any finite one.
    mutating func value() -> Double { int(0...3) == 0 ? finite() : random.normal() * 10 }

    mutating func values(_ count: Int) -> [Double] { (0..<count).map { _ in value() } }

    /// ASCII, Latin, CJK and astral-plane characters, `0...maxCount` of them.
    mutating func string(maxCount: Int = 12) -> String {
        let alphabet: [Character] = ["a", "Z", "0", "-", " ", "é", "ß", "漢", "字", "🚀", "\u{0}"]
        return String((0..<int(0...maxCount)).map { _ in alphabet[int(0...(alphabet.count - 1))] })
    }

    mutating func worker() -> WorkerIdentity { WorkerIdentity(id: UInt32.random(in: 0...UInt32.max, using: &random), nonce: word()) }

    /// Half the hellos leave the environment, half the simulator count, and half the id to
    /// the learner.
    mutating func hello() -> Message.Hello {
        Message.Hello(nonce: word(), workerID: bool() ? nil : worker().id, simulatorCount: bool() ? 0 : int(1...64),
                      environmentID: bool() ? "" : "Env" + string(), softwareVersion: string())
    }

    /// Timings of 1 ms … 2³² − 1 ms; half the welcomes name an external environment with
    /// arguments and ask for its spec.
    mutating func welcome() -> Message.Welcome {
        let external = bool()
        return Message.Welcome(session: word(), worker: worker(), assigned: bool(),
                               heartbeatInterval: .milliseconds(Int64(UInt32.random(in: 1...UInt32.max, using: &random))),
                               workerTimeout: .milliseconds(int(1...600_000)), softwareVersion: string(),
                               environmentID: (external ? "gym:Env" : "Env") + string(),
                               environmentArguments: external && bool() ? "{\"k\": \(int(0...9))}" : "", specRequired: external)
    }

    /// Ranks 1…3, every element type, discrete (2…9 actions) or box spaces with bounds that
    /// include ±∞.
    mutating func environmentSpec() -> Message.EnvironmentSpecReport {
        let shape = (0..<int(1...3)).map { _ in int(1...5) }
        let actions: ActionSpace
        if bool() {
            actions = .discrete(count: int(2...9))
        } else {
            let n = int(1...4)
            let low = (0..<n).map { _ in bool() ? -Double.infinity : -Double(int(0...5)) }
            actions = .box(low: low, high: low.map { _ in bool() ? Double.infinity : Double(int(0...5)) })
        }
        let type = ObservationType.allCases[int(0...(ObservationType.allCases.count - 1))]
        return Message.EnvironmentSpecReport(
            worker: worker(), spec: EnvironmentSpec(observationShape: shape, observationType: type, actionSpace: actions,
                                                    timeLimit: bool() ? nil : int(1...1000), canSnapshot: bool()))
    }

    mutating func parameters() -> Message.Parameters {
        let observationSize = int(1...12)
        let head: PolicyHead = bool() ? .categorical(actions: int(1...6)) : .gaussian(dimensions: int(1...6))
        let hidden = (0..<int(0...3)).map { _ in int(1...9) }
        var policy = Policy(observationSize: observationSize, head: head, hiddenSizes: hidden,
                            activation: bool() ? .tanh : .relu, random: &random)
        policy.parameters = values(policy.parameterCount)
        var normalizer: RunningNormalizer?
        if bool() {
            var statistics = RunningNormalizer(size: observationSize, clip: Double(int(1...20)))
            for _ in 0..<int(0...3) {
                let rows = int(1...5)
                statistics.update(with: Matrix(rows: rows, columns: observationSize,
                                               storage: (0..<(rows * observationSize)).map { _ in random.normal() * 100 }))
            }
            normalizer = statistics
        }
        let quota = [0, int(1...100_000), Message.Parameters.maxQuota][int(0...2)]
        let sampling: Message.Sampling = bool() ? .singlePath : .vine(VineSettings(
            trunkSteps: int(1...65_536), rolloutStates: int(1...65_536), actionsPerState: int(2...16),
            rolloutLength: int(1...1000), gamma: [0, 1, Double(int(0...1000)) / 1000][int(0...2)], commonRandomNumbers: bool()))
        return Message.Parameters(session: word(), version: word(), seed: word(), environmentID: "Env" + string(),
                                  simulatorCount: int(1...64), chunkSteps: int(1...65_536), quota: quota,
                                  policy: policy, normalizer: normalizer, sampling: sampling, stream: word(),
                                  collection: word(), modelHash: bool() ? 0 : word())
    }

    /// Parameters of a convolutional policy on frames: one to three valid convolutions of
    /// random geometry on a small image, zero to two hidden dense layers, no normaliser.
    mutating func convolutionalParameters() -> Message.Parameters {
        var dense = parameters()
        let head = dense.policy.head
        var architecture: ConvolutionalArchitecture
        repeat {
            let input = ImageShape(height: int(1...14), width: int(1...14), channels: int(1...4))
            architecture = ConvolutionalArchitecture(
                input: input,
                convolutions: (0..<int(1...3)).map { _ in ConvolutionSpec(filters: int(1...4), kernel: int(1...5), stride: int(1...3)) },
                hiddenSizes: (0..<int(0...2)).map { _ in int(1...6) }, activation: bool() ? .tanh : .relu)
        } while !architecture.isValid
        var policy = ConvolutionalPolicy(architecture: architecture, head: head, random: &random)
        policy.parameters = values(policy.parameterCount)
        dense.policy = .convolutional(policy)
        dense.normalizer = nil
        return dense
    }

    /// MJCF-looking text (non-empty), sometimes with multi-byte characters.
    mutating func model() -> Message.Model {
        Message.Model(session: word(), xml: "<mujoco model=\"" + string(maxCount: 30) + "\"><worldbody/></mujoco>")
    }

    /// A vine chunk of up to `maxStates` states: half of them eq. 15 batches (width 1,
    /// actions 0…K−1), half eq. 16 batches with any finite actions; branches terminated or
    /// cut at random, and trunks of N to N + 20 rows shaped like a sampler's.
    mutating func vineChunk(maxStates: Int = 8) -> Message.VineChunk {
        let n = int(1...maxStates), k = int(2...5), enumerated = bool()
        let width = enumerated ? 1 : int(1...3)
        var batch = VineBatch(observationSize: int(1...12), actionWidth: width, actionsPerState: k,
                              estimator: enumerated ? .enumeratedActions : .importanceSampled)
        batch.observations = values(n * batch.observationSize)
        batch.actions = enumerated ? (0..<(n * k)).map { Double($0 % k) } : values(n * k * width)
        batch.branchReturns = values(n * k)
        batch.oldLogProbabilities = values(n * k)
        batch.branchLengths = (0..<(n * k)).map { _ in int(1...1000) }
        batch.branchEnds = (0..<(n * k)).map { _ in bool() ? .terminated : .truncated }
        batch.cutObservations = values(batch.cutCount * batch.observationSize)
        batch.trunks = self.batch(rows: n + int(0...20), observationSize: batch.observationSize, actionWidth: width)
        return Message.VineChunk(worker: worker(), session: word(), version: word(), sequence: word(), batch: batch)
    }

    /// A batch of `rows` rows shaped like a sampler's: trajectories ending terminated or
    /// truncated, the last row always ending one.
    mutating func batch(rows: Int, observationSize: Int, actionWidth: Int) -> SampleBatch {
        batch(rows: rows, observationSize: observationSize, actionWidth: actionWidth) { $0.values($1) }
    }

    /// The same with uint8 observations (frames).
    mutating func frameBatch(rows: Int, observationSize: Int, actionWidth: Int) -> FrameSamples {
        batch(rows: rows, observationSize: observationSize, actionWidth: actionWidth) { generator, count in
            (0..<count).map { _ in UInt8(generator.int(0...255)) }
        }
    }

    private mutating func batch<Observation>(rows: Int, observationSize: Int, actionWidth: Int,
                                             observations: (inout Self, Int) -> [Observation]) -> Samples<Observation> {
        var batch = Samples<Observation>(observationSize: observationSize, actionWidth: actionWidth)
        batch.observations = observations(&self, rows * observationSize)
        batch.actions = values(rows * actionWidth)
        batch.rewards = values(rows)
        var length = 0
        for row in 0..<rows {
            length += 1
            let end: StepEnd = row == rows - 1 ? (bool() ? .terminated : .truncated)
                : [StepEnd.none, .none, .none, .terminated, .truncated][int(0...4)]
            batch.ends.append(end)
            if end == .truncated {
                batch.bootstrapRows.append(row)
                batch.bootstrapObservations += observations(&self, observationSize)
            }
            if end != .none {
                if bool() {
                    batch.episodeReturns.append(value())
                    batch.episodeLengths.append(length + int(0...1000))
                }
                length = 0
            }
        }
        return batch
    }

    mutating func chunk(maxRows: Int = 40) -> Message.Chunk {
        let rows = int(1...maxRows)
        return Message.Chunk(worker: worker(), session: word(), version: word(), sequence: word(),
                             simulatorSteps: UInt64(rows) + UInt64(int(0...1000)),
                             batch: batch(rows: rows, observationSize: int(1...12), actionWidth: int(1...4)))
    }

    /// A chunk of uint8 frames (flattened: any observation size).
    mutating func frameChunk(maxRows: Int = 40) -> Message.Chunk {
        let rows = int(1...maxRows)
        return Message.Chunk(worker: worker(), session: word(), version: word(), sequence: word(),
                             simulatorSteps: UInt64(rows) + UInt64(int(0...1000)),
                             batch: .frames(frameBatch(rows: rows, observationSize: int(1...300), actionWidth: int(1...4))))
    }

    mutating func heartbeat() -> Message.Heartbeat {
        Message.Heartbeat(sender: bool() ? .learner(session: word()) : .worker(worker()), sequence: word(),
                          timestamp: word(), version: bool() ? word() : nil)
    }

    mutating func stop() -> Message.Stop {
        Message.Stop(session: word(), reason: StopReason.allCases[int(0...(StopReason.allCases.count - 1))],
                     message: string(maxCount: 40))
    }

    mutating func reject() -> Message.Reject {
        Message.Reject(session: word(), currentVersion: word(),
                       reason: RejectReason.allCases[int(0...(RejectReason.allCases.count - 1))],
                       sequence: bool() ? word() : nil, message: string(maxCount: 40))
    }

    mutating func message(of kind: MessageKind) -> Message {
        switch kind {
        case .hello: .hello(hello())
        case .parameters: .parameters(bool() ? parameters() : convolutionalParameters())
        case .chunk: .chunk(bool() ? chunk() : frameChunk())
        case .heartbeat: .heartbeat(heartbeat())
        case .stop: .stop(stop())
        case .requestParameters: .requestParameters(worker())
        case .reject: .reject(reject())
        case .vineChunk: .vineChunk(vineChunk())
        case .model: .model(model())
        case .requestModel: .requestModel(Message.ModelRequest(worker: worker(), hash: word() | 1))
        case .leave: .leave(Message.Leave(worker: worker(), reason: .incompatible, message: string(maxCount: 40)))
        case .welcome: .welcome(welcome())
        case .environmentSpec: .environmentSpec(environmentSpec())
        }
    }
}

/// Frame surgery for malformed-input tests.
extension Array where Element == [UInt8] {
    /// Overwrites the little-endian bytes of `value` at `offset` in frame `frame`.
    func patching<T: FixedWidthInteger>(frame: Int = 0, at offset: Int, _ value: T) -> [[UInt8]] {
        var frames = self
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes in
            for (i, byte) in bytes.enumerated() { frames[frame][offset + i] = byte }
        }
        return frames
    }

    func patching(frame: Int = 0, at offset: Int, double value: Double) -> [[UInt8]] {
        patching(frame: frame, at: offset, value.bitPattern)
    }

    /// Replaces one frame.
    func replacing(frame: Int, with bytes: [UInt8]) -> [[UInt8]] {
        var frames = self
        frames[frame] = bytes
        return frames
    }
}

/// Header field offsets, as tabulated in docs/protocol.md.
enum Offset {
    static let version = 4, kind = 6, flags = 7
    enum Hello {
        static let nonce = 8, workerID = 16, simulatorCount = 20, environmentIDLength = 24, softwareVersionLength = 28
    }
    enum Parameters {
        static let session = 8, version = 16, seed = 24, stream = 32, collection = 40
        static let normalizerCount = 48, normalizerClip = 56, vineGamma = 64, modelHash = 72
        static let environmentIDLength = 80, simulatorCount = 84, chunkSteps = 88, quota = 92
        static let layerCount = 96, parameterCount = 100, headSize = 104, logStdCount = 108, normalizerSize = 112
        static let trunkSteps = 116, rolloutStates = 120, actionsPerState = 124, rolloutLength = 128
        static let headKind = 132, activation = 133, sampler = 134, commonRandomNumbers = 135
    }
    enum VineChunk {
        static let nonce = 8, session = 16, version = 24, sequence = 32
        static let workerID = 40, states = 44, actionsPerState = 48, observationSize = 52, actionWidth = 56
        static let cutCount = 60, trunkSteps = 64, trunkBootstrapCount = 68, episodeCount = 72, estimator = 76
    }
    enum Chunk {
        static let nonce = 8, session = 16, version = 24, sequence = 32, simulatorSteps = 40
        static let workerID = 48, rows = 52, observationSize = 56, actionWidth = 60
        static let bootstrapCount = 64, episodeCount = 68
    }
    enum Heartbeat { static let nonce = 8, sequence = 16, timestamp = 24, version = 32, workerID = 40 }
    enum Stop { static let session = 8, messageLength = 16, reason = 20 }
    enum RequestParameters { static let nonce = 8, workerID = 16 }
    enum Reject { static let session = 8, currentVersion = 16, sequence = 24, messageLength = 32, reason = 36 }
    enum Model { static let session = 8, hash = 16, length = 24 }
    enum RequestModel { static let nonce = 8, hash = 16, workerID = 24 }
    enum Leave { static let nonce = 8, workerID = 16, messageLength = 20, reason = 24 }
    enum Welcome {
        static let session = 8, nonce = 16, workerID = 24, heartbeatInterval = 28, workerTimeout = 32
        static let softwareVersionLength = 36, environmentIDLength = 40, environmentArgumentsLength = 44
    }
    enum EnvironmentSpec {
        static let nonce = 8, workerID = 16, observationRank = 20, actionSize = 24, timeLimit = 28
        static let observationType = 32, actionKind = 33
    }
}

/// The raw little-endian bytes of doubles (test-side, independent of the codec).
func leBytes(_ values: [Double]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

func leBytes(_ values: [UInt32]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

/// Decodes, returning the error (or nil when decoding succeeds).
func decodingError(_ frames: [[UInt8]], limits: DecodingLimits = .default) -> ProtocolError? {
    do {
        _ = try WireCodec.decode(frames, limits: limits)
        return nil
    } catch {
        return error
    }
}
