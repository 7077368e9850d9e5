import Core
import Foundation
import Testing
@testable import Learner

/// `--kl-schedule`: δ per iteration, what the step is given, what progress.csv records, and
/// configurations written before the setting existed.
@Suite struct KLScheduleTests {
    @Test func linearShrinksToZeroAtTheBudgetAndConstantStays() {
        #expect(KLSchedule.constant.maxKL(0.01, afterSteps: 900, of: 1000) == 0.01)
        #expect(KLSchedule.linear.maxKL(0.01, afterSteps: 0, of: 1000) == 0.01)
        #expect(abs(KLSchedule.linear.maxKL(0.01, afterSteps: 250, of: 1000) - 0.0075) < 1e-15)
        #expect(abs(KLSchedule.linear.maxKL(0.02, afterSteps: 999, of: 1000) - 0.00002) < 1e-15)
        #expect(KLSchedule.linear.maxKL(0.01, afterSteps: 1000, of: 1000) == 0)
        #expect(KLSchedule.linear.maxKL(0.01, afterSteps: 1500, of: 1000) == 0)
    }

    /// A linear run's rows: `max_kl` is δ·(1 − steps before the batch / budget), every step's
    /// measured KL is within it, and the first iteration is the constant run's exactly.
    @Test func aLinearRunStepsWithinTheShrinkingRegion() throws {
        var rows: [KLScheduleTests.Row] = []
        var constantRows: [KLScheduleTests.Row] = []
        for schedule in KLSchedule.allCases {
            var c = TrainingRunTests.configuration("CartPole-v1", iterations: 4, batch: 512)
            c.klSchedule = schedule
            let directory = TrainingRunTests.temporaryDirectory("kl-\(schedule)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var training = try LocalTraining(configuration: c, outputDirectory: directory, resume: false)
            try training.run { _, _, _ in }
            let read = try Self.rows(directory)
            if schedule == .linear { rows = read } else { constantRows = read }
        }
        #expect(constantRows.map(\.maxKL) == [0.01, 0.01, 0.01, 0.01])
        #expect(rows.count == 4)
        for (i, row) in rows.enumerated() {
            #expect(abs(row.maxKL - 0.01 * (1 - Double(i * 512) / 2048)) < 1e-12, "iteration \(i + 1)")
            #expect(row.kl <= row.maxKL, "iteration \(i + 1): KL \(row.kl) above δ \(row.maxKL)")
        }
        #expect(rows[0] == constantRows[0])
        #expect(rows[1].kl != constantRows[1].kl)
    }

    /// A configuration written before `klSchedule` existed decodes as `.constant`; set, it round-trips.
    @Test func configurationsWithoutTheScheduleDecodeAsConstant() throws {
        var c = TrainingConfiguration(environment: "Hopper-v4", totalSteps: 1000, batchSteps: 100)
        #expect(c.klSchedule == .constant)
        c.klSchedule = .linear
        #expect(try TrainingRunTests.decodedWithout("klSchedule", from: c).klSchedule == .constant)
    }

    struct Row: Equatable {
        var kl: Double
        var maxKL: Double
    }

    static func rows(_ directory: URL) throws -> [Row] {
        let lines = try TrainingRunTests.rowsWithoutTiming(directory)
        let kl = try #require(lines[0].firstIndex(of: "kl"))
        let maxKL = try #require(lines[0].firstIndex(of: "max_kl"))
        return lines.dropFirst().map { Row(kl: Double($0[kl])!, maxKL: Double($0[maxKL])!) }
    }
}
