/// A position on the canvas, in SVG user units (pixels), y pointing down.
struct Pixel: Equatable, Sendable {
    var x: Double
    var y: Double
}

/// An axis-aligned rectangle on the canvas.
struct Rect: Equatable, Sendable {
    var x: Double
    var y: Double
    var width: Double
    var height: Double

    var maxX: Double { x + width }
    var maxY: Double { y + height }

    /// Whether the segment from `a` to `b` touches the rectangle (Liang–Barsky clipping).
    func intersects(_ a: Pixel, _ b: Pixel) -> Bool {
        let dx = b.x - a.x, dy = b.y - a.y
        var entry = 0.0, exit = 1.0
        for (p, q) in [(-dx, a.x - x), (dx, maxX - a.x), (-dy, a.y - y), (dy, maxY - a.y)] {
            if p == 0 {
                if q < 0 { return false }
            } else if p < 0 {
                entry = max(entry, q / p)
            } else {
                exit = min(exit, q / p)
            }
            if entry > exit { return false }
        }
        return true
    }
}

/// Estimated text widths for the sans-serif faces the SVG asks for.
///
/// SVG has no way to measure text before a viewer lays it out, so margins and the legend are
/// sized from per-character advance widths of DejaVu Sans, the widest of the usual faces
/// (Helvetica and Arial are narrower, so the estimate errs towards too much room).
enum TextMetrics {
    /// The font stack written into the SVG.
    static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"

    /// The estimated advance width of `text` set at `fontSize`.
    static func width(_ text: String, fontSize: Double) -> Double {
        text.reduce(0) { $0 + advance($1) } * fontSize
    }

    /// The advance of one character, in ems.
    private static func advance(_ character: Character) -> Double {
        switch character {
        case "i", "j", "l", ".", ",", ":", ";", "'", "|", "!", "I": 0.3
        case " ", "f", "t", "(", ")", "[", "]", "-": 0.37
        case "r": 0.42
        case "m", "w", "M", "W", "%", "@": 0.95
        case "−", "+", "=", "<", ">", "~": 0.84
        case "0"..."9": 0.64
        case "A"..."Z": 0.72
        default: 0.62
        }
    }
}
