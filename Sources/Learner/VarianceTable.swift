/// `variance.csv`: one row per estimator, one column per figure of ``EstimatorStatistics``
/// (docs/variance.md defines each). Numbers are written in Swift's shortest round-trip form;
/// an undefined figure (a cosine of a zero gradient) is an empty field; `degenerate` is empty
/// for an estimator whose figures can be read as usual.
public enum VarianceTable {
    /// The columns, in order, with how each row's field is written.
    static let columns: [(name: String, field: @Sendable (EstimatorStatistics) -> String)] = [
        ("estimator", { $0.estimator }),
        ("replicates", { "\($0.replicates)" }),
        ("degenerate", { quoted($0.degenerate ?? "") }),
        ("null_estimates", { "\($0.nullEstimates)" }),
        ("total_variance", { "\($0.totalVariance)" }),
        ("total_variance_ci_low", { "\($0.totalVarianceInterval[0])" }),
        ("total_variance_ci_high", { "\($0.totalVarianceInterval[1])" }),
        ("q_samples", { "\($0.qSamples)" }),
        ("variance_per_q_sample", { "\($0.variancePerQSample)" }),
        ("variance_per_q_sample_ci_low", { "\($0.variancePerQSampleInterval[0])" }),
        ("variance_per_q_sample_ci_high", { "\($0.variancePerQSampleInterval[1])" }),
        ("mse", { "\($0.mse)" }),
        ("mse_ci_low", { "\($0.mseInterval[0])" }),
        ("mse_ci_high", { "\($0.mseInterval[1])" }),
        ("relative_bias", { "\($0.relativeBias)" }),
        ("relative_bias_ci_low", { "\($0.relativeBiasInterval[0])" }),
        ("relative_bias_ci_high", { "\($0.relativeBiasInterval[1])" }),
        ("relative_bias_noise_floor", { "\($0.relativeBiasNoiseFloor)" }),
        ("mean_estimate_cosine", { optional($0.meanEstimateCosine) }),
        ("mean_estimate_cosine_ci_low", { optional($0.meanEstimateCosineInterval?[0]) }),
        ("mean_estimate_cosine_ci_high", { optional($0.meanEstimateCosineInterval?[1]) }),
        ("cosine_mean", { optional($0.cosineMean) }),
        ("cosine_standard_error", { optional($0.cosineStandardError) }),
        ("budget", { "\($0.budget)" }),
        ("budget_tolerance", { "\($0.budgetTolerance)" }),
        ("sim_steps", { "\($0.simSteps)" }),
        ("sim_steps_min", { "\($0.simStepsMin)" }),
        ("sim_steps_max", { "\($0.simStepsMax)" }),
        ("budget_deviation", { "\($0.budgetDeviation)" }),
        ("within_budget_tolerance", { "\($0.withinBudgetTolerance)" }),
        ("wall_seconds", { "\($0.wallSeconds)" }),
    ]

    /// The column names, in order.
    public static var header: [String] { columns.map(\.name) }

    /// The CSV text: the header line, then one line per estimator.
    public static func csv(_ rows: [EstimatorStatistics]) -> String {
        ([header.joined(separator: ",")] + rows.map { row in columns.map { $0.field(row) }.joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }

    private static func optional(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }

    /// `text` as a CSV field: quoted (with doubled quotes) when it holds a comma, quote or newline.
    static func quoted(_ text: String) -> String {
        text.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
