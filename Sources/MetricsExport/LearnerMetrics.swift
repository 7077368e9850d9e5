import Foundation
import Learner
import Prometheus

/// The learner's Prometheus metrics (`trpo learner --metrics`), kept in a swift-prometheus
/// registry and updated as a ``LearnerObserver``: after every iteration, and when workers
/// join or leave. docs/deploy.md ("Metrics") lists them for users.
///
/// Values of the last iteration are NaN until the first iteration of this process: NaN says
/// "no value yet" where 0 would be a false reading (a KL of 0, a return of 0). For the same
/// reason the episode return and length are NaN after an iteration in which no episode
/// finished. Counters named `…_total` count from the start of this learner process (a
/// restarted learner starts them again, which Prometheus's `rate` takes as a reset), except
/// `trpo_timesteps_total`, which continues from a resumed run's checkpoint.
///
/// Updated on the learner's thread; ``exposition`` may be called from any thread (the
/// registry's values are atomics).
public final class LearnerMetrics: LearnerObserver {
    private let registry = PrometheusCollectorRegistry()

    private let iteration: Gauge
    private let timesteps: Counter
    private let timestepsTarget: Gauge
    private let samplesPerSecond: Gauge
    private let iterationSeconds: Gauge
    private let sampleSeconds: Gauge
    private let updateSeconds: Gauge
    private let lastIterationTimestamp: Gauge
    private let workersAlive: Gauge
    private let staleSamplesDropped: Counter
    private let rejectedMessages: Counter
    private let refusedConnections: Counter
    private let bytesReceived: Counter
    private let episodeReturnMean: Gauge
    private let episodeLengthMean: Gauge
    private let episodes: Counter
    /// Present when the run evaluates its policy during training.
    private let evalReturnMean: Gauge?
    private let kl: Gauge
    private let entropy: Gauge
    private let explainedVariance: Gauge
    private let rejectedSteps: Counter
    /// Seconds since the Unix epoch.
    private let now: @Sendable () -> Double

    /// The transport counters and timesteps already added to the Prometheus counters.
    private var counted = TransportCounters()
    private var countedTimesteps = 0

    /// The metrics of a learner about to serve `session`.
    /// - Parameters:
    ///   - version: trpo's version, for `trpo_run_info`.
    ///   - now: seconds since the Unix epoch, for `trpo_last_iteration_timestamp_seconds`.
    public convenience init(session: TrainingSession, version: String,
                            now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.init(configuration: session.configuration, iteration: session.state.iteration, timesteps: session.state.timesteps,
                  evaluation: session.evaluation, version: version, now: now)
    }

