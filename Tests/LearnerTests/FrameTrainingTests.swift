import Core
import Foundation
import Protocol
import Testing
@testable import Learner

/// The learner on frames: a run whose external environment observes uint8 frames gets
/// convolutional networks (``TrainingConfiguration/frameArchitecture``), trains them on
/// ``FrameSamples`` without standardisation, checkpoints and resumes them, and refuses what
/// does not fit.
@Suite struct FrameTrainingTests {
    /// 12×12×1 frames: a bright 3×3 block in the left or the right half.
    static let shape = ImageShape(height: 12, width: 12, channels: 1)

    /// An external environment of `side`×`side`×1 frames and two actions (cnn_small's
    /// kernels need 36×36: 8×8 stride 4 gives 8×8, 4×4 stride 2 then 3×3).
    static func configuration(trunk: TrunkChoice = .auto, side: Int = 36) -> TrainingConfiguration {
        var c = TrainingConfiguration(environment: "gym:Pixels-v0", totalSteps: 10_000, batchSteps: 128)
        c.environmentSpec = EnvironmentSpec(observationShape: [side, side, 1], observationType: .uint8,
                                            actionSpace: .discrete(count: 2), timeLimit: 1, canSnapshot: false)
        c.trunk = trunk
        c.trpo.maxKL = 0.02
        c.trpo.fisherSubsample = 0.5
        c.valueFit.epochs = 5
        c.valueFit.minibatchSize = 32
        return c
    }

    /// One-step episodes of the pixel bandit: action 0 pays 1 when the block is on the left,
    /// action 1 when it is on the right; actions drawn from `policy`.
    static func episodes(_ n: Int, policy: ConvolutionalPolicy, random: inout RandomStream) -> (FrameSamples, correct: Double) {
        var batch = FrameSamples(observationSize: shape.count, actionWidth: 1)
        var frames = [UInt8](repeating: 20, count: shape.count)
        var probability = 0.0
        for _ in 0..<n {
            frames.withUnsafeMutableBufferPointer { $0.update(repeating: 20) }
            let side = random.index(below: 2)
            let (y, x) = (random.index(below: 10), side * 6 + random.index(below: 4))
            for dy in 0..<3 { for dx in 0..<3 { frames[(y + dy) * shape.width + x + dx] = 255 } }
            let logits = policy.network.forward(FrameBatch(shape: shape, rows: 1, pixels: frames)).output
            let p0 = 1 / (1 + exp(logits[0, 1] - logits[0, 0]))
            probability += side == 0 ? p0 : 1 - p0
            let action = random.uniform(0, 1) < p0 ? 0 : 1
            frames.withUnsafeBufferPointer { f in
                [Double(action)].withUnsafeBufferPointer { a in
                    batch.append(observation: f, action: a, reward: action == side ? 1 : 0, end: .terminated)
                }
            }
            batch.episodeReturns.append(action == side ? 1 : 0)
            batch.episodeLengths.append(1)
        }
        return (batch, probability / Double(n))
    }

    static func convolutional(_ policy: AnyPolicy) -> ConvolutionalPolicy? {
        guard case .convolutional(let policy) = policy else { return nil }
        return policy
    }

    /// Frames of rank 3 and uint8 get cnn_small on the frame's shape (auto and explicit), its
    /// value function the same trunk, no observation statistics; `mlp` keeps MLPs.
    @Test func framesGetConvolutionalNetworks() throws {
        let c = Self.configuration()
        try c.validate()
        var expected = ConvolutionalArchitecture.cnnSmall
        expected.input = ImageShape(height: 36, width: 36, channels: 1)
        #expect(c.frameArchitecture == expected)
        let trainer = Trainer(configuration: c, observationSize: 36 * 36, actionSpace: .discrete(count: 2))
        guard case .convolutional(let policy) = trainer.state.policy, case .convolutional(let value) = trainer.state.valueFunction else {
            Issue.record("not convolutional: \(trainer.state.policy)")
            return
        }
        #expect(policy.network.architecture == expected && value.network.architecture == expected)
        #expect(trainer.samplingNormalizer == nil)

        let dense = Trainer(configuration: Self.configuration(trunk: .mlp), observationSize: 36 * 36,
                            actionSpace: .discrete(count: 2))
        guard case .dense = dense.state.policy, case .dense = dense.state.valueFunction else {
            Issue.record("--trunk mlp gave \(dense.state.policy)")
            return
        }
    }

