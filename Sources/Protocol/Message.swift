import Core

/// One message of trpo's learner–worker conversation, as the codec sees it.
///
/// ``WireCodec/encode(_:)`` turns a message into frames and ``WireCodec/decode(_:limits:)``
/// turns frames back into a message, validating everything it reads; `docs/protocol.md`
/// specifies the bytes. Every decoded message is well formed in the sense stated on each
/// type: callers need not re-check shapes, finiteness or trajectory structure, only what
/// depends on conversation state (is this worker registered, is this version current, do a
/// chunk's shapes match the run's environment, is the sequence number increasing).
public enum Message: Sendable, Equatable {
    /// Worker → learner, first message after connecting: who the worker is and which
    /// environment it accepts.
    case hello(Hello)
    /// Learner → worker: the environment, the policy version to collect with, and how.
    case parameters(Parameters)
    /// Worker → learner: transitions collected with one parameter version.
    case chunk(Chunk)
    /// Worker → learner: a vine collection (rollout-set states, K branches each, their Q̂)
    /// made with one parameter version.
    case vineChunk(VineChunk)
    /// Either direction: liveness when the sender has had nothing else to send.
    case heartbeat(Heartbeat)
    /// Learner → worker: the worker must exit; nothing more will be accepted from it.
    case stop(Stop)
    /// Worker → learner: "send me the current parameters" (after a reconnect, or when a
    /// learner heartbeat or a ``Reject`` shows a newer version than the one the worker holds).
    case requestParameters(WorkerIdentity)
    /// Learner → worker: one message was refused; the worker stays registered.
    case reject(Reject)
    /// Learner → worker: the custom MuJoCo model (MJCF text) the run's parameters name by
    /// ``Parameters/modelHash``; sent after every hello of a run with a custom model and on
    /// ``Message/requestModel(_:)``.
    case model(Model)
    /// Worker → learner: "send me the model with this hash" (the worker holds parameters
    /// naming a model it does not have).
    case requestModel(ModelRequest)
    /// Worker → learner: the worker cannot collect for this run and exits (its last message).
    case leave(Leave)
    /// Learner → worker, the first reply to an accepted hello: the worker's id for this
    /// learner session (assigned by the learner when the hello asked for one) and the
    /// learner's liveness timing.
    case welcome(Welcome)
    /// Worker → learner, after a welcome that asks for it: the spaces of the external
    /// environment the worker made from the welcome's name and arguments.
    case environmentSpec(EnvironmentSpecReport)

    /// The kind code written in the header.
    public var kind: MessageKind {
        switch self {
        case .hello: .hello
        case .parameters: .parameters
        case .chunk: .chunk
        case .vineChunk: .vineChunk
        case .heartbeat: .heartbeat
        case .stop: .stop
        case .requestParameters: .requestParameters
        case .reject: .reject
        case .model: .model
        case .requestModel: .requestModel
        case .leave: .leave
        case .welcome: .welcome
        case .environmentSpec: .environmentSpec
        }
    }
}

/// The message kind code (header byte 6).
public enum MessageKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case parameters = 2
    case chunk = 3
    case heartbeat = 4
    case stop = 5
    case requestParameters = 6
    case reject = 7
    case vineChunk = 8
    case model = 9
    case requestModel = 10
    case leave = 11
    case welcome = 12
    case environmentSpec = 13

    public var description: String {
        switch self {
        case .hello: "hello"
        case .parameters: "parameters"
        case .chunk: "chunk"
        case .heartbeat: "heartbeat"
        case .stop: "stop"
        case .requestParameters: "requestParameters"
        case .reject: "reject"
        case .vineChunk: "vineChunk"
        case .model: "model"
        case .requestModel: "requestModel"
        case .leave: "leave"
        case .welcome: "welcome"
        case .environmentSpec: "environmentSpec"
        }
    }
}

/// Names one worker process: the id its launcher gave it and a nonce drawn at process start.
///
/// A restarted worker keeps its id and gets a new nonce, so the learner can tell the new
/// process from messages the old one left in flight.
public struct WorkerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The worker id, unique among the run's workers (chosen by whoever launches them).
    public var id: UInt32
    /// Random per process start.
    public var nonce: UInt64

    public init(id: UInt32, nonce: UInt64) {
        self.id = id
        self.nonce = nonce
    }

    public var description: String { "worker \(id) (nonce \(String(nonce, radix: 16)))" }
}

