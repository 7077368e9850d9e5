import Core

/// Gymnasium's `Hopper-v4`: make a planar one-legged robot hop forward (MuJoCo model
/// `Models/Hopper.xml`).
///
/// - State: `qpos` (6: x, z, torso pitch, thigh, leg and foot angles) followed by `qvel` (6).
/// - Observation (11, float64): `qpos[1...]` and `qvel` clipped to [-10, 10].
/// - Actions: `Box(-1, 1, (3,), float32)`: torques on the three joints (gear 200), rounded to
///   float32; MuJoCo clamps them to [-1, 1].
/// - Dynamics: 4 MuJoCo steps of 0.002 s (RK4) per environment step, dt = 0.008 s.
/// - Reward: `(x' - x) / dt + 1 - 0.001 |a|²` (the control cost in float32, of the unclipped
///   action). The healthy reward 1 is paid on every step, including the terminating one
///   (v4's `healthy_reward` with `terminate_when_unhealthy`).
/// - Termination: unhealthy, i.e. not all of `qpos[2...]` and `qvel` in (-100, 100), or
///   z ≤ 0.7, or |pitch| ≥ 0.2; or a MuJoCo fault (see ``lastTerminationReason``).
///   Time limit 1000 steps.
/// - Reset: `qpos0 = [0, 1.25, 0, 0, 0, 0]` and zero velocity, each component plus uniform
///   noise in [-0.005, 0.005).
public final class Hopper: LocomotionSimulator {
    public static let environmentID = "Hopper-v4"

    /// A simulator in the model's initial state (`qpos0`, at rest).
    public convenience init() {
        try! self.init(model: .builtIn("Hopper"))
    }

    /// A simulator over a custom model with the same joints and actuators as the built-in
    /// one (for example other masses, lengths or friction); rewards, observations and
    /// termination keep this environment's conventions.
    /// - Throws: ``MuJoCoModelError`` when the model's dimensions differ from the built-in's.
    public init(model: MuJoCoModel) throws(MuJoCoModelError) {
        try super.init(id: Self.environmentID, builtIn: "Hopper", model: model, frameSkip: 4,
                       controlCostWeight: 1e-3, positionsSkipped: 1, velocityClip: 10,
                       healthyReward: 1.0, resetNoise: 5e-3)
    }

    /// v4's `is_healthy`: every state component after x and z in (-100, 100), the height in
    /// (0.7, ∞) and the pitch in (-0.2, 0.2), all strict (NaN is unhealthy).
    override var isHealthy: Bool {
        let data = core.data
        for i in 2..<6 where !(-100 < data.position(i) && data.position(i) < 100) { return false }
        for i in 0..<6 where !(-100 < data.velocity(i) && data.velocity(i) < 100) { return false }
        let z = data.position(1), angle = data.position(2)
        return 0.7 < z && z < .infinity && -0.2 < angle && angle < 0.2
    }
}
