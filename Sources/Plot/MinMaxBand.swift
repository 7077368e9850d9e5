/// The envelope of several curves: their minimum and maximum y at each x where all of them
/// are defined.
///
/// Each curve is read as a piecewise-linear function of x (its points sorted by x), and the
/// envelope is sampled at every x of every curve inside the common x range. It is empty when
/// fewer than two curves are given or the common range holds fewer than two x values.
struct MinMaxBand: Equatable, Sendable {
    /// The maximum, by ascending x.
    let upper: [CurvePoint]
    /// The minimum, by ascending x.
    let lower: [CurvePoint]

    init(of curves: [[CurvePoint]]) {
        let sorted = curves.map { $0.sorted { $0.x < $1.x } }
        guard sorted.count >= 2, let start = sorted.map({ $0[0].x }).max(),
            let end = sorted.map({ $0[$0.count - 1].x }).min()
        else {
            (upper, lower) = ([], [])
            return
        }
        let xs = Set(sorted.joined().map(\.x).filter { $0 >= start && $0 <= end }).sorted()
        guard xs.count >= 2 else {
            (upper, lower) = ([], [])
            return
        }
        let columns = xs.map { x in sorted.map { MinMaxBand.interpolate($0, at: x) } }
        upper = zip(xs, columns).map { CurvePoint(x: $0, y: $1.max()!) }
        lower = zip(xs, columns).map { CurvePoint(x: $0, y: $1.min()!) }
    }

    var isEmpty: Bool { upper.isEmpty }

    /// The y of the piecewise-linear curve through `points` (sorted by x, non-empty) at `x`,
    /// which lies within their x range.
    private static func interpolate(_ points: [CurvePoint], at x: Double) -> Double {
        var low = 0, high = points.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if points[middle].x <= x { low = middle } else { high = middle }
        }
        let (a, b) = (points[low], points[high])
        return b.x == a.x ? (x >= b.x ? b.y : a.y) : a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x)
    }
}
