import Core

/// A header frame whose prefix, kind, exact length and flags have been checked.
struct Header {
    let kind: MessageKind
    let flags: UInt8
    /// The whole header frame (at most ``HeaderLayout/size(of:)`` bytes, copied out).
    let bytes: [UInt8]

    func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
}

extension WireCodec {
    /// Checks the framing (frame count, total size) and the header frame.
    static func readHeader<Frames: FrameSource>(_ frames: Frames, limits: DecodingLimits) throws(ProtocolError) -> Header {
        guard frames.count > 0 else { throw .noFrames }
        var total = 0
        for index in 0..<frames.count {
            let (sum, overflow) = total.addingReportingOverflow(frames.withFrame(index) { $0.count })
            total = overflow ? .max : sum
        }
        guard total <= limits.maxTotalBytes else { throw .messageTooLarge(bytes: total, limit: limits.maxTotalBytes) }
        return try frames.withFrame(0) { (frame: UnsafeRawBufferPointer) throws(ProtocolError) -> Header in
            let prefix = HeaderLayout.prefixSize
            guard frame.count >= prefix else { throw .headerTooShort(bytes: frame.count, expected: prefix) }
            guard frame.prefix(4).elementsEqual(magic) else { throw .badMagic(Array(frame.prefix(4))) }
            let version = UInt16(frame[4]) | UInt16(frame[5]) << 8
            guard version == WireCodec.version else { throw .unsupportedVersion(version) }
            guard let kind = MessageKind(rawValue: frame[6]) else { throw .unknownKind(frame[6]) }
            let size = HeaderLayout.size(of: kind)
            guard frame.count >= size else { throw .headerTooShort(bytes: frame.count, expected: size) }
            guard frame.count <= size else { throw .headerTooLong(bytes: frame.count, expected: size) }
            let flags = frame[7]
            guard flags & ~HeaderLayout.definedFlags(of: kind) == 0 else { throw .unknownFlags(kind: kind, flags: flags) }
            return Header(kind: kind, flags: flags, bytes: Array(frame))
        }
    }
}

/// Decodes the kind-specific part of one message: header fields, then frame count, then
/// frame lengths, then frame contents (the order ``ProtocolError`` documents).
struct MessageDecoder<Frames: FrameSource> {
    let frames: Frames
    let limits: DecodingLimits
    let header: Header
    var fields: HeaderReader

    init(frames: Frames, limits: DecodingLimits, header: Header) {
        self.frames = frames
        self.limits = limits
        self.header = header
        fields = HeaderReader(header.bytes)
    }

    mutating func decode() throws(ProtocolError) -> Message {
        let message: Message
        switch header.kind {
        case .hello: message = .hello(try hello())
        case .parameters: message = .parameters(try parameters())
        case .chunk: message = .chunk(try chunk())
        case .vineChunk: message = .vineChunk(try vineChunk())
        case .heartbeat: message = .heartbeat(try heartbeat())
        case .stop: message = .stop(try stop())
        case .requestParameters: message = .requestParameters(try requestParameters())
        case .reject: message = .reject(try reject())
        case .model: message = .model(try model())
        case .requestModel: message = .requestModel(try requestModel())
        case .leave: message = .leave(try leave())
        case .welcome: message = .welcome(try welcome())
        case .environmentSpec: message = .environmentSpec(try environmentSpec())
        }
        assert(fields.isAtEnd, "the \(header.kind) decoder did not read its whole header")
        return message
    }

    // MARK: - Kinds

    mutating func hello() throws(ProtocolError) -> Message.Hello {
        let nonce: UInt64 = fields.read(), id: UInt32 = fields.read(), simulators: UInt32 = fields.read()
        let environmentLength: UInt32 = fields.read(), softwareLength: UInt32 = fields.read()
        let assign = header.has(HeaderLayout.assignID)
        guard !assign || id == 0 else { throw .invalidValue(.workerID, UInt64(id)) }

        let environmentBytes = try stringLength(environmentLength, .environmentID)
        let softwareBytes = try stringLength(softwareLength, .softwareVersion)

        try expectFrames(3)
        try expectLength(1, .environmentID, environmentBytes)
        try expectLength(2, .softwareVersion, softwareBytes)

        let environmentID = try string(1, .environmentID)
        let softwareVersion = try string(2, .softwareVersion)
        return Message.Hello(nonce: nonce, workerID: assign ? nil : id, simulatorCount: Int(simulators),
                             environmentID: environmentID, softwareVersion: softwareVersion)
    }

