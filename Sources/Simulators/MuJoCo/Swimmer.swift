import Core

/// Gymnasium's `Swimmer-v4`: make a three-link chain swim forward in a viscous fluid (MuJoCo
/// model `Models/Swimmer.xml`).
///
/// - State: `qpos` (5: x, y, heading, two joint angles) followed by `qvel` (5).
/// - Observation (8, float64): `qpos[2...]` and `qvel`.
/// - Actions: `Box(-1, 1, (2,), float32)`: torques on the two joints (gear 150), rounded to
///   float32; MuJoCo clamps them to [-1, 1].
/// - Dynamics: 4 MuJoCo steps of 0.01 s (RK4) per environment step, dt = 0.04 s.
/// - Reward: `(x' - x) / dt - 0.0001 |a|²` (the control cost in float32, of the unclipped
///   action).
/// - Termination: none, except a MuJoCo fault (see ``lastTerminationReason``). Time limit
///   1000 steps.
/// - Reset: zero position and velocity, each component plus uniform noise in [-0.1, 0.1).
public final class Swimmer: MuJoCoSimulator {
    public static let environmentID = "Swimmer-v4"

    private static let frameSkip = 4
    private static let controlCostWeight = 1e-4
    private static let resetNoise = 0.1

    public var id: String { Self.environmentID }
    public let observationSpace = Locomotion.observationSpace(count: 8)
    public let actionSpace: ActionSpace
    public let maxEpisodeSteps = 1000
    public var elapsedSteps: Int { core.elapsedSteps }
    public var model: MuJoCoModel { core.data.model }
    public var lastTerminationReason: TerminationReason? { core.lastTerminationReason }
    public var contactCount: Int { core.data.contactCount }

    private let core: Locomotion

    /// A simulator in the model's initial state (`qpos0`, at rest).
    public convenience init() {
        try! self.init(model: .builtIn("Swimmer"))
    }

    /// A simulator over a custom model with the same joints and actuators as the built-in
    /// one (for example other masses, lengths or friction); rewards, observations and
    /// termination keep this environment's conventions.
    /// - Throws: ``MuJoCoModelError`` when the model's dimensions differ from the built-in's.
    public init(model: MuJoCoModel) throws(MuJoCoModelError) {
        try Locomotion.checkCompatible(model, with: .builtIn("Swimmer"))
        core = Locomotion(model: model, frameSkip: Self.frameSkip,
                          controlCostWeight: Self.controlCostWeight)
        actionSpace = core.actionSpace
    }

    public func reset(using random: inout RandomStream) {
        core.reset { qpos, qvel in
            for i in qpos.indices { qpos[i] += random.uniform(-Self.resetNoise, Self.resetNoise) }
            for i in qvel.indices { qvel[i] += random.uniform(-Self.resetNoise, Self.resetNoise) }
        }
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        let data = core.data
        for i in 2..<5 { observation[i - 2] = data.position(i) }
        for i in 0..<5 { observation[3 + i] = data.velocity(i) }
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let transition = core.advance(action)
        if let fault = transition.fault { return core.faulted(fault, transition) }
        let reward = 1.0 * transition.xVelocity - transition.controlCost
        return core.outcome(reward: reward, terminated: false, maxEpisodeSteps: maxEpisodeSteps)
    }

    public var state: [Double] { core.state }
    public func setState(_ state: [Double]) throws(SimulatorError) { try core.setState(state) }

    /// Values: time, qpos, qvel, qacc_warmstart and ctrl (the model has no activations).
    public func snapshot() -> SimulatorSnapshot { core.snapshot() }
    public func restore(_ snapshot: SimulatorSnapshot) { core.restore(snapshot) }
}
