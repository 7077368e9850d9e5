#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// Gymnasium's `MountainCarContinuous-v0`: `MountainCar` with a continuous engine force.
///
/// - State (`env.unwrapped.state`): `[position, velocity]`, position in [-1.2, 0.6],
///   velocity in [-0.07, 0.07].
/// - Observation: the state rounded to float32.
/// - Actions: `Box(-1, 1, (1,), float32)`. The action is taken as the float32 value
///   Gymnasium's action space holds (the buffer's `Double` is rounded to `Float`); the force
///   is the action clipped to [-1, 1], times 0.0015.
/// - Reward: 100 on reaching the goal, minus `0.1 a²` of the *unclipped* action every step.
/// - Termination: `position >= 0.45` with `velocity >= 0`; time limit 999 steps.
/// - Reset: position uniform in [-0.6, -0.4), velocity 0.
///
/// Precision follows Gymnasium exactly, which is uneven: `reset` (and ``setState(_:)``, which
/// acts like assigning a float64 array to `env.unwrapped.state`) leaves a float64 state,
/// every step stores a float32 state, and NumPy evaluates a step in the precision of the
/// stored state, except that an in-range float32 force makes the velocity increment a
/// float32 value and clipping substitutes Python floats (see ``step(_:)``). The snapshot
/// therefore records which precision the state has.
public final class MountainCarContinuous: Simulator {
    public static let environmentID = "MountainCarContinuous-v0"

    private static let minPosition = -1.2
    private static let maxPosition = 0.6
    private static let maxSpeed = 0.07
    private static let goalPosition = 0.45
    private static let power = 0.0015

    public var id: String { Self.environmentID }
    public let observationSpace = BoxSpace(
        low: [minPosition, -maxSpeed].map(NumPy.float32),
        high: [maxPosition, maxSpeed].map(NumPy.float32))
    public let actionSpace = ActionSpace.box(low: [-1], high: [1])
    public let maxEpisodeSteps = 999
    public private(set) var elapsedSteps = 0

    private var position = 0.0
    private var velocity = 0.0
    /// Whether Gymnasium would hold the state in a float32 array (after a step) rather than a
    /// float64 one (after a reset or an assignment).
    private var stateIsFloat32 = false
    private let pow = NumPy.pow  // shadows Glibc.pow on purpose: see NumPy.pow

    /// A simulator in the all-zero state; call ``reset(using:)`` or ``setState(_:)`` first.
    public init() {}

    public func reset(using random: inout RandomStream) {
        position = random.uniform(-0.6, -0.4)
        velocity = 0
        stateIsFloat32 = false
        elapsedSteps = 0
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = NumPy.float32(position)
        observation[1] = NumPy.float32(velocity)
    }

    /// One step, reproducing NumPy's mixed precision (NEP 50: a Python float meeting a
    /// NumPy scalar takes the scalar's type; comparisons too).
    ///
    /// - `force * power`: a float32 product for an in-range action; for a clipped one
    ///   `min`/`max` return the Python float ±1.0, so the product is a Python float.
    /// - `0.0025 * math.cos(3 * position)`: a Python float (`3 * position` in the state's
    ///   precision).
    /// - Their difference, the velocity increment, is float32 if the force term is.
    /// - Velocity, position and their clipping and comparisons run in the state's precision.
    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let a = Float(action[0])
        let slope = stateIsFloat32 ? Double(3 * Float(position)) : 3 * position
        let gravityTerm = 0.0025 * cos(slope)
        let increment: Double =
            if a > 1 { 1.0 * Self.power - gravityTerm }
            else if a < -1 { -1.0 * Self.power - gravityTerm }
            else { Double(a * Float(Self.power) - Float(gravityTerm)) }

        let terminated = stateIsFloat32 ? stepFloat32(increment) : stepFloat64(increment)
        stateIsFloat32 = true
        elapsedSteps += 1

        var reward = terminated ? 100.0 : 0.0
        reward -= pow(Double(a), 2) * 0.1
        return StepOutcome(reward: reward, terminated: terminated, truncated: truncates(terminated: terminated))
    }

    /// The kinematics in float32, for a state Gymnasium holds as float32; stores float32
    /// values and returns whether the goal is reached.
    private func stepFloat32(_ increment: Double) -> Bool {
        let maxSpeed = Float(Self.maxSpeed)
        let minPosition = Float(Self.minPosition), maxPosition = Float(Self.maxPosition)
        var v = Float(velocity) + Float(increment)
        if v > maxSpeed { v = maxSpeed }
        if v < -maxSpeed { v = -maxSpeed }
        var p = Float(position) + v
        if p > maxPosition { p = maxPosition }
        if p < minPosition { p = minPosition }
        if p == minPosition && v < 0 { v = 0 }
        position = Double(p)
        velocity = Double(v)
        return p >= Float(Self.goalPosition) && v >= 0
    }

    /// The kinematics in float64, for a state Gymnasium holds as float64; stores the result
    /// rounded to float32, as Gymnasium's `np.array(..., dtype=np.float32)` does, and returns
    /// whether the goal is reached (judged before the rounding).
    private func stepFloat64(_ increment: Double) -> Bool {
        var v = velocity + increment
        if v > Self.maxSpeed { v = Self.maxSpeed }
        if v < -Self.maxSpeed { v = -Self.maxSpeed }
        var p = position + v
        if p > Self.maxPosition { p = Self.maxPosition }
        if p < Self.minPosition { p = Self.minPosition }
        if p == Self.minPosition && v < 0 { v = 0 }
        position = NumPy.float32(p)
        velocity = NumPy.float32(v)
        return p >= Self.goalPosition && v >= 0
    }

    public var state: [Double] { [position, velocity] }

    /// Sets a float64 state, as assigning `np.array(state)` to `env.unwrapped.state` does.
    public func setState(_ state: [Double]) throws(SimulatorError) {
        try checkState(state, count: 2)
        position = state[0]
        velocity = state[1]
        stateIsFloat32 = false
        elapsedSteps = 0
    }

    /// Values: `[position, velocity, 1 if the state is float32 else 0]`.
    public func snapshot() -> SimulatorSnapshot {
        SimulatorSnapshot(values: [position, velocity, stateIsFloat32 ? 1 : 0], elapsedSteps: elapsedSteps)
    }

    public func restore(_ snapshot: SimulatorSnapshot) {
        precondition(snapshot.values.count == 3, "not a MountainCarContinuous snapshot")
        position = snapshot.values[0]
        velocity = snapshot.values[1]
        stateIsFloat32 = snapshot.values[2] != 0
        elapsedSteps = snapshot.elapsedSteps
    }
}
