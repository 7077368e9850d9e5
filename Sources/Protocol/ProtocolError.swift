/// Why a list of frames is not a valid message.
///
/// ``WireCodec/decode(_:limits:)`` checks in a fixed order and reports the first failure:
/// framing (frame count ≥ 1, total size, header prefix, version, kind), then the header
/// (exact length, flags, codes and counts, limits), the number of frames, every frame's
/// length, and finally the contents, frame by frame. Indices are 0-based element indices
/// within the named array; rows are 0-based rows of the chunk.
public enum ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    // MARK: Framing

    /// The message has no frames.
    case noFrames
    /// The frames hold more bytes than ``DecodingLimits/maxTotalBytes``.
    case messageTooLarge(bytes: Int, limit: Int)
    /// Frame 0 is shorter than the 8-byte prefix or than its kind's header.
    case headerTooShort(bytes: Int, expected: Int)
    /// Frame 0 is longer than its kind's header.
    case headerTooLong(bytes: Int, expected: Int)
    /// The first four bytes are not `"TRPO"`; the bytes seen.
    case badMagic([UInt8])
    /// The header names a protocol version this codec does not speak; the version seen.
    case unsupportedVersion(UInt16)
    /// The kind byte names no message kind; the byte seen.
    case unknownKind(UInt8)
    /// The flags byte has bits set that the kind does not define.
    case unknownFlags(kind: MessageKind, flags: UInt8)
    /// The message has `count` frames where its header implies `expected`.
    case frameCount(kind: MessageKind, count: Int, expected: Int)
    /// A frame's byte length is not the one its declared count implies.
    case frameLength(Field, bytes: Int, expected: Int)

    // MARK: Counts

    /// A declared count or width exceeds its limit (a ``DecodingLimits`` value, the chunk's
    /// row count for bootstrap rows and episodes, or ``Message/Parameters/maxQuota``).
    case limitExceeded(Field, count: Int, limit: Int)
    /// A declared element count overflows when multiplied out.
    case countOverflow(Field)

    // MARK: Values

    /// An integer field or code holds a value outside its allowed set (see `docs/protocol.md`).
    case invalidValue(Field, UInt64)
    /// A floating-point value is NaN or infinite where it must be finite.
    case nonFinite(Field, index: Int)
    /// A finite floating-point header field is outside its allowed range (normaliser count
    /// below 0, clip not above 0).
    case invalidNumber(Field, Double)
    /// A normaliser variance is negative.
    case negativeVariance(index: Int)
    /// A string frame is not valid UTF-8.
    case invalidUTF8(Field)
    /// A model message's hash is not the hash of its text (``Message/Model/hash(of:)``).
    case modelHashMismatch(declared: UInt64, computed: UInt64)

    // MARK: Chunk structure

    /// A row's end byte is not 0 (none), 1 (terminated) or 2 (truncated).
    case invalidEnd(row: Int, value: UInt8)
    /// The chunk's last row does not end its trajectory (its end is 0).
    case unterminatedChunk
    /// Bootstrap row entry `index` names row `row`, beyond the chunk.
    case bootstrapRowOutOfRange(index: Int, row: Int)
    /// Bootstrap row entry `index` is not greater than the entry before it.
    case bootstrapRowsNotAscending(index: Int)
    /// Row `row` is listed as a bootstrap row but does not end `.truncated`, or ends
    /// `.truncated` but is not listed.
    case bootstrapRowMismatch(row: Int)
    /// More finished episodes are reported than rows end an episode.
    case tooManyEpisodes(episodes: Int, endingRows: Int)

    // MARK: Vine chunk structure

    /// An eq. 15 (enumerated-actions) vine chunk whose actions at state `state` are not
    /// `0, 1, …, K−1`.
    case actionsNotEnumerated(state: Int)
    /// The header declares `declared` cut branches, the branch ends mark `marked`.
    case cutCountMismatch(declared: Int, marked: Int)

    // MARK: Policy structure

    /// The network parameter count is not the one the layer sizes imply.
    case parameterCountMismatch(declared: Int, expected: Int)
    /// The last layer width is not the head's output width.
    case outputWidthMismatch(network: Int, head: Int)
    /// The log-std count is not the head's (0 for categorical, one per Gaussian dimension).
    case logStdCountMismatch(declared: Int, expected: Int)
    /// The normaliser's size is not the network's input width.
    case normalizerSizeMismatch(normalizer: Int, input: Int)
    /// A convolutional trunk whose kernels do not fit the feature maps they slide over, or
    /// whose flattened output is not the first dense layer width.
    case invalidConvolutions(String)
    /// environmentSpec contents: a shape dimension of 0 or a product beyond maxWidth, NaN
    /// bounds, or a lower bound above its upper bound (the text names which).
    case invalidEnvironmentSpec(String)

    public var description: String {
        switch self {
        case .noFrames: "message has no frames"
        case .messageTooLarge(let bytes, let limit): "message of \(bytes) bytes exceeds the limit of \(limit)"
        case .headerTooShort(let bytes, let expected): "header of \(bytes) bytes is shorter than \(expected)"
        case .headerTooLong(let bytes, let expected): "header of \(bytes) bytes is longer than \(expected)"
        case .badMagic(let bytes): "bad magic \(bytes.map { String($0, radix: 16) }) (expected \"TRPO\")"
        case .unsupportedVersion(let v): "unsupported protocol version \(v) (this codec speaks \(WireCodec.version))"
        case .unknownKind(let k): "unknown message kind \(k)"
        case .unknownFlags(let kind, let flags): "\(kind) header has undefined flag bits in 0x\(String(flags, radix: 16))"
        case .frameCount(let kind, let count, let expected): "\(kind) message has \(count) frames, expected \(expected)"
        case .frameLength(let field, let bytes, let expected): "\(field) frame has \(bytes) bytes, expected \(expected)"
        case .limitExceeded(let field, let count, let limit): "\(field) count \(count) exceeds the limit of \(limit)"
        case .countOverflow(let field): "\(field) element count overflows"
        case .invalidValue(let field, let value): "invalid \(field) value \(value)"
        case .nonFinite(let field, let index): "\(field)[\(index)] is not finite"
        case .invalidNumber(let field, let value): "invalid \(field) value \(value)"
        case .negativeVariance(let index): "normalizer variance[\(index)] is negative"
        case .invalidUTF8(let field): "\(field) is not valid UTF-8"
        case .modelHashMismatch(let declared, let computed):
            "model hash \(String(declared, radix: 16)) is not the text's hash \(String(computed, radix: 16))"
        case .invalidEnd(let row, let value): "row \(row) has end \(value), expected 0, 1 or 2"
        case .unterminatedChunk: "the chunk's last row does not end its trajectory"
        case .bootstrapRowOutOfRange(let index, let row): "bootstrap row \(index) names row \(row), beyond the chunk"
        case .bootstrapRowsNotAscending(let index): "bootstrap row \(index) is not greater than the one before"
        case .bootstrapRowMismatch(let row): "row \(row) is truncated or listed as a bootstrap row, but not both"
        case .tooManyEpisodes(let episodes, let endingRows): "\(episodes) finished episodes but only \(endingRows) rows end one"
        case .actionsNotEnumerated(let state): "enumerated vine chunk does not list the actions 0, 1, …, K−1 at state \(state)"
        case .cutCountMismatch(let declared, let marked): "vine chunk declares \(declared) cut branches, its branch ends mark \(marked)"
        case .parameterCountMismatch(let declared, let expected): "\(declared) network parameters, the layer sizes imply \(expected)"
        case .outputWidthMismatch(let network, let head): "network output width \(network) does not match the head's \(head)"
        case .logStdCountMismatch(let declared, let expected): "\(declared) log-stds, the head needs \(expected)"
        case .normalizerSizeMismatch(let normalizer, let input): "normalizer size \(normalizer) does not match the input width \(input)"
        case .invalidEnvironmentSpec(let problem): "invalid environment spec: \(problem)"
        case .invalidConvolutions(let problem): "invalid convolutions: \(problem)"
        }
    }
}

