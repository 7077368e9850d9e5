/// Builds SVG markup line by line. Every attribute value and text node is XML-escaped, so any
/// string a caller passes in yields well-formed XML.
struct SVGWriter {
    /// The markup written so far.
    private(set) var markup = ""
    private var openElements: [String] = []

    /// Writes `<name attributes…>` and expects a matching ``close()``.
    mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        line("<\(name)\(SVGWriter.attributeText(attributes))>")
        openElements.append(name)
    }

    /// Closes the innermost element opened with ``open(_:_:)``.
    mutating func close() {
        line("</\(openElements.removeLast())>")
    }

    /// Writes an empty element: `<name attributes…/>`.
    mutating func empty(_ name: String, _ attributes: KeyValuePairs<String, String>) {
        line("<\(name)\(SVGWriter.attributeText(attributes))/>")
    }

    /// Writes an element holding only `text`: `<name attributes…>text</name>`.
    mutating func text(_ name: String, _ attributes: KeyValuePairs<String, String>, _ text: String) {
        line("<\(name)\(SVGWriter.attributeText(attributes))>\(SVGWriter.escaped(text))</\(name)>")
    }

    private mutating func line(_ text: String) {
        markup += String(repeating: "  ", count: openElements.count) + text + "\n"
    }

    /// A coordinate or length with at most two decimals and an ASCII minus.
    static func number(_ value: Double) -> String {
        TickLabel.fixed(value, decimals: 2, trimmingZeros: true, minus: "-")
    }

    /// `x1,y1 x2,y2 …` for a `points` attribute.
    static func points(_ points: [Pixel]) -> String {
        points.map { number($0.x) + "," + number($0.y) }.joined(separator: " ")
    }

    /// `text` with `& < > " '` replaced by entities, and characters XML 1.0 forbids (the C0
    /// controls other than tab, LF and CR) replaced by U+FFFD.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func attributeText(_ attributes: KeyValuePairs<String, String>) -> String {
        attributes.map { " \($0.key)=\"\(escaped($0.value))\"" }.joined()
    }
}
