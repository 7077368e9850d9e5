import Core
import Foundation

/// Finds the Python interpreter that runs the workers of an external environment: the first
/// of `--python PATH`, `$TRPO_PYTHON`, `.venv/bin/python` in the current directory or in a
/// directory above this executable (the repository's, which `scripts/setup.sh` makes), and
/// `python3` on `PATH`, that can import the worker package (`trpo_worker`) and Gymnasium.
public enum PythonWorkerInterpreter {
    /// The interpreter, checked by importing the package.
    /// - Parameters:
    ///   - explicit: `--python PATH` (only this one is tried when given).
    ///   - environment: the process environment (`TRPO_PYTHON`).
    /// - Throws: ``SupervisionError/noPythonWorker(tried:)`` naming each candidate and why it failed.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(SupervisionError) -> String {
        var tried: [String] = []
        for candidate in candidates(explicit: explicit, environment: environment) {
            if let problem = problem(with: candidate.path) {
                tried.append("\(candidate.source) \(candidate.path): \(problem)")
            } else {
                return candidate.path
            }
        }
        throw .noPythonWorker(tried: tried)
    }

    /// Where to look, in order, with where each comes from (for the error).
    static func candidates(explicit: String?, environment: [String: String]) -> [(source: String, path: String)] {
        if let explicit { return [("--python", explicit)] }
        var found: [(String, String)] = []
        if let variable = environment["TRPO_PYTHON"], !variable.isEmpty { found.append(("TRPO_PYTHON", variable)) }
        found.append((".venv", FileManager.default.currentDirectoryPath + "/.venv/bin/python"))
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let venv = directory.appendingPathComponent(".venv/bin/python").path
            if FileManager.default.fileExists(atPath: venv) && !found.contains(where: { $0.1 == venv }) {
                found.append((".venv", venv))
                break
            }
            directory.deleteLastPathComponent()
        }
        if let python3 = executableOnPath("python3") { found.append(("PATH", python3.path)) }
        return found
    }

    /// Why `path` cannot run the workers (nil: it can).
    static func problem(with path: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: path) else { return "not an executable file" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-c", "import trpo_worker, gymnasium"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return "\(error.localizedDescription)" }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return nil }
        let last = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init)
        return last ?? "exit status \(process.terminationStatus)"
    }
}
