import Foundation

/// Why supervision, or a learner run's preflight, could not go on.
public enum SupervisionError: Error, CustomStringConvertible, Equatable {
    /// `posix_spawn` of a command line failed.
    case cannotStart(command: String, reason: String)
    /// No Python interpreter that can import the worker package (`trpo_worker`) was found for
    /// an external environment's workers; `tried` lists what was tried and why each failed.
    case noPythonWorker(tried: [String])
    /// A supervised learner process whose supervisor (this pid) is already gone.
    case supervisorGone(pid: Int32)
    /// A deterministic vine run with more workers than rollout states to share among them.
    case tooManyDeterministicVineWorkers(workers: Int, rolloutStates: Int)
    /// A custom model larger than workers accept.
    case modelTooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .cannotStart(let command, let reason): "cannot start `\(command)`: \(reason)"
        case .noPythonWorker(let tried):
            "no Python with the trpo-worker package, which makes gym:ID and py:MODULE:FACTORY environments (tried \(tried.joined(separator: "; "))): "
                + "run scripts/setup.sh (it makes .venv), or `pip install ./python` into a venv and pass --python PATH or set TRPO_PYTHON"
        case .supervisorGone(let pid): "the learner's supervisor (process \(pid)) is gone"
        case .tooManyDeterministicVineWorkers(let workers, let states):
            "--deterministic vine runs share the \(states) rollout states among the workers; use at most that many workers (got \(workers))"
        case .modelTooLarge(let bytes, let limit):
            "the model file is \(bytes) bytes; workers accept models of at most \(limit) bytes"
        }
    }
}
