/// The aggregate of several runs of one configuration (one per seed) and its 95 % bootstrap
/// confidence band, on a common x grid.
///
/// Each run is read as a piecewise-linear function of x (its points sorted by x). The grid is
/// every x of every run inside the x range all runs cover (from the largest first x to the
/// smallest last x): runs logged at the same steps (the same `--batch-steps`) keep their own
/// points, and no run is extrapolated. At each grid x the runs' interpolated values are
/// summarised by the ``Aggregate`` (the line) and by its ``BootstrapInterval`` at 95 % over
/// the runs (the band). The band is empty when fewer than two runs are given or the common
/// range holds fewer than two x values.
struct SeedBand: Equatable, Sendable {
    /// The aggregate, by ascending x.
    let line: [CurvePoint]
    /// The upper edge of the band, by ascending x.
    let upper: [CurvePoint]
    /// The lower edge of the band, by ascending x.
    let lower: [CurvePoint]

    /// - Parameter resamples: Bootstrap resamples at each x.
    init(of curves: [[CurvePoint]], aggregate: Aggregate, resamples: Int = BootstrapInterval.defaultResamples) {
        let sorted = curves.map { $0.sorted { $0.x < $1.x } }
        guard sorted.count >= 2, let start = sorted.map({ $0[0].x }).max(),
            let end = sorted.map({ $0[$0.count - 1].x }).min()
        else {
            (line, upper, lower) = ([], [], [])
            return
        }
        let xs = Set(sorted.joined().map(\.x).filter { $0 >= start && $0 <= end }).sorted()
        guard xs.count >= 2 else {
            (line, upper, lower) = ([], [], [])
            return
        }
        var line: [CurvePoint] = [], upper: [CurvePoint] = [], lower: [CurvePoint] = []
        for x in xs {
            let values = sorted.map { SeedBand.interpolate($0, at: x) }
            let interval = BootstrapInterval(aggregate, of: values, resamples: resamples)
            line.append(CurvePoint(x: x, y: aggregate.of(values)))
            upper.append(CurvePoint(x: x, y: interval.upper))
            lower.append(CurvePoint(x: x, y: interval.lower))
        }
        (self.line, self.upper, self.lower) = (line, upper, lower)
    }

    var isEmpty: Bool { line.isEmpty }

    /// The y of the piecewise-linear curve through `points` (sorted by x, non-empty) at `x`,
    /// which lies within their x range.
    static func interpolate(_ points: [CurvePoint], at x: Double) -> Double {
        var low = 0, high = points.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if points[middle].x <= x { low = middle } else { high = middle }
        }
        let (a, b) = (points[low], points[high])
        return b.x == a.x ? (x >= b.x ? b.y : a.y) : a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x)
    }
}
