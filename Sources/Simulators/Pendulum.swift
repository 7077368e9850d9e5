#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// Gymnasium's `Pendulum-v1`: swing a pendulum up and hold it upright with a bounded torque.
///
/// - State (`env.unwrapped.state`, float64): `[theta, thetadot]`, radians from upright (not
///   wrapped) and radians per second.
/// - Observation (float32): `[cos θ, sin θ, θ̇]`.
/// - Actions: `Box(-2, 2, (1,), float32)`, the torque in N·m. The action is taken as the
///   float32 value Gymnasium's action space holds (the buffer's `Double` is rounded to
///   `Float`) and clipped to [-2, 2]; the torque terms are then evaluated in float32, as
///   NumPy does for a float32 action.
/// - Dynamics (g = 10, m = l = 1, dt = 0.05 s): `θ̇ += (15 sin θ + 3u) dt`, clipped to ±8,
///   then `θ += θ̇ dt` (semi-implicit Euler).
/// - Reward: `-(normalize(θ)² + 0.1 θ̇² + 0.001 u²)` with the state before the step and the
///   clipped torque; `normalize` maps θ into [-π, π).
/// - Never terminates; time limit 200 steps.
/// - Reset: θ uniform in [-π, π), θ̇ uniform in [-1, 1).
public final class Pendulum: VectorStateSimulator {
    public static let environmentID = "Pendulum-v1"

    private static let maxSpeed = 8.0
    private static let maxTorque: Float = 2
    private static let dt = 0.05
    private static let g = 10.0, m = 1.0, l = 1.0

    public var id: String { Self.environmentID }
    public let observationSpace = BoxSpace(
        low: [-1, -1, -maxSpeed].map(NumPy.float32), high: [1, 1, maxSpeed].map(NumPy.float32))
    public let actionSpace = ActionSpace.box(low: [-Double(maxTorque)], high: [Double(maxTorque)])
    public let maxEpisodeSteps = 200
    public private(set) var elapsedSteps = 0

    private var theta = 0.0
    private var thetaDot = 0.0
    private let pow = NumPy.pow  // shadows Glibc.pow on purpose: see NumPy.pow
    private let powf = NumPy.powf  // shadows Glibc.powf on purpose

    /// A simulator in the all-zero state; call ``reset(using:)`` or ``setState(_:)`` first.
    public init() {}

    public func reset(using random: inout RandomStream) {
        theta = random.uniform(-Double.pi, Double.pi)
        thetaDot = random.uniform(-1, 1)
        elapsedSteps = 0
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = NumPy.float32(cos(theta))
        observation[1] = NumPy.float32(sin(theta))
        observation[2] = NumPy.float32(thetaDot)
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let u = min(max(Float(action[0]), -Self.maxTorque), Self.maxTorque)
        // A Python float times a float32 scalar is a float32 product (NEP 50).
        let torqueCost = Float(0.001 as Double) * powf(u, 2)
        let costs = pow(Self.normalize(theta), 2) + 0.1 * pow(thetaDot, 2) + Double(torqueCost)

        let torqueTerm = Float(3.0 / (Self.m * Self.l * Self.l)) * u
        let gravityTerm = 3 * Self.g / (2 * Self.l) * sin(theta)
        var newThetaDot = thetaDot + (gravityTerm + Double(torqueTerm)) * Self.dt
        newThetaDot = min(max(newThetaDot, -Self.maxSpeed), Self.maxSpeed)
        theta = theta + newThetaDot * Self.dt
        thetaDot = newThetaDot
        elapsedSteps += 1

        return StepOutcome(reward: -costs, terminated: false, truncated: truncates(terminated: false))
    }

    public var state: [Double] { [theta, thetaDot] }

    static let stateCount = 2

    func assign(_ v: [Double], elapsedSteps: Int) {
        (theta, thetaDot) = (v[0], v[1])
        self.elapsedSteps = elapsedSteps
    }

    /// Gymnasium's `angle_normalize`: `((x + π) mod 2π) - π`, with NumPy's floored modulo.
    private static func normalize(_ x: Double) -> Double {
        NumPy.remainder(x + Double.pi, 2 * Double.pi) - Double.pi
    }
}