    mutating func parameters() throws(ProtocolError) -> Message.Parameters {
        let session: UInt64 = fields.read(), version: UInt64 = fields.read(), seed: UInt64 = fields.read()
        let stream: UInt64 = fields.read(), collection: UInt64 = fields.read()
        let normalizerCount = fields.readDouble(), clip = fields.readDouble(), vineGamma = fields.readDouble()
        let modelHash: UInt64 = fields.read()
        let environmentLength: UInt32 = fields.read(), simulators: UInt32 = fields.read()
        let chunkSteps: UInt32 = fields.read(), quota: UInt32 = fields.read()
        let layerCount: UInt32 = fields.read(), parameterCount: UInt32 = fields.read()
        let headSize: UInt32 = fields.read(), logStdCount: UInt32 = fields.read(), normalizerSize: UInt32 = fields.read()
        let trunkSteps: UInt32 = fields.read(), rolloutStates: UInt32 = fields.read()
        let actionsPerState: UInt32 = fields.read(), rolloutLength: UInt32 = fields.read()
        let headKind: UInt8 = fields.read(), activationCode: UInt8 = fields.read()
        let samplerCode: UInt8 = fields.read(), crnCode: UInt8 = fields.read()
        let hasNormalizer = header.has(HeaderLayout.normalizerPresent)
        let isConvolutional = header.has(HeaderLayout.convolutional)

        guard headKind == WireCode.categorical || headKind == WireCode.gaussian else {
            throw .invalidValue(.headKind, UInt64(headKind))
        }
        guard let activation = WireCode.activation(activationCode) else {
            throw .invalidValue(.activation, UInt64(activationCode))
        }
        let sampling = try MessageDecoder.sampling(
            samplerCode, trunkSteps: trunkSteps, rolloutStates: rolloutStates, actionsPerState: actionsPerState,
            rolloutLength: rolloutLength, gamma: vineGamma, crn: crnCode, limits: limits)
        let environmentBytes = try stringLength(environmentLength, .environmentID)
        guard environmentBytes > 0 else { throw .invalidValue(.environmentID, 0) }
        let simulatorCount = try width(simulators, .simulatorCount)
        guard chunkSteps >= 1 else { throw .invalidValue(.chunkSteps, 0) }
        guard chunkSteps <= limits.maxRows else {
            throw .limitExceeded(.chunkSteps, count: Int(chunkSteps), limit: limits.maxRows)
        }
        guard quota <= Message.Parameters.maxQuota else {
            throw .limitExceeded(.quota, count: Int(quota), limit: Message.Parameters.maxQuota)
        }
        let size = try width(headSize, .headSize)
        let head: PolicyHead = headKind == WireCode.categorical ? .categorical(actions: size) : .gaussian(dimensions: size)
        guard layerCount >= 2 else { throw .invalidValue(.layerSizes, UInt64(layerCount)) }
        guard parameterCount <= limits.maxParameters else {
            throw .limitExceeded(.networkParameters, count: Int(parameterCount), limit: limits.maxParameters)
        }
        guard logStdCount == head.logStdCount else {
            throw .logStdCountMismatch(declared: Int(logStdCount), expected: head.logStdCount)
        }
        let statisticsSize: Int
        if hasNormalizer {
            statisticsSize = try width(normalizerSize, .normalizerSize)
            guard normalizerCount.isFinite else { throw .nonFinite(.normalizerCount, index: 0) }
            guard normalizerCount >= 0 else { throw .invalidNumber(.normalizerCount, normalizerCount) }
            guard clip.isFinite else { throw .nonFinite(.normalizerClip, index: 0) }
            guard clip > 0 else { throw .invalidNumber(.normalizerClip, clip) }
        } else {
            guard normalizerSize == 0 else { throw .invalidValue(.normalizerSize, UInt64(normalizerSize)) }
            guard normalizerCount.bitPattern == 0 else { throw .invalidValue(.normalizerCount, normalizerCount.bitPattern) }
            guard clip.bitPattern == 0 else { throw .invalidValue(.normalizerClip, clip.bitPattern) }
            statisticsSize = 0
        }
        // Frames are read as p/255, never standardised.
        if isConvolutional && hasNormalizer { throw .invalidConvolutions("a convolutional policy reads frames as p/255 and takes no normaliser") }

        try expectFrames((hasNormalizer ? 7 : 5) + (isConvolutional ? 1 : 0))
        try expectLength(1, .environmentID, environmentBytes)
        try expectLength(2, .layerSizes, Int(layerCount) * 4)
        try expectLength(3, .networkParameters, Int(parameterCount) * 8)
        try expectLength(4, .logStd, Int(logStdCount) * 8)
        if hasNormalizer {
            try expectLength(5, .normalizerMean, statisticsSize * 8)
            try expectLength(6, .normalizerVariance, statisticsSize * 8)
        }
        var convolutionValues: [Int] = []
        if isConvolutional {
            // 3 + 3·L u32 values: the input's height, width, channels; each convolution's
            // filters, kernel, stride.
            let bytes = frameLength(5)
            let layers = (bytes / 4 - 3) / 3
            guard bytes % 12 == 0, bytes >= 24 else { throw .frameLength(.convolutions, bytes: bytes, expected: 12 + 12 * max(1, layers)) }
            guard layers <= ConvolutionalArchitecture.maxConvolutions else {
                throw .limitExceeded(.convolutions, count: layers, limit: ConvolutionalArchitecture.maxConvolutions)
            }
            convolutionValues = try frame(5) { frame in WireArray.uint32s(frame) }
        }

        let environmentID = try string(1, .environmentID)
        let layerSizes = try frame(2) { frame in WireArray.uint32s(frame) }
        var expectedCount = 0
        var architecture: ConvolutionalArchitecture?
        if isConvolutional {
            let (built, convolutionParameters) = try MessageDecoder.architecture(
                convolutionValues, hiddenSizes: Array(layerSizes.dropFirst().dropLast()), activation: activation,
                flattenedWidth: layerSizes[0], limits: limits)
            architecture = built
            expectedCount = convolutionParameters
        }
        for (i, width) in layerSizes.enumerated() {
            guard width >= 1 else { throw .invalidValue(.layerSizes, 0) }
            guard width <= limits.maxWidth else { throw .limitExceeded(.layerSizes, count: width, limit: limits.maxWidth) }
            if i > 0 {
                // weights [previous × width] and `width` biases; widths ≤ maxWidth keep this
                // in range unless the limits themselves are huge.
                let (weights, o1) = layerSizes[i - 1].multipliedReportingOverflow(by: width)
                let (layer, o2) = weights.addingReportingOverflow(width)
                let (sum, o3) = expectedCount.addingReportingOverflow(layer)
                guard !(o1 || o2 || o3) else { throw .countOverflow(.networkParameters) }
                expectedCount = sum
            }
        }
        guard layerSizes.last == head.outputWidth else {
            throw .outputWidthMismatch(network: layerSizes[layerSizes.count - 1], head: head.outputWidth)
        }
        if hasNormalizer && layerSizes[0] != statisticsSize {
            throw .normalizerSizeMismatch(normalizer: statisticsSize, input: layerSizes[0])
        }
        guard expectedCount == Int(parameterCount) else {
            throw .parameterCountMismatch(declared: Int(parameterCount), expected: expectedCount)
        }
        let networkParameters = try doubles(3, .networkParameters)
        let logStd = try doubles(4, .logStd)
        // The checks above establish the networks' and policies' preconditions: at least two
        // dense widths, all positive; a valid convolutional architecture whose flattened
        // output is the first of them; the parameter count they imply; the head's output width
        // and log-std count.
        let policy: AnyPolicy = if let architecture {
            .convolutional(ConvolutionalPolicy(
                head: head,
                network: ConvolutionalNetwork(architecture: architecture, outputSize: head.outputWidth, parameters: networkParameters),
                logStd: logStd))
        } else {
            .dense(Policy(head: head, network: MLP(layerSizes: layerSizes, activation: activation, parameters: networkParameters),
                          logStd: logStd))
        }
        var normalizer: RunningNormalizer?
        if hasNormalizer {
            let mean = try doubles(5, .normalizerMean)
            let variance = try doubles(6, .normalizerVariance)
            if let index = variance.firstIndex(where: { $0 < 0 }) { throw .negativeVariance(index: index) }
            // RunningNormalizer's preconditions hold: equal lengths (both frames have
            // `statisticsSize` values), finite means and variances, variances ≥ 0, a finite
            // count ≥ 0 and a clip > 0.
            normalizer = RunningNormalizer(mean: mean, variance: variance, count: normalizerCount, clip: clip)
        }
        return Message.Parameters(session: session, version: version, seed: seed, environmentID: environmentID,
                                  simulatorCount: simulatorCount, chunkSteps: Int(chunkSteps), quota: Int(quota),
                                  policy: policy, normalizer: normalizer, sampling: sampling, stream: stream,
                                  collection: collection, modelHash: modelHash)
    }

