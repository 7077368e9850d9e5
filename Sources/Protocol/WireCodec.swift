import Core

/// trpo's binary wire format, version 7: ``encode(_:)`` and ``decode(_:limits:)``.
///
/// A message is a list of frames (the parts of one ZeroMQ multipart message, without the
/// routing-id frame a ROUTER socket adds). Frame 0 is a fixed-size header: the 8-byte prefix
/// `"TRPO"`, protocol version (UInt16), kind (UInt8), flags (UInt8), then the kind's fixed
/// fields. Each array or string travels raw in its own frame, little-endian, and the header
/// states its element count. `docs/protocol.md` gives every layout byte by byte.
public enum WireCodec {
    /// The first four header bytes, ASCII `"TRPO"`.
    public static let magic: [UInt8] = Array("TRPO".utf8)
    /// The protocol version this codec writes and the only one it reads.
    /// Version 2 added the vine: the parameters' sampling fields and the vine chunk.
    /// Version 3 added custom models (the parameters' model hash, the model and requestModel
    /// kinds) and the worker's leave message.
    /// Version 4 added learner-assigned worker ids (the hello's assignID flag) and the
    /// welcome kind (the worker's id and the learner's liveness timing).
    /// Version 5 added external environments: the welcome's environment name, arguments and
    /// specRequired flag, and the environmentSpec kind.
    /// Version 6 changed the vine chunk: per branch its un-bootstrapped return, length, end
    /// (terminated or cut) and a cut branch's end observation, and the trunks as trajectories
    /// (a chunk's frames), so the learner can bootstrap Q̂ from a value function fitted on them.
    /// Version 7 added pixels: convolutional policies in the parameters (flag bit 1 and the
    /// convolutions frame) and uint8 observations in chunks and vine chunks (flag bit 0).
    public static let version: UInt16 = 7

    /// The frames of a message.
    ///
    /// Encoding does not validate contents: a message that breaks its type's documented
    /// invariants (non-finite values, inconsistent shapes, …) is encoded as it is and
    /// refused by the receiver's decoder.
    /// - Precondition: every count, width, simulator count, quota and string length, and
    ///   every integer array element (layer sizes, bootstrap rows, episode lengths), is in
    ///   `0...UInt32.max`.
    public static func encode(_ message: Message) -> [[UInt8]] {
        switch message {
        case .hello(let hello): encode(hello)
        case .parameters(let parameters): encode(parameters)
        case .chunk(let chunk): encode(chunk)
        case .vineChunk(let chunk): encode(chunk)
        case .heartbeat(let heartbeat): encode(heartbeat)
        case .stop(let stop): encode(stop)
        case .requestParameters(let worker): encodeRequestParameters(worker)
        case .reject(let reject): encode(reject)
        case .model(let model): encode(model)
        case .requestModel(let request): encode(request)
        case .leave(let leave): encode(leave)
        case .welcome(let welcome): encode(welcome)
        case .environmentSpec(let report): encode(report)
        }
    }

    /// Decodes and validates one message.
    ///
    /// Never traps on any input: every malformed message is reported as the first
    /// ``ProtocolError`` found, in the order that type documents. No array is allocated
    /// before its declared count has passed `limits` and its frame has exactly the declared
    /// length. Frames are only read during the call.
    /// - Parameters:
    ///   - frames: the message's frames, header first (no routing-id frame).
    ///   - limits: size bounds for this endpoint.
    public static func decode<Frames: FrameSource>(
        _ frames: Frames, limits: DecodingLimits = .default
    ) throws(ProtocolError) -> Message {
        let header = try readHeader(frames, limits: limits)
        var decoder = MessageDecoder(frames: frames, limits: limits, header: header)
        return try decoder.decode()
    }
}

/// Header sizes and flag bits of version 7 (see `docs/protocol.md`).
enum HeaderLayout {
    /// Magic (4), version (2), kind (1), flags (1).
    static let prefixSize = 8

