import Core
import Simulators

/// What ``PolicyVideo/record(into:)`` produced.
public struct PolicyVideoSummary: Sendable, Equatable {
    /// Frames written.
    public var frames: Int
    /// Each episode's undiscounted return, in order.
    public var returns: [Double]
    /// Each episode's length in steps.
    public var lengths: [Int]
}

/// Runs a policy on a simulator and sends a frame every few steps to a ``VideoEncoder``.
///
/// Each episode starts from the environment's reset distribution drawn from `seed` and ends
/// when the environment terminates or truncates it, or after `maxSteps` steps. The video shows
/// the initial state and then one frame every `stride` steps, where `stride` is the renderer's
/// ``FrameRenderer/stepsPerSecond`` divided by the video's frame rate (rounded, at least 1),
/// so the video plays at about the simulation's own speed.
public struct PolicyVideo {
    public let policy: Policy
    public let normalizer: RunningNormalizer?
    public let simulator: any Simulator
    public let renderer: any FrameRenderer
    public var episodes = 1
    public var maxSteps = 1000
    /// Act with the distribution's mode (argmax / mean) instead of sampling.
    public var deterministic = true
    public var seed: UInt64 = 12345

    /// - Precondition: the policy's observation size and head match the simulator's spaces, and
    ///   the normalizer (if any) has the observation size.
    public init(policy: Policy, normalizer: RunningNormalizer?, simulator: any Simulator, renderer: any FrameRenderer) {
        precondition(policy.observationSize == simulator.observationSpace.count, "policy and environment disagree on the observation size")
        precondition(policy.head == PolicyHead(simulator.actionSpace), "policy and environment disagree on the action space")
        self.policy = policy
        self.normalizer = normalizer
        self.simulator = simulator
        self.renderer = renderer
    }

    /// Simulation steps between frames at `fps` frames per second.
    public func stride(fps: Int) -> Int { max(1, Int((renderer.stepsPerSecond / Double(fps)).rounded())) }

    /// Runs the episodes and appends their frames to `encoder` (it is not finished here).
    /// - Throws: what the renderer or the encoder throw.
    public func record(into encoder: VideoEncoder) throws(RenderError) -> PolicyVideoSummary {
        let stride = stride(fps: encoder.fps)
        let head = policy.head
        let evaluator = PolicyEvaluator(layerSizes: policy.network.layerSizes, activation: policy.network.activation, capacity: 1)
        evaluator.load(policy.network)
        var observation = [Double](repeating: 0, count: policy.observationSize)
        var output = [Double](repeating: 0, count: head.outputWidth)
        var scratch = [Double](repeating: 0, count: head.outputWidth)
        var action = [Double](repeating: 0, count: head.actionWidth)
        var actionRandom = RandomStream(seed: seed, path: [Self.streamTag, 1])
        var summary = PolicyVideoSummary(frames: 0, returns: [], lengths: [])

        for episode in 0..<episodes {
            var resetRandom = RandomStream(seed: seed, path: [Self.streamTag, 0, UInt64(episode)])
            simulator.reset(using: &resetRandom)
            try encoder.append(renderer.render())
            summary.frames += 1
            var total = 0.0
            var steps = 0
            while steps < maxSteps {
                observation.withUnsafeMutableBufferPointer { o in
                    simulator.observe(into: o)
                    normalizer?.normalize(o)
                    output.withUnsafeMutableBufferPointer { out in
                        evaluator.evaluate(o.baseAddress!, rows: 1, into: out.baseAddress!)
                    }
                }
                output.withUnsafeBufferPointer { out in
                    // A categorical head has no log-std and never reads the pointer it is given.
                    policy.logStd.withUnsafeBufferPointer { logStd in
                        scratch.withUnsafeMutableBufferPointer { s in
                            action.withUnsafeMutableBufferPointer { a in
                                head.sample(output: out.baseAddress!, logStd: logStd.baseAddress ?? out.baseAddress!,
                                            deterministic: deterministic, random: &actionRandom,
                                            into: a.baseAddress!, scratch: s.baseAddress!)
                            }
                        }
                    }
                }
                let outcome = simulator.step(action)
                total += outcome.reward
                steps += 1
                let ended = outcome.terminated || outcome.truncated
                if steps % stride == 0 || ended || steps == maxSteps {
                    try encoder.append(renderer.render())
                    summary.frames += 1
                }
                if ended { break }
            }
            summary.returns.append(total)
            summary.lengths.append(steps)
        }
        return summary
    }

    /// "rend": the random streams' tag, apart from training's and `trpo eval`'s.
    private static let streamTag: UInt64 = 0x7265_6E64
}
