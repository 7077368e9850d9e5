import Foundation
import Learner
import MetricsExport
import Testing

/// The exporter fed with the statistics of real training iterations (CartPole-v1, in this
/// process), read back from its exposition.
@Suite struct LearnerMetricsTests {
    /// The exposition's samples by series (`name` or `name{labels}`), values as written.
    static func samples(_ metrics: LearnerMetrics) -> [String: String] {
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        var samples: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let space = line.lastIndex(of: " ")!
            samples[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return samples
    }

    static func value(_ metrics: LearnerMetrics, _ series: String) -> Double? {
        samples(metrics)[series].flatMap(Double.init)
    }

    static func directory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("trpo-metrics-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    static func configuration(iterations: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration.preset(for: "CartPole-v1")
        c.batchSteps = 512
        c.totalSteps = iterations * 512
        c.valueFit.epochs = 3
        return c
    }

    /// The statistics of `iterations` iterations of a new CartPole run in `directory`.
    static func train(_ iterations: Int, in directory: URL, evaluation: EvaluationSchedule? = nil) throws -> [IterationStatistics] {
        let session = try TrainingSession(configuration: configuration(iterations: iterations), outputDirectory: directory,
                                          resume: false, evaluation: evaluation)
        var training = try LocalTraining(session: session)
        var statistics: [IterationStatistics] = []
        try training.run { s, _, _ in statistics.append(s) }
        return statistics
    }

    static let version = "9.9.9"
    static let documented = [
        "trpo_iteration", "trpo_timesteps_total", "trpo_timesteps_target", "trpo_samples_per_second",
        "trpo_iteration_seconds", "trpo_sample_seconds", "trpo_update_seconds", "trpo_last_iteration_timestamp_seconds",
        "trpo_workers_alive", "trpo_stale_samples_dropped_total", "trpo_rejected_messages_total",
        "trpo_refused_connections_total", "trpo_bytes_received_total", "trpo_episode_return_mean",
        "trpo_episode_length_mean", "trpo_episodes_total", "trpo_kl", "trpo_entropy", "trpo_explained_variance",
        "trpo_policy_steps_rejected_total",
        "trpo_run_info{environment=\"CartPole-v1\",sampler=\"single-path\",version=\"9.9.9\"}",
    ]

    @Test func beforeTheFirstIterationLastIterationValuesAreNaNAndCountsZero() throws {
        let directory = Self.directory("fresh")
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try TrainingSession(configuration: Self.configuration(iterations: 3), outputDirectory: directory, resume: false)
        let metrics = LearnerMetrics(session: session, version: Self.version, now: { 1_700_000_000 })
        let samples = Self.samples(metrics)
        #expect(Set(samples.keys) == Set(Self.documented), "no trpo_eval_return_mean without --eval-every")
        for name in ["trpo_kl", "trpo_entropy", "trpo_explained_variance", "trpo_episode_return_mean",
                     "trpo_episode_length_mean", "trpo_samples_per_second", "trpo_iteration_seconds",
                     "trpo_sample_seconds", "trpo_update_seconds"] {
            #expect(samples[name] == "NaN", "\(name)")
        }
        for name in ["trpo_timesteps_total", "trpo_episodes_total", "trpo_bytes_received_total", "trpo_policy_steps_rejected_total"] {
            #expect(samples[name] == "0", "\(name)")
        }
        #expect(Self.value(metrics, "trpo_iteration") == 0)
        #expect(Self.value(metrics, "trpo_workers_alive") == 0)
        #expect(Self.value(metrics, "trpo_timesteps_target") == 1536)
        #expect(Self.value(metrics, "trpo_last_iteration_timestamp_seconds") == 1_700_000_000)
        #expect(samples["trpo_run_info{environment=\"CartPole-v1\",sampler=\"single-path\",version=\"9.9.9\"}"] == "1.0")
    }

    @Test func anIterationSetsTheMetricsFromItsStatistics() throws {
        let directory = Self.directory("iteration")
        defer { try? FileManager.default.removeItem(at: directory) }
        let statistics = try Self.train(2, in: directory)
        let session = try TrainingSession(configuration: Self.configuration(iterations: 2), outputDirectory: Self.directory("unused"),
                                          resume: false)
        defer { try? FileManager.default.removeItem(at: session.outputDirectory) }
        /// The Unix time the exporter reads, set by the test.
        final class Time: @unchecked Sendable { var seconds = 100.0 }
        let time = Time()
        let metrics = LearnerMetrics(session: session, version: Self.version, now: { time.seconds })
        var counters = TransportCounters()
        counters.workersAlive = 2
        counters.bytesReceived = 1000
        for (i, s) in statistics.enumerated() {
            time.seconds += 10
            counters.bytesReceived += 500
            metrics.learnerFinishedIteration(IterationReport(statistics: s, counters: counters, steps: 512,
                                                             sampleSeconds: 0.25, updateSeconds: 0.5))
            #expect(Self.value(metrics, "trpo_iteration") == Double(i + 1))
        }
        let last = statistics.last!
        #expect(Self.value(metrics, "trpo_timesteps_total") == 1024)
        #expect(Self.value(metrics, "trpo_samples_per_second") == 2048)
        #expect(Self.value(metrics, "trpo_sample_seconds") == 0.25)
        #expect(Self.value(metrics, "trpo_update_seconds") == 0.5)
        #expect(Self.value(metrics, "trpo_iteration_seconds") == 0.75)
        #expect(Self.value(metrics, "trpo_last_iteration_timestamp_seconds") == 120)
        #expect(Self.value(metrics, "trpo_kl") == last.policyStep.kl)
        #expect(Self.value(metrics, "trpo_entropy") == last.policyStep.entropy)
        #expect(Self.value(metrics, "trpo_explained_variance") == last.valueFit.explainedVarianceBefore)
        #expect(!last.episodeReturns.isEmpty)
        let mean = last.episodeReturns.reduce(0, +) / Double(last.episodeReturns.count)
        #expect(abs(Self.value(metrics, "trpo_episode_return_mean")! - mean) <= 1e-9 * abs(mean))
        #expect(Self.value(metrics, "trpo_episodes_total") == Double(statistics.map(\.episodeReturns.count).reduce(0, +)))
        #expect(Self.value(metrics, "trpo_workers_alive") == 2)
        #expect(Self.value(metrics, "trpo_bytes_received_total") == 2000)
        #expect(Self.value(metrics, "trpo_policy_steps_rejected_total") == Double(statistics.filter { !$0.policyStep.accepted }.count))
    }

    /// An iteration in which no episode finished has no mean return: NaN, not the previous
    /// iteration's value, and not 0.
    @Test func anIterationWithoutFinishedEpisodesHasNoMeanReturn() throws {
        let directory = Self.directory("no-episodes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let statistics = try Self.train(2, in: directory)
        let session = try TrainingSession(resuming: try Checkpoint.load(from: directory), in: directory)
        let metrics = LearnerMetrics(session: session, version: Self.version)
        metrics.learnerFinishedIteration(IterationReport(statistics: statistics[0], counters: TransportCounters(), steps: 512,
                                                         sampleSeconds: 1, updateSeconds: 1))
        #expect(Self.value(metrics, "trpo_episode_return_mean")!.isFinite)
        var none = statistics[1]
        none.episodeReturns = []
        none.episodeLengths = []
        metrics.learnerFinishedIteration(IterationReport(statistics: none, counters: TransportCounters(), steps: 512,
                                                         sampleSeconds: 0, updateSeconds: 1))
        #expect(Self.samples(metrics)["trpo_episode_return_mean"] == "NaN")
        #expect(Self.samples(metrics)["trpo_episode_length_mean"] == "NaN")
        #expect(Self.samples(metrics)["trpo_samples_per_second"] == "NaN", "no sampling time measured")
    }

    /// A resumed run's iteration and timesteps start at its checkpoint's; the transport counters
    /// count what the learner reports, workers coming and going in between iterations included.
    @Test func aResumedRunContinuesAndCountersFollowTheLearner() throws {
        let directory = Self.directory("resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Self.train(2, in: directory)
        var state = try Checkpoint.load(from: directory)
        state.configuration.totalSteps = 4 * 512
        let metrics = LearnerMetrics(session: try TrainingSession(resuming: state, in: directory), version: Self.version)
        #expect(Self.value(metrics, "trpo_iteration") == 2)
        #expect(Self.value(metrics, "trpo_timesteps_total") == 1024)
        #expect(Self.value(metrics, "trpo_timesteps_target") == 2048)
        var counters = TransportCounters()
        for (alive, rejected) in [(1, 0), (2, 3), (1, 3), (0, 7)] {
            (counters.workersAlive, counters.rejectedMessages, counters.staleSamplesDropped) = (alive, rejected, 2 * rejected)
            counters.refusedConnections = rejected / 2
            metrics.learnerWorkersChanged(counters)
            #expect(Self.value(metrics, "trpo_workers_alive") == Double(alive))
            #expect(Self.value(metrics, "trpo_rejected_messages_total") == Double(rejected))
            #expect(Self.value(metrics, "trpo_stale_samples_dropped_total") == Double(2 * rejected))
            #expect(Self.value(metrics, "trpo_refused_connections_total") == Double(rejected / 2))
        }
    }

    @Test func theEvaluationReturnIsThereWhenTheRunEvaluates() throws {
        let directory = Self.directory("evaluation")
        defer { try? FileManager.default.removeItem(at: directory) }
        let schedule = EvaluationSchedule(every: 2, episodes: 2)
        let statistics = try Self.train(2, in: directory, evaluation: schedule)
        #expect(statistics[0].evaluation == nil && statistics[1].evaluation != nil)
        var state = try Checkpoint.load(from: directory)
        state.configuration.totalSteps = 4 * 512
        let metrics = LearnerMetrics(session: try TrainingSession(resuming: state, in: directory, evaluation: schedule),
                                     version: Self.version)
        #expect(Self.samples(metrics)["trpo_eval_return_mean"] == "NaN")
        metrics.learnerFinishedIteration(IterationReport(statistics: statistics[1], counters: TransportCounters(), steps: 512,
                                                         sampleSeconds: 1, updateSeconds: 1))
        let evaluated = statistics[1].evaluation!.returnMean
        #expect(Self.value(metrics, "trpo_eval_return_mean") == evaluated)
        // An iteration without an evaluation keeps the last one's.
        metrics.learnerFinishedIteration(IterationReport(statistics: statistics[0], counters: TransportCounters(), steps: 512,
                                                         sampleSeconds: 1, updateSeconds: 1))
        #expect(Self.value(metrics, "trpo_eval_return_mean") == evaluated)
    }

    /// Every metric the exporter writes is in the table of docs/deploy.md, and the table names
    /// no metric the exporter does not write.
    @Test func everyMetricIsDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/deploy.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| `trpo_") }
        let documented = Set(rows.compactMap { $0.split(separator: "`").dropFirst().first.map { String($0.prefix { $0 != "{" }) } })
        let names = Set(Self.documented.map { String($0.prefix { $0 != "{" }) } + ["trpo_eval_return_mean"])
        #expect(documented == names)
    }
}
