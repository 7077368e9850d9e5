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
public final class Swimmer: LocomotionSimulator {
    public static let environmentID = "Swimmer-v4"

    /// A simulator in the model's initial state (`qpos0`, at rest).
    public convenience init() {
        try! self.init(model: .builtIn("Swimmer"))
    }

    /// A simulator over a custom model with the same joints and actuators as the built-in
    /// one (for example other masses, lengths or friction); rewards, observations and
    /// termination keep this environment's conventions.
    /// - Throws: ``MuJoCoModelError`` when the model's dimensions differ from the built-in's.
    public init(model: MuJoCoModel) throws(MuJoCoModelError) {
        try super.init(id: Self.environmentID, builtIn: "Swimmer", model: model, frameSkip: 4,
                       controlCostWeight: 1e-4, positionsSkipped: 2, velocityClip: nil,
                       healthyReward: 0, resetNoise: 0.1)
    }
}
