import Core

/// Gymnasium's `HalfCheetah-v4`: make a planar two-legged "cheetah" run forward (MuJoCo model
/// `Models/HalfCheetah.xml`).
///
/// - State: `qpos` (9: x, z, torso pitch, then thigh, shin and foot angles of the back and
///   the front leg) followed by `qvel` (9).
/// - Observation (17, float64): `qpos[1...]` and `qvel` (not clipped).
/// - Actions: `Box(-1, 1, (6,), float32)`: torques on the six joints (gears 120, 90, 60,
///   120, 60, 30), rounded to float32; MuJoCo clamps them to [-1, 1].
/// - Dynamics: 5 MuJoCo steps of 0.01 s (semi-implicit Euler) per environment step,
///   dt = 0.05 s.
/// - Reward: `(x' - x) / dt - 0.1 |a|²` (the control cost in float32, of the unclipped
///   action).
/// - Termination: none, except a MuJoCo fault (see ``lastTerminationReason``). Time limit
///   1000 steps.
/// - Reset: `qpos` zero plus uniform noise in [-0.1, 0.1) per component; `qvel` 0.1 times
///   standard normal noise.
public final class HalfCheetah: LocomotionSimulator {
    public static let environmentID = "HalfCheetah-v4"

    /// A simulator in the model's initial state (`qpos0`, at rest).
    public convenience init() {
        try! self.init(model: .builtIn("HalfCheetah"))
    }

    /// A simulator over a custom model with the same joints and actuators as the built-in
    /// one (for example other masses, lengths or friction); rewards, observations and
    /// termination keep this environment's conventions.
    /// - Throws: ``MuJoCoModelError`` when the model's dimensions differ from the built-in's.
    public init(model: MuJoCoModel) throws(MuJoCoModelError) {
        try super.init(id: Self.environmentID, builtIn: "HalfCheetah", model: model, frameSkip: 5,
                       controlCostWeight: 0.1, positionsSkipped: 1, velocityClip: nil,
                       healthyReward: 0, resetNoise: 0.1)
    }

    /// HalfCheetah's reset: uniform noise on `qpos`, Gaussian noise on `qvel`.
    public override func reset(using random: inout RandomStream) {
        let noise = resetNoise
        core.reset { qpos, qvel in
            for i in qpos.indices { qpos[i] += random.uniform(-noise, noise) }
            for i in qvel.indices { qvel[i] += noise * random.normal() }
        }
    }
}
