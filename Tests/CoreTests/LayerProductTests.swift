import CKernels
import Foundation
import Testing
@testable import Core

/// The fused layer products (``BLASScalar/layerProduct(rows:n:k:a:lda:b:ldb:start:tanhOutput:ldh:c:ldc:)``
/// and ``BLASScalar/transposedProduct(kdim:n:rows:a:lda:g:ldg:c:ldc:)``) against the same
/// products computed term by term in `Double`, over shapes that exercise every tile of the
/// AVX-512 and AVX2 kernels (widths 1–130, partial vectors, row tails, k = 1 to 600, strides
/// wider than the matrices), every start and the fused tanh derivative; and the `Float` kernels
/// against their BLAS fallback.
///
/// Bound: the rounding of a sum of k terms in `Float` grows with √k (about 1e-6 at k = 64 for
/// entries of size O(1)), so the error is compared per √k: 1e-4 leaves slack, while a wrong or
/// missing term shows at 1e-2 or worse.
@Suite struct LayerProductTests {
    /// rows, n, k
    static let shapes: [(Int, Int, Int)] = [
        (256, 64, 64), (256, 64, 11), (257, 3, 64), (13, 70, 5), (100, 130, 33), (7, 16, 1), (256, 11, 64),
        (31, 48, 17), (5, 33, 64), (1, 1, 1), (17, 64, 3), (40, 20, 9), (29, 24, 7), (30, 64, 600), (45, 8, 256),
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
                            worst = max(worst, abs(c[r, j] - sum) / sqrt(Double(k)))
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

    /// The kernels run on the instruction set the processor has (AVX-512, else AVX2 with FMA)
    /// and agree with BLAS to rounding; without either they decline, and the products are
    /// BLAS's. AVX2 takes only C = start + A·B with n a multiple of 8 and k ≤ 512.
    @Test func kernelsRunWhereTheProcessorHasThem() {
        let (rows, n, k) = (50, 64, 20)
        var random = RandomStream(seed: 23)
        let a = (0..<(rows * 600)).map { _ in Float(random.uniform()) }
        let b = (0..<(600 * n)).map { _ in Float(random.uniform()) }
        var kernel = [Float](repeating: 0, count: rows * n), blas = kernel
        let ran = trpo_sdense_product(rows, n, k, a, k, b, n, 0, nil, nil, n, &kernel, n)
        Float.blasLayerProduct(rows: rows, n: n, k: k, a: a, lda: k, b: b, ldb: n, start: .zero,
                               tanhOutput: nil, ldh: n, c: &blas, ldc: n)
        let flags = Set(((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let expected: Int32 = flags.contains("avx512f") ? 1 : flags.contains("avx2") && flags.contains("fma") ? 2 : 0
        #expect(trpo_sdense_instruction_set() == expected)
        #expect(ran == (expected == 0 ? 0 : 1))
        if ran == 1 {
            #expect(relativeError(kernel.map(Double.init), blas.map(Double.init)) < 1e-6)
        }
        // One 8-float vector (a convolution's 8 filters): AVX2 takes it, AVX-512 leaves it to BLAS.
        #expect(trpo_sdense_product(rows, 8, k, a, k, b, 8, 0, nil, nil, 8, &kernel, 8) == (expected == 2 ? 1 : 0))
        // AVX2 declines widths that are not whole vectors and inner dimensions past L1;
        // AVX-512 takes both.
        #expect(trpo_sdense_product(rows, 60, k, a, k, b, 60, 0, nil, nil, 60, &kernel, 60) == (expected == 1 ? 1 : 0))
        #expect(trpo_sdense_product(rows, n, 600, a, 600, b, n, 0, nil, nil, n, &kernel, n) == (expected == 1 ? 1 : 0))
        #expect(trpo_sdense_transposed_product(k, n, rows, a, k, b, n, &kernel, n) == (expected == 1 ? 1 : 0))
        // Narrower than a vector: always declined.
        #expect(trpo_sdense_product(rows, 3, k, a, k, b, n, 0, nil, nil, 3, &kernel, 3) == 0)
    }
}
