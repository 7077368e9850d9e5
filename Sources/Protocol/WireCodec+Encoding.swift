import Core

// Each function writes its kind's header fields in the order of `docs/protocol.md` (fields
// sorted by width, widest first, so every field is naturally aligned within the header),
// followed by the kind's frames.
extension WireCodec {
    static func encode(_ hello: Message.Hello) -> [[UInt8]] {
        let environmentID = Array(hello.environmentID.utf8), softwareVersion = Array(hello.softwareVersion.utf8)
        var header = HeaderWriter(kind: .hello, flags: hello.workerID == nil ? HeaderLayout.assignID : 0)
        header.append(hello.nonce)
        header.append(hello.workerID ?? 0)
        header.appendCount(hello.simulatorCount, .simulatorCount)
        header.appendCount(environmentID.count, .environmentID)
        header.appendCount(softwareVersion.count, .softwareVersion)
        return [header.bytes, environmentID, softwareVersion]
    }

    static func encode(_ parameters: Message.Parameters) -> [[UInt8]] {
        let normalizer = parameters.normalizer
        let environmentID = Array(parameters.environmentID.utf8)
        // The dense part's widths and activation, the network's parameters, and a
        // convolutional trunk's architecture.
        let layerSizes: [Int], networkParameters: [Double], activation: Activation
        let architecture: ConvolutionalArchitecture?
        switch parameters.policy {
        case .dense(let policy):
            (layerSizes, networkParameters, activation) = (policy.network.layerSizes, policy.network.parameters, policy.network.activation)
            architecture = nil
        case .convolutional(let policy):
            (layerSizes, networkParameters) = (policy.network.layout.dense.layerSizes, policy.network.parameters)
            architecture = policy.network.architecture
            activation = policy.network.architecture.activation
        }
        let head = parameters.policy.head, logStd = parameters.policy.logStd
        var flags: UInt8 = normalizer == nil ? 0 : HeaderLayout.normalizerPresent
        if architecture != nil { flags |= HeaderLayout.convolutional }
        var header = HeaderWriter(kind: .parameters, flags: flags)
        // Single path: every vine field 0.
        let vine: VineSettings? = if case .vine(let settings) = parameters.sampling { settings } else { nil }
        header.append(parameters.session)
        header.append(parameters.version)
        header.append(parameters.seed)
        header.append(parameters.stream)
        header.append(parameters.collection)
        header.append(normalizer?.count ?? 0)
        header.append(normalizer?.clip ?? 0)
        header.append(vine?.gamma ?? 0)
        header.append(parameters.modelHash)
        header.appendCount(environmentID.count, .environmentID)
        header.appendCount(parameters.simulatorCount, .simulatorCount)
        header.appendCount(parameters.chunkSteps, .chunkSteps)
        header.appendCount(parameters.quota, .quota)
        header.appendCount(layerSizes.count, .layerSizes)
        header.appendCount(networkParameters.count, .networkParameters)
        header.appendCount(head.outputWidth, .headSize)
        header.appendCount(logStd.count, .logStd)
        header.appendCount(normalizer?.size ?? 0, .normalizerSize)
        header.appendCount(vine?.trunkSteps ?? 0, .trunkSteps)
        header.appendCount(vine?.rolloutStates ?? 0, .rolloutStates)
        header.appendCount(vine?.actionsPerState ?? 0, .actionsPerState)
        header.appendCount(vine?.rolloutLength ?? 0, .rolloutLength)
        switch head {
        case .categorical: header.append(WireCode.categorical)
        case .gaussian: header.append(WireCode.gaussian)
        }
        header.append(WireCode.activation(activation))
        header.append(vine == nil ? WireCode.singlePath : WireCode.vine)
        header.append(UInt8(vine?.commonRandomNumbers == true ? 1 : 0))
        var frames = [
            header.bytes,
            environmentID,
            WireArray.uint32Bytes(of: layerSizes, .layerSizes),
            WireArray.bytes(of: networkParameters),
            WireArray.bytes(of: logStd),
        ]
        if let normalizer {
            frames.append(WireArray.bytes(of: normalizer.mean))
            frames.append(WireArray.bytes(of: normalizer.variance))
        }
        if let architecture {
            let input = architecture.input
            let values = [input.height, input.width, input.channels] + architecture.convolutions.flatMap { [$0.filters, $0.kernel, $0.stride] }
            frames.append(WireArray.uint32Bytes(of: values, .convolutions))
        }
        return frames
    }