extension Message {
    /// A worker's registration. The worker only needs the learner's endpoint: it learns the
    /// environment, and the shapes that go with it, from the learner's ``Parameters``, and
    /// (unless it was started with one) its id from the learner's ``Welcome``.
    ///
    /// Decoded hellos satisfy: both strings are valid UTF-8 of at most
    /// ``DecodingLimits/maxStringBytes`` bytes (either may be empty); `simulatorCount` is any
    /// `UInt32` value.
    public struct Hello: Sendable, Equatable {
        /// Random per worker process start: tells a restarted worker from its predecessor, and
        /// a reconnecting worker (same nonce) from a new one.
        public var nonce: UInt64
        /// The id the worker was started with (e.g. `trpo worker --worker-id 3`), which it
        /// insists on; nil: the learner assigns one and names it in its ``Welcome``.
        public var workerID: UInt32?
        /// Simulator copies the worker steps in lockstep; 0: the learner's suggestion
        /// (``Parameters/simulatorCount``).
        public var simulatorCount: Int
        /// The only environment the worker accepts, e.g. `"HalfCheetah-v4"` (the learner stops a
        /// worker naming another with ``StopReason/environment``); empty: whatever the learner runs.
        public var environmentID: String
        /// Free text naming the worker's build (for logs), e.g. `"trpo 0.3.0 (1a2b3c4)"`.
        public var softwareVersion: String

        public init(nonce: UInt64, workerID: UInt32?, simulatorCount: Int, environmentID: String, softwareVersion: String) {
            self.nonce = nonce
            self.workerID = workerID
            self.simulatorCount = simulatorCount
            self.environmentID = environmentID
            self.softwareVersion = softwareVersion
        }
    }

    /// The learner's answer to an accepted hello, sent before anything else on that
    /// connection (then the custom model, if the run has one, and the current parameters).
    ///
    /// Decoded welcomes satisfy: `heartbeatInterval` and `workerTimeout` are at least 1 ms;
    /// `softwareVersion` and `environmentArguments` are valid UTF-8 of at most
    /// ``DecodingLimits/maxStringBytes`` bytes, and `environmentID` is such a string, not empty.
    public struct Welcome: Sendable, Equatable {
        /// The learner session (random per learner process start).
        public var session: UInt64
        /// The worker this welcome answers: its id for this session (the one its hello named,
        /// or the one the learner assigned) and the nonce of its hello. Every later message
        /// of the worker carries this id.
        public var worker: WorkerIdentity
        /// Whether the learner chose ``worker``'s id (the hello asked for one).
        public var assigned: Bool
        /// The learner sends a heartbeat to a worker it has sent nothing else for this long;
        /// a worker should do the same. Milliseconds on the wire.
        public var heartbeatInterval: Duration
        /// The learner declares a worker gone (and forgets its registration) after this much
        /// silence, counted while the learner listens. Milliseconds on the wire.
        public var workerTimeout: Duration
        /// Free text naming the learner's build (for logs).
        public var softwareVersion: String
        /// The run's environment: a built-in id (`CartPole-v1`) or an external name
        /// (`gym:LunarLander-v3`, `py:mylab.envs:make_arm`, see ``EnvironmentName``).
        public var environmentID: String
        /// The keyword arguments the worker makes an external environment with, as the text
        /// of a JSON object; empty: none. The codec does not parse it.
        public var environmentArguments: String
        /// The learner sends parameters only after the worker's ``Message/environmentSpec(_:)``
        /// (the run's environment is external).
        public var specRequired: Bool

        public init(session: UInt64, worker: WorkerIdentity, assigned: Bool, heartbeatInterval: Duration,
                    workerTimeout: Duration, softwareVersion: String, environmentID: String,
                    environmentArguments: String = "", specRequired: Bool = false) {
            self.session = session
            self.worker = worker
            self.assigned = assigned
            self.heartbeatInterval = heartbeatInterval
            self.workerTimeout = workerTimeout
            self.softwareVersion = softwareVersion
            self.environmentID = environmentID
            self.environmentArguments = environmentArguments
            self.specRequired = specRequired
        }
    }

