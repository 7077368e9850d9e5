import Core

/// An environment id that no simulator in this build answers to.
public struct UnknownEnvironmentError: Error, CustomStringConvertible {
    public var id: String
    public var description: String {
        "unknown environment '\(id)'; known: \(EnvironmentRegistry.ids.joined(separator: ", "))"
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
