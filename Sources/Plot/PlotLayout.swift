/// The smallest rectangle in data space holding every point of every curve.
struct DataBounds: Equatable, Sendable {
    var minX: Double, maxX: Double, minY: Double, maxY: Double

    /// - Precondition: `points` is not empty.
    init(_ points: some Sequence<CurvePoint>) {
        (minX, maxX, minY, maxY) = (.infinity, -.infinity, .infinity, -.infinity)
        for point in points {
            (minX, maxX) = (min(minX, point.x), max(maxX, point.x))
            (minY, maxY) = (min(minY, point.y), max(maxY, point.y))
        }
        precondition(minX <= maxX, "bounds of no points")
    }
}

/// Where the plot area, ticks and labels go on a canvas of a given size.
///
/// The y ticks are chosen first (up to one per 40 px of height), which fixes the left margin;
/// then the x ticks take the most intervals (up to one per 80 px) whose labels do not collide.
struct PlotLayout: Sendable {
    static let padding = 12.0
    static let titleFontSize = 15.0
    static let labelFontSize = 13.0
    static let tickFontSize = 11.0
    static let tickLength = 5.0

    /// The canvas size.
    let width: Double, height: Double
    /// The plot area: the data range maps onto it exactly.
    let area: Rect
    let xTicks: AxisTicks
    let yTicks: AxisTicks

    /// - Parameters:
    ///   - rightMargin: Room right of the plot area (more when the legend goes there).
    ///   - bottomMargin: Room below the x axis's title (for a legend that goes there).
    init(
        width: Double, height: Double, hasTitle: Bool, xFormat: TickFormat, yFormat: TickFormat,
        bounds: DataBounds, rightMargin: Double, bottomMargin: Double = 0
    ) {
        let top = hasTitle ? 2 * PlotLayout.padding + PlotLayout.titleFontSize + 4 : PlotLayout.padding + 6
        let bottom = PlotLayout.tickLength + 4 + PlotLayout.tickFontSize + 12 + PlotLayout.labelFontSize
            + PlotLayout.padding + bottomMargin
        let areaHeight = max(height - top - bottom, 40)
        let yTicks = AxisTicks(
            format: yFormat, covering: bounds.minY, bounds.maxY,
            maxIntervals: min(max(Int(areaHeight / 40), 2), 8)
        )
        let yLabelWidth = yTicks.labels.map { TextMetrics.width($0, fontSize: PlotLayout.tickFontSize) }.max() ?? 0
        let left = PlotLayout.padding + PlotLayout.labelFontSize + 10 + yLabelWidth + 5 + PlotLayout.tickLength
        var areaWidth = max(width - left - rightMargin, 40)
        var xTicks = PlotLayout.xTicks(format: xFormat, bounds: bounds, areaWidth: areaWidth)
        // The last x label is centred on the right edge of the plot area; keep it on the canvas.
        let overhang = TextMetrics.width(xTicks.labels.last ?? "", fontSize: PlotLayout.tickFontSize) / 2 + 4
        if overhang > rightMargin {
            areaWidth = max(width - left - overhang, 40)
            xTicks = PlotLayout.xTicks(format: xFormat, bounds: bounds, areaWidth: areaWidth)
        }
        self.width = width
        self.height = height
        self.area = Rect(x: left, y: top, width: areaWidth, height: areaHeight)
        self.xTicks = xTicks
        self.yTicks = yTicks
    }

    /// The most x intervals, up to one per 80 px, whose labels leave 12 px between each other.
    private static func xTicks(format: TickFormat, bounds: DataBounds, areaWidth: Double) -> AxisTicks {
        var intervals = min(max(Int(areaWidth / 80), 2), 10)
        while true {
            let ticks = AxisTicks(format: format, covering: bounds.minX, bounds.maxX, maxIntervals: intervals)
            let spacing = areaWidth / Double(ticks.labels.count - 1)
            let widest = ticks.labels.map { TextMetrics.width($0, fontSize: PlotLayout.tickFontSize) }.max() ?? 0
            if widest + 12 <= spacing || intervals == 2 { return ticks }
            intervals -= 1
        }
    }

    /// The canvas position of a data point.
    func pixel(_ point: CurvePoint) -> Pixel {
        Pixel(
            x: area.x + (point.x - xTicks.lower) / (xTicks.upper - xTicks.lower) * area.width,
            y: area.maxY - (point.y - yTicks.lower) / (yTicks.upper - yTicks.lower) * area.height
        )
    }
}
