import Dispatch
import Foundation
import Learner

/// Evaluates a checkpoint of a run of an external environment (`gym:ID`, `py:MODULE:FACTORY`)
/// with the Python worker package, which can make the environment: `INTERPRETER -m
/// trpo_worker.cli evaluate --checkpoint DIR --episodes K --seed S [--stochastic] --json`, whose
/// last line on standard output is `{"returns": [...], "lengths": [...]}`.
public struct PythonEvaluation {
    public var interpreter: String

    public init(interpreter: String) { self.interpreter = interpreter }

    /// Why an evaluation through Python failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The episodes' returns and lengths; the Python side's standard error passes through.
    /// - Throws: ``Failure`` with the evaluation's last error line, or when its output is not
    ///   the documented JSON.
    public func evaluate(checkpoint: URL, episodes: Int, deterministic: Bool, seed: UInt64) throws -> EvaluationResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = ["-m", "trpo_worker.cli", "evaluate", "--checkpoint", checkpoint.path, "--episodes", "\(episodes)",
                             "--seed", "\(seed)", "--json"] + (deterministic ? [] : ["--stochastic"])
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Standard error is read on another thread so that neither pipe can fill up and block.
        nonisolated(unsafe) var errorText = Data()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { errorText = errors.fileHandleForReading.readDataToEndOfFile() }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        reading.wait()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: errorText, as: UTF8.self).split(separator: "\n").last.map(String.init)
            throw Failure(description: "evaluating \(checkpoint.path) through \(interpreter) failed: "
                          + (last ?? "exit status \(process.terminationStatus)"))
        }
        struct Episodes: Decodable { var returns: [Double]; var lengths: [Int] }
        guard let line = text.split(separator: "\n").last,
              let episodes = try? JSONDecoder().decode(Episodes.self, from: Data(line.utf8)),
              episodes.returns.count == episodes.lengths.count, !episodes.returns.isEmpty
        else { throw Failure(description: "evaluating \(checkpoint.path) through \(interpreter): unexpected output \(text.suffix(200))") }
        return EvaluationResult(returns: episodes.returns, lengths: episodes.lengths)
    }
}
