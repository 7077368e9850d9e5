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