    /// The parameters' sampling fields: all zero for single path; for the vine, trunk steps,
    /// rollout states and rollout length in `1...maxRows`, K in `2...maxWidth`, γ in [0, 1],
    /// CRN 0 or 1.
    static func sampling(_ code: UInt8, trunkSteps: UInt32, rolloutStates: UInt32, actionsPerState: UInt32,
                         rolloutLength: UInt32, gamma: Double, crn: UInt8,
                         limits: DecodingLimits) throws(ProtocolError) -> Message.Sampling {
        switch code {
        case WireCode.singlePath:
            for (field, value) in [(Field.trunkSteps, trunkSteps), (.rolloutStates, rolloutStates),
                                   (.actionsPerState, actionsPerState), (.rolloutLength, rolloutLength)] where value != 0 {
                throw .invalidValue(field, UInt64(value))
            }
            guard gamma.bitPattern == 0 else { throw .invalidValue(.vineGamma, gamma.bitPattern) }
            guard crn == 0 else { throw .invalidValue(.commonRandomNumbers, UInt64(crn)) }
            return .singlePath
        case WireCode.vine:
            func count(_ value: UInt32, _ field: Field, minimum: UInt32, limit: Int) throws(ProtocolError) -> Int {
                guard value >= minimum else { throw .invalidValue(field, UInt64(value)) }
                guard value <= limit else { throw .limitExceeded(field, count: Int(value), limit: limit) }
                return Int(value)
            }
            let trunk = try count(trunkSteps, .trunkSteps, minimum: 1, limit: limits.maxRows)
            let states = try count(rolloutStates, .rolloutStates, minimum: 1, limit: limits.maxRows)
            let k = try count(actionsPerState, .actionsPerState, minimum: 2, limit: limits.maxWidth)
            let length = try count(rolloutLength, .rolloutLength, minimum: 1, limit: limits.maxRows)
            guard gamma.isFinite else { throw .nonFinite(.vineGamma, index: 0) }
            guard gamma >= 0 && gamma <= 1 else { throw .invalidNumber(.vineGamma, gamma) }
            guard crn <= 1 else { throw .invalidValue(.commonRandomNumbers, UInt64(crn)) }
            return .vine(VineSettings(trunkSteps: trunk, rolloutStates: states, actionsPerState: k, rolloutLength: length,
                                      gamma: gamma, commonRandomNumbers: crn == 1))
        default:
            throw .invalidValue(.sampler, UInt64(code))
        }
    }

