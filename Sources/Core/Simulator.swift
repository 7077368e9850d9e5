/// The action space of an environment.
public enum ActionSpace: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Actions are the integers `0..<count`.
    case discrete(count: Int)
    /// Actions are real vectors; `low` and `high` give each component's bounds.
    case box(low: [Double], high: [Double])

    /// The number of numbers one action occupies in an action buffer: 1 for a discrete space
    /// (the index, as a whole number), the dimension for a box.
    public var width: Int {
        switch self {
        case .discrete: 1
        case .box(let low, _): low.count
        }
    }

    public var description: String {
        switch self {
        case .discrete(let count): "Discrete(\(count))"
        case .box(let low, let high): "Box(\(BoxSpace.boundsDescription(low, high)), (\(low.count),), float32)"
        }
    }
}

/// A box-shaped observation space: a flat vector with per-component bounds (±infinity where
/// unbounded). Observations are delivered as `Double` holding the values the environment
/// returns (float32-rounded where Gymnasium's observation dtype is float32).
public struct BoxSpace: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The element type Gymnasium declares for the space.
    public enum ScalarType: String, Sendable, Hashable, Codable {
        case float32, float64
    }

    public var low: [Double]
    public var high: [Double]
    public var dtype: ScalarType
    public var count: Int { low.count }

    public init(low: [Double], high: [Double], dtype: ScalarType = .float32) {
        precondition(low.count == high.count, "a box space needs as many lower as upper bounds")
        self.low = low
        self.high = high
        self.dtype = dtype
    }

    public var description: String {
        "Box(\(BoxSpace.boundsDescription(low, high)), (\(low.count),), \(dtype.rawValue))"
    }

    static func boundsDescription(_ low: [Double], _ high: [Double]) -> String {
        func fmt(_ v: Double) -> String {
            if v == .infinity { return "inf" }
            if v == -.infinity { return "-inf" }
            if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) + ".0" }
            return String(Float(v))
        }
        if Set(low).count == 1, Set(high).count == 1 { return "\(fmt(low[0])), \(fmt(high[0]))" }
        return "[\(low.map(fmt).joined(separator: " "))], [\(high.map(fmt).joined(separator: " "))]"
    }
}

/// What one environment step produced.
public struct StepOutcome: Sendable, Equatable {
    /// The reward for the transition.
    public var reward: Double
    /// The episode reached a terminal state of the MDP (no bootstrapping past it).
    public var terminated: Bool
    /// The episode was cut by the time limit (the state is not terminal; bootstrap from it).
    public var truncated: Bool

    public init(reward: Double, terminated: Bool, truncated: Bool) {
        self.reward = reward
        self.terminated = terminated
        self.truncated = truncated
    }
}

/// The complete, restorable state of a simulator: enough to make a continuation after
/// ``Simulator/restore(_:)`` bit-identical to the continuation of the original.
public struct SimulatorSnapshot: Sendable, Hashable, Codable {
    /// The simulator's internal state, in a layout private to the simulator.
    public var values: [Double]
    /// Steps taken since the last reset (the time limit counts these).
    public var elapsedSteps: Int

    public init(values: [Double], elapsedSteps: Int) {
        self.values = values
        self.elapsedSteps = elapsedSteps
    }
}

/// Why a simulator refused an external state or action.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    /// The state vector has the wrong number of components.
    case stateLength(expected: Int, got: Int)
    /// The state vector holds a NaN or an infinity.
    case nonFiniteState
    /// The action is outside the action space (wrong width, index out of range, non-finite).
    case invalidAction(String)

    public var description: String {
        switch self {
        case .stateLength(let expected, let got): "state has \(got) values, expected \(expected)"
        case .nonFiniteState: "state holds a non-finite value"
        case .invalidAction(let why): "invalid action: \(why)"
        }
    }
}

/// A resettable environment with Gymnasium semantics.
///
/// Simulators are deterministic given their state and actions: all randomness (the initial
/// state distribution) comes from the stream passed to ``reset(using:)``, so a sampler owns
/// every random number and vine branches can share them. Each simulator counts its own steps
/// and reports `truncated` when the episode reaches ``maxEpisodeSteps``, unless the same step
/// terminated. (Gymnasium 1.x's `TimeLimit` sets both flags in that case; a terminal state
/// must not be bootstrapped, so here termination wins.) Box actions are rounded to float32
/// first, as Gymnasium's float32 action spaces hold them.
///
/// A simulator is a reference type because some own C resources (MuJoCo data); it is used
/// from one thread at a time.
public protocol Simulator: AnyObject {
    /// The Gymnasium id, for example `CartPole-v1`.
    var id: String { get }
    var observationSpace: BoxSpace { get }
    var actionSpace: ActionSpace { get }
    /// The time limit in steps (Gymnasium's `max_episode_steps`).
    var maxEpisodeSteps: Int { get }
    /// Steps since the last reset or ``setState(_:)``.
    var elapsedSteps: Int { get }

    /// Starts a new episode from the environment's initial-state distribution.
    func reset(using random: inout RandomStream)

    /// Writes the current observation into `observation` (`observationSpace.count` values).
    func observe(into observation: UnsafeMutableBufferPointer<Double>)

    /// Advances one step.
    ///
    /// - Parameter action: `actionSpace.width` numbers: the index for a discrete space, the
    ///   action vector for a box (clipped to the bounds where Gymnasium clips).
    /// - Precondition: the action is valid; callers validate external input with
    ///   ``validate(action:)`` first.
    func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome

    /// The internal state in Gymnasium's `env.unwrapped.state` layout.
    var state: [Double] { get }
    /// Sets the internal state (Gymnasium's layout) and restarts the step count at zero.
    func setState(_ state: [Double]) throws(SimulatorError)

    /// The complete state, for ``restore(_:)``.
    func snapshot() -> SimulatorSnapshot
    /// Returns to a snapshot taken from a simulator of the same id.
    func restore(_ snapshot: SimulatorSnapshot)
}

extension Simulator {
    /// Checks an externally supplied action against the action space.
    public func validate(action: [Double]) throws(SimulatorError) {
        switch actionSpace {
        case .discrete(let count):
            guard action.count == 1, let a = action.first, a.isFinite, a == a.rounded(),
                  a >= 0, a < Double(count)
            else {
                throw .invalidAction("expected an integer in 0..<\(count), got \(action)")
            }
        case .box(let low, _):
            guard action.count == low.count else {
                throw .invalidAction("expected \(low.count) number\(low.count == 1 ? "" : "s"), got \(action.count)")
            }
            guard action.allSatisfy(\.isFinite) else {
                throw .invalidAction("non-finite component in \(action)")
            }
        }
    }

    /// Convenience: the current observation as an array (allocates; not for hot paths).
    public func observation() -> [Double] {
        [Double](unsafeUninitializedCapacity: observationSpace.count) { buffer, count in
            observe(into: buffer)
            count = observationSpace.count
        }
    }

    /// Convenience: one step with an action given as an array (not for hot paths).
    public func step(_ action: [Double]) -> StepOutcome {
        action.withUnsafeBufferPointer { step($0) }
    }
}