    /// The exact size of a kind's header frame.
    static func size(of kind: MessageKind) -> Int {
        switch kind {
        case .hello: 32  // prefix + u64 + 4 × u32
        case .parameters: 136  // prefix + 5 × u64 + 3 × f64 + u64 + 13 × u32 + 4 × u8
        case .chunk: 72  // prefix + 5 × u64 + 6 × u32
        case .vineChunk: 77  // prefix + 4 × u64 + 9 × u32 + u8
        case .heartbeat: 44  // prefix + 4 × u64 + u32
        case .stop: 21  // prefix + u64 + u32 + u8
        case .requestParameters: 20  // prefix + u64 + u32
        case .reject: 37  // prefix + 3 × u64 + u32 + u8
        case .model: 28  // prefix + 2 × u64 + u32
        case .requestModel: 28  // prefix + 2 × u64 + u32
        case .leave: 25  // prefix + u64 + 2 × u32 + u8
        case .welcome: 48  // prefix + 2 × u64 + 6 × u32
        case .environmentSpec: 34  // prefix + u64 + 4 × u32 + 2 × u8
        }
    }

    /// The flag bits a kind defines; all others must be zero.
    static func definedFlags(of kind: MessageKind) -> UInt8 {
        switch kind {
        case .parameters: normalizerPresent | convolutional
        case .chunk, .vineChunk: pixels
        case .heartbeat: fromLearner | versionPresent
        case .reject: sequencePresent
        case .hello: assignID
        case .welcome: idAssigned | specRequired
        case .environmentSpec: canSnapshot
        case .stop, .requestParameters, .model, .requestModel, .leave: 0
        }
    }

    /// parameters: the normaliser frames are present.
    static let normalizerPresent: UInt8 = 1 << 0
    /// parameters: the policy's trunk is convolutional (the convolutions frame is present).
    static let convolutional: UInt8 = 1 << 1
    /// chunk: observations are uint8 (one byte per value), not f64.
    static let pixels: UInt8 = 1 << 0
    /// heartbeat: the sender is the learner (else a worker).
    static let fromLearner: UInt8 = 1 << 0
    /// heartbeat: the version field is meaningful.
    static let versionPresent: UInt8 = 1 << 1
    /// reject: the sequence field is meaningful.
    static let sequencePresent: UInt8 = 1 << 0
    /// hello: the learner is to assign the worker's id (the workerID field must be 0).
    static let assignID: UInt8 = 1 << 0
    /// welcome: the learner assigned the id (the hello asked for one).
    static let idAssigned: UInt8 = 1 << 0
    /// welcome: the worker must send its environmentSpec before it gets parameters.
    static let specRequired: UInt8 = 1 << 1
    /// environmentSpec: the worker can snapshot and restore its environment's state.
    static let canSnapshot: UInt8 = 1 << 0
}

/// The wire codes of Core enums that have none of their own.
enum WireCode {
    static let categorical: UInt8 = 0, gaussian: UInt8 = 1
    static let singlePath: UInt8 = 0, vine: UInt8 = 1
    static let discreteActions: UInt8 = 0, boxActions: UInt8 = 1
    static func activation(_ activation: Activation) -> UInt8 {
        switch activation {
        case .tanh: 0
        case .relu: 1
        }
    }
    static func activation(_ code: UInt8) -> Activation? {
        switch code {
        case 0: .tanh
        case 1: .relu
        default: nil
        }
    }
}

/// The field names a single-path section reports its errors with: a chunk's own, or a vine
/// chunk's trunks (the same eight frames, §3.4 and §3.9).
struct TrajectoryFields {
    var observations, actions, rewards, ends, bootstrapRows, bootstrapObservations: Field

    static let chunk = TrajectoryFields(observations: .observations, actions: .actions, rewards: .rewards, ends: .ends,
                                        bootstrapRows: .bootstrapRows, bootstrapObservations: .bootstrapObservations)
    static let trunk = TrajectoryFields(observations: .trunkObservations, actions: .trunkActions, rewards: .trunkRewards,
                                        ends: .trunkEnds, bootstrapRows: .trunkBootstrapRows,
                                        bootstrapObservations: .trunkBootstrapObservations)
}
