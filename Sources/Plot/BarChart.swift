import Foundation

/// A self-contained SVG of labelled horizontal bars, one panel per metric (for example the
/// variance study's total variance and cosine per estimator), each bar with an optional
/// confidence-interval whisker, on a linear or logarithmic axis with ticks.
///
/// A label whose value in a panel is not a number to draw (an undefined statistic) gets a
/// ``Entry/gap(_:)``: a dashed outline across the panel with the reason written in it, never a
/// bar, so it cannot be read as a value of zero.
public struct BarChart {
    /// How a panel's axis maps values to positions.
    public enum Scale: Sendable, Equatable {
        /// Linear from zero (or the lowest value, if negative); ticks as plain decimals.
        case linear
        /// Linear from zero; ticks as counts (`10k`, `1.2M`).
        case counts
        /// Logarithmic between powers of ten (see ``LogScale``); bars start at the axis's lower
        /// limit. Every bar value must be positive; whisker ends at or below zero are drawn
        /// clipped at the axis start, without a cap.
        case logarithmic
    }

    /// What one label shows in a panel.
    public enum Entry: Sendable, Equatable {
        /// A bar to `value`, with a whisker over `interval` (for example a 95 % confidence
        /// interval) when given.
        case bar(Double, interval: ClosedRange<Double>? = nil)
        /// No bar: a marked gap with `reason` written in it.
        case gap(String)
    }

    /// A dashed vertical line across a panel's bars at `value`, with `label` beside the panel title.
    public struct Marker: Sendable, Equatable {
        public var value: Double
        public var label: String
        public init(value: Double, label: String) {
            self.value = value
            self.label = label
        }
    }

    /// One panel: a title, an axis and an entry per label (the labels are shared by all panels).
    public struct Panel: Sendable {
        public var title: String
        public var scale: Scale
        public var entries: [Entry]
        public var marker: Marker?
        public init(title: String, scale: Scale, entries: [Entry], marker: Marker? = nil) {
            self.title = title
            self.scale = scale
            self.entries = entries
            self.marker = marker
        }
    }

    public var title: String
    public var labels: [String]
    public var panels: [Panel]

    public init(title: String, labels: [String], panels: [Panel]) {
        self.title = title
        self.labels = labels
        self.panels = panels
    }

    static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    static let (labelWidth, plotWidth, barHeight, rowGap) = (130.0, 440.0, 20.0, 8.0)
    static let (valueFontSize, tickFontSize, titleFontSize) = (11.0, 10.0, 13.0)

    /// The SVG text.
    /// - Throws: ``PlotError/invalidBarChart(_:)`` when there are no labels or panels, a panel's
    ///   entries do not match the labels one to one, a value or whisker end is NaN or infinite,
    ///   or a bar on a logarithmic panel is not positive.
    public func svg() throws(PlotError) -> String {
        guard !labels.isEmpty, !panels.isEmpty else { throw .invalidBarChart("no labels or no panels") }
        let axes = try panels.map { panel throws(PlotError) in try PanelAxis(panel, labelCount: labels.count) }
        let valueTexts = panels.flatMap { $0.entries.map(BarChart.valueText) }
        let valueWidth = valueTexts.map { TextMetrics.width($0, fontSize: BarChart.valueFontSize) }.max() ?? 0
        let width = BarChart.labelWidth + BarChart.plotWidth + max(160, valueWidth + 30)
        let rows = Double(labels.count) * (BarChart.barHeight + BarChart.rowGap)
        let panelHeight = 24 + rows + 30
        let height = 50 + Double(panels.count) * panelHeight + 10
        let n = SVGWriter.number

        var svg = SVGWriter()
        svg.open("svg", [
            "xmlns": "http://www.w3.org/2000/svg", "version": "1.1", "width": n(width), "height": n(height),
            "viewBox": "0 0 \(n(width)) \(n(height))", "font-family": TextMetrics.fontFamily, "fill": "#222222",
        ])
        svg.text("title", [:], title)
        svg.empty("rect", ["width": "100%", "height": "100%", "fill": "#ffffff"])
        svg.text("text", ["x": n(width / 2), "y": "28", "text-anchor": "middle", "font-size": "15", "font-weight": "bold"], title)
        var top = 50.0
        for (panel, axis) in zip(panels, axes) {
            write(panel, axis, top: top, rows: rows, width: width, to: &svg)
            top += panelHeight
        }
        svg.close()
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg.markup
    }