    static func encode(_ chunk: Message.Chunk) -> [[UInt8]] {
        let batch = chunk.batch
        var header = HeaderWriter(kind: .chunk, flags: { if case .frames = batch { HeaderLayout.pixels } else { 0 } }())
        header.append(chunk.worker.nonce)
        header.append(chunk.session)
        header.append(chunk.version)
        header.append(chunk.sequence)
        header.append(chunk.simulatorSteps)
        header.append(chunk.worker.id)
        header.appendCount(batch.count, .rows)
        header.appendCount(batch.observationSize, .observationSize)
        header.appendCount(batch.actionWidth, .actionWidth)
        switch batch {
        case .features(let batch):
            header.appendCount(batch.bootstrapRows.count, .bootstrapRows)
            header.appendCount(batch.episodeReturns.count, .episodeReturns)
            return [header.bytes] + trajectoryFrames(batch, .chunk)
        case .frames(let batch):
            header.appendCount(batch.bootstrapRows.count, .bootstrapRows)
            header.appendCount(batch.episodeReturns.count, .episodeReturns)
            return [header.bytes] + trajectoryFrames(batch, .chunk)
        }
    }

    /// A single-path batch's eight frames (a chunk's frames 1 to 8; a vine chunk's trunks):
    /// observations as f64, or as bytes for frames.
    static func trajectoryFrames<Observation: WireObservation>(_ batch: Samples<Observation>, _ fields: TrajectoryFields) -> [[UInt8]] {
        [
            Observation.wireBytes(of: batch.observations),
            WireArray.bytes(of: batch.actions),
            WireArray.bytes(of: batch.rewards),
            batch.ends.map(\.rawValue),
            WireArray.uint32Bytes(of: batch.bootstrapRows, fields.bootstrapRows),
            Observation.wireBytes(of: batch.bootstrapObservations),
            WireArray.bytes(of: batch.episodeReturns),
            WireArray.uint32Bytes(of: batch.episodeLengths, .episodeLengths),
        ]
    }

    static func encode(_ chunk: Message.VineChunk) -> [[UInt8]] {
        switch chunk.batch {
        case .features(let batch): encode(chunk, batch, flags: 0)
        case .frames(let batch): encode(chunk, batch, flags: HeaderLayout.pixels)
        }
    }

    /// A vine chunk's sixteen frames, observations as f64 or (pixels) as bytes.
    static func encode<Observation: WireObservation>(_ chunk: Message.VineChunk, _ batch: VineSamples<Observation>,
                                                     flags: UInt8) -> [[UInt8]] {
        var header = HeaderWriter(kind: .vineChunk, flags: flags)
        header.append(chunk.worker.nonce)
        header.append(chunk.session)
        header.append(chunk.version)
        header.append(chunk.sequence)
        header.append(chunk.worker.id)
        header.appendCount(batch.stateCount, .states)
        header.appendCount(batch.actionsPerState, .actionsPerState)
        header.appendCount(batch.observationSize, .observationSize)
        header.appendCount(batch.actionWidth, .actionWidth)
        header.appendCount(batch.cutCount, .cutCount)
        header.appendCount(batch.trunks.count, .trunkSteps)
        header.appendCount(batch.trunks.bootstrapRows.count, .trunkBootstrapRows)
        header.appendCount(batch.trunks.episodeReturns.count, .episodeReturns)
        header.append(batch.estimator.rawValue)
        return [
            header.bytes,
            Observation.wireBytes(of: batch.observations),
            WireArray.bytes(of: batch.actions),
            WireArray.bytes(of: batch.branchReturns),
            WireArray.bytes(of: batch.oldLogProbabilities),
            WireArray.uint32Bytes(of: batch.branchLengths, .branchLengths),
            batch.branchEnds.map(\.rawValue),
            Observation.wireBytes(of: batch.cutObservations),
        ] + trajectoryFrames(batch.trunks, .trunk)
    }

    static func encode(_ heartbeat: Message.Heartbeat) -> [[UInt8]] {
        var flags: UInt8 = heartbeat.version == nil ? 0 : HeaderLayout.versionPresent
        let (id, nonce): (UInt32, UInt64)
        switch heartbeat.sender {
        case .learner(let session):
            flags |= HeaderLayout.fromLearner
            (id, nonce) = (0, session)
        case .worker(let worker):
            (id, nonce) = (worker.id, worker.nonce)
        }
        var header = HeaderWriter(kind: .heartbeat, flags: flags)
        header.append(nonce)
        header.append(heartbeat.sequence)
        header.append(heartbeat.timestamp)
        header.append(heartbeat.version ?? 0)
        header.append(id)
        return [header.bytes]
    }

