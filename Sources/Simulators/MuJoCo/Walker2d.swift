import Core

/// Gymnasium's `Walker2d-v4`: make a planar biped walk forward (MuJoCo model
/// `Models/Walker2d.xml`).
///
/// - State: `qpos` (9: x, z, torso pitch, then thigh, leg and foot angles of the right and
///   the left leg) followed by `qvel` (9).
/// - Observation (17, float64): `qpos[1...]` and `qvel` clipped to [-10, 10].
/// - Actions: `Box(-1, 1, (6,), float32)`: torques on the six joints (gear 100), rounded to
///   float32; MuJoCo clamps them to [-1, 1].
/// - Dynamics: 4 MuJoCo steps of 0.002 s (RK4) per environment step, dt = 0.008 s.
/// - Reward: `(x' - x) / dt + 1 - 0.001 |a|²` (the control cost in float32, of the unclipped
///   action); the healthy reward 1 is also paid on the terminating step, as in v4.
/// - Termination: unhealthy, i.e. z ∉ (0.8, 2) or pitch ∉ (-1, 1); or a MuJoCo fault (see
///   ``lastTerminationReason``). Time limit 1000 steps.
/// - Reset: `qpos0 = [0, 1.25, 0, …]` and zero velocity, each component plus uniform noise
///   in [-0.005, 0.005).
public final class Walker2d: LocomotionSimulator {
    public static let environmentID = "Walker2d-v4"

    /// A simulator in the model's initial state (`qpos0`, at rest).
    public convenience init() {
        try! self.init(model: .builtIn("Walker2d"))
    }

    /// A simulator over a custom model with the same joints and actuators as the built-in
    /// one (for example other masses, lengths or friction); rewards, observations and
    /// termination keep this environment's conventions.
    /// - Throws: ``MuJoCoModelError`` when the model's dimensions differ from the built-in's.
    public init(model: MuJoCoModel) throws(MuJoCoModelError) {
        try super.init(id: Self.environmentID, builtIn: "Walker2d", model: model, frameSkip: 4,
                       controlCostWeight: 1e-3, positionsSkipped: 1, velocityClip: 10,
                       healthyReward: 1.0, resetNoise: 5e-3)
    }

    /// v4's `is_healthy`: height in (0.8, 2) and pitch in (-1, 1), strict.
    override var isHealthy: Bool {
        let z = core.data.position(1), angle = core.data.position(2)
        return 0.8 < z && z < 2 && -1 < angle && angle < 1
    }
}
