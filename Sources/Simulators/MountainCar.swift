#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// Gymnasium's `MountainCar-v0`: drive an underpowered car up the right hill of a valley.
///
/// - State (`env.unwrapped.state`, float64): `[position, velocity]`, position in [-1.2, 0.6],
///   velocity in [-0.07, 0.07] (units per step).
/// - Observation: the state rounded to float32.
/// - Actions: `Discrete(3)`: accelerate left, don't accelerate, accelerate right
///   (`(action - 1) * 0.001`); gravity adds `-0.0025 cos(3 position)`.
/// - Dynamics: velocity updated and clipped first, then position; at the left wall a
///   leftward velocity becomes 0.
/// - Reward: -1 per step.
/// - Termination: `position >= 0.5` with `velocity >= 0`; time limit 200 steps.
/// - Reset: position uniform in [-0.6, -0.4), velocity 0.
public final class MountainCar: VectorStateSimulator {
    public static let environmentID = "MountainCar-v0"

    private static let minPosition = -1.2
    private static let maxPosition = 0.6
    private static let maxSpeed = 0.07
    private static let goalPosition = 0.5
    private static let force = 0.001
    private static let gravity = 0.0025

    public var id: String { Self.environmentID }
    public let observationSpace = BoxSpace(
        low: [minPosition, -maxSpeed].map(NumPy.float32),
        high: [maxPosition, maxSpeed].map(NumPy.float32))
    public let actionSpace = ActionSpace.discrete(count: 3)
    public let maxEpisodeSteps = 200
    public private(set) var elapsedSteps = 0

    private var position = 0.0
    private var velocity = 0.0

    /// A simulator in the all-zero state; call ``reset(using:)`` or ``setState(_:)`` first.
    public init() {}

    public func reset(using random: inout RandomStream) {
        position = random.uniform(-0.6, -0.4)
        velocity = 0
        elapsedSteps = 0
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = NumPy.float32(position)
        observation[1] = NumPy.float32(velocity)
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let push = Double(Int(action[0]) - 1) * Self.force
        velocity = velocity + (push + cos(3 * position) * -Self.gravity)
        velocity = min(max(velocity, -Self.maxSpeed), Self.maxSpeed)
        position = position + velocity
        position = min(max(position, Self.minPosition), Self.maxPosition)
        if position == Self.minPosition && velocity < 0 { velocity = 0 }
        elapsedSteps += 1

        let terminated = position >= Self.goalPosition && velocity >= 0
        return StepOutcome(reward: -1.0, terminated: terminated, truncated: truncates(terminated: terminated))
    }

    public var state: [Double] { [position, velocity] }

    static let stateCount = 2

    func assign(_ v: [Double], elapsedSteps: Int) {
        (position, velocity) = (v[0], v[1])
        self.elapsedSteps = elapsedSteps
    }
}