    /// Twenty iterations on pixel-bandit batches (each value fit completed before the next
    /// batch, as a learner does) make the correct action likely, from P ≈ 0.5: TRPO on frames
    /// through the learner's own update, GAE from the convolutional value function.
    @Test func trainerLearnsFromFrames() throws {
        // The paper's network on 12×12 frames: 16 × 4×4 stride 2 twice (5×5, then 1×1), 20 units.
        let c = Self.configuration(trunk: .paperAtari, side: 12)
        try c.validate()
        var trainer = Trainer(configuration: c, observationSize: Self.shape.count, actionSpace: .discrete(count: 2))
        var random = RandomStream(seed: 5)
        var first = 0.0, last = 0.0
        for iteration in 0..<20 {
            let policy = try #require(Self.convolutional(trainer.state.policy))
            let (batch, correct) = Self.episodes(128, policy: policy, random: &random)
            if iteration == 0 { first = correct }
            last = correct
            var pending: PendingValueFit?
            let statistics = trainer.updatePolicy(with: .frames(batch)) { pending = $0 }
            #expect(statistics.policyStep.rejection == nil || statistics.policyStep.rejection == .zeroGradient)
            let complete = trainer.completeUpdate(try #require(pending).fit(), statistics)
            #expect(complete.valueFit.adamSteps == 5 * 4)
            #expect(complete.episodeReturns.count == 128)
        }
        if ProcessInfo.processInfo.environment["FRAMES_REPORT"] != nil {
            print("[measure] frames: P(correct) at iteration 1: \(first), at iteration 20: \(last)")
        }
        #expect(abs(first - 0.5) < 0.1)
        #expect(last > 0.85)
        #expect(trainer.state.iteration == 20 && trainer.state.timesteps == 20 * 128)
    }

    /// The vine on frames (eq. 15: both actions from every state, one-step branches): from
    /// each trunk state of the pixel bandit, Q̂ is 1 for the correct action and 0 for the
    /// other; 20 vine iterations through the learner's update (V fitted on the trunks) make
    /// the correct action likely, and the statistics count trunks and branches.
    @Test func trainerLearnsWithTheVineOnFrames() throws {
        var c = Self.configuration(trunk: .paperAtari, side: 12)
        c.sampler = .vine
        c.vine = VineSettings(trunkSteps: 64, rolloutStates: 64, actionsPerState: 2, rolloutLength: 1, gamma: 0.99)
        c.trpo.fisherSubsample = 1
        try c.validate()
        var trainer = Trainer(configuration: c, observationSize: Self.shape.count, actionSpace: .discrete(count: 2))
        var random = RandomStream(seed: 6)
        var first = 0.0, last = 0.0
        for iteration in 0..<20 {
            let policy = try #require(Self.convolutional(trainer.state.policy))
            let (trunks, correct) = Self.episodes(64, policy: policy, random: &random)
            if iteration == 0 { first = correct }
            last = correct
            var batch = FrameVineBatch(observationSize: Self.shape.count, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions)
            batch.trunks = trunks
            batch.observations = trunks.observations
            for row in 0..<trunks.count {
                // The trunk took one action; the correct one is that action if it paid.
                let taken = Int(trunks.actions[row]), paid = trunks.rewards[row] == 1
                let correctAction = paid ? taken : 1 - taken
                for action in 0..<2 {
                    batch.actions.append(Double(action))
                    batch.branchReturns.append(action == correctAction ? 1 : 0)
                    batch.branchLengths.append(1)
                    batch.branchEnds.append(.terminated)
                    batch.oldLogProbabilities.append(log(0.5))
                }
            }
            #expect(IterationBatch.frameVine(batch).misfit(policy: trainer.state.policy, sampling: c.sampling) == nil)
            let statistics = try trainer.update(vine: .frames(batch))
            #expect(statistics.policyStep.rejection == nil || statistics.policyStep.rejection == .zeroGradient)
            #expect(statistics.samples == 128 && statistics.vine?.branches == 128)
            #expect(statistics.valueFit.adamSteps == 5 * 2)  // V fitted on the 64 trunk rows, minibatches of 32
        }
        if ProcessInfo.processInfo.environment["FRAMES_REPORT"] != nil {
            print("[measure] vine on frames: P(correct) at iteration 1: \(first), at iteration 20: \(last)")
        }
        #expect(abs(first - 0.5) < 0.1)
        #expect(last > 0.85)
        #expect(trainer.state.iteration == 20 && trainer.state.timesteps == 20 * (64 + 128))
    }

    /// A checkpoint of convolutional networks loads back equal; one whose networks are not the
    /// trunk its configuration gives is corrupt.
    @Test func checkpointsOfConvolutionalNetworksRoundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let c = Self.configuration(trunk: .paperAtari, side: 12)
        let trainer = Trainer(configuration: c, observationSize: Self.shape.count, actionSpace: .discrete(count: 2))
        try Checkpoint.save(trainer.state, in: directory)
        #expect(try Checkpoint.load(from: directory) == trainer.state)

        var mismatched = trainer.state
        mismatched.configuration.trunk = .mlp
        try Checkpoint.save(mismatched, in: directory)
        #expect(throws: CheckpointError.self) { try Checkpoint.load(from: directory) }
    }