    /// A worker's description of the external environment it made (docs/protocol.md §3.14).
    ///
    /// Decoded reports satisfy ``EnvironmentSpec``'s invariants
    /// (``EnvironmentSpec/problem(maxWidth:)`` is nil for the receiver's ``DecodingLimits/maxWidth``).
    public struct EnvironmentSpecReport: Sendable, Equatable {
        public var worker: WorkerIdentity
        public var spec: EnvironmentSpec

        public init(worker: WorkerIdentity, spec: EnvironmentSpec) {
            self.worker = worker
            self.spec = spec
        }
    }

    /// How a worker collects with a parameter version.
    public enum Sampling: Sendable, Equatable {
        /// Single-path trajectories (§5.1): chunks of rows.
        case singlePath
        /// The vine (§5.2) with the run's settings: vine chunks of rollout-set states.
        case vine(VineSettings)

        public var kind: SamplerKind {
            switch self {
            case .singlePath: .singlePath
            case .vine: .vine
            }
        }
    }

    /// One parameter version and the sampling settings that go with it.
    ///
    /// Decoded parameters satisfy: `environmentID` is non-empty valid UTF-8 of at most
    /// ``DecodingLimits/maxStringBytes`` bytes; `1 ≤ simulatorCount ≤ DecodingLimits.maxWidth`;
    /// `1 ≤ chunkSteps ≤ DecodingLimits.maxRows`; `0 ≤ quota ≤ Parameters.maxQuota`; vine
    /// settings, when present, have trunk steps, rollout states and rollout length in
    /// `1...maxRows`, `2 ≤ actionsPerState ≤ maxWidth` and γ in [0, 1]; the
    /// policy is well formed (``AnyPolicy/isWellFormed``: at least two dense layer widths,
    /// each in `1...maxWidth`; a convolutional trunk's valid architecture of at most
    /// ``ConvolutionalArchitecture/maxConvolutions`` convolutions whose flattened output is
    /// the first dense width; the parameter count matching them, output width matching the
    /// head, one log-std per Gaussian dimension) with at most
    /// ``DecodingLimits/maxParameters`` network parameters, all finite, finite log-stds; the
    /// normaliser, when present, has the policy's input size, finite means, finite
    /// non-negative variances, a finite non-negative count and a finite positive clip; a
    /// convolutional policy has no normaliser.
    public struct Parameters: Sendable, Equatable {
        /// The largest ``quota`` the format allows, 2³¹ − 1 (it fits a signed 32-bit integer
        /// in any client language).
        public static let maxQuota = Int(Int32.max)

        /// The learner session: random per learner process start. With ``version`` it names
        /// these parameters; a learner resumed from a checkpoint starts a new session, so
        /// samples collected for the previous process are never mistaken for current ones.
        public var session: UInt64
        /// The parameter version (the learner's iteration counter).
        public var version: UInt64
        /// The run seed every random stream derives from.
        public var seed: UInt64
        /// The environment the run trains on, e.g. `"HalfCheetah-v4"`: the worker builds its
        /// simulators from it.
        public var environmentID: String
        /// The learner's suggested number of simulator copies, for workers whose hello left
        /// the choice to the learner (simulator count 0).
        public var simulatorCount: Int
        /// The unit of a chunk: the worker sends a chunk after about this many rows (single
        /// path), or makes vine collections of at most this many rollout-set states.
        public var chunkSteps: Int
        /// Rows (single path) or rollout-set states (vine) this worker must collect with this
        /// version before it waits for the next one; 0: collect until the next version arrives.
        public var quota: Int
        /// The policy to collect with: an MLP on (standardised) feature vectors, or a
        /// convolutional network on uint8 frames, whose chunks carry the frames as bytes.
        public var policy: AnyPolicy
        /// Statistics to standardise observations with before the policy sees them (nil:
        /// raw observations; always nil for a convolutional policy).
        public var normalizer: RunningNormalizer?
        /// Single path or the vine, with the vine's settings.
        public var sampling: Sampling
        /// The sampler stream every random stream of the worker's collections derives from,
        /// with ``seed``: the worker id in training runs, a replicate's stream in `trpo
        /// variance`. A worker keeps its samplers (and episodes in flight) while environment,
        /// seed, simulator count, stream and sampling stay the same, and builds fresh ones
        /// otherwise.
        public var stream: UInt64
        /// The vine collection index of the first collection made with these parameters (the
        /// k-th further one uses `collection + k·2³²`): the version in training runs, so one
        /// worker repeats the single-process run; 0 in `trpo variance`. Single path ignores it.
        public var collection: UInt64
        /// The MuJoCo model the worker builds its simulators from: 0 for the environment's
        /// built-in model, otherwise the ``Model/hash(of:)`` of a custom model's MJCF text,
        /// which the learner delivers in a ``Message/model(_:)`` message.
        public var modelHash: UInt64