    /// The convolutional trunk of a parameters message: the input shape and each convolution's
    /// (filters, kernel, stride) from the convolutions frame, every value in `1...maxWidth`,
    /// every kernel within the feature map it slides over, and the flattened output equal to
    /// the first dense width.
    /// - Returns: the architecture and its convolutions' parameter count.
    static func architecture(_ values: [Int], hiddenSizes: [Int], activation: Activation, flattenedWidth: Int,
                             limits: DecodingLimits) throws(ProtocolError) -> (ConvolutionalArchitecture, Int) {
        for value in values {
            guard value >= 1 else { throw .invalidValue(.convolutions, 0) }
            guard value <= limits.maxWidth else { throw .limitExceeded(.convolutions, count: value, limit: limits.maxWidth) }
        }
        var shape = ImageShape(height: values[0], width: values[1], channels: values[2])
        let (pixels, o1) = shape.height.multipliedReportingOverflow(by: shape.width)
        let (inputCount, o2) = pixels.multipliedReportingOverflow(by: shape.channels)
        guard !(o1 || o2), inputCount <= limits.maxWidth else {
            throw .invalidConvolutions("input \(shape.height)×\(shape.width)×\(shape.channels) exceeds \(limits.maxWidth) values")
        }
        var convolutions: [ConvolutionSpec] = []
        var count = 0
        for l in 0..<((values.count - 3) / 3) {
            let spec = ConvolutionSpec(filters: values[3 + 3 * l], kernel: values[4 + 3 * l], stride: values[5 + 3 * l])
            guard spec.kernel <= shape.height, spec.kernel <= shape.width else {
                throw .invalidConvolutions("convolution \(l + 1)'s \(spec.kernel)×\(spec.kernel) kernel exceeds its \(shape.height)×\(shape.width) input")
            }
            // Each factor ≤ maxWidth and the input ≤ maxWidth values: no overflow.
            count += spec.kernel * spec.kernel * shape.channels * spec.filters + spec.filters
            shape = ConvolutionGeometry(input: shape, spec: spec).output
            guard shape.count <= limits.maxWidth else {
                throw .invalidConvolutions("convolution \(l + 1)'s output of \(shape.count) values exceeds \(limits.maxWidth)")
            }
            convolutions.append(spec)
        }
        guard shape.count == flattenedWidth else {
            throw .invalidConvolutions("the flattened output of \(shape.height)×\(shape.width)×\(shape.channels) is \(shape.count) values, the first layer size \(flattenedWidth)")
        }
        let architecture = ConvolutionalArchitecture(input: ImageShape(height: values[0], width: values[1], channels: values[2]),
                                                     convolutions: convolutions, hiddenSizes: hiddenSizes, activation: activation)
        return (architecture, count)
    }

    mutating func chunk() throws(ProtocolError) -> Message.Chunk {
        let nonce: UInt64 = fields.read(), session: UInt64 = fields.read(), version: UInt64 = fields.read()
        let sequence: UInt64 = fields.read(), simulatorSteps: UInt64 = fields.read()
        let id: UInt32 = fields.read(), rowCount: UInt32 = fields.read()
        let observationSize: UInt32 = fields.read(), actionWidth: UInt32 = fields.read()
        let bootstrapCount: UInt32 = fields.read(), episodeCount: UInt32 = fields.read()

        guard rowCount >= 1 else { throw .invalidValue(.rows, 0) }
        guard rowCount <= limits.maxRows else { throw .limitExceeded(.rows, count: Int(rowCount), limit: limits.maxRows) }
        let n = Int(rowCount)
        let obs = try width(observationSize, .observationSize)
        let width = try width(actionWidth, .actionWidth)
        let pixels = header.has(HeaderLayout.pixels)
        let shape = try trajectoryShape(rows: n, observationSize: obs, actionWidth: width, bootstrapCount: bootstrapCount,
                                        episodeCount: episodeCount, .chunk, observationBytes: pixels ? UInt8.wireSize : Double.wireSize)
        guard simulatorSteps >= UInt64(n) else { throw .invalidValue(.simulatorSteps, simulatorSteps) }

        try expectFrames(9)
        try expectTrajectoryLengths(from: 1, shape)
        let batch: AnySamples = pixels ? .frames(try trajectories(from: 1, shape)) : .features(try trajectories(from: 1, shape))
        return Message.Chunk(worker: WorkerIdentity(id: id, nonce: nonce), session: session, version: version,
                             sequence: sequence, simulatorSteps: simulatorSteps, batch: batch)
    }

    /// The counts of a single-path section (a chunk, or a vine chunk's trunks), checked
    /// against each other and their byte sizes computed.
    struct TrajectoryShape {
        var rows, observationSize, actionWidth, bootstrapCount, episodeCount: Int
        var observationBytes, actionBytes, bootstrapBytes: Int
        var fields: TrajectoryFields
    }