    /// What does not fit is refused by name: a convolutional trunk for feature vectors, frames
    /// too small for the trunk's kernels, and chunks (and vine chunks) of the other kind of
    /// observation. The vine on frames is a valid configuration.
    @Test func misfitsAreRefused() throws {
        var builtIn = TrainingConfiguration.preset(for: "CartPole-v1")
        builtIn.trunk = .cnnSmall
        #expect(throws: ConfigurationError.self) { try builtIn.validate() }

        var vine = Self.configuration()
        vine.sampler = .vine
        vine.vine = VineSettings(trunkSteps: 10, rolloutStates: 4, actionsPerState: 2, rolloutLength: 1, gamma: 0.99)
        try vine.validate()

        #expect(throws: ConfigurationError.self) { try Self.configuration(side: 12).validate() }  // cnn_small needs 36×36

        let trainer = Trainer(configuration: Self.configuration(trunk: .paperAtari, side: 12), observationSize: Self.shape.count,
                              actionSpace: .discrete(count: 2))
        var features = SampleBatch(observationSize: Self.shape.count, actionWidth: 1)
        features.observations = [Double](repeating: 0, count: Self.shape.count)
        features.actions = [0]
        features.rewards = [1]
        features.ends = [.terminated]
        #expect(IterationBatch.singlePath(features).misfit(policy: trainer.state.policy, sampling: .singlePath)
            == "feature vectors; this run's policy takes uint8 frames")
        var random = RandomStream(seed: 1)
        let (frames, _) = Self.episodes(3, policy: try #require(Self.convolutional(trainer.state.policy)), random: &random)
        #expect(IterationBatch.frames(frames).misfit(policy: trainer.state.policy, sampling: .singlePath) == nil)
        let vineSampling = Message.Sampling.vine(VineSettings(trunkSteps: 3, rolloutStates: 1, actionsPerState: 2, rolloutLength: 1, gamma: 0.99))
        #expect(IterationBatch.vine(VineBatch(observationSize: Self.shape.count, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions))
            .misfit(policy: trainer.state.policy, sampling: vineSampling) == "feature vectors; this run's policy takes uint8 frames")
        #expect(IterationBatch.frameVine(FrameVineBatch(observationSize: Self.shape.count, actionWidth: 1, actionsPerState: 2, estimator: .enumeratedActions))
            .misfit(policy: trainer.state.policy, sampling: .singlePath) == "a vine chunk; this run samples single-path")
    }
}
