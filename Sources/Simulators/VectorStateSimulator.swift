import Core

/// A simulator whose whole state is its ``Simulator/state`` vector (the classic-control
/// environments but MountainCarContinuous, whose snapshot also records the state's
/// precision): ``Simulator/setState(_:)``, ``Simulator/snapshot()`` and
/// ``Simulator/restore(_:)`` all come down to assigning that vector.
protocol VectorStateSimulator: Simulator {
    /// The length of ``Simulator/state``.
    static var stateCount: Int { get }
    /// Sets the state variables from `values` (``stateCount`` of them, in the order of
    /// ``Simulator/state``) and the step counter.
    func assign(_ values: [Double], elapsedSteps: Int)
}

extension VectorStateSimulator {
    public func setState(_ state: [Double]) throws(SimulatorError) {
        try checkState(state, count: Self.stateCount)
        assign(state, elapsedSteps: 0)
    }

    /// Values: the state.
    public func snapshot() -> SimulatorSnapshot {
        SimulatorSnapshot(values: state, elapsedSteps: elapsedSteps)
    }

    public func restore(_ snapshot: SimulatorSnapshot) {
        precondition(snapshot.values.count == Self.stateCount, "not a \(id) snapshot")
        assign(snapshot.values, elapsedSteps: snapshot.elapsedSteps)
    }
}
