import CKernels
import Foundation
import Testing
@testable import Core

/// The fused layer products (``BLASScalar/layerProduct(rows:n:k:a:lda:b:ldb:start:tanhOutput:ldh:c:ldc:)``
/// and ``BLASScalar/transposedProduct(kdim:n:rows:a:lda:g:ldg:c:ldc:)``) against the same
/// products computed term by term in `Double`, over shapes that exercise every tile of the
/// AVX-512 kernels (widths 1–130, partial vectors, row tails, k = 1, strides wider than the
/// matrices), every start and the fused tanh derivative; and the `Float` kernels against their
/// BLAS fallback.
///
/// Bound: entries of size O(1) summed over k ≤ 70 terms in `Float` are within ~1e-5 of the
/// exact sum; 1e-4 leaves slack, while a wrong or missing term shows at 1e-2 or worse.
@Suite struct LayerProductTests {
    /// rows, n, k
    static let shapes: [(Int, Int, Int)] = [
        (256, 64, 64), (256, 64, 11), (257, 3, 64), (13, 70, 5), (100, 130, 33), (7, 16, 1), (256, 11, 64),
        (31, 48, 17), (5, 33, 64), (1, 1, 1), (17, 64, 3), (40, 20, 9),
    ]

    enum Start: CaseIterable { case zero, accumulate, row }

    /// Strided row-major storage: `rows × columns` values with row stride `columns + pad`.
    struct Strided {
        var values: [Float]
        let rows: Int, columns: Int, stride: Int
        init(rows: Int, columns: Int, pad: Int, random: inout RandomStream) {
            self.rows = rows
            self.columns = columns
            stride = columns + pad
            values = (0..<(rows * stride)).map { _ in Float(random.uniform() * 2 - 1) }
        }
        subscript(r: Int, c: Int) -> Double { Double(values[r * stride + c]) }
    }

    @Test(arguments: [0, 3])
    func layerProductIsTheSumOfItsTerms(pad: Int) {
        var random = RandomStream(seed: 21)
        for (rows, n, k) in Self.shapes {
            let a = Strided(rows: rows, columns: k, pad: pad, random: &random)
            let b = Strided(rows: k, columns: n, pad: pad, random: &random)
            let h = Strided(rows: rows, columns: n, pad: pad, random: &random)
            let bias = (0..<n).map { _ in Float(random.uniform()) }
            let before = Strided(rows: rows, columns: n, pad: pad, random: &random)
            for start in Start.allCases {
                for fused in [false, true] {
                    var c = before
                    a.values.withUnsafeBufferPointer { ap in b.values.withUnsafeBufferPointer { bp in
                        h.values.withUnsafeBufferPointer { hp in bias.withUnsafeBufferPointer { biasp in
                            c.values.withUnsafeMutableBufferPointer { cp in
                                let s: ProductStart<Float> = switch start {
                                case .zero: .zero
                                case .accumulate: .accumulate
                                case .row: .row(biasp.baseAddress!)
                                }
                                Float.layerProduct(rows: rows, n: n, k: k, a: ap.baseAddress!, lda: a.stride,
                                                   b: bp.baseAddress!, ldb: b.stride, start: s,
                                                   tanhOutput: fused ? hp.baseAddress! : nil, ldh: h.stride,
                                                   c: cp.baseAddress!, ldc: c.stride)
                            }
                        } }
                    } }
                    var worst = 0.0
                    for r in 0..<rows {
                        for j in 0..<n {
                            var sum = switch start {
                            case .zero: 0.0
                            case .accumulate: before[r, j]
                            case .row: Double(bias[j])
                            }
                            for p in 0..<k { sum += a[r, p] * b[p, j] }
                            if fused { sum *= 1 - h[r, j] * h[r, j] }
                            worst = max(worst, abs(c[r, j] - sum))
                        }
                        // The padding between rows is never written.
                        for j in n..<c.stride { #expect(c.values[r * c.stride + j] == before.values[r * c.stride + j]) }
                    }
                    #expect(worst < 1e-4, "rows \(rows) n \(n) k \(k) start \(start) fused \(fused): error \(worst)")
                }
            }
        }
    }

    @Test(arguments: [0, 3])
    func transposedProductAddsTheWeightGradient(pad: Int) {
        var random = RandomStream(seed: 22)
        for (rows, n, kdim) in Self.shapes {
            let a = Strided(rows: rows, columns: kdim, pad: pad, random: &random)
            let g = Strided(rows: rows, columns: n, pad: pad, random: &random)
            let before = Strided(rows: kdim, columns: n, pad: pad, random: &random)
            var c = before
            a.values.withUnsafeBufferPointer { ap in g.values.withUnsafeBufferPointer { gp in
                c.values.withUnsafeMutableBufferPointer { cp in
                    Float.transposedProduct(kdim: kdim, n: n, rows: rows, a: ap.baseAddress!, lda: a.stride,
                                            g: gp.baseAddress!, ldg: g.stride, c: cp.baseAddress!, ldc: c.stride)
                }
            } }
            var worst = 0.0
            for i in 0..<kdim {
                for j in 0..<n {
                    var sum = before[i, j]
                    for r in 0..<rows { sum += a[r, i] * g[r, j] }
                    // Sums over up to 257 rows: scale the bound by √rows.
                    worst = max(worst, abs(c[i, j] - sum) / sqrt(Double(rows)))
                }
            }
            #expect(worst < 1e-4, "rows \(rows) n \(n) kdim \(kdim): error \(worst)")
        }
    }

    /// On a processor with AVX-512 the kernels run (and agree with BLAS to rounding); without
    /// it they decline, and the products are BLAS's.
    @Test func kernelsRunWhereTheProcessorHasThem() {
        let (rows, n, k) = (50, 64, 20)
        var random = RandomStream(seed: 23)
        let a = (0..<(rows * k)).map { _ in Float(random.uniform()) }
        let b = (0..<(k * n)).map { _ in Float(random.uniform()) }
        var kernel = [Float](repeating: 0, count: rows * n), blas = kernel
        let ran = trpo_sdense_product(rows, n, k, a, k, b, n, 0, nil, nil, n, &kernel, n)
        Float.blasLayerProduct(rows: rows, n: n, k: k, a: a, lda: k, b: b, ldb: n, start: .zero,
                               tanhOutput: nil, ldh: n, c: &blas, ldc: n)
        let hasAVX512 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512f") ?? false
        #expect((ran == 1) == hasAVX512)
        if ran == 1 {
            #expect(relativeError(kernel.map(Double.init), blas.map(Double.init)) < 1e-6)
        }
        // Narrower than a vector: always declined.
        #expect(trpo_sdense_product(rows, 3, k, a, k, b, n, 0, nil, nil, 3, &kernel, 3) == 0)
    }
}
