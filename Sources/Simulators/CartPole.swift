#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// Gymnasium's `CartPole-v1`: balance a pole on a cart by pushing the cart left or right.
///
/// - State (`env.unwrapped.state`, float64): `[x, x_dot, theta, theta_dot]` in metres,
///   metres per second, radians (0 is upright) and radians per second.
/// - Observation: the state rounded to float32.
/// - Actions: `Discrete(2)`; 0 pushes left and 1 pushes right with 10 N.
/// - Dynamics: Barto, Sutton & Anderson's equations with explicit Euler steps of 0.02 s
///   (Gymnasium's default `kinematics_integrator="euler"`).
/// - Reward: +1 for every step, including the terminating one (`sutton_barto_reward=False`).
///   Steps after termination are outside the contract (Gymnasium then returns 0).
/// - Termination: `|x| > 2.4` or `|theta| > 12°`; time limit 500 steps.
/// - Reset: every state component uniform in [-0.05, 0.05).
public final class CartPole: VectorStateSimulator {
    public static let environmentID = "CartPole-v1"

    // Physical constants, combined in the order Gymnasium combines them.
    private static let gravity = 9.8
    private static let massCart = 1.0
    private static let massPole = 0.1
    private static let totalMass = massPole + massCart
    private static let length = 0.5  // half the pole's length
    private static let poleMassLength = massPole * length
    private static let forceMagnitude = 10.0
    private static let tau = 0.02  // seconds per step
    private static let thetaThreshold = 12 * 2 * Double.pi / 360
    private static let xThreshold = 2.4

    public var id: String { Self.environmentID }
    public let observationSpace: BoxSpace
    public let actionSpace = ActionSpace.discrete(count: 2)
    public let maxEpisodeSteps = 500
    public private(set) var elapsedSteps = 0

    private var x = 0.0
    private var xDot = 0.0
    private var theta = 0.0
    private var thetaDot = 0.0

    /// A simulator in the all-zero state; call ``reset(using:)`` or ``setState(_:)`` first.
    public init() {
        let high = [Self.xThreshold * 2, .infinity, Self.thetaThreshold * 2, .infinity].map(NumPy.float32)
        observationSpace = BoxSpace(low: high.map { -$0 }, high: high)
    }

    public func reset(using random: inout RandomStream) {
        x = random.uniform(-0.05, 0.05)
        xDot = random.uniform(-0.05, 0.05)
        theta = random.uniform(-0.05, 0.05)
        thetaDot = random.uniform(-0.05, 0.05)
        elapsedSteps = 0
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        observation[0] = NumPy.float32(x)
        observation[1] = NumPy.float32(xDot)
        observation[2] = NumPy.float32(theta)
        observation[3] = NumPy.float32(thetaDot)
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let force = Int(action[0]) == 1 ? Self.forceMagnitude : -Self.forceMagnitude
        let cosTheta = cos(theta)
        let sinTheta = sin(theta)
        let temp = (force + Self.poleMassLength * (thetaDot * thetaDot) * sinTheta) / Self.totalMass
        let inertia = Self.length * (4.0 / 3.0 - Self.massPole * (cosTheta * cosTheta) / Self.totalMass)
        let thetaAcc = (Self.gravity * sinTheta - cosTheta * temp) / inertia
        let xAcc = temp - Self.poleMassLength * thetaAcc * cosTheta / Self.totalMass

        x = x + Self.tau * xDot
        xDot = xDot + Self.tau * xAcc
        theta = theta + Self.tau * thetaDot
        thetaDot = thetaDot + Self.tau * thetaAcc
        elapsedSteps += 1

        let terminated = x < -Self.xThreshold || x > Self.xThreshold
            || theta < -Self.thetaThreshold || theta > Self.thetaThreshold
        return StepOutcome(reward: 1.0, terminated: terminated, truncated: truncates(terminated: terminated))
    }

    public var state: [Double] { [x, xDot, theta, thetaDot] }

    static let stateCount = 4

    func assign(_ v: [Double], elapsedSteps: Int) {
        (x, xDot, theta, thetaDot) = (v[0], v[1], v[2], v[3])
        self.elapsedSteps = elapsedSteps
    }
}
