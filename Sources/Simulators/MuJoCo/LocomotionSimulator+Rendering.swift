@preconcurrency import CMuJoCo

extension LocomotionSimulator {
    /// The simulated time one ``Simulator/step(_:)`` advances, in seconds: the model's
    /// timestep times the frame skip (Gymnasium's `dt`, e.g. 0.008 s for Hopper-v4).
    public var stepDuration: Double { model.timestep * Double(core.frameSkip) }

    /// Calls `body` with the compiled model and this simulator's current data, for code that
    /// needs MuJoCo's own view of the state: the renderer reads the body poses
    /// (`xpos`, `xmat`) the last step computed through `mjv_updateScene`.
    ///
    /// The model is shared by every simulator of the environment and must not be written.
    /// `mjv_updateScene` takes a mutable `mjData` but only reads the state.
    ///
    /// - Warning: Do not let the pointers escape the closure, and do not change the model or
    ///   the simulation state through them.
    public func withUnsafeMuJoCo<R, E: Error>(
        _ body: (UnsafePointer<mjModel>, UnsafeMutablePointer<mjData>) throws(E) -> R
    ) throws(E) -> R {
        try core.data.withUnsafeModelAndData(body)
    }
}
