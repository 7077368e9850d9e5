import Foundation
import Testing

@testable import Plot

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct LearningCurvePlotTests {
    static let steps = PlotAxis(label: "Environment steps", format: .compactCount)
    static let returns = PlotAxis(label: "Mean episode return")

    static func curve(_ name: String, count: Int, from start: Double = 0) -> LearningCurve {
        LearningCurve(
            name: name,
            points: (0..<count).map { CurvePoint(x: Double($0 + 1) * 2048, y: start + 10 * Double($0)) }
        )
    }

    /// The plot of `curves` against steps, parsed.
    static func render(_ curves: [LearningCurve]) throws -> XMLDocument {
        try parse(try LearningCurvePlot(xAxis: steps, yAxis: returns, curves: curves).svg())
    }

    /// Parses `svg` as XML, failing the test if it is not well-formed.
    static func parse(_ svg: String) throws -> XMLDocument {
        try XMLDocument(xmlString: svg, options: [])
    }

    static func elements(_ name: String, in document: XMLDocument) throws -> [XMLElement] {
        try document.nodes(forXPath: "//*[local-name()='\(name)']").compactMap { $0 as? XMLElement }
    }

    /// An attribute's value. (`XMLElement.attribute(forName:)` of swift-corelibs-foundation
    /// finds nothing on elements in a default namespace, as every SVG element is.)
    static func attribute(_ name: String, of element: XMLElement) -> String? {
        element.attributes?.first { $0.name == name }?.stringValue
    }

    static func number(_ name: String, of element: XMLElement) -> Double? {
        attribute(name, of: element).flatMap(Double.init)
    }

    @Test func wellFormedWithOnePolylinePerCurveAndLegendNames() throws {
        let curves = [Self.curve("trpo-gae", count: 50), Self.curve("trpo-vine", count: 30, from: -100)]
        let plot = LearningCurvePlot(title: "CartPole-v1", xAxis: Self.steps, yAxis: Self.returns, curves: curves)
        let svg = try plot.svg()
        let document = try Self.parse(svg)

        let root = try #require(document.rootElement())
        #expect(root.name == "svg")
        #expect(root.namespaces?.first { ($0.name ?? "").isEmpty }?.stringValue == "http://www.w3.org/2000/svg")
        #expect(Self.attribute("version", of: root) == "1.1")
        #expect(try Self.elements("polyline", in: document).count == 2)
        let texts = try Self.elements("text", in: document).compactMap(\.stringValue)
        #expect(texts.contains("trpo-gae") && texts.contains("trpo-vine"))
        #expect(texts.contains("CartPole-v1") && texts.contains("Environment steps"))
        #expect(texts.contains("Mean episode return"))
        #expect(!svg.contains("<script") && !svg.contains("<style") && !svg.contains("href"))
    }

    @Test func polylinesHaveOnePointPerDataPoint() throws {
        let curves = [Self.curve("long", count: 40), Self.curve("short", count: 3)]
        let document = try Self.render(curves)
        let counts = try Self.elements("polyline", in: document).map { polyline in
            Self.attribute("points", of: polyline)?.split(separator: " ").count
        }
        #expect(counts == [40, 3])
    }

    @Test func namesAreEscaped() throws {
        let name = "seed<1> & \"quoted\" 'x'\u{7}"
        let svg = try LearningCurvePlot(
            title: "A < B & C", xAxis: Self.steps, yAxis: Self.returns, curves: [Self.curve(name, count: 5)]
        ).svg()
        #expect(svg.contains("seed&lt;1&gt; &amp; &quot;quoted&quot; &apos;x&apos;\u{FFFD}"))
        #expect(!svg.contains("seed<1>"))
        let texts = try Self.elements("text", in: try Self.parse(svg)).compactMap(\.stringValue)
        #expect(texts.contains("seed<1> & \"quoted\" 'x'\u{FFFD}"))
        #expect(texts.contains("A < B & C"))
    }

    @Test func negativeReturnsGetNegativeTicks() throws {
        let pendulum = LearningCurve(
            name: "pendulum",
            points: (0..<100).map { CurvePoint(x: Double($0) * 4000, y: -1200 + 10.5 * Double($0)) }
        )
        let svg = try LearningCurvePlot(xAxis: Self.steps, yAxis: Self.returns, curves: [pendulum]).svg()
        let texts = try Self.elements("text", in: try Self.parse(svg)).compactMap(\.stringValue)
        #expect(texts.contains("−1200"))
        #expect(texts.contains("0"))
        #expect(texts.contains("400k"))
    }

    @Test func singlePointIsDrawnAsADot() throws {
        let document = try Self.render([LearningCurve(name: "one", points: [CurvePoint(x: 5000, y: 42)])])
        #expect(try Self.elements("polyline", in: document).count == 1)
        #expect(try Self.elements("circle", in: document).count == 1)
    }

    @Test func curvesSharingANameAreOneLineWithABand() throws {
        let curves = [
            Self.curve("trpo", count: 20), Self.curve("trpo", count: 25, from: 30),
            Self.curve("vpg", count: 20, from: -50),
        ]
        let document = try Self.render(curves)
        // One aggregate line over the 20 common x values for "trpo", one line for "vpg".
        let counts = try Self.elements("polyline", in: document).map { polyline in
            Self.attribute("points", of: polyline)?.split(separator: " ").count
        }
        #expect(counts == [20, 20])
        #expect(try Self.elements("polygon", in: document).count == 1)
        let texts = try Self.elements("text", in: document).compactMap(\.stringValue)
        #expect(texts.filter { $0 == "trpo" }.count == 1)
        #expect(texts.filter { $0 == "vpg" }.count == 1)
    }

    @Test func curvesSharingANameWithoutCommonRangeAreDrawnOneByOne() throws {
        let curves = [
            LearningCurve(name: "a", points: [CurvePoint(x: 0, y: 0), CurvePoint(x: 1, y: 1)]),
            LearningCurve(name: "a", points: [CurvePoint(x: 2, y: 0), CurvePoint(x: 3, y: 1)]),
        ]
        let document = try Self.render(curves)
        #expect(try Self.elements("polyline", in: document).count == 2)
        #expect(try Self.elements("polygon", in: document).isEmpty)
    }

    @Test func everythingStaysOnTheCanvas() throws {
        // Curves covering the whole plot area push the legend into the right margin.
        let zigzags = (0..<9).map { index in
            LearningCurve(
                name: "run-\(index)-with-a-long-name",
                points: (0..<200).map { CurvePoint(x: Double($0) * 1000, y: Double(($0 + index * 7) % 13) * 40 - 250) }
            )
        }
        let plot = LearningCurvePlot(xAxis: Self.steps, yAxis: Self.returns, curves: zigzags, width: 640, height: 400)
        let document = try Self.parse(try plot.svg())
        let coordinates = ["x", "y", "x1", "x2", "y1", "y2", "cx", "cy"]
        for element in try Self.elements("*", in: document) {
            for name in coordinates {
                guard let value = Self.number(name, of: element) else { continue }
                #expect(value >= 0 && value <= (name.hasPrefix("x") || name == "cx" ? 640 : 400), "\(element)")
            }
        }
        let rects = try Self.elements("rect", in: document)  // background, frame, …, legend
        let legendX = try #require(rects.last.flatMap { Self.number("x", of: $0) })
        let frameRight = try #require(Self.number("x", of: rects[1])) + (Self.number("width", of: rects[1]) ?? 0)
        #expect(legendX > frameRight)
    }

    /// A long label that fits in no corner goes below the plot, which keeps the canvas's width
    /// (to the right it would have squeezed the plot to a third), and stays on the canvas.
    @Test func aWideLegendGoesBelowThePlot() throws {
        let label = "trpo single path (mean of the games that ended in the last 25 iterations)"
        let curve = LearningCurve(name: label, points: (0..<200).map {
            CurvePoint(x: Double($0) * 1000, y: Double(($0 * 7) % 13) * 40 - 250)
        })
        let plot = LearningCurvePlot(xAxis: Self.steps, yAxis: Self.returns, curves: [curve], width: 720, height: 440)
        let document = try Self.parse(try plot.svg())
        let rects = try Self.elements("rect", in: document)  // background, frame, …, legend
        let frame = rects[1]
        let frameWidth = try #require(Self.number("width", of: frame))
        let frameBottom = try #require(Self.number("y", of: frame)) + (Self.number("height", of: frame) ?? 0)
        let legend = try #require(rects.last)
        let legendY = try #require(Self.number("y", of: legend))
        let legendRight = try #require(Self.number("x", of: legend)) + (Self.number("width", of: legend) ?? 0)
        #expect(frameWidth > 0.8 * 720, "the plot keeps its width: \(frameWidth)")
        #expect(legendY > frameBottom && legendY + (Self.number("height", of: legend) ?? 0) <= 440)
        #expect(legendRight <= 720)
    }

    @Test func errors() {
        #expect(throws: PlotError.noCurves) {
            try LearningCurvePlot(xAxis: Self.steps, yAxis: Self.returns, curves: []).svg()
        }
        #expect(throws: PlotError.emptyCurve(name: "empty")) {
            try LearningCurvePlot(
                xAxis: Self.steps, yAxis: Self.returns,
                curves: [Self.curve("full", count: 3), LearningCurve(name: "empty", points: [])]
            ).svg()
        }
        #expect(throws: PlotError.nonFinitePoint(curve: "nan")) {
            try LearningCurvePlot(
                xAxis: Self.steps, yAxis: Self.returns,
                curves: [LearningCurve(name: "nan", points: [CurvePoint(x: 1, y: .nan)])]
            ).svg()
        }
    }
}