    /// Checks a single-path section's header counts: bootstraps and episodes at most `rows`
    /// (`rows`, the widths already checked).
    func trajectoryShape(rows n: Int, observationSize obs: Int, actionWidth width: Int, bootstrapCount: UInt32,
                         episodeCount: UInt32, _ fields: TrajectoryFields,
                         observationBytes: Int = 8) throws(ProtocolError) -> TrajectoryShape {
        let k = Int(bootstrapCount), e = Int(episodeCount)
        guard k <= n else { throw .limitExceeded(fields.bootstrapRows, count: k, limit: n) }
        guard e <= n else { throw .limitExceeded(.episodeReturns, count: e, limit: n) }
        return TrajectoryShape(rows: n, observationSize: obs, actionWidth: width, bootstrapCount: k, episodeCount: e,
                               observationBytes: try byteCount(n, obs, fields.observations) / 8 * observationBytes,
                               actionBytes: try byteCount(n, width, fields.actions),
                               bootstrapBytes: try byteCount(k, obs, fields.bootstrapObservations) / 8 * observationBytes,
                               fields: fields)
    }

    /// Checks the byte lengths of a single-path section's eight frames, from frame `first`.
    func expectTrajectoryLengths(from first: Int, _ shape: TrajectoryShape) throws(ProtocolError) {
        let f = shape.fields
        try expectLength(first, f.observations, shape.observationBytes)
        try expectLength(first + 1, f.actions, shape.actionBytes)
        try expectLength(first + 2, f.rewards, shape.rows * 8)
        try expectLength(first + 3, f.ends, shape.rows)
        try expectLength(first + 4, f.bootstrapRows, shape.bootstrapCount * 4)
        try expectLength(first + 5, f.bootstrapObservations, shape.bootstrapBytes)
        try expectLength(first + 6, .episodeReturns, shape.episodeCount * 8)
        try expectLength(first + 7, .episodeLengths, shape.episodeCount * 4)
    }

    /// Decodes a single-path section's eight frames from frame `first` (lengths checked) by
    /// the chunk's content rules (§3.4).
    func trajectories<Observation: WireObservation>(from first: Int, _ shape: TrajectoryShape) throws(ProtocolError)
        -> Samples<Observation> {
        let f = shape.fields
        var batch = Samples<Observation>(observationSize: shape.observationSize, actionWidth: shape.actionWidth)
        batch.observations = try observations(first, f.observations)
        batch.actions = try doubles(first + 1, f.actions)
        batch.rewards = try doubles(first + 2, f.rewards)
        batch.ends = try frame(first + 3) { frame throws(ProtocolError) in try MessageDecoder.ends(frame) }
        guard batch.ends[shape.rows - 1] != .none else { throw .unterminatedChunk }
        var truncatedRows = 0, endingRows = 0
        for end in batch.ends {
            if end == .truncated { truncatedRows += 1 }
            if end != .none { endingRows += 1 }
        }
        batch.bootstrapRows = try frame(first + 4) { frame in WireArray.uint32s(frame) }
        try MessageDecoder.checkBootstrapRows(batch.bootstrapRows, ends: batch.ends, truncatedRows: truncatedRows)
        batch.bootstrapObservations = try observations(first + 5, f.bootstrapObservations)
        guard shape.episodeCount <= endingRows else { throw .tooManyEpisodes(episodes: shape.episodeCount, endingRows: endingRows) }
        batch.episodeReturns = try doubles(first + 6, .episodeReturns)
        batch.episodeLengths = try frame(first + 7) { frame in WireArray.uint32s(frame) }
        guard !batch.episodeLengths.contains(0) else { throw .invalidValue(.episodeLengths, 0) }
        return batch
    }

