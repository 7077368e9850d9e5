import Core
import Protocol
import Sampling
import Simulators

/// Why a worker cannot collect with the parameters it was sent.
public struct WorkerSamplerError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// The sampler a worker collects with for one set of parameters: single path or the vine,
/// on the environment, seed, simulator count and stream the parameters name.
///
/// A worker keeps its sampler across versions while ``Key`` stays the same (single-path
/// episodes in flight continue under the new version) and builds a fresh one otherwise.
final class WorkerSampler {
    /// What a sampler is built from; any change needs a fresh one.
    struct Key: Equatable {
        var environment: String
        var seed: UInt64
        var copies: Int
        var stream: UInt64
        var sampling: Message.Sampling
        var modelHash: UInt64

        init(_ p: Message.Parameters, copies: Int) {
            (environment, seed, self.copies, stream, sampling) = (p.environmentID, p.seed, copies, p.stream, p.sampling)
            modelHash = p.modelHash
        }
    }

    private enum Sampler {
        case singlePath(SinglePathSampler)
        case vine(VineSampler)
    }

    let key: Key
    private let sampler: Sampler
    /// The vine collection index of the first collection with the current parameters, and the
    /// collections made with them so far (the k-th uses `collection + k·2³²`).
    private var collection: UInt64
    private var collectionsWithParameters: UInt64 = 0

    /// Builds `copies` simulators of the parameters' environment and a sampler over them.
    /// - Parameter model: the custom model the parameters name (its hash is
    ///   `p.modelHash`); nil for the built-in model (hash 0).
    /// - Throws: when the environment is unknown, the custom model does not compile or fit
    ///   it, the policy does not fit it, or the vine settings cannot be collected with
    ///   `copies` copies.
    init(_ p: Message.Parameters, copies: Int, model: Message.Model? = nil) throws(WorkerSamplerError) {
        precondition(p.modelHash == (model?.hash ?? 0), "the parameters name another model")
        key = Key(p, copies: copies)
        collection = p.collection
        let simulators: [any Simulator]
        do {
            simulators = try (0..<copies).map { _ in try EnvironmentRegistry.make(p.environmentID, modelXML: model?.xml) }
        } catch {
            let what = model == nil ? p.environmentID : "\(p.environmentID) with the learner's custom model"
            throw WorkerSamplerError(description: "cannot build \(what): \(error)")
        }
        let (observations, space) = (simulators[0].observationSpace.count, simulators[0].actionSpace)
        guard case .dense(let policy) = p.policy else {
            throw WorkerSamplerError(description: "the policy is convolutional (frames), but \(p.environmentID) gives feature vectors; pixel environments (gym:ALE/…) run in the Python worker")
        }
        guard policy.observationSize == observations, policy.head == PolicyHead(space) else {
            throw WorkerSamplerError(description: "the policy (\(policy.observationSize) inputs, \(policy.head)) does not fit \(p.environmentID) (\(observations) observations, \(space))")
        }
        switch p.sampling {
        case .singlePath:
            sampler = .singlePath(SinglePathSampler(simulators: simulators, policy: policy, normalizer: p.normalizer,
                                                    seed: p.seed, stream: p.stream))
        case .vine(var settings):
            // Collections are sized per chunk (at most every trunk state); N only has to fit.
            settings.rolloutStates = min(settings.rolloutStates, copies * settings.trunkSteps)
            if let problem = settings.problem(simulatorCount: copies) { throw WorkerSamplerError(description: problem) }
            sampler = .vine(VineSampler(simulators: simulators, policy: policy, normalizer: p.normalizer,
                                        seed: p.seed, stream: p.stream, settings: settings))
        }
    }

    /// Switches to another version of the same key's parameters.
    func load(_ p: Message.Parameters) {
        precondition(Key(p, copies: key.copies) == key, "parameters for another sampler")
        // The same environment as the sampler was built for, which takes feature vectors.
        guard case .dense(let policy) = p.policy else { preconditionFailure("a convolutional policy for \(p.environmentID)") }
        collection = p.collection
        collectionsWithParameters = 0
        switch sampler {
        case .singlePath(let s): s.load(policy: policy, normalizer: p.normalizer)
        case .vine(let s): s.load(policy: policy, normalizer: p.normalizer)
        }
    }

    /// One chunk of about `count` rows (single path) or at most `count` rollout-set states
    /// (vine; also at most every trunk state), or nil when `abandonIf` gave up on it.
    /// - Returns: the chunk's message for `header` and the rows (states) it carries.
    func collect(count: Int, header: WorkerConversation.ChunkHeader, abandonIf: @escaping () -> Bool) -> (message: Message, rows: Int)? {
        switch sampler {
        case .singlePath(let s):
            guard let batch = s.collect(steps: count, abandonIf: abandonIf) else { return nil }
            let chunk = Message.Chunk(worker: header.worker, session: header.session, version: header.version,
                                      sequence: header.sequence, simulatorSteps: UInt64(batch.count), batch: batch)
            return (.chunk(chunk), batch.count)
        case .vine(let s):
            s.collectionIndex = collection &+ (collectionsWithParameters << 32)
            collectionsWithParameters += 1
            guard let batch = s.collect(states: min(count, s.maximumStates), abandonIf: abandonIf) else { return nil }
            let chunk = Message.VineChunk(worker: header.worker, session: header.session, version: header.version,
                                          sequence: header.sequence, batch: batch)
            return (.vineChunk(chunk), batch.stateCount)
        }
    }
}
