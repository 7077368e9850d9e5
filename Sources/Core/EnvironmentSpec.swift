/// The element type of an external environment's observations (Gymnasium's `observation_space.dtype`).
///
/// Observations travel and train as `Double`; every type here converts exactly, except int64
/// values beyond ±2⁵³, which a worker refuses to send (docs/protocol.md §3.14). The raw value
/// is the wire code; `config.json` and checkpoints write the NumPy name.
public enum ObservationType: UInt8, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case float64 = 0, float32, float16, int64, int32, int16, int8, uint32, uint16, uint8, bool

    /// NumPy's name, e.g. `float32`.
    public var description: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint32: "uint32"
        case .uint16: "uint16"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let type = Self.allCases.first(where: { $0.description == name }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown observation type '\(name)'"))
        }
        self = type
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What a worker reports of an environment the learner cannot make itself (`--env gym:ID`,
/// `--env py:MODULE:FACTORY`): the learner builds the run's policy from the first spec and
/// refuses workers whose spec differs (docs/protocol.md §3.14).
///
/// Invariants (checked by ``problem``, which the codec applies to every decoded spec): the
/// shape has 1 … 8 dimensions, each ≥ 1; a discrete space has ≥ 2 actions; a box has ≥ 1
/// dimension and bounds that are not NaN with low ≤ high.
public struct EnvironmentSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The observation array's shape; the policy sees it flattened in row-major order.
    public var observationShape: [Int]
    public var observationType: ObservationType
    public var actionSpace: ActionSpace
    /// Gymnasium's `max_episode_steps` (nil: no limit).
    public var timeLimit: Int?
    /// Whether the worker can snapshot and restore the environment's state (the vine needs it).
    public var canSnapshot: Bool

    public init(observationShape: [Int], observationType: ObservationType, actionSpace: ActionSpace,
                timeLimit: Int?, canSnapshot: Bool) {
        self.observationShape = observationShape
        self.observationType = observationType
        self.actionSpace = actionSpace
        self.timeLimit = timeLimit
        self.canSnapshot = canSnapshot
    }

    /// The most observation dimensions a spec may have.
    public static let maxRank = 8

    /// The flattened observation's length: the product of the shape.
    public var observationSize: Int { observationShape.reduce(1, *) }

    /// Why this spec cannot describe an environment (nil: it can), given the widest
    /// observation or action the receiver accepts.
    public func problem(maxWidth: Int) -> String? {
        guard (1...Self.maxRank).contains(observationShape.count) else {
            return "observation rank \(observationShape.count) is not in 1…\(Self.maxRank)"
        }
        guard observationShape.allSatisfy({ $0 >= 1 }) else { return "observation shape \(observationShape) has an empty dimension" }
        var size = 1
        for d in observationShape {
            let (product, overflow) = size.multipliedReportingOverflow(by: d)
            guard !overflow, product <= maxWidth else { return "observation shape \(observationShape) exceeds \(maxWidth) values" }
            size = product
        }
        switch actionSpace {
        case .discrete(let count):
            guard (2...maxWidth).contains(count) else { return "discrete action count \(count) is not in 2…\(maxWidth)" }
        case .box(let low, let high):
            guard low.count == high.count, (1...maxWidth).contains(low.count) else {
                return "box action dimension \(low.count) is not in 1…\(maxWidth)"
            }
            guard !low.contains(where: \.isNaN), !high.contains(where: \.isNaN) else { return "action bounds hold NaN" }
            if let i = low.indices.first(where: { low[$0] > high[$0] }) {
                return "action bound \(i): low \(low[i]) > high \(high[i])"
            }
        }
        if let timeLimit, timeLimit < 1 { return "time limit \(timeLimit) is not positive" }
        return nil
    }

    /// The first way `self` (a worker's spec) differs from `run` (the run's), in words; nil
    /// when they are the same (bounds compared bit for bit). Snapshot support is not compared:
    /// only a vine run needs it, and it refuses every spec without it.
    public func difference(from run: EnvironmentSpec) -> String? {
        func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
        if observationShape != run.observationShape {
            return "observation shape \(observationShape) (run: \(run.observationShape))"
        }
        if observationType != run.observationType {
            return "observation type \(observationType) (run: \(run.observationType))"
        }
        switch (actionSpace, run.actionSpace) {
        case (.discrete(let a), .discrete(let b)) where a == b: break
        case (.box(let low, let high), .box(let runLow, let runHigh)) where low.count == runLow.count:
            if bits(low) != bits(runLow) { return "action low \(low) (run: \(runLow))" }
            if bits(high) != bits(runHigh) { return "action high \(high) (run: \(runHigh))" }
        default:
            return "action space \(Self.describe(actionSpace)) (run: \(Self.describe(run.actionSpace)))"
        }
        if timeLimit != run.timeLimit {
            return "time limit \(timeLimit.map(String.init) ?? "none") (run: \(run.timeLimit.map(String.init) ?? "none"))"
        }
        return nil
    }

    private static func describe(_ space: ActionSpace) -> String {
        switch space {
        case .discrete(let count): "discrete(\(count))"
        case .box(let low, _): "box(\(low.count))"
        }
    }

    /// One line for logs, e.g. `observations (3,) float32, box(1) in [-2.0, 2.0], limit 200, snapshot`.
    public var description: String {
        let shape = "(" + observationShape.map(String.init).joined(separator: ", ") + (observationShape.count == 1 ? ",)" : ")")
        let actions: String
        switch actionSpace {
        case .discrete(let count): actions = "discrete(\(count))"
        case .box(let low, let high): actions = "box(\(low.count)) in [\(BoxSpace.boundsDescription(low, high))]"
        }
        return "observations \(shape) \(observationType), \(actions), "
            + (timeLimit.map { "limit \($0)" } ?? "no time limit") + (canSnapshot ? ", snapshot" : ", no snapshot")
    }
}

/// How a run names its environment: a built-in id (`CartPole-v1`) or an external one that only
/// workers can make, `gym:ID` (a Gymnasium id) or `py:MODULE:FACTORY` (a user's class or
/// factory function), docs/protocol.md §3.13.
public enum EnvironmentName {
    /// The prefixes of external names.
    public static let externalPrefixes = ["gym:", "py:"]

    /// Whether `name` is made by workers rather than by this build.
    public static func isExternal(_ name: String) -> Bool {
        externalPrefixes.contains { name.hasPrefix($0) }
    }

    /// Why `name` is not a well-formed external name (nil: it is one, or it is not external).
    public static func problem(_ name: String) -> String? {
        if name.hasPrefix("gym:") {
            let id = name.dropFirst(4)
            return id.isEmpty || id.contains(where: \.isWhitespace) ? "'\(name)': expected gym:ID, e.g. gym:LunarLander-v3" : nil
        }
        if name.hasPrefix("py:") {
            let parts = name.dropFirst(3).split(separator: ":", omittingEmptySubsequences: false)
            let valid = parts.count == 2 && parts.allSatisfy { part in
                !part.isEmpty && part.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isIdentifier)
            }
            return valid ? nil : "'\(name)': expected py:MODULE:FACTORY, e.g. py:mylab.envs:make_arm"
        }
        return nil
    }

    /// The Gymnasium id inside `gym:ID` (nil for other names).
    public static func gymnasiumID(_ name: String) -> String? {
        name.hasPrefix("gym:") ? String(name.dropFirst(4)) : nil
    }

    private static func isIdentifier(_ text: Substring) -> Bool {
        guard let first = text.first, first == "_" || first.isLetter else { return false }
        return text.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }
}
