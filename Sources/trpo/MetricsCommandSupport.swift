import ArgumentParser
import Learner
import MetricsExport
import Worker

/// Starts serving the Prometheus metrics of a learner about to serve `session` (`--metrics`):
/// binds `address` now, so that a port in use ends the command (one `error:` line, exit 2)
/// before training starts, and announces the URL unless `quiet`.
/// - Returns: the metrics, to observe the learner, and their server, to stop at the end.
func startMetrics(at address: MetricsAddress, run: TrainingOptions.Run,
                  quiet: Bool) throws -> (metrics: LearnerMetrics, server: MetricsServer) {
    let metrics: LearnerMetrics
    switch run.start {
    case .new(let c):
        metrics = LearnerMetrics(configuration: c, iteration: 0, timesteps: 0, evaluation: run.evaluation, version: trpoVersion)
    case .resume(let state):
        metrics = LearnerMetrics(configuration: state.configuration, iteration: state.iteration, timesteps: state.timesteps,
                                 evaluation: run.evaluation, version: trpoVersion)
    }
    let server: MetricsServer
    do { server = try MetricsServer(binding: address, exposition: metrics.exposition) } catch {
        throw metricsFailure(address, error)
    }
    if !quiet { note("learner: Prometheus metrics at \(server.url)") }
    return (metrics, server)
}

/// Before a command touches the run directory (`--overwrite` removes the old run) or starts a
/// supervised learner process: ends it as ``startMetrics(at:run:quiet:)`` would when
/// `address` cannot be bound now (a port in use).
func checkMetricsAddress(_ address: MetricsAddress) throws {
    do { try MetricsServer.checkAvailable(address) } catch { throw metricsFailure(address, error) }
}

private func metricsFailure(_ address: MetricsAddress, _ error: MetricsServerError) -> ExitCode {
    runFailure("cannot serve metrics on \(address): \(error)")
}
