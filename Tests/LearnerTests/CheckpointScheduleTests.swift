import Core
import Foundation
import Testing
@testable import Learner

/// `--checkpoint-every`: when a run rewrites checkpoint.json (issue 14: the JSON encoding of
/// every iteration's checkpoint was a third of a CartPole run's CPU time).
@Suite struct CheckpointScheduleTests {
    @Test func theScheduleFollowsItsContract() {
        let schedule = CheckpointSchedule(interval: 10)
        #expect(schedule.isDue(secondsSinceLastSave: nil, finishingRun: false, newBest: false))  // a session's first
        #expect(!schedule.isDue(secondsSinceLastSave: 9.9, finishingRun: false, newBest: false))
        #expect(schedule.isDue(secondsSinceLastSave: 10, finishingRun: false, newBest: false))
        #expect(schedule.isDue(secondsSinceLastSave: 0.1, finishingRun: true, newBest: false))
        #expect(schedule.isDue(secondsSinceLastSave: 0.1, finishingRun: false, newBest: true))
        #expect(CheckpointSchedule.everyIteration.isDue(secondsSinceLastSave: 0, finishingRun: false, newBest: false))
    }

    /// With a long interval a session saves its first and its last iteration only, and a resume
    /// continues from the saved one; the states equal those of a run saved every iteration.
    @Test func aThrottledRunSavesItsFirstAndLastIterationsAndResumesTheSame() throws {
        var c = TrainingRunTests.configuration("CartPole-v1", iterations: 3, batch: 512)
        var finals: [TrainerState] = []
        for schedule in [CheckpointSchedule(interval: 3600), .everyIteration] {
            let directory = TrainingRunTests.temporaryDirectory("checkpoint-every-\(schedule.interval)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var training = try LocalTraining(session: TrainingSession(configuration: c, outputDirectory: directory, resume: false,
                                                                      checkpoints: schedule))
            var saved: [Int] = []
            try training.run { _, _, _ in saved.append((try? Checkpoint.load(from: directory).iteration) ?? -1) }
            #expect(saved == (schedule.interval > 0 ? [1, 1, 3] : [1, 2, 3]))

            var state = try Checkpoint.load(from: directory)
            state.configuration.totalSteps = 6 * 512
            c = state.configuration
            var resumed = try LocalTraining(session: TrainingSession(resuming: state, in: directory, checkpoints: schedule))
            saved = []
            try resumed.run { _, _, _ in saved.append((try? Checkpoint.load(from: directory).iteration) ?? -1) }
            #expect(saved == (schedule.interval > 0 ? [4, 4, 6] : [4, 5, 6]))
            #expect(try TrainingRunTests.rowsWithoutTiming(directory).count == 1 + 6)  // the header and six rows
            finals.append(try Checkpoint.load(from: directory))
            c.totalSteps = 3 * 512
        }
        #expect(finals[0].policy == finals[1].policy && finals[0].valueFunction == finals[1].valueFunction)
        #expect(finals[0].random == finals[1].random && finals[0].normalizer == finals[1].normalizer)
    }

    /// `--keep-every 2`: the checkpoints of iterations 2, 4, … stay in checkpoints/iteration-N,
    /// each the state the run had then; a resume from iteration 3 drops the kept iteration 4
    /// (which the resumed run does again) and keeps its own.
    @Test func keptCheckpointsAreTheRunsHistoryAndAResumeCutsThemBack() throws {
        let c = TrainingRunTests.configuration("CartPole-v1", iterations: 3, batch: 512)
        let directory = TrainingRunTests.temporaryDirectory("keep-every")
        defer { try? FileManager.default.removeItem(at: directory) }
        let schedule = CheckpointSchedule(interval: 3600, keepEvery: 2)
        #expect(schedule.keeps(2) && schedule.keeps(4) && !schedule.keeps(3) && !CheckpointSchedule.everyIteration.keeps(2))
        var first = try LocalTraining(session: TrainingSession(configuration: c, outputDirectory: directory, resume: false,
                                                               checkpoints: schedule))
        try first.run { _, _, _ in }
        #expect(CheckpointSchedule.keptIterations(in: directory) == [2])
        var at3 = try Checkpoint.load(from: directory)
        #expect(at3.iteration == 3)

        var extended = at3
        extended.configuration.totalSteps = 4 * 512
        var second = try LocalTraining(session: TrainingSession(resuming: extended, in: directory, checkpoints: schedule))
        try second.run { _, _, _ in }
        #expect(CheckpointSchedule.keptIterations(in: directory) == [2, 4])
        let kept2 = try Checkpoint.load(from: CheckpointSchedule.keptDirectory(iteration: 2, in: directory))
        let kept4 = try Checkpoint.load(from: CheckpointSchedule.keptDirectory(iteration: 4, in: directory))
        #expect(kept2.iteration == 2 && kept2.timesteps == 2 * 512)
        #expect(kept4.iteration == 4 && kept4.policy == second.state.policy && kept4.valueFunction == second.state.valueFunction)

        // Resumed from iteration 3 again (as after a crash that lost iteration 4's checkpoint).
        at3.configuration.totalSteps = 6 * 512
        var third = try LocalTraining(session: TrainingSession(resuming: at3, in: directory,
                                                               checkpoints: CheckpointSchedule(interval: 3600, keepEvery: 3)))
        #expect(CheckpointSchedule.keptIterations(in: directory) == [2])
        try third.run { _, _, _ in }
        #expect(CheckpointSchedule.keptIterations(in: directory) == [2, 6])
        #expect(try Checkpoint.load(from: CheckpointSchedule.keptDirectory(iteration: 2, in: directory)) == kept2)
    }
}

