/// The time a run has left, at the rate of its recent iterations.
///
/// The rate is the steps over the wall seconds between the oldest and the newest of the last
/// ``window`` + 1 iterations recorded, so a resumed run's earlier wall time (spent perhaps on
/// another machine) never counts, and a pause (a stopped process, a machine busy with other
/// work) leaves the estimate once ``window`` iterations have passed it. With one iteration
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
        let first = marks.count > 1 ? marks[0] : (steps: 0, wall: 0)
        return Double(max(0, totalSteps - last.steps)) / Double(max(last.steps - first.steps, 1))
            * max(0, last.wall - first.wall)
    }
}
