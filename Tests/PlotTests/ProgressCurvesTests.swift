import Foundation
import Testing

@testable import Plot

@Suite struct ProgressCurvesTests {
    /// A fresh empty directory, removed after `body`.
    static func withTemporaryDirectory(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plot-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    static let log = """
        iteration,timesteps,wall_seconds,episode_return_mean,episode_length_mean,episodes,kl
        1,1000,0.5,,,0,0.01
        2,2000,1.0,-1180.5,200,5,0.009
        3,3000,1.5,-900,200,5,0.01

        """

    @Test func readsTheReturnCurveNamedAfterTheDirectory() throws {
        try Self.withTemporaryDirectory { root in
            let run = root.appendingPathComponent("pendulum-seed3")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: false)
            try Self.log.write(to: run.appendingPathComponent("progress.csv"), atomically: false, encoding: .utf8)

            let bySteps = try ProgressCurves.learningCurve(runDirectory: run, x: .timesteps)
            #expect(bySteps.name == "pendulum-seed3")
            #expect(bySteps.points == [CurvePoint(x: 2000, y: -1180.5), CurvePoint(x: 3000, y: -900)])

            let withSlash = URL(fileURLWithPath: run.path + "/")
            let byWall = try ProgressCurves.learningCurve(runDirectory: withSlash, x: .wall)
            #expect(byWall.name == "pendulum-seed3")
            #expect(byWall.points.map(\.x) == [1.0, 1.5])

            let byIteration = try ProgressCurves.learningCurve(runDirectory: run, x: .iteration)
            #expect(byIteration.points == [CurvePoint(x: 2, y: -1180.5), CurvePoint(x: 3, y: -900)])
        }
    }

    @Test func missingDirectoryFileOrColumn() throws {
        try Self.withTemporaryDirectory { root in
            let absent = root.appendingPathComponent("absent")
            #expect(throws: PlotError.missingRunDirectory(path: absent.path)) {
                try ProgressCurves.learningCurve(runDirectory: absent, x: .timesteps)
            }
            #expect(throws: PlotError.missingProgressFile(path: root.appendingPathComponent("progress.csv").path)) {
                try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps)
            }
            let file = root.appendingPathComponent("progress.csv")
            try "iteration,timesteps,episode_return_mean\n1,100,5\n".write(to: file, atomically: false, encoding: .utf8)
            #expect(throws: PlotError.missingColumn("wall_seconds", source: file.path)) {
                try ProgressCurves.learningCurve(runDirectory: root, x: .wall)
            }
        }
    }

    /// `y: .evaluation` plots `eval_return_mean` on the rows that have one; a log without the
    /// column is refused naming it.
    @Test func readsTheEvaluationCurve() throws {
        try Self.withTemporaryDirectory { root in
            let file = root.appendingPathComponent("progress.csv")
            try "iteration,timesteps,episode_return_mean,eval_return_mean\n1,100,5,\n2,200,6,40.5\n3,300,,\n4,400,7,52\n"
                .write(to: file, atomically: false, encoding: .utf8)
            let curve = try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps, y: .evaluation)
            #expect(curve.points == [CurvePoint(x: 200, y: 40.5), CurvePoint(x: 400, y: 52)])
            try "iteration,timesteps,episode_return_mean\n1,100,5\n".write(to: file, atomically: false, encoding: .utf8)
            #expect(throws: PlotError.missingColumn("eval_return_mean", source: file.path)) {
                try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps, y: .evaluation)
            }
        }
    }

    /// `--smooth K`: each point the trailing mean of the last K, weighted by the episodes
    /// behind each (so the mean return of the episodes that ended in those iterations); every
    /// x is kept; a negative episode count is refused naming it.
    @Test func smoothingIsATrailingMeanWeightedByEpisodes() throws {
        try Self.withTemporaryDirectory { root in
            let file = root.appendingPathComponent("progress.csv")
            try "iteration,timesteps,episode_return_mean,episodes\n1,100,-20,1\n2,200,,0\n3,300,-10,3\n4,400,0,1\n5,500,8,4\n"
                .write(to: file, atomically: false, encoding: .utf8)
            let raw = try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps)
            let curve = try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps, smoothing: 2)
            #expect(curve.points.map(\.x) == raw.points.map(\.x))
            // -20 alone; (-20·1 + -10·3)/4; (-10·3 + 0·1)/4; (0·1 + 8·4)/5.
            #expect(curve.points.map(\.y) == [-20, -12.5, -7.5, 6.4])
            #expect(try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps, smoothing: 1) == raw)

            // Without an episodes column every point weighs 1.
            let plain = LearningCurve(name: "p", points: [CurvePoint(x: 1, y: 1), CurvePoint(x: 2, y: 3), CurvePoint(x: 3, y: 8)])
            #expect(plain.smoothed(window: 3).points.map(\.y) == [1, 2, 4])
            #expect(plain.smoothed(window: 2, weights: [1, 0, 1]).points.map(\.y) == [1, 1, 8])

            try "iteration,timesteps,episode_return_mean,episodes\n1,100,-20,-2\n".write(to: file, atomically: false, encoding: .utf8)
            #expect(throws: PlotError.invalidNumber(source: file.path, line: 2, column: "episodes", text: "-2")) {
                try ProgressCurves.learningCurve(runDirectory: root, x: .timesteps, smoothing: 3)
            }
        }
    }

    @Test func xAxisChoices() throws {
        #expect(try ProgressXAxis(validating: "timesteps") == .timesteps)
        #expect(try ProgressXAxis(validating: "wall") == .wall)
        #expect(try ProgressXAxis(validating: "iteration") == .iteration)
        #expect(throws: PlotError.invalidXAxis("steps")) { try ProgressXAxis(validating: "steps") }
        #expect(PlotError.invalidXAxis("steps").description == "invalid x axis 'steps': expected 'timesteps', 'wall' or 'iteration'")
    }
}
