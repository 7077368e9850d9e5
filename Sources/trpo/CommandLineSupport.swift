import ArgumentParser
import Core
import Foundation

/// Prints `message` to standard error as one line, prefixed `error:`, and returns exit code 2:
/// for a command line that is well formed but names something that cannot be used (a missing,
/// corrupt or inconsistent checkpoint, a run directory that does not fit the command, an
/// endpoint that cannot be bound). A malformed command line is the parser's business instead:
/// `validate()` throws `ValidationError`, and every usage error exits 64.
func runFailure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(2)
}

/// ``runFailure(_:)-(String)`` with the error's description.
func runFailure(_ error: any Error) -> ExitCode { runFailure("\(error)") }

/// Prints one line to standard error (progress and notices; standard output stays for
/// results).
func note(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// A service's log on standard error: every line, or with `quiet` only the warnings.
func serviceLog(quiet: Bool) -> @Sendable (LogLevel, String) -> Void {
    { level, message in
        if level == .warning || !quiet { note(message) }
    }
}

/// "1,234,567"
func grouped(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// "42 s", "3 min 5 s", "1 h 02 min"
func humanDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return seconds < 10 ? String(format: "%.1f s", seconds) : "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
}
