/// One axis of a plot: its title and how its ticks are written.
public struct PlotAxis: Sendable, Equatable {
    /// The axis title. A ``TickFormat/duration`` axis appends its unit, e.g. ` (min)`.
    public var label: String
    public var format: TickFormat

    public init(label: String, format: TickFormat = .plain) {
        self.label = label
        self.format = format
    }
}

/// Learning curves drawn as a self-contained SVG 1.1 figure.
///
/// The figure has a title (if any), round axis limits with 1-2-5 ticks, light grid lines, axis
/// titles, one polyline per curve and a legend with one entry per curve name. It uses no
/// external fonts, style sheets or scripts, so a browser or `rsvg-convert` shows it as is.
///
/// - Curves with the same name are runs of one configuration over seeds: one colour, one
///   legend entry, one line for their ``aggregate`` and a light 95 % bootstrap confidence band
///   around it, over the x range they have in common (``SeedBand`` defines the grid). Where
///   they have no common range, each is drawn as a line of that colour.
/// - A name with a single curve is drawn as that curve's line.
/// - A curve with a single point is drawn as a dot (its polyline has one point).
/// - The legend goes into the first corner of the plot area (lower right, upper left, upper
///   right, lower left) where it covers no line, else below the plot area when it is wide and
///   short (long labels), else to the right of it.
public struct LearningCurvePlot: Sendable {
    public var title: String?
    public var xAxis: PlotAxis
    public var yAxis: PlotAxis
    public var curves: [LearningCurve]
    /// How curves of the same name are summarised at each x.
    public var aggregate: Aggregate
    /// The canvas size in pixels, at least 320 × 200.
    public let width: Double, height: Double

