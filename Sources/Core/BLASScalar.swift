import CBLAS
import CKernels
import Foundation

/// A floating-point type the dense kernels run in: the BLAS products and the vectorised
/// elementwise kernels of one precision, in the spirit of swift-numerics' `Real`.
///
/// `Float` and `Double` conform (calling `cblas_s*` / `cblas_d*` and the `_f32` / `_f64`
/// kernels of `CKernels`); the network passes in ``DenseKernels`` are written once against
/// this protocol and specialised for each. The learner keeps its parameters, its conjugate-
/// gradient vectors and every reduction that decides a step in `Double`; `Float` is for the
/// large products (see docs/architecture.md, "Precision").
public protocol BLASScalar: BinaryFloatingPoint, Sendable, Codable {
    /// `C = alpha · op(A) · op(B) + beta · C` for row-major matrices, where `op(A)` is
    /// `m × k`, `op(B)` is `k × n` and `C` is `m × n`; the leading dimensions are the stored
    /// row lengths. The corresponding C functions are `cblas_sgemm` / `cblas_dgemm`.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// `y = alpha · op(A) · x + beta · y` for a row-major `m × n` matrix `A`. The
    /// corresponding C functions are `cblas_sgemv` / `cblas_dgemv`.
    static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, beta: Self, y: UnsafeMutablePointer<Self>)

    /// `x_i = tanh(x_i)` by the vectorised kernel of this precision.
    static func tanhInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)

    /// `g_i = g_i · (1 − h_i²)`: back (or forward) through tanh given its output `h`.
    static func tanhBackward(_ g: UnsafeMutablePointer<Self>, output h: UnsafePointer<Self>, count: Int)

    /// Every row of the row-major `rows × width` matrix `z` set to `row` (`width` values).
    static func broadcastRows(_ z: UnsafeMutablePointer<Self>, row: UnsafePointer<Self>, rows: Int, width: Int)

    /// A layer's product on a row block, fused: `C = start + A·B`, then `C ⊙= 1 − H²` when
    /// `tanhOutput` is given (back or forward through tanh, whose output `H` is `rows × n`
    /// with row stride `ldh`). `A` is `rows × k`, `B` is `k × n` and `C` is `rows × n`, all
    /// row-major with the given strides; `C` overlaps none of the others. `Float` runs the
    /// AVX-512 or AVX2 kernel `trpo_sdense_product` where it takes the shape; otherwise (and for
    /// `Double`) BLAS and the elementwise kernels, ``blasLayerProduct(rows:n:k:a:lda:b:ldb:start:tanhOutput:ldh:c:ldc:)``.
    static func layerProduct(
        rows: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        start: ProductStart<Self>, tanhOutput: UnsafePointer<Self>?, ldh: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int)

    /// A layer's weight gradient on a row block: `C += Aᵀ G`, `A` `rows × kdim`, `G` `rows × n`,
    /// `C` `kdim × n`, row-major with the given strides (`Float`: the AVX-512 kernel
    /// `trpo_sdense_transposed_product` where the processor has it, otherwise BLAS).
    static func transposedProduct(
        kdim: Int, n: Int, rows: Int, a: UnsafePointer<Self>, lda: Int, g: UnsafePointer<Self>, ldg: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int)

    /// One Adam step in this precision (see ``Adam``); `c1`, `c2` are the bias corrections.
    static func adamStep(
        parameters: UnsafeMutablePointer<Self>, firstMoment: UnsafeMutablePointer<Self>,
        secondMoment: UnsafeMutablePointer<Self>, gradient: UnsafePointer<Self>, count: Int,
        learningRate: Self, beta1: Self, beta2: Self, epsilon: Self, c1: Self, c2: Self)
}

/// What a ``BLASScalar/layerProduct(rows:n:k:a:lda:b:ldb:start:tanhOutput:ldh:c:ldc:)`` adds
/// its product to.
public enum ProductStart<S: BLASScalar> {
    /// Nothing: `C = A·B`.
    case zero
    /// The existing `C`: `C += A·B`.
    case accumulate
    /// A row of `n` values (a layer's biases) in every row: `C = 1 bᵀ + A·B`.
    case row(UnsafePointer<S>)
}

extension BLASScalar {
    /// ``layerProduct(rows:n:k:a:lda:b:ldb:start:tanhOutput:ldh:c:ldc:)`` by BLAS: the bias
    /// broadcast, `gemm`, then the tanh derivative as a separate pass.
    @inline(__always)
    public static func blasLayerProduct(
        rows: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        start: ProductStart<Self>, tanhOutput: UnsafePointer<Self>?, ldh: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        var beta: Self = 1
        switch start {
        case .zero: beta = 0
        case .accumulate: break
        case .row(let bias):
            if ldc == n { broadcastRows(c, row: bias, rows: rows, width: n) } else {
                for r in 0..<rows { (c + r &* ldc).update(from: bias, count: n) }
            }
        }
        gemm(transposeA: false, transposeB: false, m: rows, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
        guard let h = tanhOutput else { return }
        if ldc == n && ldh == n { tanhBackward(c, output: h, count: rows &* n) } else {
            for r in 0..<rows { tanhBackward(c + r &* ldc, output: h + r &* ldh, count: n) }
        }
    }

    /// ``transposedProduct(kdim:n:rows:a:lda:g:ldg:c:ldc:)`` by BLAS.
    @inline(__always)
    public static func blasTransposedProduct(
        kdim: Int, n: Int, rows: Int, a: UnsafePointer<Self>, lda: Int, g: UnsafePointer<Self>, ldg: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        gemm(transposeA: true, transposeB: false, m: kdim, n: n, k: rows, alpha: 1, a: a, lda: lda, b: g, ldb: ldg,
             beta: 1, c: c, ldc: ldc)
    }
}

extension Double: BLASScalar {
    @inline(__always)
    public static func layerProduct(
        rows: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        start: ProductStart<Double>, tanhOutput: UnsafePointer<Double>?, ldh: Int,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        blasLayerProduct(rows: rows, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, start: start,
                         tanhOutput: tanhOutput, ldh: ldh, c: c, ldc: ldc)
    }

