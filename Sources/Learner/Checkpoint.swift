import Core
import Foundation

/// Why a checkpoint could not be read.
public enum CheckpointError: Error, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path): "no checkpoint at \(path)"
        case .unreadable(let path, let reason): "cannot read checkpoint \(path): \(reason)"
        case .corrupt(let path, let reason): "corrupt checkpoint \(path): \(reason)"
        }
    }
}

/// The run directory's checkpoint, `checkpoint.json`: the complete ``TrainerState``
/// (configuration, iteration, parameters, value function with its optimiser, observation
/// statistics, random state), rewritten atomically after every iteration.
public enum Checkpoint {
    public static let fileName = "checkpoint.json"

    public static func url(in directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    public static func save(_ state: TrainerState, in directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try encoder.encode(state), to: url(in: directory))
    }

    /// Loads a checkpoint from a run directory (or from the file itself).
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
        guard state.policy.parameters.allFinite, state.valueFunction.network.parameters.allFinite else {
            throw .corrupt(path: file.path, reason: "parameters hold non-finite values")
        }
        guard state.policy.isWellFormed, state.valueFunction.network.isWellFormed,
              state.valueFunction.network.inputSize == state.policy.observationSize,
              state.normalizer.size == state.policy.observationSize
        else { throw .corrupt(path: file.path, reason: "parameter shapes are inconsistent") }
        return state
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