        public init(session: UInt64, version: UInt64, seed: UInt64, environmentID: String, simulatorCount: Int,
                    chunkSteps: Int, quota: Int, policy: AnyPolicy, normalizer: RunningNormalizer?,
                    sampling: Sampling = .singlePath, stream: UInt64 = 0, collection: UInt64 = 0, modelHash: UInt64 = 0) {
            self.session = session
            self.version = version
            self.seed = seed
            self.environmentID = environmentID
            self.simulatorCount = simulatorCount
            self.chunkSteps = chunkSteps
            self.quota = quota
            self.policy = policy
            self.normalizer = normalizer
            self.sampling = sampling
            self.stream = stream
            self.collection = collection
            self.modelHash = modelHash
        }

        /// Parameters of a dense policy.
        public init(session: UInt64, version: UInt64, seed: UInt64, environmentID: String, simulatorCount: Int,
                    chunkSteps: Int, quota: Int, policy: Policy, normalizer: RunningNormalizer?,
                    sampling: Sampling = .singlePath, stream: UInt64 = 0, collection: UInt64 = 0, modelHash: UInt64 = 0) {
            self.init(session: session, version: version, seed: seed, environmentID: environmentID,
                      simulatorCount: simulatorCount, chunkSteps: chunkSteps, quota: quota, policy: .dense(policy),
                      normalizer: normalizer, sampling: sampling, stream: stream, collection: collection, modelHash: modelHash)
        }
    }

    /// Transitions a worker collected with parameters (`session`, `version`).
    ///
    /// Decoded chunks satisfy: at least one and at most ``DecodingLimits/maxRows`` rows;
    /// `observationSize` and `actionWidth` in `1...maxWidth`; every array has the length its
    /// shape implies; observations, actions, rewards, bootstrap observations and episode
    /// returns are finite; every end is `.none`, `.terminated` or `.truncated` and the last is
    /// not `.none`; `bootstrapRows` lists exactly the `.truncated` rows, ascending; there are
    /// no more finished episodes than rows ending in `.terminated` or `.truncated`, each at
    /// least one step long; and `simulatorSteps ≥ batch.count`. Observations are `Double`
    /// feature vectors or uint8 frames (``AnySamples``).
    public struct Chunk: Sendable, Equatable {
        public var worker: WorkerIdentity
        /// The session and version of the parameters the rows were collected with.
        public var session: UInt64
        public var version: UInt64
        /// Per worker process, increasing by one per chunk sent, starting at 0.
        public var sequence: UInt64
        /// Simulator steps the chunk cost (at least the row count; more with vine rollouts).
        public var simulatorSteps: UInt64
        public var batch: AnySamples

        public init(worker: WorkerIdentity, session: UInt64, version: UInt64, sequence: UInt64, simulatorSteps: UInt64,
                    batch: AnySamples) {
            self.worker = worker
            self.session = session
            self.version = version
            self.sequence = sequence
            self.simulatorSteps = simulatorSteps
            self.batch = batch
        }

