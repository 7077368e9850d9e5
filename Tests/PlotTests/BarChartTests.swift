import Foundation
import Testing

@testable import Plot

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct BarChartTests {
    static func chart(_ panels: [BarChart.Panel]) -> BarChart {
        BarChart(title: "estimators", labels: ["single_path", "vine", "vine_crn"], panels: panels)
    }

    static func rects(_ svg: String, fill: String) throws -> [XMLElement] {
        try LearningCurvePlotTests.elements("rect", in: LearningCurvePlotTests.parse(svg))
            .filter { LearningCurvePlotTests.attribute("fill", of: $0) == fill }
    }

    /// A gap is drawn as a dashed outline with its reason, never as a bar; the other labels
    /// keep their bars and whiskers.
    @Test func aGapIsMarkedNotDrawnAsABar() throws {
        let svg = try Self.chart([
            .init(title: "total variance", scale: .logarithmic,
                  entries: [.bar(0.05, interval: 0.03...0.07), .gap("degenerate: zero gradient in 5 of 5 estimates"),
                            .bar(2, interval: 1...3)]),
        ]).svg()
        #expect(svg.contains("degenerate: zero gradient in 5 of 5 estimates"))
        #expect(try Self.rects(svg, fill: BarChart.colours[0]).count == 1)
        #expect(try Self.rects(svg, fill: BarChart.colours[1]).isEmpty)
        #expect(try Self.rects(svg, fill: BarChart.colours[2]).count == 1)
        #expect(try Self.rects(svg, fill: "#fbeaea").count == 1)
        // The log axis runs over whole decades around the bars and whiskers.
        #expect(svg.contains(">0.01</text>") && svg.contains(">10</text>"))
        #expect(svg.contains("0.0500 [0.0300, 0.0700]"))
    }

    @Test func whatCannotBeDrawnIsRefused() {
        #expect(throws: PlotError.invalidBarChart("panel 'v' is logarithmic but has a value that is not positive")) {
            try Self.chart([.init(title: "v", scale: .logarithmic, entries: [.bar(1), .bar(0), .bar(2)])]).svg()
        }
        #expect(throws: PlotError.invalidBarChart("panel 'v' has 2 entries for 3 labels")) {
            try Self.chart([.init(title: "v", scale: .linear, entries: [.bar(1), .bar(2)])]).svg()
        }
        #expect(throws: PlotError.invalidBarChart("panel 'v' has a value that is NaN or infinite")) {
            try Self.chart([.init(title: "v", scale: .linear, entries: [.bar(1), .bar(2, interval: 1...Double.infinity), .bar(3)])]).svg()
        }
        #expect(throws: PlotError.invalidBarChart("no labels or no panels")) { try Self.chart([]).svg() }
    }

    /// A whisker reaching zero on a log axis is clipped at the axis start; linear panels
    /// (negative values, counts, a marker) render as well-formed SVG with their ticks.
    @Test func linearLogAndMarkedPanelsRender() throws {
        let svg = try Self.chart([
            .init(title: "variance", scale: .logarithmic, entries: [.bar(1, interval: 0...2), .bar(5), .bar(50)]),
            .init(title: "cosine", scale: .linear, entries: [.bar(-0.2), .bar(0.5, interval: 0.4...0.6), .gap("undefined")]),
            .init(title: "steps", scale: .counts, entries: [.bar(20_000), .bar(19_800), .bar(20_150)],
                  marker: .init(value: 20_000, label: "budget 20,000 ± 2 %")),
        ]).svg()
        _ = try LearningCurvePlotTests.parse(svg)
        #expect(svg.contains(">−0.2</text>") && svg.contains(">20k</text>"))
        #expect(svg.contains("dashed: budget 20,000 ± 2 %"))
        #expect(svg.contains(">undefined</text>"))
    }

    @Test func valuesAreWrittenToThreeSignificantDigits() {
        let cases: [(Double, String)] = [
            (0.0794, "0.0794"), (1220, "1220"), (9.996, "10.0"), (0.5, "0.500"), (123_456, "1.23×10⁵"),
            (-3.5e-6, "−3.50×10⁻⁶"), (0, "0"), (99_999.6, "1.00×10⁵"), (0.001, "0.00100"),
        ]
        for (value, text) in cases { #expect(BarChart.significant(value) == text, "\(value)") }
        #expect(BarChart.valueText(.bar(2, interval: 1...3)) == "2.00 [1.00, 3.00]")
        #expect(BarChart.valueText(.gap("undefined")) == "undefined")
    }
}
