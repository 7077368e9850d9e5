#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Core

/// The arithmetic NumPy performs where it differs from the obvious Swift expression.
///
/// The classic-control environments are reproduced bit for bit, so every operation has to
/// round exactly as NumPy's does. Two places need care:
///
/// - `x ** 2` on a float64 or float32 NumPy scalar calls libm's `pow`/`powf`, which glibc
///   does not always round correctly (about 1 argument in 1500 differs from `x * x` by one
///   ulp). LLVM rewrites a direct call `pow(x, 2)` into `x * x` in optimised builds, so the
///   functions are called through pointers resolved at run time, which it cannot see
///   through.
/// - float32 values are stored and compared as `Float`; ``float32(_:)`` rounds a `Double`
///   the way `np.float32(x)` does (round to nearest even).
enum NumPy {
    /// libm's `pow`, as `np.float64 ** y` and Python's `float ** y` and `math.pow` evaluate it.
    static let pow: @convention(c) (Double, Double) -> Double = resolve("pow")
    /// libm's `powf`, as `np.float32 ** y` evaluates it.
    static let powf: @convention(c) (Float, Float) -> Float = resolve("powf")

    private static func resolve<F>(_ name: String) -> F {
        #if canImport(Darwin)
        let handle = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #else
        let handle: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT
        #endif
        guard let symbol = dlsym(handle, name) else {
            fatalError("libm function \(name) not found")
        }
        return unsafeBitCast(symbol, to: F.self)
    }

    /// `x` rounded to float32 and widened again: the value `np.float32(x)` holds.
    @inline(__always)
    static func float32(_ x: Double) -> Double { Double(Float(x)) }

    /// `a % b` for float64 NumPy scalars (and Python floats): the floored remainder, which
    /// takes the sign of `b`.
    @inline(__always)
    static func remainder(_ a: Double, _ b: Double) -> Double {
        let mod = a.truncatingRemainder(dividingBy: b)  // C fmod, exact
        if mod == 0 { return b < 0 ? -0.0 : 0.0 }
        return (b < 0) != (mod < 0) ? mod + b : mod
    }
}

extension Simulator {
    /// Checks an external state vector for ``setState(_:)``: `count` finite values.
    func checkState(_ state: [Double], count: Int) throws(SimulatorError) {
        guard state.count == count else { throw .stateLength(expected: count, got: state.count) }
        guard state.allSatisfy(\.isFinite) else { throw .nonFiniteState }
    }

    /// Gymnasium's `TimeLimit` verdict after a step that brought the count to `elapsedSteps`:
    /// truncated once the limit is reached, unless that step terminated (see ``Simulator``).
    @inline(__always)
    func truncates(terminated: Bool) -> Bool {
        !terminated && elapsedSteps >= maxEpisodeSteps
    }
}