        /// A chunk of feature-vector transitions.
        public init(worker: WorkerIdentity, session: UInt64, version: UInt64, sequence: UInt64, simulatorSteps: UInt64,
                    batch: SampleBatch) {
            self.init(worker: worker, session: session, version: version, sequence: sequence, simulatorSteps: simulatorSteps,
                      batch: .features(batch))
        }
    }

    /// One vine collection (or part of one) a worker made with parameters (`session`,
    /// `version`).
    ///
    /// Decoded vine chunks satisfy: at least one and at most ``DecodingLimits/maxRows`` states
    /// and at most `maxRows` branches (N·K); `2 ≤ K ≤ maxWidth`; `observationSize` and
    /// `actionWidth` in `1...maxWidth`; every array has the length its shape implies
    /// (``VineBatch/isConsistent``); observations, actions, branch returns, log π_old and cut
    /// observations are finite; an eq. 15 batch has action width 1 and lists the actions
    /// `0, 1, …, K−1` at every state; every branch length is ≥ 1 and every branch end is
    /// `.terminated` or `.truncated` (cut), with one cut observation per cut branch; the
    /// trunks hold N … maxRows rows and satisfy a ``Chunk``'s rules.
    public struct VineChunk: Sendable, Equatable {
        public var worker: WorkerIdentity
        /// The session and version of the parameters the collection was made with.
        public var session: UInt64
        public var version: UInt64
        /// Per worker process, shared with ``Chunk``'s numbering: 0, 1, 2, …
        public var sequence: UInt64
        /// The collection, of feature vectors or (flag bit 0, pixels) uint8 frames; its
        /// ``VineSamples/simulatorSteps`` (trunk rows plus branch lengths) is the chunk's
        /// simulator cost.
        public var batch: AnyVineSamples

        public init(worker: WorkerIdentity, session: UInt64, version: UInt64, sequence: UInt64, batch: AnyVineSamples) {
            self.worker = worker
            self.session = session
            self.version = version
            self.sequence = sequence
            self.batch = batch
        }

        /// A vine chunk of feature vectors.
        public init(worker: WorkerIdentity, session: UInt64, version: UInt64, sequence: UInt64, batch: VineBatch) {
            self.init(worker: worker, session: session, version: version, sequence: sequence, batch: .features(batch))
        }
    }

    /// Who sent a heartbeat.
    public enum Peer: Sendable, Hashable {
        /// The learner, in the given session.
        case learner(session: UInt64)
        case worker(WorkerIdentity)
    }

    /// A liveness signal. Any message proves its sender alive; heartbeats fill silences.
    public struct Heartbeat: Sendable, Equatable {
        public var sender: Peer
        /// Per sender, increasing by one per heartbeat.
        public var sequence: UInt64
        /// The sender's clock in nanoseconds (opaque to the receiver; for logs and echo).
        public var timestamp: UInt64
        /// From the learner: the latest version it published. From a worker: the version it
        /// is collecting with. Nil before there is one. A worker holding an older version
        /// than a learner heartbeat names sends ``Message/requestParameters(_:)``.
        public var version: UInt64?

        public init(sender: Peer, sequence: UInt64, timestamp: UInt64, version: UInt64?) {
            self.sender = sender
            self.sequence = sequence
            self.timestamp = timestamp
            self.version = version
        }
    }

    /// The learner dismisses a worker.
    public struct Stop: Sendable, Equatable {
        public var session: UInt64
        public var reason: StopReason
        /// Detail for the worker's log (may be empty); UTF-8, at most `maxStringBytes` bytes.
        public var message: String

        public init(session: UInt64, reason: StopReason, message: String) {
            self.session = session
            self.reason = reason
            self.message = message
        }
    }

    /// The learner refused one message but keeps talking to the worker.
    public struct Reject: Sendable, Equatable {
        public var session: UInt64
        /// The latest version the learner published (so the worker knows whether it is behind).
        public var currentVersion: UInt64
        public var reason: RejectReason
        /// The refused chunk's sequence number; nil when the refused message was not a chunk.
        public var sequence: UInt64?
        /// Detail for the worker's log (may be empty); UTF-8, at most `maxStringBytes` bytes.
        public var message: String

