import Foundation
import Testing
@testable import Core

/// The value function on frames (``ConvolutionalValueFunction``): its minibatch loop descends
/// the true gradient of ½·mean squared error (checked against central differences through
/// Adam's first step), it fits a target that depends on where the frame's content is, it skips
/// non-finite minibatches, and it is deterministic.
@Suite struct ConvolutionalValueFunctionTests {
    static let shape = ImageShape(height: 10, width: 10, channels: 2)
    static let architecture = ConvolutionalArchitecture(
        input: shape, convolutions: [ConvolutionSpec(filters: 4, kernel: 4, stride: 2), ConvolutionSpec(filters: 4, kernel: 2, stride: 1)],
        hiddenSizes: [16], activation: .relu)

    /// Frames with a bright 2×2 block at a random place in a random channel; the target is
    /// the block's column in [0, 1] plus 0.5 in channel 1 (something only the convolutions see).
    static func scenes(_ n: Int, _ random: inout RandomStream) -> (FrameBatch, [Double]) {
        var pixels = [UInt8](repeating: 10, count: n * shape.count)
        var targets: [Double] = []
        for i in 0..<n {
            let (y, x, c) = (random.index(below: 9), random.index(below: 9), random.index(below: 2))
            for dy in 0..<2 { for dx in 0..<2 { pixels[i * shape.count + ((y + dy) * shape.width + x + dx) * 2 + c] = 250 } }
            targets.append(Double(x) / 8 + 0.5 * Double(c))
        }
        return (FrameBatch(shape: shape, rows: n, pixels: pixels), targets)
    }

    /// With the whole batch as one minibatch, Adam's first step moves every parameter by
    /// −lr · g/(|g| + ε), i.e. by −lr · sign(g) where |g| ≫ ε: the step's signs must be those
    /// of the central-difference gradient of ½·mean squared error (ε = 1e-6), wherever that
    /// gradient is clearly non-zero.
    @Test func firstAdamStepFollowsTheLossGradient() {
        var random = RandomStream(seed: 1)
        var value = ConvolutionalValueFunction(architecture: Self.architecture, learningRate: 1e-4, random: &random)
        let (frames, targets) = Self.scenes(24, &random)
        let theta = value.network.parameters
        let expected = finiteDifferenceGradient(at: theta, epsilon: 1e-6) { t in
            var net = value.network
            net.parameters = t
            let out = net.forward(frames).output.storage
            return zip(out, targets).reduce(0) { $0 + 0.5 * ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(targets.count)
        }
        var c = ValueFitConfiguration()
        c.epochs = 1
        c.minibatchSize = 64
        c.learningRate = 1e-4
        let report = value.fit(frames, targets: targets, configuration: c, random: &random)
        #expect(report.adamSteps == 1)
        var checked = 0
        for i in theta.indices where abs(expected[i]) > 1e-5 {
            let moved = value.network.parameters[i] - theta[i]
            #expect(abs(moved + 1e-4 * (expected[i] > 0 ? 1 : -1)) < 1e-6, "parameter \(i): moved \(moved), gradient \(expected[i])")
            checked += 1
        }
        #expect(checked > theta.count / 2)
    }

    /// 30 epochs on 512 frames explain most of a target the dense part alone could not read
    /// off any single pixel; the same seed gives the same parameters bit for bit.
    @Test func fitsAPositionTarget() {
        func run() -> (ConvolutionalValueFunction, ValueFitReport, ValueFitReport) {
            var random = RandomStream(seed: 2)
            var value = ConvolutionalValueFunction(architecture: Self.architecture, learningRate: 3e-3, random: &random)
            let (frames, targets) = Self.scenes(512, &random)
            var c = ValueFitConfiguration()
            c.epochs = 30
            c.minibatchSize = 64
            c.learningRate = 3e-3
            let report = value.fit(frames, targets: targets, configuration: c, random: &random)
            let (fresh, freshTargets) = Self.scenes(256, &random)
            let heldOut = ValueFitReport(explainedVarianceBefore: .nan,
                                         explainedVarianceAfter: explainedVariance(predicted: value.predict(fresh), targets: freshTargets),
                                         loss: .nan, adamSteps: 0)
            return (value, report, heldOut)
        }
        let (value, report, heldOut) = run()
        reportMeasurement("conv value fit explained variance before", report.explainedVarianceBefore)
        reportMeasurement("conv value fit explained variance after", report.explainedVarianceAfter)
        reportMeasurement("conv value fit explained variance on fresh frames", heldOut.explainedVarianceAfter)
        #expect(report.adamSteps == 30 * 8)
        #expect(report.explainedVarianceBefore < 0.2)
        #expect(report.explainedVarianceAfter > 0.9)
        #expect(heldOut.explainedVarianceAfter > 0.8)
        #expect(bitPatterns(run().0.network.parameters) == bitPatterns(value.network.parameters))
    }

    /// A minibatch holding a non-finite target gives a non-finite gradient and is skipped; the
    /// others step and the parameters stay finite.
    @Test func nonFiniteMinibatchesAreSkipped() {
        var random = RandomStream(seed: 3)
        var value = ConvolutionalValueFunction(architecture: Self.architecture, learningRate: 1e-3, random: &random)
        var (frames, targets) = Self.scenes(40, &random)
        targets[17] = .nan
        frames = frames.gatheringRows(Array(0..<40))
        var c = ValueFitConfiguration()
        c.epochs = 2
        c.minibatchSize = 10
        let report = value.fit(frames, targets: targets, configuration: c, random: &random)
        #expect(report.adamSteps == 2 * 3)
        #expect(value.network.parameters.allFinite)
    }
}
