import Foundation

/// Round axis limits and evenly spaced ticks whose step is 1, 2 or 5 times a power of ten.
///
/// The scale covers the data range `[low, high]`: `lower ≤ low` and `upper ≥ high`, both
/// multiples of the step, with at most `maxIntervals` steps between them. It picks the smallest
/// such step. A range that is empty or negligible against its magnitude (below one part in
/// 10⁹) is first widened by 10% of its magnitude each way, or by 1 around zero, so a single
/// value still gets an axis around it.
///
/// Tick values are computed as `index × mantissa ÷ 10ⁿ` from integers, so a tick equals the
/// `Double` literal of the same decimal (`0.6`, not `0.6000000000000001`).
struct NiceScale: Equatable, Sendable {
    /// The step is `mantissa × 10^exponent`, with `mantissa` 1, 2 or 5.
    let mantissa: Int
    let exponent: Int
    /// The limits are `firstIndex × step` and `lastIndex × step`.
    let firstIndex: Int
    let lastIndex: Int

    /// - Precondition: `low` and `high` are finite, `low ≤ high`, `maxIntervals ≥ 2` (one
    ///   interval cannot cover a range that contains zero in its interior).
    init(covering low: Double, _ high: Double, maxIntervals: Int) {
        precondition(low.isFinite && high.isFinite && low <= high && maxIntervals >= 2)
        var (low, high) = (low, high)
        let magnitude = max(abs(low), abs(high))
        if high - low <= magnitude * 1e-9 {
            let pad = magnitude == 0 ? 1 : magnitude * 0.1
            (low, high) = (low - pad, high + pad)
        }
        var exponent = Int((log10((high - low) / Double(maxIntervals))).rounded(.down))
        while true {
            for mantissa in [1, 2, 5] {
                let step = NiceScale.decimal(mantissa, exponent)
                // The slack keeps a limit that is already a multiple of the step from growing by
                // a whole step through rounding error in the division; the checks against the
                // exact tick values undo it where it cut into the range.
                var first = Int((low / step + 1e-9).rounded(.down))
                var last = Int((high / step - 1e-9).rounded(.up))
                if NiceScale.decimal(first * mantissa, exponent) > low { first -= 1 }
                if NiceScale.decimal(last * mantissa, exponent) < high { last += 1 }
                if last - first <= maxIntervals {
                    (self.mantissa, self.exponent, firstIndex, lastIndex) = (mantissa, exponent, first, last)
                    return
                }
            }
            exponent += 1
        }
    }

    var lower: Double { value(at: firstIndex) }
    var upper: Double { value(at: lastIndex) }
    /// The tick values from `lower` to `upper`, ascending.
    var ticks: [Double] { (firstIndex...lastIndex).map(value(at:)) }

    /// `index × step`, rounded once.
    func value(at index: Int) -> Double {
        NiceScale.decimal(index * mantissa, exponent)
    }

    /// `significand × 10^exponent`, correctly rounded for exponents within ±22.
    static func decimal(_ significand: Int, _ exponent: Int) -> Double {
        exponent >= 0 ? Double(significand) * powerOfTen(exponent) : Double(significand) / powerOfTen(-exponent)
    }

    /// 10ⁿ for n ≥ 0; exact up to n = 22, where every power of ten is a `Double`.
    private static func powerOfTen(_ n: Int) -> Double {
        n <= 22 ? (0..<n).reduce(1.0) { value, _ in value * 10 } : pow(10, Double(n))
    }
}
