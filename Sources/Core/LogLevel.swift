/// How much a service's log line matters.
///
/// `.progress` lines narrate a healthy run (listening, a worker joined, collecting, finished):
/// a quiet command drops them. `.warning` lines report something going wrong (a message
/// rejected, a worker declared gone, a peer refused, a learner unreachable) and are always
/// shown.
public enum LogLevel: Sendable {
    case progress
    case warning
}
