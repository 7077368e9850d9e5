import Foundation
import Testing
@testable import Core

@Suite struct FastTanhTests {
    @Test func doublePrecisionMatchesTheCLibrary() {
        var worst = 0.0
        var x = -30.0
        while x < 30 {
            worst = max(worst, abs(fastTanh(x) - Foundation.tanh(x)))
            x += 0.000_731
        }
        for v in [0.0, -0.0, 1e-300, -1e-20, 1e-9, 19.999, 20.0, 20.001, 700, -700, .infinity, -.infinity] {
            worst = max(worst, abs(fastTanh(v) - Foundation.tanh(v)))
        }
        #expect(worst <= 4e-16)
        #expect(fastTanh(.nan).isNaN)
        #expect(fastTanh(-0.0).sign == .minus)
    }

    @Test func singlePrecisionSamplingTanhIsWithinItsBound() {
        var worst = 0.0
        var x = -30.0
        while x < 30 {
            worst = max(worst, abs(Double(rationalTanh(Float(x))) - Foundation.tanh(Double(Float(x)))))
            x += 0.000_731
        }
        #expect(worst < 1e-6)
    }
}
