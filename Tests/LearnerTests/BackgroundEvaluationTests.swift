import Core
import Dispatch
import Foundation
import Protocol
import Testing
@testable import Learner

/// `--eval-every` on an external environment (``BackgroundEvaluations``): the checkpoints are
/// evaluated beside training, each result lands in its own iteration's progress row, the log
/// and `checkpoint.json` never run ahead of an evaluation still running, and the best policy is
/// the evaluated iteration's. The evaluator here stands in for the Python one (test_external.py
/// runs the real one end to end); it reads the checkpoint it is given.
@Suite(.serialized) struct BackgroundEvaluationTests {
    /// A one-step bandit made by workers: 2 features, 2 actions.
    static func configuration(iterations: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration(environment: "gym:Bandit-v0", totalSteps: iterations * 64, batchSteps: 64)
        c.environmentSpec = EnvironmentSpec(observationShape: [2], observationType: .float64,
                                            actionSpace: .discrete(count: 2), timeLimit: 1, canSnapshot: false)
        c.valueFit.epochs = 1
        return c
    }

    /// One iteration on 64 one-step episodes with random actions.
    static func iterate(_ session: inout TrainingSession, random: inout RandomStream) throws {
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        for _ in 0..<64 {
            let observation = [random.uniform(-1, 1), random.uniform(-1, 1)]
            let action = Double(random.index(below: 2))
            let reward = (action == 0) == (observation[0] < 0) ? 1.0 : 0.0
            observation.withUnsafeBufferPointer { o in
                [action].withUnsafeBufferPointer { a in batch.append(observation: o, action: a, reward: reward, end: .terminated) }
            }
            batch.episodeReturns.append(reward)
            batch.episodeLengths.append(1)
        }
        var pending: PendingValueFit?
        let statistics = session.beginUpdate(with: .features(batch)) { pending = $0 }
        _ = try session.completeUpdate(try #require(pending).fit(), statistics, sampleSeconds: 0, publishSeconds: 0)
    }

    static func rows(_ directory: URL) throws -> [[String: String]] { try EvaluationTests.rows(directory) }

    /// Told of each evaluation, in order, from the evaluator's thread and the session's.
    final class Announcements: @unchecked Sendable {
        let lock = NSLock()
        var items: [(Int, Double?)] = []
        func add(_ iteration: Int, _ mean: Double?) { lock.withLock { items.append((iteration, mean)) } }
    }

    @Test func evaluationsRunBesideTrainingAndLandInTheirOwnRows() throws {
        let directory = TrainingRunTests.temporaryDirectory("background-eval")
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = DispatchSemaphore(value: 0)
        // Iteration 2 scores 20 once the test opens the gate; iteration 4 scores 1.
        let evaluator: CheckpointEvaluator = { checkpoint, episodes, seed in
            let state = try Checkpoint.load(from: checkpoint)
            #expect(episodes == 3 && seed == 1)
            if state.iteration == 2 { gate.wait() }
            let score = state.iteration == 2 ? 20.0 : 1.0
            return EvaluationResult(returns: [Double](repeating: score, count: episodes), lengths: [Int](repeating: 1, count: episodes))
        }
        let announced = Announcements()
        var session = try TrainingSession(configuration: Self.configuration(iterations: 4), outputDirectory: directory, resume: false,
                                          evaluation: EvaluationSchedule(every: 2, episodes: 3), checkpoints: .everyIteration)
        session.checkpointEvaluator = evaluator
        session.onBackgroundEvaluation = { iteration, outcome in announced.add(iteration, try? outcome.get().returnMean) }
        var random = RandomStream(seed: 7, path: [1])
        var policyAt2: AnyPolicy?
        for iteration in 1...3 {
            try Self.iterate(&session, random: &random)
            if iteration == 2 { policyAt2 = session.state.policy }
        }
        // Iteration 2 is being evaluated: its row and those after it wait, and so does the checkpoint.
        #expect(try Self.rows(directory).map { $0["iteration"] } == ["1"])
        #expect(try Checkpoint.load(from: directory).iteration == 1)
        #expect(announced.items.isEmpty)

        gate.signal()
        try Self.iterate(&session, random: &random)  // the last: evaluated too
        try session.saveCheckpoint()  // what the learner does at the end: waits for the evaluations
        let rows = try Self.rows(directory)
        #expect(rows.map { $0["iteration"] } == ["1", "2", "3", "4"])
        #expect(rows.map { $0["eval_return_mean"] } == ["", "20.0", "", "1.0"])
        #expect(rows[1]["eval_episodes"] == "3" && rows[3]["eval_episodes"] == "3")
        #expect(announced.items.map(\.0) == [2, 4] && announced.items.map(\.1) == [20, 1])
        let saved = try Checkpoint.load(from: directory)
        #expect(saved.iteration == 4 && saved.bestEvaluation == BestEvaluation(iteration: 2, returnMean: 20))
        let best = try Checkpoint.load(from: directory.appendingPathComponent(RunDirectory.bestDirectoryName))
        #expect(best.iteration == 2 && best.policy == policyAt2 && best.bestEvaluation == saved.bestEvaluation)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(BackgroundEvaluations.directoryName).path))
    }

    /// An evaluation that fails is announced and leaves its row without a score; training goes
    /// on. A run of an external environment evaluated without an evaluator is refused by name.
    @Test func aFailedEvaluationLeavesTrainingAlone() throws {
        struct Broken: Error {}
        let directory = TrainingRunTests.temporaryDirectory("background-eval-failed")
        defer { try? FileManager.default.removeItem(at: directory) }
        let announced = Announcements()
        var session = try TrainingSession(configuration: Self.configuration(iterations: 2), outputDirectory: directory, resume: false,
                                          evaluation: EvaluationSchedule(every: 1, episodes: 2))
        session.checkpointEvaluator = { _, _, _ in throw Broken() }
        session.onBackgroundEvaluation = { iteration, outcome in announced.add(iteration, try? outcome.get().returnMean) }
        var random = RandomStream(seed: 8, path: [1])
        try Self.iterate(&session, random: &random)
        try Self.iterate(&session, random: &random)
        try session.saveCheckpoint()
        #expect(try Self.rows(directory).map { $0["eval_return_mean"] } == ["", ""])
        #expect(announced.items.map(\.0) == [1, 2] && announced.items.allSatisfy { $0.1 == nil })
        #expect(try Checkpoint.load(from: directory).iteration == 2)

        let other = TrainingRunTests.temporaryDirectory("background-eval-none")
        defer { try? FileManager.default.removeItem(at: other) }
        var unevaluated = try TrainingSession(configuration: Self.configuration(iterations: 2), outputDirectory: other, resume: false,
                                              evaluation: EvaluationSchedule(every: 1, episodes: 2))
        #expect(throws: ConfigurationError(message: "--eval-every on gym:Bandit-v0 needs the Python evaluation")) {
            try Self.iterate(&unevaluated, random: &random)
        }
    }
}
