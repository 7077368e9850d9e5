import Foundation
import Testing
@testable import Core

@Suite struct ValueFunctionTests {
    /// The first Adam step is −lr·m̂/(√v̂ + ε) with m̂ = g and v̂ = g² after bias correction,
    /// i.e. −lr·sign(g)·|g|/(|g| + ε): within lr·ε/|g| of −lr·sign(g), and 0 where g = 0.
    @Test func adamFirstStepIsSignOfGradient() {
        let lr = 0.01
        var adam = Adam(parameterCount: 5, learningRate: lr)
        var p: [Double] = [1, -2, 0.5, 3, 7]
        let start = p
        let g: [Double] = [0.3, -4, 1e-3, 0, -1e6]
        adam.step(&p, gradient: g)
        #expect(adam.steps == 1)
        for i in 0..<5 {
            let sign: Double = g[i] > 0 ? 1 : g[i] < 0 ? -1 : 0
            let bound = g[i] == 0 ? 0 : lr * 1e-8 / abs(g[i]) + 1e-15
            #expect(abs((p[i] - start[i]) - (-lr * sign)) <= bound, "parameter \(i)")
        }
        // Raw (uncorrected) moments: m = (1 − β₁) g, v = (1 − β₂) g².
        for i in 0..<5 {
            #expect(abs(adam.firstMoment[i] - 0.1 * g[i]) <= 4e-15 * abs(g[i]))
            #expect(abs(adam.secondMoment[i] - 0.001 * g[i] * g[i]) <= 4e-15 * g[i] * g[i])
        }
    }

    /// Second step for the first coordinate, by hand: g₁ = 0.3, g₂ = −0.1, lr = 0.01.
    ///   m = 0.9·0.03 + 0.1·(−0.1)        = 0.017
    ///   v = 0.999·0.00009 + 0.001·0.01    = 0.00009991
    ///   m̂ = 0.017 / (1 − 0.9²)  = 0.017 / 0.19     = 0.0894736842…
    ///   v̂ = 0.00009991 / (1 − 0.999²) = …/0.001999 = 0.0499799899…, √v̂ = 0.2235620495…
    ///   step = 0.01 · 0.0894736842 / 0.2235620495  = 0.0040021855…
    ///   θ: 1 → 1 − 0.01·0.3/(0.3 + 1e-8) = 0.9900000003333… → 0.98599781479…
    @Test func adamSecondStepByHand() {
        var adam = Adam(parameterCount: 1, learningRate: 0.01)
        var p: [Double] = [1]
        adam.step(&p, gradient: [0.3])
        adam.step(&p, gradient: [-0.1])
        #expect(adam.steps == 2)
        #expect(abs(adam.firstMoment[0] - 0.017) < 1e-15)
        #expect(abs(adam.secondMoment[0] - 0.00009991) < 1e-18)
        #expect(abs(p[0] - 0.9859978147928081) < 1e-12)
    }

    /// Fitting y = sin(x₀) + ½x₁ on [−2, 2]² raises the explained variance from the random
    /// initial network's (≤ 0.1) to ≥ 0.9; the report's numbers agree with the test's own
    /// evaluation of the network before and after.
    @Test func fitsASmoothTarget() {
        var random = RandomStream(seed: 1)
        let n = 256
        var x = Matrix(rows: n, columns: 2)
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            x[i, 0] = random.uniform(-2, 2)
            x[i, 1] = random.uniform(-2, 2)
            y[i] = sin(x[i, 0]) + 0.5 * x[i, 1]
        }
        var vf = ValueFunction(observationSize: 2, hiddenSizes: [32, 32], learningRate: 1e-3, random: &random)
        func predictions(_ net: MLP) -> [Double] {
            naiveForward(layerSizes: net.layerSizes, activation: net.activation, parameters: net.parameters, input: x).output.storage
        }
        let evBefore = explainedVariance(predicted: predictions(vf.network), targets: y)
        var c = ValueFitConfiguration()
        c.epochs = 100
        c.minibatchSize = 64
        c.learningRate = 1e-2
        let report = vf.fit(x, targets: y, configuration: c, random: &random)
        let after = predictions(vf.network)
        let evAfter = explainedVariance(predicted: after, targets: y)
        reportMeasurement("value fit EV before", evBefore)
        reportMeasurement("value fit EV after", evAfter)
        #expect(evBefore <= 0.1)
        #expect(evAfter >= 0.9)
        // The figures before and after the fit come from forward passes in the fit's precision
        // (`Float` by default): single-precision rounding of O(1) outputs through 32-wide layers.
        #expect(c.precision == .single)
        #expect(abs(report.explainedVarianceBefore - evBefore) < 1e-6)
        #expect(abs(report.explainedVarianceAfter - evAfter) < 1e-6)
        let mse = zip(after, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(n)
        #expect(relativeError(report.loss, mse) < 1e-5)
        #expect(report.adamSteps == c.epochs * 4)  // 256 / 64 minibatches per epoch
        #expect(vf.optimizer.steps == report.adamSteps)
    }
}