    static func encode(_ stop: Message.Stop) -> [[UInt8]] {
        let message = Array(stop.message.utf8)
        var header = HeaderWriter(kind: .stop)
        header.append(stop.session)
        header.appendCount(message.count, .message)
        header.append(stop.reason.rawValue)
        return [header.bytes, message]
    }

    static func encodeRequestParameters(_ worker: WorkerIdentity) -> [[UInt8]] {
        var header = HeaderWriter(kind: .requestParameters)
        header.append(worker.nonce)
        header.append(worker.id)
        return [header.bytes]
    }

    static func encode(_ reject: Message.Reject) -> [[UInt8]] {
        let message = Array(reject.message.utf8)
        var header = HeaderWriter(kind: .reject, flags: reject.sequence == nil ? 0 : HeaderLayout.sequencePresent)
        header.append(reject.session)
        header.append(reject.currentVersion)
        header.append(reject.sequence ?? 0)
        header.appendCount(message.count, .message)
        header.append(reject.reason.rawValue)
        return [header.bytes, message]
    }

    static func encode(_ model: Message.Model) -> [[UInt8]] {
        let text = Array(model.xml.utf8)
        var header = HeaderWriter(kind: .model)
        header.append(model.session)
        header.append(model.hash)
        header.appendCount(text.count, .model)
        return [header.bytes, text]
    }

    static func encode(_ request: Message.ModelRequest) -> [[UInt8]] {
        var header = HeaderWriter(kind: .requestModel)
        header.append(request.worker.nonce)
        header.append(request.hash)
        header.append(request.worker.id)
        return [header.bytes]
    }

    static func encode(_ leave: Message.Leave) -> [[UInt8]] {
        let message = Array(leave.message.utf8)
        var header = HeaderWriter(kind: .leave)
        header.append(leave.worker.nonce)
        header.append(leave.worker.id)
        header.appendCount(message.count, .message)
        header.append(leave.reason.rawValue)
        return [header.bytes, message]
    }

    static func encode(_ welcome: Message.Welcome) -> [[UInt8]] {
        let software = Array(welcome.softwareVersion.utf8)
        var header = HeaderWriter(kind: .welcome, flags: (welcome.assigned ? HeaderLayout.idAssigned : 0)
                                  | (welcome.specRequired ? HeaderLayout.specRequired : 0))
        header.append(welcome.session)
        header.append(welcome.worker.nonce)
        header.append(welcome.worker.id)
        header.append(WireDuration.milliseconds(welcome.heartbeatInterval))
        header.append(WireDuration.milliseconds(welcome.workerTimeout))
        let environment = Array(welcome.environmentID.utf8), arguments = Array(welcome.environmentArguments.utf8)
        header.appendCount(software.count, .softwareVersion)
        header.appendCount(environment.count, .environmentID)
        header.appendCount(arguments.count, .environmentArguments)
        return [header.bytes, software, environment, arguments]
    }

    static func encode(_ report: Message.EnvironmentSpecReport) -> [[UInt8]] {
        let spec = report.spec
        var header = HeaderWriter(kind: .environmentSpec, flags: spec.canSnapshot ? HeaderLayout.canSnapshot : 0)
        header.append(report.worker.nonce)
        header.append(report.worker.id)
        header.appendCount(spec.observationShape.count, .observationRank)
        let low: [Double], high: [Double]
        switch spec.actionSpace {
        case .discrete(let count):
            header.appendCount(count, .actionSize)
            (low, high) = ([], [])
        case .box(let l, let h):
            header.appendCount(l.count, .actionSize)
            (low, high) = (l, h)
        }
        header.appendCount(spec.timeLimit ?? 0, .timeLimit)
        header.append(spec.observationType.rawValue)
        if case .discrete = spec.actionSpace { header.append(WireCode.discreteActions) } else { header.append(WireCode.boxActions) }
        return [header.bytes, WireArray.uint32Bytes(of: spec.observationShape, .observationShape),
                WireArray.bytes(of: low), WireArray.bytes(of: high)]
    }
}

/// Durations travel as whole milliseconds in a u32.
enum WireDuration {
    /// `duration` rounded to whole milliseconds, clamped to `0...UInt32.max`.
    static func milliseconds(_ duration: Duration) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        let ms = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return UInt32(max(0, min(Double(UInt32.max), ms.rounded())))
    }
}