    mutating func vineChunk() throws(ProtocolError) -> Message.VineChunk {
        let nonce: UInt64 = fields.read(), session: UInt64 = fields.read(), version: UInt64 = fields.read()
        let sequence: UInt64 = fields.read()
        let id: UInt32 = fields.read(), stateCount: UInt32 = fields.read(), actionsPerState: UInt32 = fields.read()
        let observationSize: UInt32 = fields.read(), actionWidth: UInt32 = fields.read(), cutCount: UInt32 = fields.read()
        let trunkSteps: UInt32 = fields.read(), trunkBootstrapCount: UInt32 = fields.read()
        let episodeCount: UInt32 = fields.read(), estimatorCode: UInt8 = fields.read()

        guard let estimator = VineEstimator(rawValue: estimatorCode) else {
            throw .invalidValue(.estimator, UInt64(estimatorCode))
        }
        guard stateCount >= 1 else { throw .invalidValue(.states, 0) }
        guard stateCount <= limits.maxRows else { throw .limitExceeded(.states, count: Int(stateCount), limit: limits.maxRows) }
        guard actionsPerState >= 2 else { throw .invalidValue(.actionsPerState, UInt64(actionsPerState)) }
        let k = try width(actionsPerState, .actionsPerState)
        let n = Int(stateCount)
        // n ≤ maxRows and k ≤ maxWidth keep n·k in range unless the limits themselves are huge.
        let (branches, overflow) = n.multipliedReportingOverflow(by: k)
        guard !overflow else { throw .countOverflow(.branches) }
        guard branches <= limits.maxRows else { throw .limitExceeded(.branches, count: branches, limit: limits.maxRows) }
        let obs = try width(observationSize, .observationSize)
        let width = try width(actionWidth, .actionWidth)
        guard estimator == .importanceSampled || width == 1 else { throw .invalidValue(.actionWidth, UInt64(width)) }
        let cuts = Int(cutCount)
        guard cuts <= branches else { throw .limitExceeded(.cutCount, count: cuts, limit: branches) }
        // The rollout set is drawn from the trunks' states.
        guard trunkSteps >= stateCount else { throw .invalidValue(.trunkSteps, UInt64(trunkSteps)) }
        guard trunkSteps <= limits.maxRows else { throw .limitExceeded(.trunkSteps, count: Int(trunkSteps), limit: limits.maxRows) }
        let pixels = header.has(HeaderLayout.pixels)
        let valueBytes = pixels ? UInt8.wireSize : Double.wireSize
        let trunk = try trajectoryShape(rows: Int(trunkSteps), observationSize: obs, actionWidth: width,
                                        bootstrapCount: trunkBootstrapCount, episodeCount: episodeCount, .trunk,
                                        observationBytes: valueBytes)
        let observationBytes = try byteCount(n, obs, .observations) / 8 * valueBytes
        let actionBytes = try byteCount(branches, width, .actions)
        let cutBytes = try byteCount(cuts, obs, .cutObservations) / 8 * valueBytes

        try expectFrames(16)
        try expectLength(1, .observations, observationBytes)
        try expectLength(2, .actions, actionBytes)
        try expectLength(3, .branchReturns, branches * 8)
        try expectLength(4, .oldLogProbabilities, branches * 8)
        try expectLength(5, .branchLengths, branches * 4)
        try expectLength(6, .branchEnds, branches)
        try expectLength(7, .cutObservations, cutBytes)
        try expectTrajectoryLengths(from: 8, trunk)

        func collection<Observation: WireObservation>(_: Observation.Type) throws(ProtocolError) -> VineSamples<Observation> {
            var batch = VineSamples<Observation>(observationSize: obs, actionWidth: width, actionsPerState: k, estimator: estimator)
            batch.observations = try observations(1, .observations)
            batch.actions = try doubles(2, .actions)
            if estimator == .enumeratedActions {
                for state in 0..<n where !(0..<k).allSatisfy({ batch.actions[state * k + $0] == Double($0) }) {
                    throw .actionsNotEnumerated(state: state)
                }
            }
            batch.branchReturns = try doubles(3, .branchReturns)
            batch.oldLogProbabilities = try doubles(4, .oldLogProbabilities)
            batch.branchLengths = try frame(5) { frame in WireArray.uint32s(frame) }
            guard !batch.branchLengths.contains(0) else { throw .invalidValue(.branchLengths, 0) }
            batch.branchEnds = try frame(6) { frame throws(ProtocolError) in try MessageDecoder.branchEnds(frame) }
            let marked = batch.cutCount
            guard marked == cuts else { throw .cutCountMismatch(declared: cuts, marked: marked) }
            batch.cutObservations = try observations(7, .cutObservations)
            batch.trunks = try trajectories(from: 8, trunk)
            return batch
        }
        let batch: AnyVineSamples = pixels ? .frames(try collection(UInt8.self)) : .features(try collection(Double.self))
        return Message.VineChunk(worker: WorkerIdentity(id: id, nonce: nonce), session: session, version: version,
                                 sequence: sequence, batch: batch)
    }

    mutating func heartbeat() throws(ProtocolError) -> Message.Heartbeat {
        let nonce: UInt64 = fields.read(), sequence: UInt64 = fields.read(), timestamp: UInt64 = fields.read()
        let version: UInt64 = fields.read(), id: UInt32 = fields.read()
        let fromLearner = header.has(HeaderLayout.fromLearner), hasVersion = header.has(HeaderLayout.versionPresent)
        guard !fromLearner || id == 0 else { throw .invalidValue(.workerID, UInt64(id)) }
        guard hasVersion || version == 0 else { throw .invalidValue(.version, version) }
        try expectFrames(1)
        let sender: Message.Peer = fromLearner ? .learner(session: nonce) : .worker(WorkerIdentity(id: id, nonce: nonce))
        return Message.Heartbeat(sender: sender, sequence: sequence, timestamp: timestamp,
                                 version: hasVersion ? version : nil)
    }

    mutating func stop() throws(ProtocolError) -> Message.Stop {
        let session: UInt64 = fields.read(), messageLength: UInt32 = fields.read(), reasonCode: UInt8 = fields.read()
        guard let reason = StopReason(rawValue: reasonCode) else { throw .invalidValue(.stopReason, UInt64(reasonCode)) }
        let text = try message(frame: 1, length: messageLength)
        return Message.Stop(session: session, reason: reason, message: text)
    }

    mutating func requestParameters() throws(ProtocolError) -> WorkerIdentity {
        let nonce: UInt64 = fields.read(), id: UInt32 = fields.read()
        try expectFrames(1)
        return WorkerIdentity(id: id, nonce: nonce)
    }

    mutating func reject() throws(ProtocolError) -> Message.Reject {
        let session: UInt64 = fields.read(), currentVersion: UInt64 = fields.read(), sequence: UInt64 = fields.read()
        let messageLength: UInt32 = fields.read(), reasonCode: UInt8 = fields.read()
        let hasSequence = header.has(HeaderLayout.sequencePresent)
        guard let reason = RejectReason(rawValue: reasonCode) else {
            throw .invalidValue(.rejectReason, UInt64(reasonCode))
        }
        guard hasSequence || sequence == 0 else { throw .invalidValue(.sequence, sequence) }
        let text = try message(frame: 1, length: messageLength)
        return Message.Reject(session: session, currentVersion: currentVersion, reason: reason,
                              sequence: hasSequence ? sequence : nil, message: text)
    }