    /// One panel: title, grid, bars or gaps with whiskers and value texts, marker, axis.
    private func write(_ panel: Panel, _ axis: PanelAxis, top: Double, rows: Double, width: Double, to svg: inout SVGWriter) {
        let n = SVGWriter.number
        let left = BarChart.labelWidth, right = left + BarChart.plotWidth
        func x(_ value: Double) -> Double { left + BarChart.plotWidth * min(1, max(0, axis.fraction(value))) }
        svg.text("text", ["x": n(left), "y": n(top + 14), "font-size": n(BarChart.titleFontSize)], panel.title)
        if let marker = panel.marker {
            svg.text("text", ["x": n(width - 10), "y": n(top + 14), "font-size": n(BarChart.tickFontSize), "text-anchor": "end",
                              "fill": "#555555"], "dashed: " + marker.label)
        }
        let barsTop = top + 24, axisY = barsTop + rows
        for (tick, _) in axis.ticks {
            svg.empty("line", ["x1": n(x(tick)), "y1": n(barsTop), "x2": n(x(tick)), "y2": n(axisY), "stroke": "#e4e4e4"])
        }
        for (i, (label, entry)) in zip(labels, panel.entries).enumerated() {
            let y = barsTop + Double(i) * (BarChart.barHeight + BarChart.rowGap)
            let middle = y + BarChart.barHeight / 2, baseline = y + BarChart.barHeight * 0.7
            svg.text("text", ["x": n(left - 8), "y": n(baseline), "text-anchor": "end", "font-size": "12"], label)
            var textX: Double
            switch entry {
            case .bar(let value, let interval):
                let (a, b) = (x(axis.base), x(value))
                svg.empty("rect", ["x": n(min(a, b)), "y": n(y), "width": n(max(abs(b - a), 0.5)), "height": n(BarChart.barHeight),
                                   "fill": BarChart.colours[i % BarChart.colours.count], "fill-opacity": "0.85"])
                textX = max(a, b)
                if let interval {
                    let (low, high) = (x(interval.lowerBound), x(interval.upperBound))
                    svg.empty("line", ["x1": n(low), "y1": n(middle), "x2": n(high), "y2": n(middle), "stroke": "#111111",
                                       "stroke-width": "1.5"])
                    for (end, drawn) in [(low, axis.contains(interval.lowerBound)), (high, axis.contains(interval.upperBound))]
                    where drawn {
                        svg.empty("line", ["x1": n(end), "y1": n(middle - 6), "x2": n(end), "y2": n(middle + 6),
                                           "stroke": "#111111", "stroke-width": "1.5"])
                    }
                    textX = max(textX, high)
                }
            case .gap:
                svg.empty("rect", ["x": n(left), "y": n(y), "width": n(BarChart.plotWidth), "height": n(BarChart.barHeight),
                                   "fill": "#fbeaea", "stroke": "#b22222", "stroke-dasharray": "4 3"])
                textX = left
            }
            svg.text("text", ["x": n(textX + 6), "y": n(baseline), "font-size": n(BarChart.valueFontSize),
                              "fill": entry.isGap ? "#b22222" : "#222222"], BarChart.valueText(entry))
        }
        if let marker = panel.marker {
            svg.empty("line", ["x1": n(x(marker.value)), "y1": n(barsTop - 4), "x2": n(x(marker.value)), "y2": n(axisY),
                               "stroke": "#555555", "stroke-dasharray": "5 3"])
        }
        svg.empty("line", ["x1": n(left), "y1": n(axisY), "x2": n(right), "y2": n(axisY), "stroke": "#444444"])
        svg.open("g", ["font-size": n(BarChart.tickFontSize), "text-anchor": "middle"])
        for (tick, label) in axis.ticks {
            svg.empty("line", ["x1": n(x(tick)), "y1": n(axisY), "x2": n(x(tick)), "y2": n(axisY + 4), "stroke": "#444444"])
            svg.text("text", ["x": n(x(tick)), "y": n(axisY + 16)], label)
        }
        svg.close()
    }

