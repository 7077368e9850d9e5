@preconcurrency import CMuJoCo
import Core

extension MuJoCoModel {
    /// The raw engine rate of this model: `mj_step` calls per second on one thread, from the
    /// initial state with controls drawn uniformly from the control ranges every step (the
    /// data is reset whenever MuJoCo flags a numerical warning). For `trpo bench`, to compare
    /// a worker's environment-step rate (which adds frame skip, the policy and bookkeeping)
    /// against the engine's.
    public func rawStepRate(steps: Int, seed: UInt64 = 1) -> Double {
        let data = MuJoCoData(model: self)
        var random = RandomStream(seed: seed)
        var controls = [Double](repeating: 0, count: nu)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<steps {
            for i in 0..<nu { controls[i] = random.uniform(controlRange[i].lowerBound, controlRange[i].upperBound) }
            controls.withUnsafeBufferPointer { data.setControls($0) }
            if data.step(frames: 1) != nil { data.reset { _, _ in } }
        }
        let (seconds, attoseconds) = (clock.now - start).components
        return Double(steps) / (Double(seconds) + Double(attoseconds) * 1e-18)
    }
}
