import Core
import Foundation
import Testing

/// Writes `python/tests/fixtures/convolution_reference.json`: convolutional networks
/// (architecture, output width, parameters in ``ConvolutionLayout``'s order), uint8 frames, and
/// what Swift computes from them — the outputs in double precision (`ConvolutionalNetwork.forward`)
/// and the sampling evaluator's single-precision outputs (``ConvolutionalEvaluator``). The Python
/// worker's tests check its numpy network (`trpo_worker.convolution`) against this file.
///
/// Runs only with `TRPO_WRITE_FIXTURES=1` (`TRPO_WRITE_FIXTURES=1 swift test --filter
/// ConvolutionFixtureExport`); otherwise it does nothing, so the committed fixture stays put.
@Suite struct ConvolutionFixtureExport {
    struct Convolution: Encodable {
        var filters: Int
        var kernel: Int
        var stride: Int
    }

    struct Case: Encodable {
        var name: String
        /// `[height, width, channels]`, channels-last.
        var input: [Int]
        var convolutions: [Convolution]
        var hiddenSizes: [Int]
        var activation: String
        var outputSize: Int
        var parameters: [Double]
        var rows: Int
        /// `rows × height·width·channels` pixels, row-major.
        var frames: [UInt8]
        var outputs: [Double]
        var evaluatorOutputs: [Double]
    }

    struct Fixture: Encodable {
        var description: String
        var cases: [Case]
    }

    static func makeCase(name: String, architecture: ConvolutionalArchitecture, outputSize: Int, rows: Int,
                         seed: UInt64) -> Case {
        var random = RandomStream(seed: seed, path: [16])
        let layout = ConvolutionLayout(architecture: architecture, outputSize: outputSize)
        // Weights large enough that every layer's activation matters (ReLU cuts some units).
        let parameters = (0..<layout.parameterCount).map { _ in random.normal() * 0.2 }
        let network = ConvolutionalNetwork(architecture: architecture, outputSize: outputSize, parameters: parameters)
        let shape = architecture.input
        var frames = (0..<(rows * shape.count)).map { _ in UInt8(random.uniform(0, 256).rounded(.down)) }
        // The extremes of the pixel range.
        frames[0] = 0
        frames[1] = 255
        let batch = FrameBatch(shape: shape, rows: rows, pixels: frames)
        let outputs = network.forward(batch).output.storage
        let evaluator = ConvolutionalEvaluator(layout: layout, capacity: rows)
        evaluator.load(network)
        var evaluated = [Double](repeating: 0, count: rows * outputSize)
        frames.withUnsafeBufferPointer { f in
            evaluated.withUnsafeMutableBufferPointer { o in evaluator.evaluate(f.baseAddress!, rows: rows, into: o.baseAddress!) }
        }
        return Case(
            name: name, input: [shape.height, shape.width, shape.channels],
            convolutions: architecture.convolutions.map { Convolution(filters: $0.filters, kernel: $0.kernel, stride: $0.stride) },
            hiddenSizes: architecture.hiddenSizes, activation: architecture.activation.rawValue, outputSize: outputSize,
            parameters: parameters, rows: rows, frames: frames, outputs: outputs, evaluatorOutputs: evaluated)
    }

    @Test func writeConvolutionFixture() throws {
        guard ProcessInfo.processInfo.environment["TRPO_WRITE_FIXTURES"] == "1" else { return }
        let fixture = Fixture(
            description: "Written by Tests/LearnerTests/ConvolutionFixtureExport.swift (TRPO_WRITE_FIXTURES=1 swift test --filter ConvolutionFixtureExport). Arrays are row-major; images channels-last; a pixel p is read as p / 255.",
            cases: [
                // Two convolutions whose strides do not divide the image (rows and columns are
                // dropped at the edge), non-square input, several channels, two hidden layers.
                Self.makeCase(name: "two-conv-relu",
                              architecture: ConvolutionalArchitecture(
                                  input: ImageShape(height: 13, width: 11, channels: 3),
                                  convolutions: [ConvolutionSpec(filters: 4, kernel: 4, stride: 2),
                                                 ConvolutionSpec(filters: 5, kernel: 2, stride: 2)],
                                  hiddenSizes: [7, 6], activation: .relu),
                              outputSize: 6, rows: 5, seed: 1),
                Self.makeCase(name: "one-conv-tanh",
                              architecture: ConvolutionalArchitecture(
                                  input: ImageShape(height: 9, width: 9, channels: 2),
                                  convolutions: [ConvolutionSpec(filters: 3, kernel: 3, stride: 3)],
                                  hiddenSizes: [8], activation: .tanh),
                              outputSize: 4, rows: 3, seed: 2),
                // The geometry of Baselines' cnn_small (8×8 stride 4, 4×4 stride 2) on a smaller frame.
                Self.makeCase(name: "cnn-small-geometry",
                              architecture: ConvolutionalArchitecture(
                                  input: ImageShape(height: 28, width: 28, channels: 4),
                                  convolutions: [ConvolutionSpec(filters: 8, kernel: 8, stride: 4),
                                                 ConvolutionSpec(filters: 16, kernel: 4, stride: 2)],
                                  hiddenSizes: [16], activation: .relu),
                              outputSize: 9, rows: 4, seed: 3),
            ])
        try PythonFixture.write(fixture, named: "convolution_reference.json")
    }
}