    /// The text beside an entry: the value to three significant digits and the interval, or
    /// the gap's reason: `0.0794 [0.0535, 0.101]`, `1.22×10⁵`, `degenerate: zero gradient`.
    static func valueText(_ entry: Entry) -> String {
        switch entry {
        case .bar(let value, nil): significant(value)
        case .bar(let value, let interval?):
            "\(significant(value)) [\(significant(interval.lowerBound)), \(significant(interval.upperBound))]"
        case .gap(let reason): reason
        }
    }

    /// `value` to three significant digits: decimals from 0.001 to 99 999 (`0.0794`, `1220`),
    /// otherwise a power of ten (`1.22×10⁵`, `−3.5×10⁻⁶`), with the minus sign U+2212.
    static func significant(_ value: Double) -> String {
        guard value != 0 else { return "0" }
        var exponent = Int(log10(abs(value)).rounded(.down))
        // Rounding to three digits can carry into the next power (9.996 → 10.0).
        if (abs(value) / NiceScale.decimal(1, exponent - 2)).rounded() >= 1000 { exponent += 1 }
        if (-3...4).contains(exponent) {
            return TickLabel.fixed(value, decimals: max(0, 2 - exponent), trimmingZeros: false)
        }
        let mantissa = value / pow(10, Double(exponent))
        return TickLabel.fixed(mantissa, decimals: 2, trimmingZeros: false) + "×10" + LogScale.superscript(exponent)
    }
}

extension BarChart.Entry {
    var isGap: Bool { if case .gap = self { true } else { false } }
}

/// A panel's axis: where its bars start and how values map onto it.
private struct PanelAxis {
    enum Mapping {
        case linear(AxisTicks)
        case logarithmic(LogScale)
    }
    let mapping: Mapping
    /// Where bars start: zero on a linear axis (the lowest tick if zero is off it), the lower
    /// limit on a logarithmic one.
    let base: Double

    init(_ panel: BarChart.Panel, labelCount: Int) throws(PlotError) {
        guard panel.entries.count == labelCount else {
            throw .invalidBarChart("panel '\(panel.title)' has \(panel.entries.count) entries for \(labelCount) labels")
        }
        var values: [Double] = [], ends: [Double] = []
        for case .bar(let value, let interval) in panel.entries {
            values.append(value)
            if let interval { ends += [interval.lowerBound, interval.upperBound] }
        }
        let all = values + ends + (panel.marker.map { [$0.value] } ?? [])
        guard all.allSatisfy(\.isFinite) else { throw .invalidBarChart("panel '\(panel.title)' has a value that is NaN or infinite") }
        switch panel.scale {
        case .linear, .counts:
            let format: TickFormat = panel.scale == .counts ? .compactCount : .plain
            let ticks = AxisTicks(format: format, covering: min(0, all.min() ?? 0), max(0, all.max() ?? 1), maxIntervals: 6)
            mapping = .linear(ticks)
            base = 0
        case .logarithmic:
            guard values.allSatisfy({ $0 > 0 }) else {
                throw .invalidBarChart("panel '\(panel.title)' is logarithmic but has a value that is not positive")
            }
            let positive = all.filter { $0 > 0 }
            let scale = LogScale(covering: positive.min() ?? 1, positive.max() ?? 10)
            mapping = .logarithmic(scale)
            base = scale.lower
        }
    }

    /// Where `value` lies, 0 at the axis start and 1 at its end.
    func fraction(_ value: Double) -> Double {
        switch mapping {
        case .linear(let ticks): (value - ticks.lower) / (ticks.upper - ticks.lower)
        case .logarithmic(let scale): value > 0 ? scale.fraction(value) : 0
        }
    }

    /// Whether `value` lies on the axis (a whisker end that does not gets no cap).
    func contains(_ value: Double) -> Bool {
        if case .logarithmic = mapping, value <= 0 { return false }
        return (-1e-9...1 + 1e-9).contains(fraction(value))
    }

    /// The ticks and their labels.
    var ticks: [(Double, String)] {
        switch mapping {
        case .linear(let ticks): Array(zip(ticks.positions, ticks.labels))
        case .logarithmic(let scale): Array(zip(scale.ticks, scale.labels))
        }
    }
}
