import Foundation

/// A logarithmic axis: limits at whole powers of ten around a positive data range, and ticks
/// at the powers of ten between them (also at 2 and 5 times each power when the axis spans at
/// most two decades, so a short axis still has labelled ticks inside it).
///
/// Positions are fractions of the axis: `log₁₀(v / lower) / log₁₀(upper / lower)`. Tick values
/// are built from integers with ``NiceScale/decimal(_:_:)``, so `0.002` is the `Double` literal
/// `0.002`.
struct LogScale: Equatable, Sendable {
    /// The limits are 10^`lowerExponent` and 10^`upperExponent`, with `upperExponent > lowerExponent`.
    let lowerExponent: Int
    let upperExponent: Int

    /// - Precondition: `0 < low ≤ high`, both finite. A range inside one power of ten (or a
    ///   single value that is one) gets the decade above its lower limit.
    init(covering low: Double, _ high: Double) {
        precondition(low > 0 && high.isFinite && low <= high, "a log axis needs 0 < low ≤ high, finite")
        // The slack keeps an exact power of ten (log10 of which may round) on its own decade.
        let lower = Int((log10(low) + 1e-12).rounded(.down))
        let upper = Int((log10(high) - 1e-12).rounded(.up))
        (lowerExponent, upperExponent) = (lower, max(upper, lower + 1))
    }

    var lower: Double { NiceScale.decimal(1, lowerExponent) }
    var upper: Double { NiceScale.decimal(1, upperExponent) }

    /// The tick values, ascending: every power of ten from ``lower`` to ``upper``, with 2× and 5×
    /// each power in between when the axis spans one or two decades.
    var ticks: [Double] { tickParts.map { NiceScale.decimal($0.mantissa, $0.exponent) } }

    /// One label per tick of ``ticks``: decimals from 0.001 to 10 000 (`0.002`, `50`, `1000`),
    /// powers of ten beyond (`10⁵`, `2×10⁻⁶`), with the minus sign U+2212.
    var labels: [String] { tickParts.map { LogScale.label(mantissa: $0.mantissa, exponent: $0.exponent) } }

    /// Where `value` lies on the axis, 0 at ``lower`` and 1 at ``upper`` (outside [0, 1] for
    /// values beyond the limits, −∞ for 0).
    func fraction(_ value: Double) -> Double {
        (log10(value) - Double(lowerExponent)) / Double(upperExponent - lowerExponent)
    }

    private var tickParts: [(mantissa: Int, exponent: Int)] {
        let mantissas = upperExponent - lowerExponent <= 2 ? [1, 2, 5] : [1]
        return (lowerExponent..<upperExponent).flatMap { e in mantissas.map { ($0, e) } } + [(1, upperExponent)]
    }

    static func label(mantissa: Int, exponent: Int) -> String {
        if (-3...4).contains(exponent) {
            return TickLabel.fixed(NiceScale.decimal(mantissa, exponent), decimals: max(0, -exponent), trimmingZeros: true)
        }
        let power = "10" + superscript(exponent)
        return mantissa == 1 ? power : "\(mantissa)×" + power
    }

    /// `−12` as `⁻¹²`.
    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(abs(n)).map { digits[Int(String($0))!] }
    }
}
