import Core
import Foundation
import Simulators
import Sampling

/// The whole training loop in one process: a single-path sampler (stream 0, as worker 0 of
/// a distributed run) feeds the trainer, and every iteration is logged and checkpointed.
public struct LocalTraining {
    private var session: TrainingSession
    private let sampler: Sampler
    /// Whether a single-path iteration's value fit runs on a second thread while the next
    /// batch is sampled (see ``run(report:)``).
    public let overlapsValueFit: Bool

    /// The sampling scheme of the run.
    enum Sampler {
        case singlePath(SinglePathSampler)
        case vine(VineSampler)
    }

    /// Starts a new run in `outputDirectory` (created if needed), or resumes the run saved
    /// there when `resume` is true.
    public init(configuration: TrainingConfiguration, outputDirectory: URL, resume: Bool) throws {
        try self.init(session: TrainingSession(configuration: configuration, outputDirectory: outputDirectory, resume: resume))
    }

    /// Trains in `session`'s run directory from `session`'s state (new or resumed); with
    /// `overlapsValueFit`, single-path value fits run while the next batch is sampled.
    public init(session: TrainingSession, overlapsValueFit: Bool = true) throws {
        self.session = session
        self.overlapsValueFit = overlapsValueFit
        let c = session.configuration
        let simulators = try (0..<c.environmentsPerSampler).map { _ in try EnvironmentRegistry.make(c.environment, modelXML: c.modelXML) }
        // The simulators are built in: an MLP policy.
        let policy = session.state.builtInPolicy
        switch c.sampler {
        case .singlePath:
            sampler = .singlePath(SinglePathSampler(simulators: simulators, policy: policy,
                                                    normalizer: session.trainer.samplingNormalizer, seed: c.seed, stream: 0))
        case .vine:
            sampler = .vine(VineSampler(simulators: simulators, policy: policy,
                                        normalizer: session.trainer.samplingNormalizer, seed: c.seed, stream: 0,
                                        settings: c.vine))
        }
    }

    public var state: TrainerState { session.state }
    public var outputDirectory: URL { session.outputDirectory }
    /// True once the step budget is spent (false after ``run(report:)`` stopped on a request).
    public var isFinished: Bool { session.isFinished }

    /// Runs iterations until the step budget is spent or a stop is requested
    /// (``StopRequest``, checked between iterations), reporting each iteration; the last
    /// iteration is checkpointed either way. With ``overlapsValueFit`` a single-path
    /// iteration's value fit runs on a second thread beside the policy step and while this one
    /// samples the next batch (``ValueFitThread``); the numbers are those of fitting in line,
    /// and each iteration is reported once its fit is done, so after the next batch was sampled.
    public mutating func run(report: (IterationStatistics, _ wallSeconds: Double, _ sampleSeconds: Double) -> Void) throws {
        let clock = ContinuousClock()
        var inFlight: InFlightIteration?
        func complete(_ iteration: InFlightIteration) throws {
            report(try session.complete(iteration), session.wallSeconds, iteration.sampleSeconds)
        }
        while !session.isFinished && !StopRequest.isRaised {
            switch sampler {
            case .singlePath(let sampler):
                sampler.load(policy: session.state.builtInPolicy, normalizer: session.trainer.samplingNormalizer)
                var batch = SampleBatch(observationSize: 0, actionWidth: 0)
                let steps = session.nextBatchSteps
                let sampleSeconds = clock.measure {
                    batch = LocalTraining.collectBatch(sampler, steps: steps, chunkSteps: session.configuration.chunkSteps)
                }.seconds
                let collected = clock.now
                if let previous = inFlight {
                    inFlight = nil
                    try complete(previous)
                }
                var fit: ValueFitRun?
                let concurrent = overlapsValueFit
                let statistics = session.beginUpdate(with: .features(batch)) { fit = ValueFitRun($0, concurrent: concurrent) }
                if overlapsValueFit && !session.isFinished {
                    inFlight = InFlightIteration(fit: fit!, statistics: statistics, sampleSeconds: sampleSeconds,
                                                 publishSeconds: (clock.now - collected).seconds)
                } else {
                    let fitted = fit!.result()
                    let complete = try session.completeUpdate(fitted, statistics, sampleSeconds: sampleSeconds,
                                                              publishSeconds: (clock.now - collected).seconds)
                    report(complete, session.wallSeconds, sampleSeconds)
                }
            case .vine(let sampler):
                // One collection per iteration, its streams keyed by the iteration (reproducible on resume).
                sampler.load(policy: session.state.builtInPolicy, normalizer: session.trainer.samplingNormalizer)
                sampler.collectionIndex = UInt64(session.state.iteration)
                let start = clock.now
                let batch = sampler.collect()
                let sampleSeconds = (clock.now - start).seconds
                let statistics = try session.update(vine: .features(batch), sampleSeconds: sampleSeconds)
                report(statistics, session.wallSeconds, sampleSeconds)
            }
        }
        if let previous = inFlight { try complete(previous) }
        try session.saveCheckpoint()
    }

    /// At least `steps` rows, collected in chunks of at most `chunkSteps` as a worker would.
    static func collectBatch(_ sampler: SinglePathSampler, steps: Int, chunkSteps: Int) -> SampleBatch {
        var batch = sampler.collect(steps: min(steps, chunkSteps))
        while batch.count < steps {
            batch.append(sampler.collect(steps: min(steps - batch.count, chunkSteps)))
        }
        return batch
    }
}
