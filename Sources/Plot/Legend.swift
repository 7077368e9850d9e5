/// The legend box: one row per curve name, with a stroke sample and the name.
struct Legend: Sendable {
    static let fontSize = 12.0
    static let rowHeight = 18.0
    static let padding = 8.0
    static let sampleLength = 24.0
    static let sampleGap = 6.0

    /// The entries, top to bottom.
    let entries: [(name: String, style: CurveStyle)]

    var width: Double {
        let longest = entries.map { TextMetrics.width($0.name, fontSize: Legend.fontSize) }.max() ?? 0
        return 2 * Legend.padding + Legend.sampleLength + Legend.sampleGap + longest
    }

    var height: Double { 2 * Legend.padding + Double(entries.count) * Legend.rowHeight - 4 }

    /// Where an inside legend goes, in the order tried: the corners learning curves leave
    /// empty most often come first.
    enum Corner: CaseIterable {
        case lowerRight, upperLeft, upperRight, lowerLeft
    }

    /// The box in `corner` of `area`, `inset` from its edges.
    func box(in area: Rect, at corner: Corner, inset: Double) -> Rect {
        let left = area.x + inset, right = area.maxX - inset - width
        let top = area.y + inset, bottom = area.maxY - inset - height
        switch corner {
        case .lowerRight: return Rect(x: right, y: bottom, width: width, height: height)
        case .upperLeft: return Rect(x: left, y: top, width: width, height: height)
        case .upperRight: return Rect(x: right, y: top, width: width, height: height)
        case .lowerLeft: return Rect(x: left, y: bottom, width: width, height: height)
        }
    }

    /// Writes the legend with its top-left corner at `box`'s origin.
    func write(to svg: inout SVGWriter, in box: Rect) {
        svg.open("g", ["font-size": SVGWriter.number(Legend.fontSize)])
        svg.empty(
            "rect",
            [
                "x": SVGWriter.number(box.x), "y": SVGWriter.number(box.y),
                "width": SVGWriter.number(box.width), "height": SVGWriter.number(box.height),
                "fill": "#ffffff", "fill-opacity": "0.9", "stroke": "#bbbbbb", "stroke-width": "0.8", "rx": "2",
            ]
        )
        for (row, entry) in entries.enumerated() {
            let middle = box.y + Legend.padding + Legend.rowHeight * (Double(row) + 0.5) - 2
            let sampleStart = box.x + Legend.padding
            svg.empty(
                "line",
                [
                    "x1": SVGWriter.number(sampleStart), "y1": SVGWriter.number(middle),
                    "x2": SVGWriter.number(sampleStart + Legend.sampleLength), "y2": SVGWriter.number(middle),
                    "stroke": entry.style.color, "stroke-width": "2.2", "stroke-dasharray": entry.style.dash ?? "none",
                ]
            )
            svg.text(
                "text",
                [
                    "x": SVGWriter.number(sampleStart + Legend.sampleLength + Legend.sampleGap),
                    "y": SVGWriter.number(middle + Legend.fontSize * 0.36),
                ],
                entry.name
            )
        }
        svg.close()
    }
}
