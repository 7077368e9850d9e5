import Foundation

/// A self-contained SVG of labelled horizontal bars, one panel per metric (for example the
/// variance study's total variance and cosine per estimator).
public struct BarChart {
    /// One panel: a title and a value per label (the labels are shared by all panels).
    public struct Panel {
        public var title: String
        public var values: [Double]
        public init(title: String, values: [Double]) {
            self.title = title
            self.values = values
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

    /// The SVG text. Bars start at zero; negative values extend left of the axis.
    public func svg() throws(PlotError) -> String {
        guard !labels.isEmpty, !panels.isEmpty else { throw .noCurves }
        for panel in panels where panel.values.count != labels.count || !panel.values.allSatisfy(\.isFinite) {
            throw .nonFinitePoint(curve: panel.title)
        }
        let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
        let width = 720.0, labelWidth = 120.0, barHeight = 22.0, gap = 8.0, panelGap = 46.0
        let panelHeight = Double(labels.count) * (barHeight + gap)
        let height = 50 + Double(panels.count) * (panelHeight + panelGap)
        let escape = SVGWriter.escaped
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="28" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

            """
        var y = 50.0
        for panel in panels {
            out += "<text x=\"\(labelWidth)\" y=\"\(y + 14)\" font-size=\"13\">\(escape(panel.title))</text>\n"
            y += 24
            let low = min(0, panel.values.min()!), high = max(0, panel.values.max()!)
            let span = high - low > 0 ? high - low : 1
            let plotWidth = width - labelWidth - 120
            let zero = labelWidth + (0 - low) / span * plotWidth
            for (i, (label, value)) in zip(labels, panel.values).enumerated() {
                let x0 = labelWidth + (min(0, value) - low) / span * plotWidth
                let w = abs(value) / span * plotWidth
                out += "<text x=\"\(labelWidth - 8)\" y=\"\(y + barHeight * 0.7)\" text-anchor=\"end\" font-size=\"12\">\(escape(label))</text>\n"
                out += "<rect x=\"\(x0)\" y=\"\(y)\" width=\"\(max(w, 0.5))\" height=\"\(barHeight)\" fill=\"\(colours[i % colours.count])\"/>\n"
                out += "<text x=\"\(x0 + w + 6)\" y=\"\(y + barHeight * 0.7)\" font-size=\"12\">\(String(format: "%.4g", value))</text>\n"
                y += barHeight + gap
            }
            out += "<line x1=\"\(zero)\" y1=\"\(y - panelHeight)\" x2=\"\(zero)\" y2=\"\(y)\" stroke=\"#444\"/>\n"
            y += panelGap - 24
        }
        return out + "</svg>\n"
    }
}