    mutating func model() throws(ProtocolError) -> Message.Model {
        let session: UInt64 = fields.read(), hash: UInt64 = fields.read(), length: UInt32 = fields.read()
        guard hash != 0 else { throw .invalidValue(.modelHash, 0) }
        guard length >= 1 else { throw .invalidValue(.model, 0) }
        guard length <= limits.maxModelBytes else {
            throw .limitExceeded(.model, count: Int(length), limit: limits.maxModelBytes)
        }
        try expectFrames(2)
        try expectLength(1, .model, Int(length))
        let xml = try string(1, .model)
        let model = Message.Model(session: session, xml: xml)
        guard model.hash == hash else { throw .modelHashMismatch(declared: hash, computed: model.hash) }
        return model
    }

    mutating func requestModel() throws(ProtocolError) -> Message.ModelRequest {
        let nonce: UInt64 = fields.read(), hash: UInt64 = fields.read(), id: UInt32 = fields.read()
        guard hash != 0 else { throw .invalidValue(.modelHash, 0) }
        try expectFrames(1)
        return Message.ModelRequest(worker: WorkerIdentity(id: id, nonce: nonce), hash: hash)
    }

    mutating func leave() throws(ProtocolError) -> Message.Leave {
        let nonce: UInt64 = fields.read(), id: UInt32 = fields.read(), messageLength: UInt32 = fields.read()
        let reasonCode: UInt8 = fields.read()
        guard let reason = LeaveReason(rawValue: reasonCode) else { throw .invalidValue(.leaveReason, UInt64(reasonCode)) }
        let text = try message(frame: 1, length: messageLength)
        return Message.Leave(worker: WorkerIdentity(id: id, nonce: nonce), reason: reason, message: text)
    }

    mutating func welcome() throws(ProtocolError) -> Message.Welcome {
        let session: UInt64 = fields.read(), nonce: UInt64 = fields.read(), id: UInt32 = fields.read()
        let heartbeat: UInt32 = fields.read(), timeout: UInt32 = fields.read(), softwareLength: UInt32 = fields.read()
        let environmentLength: UInt32 = fields.read(), argumentsLength: UInt32 = fields.read()
        guard heartbeat >= 1 else { throw .invalidValue(.heartbeatInterval, 0) }
        guard timeout >= 1 else { throw .invalidValue(.workerTimeout, 0) }
        let softwareBytes = try stringLength(softwareLength, .softwareVersion)
        guard environmentLength >= 1 else { throw .invalidValue(.environmentID, 0) }
        let environmentBytes = try stringLength(environmentLength, .environmentID)
        let argumentsBytes = try stringLength(argumentsLength, .environmentArguments)
        try expectFrames(4)
        try expectLength(1, .softwareVersion, softwareBytes)
        try expectLength(2, .environmentID, environmentBytes)
        try expectLength(3, .environmentArguments, argumentsBytes)
        return Message.Welcome(session: session, worker: WorkerIdentity(id: id, nonce: nonce),
                               assigned: header.has(HeaderLayout.idAssigned),
                               heartbeatInterval: .milliseconds(heartbeat), workerTimeout: .milliseconds(timeout),
                               softwareVersion: try string(1, .softwareVersion),
                               environmentID: try string(2, .environmentID),
                               environmentArguments: try string(3, .environmentArguments),
                               specRequired: header.has(HeaderLayout.specRequired))
    }

    mutating func environmentSpec() throws(ProtocolError) -> Message.EnvironmentSpecReport {
        let nonce: UInt64 = fields.read(), id: UInt32 = fields.read(), rank: UInt32 = fields.read()
        let actionSize: UInt32 = fields.read(), timeLimit: UInt32 = fields.read()
        let typeCode: UInt8 = fields.read(), actionKind: UInt8 = fields.read()
        guard rank >= 1, rank <= EnvironmentSpec.maxRank else { throw .invalidValue(.observationRank, UInt64(rank)) }
        let size = try width(actionSize, .actionSize)
        guard let type = ObservationType(rawValue: typeCode) else { throw .invalidValue(.observationType, UInt64(typeCode)) }
        guard actionKind == WireCode.discreteActions || actionKind == WireCode.boxActions else {
            throw .invalidValue(.actionKind, UInt64(actionKind))
        }
        let box = actionKind == WireCode.boxActions
        guard box || size >= 2 else { throw .invalidValue(.actionSize, UInt64(size)) }
        try expectFrames(4)
        try expectLength(1, .observationShape, 4 * Int(rank))
        try expectLength(2, .actionLow, box ? 8 * size : 0)
        try expectLength(3, .actionHigh, box ? 8 * size : 0)
        let shape = try frame(1) { frame throws(ProtocolError) in WireArray.uint32s(frame) }
        let actions: ActionSpace
        if box {
            let low = try frame(2) { frame throws(ProtocolError) in try WireArray.doubles(frame, .actionLow, finite: false) }
            let high = try frame(3) { frame throws(ProtocolError) in try WireArray.doubles(frame, .actionHigh, finite: false) }
            actions = .box(low: low, high: high)
        } else {
            actions = .discrete(count: size)
        }
        let spec = EnvironmentSpec(observationShape: shape, observationType: type, actionSpace: actions,
                                   timeLimit: timeLimit == 0 ? nil : Int(timeLimit),
                                   canSnapshot: header.has(HeaderLayout.canSnapshot))
        if let problem = spec.problem(maxWidth: limits.maxWidth) { throw .invalidEnvironmentSpec(problem) }
        return Message.EnvironmentSpecReport(worker: WorkerIdentity(id: id, nonce: nonce), spec: spec)
    }

