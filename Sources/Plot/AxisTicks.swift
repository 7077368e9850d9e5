import Foundation

/// How the tick values of an axis are written.
public enum TickFormat: Sendable, Equatable {
    /// Decimal numbers with as many decimals as the tick step needs, the same on every tick:
    /// `−1200`, `0.0`, `0.5`, `1.0`. Axes whose ticks all lie below 10⁻³ in magnitude use
    /// scientific notation with the largest tick's exponent: `0`, `0.5e−4`, `1.0e−4`.
    case plain
    /// Counts with a k, M or B suffix: `0`, `500k`, `1.2M`.
    case compactCount
    /// Durations given in seconds. Shown in seconds, minutes or hours, whichever suits the
    /// largest value (below 2 min, below 2 h, beyond); the unit is appended to the axis label.
    case duration
}

/// The ticks of one axis: the limits and positions in data units, and their labels.
struct AxisTicks: Sendable {
    /// The scale in display units (minutes for a duration shown in minutes).
    let scale: NiceScale
    /// Data units per display unit: 60 for minutes, 1 otherwise.
    let unitSize: Double
    /// The display unit for the axis label (`s`, `min`, `h`), `nil` when there is none.
    let unitName: String?
    /// One label per tick, lowest first.
    let labels: [String]

    /// The ticks for data spanning `[low, high]` with at most `maxIntervals` steps.
    ///
    /// - Precondition: as for ``NiceScale/init(covering:_:maxIntervals:)``.
    init(format: TickFormat, covering low: Double, _ high: Double, maxIntervals: Int) {
        switch format {
        case .plain, .compactCount:
            (unitSize, unitName) = (1, nil)
        case .duration:
            let longest = max(abs(low), abs(high))
            (unitSize, unitName) = longest < 120 ? (1, "s") : longest < 7200 ? (60, "min") : (3600, "h")
        }
        let scale = NiceScale(covering: low / unitSize, high / unitSize, maxIntervals: maxIntervals)
        let ticks = scale.ticks
        switch format {
        case .plain:
            let largest = max(abs(scale.lower), abs(scale.upper))
            if largest < 1e-3 {
                let power = Int((log10(largest) + 1e-12).rounded(.down))
                labels = ticks.map { TickLabel.scientific($0, scale, power: power) }
            } else {
                labels = ticks.map { TickLabel.plain($0, scale) }
            }
        case .compactCount:
            labels = ticks.map { TickLabel.compactCount($0, scale) }
        case .duration:
            labels = ticks.map { TickLabel.plain($0, scale) }
        }
        self.scale = scale
    }

    /// The lower limit in data units.
    var lower: Double { scale.lower * unitSize }
    /// The upper limit in data units.
    var upper: Double { scale.upper * unitSize }
    /// The tick positions in data units, lowest first.
    var positions: [Double] { scale.ticks.map { $0 * unitSize } }
}

/// Tick label text. Every label shows its tick exactly and uses the minus sign U+2212 for
/// negative values.
enum TickLabel {
    /// `−1200`, `0.25`, `1.00`: the decimals of the step on every tick.
    static func plain(_ value: Double, _ scale: NiceScale) -> String {
        fixed(value, decimals: max(0, -scale.exponent), trimmingZeros: false)
    }

    /// `0`, `950`, `500k`, `1.25M`, `3B`: no trailing zeros.
    static func compactCount(_ value: Double, _ scale: NiceScale) -> String {
        let units = [(9, "B"), (6, "M"), (3, "k")]
        let (power, suffix) = units.first { abs(value) >= NiceScale.decimal(1, $0.0) } ?? (0, "")
        let scaled = value / NiceScale.decimal(1, power)
        return fixed(scaled, decimals: max(0, power - scale.exponent), trimmingZeros: true) + suffix
    }

    /// `0`, `0.5e−4`, `1.0e−4` for `power` −4: the value over 10^`power`, with the step's decimals.
    static func scientific(_ value: Double, _ scale: NiceScale, power: Int) -> String {
        if value == 0 { return "0" }
        let scaled = value / NiceScale.decimal(1, power)
        return fixed(scaled, decimals: max(0, power - scale.exponent), trimmingZeros: false) + "e"
            + fixed(Double(power), decimals: 0, trimmingZeros: false)
    }

    /// `value` rounded to `decimals` places, with `minus` before negatives and, if
    /// `trimmingZeros`, without trailing zeros after the point (nor a bare point).
    static func fixed(_ value: Double, decimals: Int, trimmingZeros: Bool, minus: String = "−") -> String {
        let scaled = (abs(value) * NiceScale.decimal(1, decimals)).rounded()
        guard scaled < 1e15 else { return (value < 0 ? minus : "") + String(abs(value)) }
        var digits = String(UInt64(scaled))
        if decimals > 0 {
            digits = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
            while trimmingZeros && digits.last == "0" { digits.removeLast() }
            if digits.last == "." { digits.removeLast() }
        }
        return (value < 0 && scaled != 0 ? minus : "") + digits
    }
}
