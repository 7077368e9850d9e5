/// The stroke of one legend entry: a colour of the Okabe–Ito palette, which stays distinct
/// under the common colour-vision deficiencies, and a dash pattern once the colours run out.
struct CurveStyle: Equatable, Sendable {
    /// A `#RRGGBB` colour.
    let color: String
    /// An SVG `stroke-dasharray`, or `nil` for a solid line.
    let dash: String?

    /// Okabe & Ito (2008), "Color Universal Design", without its yellow, which is too light
    /// on white.
    static let colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let dashes: [String?] = [nil, "7 3", "2 2.5", "8 3 2 3"]

    /// The style of the `index`-th entry: solid lines through the palette, then dashed ones.
    static func entry(_ index: Int) -> CurveStyle {
        CurveStyle(color: colors[index % colors.count], dash: dashes[index / colors.count % dashes.count])
    }
}
