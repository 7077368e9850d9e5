/// One point of a learning curve, in data units.
public struct CurvePoint: Sendable, Equatable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A named series of points, such as one training run's mean return against timesteps.
///
/// Points are drawn in the order given, joined by straight lines. Several curves with the same
/// name are treated as runs of one configuration over seeds: ``LearningCurvePlot`` draws
/// their aggregate (mean or IQM) with a 95 % bootstrap confidence band.
public struct LearningCurve: Sendable, Equatable {
    /// The legend label. Any text is allowed; it is escaped when written to SVG.
    public var name: String
    public var points: [CurvePoint]

    public init(name: String, points: [CurvePoint]) {
        self.name = name
        self.points = points
    }
}

extension LearningCurve {
    /// The curve with each point's y replaced by the weighted mean of the y values of the
    /// `window` points ending at it (fewer at the start): a trailing mean that keeps every
    /// x. With `weights` (one per point, e.g. the episodes behind each iteration's mean
    /// return) a point counts in proportion to its weight; points of weight 0 count not at all.
    /// - Precondition: `window` ≥ 1; `weights`, when given, has one entry per point, none negative.
    public func smoothed(window: Int, weights: [Double]? = nil) -> LearningCurve {
        precondition(window >= 1, "a smoothing window holds at least one point")
        let weights = weights ?? [Double](repeating: 1, count: points.count)
        precondition(weights.count == points.count && weights.allSatisfy { $0 >= 0 }, "one weight ≥ 0 per point")
        var smoothed = self
        var sum = 0.0, total = 0.0
        for i in points.indices {
            sum += weights[i] * points[i].y
            total += weights[i]
            if i >= window {
                sum -= weights[i - window] * points[i - window].y
                total -= weights[i - window]
            }
            smoothed.points[i].y = total > 0 ? sum / total : points[i].y
        }
        return smoothed
    }
}
