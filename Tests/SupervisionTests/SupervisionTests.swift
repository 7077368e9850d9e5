import Foundation
import Learner
import Supervision
import Testing

/// The supervision module's pure parts; the processes themselves are driven through the
/// `trpo` binary in DistributedTests/SupervisorTests.
@Suite struct SupervisionTests {
    @Test func aRestartResumesTheRunItSupervisesAndNeverOverwritesIt() {
        let arguments = ["learner", "--env", "CartPole-v1", "--out", "runs/a", "--overwrite", "--resume=old", "--quiet"]
        #expect(LearnerSupervisor.replacingResume(in: arguments, with: "runs/a")
                == ["learner", "--env", "CartPole-v1", "--out", "runs/a", "--quiet", "--resume", "runs/a"])
        #expect(LearnerSupervisor.replacingResume(in: ["learner", "--resume", "x", "--seed", "2"], with: "x")
                == ["learner", "--seed", "2", "--resume", "x"])
    }

    @Test func theLearnerPreflightRefusesWhatWorkersCouldNotDo() throws {
        var c = TrainingConfiguration.preset(for: "CartPole-v1", sampler: .vine)
        c.vine.rolloutStates = 3
        #expect(throws: SupervisionError.tooManyDeterministicVineWorkers(workers: 4, rolloutStates: 3)) {
            try LearnerPreflight.check(c, deterministicWorkers: 4)
        }
        try LearnerPreflight.check(c, deterministicWorkers: 3)
        try LearnerPreflight.check(c, deterministicWorkers: nil)
        c.modelXML = String(repeating: "x", count: 64 << 20)
        #expect(throws: SupervisionError.self) { try LearnerPreflight.check(c, deterministicWorkers: nil) }
    }

    @Test func aChildProcessEndsAsItsProgramDoes() throws {
        // The test runner is the executable here: `--help` makes it print and exit 0.
        let child = try ChildProcess(["--help"])
        #expect(child.wait() == .exited(0))
        #expect(child.poll() == .exited(0))
        #expect(!child.isRunning)
    }
}
