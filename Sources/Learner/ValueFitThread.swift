import Core
import Foundation
import Synchronization

/// An iteration's value fit (``PendingValueFit/fit()``) on a thread of its own, so the next
/// batch is sampled meanwhile: samplers need the new policy and observation statistics, not
/// the new value function, which is first read by the next batch's advantages. Waiting for
/// the result before those advantages keeps a run's numbers exactly those of fitting in line.
public final class ValueFitThread: Sendable {
    private let result = Mutex<FittedValue?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts fitting at once.
    /// - Parameter yieldsToSamplers: run the fit at background priority
    ///   (``ThreadPriority/yieldToOtherWork()``), on the cores that samplers on this machine
    ///   leave free — during the policy step, when they wait for the new version — instead of
    ///   taking a share of theirs while they sample.
    public init(_ pending: PendingValueFit, yieldsToSamplers: Bool = false) {
        Thread.detachNewThread { [self] in
            if yieldsToSamplers { ThreadPriority.yieldToOtherWork() }
            let fitted = pending.fit()
            result.withLock { $0 = fitted }
            finished.signal()
        }
    }

    /// True once the fit is done (``wait()`` then returns at once).
    public var isDone: Bool { result.withLock { $0 != nil } }

    /// The fit's result, waiting for it if need be. Call it once.
    public func wait() -> FittedValue {
        finished.wait()
        return result.withLock { $0! }
    }
}

/// An iteration's value fit as a training loop runs it: on a ``ValueFitThread`` from the
/// moment the trainer hands it out (beside the policy step and the next batch's sampling), or
/// in line once asked for (`--no-overlap`). Either gives the same numbers.
enum ValueFitRun {
    case concurrent(ValueFitThread)
    case inLine(PendingValueFit)

    /// - Parameter yieldsToSamplers: see ``ValueFitThread/init(_:yieldsToSamplers:)``.
    init(_ pending: PendingValueFit, concurrent: Bool, yieldsToSamplers: Bool = false) {
        self = concurrent ? .concurrent(ValueFitThread(pending, yieldsToSamplers: yieldsToSamplers)) : .inLine(pending)
    }

    /// True when ``result()`` would not wait (an in-line fit has not run yet).
    var isDone: Bool {
        switch self {
        case .concurrent(let thread): thread.isDone
        case .inLine: false
        }
    }

    /// The fit's result: waits for the thread, or fits now.
    func result() -> FittedValue {
        switch self {
        case .concurrent(let thread): thread.wait()
        case .inLine(let pending): pending.fit()
        }
    }
}

/// A single-path iteration whose next version is out and whose value fit runs (or waits to
/// run, in line): what a training loop keeps until it records the iteration.
struct InFlightIteration {
    var fit: ValueFitRun
    /// The iteration's statistics but for the value fit's.
    var statistics: IterationStatistics
    var sampleSeconds: Double
    var publishSeconds: Double
}

extension TrainingSession {
    /// Records `iteration` once its value fit is done (waiting for it, or fitting in line).
    mutating func complete(_ iteration: InFlightIteration,
                           counters: TransportCounters = TransportCounters()) throws -> IterationStatistics {
        try completeUpdate(iteration.fit.result(), iteration.statistics, sampleSeconds: iteration.sampleSeconds,
                           publishSeconds: iteration.publishSeconds, counters: counters)
    }
}