/// Issue 14, item 1: the value fit on a second thread while the next batch is sampled gives
/// exactly the numbers of fitting in line.
@Suite struct OverlappedValueFitTests {
    @Test(arguments: ["CartPole-v1", "Pendulum-v1"])
    func overlappingTheValueFitChangesNoNumber(environment: String) throws {
        let c = TrainingRunTests.configuration(environment, iterations: 4, batch: 512)
        var runs: [(rows: [[String]], state: TrainerState, reported: [Int])] = []
        for overlaps in [true, false] {
            let directory = TrainingRunTests.temporaryDirectory("overlap-\(overlaps)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var training = try LocalTraining(session: TrainingSession(configuration: c, outputDirectory: directory, resume: false),
                                             overlapsValueFit: overlaps)
            var reported: [Int] = []
            try training.run { s, _, _ in
                #expect(s.valueFit.adamSteps > 0 && s.valueSeconds > 0, "iteration \(s.iteration) is reported with its value fit")
                reported.append(s.iteration)
            }
            runs.append((try TrainingRunTests.rowsWithoutTiming(directory), training.state, reported))
        }
        #expect(runs[0].reported == [1, 2, 3, 4] && runs[1].reported == [1, 2, 3, 4])
        #expect(runs[0].rows == runs[1].rows)
        let (overlapped, inLine) = (runs[0].state, runs[1].state)
        #expect(overlapped.policy == inLine.policy && overlapped.valueFunction == inLine.valueFunction)
        #expect(overlapped.normalizer == inLine.normalizer && overlapped.random == inLine.random)
        #expect(overlapped.iteration == 4 && overlapped.timesteps == inLine.timesteps)
        #expect(overlapped.valueRandom == inLine.valueRandom && overlapped.valueRandom != TrainerState.valueStream(seed: c.seed))
    }

    /// A checkpoint written when one stream drew both the Fisher subsamples and the value fit's
    /// minibatches loads, with the value stream at its start.
    @Test func aCheckpointFromBeforeTheValueStreamLoads() throws {
        let c = TrainingRunTests.configuration("CartPole-v1", iterations: 1, batch: 512)
        let state = Trainer(configuration: c, observationSize: 4, actionSpace: .discrete(count: 2)).state
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        #expect(json["valueRandom"] != nil)
        json["valueRandom"] = nil
        let old = try JSONDecoder().decode(TrainerState.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.valueRandom == TrainerState.valueStream(seed: c.seed) && old.random == state.random && old.policy == state.policy)
    }
}
