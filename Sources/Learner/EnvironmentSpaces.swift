import Core
import Simulators

extension TrainingConfiguration {
    /// The policy's input width and the action space of the run's environment: a built-in
    /// one's (made with the custom model, if any), or an external one's spec.
    /// - Throws: ``EnvironmentError`` for an unknown id or a model that does not fit;
    ///   ``ConfigurationError`` for an external environment whose spec is not known yet.
    public func environmentSpaces() throws -> (observationSize: Int, actionSpace: ActionSpace) {
        if isExternal {
            guard let spec = environmentSpec else {
                throw ConfigurationError(message: "\(environment) has no environment spec yet (its first worker describes it)")
            }
            return (spec.observationSize, spec.actionSpace)
        }
        let simulator = try EnvironmentRegistry.make(environment, modelXML: modelXML)
        return (simulator.observationSpace.count, simulator.actionSpace)
    }
}
