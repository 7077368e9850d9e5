import Core
import Foundation
import Testing
@testable import Learner

/// Evaluation during training (issue 15, item 4): separate simulators and streams, columns in
/// progress.csv, and the best policy kept in best/checkpoint.json.
@Suite struct EvaluationTests {
    /// progress.csv as one dictionary per row.
    static func rows(_ directory: URL) throws -> [[String: String]] {
        let text = try String(contentsOf: directory.appendingPathComponent("progress.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }

    static let evaluationColumns: Set<String> = ["eval_return_mean", "eval_return_std", "eval_length_mean", "eval_episodes",
                                                 "eval_seconds"]

    @Test func theScheduleAndTheBestFollowTheirContracts() {
        let schedule = EvaluationSchedule(every: 3, episodes: 5)
        #expect((1...7).filter { schedule.isDue(after: $0, finishingRun: false) } == [3, 6])
        #expect(schedule.isDue(after: 7, finishingRun: true))
        #expect(BestEvaluation.improves(-5, on: nil))
        #expect(!BestEvaluation.improves(.nan, on: nil))
        let best = BestEvaluation(iteration: 2, returnMean: 10)
        #expect(BestEvaluation.improves(10.5, on: best))
        #expect(!BestEvaluation.improves(10, on: best))  // a tie keeps the earlier one
        #expect(!BestEvaluation.improves(.nan, on: best))
        #expect(TensorBoardLog.tag(for: "eval_return_mean") == "eval/mean_reward")
        #expect(TensorBoardLog.tag(for: "eval_length_mean") == "eval/mean_ep_length")
        #expect(TensorBoardLog.tag(for: "eval_seconds") == "trpo/eval_seconds")
    }

    /// Evaluating changes no training number: the rows of a run with evaluation equal those of
    /// one without, apart from timing and the evaluation columns, and so do the final states.
    @Test func evaluationLeavesTrainingUnchanged() throws {
        let c = TrainingRunTests.configuration("CartPole-v1", iterations: 3, batch: 512)
        var results: [(rows: [[String: String]], state: TrainerState)] = []
        for schedule in [nil, EvaluationSchedule(every: 2, episodes: 3)] {
            let directory = TrainingRunTests.temporaryDirectory("evaluation-\(schedule == nil ? "off" : "on")")
            defer { try? FileManager.default.removeItem(at: directory) }
            let session = try TrainingSession(configuration: c, outputDirectory: directory, resume: false, evaluation: schedule)
            var training = try LocalTraining(session: session)
            var evaluated: [Int] = []
            try training.run { s, _, _ in if s.evaluation != nil { evaluated.append(s.iteration) } }
            #expect(evaluated == (schedule == nil ? [] : [2, 3]))  // every 2nd and the last
            results.append((try Self.rows(directory), training.state))
        }
        let ignored = ProgressLog.timingColumns.union(Self.evaluationColumns)
        #expect(results[0].rows.count == 3)
        #expect(results[0].rows.map { $0.filter { !ignored.contains($0.key) } }
                == results[1].rows.map { $0.filter { !ignored.contains($0.key) } })
        #expect(results[0].rows.allSatisfy { row in Self.evaluationColumns.allSatisfy { row[$0] == "" } })
        #expect(results[1].rows.map { $0["eval_episodes"] } == ["", "3", "3"])
        let (plain, evaluated) = (results[0].state, results[1].state)
        #expect(plain.policy == evaluated.policy && plain.valueFunction == evaluated.valueFunction)
        #expect(plain.normalizer == evaluated.normalizer && plain.random == evaluated.random)
        #expect(plain.bestEvaluation == nil && evaluated.bestEvaluation != nil)
    }

    /// best/checkpoint.json is the policy of the iteration with the highest evaluation return
    /// (the first on ties), across a resume; evaluating it again gives that iteration's mean.
    @Test func theBestCheckpointHasTheHighestEvaluationReturnAcrossAResume() throws {
        let directory = TrainingRunTests.temporaryDirectory("best")
        defer { try? FileManager.default.removeItem(at: directory) }
        var c = TrainingRunTests.configuration("CartPole-v1", iterations: 2, batch: 512)
        let schedule = EvaluationSchedule(every: 1, episodes: 3)
        var first = try LocalTraining(session: TrainingSession(configuration: c, outputDirectory: directory, resume: false,
                                                               evaluation: schedule))
        try first.run { _, _, _ in }
        var saved = try Checkpoint.load(from: directory)
        #expect(saved.bestEvaluation != nil)
        saved.configuration.totalSteps = 5 * 512
        c = saved.configuration
        var resumed = try LocalTraining(session: TrainingSession(resuming: saved, in: directory, evaluation: schedule))
        try resumed.run { _, _, _ in }

        let returns = try Self.rows(directory).map { Double($0["eval_return_mean"] ?? "") ?? .nan }
        #expect(returns.count == 5)
        let bestIndex = returns.indices.first { returns[$0] == returns.max() }!
        let best = try Checkpoint.load(from: directory.appendingPathComponent(RunDirectory.bestDirectoryName))
        #expect(best.iteration == bestIndex + 1, "evaluation returns \(returns)")
        #expect(best.bestEvaluation == BestEvaluation(iteration: bestIndex + 1, returnMean: returns[bestIndex]))
        #expect(try Checkpoint.load(from: directory).bestEvaluation == best.bestEvaluation)
        let again = try evaluatePolicy(best.builtInPolicy, normalizer: c.normalizeObservations ? best.normalizer : nil, environment: c.environment, episodes: 3,
                                       deterministic: true, seed: c.seed)
        #expect(again.returnMean == returns[bestIndex])
    }

    /// --overwrite removes the old run's best policy with its other files; a run that never
    /// checkpointed leaves none behind for the next.
    @Test func aNewRunNeverInheritsABestPolicy() throws {
        let directory = TrainingRunTests.temporaryDirectory("best-overwrite")
        defer { try? FileManager.default.removeItem(at: directory) }
        let best = directory.appendingPathComponent(RunDirectory.bestDirectoryName)
        try FileManager.default.createDirectory(at: best, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: best.appendingPathComponent(Checkpoint.fileName))
        #expect(try !RunDirectory.prepareNewRun(in: directory, overwrite: false))
        #expect(!FileManager.default.fileExists(atPath: best.path))

        try FileManager.default.createDirectory(at: best, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: Checkpoint.url(in: directory))
        #expect(throws: RunDirectoryError.holdsRun(path: directory.path)) { try RunDirectory.prepareNewRun(in: directory, overwrite: false) }
        #expect(try RunDirectory.prepareNewRun(in: directory, overwrite: true))
        #expect(!FileManager.default.fileExists(atPath: best.path))
    }
}
