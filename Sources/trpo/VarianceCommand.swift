import ArgumentParser
import Core
import Foundation
import Learner
import Plot
import Simulators
import Supervision

struct VarianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Compare the variance of single-path, vine and vine-with-CRN policy-gradient estimates at a fixed policy.",
        discussion: """
            Estimates the policy gradient --replicates times with each estimator at equal \
            simulator-step budgets, against a reference gradient from 20× the budget (single \
            path), and writes variance.json, variance.csv and variance.svg to --out. With \
            --workers N the replicates' collections run in N local worker processes (same \
            results: each replicate's random streams derive from the seed and the replicate).
            """
    )

    @Option(help: "Environment id (with --checkpoint, it must be the checkpoint's).")
    var env: String?

    @Option(help: "Run directory whose policy, normaliser and value function to study (default: a fresh policy).")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "Independent estimates per estimator.")
    var replicates: Int = 20

    @Option(parsing: .unconditional, help: "Simulator steps per estimate.")
    var budget: Int = 20_000

    /// The local worker processes the replicates' collections are farmed out to (0: collect in this process).
    @OptionGroup var localWorkers: LocalWorkerOptions

    @Option(parsing: .unconditional, help: "Seed of the fresh policy and of every sampling stream.")
    var seed: UInt64 = 1

    @Option(help: "Output directory.")
    var out: String = "variance"

    func validate() throws {
        guard replicates >= 2 else { throw ValidationError("--replicates must be at least 2 (got \(replicates))") }
        guard budget >= 100 else { throw ValidationError("--budget must be at least 100 steps (got \(budget))") }
        if checkpoint == nil {
            guard let env else { throw ValidationError("give --env or --checkpoint") }
            do { _ = try EnvironmentRegistry.make(env) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        NumericsRuntime.retainFreedMemory()
        let study: VarianceStudy
        let policyLabel: String
        if let checkpoint {
            let state: TrainerState
            do { state = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint)) } catch { throw runFailure(error) }
            if let env, env != state.configuration.environment {
                throw runFailure("--env \(env) does not match the checkpoint in \(checkpoint), which is a run of "
                                 + "\(state.configuration.environment); give one of them, or a checkpoint of \(env)")
            }
            var c = state.configuration
            c.seed = seed
            study = VarianceStudy(configuration: c, policy: state.policy, normalizer: state.samplingNormalizer,
                                  valueFunction: state.valueFunction, budget: budget)
            policyLabel = "\(c.environment), iteration \(state.iteration) (\(grouped(state.timesteps)) steps)"
        } else {
            let env = env!  // validate() requires --env without --checkpoint
            var c = TrainingConfiguration.preset(for: env)
            c.seed = seed
            let trainer: Trainer
            do {
                let probe = try EnvironmentRegistry.make(env)
                trainer = Trainer(configuration: c, observationSize: probe.observationSpace.count, actionSpace: probe.actionSpace)
            } catch { throw runFailure(error) }
            study = VarianceStudy(configuration: c, policy: trainer.state.policy, normalizer: nil,
                                  valueFunction: trainer.state.valueFunction, budget: budget)
            policyLabel = "\(env), fresh policy"
        }
        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        note("trpo variance: \(policyLabel); \(replicates) replicates of \(grouped(budget)) steps per estimator")
        let statistics = try run(study)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(statistics), to: directory.appendingPathComponent("variance.json"))
        var csv = "estimator,total_variance,total_variance_ci_low,total_variance_ci_high,mse,mse_ci_low,mse_ci_high,cosine_mean,cosine_standard_error,variance_per_q_sample,q_samples,sim_steps,wall_seconds,replicates\n"
        for s in statistics {
            csv += "\(s.estimator),\(s.totalVariance),\(s.totalVarianceInterval[0]),\(s.totalVarianceInterval[1]),\(s.mse),\(s.mseInterval[0]),\(s.mseInterval[1]),\(s.cosineMean),\(s.cosineStandardError),\(s.variancePerQSample),\(s.qSamples),\(s.simSteps),\(s.wallSeconds),\(s.replicates)\n"
        }
        try AtomicFile.write(Data(csv.utf8), to: directory.appendingPathComponent("variance.csv"))
        let chart = BarChart(title: "Policy-gradient estimators: \(policyLabel)", labels: statistics.map(\.estimator), panels: [
            .init(title: "total variance (trace of the covariance)", values: statistics.map(\.totalVariance)),
            .init(title: "variance per Q-value sample", values: statistics.map(\.variancePerQSample)),
            .init(title: "mean cosine similarity to the reference gradient", values: statistics.map(\.cosineMean)),
            .init(title: "simulator steps per estimate", values: statistics.map(\.simSteps)),
        ])
        do {
            try AtomicFile.write(Data(try chart.svg().utf8), to: directory.appendingPathComponent("variance.svg"))
        } catch { throw runFailure(error) }
        print("wrote \(directory.appendingPathComponent("variance.json").path), variance.csv, variance.svg")
    }

    /// The study's statistics, its collections made here or by `--workers` local worker processes.
    func run(_ study: VarianceStudy) throws -> [EstimatorStatistics] {
        let workers = localWorkers.workers
        guard workers > 0 else { return try study.run(replicates: replicates) { note($0) }.statistics }
        do {
            return try withLocalWorkers { endpoint, children in
                let farm = try SamplingFarm(endpoint: endpoint, template: study.farmTemplate,
                                            modelXML: study.configuration.modelXML, log: { note($0) })
                children = try WorkerProcesses(count: workers, endpoint: farm.boundEndpoint, environments: nil, quiet: false, log: note)
                do {
                    let statistics = try study.run(replicates: replicates, farm: farm) { note($0) }.statistics
                    farm.finish()
                    return statistics
                } catch {
                    farm.finish(.interrupted)
                    throw error
                }
            }
        } catch SamplingFarmError.interrupted {
            throw ExitCode(130)
        } catch let error as SamplingFarmError {
            throw runFailure(error)
        }
    }
}
