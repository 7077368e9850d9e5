import Core

/// What the four v4 locomotion environments share (Gymnasium's `MujocoEnv` and the common
/// shape of their `step`): the model, the frame skip and control cost, the observation
/// `qpos[skipped...]` followed by `qvel` (optionally clipped), the reward
/// `(x' − x)/dt + healthy reward − control cost`, termination when ``isHealthy`` fails, uniform
/// reset noise, the 1000-step limit, and the state and snapshot plumbing. Each environment is a
/// subclass that states its constants and overrides only what differs (``isHealthy``, and for
/// HalfCheetah the reset noise).
public class LocomotionSimulator: MuJoCoSimulator {
    public let id: String
    public let observationSpace: BoxSpace
    public let actionSpace: ActionSpace
    public let maxEpisodeSteps = 1000
    public var elapsedSteps: Int { core.elapsedSteps }
    public var model: MuJoCoModel { core.data.model }
    public var lastTerminationReason: TerminationReason? { core.lastTerminationReason }
    public var contactCount: Int { core.data.contactCount }

    let core: Locomotion
    private let positionsSkipped: Int
    private let positionCount: Int
    private let velocityCount: Int
    private let velocityClip: Double?
    private let healthyReward: Double
    let resetNoise: Double

    /// - Parameters:
    ///   - id: the Gymnasium id.
    ///   - builtIn: the built-in model `model` must match in dimensions.
    ///   - positionsSkipped: leading `qpos` entries left out of the observation (x, or x and y).
    ///   - velocityClip: `qvel` is clipped to ±this in the observation (nil: not clipped).
    ///   - healthyReward: paid on every step, the terminating one included (v4).
    ///   - resetNoise: half-width of the uniform noise added to `qpos` and `qvel` at reset.
    /// - Throws: ``MuJoCoModelError`` when `model`'s dimensions differ from the built-in's.
    init(id: String, builtIn: String, model: MuJoCoModel, frameSkip: Int, controlCostWeight: Double,
         positionsSkipped: Int, velocityClip: Double?, healthyReward: Double, resetNoise: Double) throws(MuJoCoModelError) {
        let reference = MuJoCoModel.builtIn(builtIn)
        try Locomotion.checkCompatible(model, with: reference)
        self.id = id
        core = Locomotion(model: model, frameSkip: frameSkip, controlCostWeight: controlCostWeight)
        actionSpace = core.actionSpace
        self.positionsSkipped = positionsSkipped
        positionCount = model.nq
        velocityCount = model.nv
        observationSpace = Locomotion.observationSpace(count: model.nq - positionsSkipped + model.nv)
        self.velocityClip = velocityClip
        self.healthyReward = healthyReward
        self.resetNoise = resetNoise
    }

    public func reset(using random: inout RandomStream) {
        let noise = resetNoise
        core.reset { qpos, qvel in
            for i in qpos.indices { qpos[i] += random.uniform(-noise, noise) }
            for i in qvel.indices { qvel[i] += random.uniform(-noise, noise) }
        }
    }

    public func observe(into observation: UnsafeMutableBufferPointer<Double>) {
        let data = core.data
        let offset = positionCount - positionsSkipped
        for i in positionsSkipped..<positionCount { observation[i - positionsSkipped] = data.position(i) }
        if let clip = velocityClip {
            for i in 0..<velocityCount { observation[offset + i] = min(max(data.velocity(i), -clip), clip) }
        } else {
            for i in 0..<velocityCount { observation[offset + i] = data.velocity(i) }
        }
    }

    public func step(_ action: UnsafeBufferPointer<Double>) -> StepOutcome {
        let transition = core.advance(action)
        if let fault = transition.fault { return core.faulted(fault, transition) }
        let reward = (1.0 * transition.xVelocity + healthyReward) - transition.controlCost
        return core.outcome(reward: reward, terminated: !isHealthy, maxEpisodeSteps: maxEpisodeSteps)
    }

    /// The environment's healthy condition after a step (always true for environments that
    /// only end at the time limit).
    var isHealthy: Bool { true }

    public var state: [Double] { core.state }
    public func setState(_ state: [Double]) throws(SimulatorError) { try core.setState(state) }

    /// Values: time, qpos, qvel, qacc_warmstart and ctrl (the models have no activations).
    public func snapshot() -> SimulatorSnapshot { core.snapshot() }
    public func restore(_ snapshot: SimulatorSnapshot) { core.restore(snapshot) }
}
