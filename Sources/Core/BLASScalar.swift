import CBLAS
import CKernels

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

    /// One Adam step in this precision (see ``Adam``); `c1`, `c2` are the bias corrections.
    static func adamStep(
        parameters: UnsafeMutablePointer<Self>, firstMoment: UnsafeMutablePointer<Self>,
        secondMoment: UnsafeMutablePointer<Self>, gradient: UnsafePointer<Self>, count: Int,
        learningRate: Self, beta1: Self, beta2: Self, epsilon: Self, c1: Self, c2: Self)
}

extension Double: BLASScalar {
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