    /// - Parameters:
    ///   - title: Drawn above the plot; `nil` or empty for none.
    ///   - aggregate: The line drawn for curves sharing a name.
    ///   - width: Canvas width in pixels; values below 320 are raised to 320.
    ///   - height: Canvas height in pixels; values below 200 are raised to 200.
    public init(
        title: String? = nil, xAxis: PlotAxis, yAxis: PlotAxis, curves: [LearningCurve],
        aggregate: Aggregate = .mean, width: Double = 720, height: Double = 440
    ) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.curves = curves
        self.aggregate = aggregate
        self.width = max(width, 320)
        self.height = max(height, 200)
    }

    /// The figure as an SVG document.
    ///
    /// - Throws: ``PlotError/noCurves``, ``PlotError/emptyCurve(name:)`` for the first curve
    ///   without points, ``PlotError/nonFinitePoint(curve:)``.
    public func svg() throws(PlotError) -> String {
        guard !curves.isEmpty else { throw .noCurves }
        for curve in curves {
            guard !curve.points.isEmpty else { throw .emptyCurve(name: curve.name) }
            guard curve.points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
                throw .nonFinitePoint(curve: curve.name)
            }
        }
        let groups = CurveGroup.grouping(curves, aggregate: aggregate)
        let legend = Legend(entries: groups.map { ($0.name, $0.style) })
        let (layout, legendBox) = arrange(groups, legend)

        var svg = SVGWriter()
        svg.open(
            "svg",
            [
                "xmlns": "http://www.w3.org/2000/svg", "version": "1.1",
                "width": SVGWriter.number(width), "height": SVGWriter.number(height),
                "viewBox": "0 0 \(SVGWriter.number(width)) \(SVGWriter.number(height))",
                "font-family": TextMetrics.fontFamily, "fill": "#222222",
            ]
        )
        if let title = nonEmptyTitle { svg.text("title", [:], title) }
        svg.empty("rect", ["width": "100%", "height": "100%", "fill": "#ffffff"])
        writeGrid(to: &svg, layout)
        for group in groups { group.writeBand(to: &svg, layout) }
        for group in groups { group.writeCurves(to: &svg, layout) }
        writeAxes(to: &svg, layout)
        legend.write(to: &svg, in: legendBox)
        svg.close()
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg.markup
    }

    private var nonEmptyTitle: String? {
        title.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The layout and the legend's box: inside the plot area if some corner is free of lines,
    /// else in a margin made for it: below the plot when the legend is wide (over 30 % of the
    /// canvas, where a right margin would squeeze the plot) and short (under 30 %), else right.
    private func arrange(_ groups: [CurveGroup], _ legend: Legend) -> (PlotLayout, Rect) {
        let bounds = DataBounds(curves.lazy.flatMap(\.points))
        func layout(rightMargin: Double, bottomMargin: Double = 0) -> PlotLayout {
            PlotLayout(
                width: width, height: height, hasTitle: nonEmptyTitle != nil, xFormat: xAxis.format,
                yFormat: yAxis.format, bounds: bounds, rightMargin: rightMargin, bottomMargin: bottomMargin
            )
        }
        let inside = layout(rightMargin: 2 * PlotLayout.padding)
        if legend.width <= inside.area.width * 0.6 && legend.height <= inside.area.height * 0.7 {
            let traces = groups.flatMap { $0.traces(inside) }
            for corner in Legend.Corner.allCases {
                let box = legend.box(in: inside.area, at: corner, inset: 8)
                let margin = Rect(x: box.x - 3, y: box.y - 3, width: box.width + 6, height: box.height + 6)
                let covers = traces.contains { trace in
                    trace.count == 1
                        ? margin.intersects(trace[0], trace[0])
                        : zip(trace, trace.dropFirst()).contains { margin.intersects($0, $1) }
                }
                if !covers { return (inside, box) }
            }
        }
        if legend.width > 0.3 * width && legend.height < 0.3 * height {
            let below = layout(rightMargin: 2 * PlotLayout.padding, bottomMargin: legend.height + PlotLayout.padding)
            let x = max(PlotLayout.padding, min(below.area.x, width - PlotLayout.padding - legend.width))
            return (below, Rect(x: x, y: height - PlotLayout.padding - legend.height, width: legend.width, height: legend.height))
        }
        let outside = layout(rightMargin: legend.width + 2 * PlotLayout.padding)
        let box = Rect(
            x: outside.area.maxX + PlotLayout.padding, y: outside.area.y, width: legend.width, height: legend.height
        )
        return (outside, box)
    }

    private func writeGrid(to svg: inout SVGWriter, _ layout: PlotLayout) {
        let area = layout.area
        svg.open("g", ["stroke": "#e4e4e4", "stroke-width": "1", "shape-rendering": "crispEdges"])
        for x in layout.xTicks.positions.dropFirst().dropLast() {
            let pixel = layout.pixel(CurvePoint(x: x, y: layout.yTicks.lower))
            line(&svg, Pixel(x: pixel.x, y: area.y), Pixel(x: pixel.x, y: area.maxY))
        }
        for y in layout.yTicks.positions.dropFirst().dropLast() {
            let pixel = layout.pixel(CurvePoint(x: layout.xTicks.lower, y: y))
            line(&svg, Pixel(x: area.x, y: pixel.y), Pixel(x: area.maxX, y: pixel.y))
        }
        svg.close()
    }

    /// The frame, ticks, tick labels, axis titles and plot title.
    private func writeAxes(to svg: inout SVGWriter, _ layout: PlotLayout) {
        let area = layout.area
        let tickLength = PlotLayout.tickLength
        svg.empty(
            "rect",
            [
                "x": SVGWriter.number(area.x), "y": SVGWriter.number(area.y),
                "width": SVGWriter.number(area.width), "height": SVGWriter.number(area.height),
                "fill": "none", "stroke": "#333333", "stroke-width": "1", "shape-rendering": "crispEdges",
            ]
        )
        let xPixels = layout.xTicks.positions.map { layout.pixel(CurvePoint(x: $0, y: layout.yTicks.lower)).x }
        let yPixels = layout.yTicks.positions.map { layout.pixel(CurvePoint(x: layout.xTicks.lower, y: $0)).y }
        svg.open("g", ["stroke": "#333333", "stroke-width": "1", "shape-rendering": "crispEdges"])
        for x in xPixels { line(&svg, Pixel(x: x, y: area.maxY), Pixel(x: x, y: area.maxY + tickLength)) }
        for y in yPixels { line(&svg, Pixel(x: area.x - tickLength, y: y), Pixel(x: area.x, y: y)) }
        svg.close()

        svg.open("g", ["font-size": SVGWriter.number(PlotLayout.tickFontSize), "text-anchor": "middle"])
        let xLabelBaseline = area.maxY + tickLength + 3 + PlotLayout.tickFontSize
        for (x, label) in zip(xPixels, layout.xTicks.labels) {
            svg.text("text", ["x": SVGWriter.number(x), "y": SVGWriter.number(xLabelBaseline)], label)
        }
        svg.close()
        svg.open("g", ["font-size": SVGWriter.number(PlotLayout.tickFontSize), "text-anchor": "end"])
        for (y, label) in zip(yPixels, layout.yTicks.labels) {
            let baseline = y + PlotLayout.tickFontSize * 0.36
            svg.text("text", ["x": SVGWriter.number(area.x - tickLength - 3), "y": SVGWriter.number(baseline)], label)
        }
        svg.close()

        svg.open("g", ["font-size": SVGWriter.number(PlotLayout.labelFontSize), "text-anchor": "middle"])
        let centerX = area.x + area.width / 2, centerY = area.y + area.height / 2
        let xTitleBaseline = xLabelBaseline + 10 + PlotLayout.labelFontSize
        svg.text(
            "text", ["x": SVGWriter.number(centerX), "y": SVGWriter.number(xTitleBaseline)],
            axisTitle(xAxis, layout.xTicks)
        )
        let yTitleBaseline = PlotLayout.padding + PlotLayout.labelFontSize * 0.8
        svg.text(
            "text",
            [
                "x": SVGWriter.number(yTitleBaseline), "y": SVGWriter.number(centerY),
                "transform": "rotate(-90 \(SVGWriter.number(yTitleBaseline)) \(SVGWriter.number(centerY)))",
            ],
            axisTitle(yAxis, layout.yTicks)
        )
        svg.close()

        if let title = nonEmptyTitle {
            svg.text(
                "text",
                [
                    // Centred on the figure, not the plot area: with the legend outside the
                    // area, a long title centred on the area would run off the left edge.
                    "x": SVGWriter.number(width / 2),
                    "y": SVGWriter.number(PlotLayout.padding + PlotLayout.titleFontSize),
                    "font-size": SVGWriter.number(PlotLayout.titleFontSize), "font-weight": "bold",
                    "text-anchor": "middle",
                ],
                title
            )
        }
    }

    private func axisTitle(_ axis: PlotAxis, _ ticks: AxisTicks) -> String {
        ticks.unitName.map { "\(axis.label) (\($0))" } ?? axis.label
    }

    private func line(_ svg: inout SVGWriter, _ a: Pixel, _ b: Pixel) {
        svg.empty(
            "line",
            [
                "x1": SVGWriter.number(a.x), "y1": SVGWriter.number(a.y),
                "x2": SVGWriter.number(b.x), "y2": SVGWriter.number(b.y),
            ]
        )
    }
}