/// A header field or array frame, as named in errors and in `docs/protocol.md`.
public enum Field: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    // Common and shared
    case workerID, version, sequence, message
    // hello and parameters
    case simulatorCount, environmentID
    // hello
    case softwareVersion
    // welcome
    case heartbeatInterval, workerTimeout
    // parameters
    case chunkSteps, quota, headKind, headSize, activation, layerSizes, networkParameters, logStd
    case normalizerSize, normalizerMean, normalizerVariance, normalizerCount, normalizerClip
    case sampler, trunkSteps, rolloutStates, actionsPerState, rolloutLength, vineGamma, commonRandomNumbers
    case convolutions
    // chunk
    case rows, observationSize, actionWidth, simulatorSteps
    case observations, actions, rewards, ends, bootstrapRows, bootstrapObservations, episodeReturns, episodeLengths
    // vine chunk (and trunkSteps, actionsPerState above)
    case states, branches, estimator, branchReturns, oldLogProbabilities, branchLengths, branchEnds, cutCount
    case cutObservations
    // the vine chunk's trunks (a chunk's frames)
    case trunkObservations, trunkActions, trunkRewards, trunkEnds, trunkBootstrapRows, trunkBootstrapObservations
    // parameters, model and requestModel
    case modelHash, model
    // welcome
    case environmentArguments
    // environmentSpec
    case observationRank, observationShape, observationType, actionKind, actionSize, actionLow, actionHigh, timeLimit
    // stop, reject and leave
    case stopReason, rejectReason, leaveReason

    public var description: String { rawValue }
}
