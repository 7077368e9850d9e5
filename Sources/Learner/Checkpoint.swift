import Core
import Foundation
import Simulators

/// Why a checkpoint could not be read.
public enum CheckpointError: Error, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case corrupt(path: String, reason: String)
    /// The policy does not fit the environment the checkpoint names: its observation or
    /// action shapes differ from the environment's (with its custom model, if any).
    case environmentMismatch(path: String, environment: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path): "no checkpoint at \(path)"
        case .unreadable(let path, let reason): "cannot read checkpoint \(path): \(reason)"
        case .corrupt(let path, let reason): "corrupt checkpoint \(path): \(reason)"
        case .environmentMismatch(let path, let environment, let reason):
            "inconsistent checkpoint \(path): its policy does not fit \(environment), the environment it names: \(reason)"
        }
    }
}

/// The run directory's checkpoint, `checkpoint.json`: the complete ``TrainerState``
/// (configuration, iteration, parameters, value function with its optimiser, observation
/// statistics, random state), rewritten atomically as ``CheckpointSchedule`` says.
public enum Checkpoint {
    public static let fileName = "checkpoint.json"

    public static func url(in directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    public static func save(_ state: TrainerState, in directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try encoder.encode(state), to: url(in: directory))
    }

    /// Loads a checkpoint from a run directory (or from the file itself) and checks it before
    /// anything uses it: parameters finite, the parts' shapes consistent with each other, and
    /// the policy's observation and action shapes those of the environment the configuration
    /// names (built with the configuration's custom model, if any), so a policy is never run
    /// on observations or actions of another size.
    /// - Throws: ``CheckpointError``, naming the file and the problem.
    public static func load(from location: URL) throws(CheckpointError) -> TrainerState {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) else {
            throw .missing(path: location.path)
        }
        let file = isDirectory.boolValue ? url(in: location) : location
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            if !FileManager.default.fileExists(atPath: file.path) { throw .missing(path: file.path) }
            throw .unreadable(path: file.path, reason: "\(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state: TrainerState
        do { state = try decoder.decode(TrainerState.self, from: data) } catch {
            throw .corrupt(path: file.path, reason: describe(error))
        }
        guard state.policy.parameters.allFinite, state.valueFunction.parameters.allFinite else {
            throw .corrupt(path: file.path, reason: "parameters hold non-finite values")
        }
        guard state.policy.isWellFormed, state.valueFunction.isWellFormed,
              state.valueFunction.observationSize == state.policy.observationSize,
              state.normalizer.size == state.policy.observationSize
        else { throw .corrupt(path: file.path, reason: "parameter shapes are inconsistent") }
        // The networks' trunk is the one the configuration gives its environment.
        let architecture = state.configuration.frameArchitecture
        switch (state.policy, state.valueFunction) {
        case (.dense, .dense) where architecture == nil: break
        case (.convolutional(let p), .convolutional(let v)) where p.network.architecture == architecture && v.network.architecture == architecture: break
        default: throw .corrupt(path: file.path, reason: "the networks are not the trunk the configuration gives the environment")
        }
        try checkEnvironment(of: state, path: file.path)
        return state
    }

    /// Checks that `state`'s policy takes the observations and gives the actions of its
    /// configuration's environment.
    static func checkEnvironment(of state: TrainerState, path: String) throws(CheckpointError) {
        let c = state.configuration
        let spaces: (observationSize: Int, actionSpace: ActionSpace)
        do { spaces = try c.environmentSpaces() } catch {
            throw .corrupt(path: path, reason: "\(error)")
        }
        let observations = spaces.observationSize
        let head = PolicyHead(spaces.actionSpace)
        guard state.policy.observationSize == observations, state.policy.head == head else {
            throw .environmentMismatch(
                path: path, environment: c.environment,
                reason: "the policy takes \(state.policy.observationSize) observations and gives \(state.policy.head.actionsDescription), "
                    + "\(c.environment)\(c.modelXML == nil ? "" : " with its custom model") has \(observations) observations and "
                    + "\(head.actionsDescription)")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.debugDescription) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "\(error)"
        }
    }
}

/// When a run rewrites its `checkpoint.json`. Encoding the trainer state costs about as much
/// as a small environment's whole iteration (a third of a CartPole run's CPU time when written
/// after every iteration), so a run checkpoints at most once per ``interval`` and, whatever
/// the interval, after the first iteration of each session (so the directory holds a run at
/// once), after the iteration that finishes the run, after one whose evaluation is a new best
/// (so `best/` and the checkpoint's record of it agree), and when the run stops on a request
/// (``TrainingSession/saveCheckpoint()``). A crash loses at most ``interval`` seconds of
/// iterations: `--resume` continues from the checkpoint and cuts `progress.csv` back to it.
public struct CheckpointSchedule: Sendable, Equatable {
    /// Least seconds between two checkpoints (0: after every iteration).
    public var interval: Double

    /// The command line's default, `--checkpoint-every 10`.
    public static let defaultInterval = 10.0
    /// A checkpoint after every iteration.
    public static let everyIteration = CheckpointSchedule(interval: 0)

    /// Keep a copy of the checkpoint of every `keepEvery`-th iteration in
    /// ``keptDirectory(iteration:in:)`` (nil: keep none): a run's history, for `trpo eval`
    /// or `trpo render` of the policy as it was.
    public var keepEvery: Int?

    /// The directory, inside a run's, that holds the kept checkpoints.
    public static let keptDirectoryName = "checkpoints"

    public init(interval: Double, keepEvery: Int? = nil) {
        precondition(interval >= 0 && interval.isFinite, "a checkpoint interval is a finite number of seconds ≥ 0")
        precondition(keepEvery.map { $0 > 0 } ?? true, "checkpoints are kept every N > 0 iterations")
        self.interval = interval
        self.keepEvery = keepEvery
    }

    /// True when the checkpoint of `iteration` is kept (``keepEvery`` divides it).
    public func keeps(_ iteration: Int) -> Bool {
        keepEvery.map { iteration % $0 == 0 } ?? false
    }

    /// `DIR/checkpoints/iteration-N`: where the checkpoint of `iteration` is kept (its
    /// `checkpoint.json`, which `trpo eval --checkpoint` reads as it reads a run's).
    public static func keptDirectory(iteration: Int, in run: URL) -> URL {
        run.appendingPathComponent(keptDirectoryName).appendingPathComponent("iteration-\(iteration)")
    }

    /// The iterations whose checkpoints are kept in `run`, ascending.
    public static func keptIterations(in run: URL) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent(keptDirectoryName).path)) ?? []
        return names.compactMap { $0.hasPrefix("iteration-") ? Int($0.dropFirst("iteration-".count)) : nil }.sorted()
    }

    /// True when the iteration just recorded is checkpointed.
    /// - Parameters:
    ///   - secondsSinceLastSave: seconds since this session last wrote the checkpoint (nil:
    ///     it has not yet).
    ///   - finishingRun: the iteration spent the run's step budget.
    ///   - newBest: the iteration's evaluation is the run's best so far.
    public func isDue(secondsSinceLastSave: Double?, finishingRun: Bool, newBest: Bool) -> Bool {
        guard let secondsSinceLastSave else { return true }
        return finishingRun || newBest || secondsSinceLastSave >= interval
    }
}

extension PolicyHead {
    /// "2 discrete actions", "3-dimensional continuous actions"
    var actionsDescription: String {
        switch self {
        case .categorical(let k): "\(k) discrete actions"
        case .gaussian(let d): "\(d)-dimensional continuous actions"
        }
    }
}
