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

/// The elementwise kernels of the dense passes against the plain expressions they replace,
/// bit for bit, on odd lengths that exercise every vector tail.
@Suite struct ElementwiseKernelTests {
    @Test func tanhBackwardIsThePlainExpression() {
        for n in [0, 1, 7, 16, 33, 1000] {
            let h = (0..<n).map { sin(Double($0) * 0.37) * 0.999 }
            let g = (0..<n).map { cos(Double($0) * 1.3) * 5 }
            var out = g
            trpo_tanh_backward_f64(&out, h, n)
            #expect(out == zip(g, h).map { $0 * (1 - $1 * $1) })
            let (hf, gf) = (h.map(Float.init), g.map(Float.init))
            var outf = gf
            trpo_tanh_backward_f32(&outf, hf, n)
            #expect(outf == zip(gf, hf).map { $0 * (1 - $1 * $1) })
        }
    }

    @Test func broadcastRowsFillsEveryRow() {
        for (rows, width) in [(0, 3), (1, 1), (5, 3), (17, 64), (3, 67)] {
            let row = (0..<width).map { Double($0) - 1.5 }
            var z = [Double](repeating: .nan, count: rows * width + 1)
            trpo_broadcast_rows_f64(&z, row, rows, width)
            #expect(Array(z[..<(rows * width)]) == Array((0..<rows).map { _ in row }.joined()))
            #expect(z[rows * width].isNaN)  // nothing past the matrix
            var zf = [Float](repeating: .nan, count: rows * width + 1)
            trpo_broadcast_rows_f32(&zf, row.map(Float.init), rows, width)
            #expect(Array(zf[..<(rows * width)]) == Array((0..<rows).map { _ in row.map(Float.init) }.joined()))
            #expect(zf[rows * width].isNaN)
        }
    }
}