    // MARK: - Checks and frame access

    /// A width (observation size, head size, layer width, simulator count, …): `1...maxWidth`.
    func width(_ value: UInt32, _ field: Field) throws(ProtocolError) -> Int {
        guard value >= 1 else { throw .invalidValue(field, 0) }
        guard value <= limits.maxWidth else { throw .limitExceeded(field, count: Int(value), limit: limits.maxWidth) }
        return Int(value)
    }

    /// A string's byte length: at most `maxStringBytes`.
    func stringLength(_ value: UInt32, _ field: Field) throws(ProtocolError) -> Int {
        guard value <= limits.maxStringBytes else {
            throw .limitExceeded(field, count: Int(value), limit: limits.maxStringBytes)
        }
        return Int(value)
    }

    /// Bytes of `rows × columns` doubles.
    func byteCount(_ rows: Int, _ columns: Int, _ field: Field) throws(ProtocolError) -> Int {
        let (elements, o1) = rows.multipliedReportingOverflow(by: columns)
        let (bytes, o2) = elements.multipliedReportingOverflow(by: 8)
        guard !(o1 || o2) else { throw .countOverflow(field) }
        return bytes
    }

    func expectFrames(_ expected: Int) throws(ProtocolError) {
        guard frames.count == expected else { throw .frameCount(kind: header.kind, count: frames.count, expected: expected) }
    }

    func frameLength(_ index: Int) -> Int { frames.withFrame(index) { $0.count } }

    func expectLength(_ index: Int, _ field: Field, _ expected: Int) throws(ProtocolError) {
        let bytes = frameLength(index)
        guard bytes == expected else { throw .frameLength(field, bytes: bytes, expected: expected) }
    }

    func frame<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(ProtocolError) -> T) throws(ProtocolError) -> T {
        try frames.withFrame(index, body)
    }

    /// The string in a frame whose length has been checked, when it is valid UTF-8.
    func string(_ index: Int, _ field: Field) throws(ProtocolError) -> String {
        try frame(index) { frame throws(ProtocolError) in try WireArray.string(frame, field) }
    }

    /// The finite doubles of a frame whose length has been checked.
    func doubles(_ index: Int, _ field: Field) throws(ProtocolError) -> [Double] {
        try frame(index) { frame throws(ProtocolError) in try WireArray.doubles(frame, field, finite: true) }
    }

    /// Observations: finite f64, or bytes.
    func observations<Observation: WireObservation>(_ index: Int, _ field: Field) throws(ProtocolError) -> [Observation] {
        try frame(index) { frame throws(ProtocolError) in try Observation.values(frame, field) }
    }

    /// The free-text frame of stop and reject: two frames, UTF-8, at most `maxStringBytes`.
    func message(frame index: Int, length: UInt32) throws(ProtocolError) -> String {
        let bytes = try stringLength(length, .message)
        try expectFrames(index + 1)
        try expectLength(index, .message, bytes)
        return try string(index, .message)
    }

    /// Row ends from their wire bytes (0 none, 1 terminated, 2 truncated).
    static func ends(_ frame: UnsafeRawBufferPointer) throws(ProtocolError) -> [StepEnd] {
        var invalid: (row: Int, value: UInt8)?
        let ends = [StepEnd](unsafeUninitializedCapacity: frame.count) { buffer, initialized in
            for i in 0..<frame.count {
                guard let end = StepEnd(rawValue: frame[i]) else {
                    invalid = (i, frame[i])
                    initialized = i
                    return
                }
                buffer[i] = end
            }
            initialized = frame.count
        }
        if let invalid { throw .invalidEnd(row: invalid.row, value: invalid.value) }
        return ends
    }

    /// Branch ends from their wire bytes: 1 terminated or 2 cut (truncated); 0 is refused, a
    /// branch always ends.
    static func branchEnds(_ frame: UnsafeRawBufferPointer) throws(ProtocolError) -> [StepEnd] {
        var ends: [StepEnd] = []
        ends.reserveCapacity(frame.count)
        for byte in frame {
            guard let end = StepEnd(rawValue: byte), end != .none else { throw .invalidValue(.branchEnds, UInt64(byte)) }
            ends.append(end)
        }
        return ends
    }

    /// Bootstrap rows must be exactly the `.truncated` rows, ascending.
    static func checkBootstrapRows(_ rows: [Int], ends: [StepEnd], truncatedRows: Int) throws(ProtocolError) {
        for (index, row) in rows.enumerated() {
            guard row < ends.count else { throw .bootstrapRowOutOfRange(index: index, row: row) }
            guard index == 0 || row > rows[index - 1] else { throw .bootstrapRowsNotAscending(index: index) }
            guard ends[row] == .truncated else { throw .bootstrapRowMismatch(row: row) }
        }
        guard rows.count < truncatedRows else { return }
        // Every listed row is a distinct truncated row, so fewer entries than truncated rows
        // means some truncated row is missing: report the first.
        var next = 0
        for (row, end) in ends.enumerated() where end == .truncated {
            if next < rows.count && rows[next] == row { next += 1 } else { throw .bootstrapRowMismatch(row: row) }
        }
    }
}
