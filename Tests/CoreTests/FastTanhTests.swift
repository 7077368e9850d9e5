import CKernels
import Foundation
import Testing

/// The vectorised tanh kernels against the C library's tanh.
@Suite struct TanhKernelTests {
    static let samples: [Double] = {
        var xs: [Double] = []
        var x = -30.0
        while x < 30 { xs.append(x); x += 0.000_731 }
        return xs + [0.0, -0.0, 1e-300, -1e-20, 1e-9, 19.999, 20.0, 20.001, 700, -700, .infinity, -.infinity]
    }()

    @Test func doublePrecisionMatchesTheCLibrary() {
        var y = Self.samples
        trpo_tanh_f64(&y, y.count)
        let worst = zip(Self.samples, y).map { abs($1 - Foundation.tanh($0)) }.max()!
        #expect(worst <= 4e-16)
        var special: [Double] = [.nan, -0.0]
        trpo_tanh_f64(&special, 2)
        #expect(special[0].isNaN)
        #expect(special[1] == 0 && special[1].sign == .minus)
    }

    @Test func singlePrecisionIsWithinItsBound() {
        var y = Self.samples.map { Float($0) }
        trpo_tanh_f32(&y, y.count)
        let worst = zip(Self.samples, y).map { abs(Double($1) - Foundation.tanh(Double(Float($0)))) }.max()!
        #expect(worst < 1e-6)
    }
}
