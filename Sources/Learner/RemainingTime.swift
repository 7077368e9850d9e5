/// The time a run has left, at the rate of its recent iterations.
///
/// The rate is the median of the seconds per step of the last ``window`` iterations recorded,
/// each measured between consecutive records, so a resumed run's earlier wall time (spent
/// perhaps on another machine) never counts, and a pause (a stopped process, a machine busy
/// with other work) inflates one iteration, which the median passes over. With one iteration
/// recorded it is the run's overall rate, steps over wall seconds since the run began.
public struct RemainingTime: Sendable {
    /// Iterations the rate is measured over.
    public static let window = 20
    /// (steps, wall seconds) of the recent iterations, oldest first.
    private var marks: [(steps: Int, wall: Double)] = []

    public init() {}

    /// Records an iteration that ended at `steps` after `wall` seconds of the run.
    public mutating func record(steps: Int, wall: Double) {
        marks.append((steps, wall))
        marks.removeFirst(max(0, marks.count - Self.window - 1))
    }

    /// Seconds until `totalSteps` at the recent rate (0 once reached).
    public func seconds(toReach totalSteps: Int) -> Double {
        guard let last = marks.last else { return 0 }
        let points = marks.count > 1 ? marks : [(steps: 0, wall: 0)] + marks
        let secondsPerStep = zip(points, points.dropFirst())
            .map { a, b in max(0, b.wall - a.wall) / Double(max(b.steps - a.steps, 1)) }.sorted()
        let middle = secondsPerStep.count / 2
        let median = secondsPerStep.count % 2 == 1 ? secondsPerStep[middle] : (secondsPerStep[middle - 1] + secondsPerStep[middle]) / 2
        return Double(max(0, totalSteps - last.steps)) * median
    }
}