    /// The metrics of a learner about to serve a run of `configuration` that has done
    /// `iteration` iterations and `timesteps` steps (0 and 0 for a new run, whose session may
    /// start only once its first worker described an external environment).
    public init(configuration c: TrainingConfiguration, iteration startIteration: Int, timesteps startTimesteps: Int,
                evaluation: EvaluationSchedule?, version: String,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.now = now
        let r = registry
        func named(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        func gauge(_ name: String, _ help: String, _ initial: Double = .nan) -> Gauge {
            let g = r.makeGauge(descriptor: named(name, help))
            g.set(to: initial)
            return g
        }
        func counter(_ name: String, _ help: String) -> Counter { r.makeCounter(descriptor: named(name, help)) }
        let info = r.makeGauge(descriptor: named("trpo_run_info", "The run: its environment, sampling scheme and trpo's version as labels; the value is always 1."),
                               labels: [("environment", c.environment), ("sampler", c.sampler.rawValue), ("version", version)])
        info.set(to: 1)
        iteration = gauge("trpo_iteration", "The number of the last finished iteration (at a resume, the checkpoint's).",
                          Double(startIteration))
        timesteps = counter("trpo_timesteps_total", "Simulator steps the run has trained on, since the run began (across resumes).")
        timestepsTarget = gauge("trpo_timesteps_target", "The run's step budget (--steps): it ends when trpo_timesteps_total reaches it.",
                                Double(c.totalSteps))
        samplesPerSecond = gauge("trpo_samples_per_second",
                                 "Simulator steps per second of sampling in the last iteration: its batch over trpo_sample_seconds.")
        iterationSeconds = gauge("trpo_iteration_seconds",
                                 "Seconds the last iteration took: trpo_sample_seconds plus trpo_update_seconds.")
        sampleSeconds = gauge("trpo_sample_seconds",
                              "Seconds the last iteration waited for its batch, from the publication of the parameters.")
        updateSeconds = gauge("trpo_update_seconds",
                              "Seconds of the last iteration's update: policy step, value fit, evaluation when due, checkpoint.")
        lastIterationTimestamp = gauge("trpo_last_iteration_timestamp_seconds",
                                       "Unix time when the last iteration finished; before the first, when this learner started.",
                                       now())
        workersAlive = gauge("trpo_workers_alive", "Workers registered with the learner now.", 0)
        staleSamplesDropped = counter("trpo_stale_samples_dropped_total", "Rows dropped because an older policy version collected them or their batch was complete.")
        rejectedMessages = counter("trpo_rejected_messages_total", "Messages refused: undecodable, from unknown peers, for another environment or shape.")
        refusedConnections = counter("trpo_refused_connections_total", "Connection attempts refused by CURVE (keys not allowed, no or wrong encryption).")
        bytesReceived = counter("trpo_bytes_received_total", "Bytes of messages received from workers.")
        episodeReturnMean = gauge("trpo_episode_return_mean",
                                  "Mean undiscounted return of the episodes that finished in the last iteration (NaN if none did).")
        episodeLengthMean = gauge("trpo_episode_length_mean",
                                  "Mean length in steps of the episodes that finished in the last iteration (NaN if none did).")
        episodes = counter("trpo_episodes_total", "Episodes finished in the batches this learner trained on.")
        evalReturnMean = evaluation.map { schedule in
            gauge("trpo_eval_return_mean",
                  "Mean return of the last evaluation (--eval-every, \(schedule.episodes) deterministic episodes); NaN before the first.")
        }
        kl = gauge("trpo_kl", "Mean KL divergence between the policies before and after the last iteration's step.")
        entropy = gauge("trpo_entropy", "Mean entropy of the policy on the last iteration's batch.")
        explainedVariance = gauge("trpo_explained_variance",
                                  "Explained variance of the returns by the value function before the last iteration's fit (1 is perfect).")
        rejectedSteps = counter("trpo_policy_steps_rejected_total", "Iterations whose policy step was rejected, the policy left as it was (progress.csv's rejection column says why).")
        timesteps.increment(by: Int64(startTimesteps))
        countedTimesteps = startTimesteps
    }

    /// The metrics in the text exposition format, version 0.0.4 (``ExpositionText/normalized(_:)``);
    /// callable from any thread.
    public var exposition: @Sendable () -> [UInt8] {
        { [registry] in ExpositionText.normalized(registry.emitToBuffer()) }
    }

    public func learnerFinishedIteration(_ report: IterationReport) {
        let s = report.statistics
        iteration.set(to: Double(s.iteration))
        add(s.timesteps - countedTimesteps, to: timesteps)
        countedTimesteps = s.timesteps
        samplesPerSecond.set(to: report.sampleSeconds > 0 ? Double(report.steps) / report.sampleSeconds : .nan)
        sampleSeconds.set(to: report.sampleSeconds)
        updateSeconds.set(to: report.updateSeconds)
        iterationSeconds.set(to: report.sampleSeconds + report.updateSeconds)
        lastIterationTimestamp.set(to: now())
        episodeReturnMean.set(to: Self.mean(s.episodeReturns))
        episodeLengthMean.set(to: Self.mean(s.episodeLengths.map(Double.init)))
        episodes.increment(by: Int64(s.episodeReturns.count))
        if let evaluation = s.evaluation { evalReturnMean?.set(to: evaluation.returnMean) }
        kl.set(to: s.policyStep.kl)
        entropy.set(to: s.policyStep.entropy)
        explainedVariance.set(to: s.valueFit.explainedVarianceBefore)
        if !s.policyStep.accepted { rejectedSteps.increment() }
        learnerWorkersChanged(report.counters)
    }

    public func learnerWorkersChanged(_ counters: TransportCounters) {
        workersAlive.set(to: Double(counters.workersAlive))
        add(counters.staleSamplesDropped - counted.staleSamplesDropped, to: staleSamplesDropped)
        add(counters.rejectedMessages - counted.rejectedMessages, to: rejectedMessages)
        add(counters.refusedConnections - counted.refusedConnections, to: refusedConnections)
        add(counters.bytesReceived - counted.bytesReceived, to: bytesReceived)
        counted = counters
    }

    /// The mean of `values`, NaN for none.
    private static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// Counters only go up: the learner's cumulative counts never fall, and if one did, the
    /// Prometheus counter would keep its value rather than trap.
    private func add(_ amount: Int, to counter: Counter) {
        if amount > 0 { counter.increment(by: Int64(amount)) }
    }
}