@Suite struct SeedBandTests {
    /// Two runs, interpolated onto the x values of both inside [5, 20]: with two values the
    /// bootstrap mean is the lower value, their mean or the upper value, so the 95 % band runs
    /// from one run to the other.
    @Test func meanAndBandOverTheCommonRange() {
        let a = [CurvePoint(x: 0, y: 0), CurvePoint(x: 10, y: 10), CurvePoint(x: 20, y: 0)]
        let b = [CurvePoint(x: 5, y: 8), CurvePoint(x: 15, y: 8), CurvePoint(x: 30, y: 8)]
        let band = SeedBand(of: [a, b], aggregate: .mean, resamples: 2000)
        #expect(band.line.map(\.x) == [5, 10, 15, 20])
        #expect(band.line.map(\.y) == [6.5, 9, 6.5, 4])
        #expect(band.upper.map(\.y) == [8, 10, 8, 8])
        #expect(band.lower.map(\.y) == [5, 8, 5, 0])
    }

    @Test func identicalRunsHaveAZeroWidthBand() {
        let a = [CurvePoint(x: 0, y: 3), CurvePoint(x: 1, y: 4)]
        let band = SeedBand(of: [a, a, a, a], aggregate: .iqm, resamples: 100)
        #expect(band.line == a && band.upper == a && band.lower == a)
    }

    @Test func emptyWithoutOverlap() {
        let a = [CurvePoint(x: 0, y: 0), CurvePoint(x: 1, y: 1)]
        let b = [CurvePoint(x: 2, y: 0), CurvePoint(x: 3, y: 1)]
        #expect(SeedBand(of: [a, b], aggregate: .mean).isEmpty)
        #expect(SeedBand(of: [a], aggregate: .mean).isEmpty)
    }
}
