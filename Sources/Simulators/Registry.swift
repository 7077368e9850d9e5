import Core

/// An environment id that no simulator in this build answers to.
public struct UnknownEnvironmentError: Error, CustomStringConvertible {
    public var id: String
    public var description: String {
        "unknown environment '\(id)'; known: \(EnvironmentRegistry.ids.joined(separator: ", "))"
    }
}

/// Why no simulator could be made.
public enum EnvironmentError: Error, CustomStringConvertible {
    case unknown(UnknownEnvironmentError)
    /// Only the MuJoCo environments take a model file.
    case customModelNotSupported(String)
    /// The model file does not compile or does not fit the environment.
    case model(MuJoCoModelError)

    public var description: String {
        switch self {
        case .unknown(let error): "\(error)"
        case .customModelNotSupported(let id): "\(id) does not take a model file (only the MuJoCo environments do)"
        case .model(let error): "\(error)"
        }
    }
}

/// The environments this build provides, by Gymnasium id.
public enum EnvironmentRegistry {
    /// Every known id, in the order `trpo env list` shows them.
    public static var ids: [String] { makers.map(\.id) }

    /// A new simulator for `id`.
    public static func make(_ id: String) throws(UnknownEnvironmentError) -> any Simulator {
        guard let maker = makers.first(where: { $0.id == id }) else {
            throw UnknownEnvironmentError(id: id)
        }
        return maker.make()
    }

    /// A new simulator for `id` over a custom MuJoCo model given as MJCF text (nil: the
    /// built-in model).
    public static func make(_ id: String, modelXML: String?) throws(EnvironmentError) -> any Simulator {
        guard let modelXML else {
            do { return try make(id) } catch { throw .unknown(error) }
        }
        guard let make = customMakers.first(where: { $0.id == id })?.make else {
            throw .customModelNotSupported(id)
        }
        do {
            return try make(try MuJoCoModel.custom(xml: modelXML))
        } catch {
            throw .model(error)
        }
    }

    private static let customMakers: [(id: String, make: @Sendable (MuJoCoModel) throws(MuJoCoModelError) -> any Simulator)] = [
        (Hopper.environmentID, { (m) throws(MuJoCoModelError) in try Hopper(model: m) }),
        (Walker2d.environmentID, { (m) throws(MuJoCoModelError) in try Walker2d(model: m) }),
        (Swimmer.environmentID, { (m) throws(MuJoCoModelError) in try Swimmer(model: m) }),
        (HalfCheetah.environmentID, { (m) throws(MuJoCoModelError) in try HalfCheetah(model: m) }),
    ]

    private static let makers: [(id: String, make: @Sendable () -> any Simulator)] = [
        (CartPole.environmentID, { CartPole() }),
        (Acrobot.environmentID, { Acrobot() }),
        (MountainCar.environmentID, { MountainCar() }),
        (Pendulum.environmentID, { Pendulum() }),
        (MountainCarContinuous.environmentID, { MountainCarContinuous() }),
        (Hopper.environmentID, { Hopper() }),
        (Walker2d.environmentID, { Walker2d() }),
        (Swimmer.environmentID, { Swimmer() }),
        (HalfCheetah.environmentID, { HalfCheetah() }),
    ]
}