/// The curves that share a name: one legend entry, one style, and their aggregate with its
/// confidence band.
struct CurveGroup: Sendable {
    let name: String
    let style: CurveStyle
    let curves: [[CurvePoint]]
    let band: SeedBand

    /// The polylines drawn: the aggregate where there is one, else every curve.
    var lines: [[CurvePoint]] { band.isEmpty ? curves : [band.line] }

    /// Groups `curves` by name, in order of first appearance.
    static func grouping(_ curves: [LearningCurve], aggregate: Aggregate) -> [CurveGroup] {
        var names: [String] = []
        var members: [String: [[CurvePoint]]] = [:]
        for curve in curves {
            if members[curve.name] == nil { names.append(curve.name) }
            members[curve.name, default: []].append(curve.points)
        }
        return names.enumerated().map { index, name in
            CurveGroup(
                name: name, style: .entry(index), curves: members[name]!,
                band: SeedBand(of: members[name]!, aggregate: aggregate)
            )
        }
    }

    /// The polylines in canvas coordinates that the legend should not cover: the lines and
    /// the band's edges.
    func traces(_ layout: PlotLayout) -> [[Pixel]] {
        (lines + [band.upper, band.lower].filter { !$0.isEmpty }).map { $0.map(layout.pixel) }
    }

    /// Writes the band as a translucent polygon, if there is one.
    func writeBand(to svg: inout SVGWriter, _ layout: PlotLayout) {
        guard !band.isEmpty else { return }
        svg.empty(
            "polygon",
            [
                "points": SVGWriter.points((band.upper + band.lower.reversed()).map(layout.pixel)),
                "fill": style.color, "fill-opacity": "0.18", "stroke": "none",
            ]
        )
    }

    /// Writes one polyline per line (``lines``), plus a dot for a line of a single point.
    /// Curves drawn one by one because they share no x range are thinner and translucent.
    func writeCurves(to svg: inout SVGWriter, _ layout: PlotLayout) {
        let repeated = lines.count > 1
        svg.open(
            "g",
            [
                "stroke": style.color, "stroke-width": repeated ? "1.2" : "1.7",
                "stroke-opacity": repeated ? "0.75" : "1", "stroke-dasharray": style.dash ?? "none",
                "stroke-linejoin": "round", "stroke-linecap": "round", "fill": "none",
            ]
        )
        for line in lines {
            let pixels = line.map(layout.pixel)
            svg.empty("polyline", ["points": SVGWriter.points(pixels)])
            if let only = pixels.first, pixels.count == 1 {
                svg.empty(
                    "circle",
                    [
                        "cx": SVGWriter.number(only.x), "cy": SVGWriter.number(only.y), "r": "3.5",
                        "fill": style.color, "stroke": "none",
                    ]
                )
            }
        }
        svg.close()
    }
}