        public init(session: UInt64, currentVersion: UInt64, reason: RejectReason, sequence: UInt64?, message: String) {
            self.session = session
            self.currentVersion = currentVersion
            self.reason = reason
            self.sequence = sequence
            self.message = message
        }
    }
}

extension Message {
    /// A custom MuJoCo model: its MJCF text and the hash parameters name it by.
    ///
    /// Decoded models satisfy: the text is non-empty valid UTF-8 of at most
    /// ``DecodingLimits/maxModelBytes`` bytes, and `hash == Model.hash(of: xml)` (never 0).
    public struct Model: Sendable, Equatable {
        /// The learner session that sent the model (for logs; a model is identified by its hash).
        public var session: UInt64
        /// ``hash(of:)`` of ``xml``.
        public let hash: UInt64
        /// The MJCF text, as the learner read it from its model file.
        public let xml: String

        /// A model message for `xml`, with its hash computed.
        public init(session: UInt64, xml: String) {
            self.session = session
            self.xml = xml
            hash = Model.hash(of: xml)
        }

        /// The 64-bit FNV-1a hash of the text's UTF-8 bytes (offset basis
        /// 0xcbf29ce484222325, prime 0x100000001b3), except that a text hashing to 0 gets 1:
        /// 0 names the built-in model in ``Parameters/modelHash``.
        public static func hash(of xml: String) -> UInt64 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in xml.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            return hash == 0 ? 1 : hash
        }
    }

    /// A worker asks for the model with ``hash``.
    public struct ModelRequest: Sendable, Equatable {
        public var worker: WorkerIdentity
        /// The model wanted, as the worker's parameters name it (never 0).
        public var hash: UInt64

        public init(worker: WorkerIdentity, hash: UInt64) {
            self.worker = worker
            self.hash = hash
        }
    }

    /// A worker's last word: it cannot collect for this run and exits.
    public struct Leave: Sendable, Equatable {
        public var worker: WorkerIdentity
        public var reason: LeaveReason
        /// Why, for the learner's log (may be empty); UTF-8, at most `maxStringBytes` bytes.
        public var message: String

        public init(worker: WorkerIdentity, reason: LeaveReason, message: String) {
            self.worker = worker
            self.reason = reason
            self.message = message
        }
    }
}

/// Why a worker leaves a run (``Message/Leave``).
public enum LeaveReason: UInt8, Sendable, CaseIterable {
    /// The worker cannot collect with the learner's parameters: their custom model does not
    /// compile or does not fit the environment, the environment or sampler is not one the
    /// worker accepts or knows, or the policy does not fit the environment.
    case incompatible = 1
}

/// Why the learner stops a worker (``Message/Stop``). The worker exits in every case.
public enum StopReason: UInt8, Sendable, CaseIterable {
    /// The run completed.
    case finished = 1
    /// The learner is shutting down before the run completed.
    case interrupted = 2
    /// The worker speaks another protocol version (the learner answers in its own version;
    /// the worker's decoder then reports ``ProtocolError/unsupportedVersion(_:)``).
    case protocolVersion = 3
    /// The worker's hello names an environment id (non-empty) that is not the run's.
    case environment = 4
    /// A chunk's observation size or action width, or a discrete action in it (or a vine
    /// chunk's K or estimator), does not fit the run's environment and settings.
    case shape = 5
    /// A message from the worker failed to decode; the text carries the ``ProtocolError``.
    case malformedMessage = 6
    /// Another live process uses the same worker id.
    case duplicateWorker = 7
    /// This deterministic run expects other worker ids: it collects with a fixed set of
    /// worker ids, and this worker's id is not one of them.
    case unexpectedWorker = 8
}

/// Why the learner refused a message without stopping the worker (``Message/Reject``).
public enum RejectReason: UInt8, Sendable, CaseIterable {
    /// The learner has no registration for this worker process (it restarted, or the hello
    /// was lost): the worker sends ``Message/hello(_:)`` again.
    case notRegistered = 1
    /// The chunk was collected with parameters that are not the current ones (older version
    /// or other session); it was discarded. A worker that holds no newer parameters than the
    /// chunk's sends ``Message/requestParameters(_:)``.
    case staleParameters = 2
}
