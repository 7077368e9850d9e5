import CBLAS
import CGlibcExtras
import CKernels
import Glibc

/// A dense row-major matrix of `Double`: element (i, j) is `storage[i * columns + j]`.
///
/// Batches are matrices with one sample per row: observations `[n × observationSize]`,
/// network outputs `[n × outputSize]`.
public struct Matrix: Sendable, Equatable, Codable {
    public var rows: Int
    public var columns: Int
    public var storage: [Double]

    /// A zero matrix.
    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        storage = [Double](repeating: 0, count: rows * columns)
    }

    /// A matrix whose elements the caller overwrites entirely before reading any (saves the
    /// zero fill on large per-iteration buffers).
    init(uninitializedRows rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        storage = [Double](unsafeUninitializedCapacity: rows * columns) { _, count in count = rows * columns }
    }

    /// A matrix over existing row-major storage.
    /// - Precondition: `storage.count == rows * columns`.
    public init(rows: Int, columns: Int, storage: [Double]) {
        precondition(storage.count == rows * columns, "matrix storage has \(storage.count) values, expected \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    @inlinable
    public subscript(row: Int, column: Int) -> Double {
        get { storage[row &* columns &+ column] }
        set { storage[row &* columns &+ column] = newValue }
    }

    /// The rows at `indices`, in that order.
    public func gatheringRows(_ indices: [Int]) -> Matrix {
        var result = Matrix(rows: indices.count, columns: columns)
        storage.withUnsafeBufferPointer { src in
            result.storage.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    for j in 0..<columns { dst[r &* columns &+ j] = src[i &* columns &+ j] }
                }
            }
        }
        return result
    }
}

/// Process-wide BLAS settings (the products themselves are ``BLASScalar`` requirements).
enum BLAS {
    /// Limits OpenBLAS's own thread pool (1 keeps skinny products fast and leaves cores to
    /// samplers). The corresponding C function is `openblas_set_num_threads`.
    static func setThreadCount(_ count: Int) { openblas_set_num_threads(Int32(count)) }
}

/// Process-wide numeric settings.
public enum NumericsRuntime {
    /// Makes OpenBLAS use the kernels of this CPU, restarting the program if it must.
    ///
    /// OpenBLAS picks its kernels once, when it loads, from the CPU's model number. A CPU newer
    /// than the library gets its Prescott (SSE3) kernels: Debian 12's OpenBLAS 0.3.21 does this
    /// on this project's Xeons (family 6, model 207), where they make CartPole's 100,000-step
    /// run take 3.3 s instead of 1.6 s (docs/benchmarks.md). When OpenBLAS runs Prescott on a
    /// CPU with AVX2 or AVX-512 and `OPENBLAS_CORETYPE` is unset, this sets it to the matching
    /// core ("Haswell", "SkylakeX") and has OpenBLAS choose its kernels again in this process
    /// (a dynamic-architecture OpenBLAS, as Debian's, can); failing that, it re-executes
    /// `/proc/self/exe` with the same arguments (same process id). Children inherit the
    /// variable, so their OpenBLAS loads with the right kernels. A choice the user made with
    /// `OPENBLAS_CORETYPE` is kept. Call first thing in `main`, before any thread starts;
    /// returns when nothing needs doing, the kernels were changed, or the re-execution failed.
    public static func useThisCPUsBLASKernels() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let chosen = openblas_get_corename(),
              String(cString: chosen).lowercased() == "prescott",
              let core = trpo_openblas_core_for_this_cpu()
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        if trpo_openblas_reselect_kernels() == 1, let now = openblas_get_corename(),
           String(cString: now).lowercased() == String(cString: core).lowercased() {
            return
        }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // execv failed: run on as it was
    }

    /// The OpenBLAS kernels in use (e.g. `SkylakeX`), for reports.
    public static var blasCore: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// The instruction set of trpo's single-precision layer-product kernels on this CPU
    /// (`"AVX-512"` or `"AVX2"`), or nil when every product is sgemm's (neither, or
    /// `TRPO_DENSE_KERNELS=blas`), for reports: the two sum in different orders, so runs on
    /// either side agree only to rounding.
    public static var layerProductKernels: String? {
        guard Float.usesDenseKernels else { return nil }
        return switch trpo_sdense_instruction_set() {
        case 1: "AVX-512"
        case 2: "AVX2"
        default: nil
        }
    }

    /// Limits the BLAS thread pool; call once at start-up.
    public static func setBLASThreads(_ count: Int) { BLAS.setThreadCount(count) }

    /// Keeps large buffers on the heap instead of fresh memory maps, so the learner's
    /// per-iteration batch matrices reuse pages rather than fault in zeroed ones each time
    /// (measured: page faults were ~10 % of a policy step on 32k samples). Call once at
    /// start-up.
    public static func retainFreedMemory() {
        _ = trpo_retain_freed_memory()
    }
}

/// Dot product of two equally long vectors.
@inlinable
public func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            for i in 0..<a.count { s += a[i] * b[i] }
        }
    }
    return s
}

/// `y += alpha · x`.
@inlinable
public func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    precondition(x.count == y.count)
    x.withUnsafeBufferPointer { x in
        y.withUnsafeMutableBufferPointer { y in
            for i in 0..<x.count { y[i] += alpha * x[i] }
        }
    }
}

extension Array where Element == Double {
    /// True when every element is finite.
    @inlinable public var allFinite: Bool {
        withUnsafeBufferPointer { b in
            var ok = true
            for v in b where !v.isFinite { ok = false; break }
            return ok
        }
    }
}
