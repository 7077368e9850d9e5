import Core

/// Why a MuJoCo simulator's episode ended.
public enum TerminationReason: Sendable, Hashable, CustomStringConvertible {
    /// The environment's own rule: the body left its healthy range (Hopper, Walker2d).
    case unhealthy
    /// MuJoCo reported a fault during the step (for example a NaN or huge velocity, after
    /// which MuJoCo 2.2.2 resets its data by itself). The step's reward is only the control
    /// cost; the observation shows whatever state MuJoCo left.
    case simulationFault(MuJoCoWarning)

    public var description: String {
        switch self {
        case .unhealthy: "unhealthy"
        case .simulationFault(let warning): "MuJoCo: \(warning)"
        }
    }
}

/// A simulator backed by a MuJoCo model.
public protocol MuJoCoSimulator: Simulator {
    /// The shared compiled model.
    var model: MuJoCoModel { get }
    /// Why the last step terminated the episode; nil if it did not, and after a reset,
    /// ``Simulator/setState(_:)`` or ``Simulator/restore(_:)``.
    var lastTerminationReason: TerminationReason? { get }
    /// The number of contacts MuJoCo found in the last step (`mjData.ncon`; not updated by
    /// ``Simulator/restore(_:)``), for diagnostics and tests.
    var contactCount: Int { get }
}

/// What Gymnasium's v4 locomotion environments share (`MujocoEnv`): a model, frame skip,
/// float32 controls, progress along x over the frame-skipped step, the control cost, the step
/// count, and the state and snapshot layouts.
///
/// - State (`Simulator.state`): `qpos` followed by `qvel`, as `state_vector()` returns them.
/// - Snapshot values: `time, qpos, qvel, act, qacc_warmstart, ctrl` (see
///   ``MuJoCoData/snapshotValues()``).
final class Locomotion {
    let data: MuJoCoData
    let frameSkip: Int
    /// Seconds per environment step: `timestep * frame_skip`, as Gymnasium computes `dt`.
    let dt: Double
    private let controlCostWeight: Float
    private(set) var elapsedSteps = 0
    var lastTerminationReason: TerminationReason?

    /// Throws unless `model` has the reference model's numbers of positions, velocities and
    /// actuators (the layout every observation and reward index assumes).
    static func checkCompatible(_ model: MuJoCoModel, with reference: MuJoCoModel) throws(MuJoCoModelError) {
        guard model.nq == reference.nq, model.nv == reference.nv, model.nu == reference.nu else {
            throw MuJoCoModelError(model: model.name, message: "has nq=\(model.nq), nv=\(model.nv), nu=\(model.nu); "
                + "\(reference.name) needs nq=\(reference.nq), nv=\(reference.nv), nu=\(reference.nu)")
        }
    }

    init(model: MuJoCoModel, frameSkip: Int, controlCostWeight: Double) {
        data = MuJoCoData(model: model)
        self.frameSkip = frameSkip
        dt = model.timestep * Double(frameSkip)
        self.controlCostWeight = Float(controlCostWeight)
        data.reset { _, _ in }
    }

    /// What one frame-skipped step did.
    struct Transition {
        /// `(x_after - x_before) / dt` with x = `qpos[0]`.
        var xVelocity: Double
        /// `weight * sum(square(action))`, evaluated in float32 as NumPy does for Gymnasium's
        /// float32 actions (NumPy 2 keeps a float32 scalar times a Python float in float32).
        var controlCost: Double
        /// The fault that cut the step short, if any.
        var fault: MuJoCoWarning?
    }

    /// Sets the controls and advances `frameSkip` timesteps; counts the step.
    @inline(__always)
    func advance(_ action: UnsafeBufferPointer<Double>) -> Transition {
        let xBefore = data.position(0)
        data.setControls(action)
        let fault = data.step(frames: frameSkip)
        let xAfter = data.position(0)
        elapsedSteps += 1

        var sumOfSquares: Float = 0
        for a in action {
            let a32 = Float(a)
            sumOfSquares += a32 * a32
        }
        let controlCost = Double(controlCostWeight * sumOfSquares)
        return Transition(xVelocity: (xAfter - xBefore) / dt, controlCost: controlCost, fault: fault)
    }

    /// The outcome of a step that MuJoCo cut short: terminated, with the control cost as the
    /// only reward, and the fault recorded.
    func faulted(_ fault: MuJoCoWarning, _ transition: Transition) -> StepOutcome {
        lastTerminationReason = .simulationFault(fault)
        return StepOutcome(reward: -transition.controlCost, terminated: true, truncated: false)
    }

    /// The outcome of a completed step; `terminated` steps record `reason`.
    func outcome(reward: Double, terminated: Bool, reason: TerminationReason = .unhealthy,
                 maxEpisodeSteps: Int) -> StepOutcome {
        lastTerminationReason = terminated ? reason : nil
        return StepOutcome(reward: reward, terminated: terminated,
                           truncated: !terminated && elapsedSteps >= maxEpisodeSteps)
    }

    /// Starts an episode: MuJoCo's initial state (`qpos0`, zero velocity) perturbed by
    /// `perturb`, as Gymnasium's `reset()` and `reset_model()` do.
    func reset(perturb: (_ qpos: UnsafeMutableBufferPointer<Double>, _ qvel: UnsafeMutableBufferPointer<Double>) -> Void) {
        data.reset(perturb: perturb)
        elapsedSteps = 0
        lastTerminationReason = nil
    }

    var state: [Double] { data.state }

    func setState(_ state: [Double]) throws(SimulatorError) {
        try data.setState(state)
        elapsedSteps = 0
        lastTerminationReason = nil
    }

    func snapshot() -> SimulatorSnapshot {
        SimulatorSnapshot(values: data.snapshotValues(), elapsedSteps: elapsedSteps)
    }

    func restore(_ snapshot: SimulatorSnapshot) {
        data.restore(snapshot.values)
        elapsedSteps = snapshot.elapsedSteps
        lastTerminationReason = nil
    }

    /// `Box(-1, 1, (nu,), float32)` from the model's control ranges (all [-1, 1] here).
    var actionSpace: ActionSpace {
        let ranges = data.model.controlRange
        return .box(low: ranges.map { Double(Float($0.lowerBound)) }, high: ranges.map { Double(Float($0.upperBound)) })
    }

    /// An unbounded float64 observation space of `count` values.
    static func observationSpace(count: Int) -> BoxSpace {
        BoxSpace(low: Array(repeating: -.infinity, count: count), high: Array(repeating: .infinity, count: count),
                 dtype: .float64)
    }
}
