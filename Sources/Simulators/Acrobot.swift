#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// Gymnasium's `Acrobot-v1`: swing a two-link chain, actuated at the middle joint, so its
/// tip rises a link's length above the fixed joint.
///
/// - State (`env.unwrapped.state`): `[theta1, theta2, dtheta1, dtheta2]`, angles in radians
///   (`theta1` from hanging straight down, `theta2` relative to the first link) and angular
///   velocities in radians per second. Gymnasium stores the reset state as float32 and every
///   later state as float64; the arithmetic is float64 either way, so only ``reset(using:)``
///   rounds.
/// - Observation (float32): `[cos θ1, sin θ1, cos θ2, sin θ2, dθ1, dθ2]`.
/// - Actions: `Discrete(3)`, torque `action - 1` N·m at the middle joint (no torque noise).
/// - Dynamics: Sutton & Barto's book equations (`book_or_nips="book"`), one classical RK4
///   step of 0.2 s; then angles wrapped into [-π, π] and velocities bounded by 4π and 9π.
/// - Reward: -1 per step, 0 on the terminating step.
/// - Termination: `-cos θ1 - cos(θ1 + θ2) > 1`; time limit 500 steps.
/// - Reset: every state component uniform in [-0.1, 0.1), rounded to float32.
public final class Acrobot: VectorStateSimulator {
    public static let environmentID = "Acrobot-v1"

    private static let dt = 0.2
    private static let maxVelocity1 = 4 * Double.pi
    private static let maxVelocity2 = 9 * Double.pi

    public var id: String { Self.environmentID }
    public let observationSpace: BoxSpace
    public let actionSpace = ActionSpace.discrete(count: 3)
    public let maxEpisodeSteps = 500
    public private(set) var elapsedSteps = 0

    private var s = State(theta1: 0, theta2: 0, dtheta1: 0, dtheta2: 0)
    private let pow = NumPy.pow  // shadows Glibc.pow on purpose: see NumPy.pow

    /// A simulator in the all-zero state; call ``reset(using:)`` or ``setState(_:)`` first.
    public init() {
        let high = [1, 1, 1, 1, Self.maxVelocity1, Self.maxVelocity2].map(NumPy.float32)
        observationSpace = BoxSpace(low: high.map { -$0 }, high: high)
    }

    public func reset(using random: inout RandomStream) {
        s.theta1 = NumPy.float32(random.uniform(-0.1, 0.1))
        s.theta2 = NumPy.float32(random.uniform(-0.1, 0.1))
        s.dtheta1 = NumPy.float32(random.uniform(-0.1, 0.1))
        s.dtheta2 = NumPy.float32(random.uniform(-0.1, 0.1))
        elapsedSteps = 0
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = NumPy.float32(cos(s.theta1))
        observation[1] = NumPy.float32(sin(s.theta1))
        observation[2] = NumPy.float32(cos(s.theta2))
        observation[3] = NumPy.float32(sin(s.theta2))
        observation[4] = NumPy.float32(s.dtheta1)
        observation[5] = NumPy.float32(s.dtheta2)
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let torque = Double(Int(action[0]) - 1)

        // Gymnasium's rk4 over t = [0, dt]; the torque rides along as a fifth, constant
        // component whose additions are exact.
        let h = Self.dt, h2 = h / 2.0
        let k1 = derivatives(s, torque)
        let k2 = derivatives(s + h2 * k1, torque)
        let k3 = derivatives(s + h2 * k2, torque)
        let k4 = derivatives(s + h * k3, torque)
        var next = s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)

        next.theta1 = Self.wrap(next.theta1)
        next.theta2 = Self.wrap(next.theta2)
        next.dtheta1 = min(max(next.dtheta1, -Self.maxVelocity1), Self.maxVelocity1)
        next.dtheta2 = min(max(next.dtheta2, -Self.maxVelocity2), Self.maxVelocity2)
        s = next
        elapsedSteps += 1

        let terminated = -cos(s.theta1) - cos(s.theta2 + s.theta1) > 1.0
        return StepOutcome(reward: terminated ? 0.0 : -1.0, terminated: terminated,
                           truncated: truncates(terminated: terminated))
    }

    public var state: [Double] { [s.theta1, s.theta2, s.dtheta1, s.dtheta2] }

    static let stateCount = 4

    func assign(_ v: [Double], elapsedSteps: Int) {
        s = State(theta1: v[0], theta2: v[1], dtheta1: v[2], dtheta2: v[3])
        self.elapsedSteps = elapsedSteps
    }

    /// The time derivative of the state under `torque` (Gymnasium's `_dsdt`, book variant).
    ///
    /// Link masses, lengths and moments of inertia are 1, centres of mass at 0.5, g = 9.8.
    /// Products with 1 are dropped (they are exact); sums keep Gymnasium's order, and
    /// squares of variables go through libm `pow` as NumPy's `**` does.
    private func derivatives(_ s: State, _ torque: Double) -> State {
        let (m2, l1, lc1, lc2, g) = (1.0, 1.0, 0.5, 0.5, 9.8)
        let m1 = 1.0, i1 = 1.0, i2 = 1.0
        let cos2 = cos(s.theta2)
        let sin2 = sin(s.theta2)
        let d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1 + lc2 * lc2) + 2 * l1 * lc2 * cos2) + i1 + i2
        let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2
        let phi2 = m2 * lc2 * g * cos(s.theta1 + s.theta2 - Double.pi / 2.0)
        let swing2 = -m2 * l1 * lc2 * pow(s.dtheta2, 2) * sin2
        let coriolis = 2 * m2 * l1 * lc2 * s.dtheta2 * s.dtheta1 * sin2
        let gravity1 = (m1 * lc1 + m2 * l1) * g * cos(s.theta1 - Double.pi / 2)
        let phi1 = swing2 - coriolis + gravity1 + phi2
        let numerator = torque + d2 / d1 * phi1 - m2 * l1 * lc2 * pow(s.dtheta1, 2) * sin2 - phi2
        let ddtheta2 = numerator / (m2 * (lc2 * lc2) + i2 - pow(d2, 2) / d1)
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return State(theta1: s.dtheta1, theta2: s.dtheta2, dtheta1: ddtheta1, dtheta2: ddtheta2)
    }

    /// Gymnasium's `wrap(x, -π, π)`: shifts by whole turns until `x` lies in [-π, π].
    private static func wrap(_ x: Double) -> Double {
        let diff = Double.pi - -Double.pi
        var x = x
        while x > Double.pi { x = x - diff }
        while x < -Double.pi { x = x + diff }
        return x
    }

    /// The state, or its time derivative, with NumPy's element-wise vector arithmetic.
    private struct State {
        var theta1, theta2, dtheta1, dtheta2: Double

        static func + (a: State, b: State) -> State {
            State(theta1: a.theta1 + b.theta1, theta2: a.theta2 + b.theta2,
                  dtheta1: a.dtheta1 + b.dtheta1, dtheta2: a.dtheta2 + b.dtheta2)
        }

        static func * (k: Double, a: State) -> State {
            State(theta1: k * a.theta1, theta2: k * a.theta2, dtheta1: k * a.dtheta1, dtheta2: k * a.dtheta2)
        }
    }
}