    @inline(__always)
    public static func transposedProduct(
        kdim: Int, n: Int, rows: Int, a: UnsafePointer<Double>, lda: Int, g: UnsafePointer<Double>, ldg: Int,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        blasTransposedProduct(kdim: kdim, n: n, rows: rows, a: a, lda: lda, g: g, ldg: ldg, c: c, ldc: ldc)
    }

    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
    ) {
        guard m > 0, n > 0 else { return }
        cblas_dgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }

    @inline(__always)
    public static func tanhInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) { trpo_tanh_f64(x, count) }

    @inline(__always)
    public static func tanhBackward(_ g: UnsafeMutablePointer<Double>, output h: UnsafePointer<Double>, count: Int) {
        trpo_tanh_backward_f64(g, h, count)
    }

    @inline(__always)
    public static func broadcastRows(_ z: UnsafeMutablePointer<Double>, row: UnsafePointer<Double>, rows: Int, width: Int) {
        trpo_broadcast_rows_f64(z, row, rows, width)
    }

    @inline(__always)
    public static func adamStep(
        parameters: UnsafeMutablePointer<Double>, firstMoment: UnsafeMutablePointer<Double>,
        secondMoment: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Double>, count: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, c1: Double, c2: Double
    ) {
        trpo_adam_step(parameters, firstMoment, secondMoment, gradient, count, learningRate, beta1, beta2, epsilon, c1, c2)
    }
}

extension Float: BLASScalar {
    /// Whether the layer products run the AVX-512 or AVX2 kernels (`TRPO_DENSE_KERNELS=blas` turns
    /// them off, for measuring one against the other).
    static let usesDenseKernels = ProcessInfo.processInfo.environment["TRPO_DENSE_KERNELS"] != "blas"

    @inline(__always)
    public static func layerProduct(
        rows: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        start: ProductStart<Float>, tanhOutput: UnsafePointer<Float>?, ldh: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard rows > 0, n > 0 else { return }
        if usesDenseKernels {
            let (mode, bias): (Int32, UnsafePointer<Float>?) = switch start {
            case .zero: (0, nil)
            case .accumulate: (1, nil)
            case .row(let row): (2, row)
            }
            if trpo_sdense_product(rows, n, k, a, lda, b, ldb, mode, bias, tanhOutput, ldh, c, ldc) == 1 { return }
        }
        blasLayerProduct(rows: rows, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, start: start,
                         tanhOutput: tanhOutput, ldh: ldh, c: c, ldc: ldc)
    }

    @inline(__always)
    public static func transposedProduct(
        kdim: Int, n: Int, rows: Int, a: UnsafePointer<Float>, lda: Int, g: UnsafePointer<Float>, ldg: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard kdim > 0, n > 0 else { return }
        if usesDenseKernels, trpo_sdense_transposed_product(kdim, n, rows, a, lda, g, ldg, c, ldc) == 1 { return }
        blasTransposedProduct(kdim: kdim, n: n, rows: rows, a: a, lda: lda, g: g, ldg: ldg, c: c, ldc: ldc)
    }

    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }

    @inline(__always)
    public static func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) { trpo_tanh_f32(x, count) }

    @inline(__always)
    public static func tanhBackward(_ g: UnsafeMutablePointer<Float>, output h: UnsafePointer<Float>, count: Int) {
        trpo_tanh_backward_f32(g, h, count)
    }

    @inline(__always)
    public static func broadcastRows(_ z: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, rows: Int, width: Int) {
        trpo_broadcast_rows_f32(z, row, rows, width)
    }

    @inline(__always)
    public static func adamStep(
        parameters: UnsafeMutablePointer<Float>, firstMoment: UnsafeMutablePointer<Float>,
        secondMoment: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, c1: Float, c2: Float
    ) {
        trpo_adam_step_f32(parameters, firstMoment, secondMoment, gradient, count, learningRate, beta1, beta2, epsilon, c1, c2)
    }
}

extension Array where Element == Double {
    /// Calls `body` with the values in `S`: the array's own storage when `S == Double`, a
    /// rounded copy otherwise (network parameters and real-valued inputs entering a pass of
    /// precision `S`).
    func withScalars<S: BLASScalar, R>(as _: S.Type, _ body: (UnsafePointer<S>) -> R) -> R {
        if S.self == Double.self {
            return withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: S.self)) }
        }
        let rounded = map { S($0) }
        return rounded.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
