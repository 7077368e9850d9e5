import ArgumentParser
import Core
import Foundation
import Learner
import Plot
import Supervision

/// The seeds of `trpo train --seeds`: `1-5`, `1,2,3` or both mixed (`1-3,7`), in the order
/// written. Empty lists and parts, reversed ranges (`3-1`) and a seed given twice are refused.
struct SeedList: ExpressibleByArgument, Equatable {
    let seeds: [UInt64]

    init(seeds: [UInt64]) {
        self.seeds = seeds
    }

    init?(argument: String) {
        var seeds: [UInt64] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { UInt64($0) }
            guard (1...2).contains(bounds.count), let first = bounds.first!, let last = bounds.last!, first <= last
            else { return nil }
            seeds += Array(first...last)
        }
        guard !seeds.isEmpty, Set(seeds).count == seeds.count else { return nil }
        self.seeds = seeds
    }
}

/// One configuration trained over several seeds, each as `trpo train … --seed S --out DIR`
/// in a child process of this executable, one after another or (`parallel`) up to one per
/// core at once; then the final policy of each seed evaluated (10 deterministic episodes)
/// and summarised over the seeds by ``SeedSummary``.
struct SeedSweep {
    /// The command line of one seed's run: this one without `--seeds`, `--parallel` and `--out`.
    let baseArguments: [String]
    let seeds: [UInt64]
    /// Where each seed's run goes, as given (relative paths stay relative in messages).
    let directory: (UInt64) -> String
    let parallel: Bool

    /// The arguments after the subcommand name with `--seeds`, `--parallel` and `--out` (and their values) removed.
    static func baseArguments(_ arguments: [String]) -> [String] {
        var kept: [String] = []
        var skipValue = false
        for argument in arguments {
            if skipValue { skipValue = false; continue }
            if argument == "--seeds" || argument == "--out" { skipValue = true; continue }
            if argument == "--parallel" || argument.hasPrefix("--seeds=") || argument.hasPrefix("--out=") { continue }
            kept.append(argument)
        }
        return kept
    }

    /// Runs the seeds. Ctrl-C (SIGINT or SIGTERM) is passed to the runs in progress, starts no
    /// more, and ends with a line naming the seeds that finished; exit 130.
    /// - Throws: `ExitCode(130)` when stopped; exit 2 (``runFailure(_:)-(String)``) when a
    ///   seed's run failed (after the table of the others) or a child cannot start.
    func run() throws {
        StopRequest.installHandlers()
        let limit = parallel ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
        var pending = seeds[...]
        var running: [(seed: UInt64, process: ChildProcess)] = []
        var finished: [UInt64] = [], failed: [(seed: UInt64, ending: ChildProcess.Ending)] = []
        var forwarded = false
        note("trpo train: seeds \(seeds.map(String.init).joined(separator: ", ")), \(limit) at a time")
        while !running.isEmpty || (!pending.isEmpty && !StopRequest.isRaised) {
            while running.count < limit, let seed = pending.first, !StopRequest.isRaised {
                pending.removeFirst()
                var arguments = ["train"] + baseArguments + ["--seed", "\(seed)", "--out", directory(seed)]
                if parallel { arguments.append("--quiet") }
                do { running.append((seed, try ChildProcess(arguments))) } catch { throw runFailure(error) }
                if parallel { note("seed \(seed): started → \(directory(seed))") }
            }
            if StopRequest.isRaised && !forwarded {
                for child in running { child.process.signal(SIGINT) }
                forwarded = true
            }
            for child in running {
                guard let ending = child.process.poll() else { continue }
                if ending == .exited(0) { finished.append(child.seed) } else { failed.append((child.seed, ending)) }
                if parallel || ending != .exited(0) { note("seed \(child.seed): \(SeedSweep.describe(ending))") }
            }
            running.removeAll { $0.process.ending != nil }
            usleep(50_000)
        }
        if StopRequest.isRaised {
            let done = seeds.filter(finished.contains)
            print("stopped: " + (done.isEmpty ? "no seed finished" : "seed\(done.count == 1 ? "" : "s") "
                                 + done.map(String.init).joined(separator: ", ") + " finished")
                  + "; continue the others with trpo train --resume DIR")
            throw ExitCode(130)
        }
        try summarise(seeds.filter(finished.contains))
        if !failed.isEmpty {
            throw runFailure("seed" + (failed.count == 1 ? " " : "s ") + failed.map { "\($0.seed)" }.joined(separator: ", ")
                             + " did not finish (see above)")
        }
    }

    /// "finished", "exit 2", "killed by signal 9".
    static func describe(_ ending: ChildProcess.Ending) -> String {
        switch ending {
        case .exited(0): "finished"
        case .exited(let status): "exit \(status)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }

    /// Prints the final table: per seed its deterministic evaluation return (10 episodes),
    /// then the mean, IQM and 95 % bootstrap interval of the mean over the seeds.
    func summarise(_ seeds: [UInt64]) throws {
        guard !seeds.isEmpty else { return }
        var scores: [Double] = []
        print("seed | run directory | deterministic return, 10 episodes (mean ± sd)")
        for seed in seeds {
            let evaluation = try CheckpointEvaluation(directory: URL(fileURLWithPath: directory(seed)), episodes: 10, deterministic: true)
            scores.append(evaluation.result.returnMean)
            print(String(format: "%@ | %@ | %.2f ± %.2f", "\(seed)", directory(seed), evaluation.result.returnMean,
                         evaluation.result.returnStandardDeviation))
        }
        let summary = SeedSummary(scores: scores)
        print(String(format: "mean %.2f | IQM %.2f | 95%% bootstrap CI of the mean [%.2f, %.2f] (%d seeds, %@ resamples)",
                     summary.mean, summary.iqm, summary.meanInterval.lower, summary.meanInterval.upper, scores.count,
                     grouped(BootstrapInterval.defaultResamples)))
    }
}

/// The returns of a saved policy over some episodes (`trpo eval`, and each seed of `trpo train --seeds`).
struct CheckpointEvaluation {
    let state: TrainerState
    let result: EvaluationResult

    /// Loads the checkpoint in `directory` (or the checkpoint file itself) and runs `episodes`
    /// episodes from initial states seeded by `seed`: in this process for a built-in
    /// environment, through the Python worker package (interpreter `python`, or the one
    /// ``PythonWorkerInterpreter`` finds) for an external one.
    /// - Throws: exit 2 (``runFailure(_:)-(String)``) for a missing, corrupt or inconsistent
    ///   checkpoint, or an external environment's evaluation that failed.
    init(directory: URL, episodes: Int, deterministic: Bool, seed: UInt64 = 12345, python: String? = nil) throws {
        do {
            state = try Checkpoint.load(from: directory)
            let c = state.configuration
            if c.isExternal {
                result = try PythonEvaluation(interpreter: try PythonWorkerInterpreter.resolve(explicit: python))
                    .evaluate(checkpoint: directory, episodes: episodes, deterministic: deterministic, seed: seed)
            } else {
                result = try evaluatePolicy(state.builtInPolicy, normalizer: state.samplingNormalizer,
                                             environment: c.environment, modelXML: c.modelXML, episodes: episodes,
                                             deterministic: deterministic, seed: seed)
            }
        } catch { throw runFailure(error) }
    }
}
