#if !FUZZING
import Core
import Foundation
import Protocol

/// Without libFuzzer: `ProtocolFuzz FILE…` runs the fuzz entry point on each file (to
/// replay crashes), and `ProtocolFuzz --corpus DIR` writes a seed corpus of valid messages
/// of every kind.
@main struct Replay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.count == 2 && arguments[0] == "--corpus" {
            try writeCorpus(to: URL(fileURLWithPath: arguments[1]))
            return
        }
        for path in arguments {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            _ = data.withUnsafeBytes { fuzzOne($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
            print("\(path): ok")
        }
    }

    static func writeCorpus(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var random = RandomStream(seed: 1)
        let worker = WorkerIdentity(id: 1, nonce: 2)
        var batch = SampleBatch(observationSize: 2, actionWidth: 1)
        batch.observations = [0, 1, 2, 3, 4, 5]
        batch.actions = [0, 1, 0]
        batch.rewards = [1, 1, 1]
        batch.ends = [.terminated, .none, .truncated]
        batch.bootstrapRows = [2]
        batch.bootstrapObservations = [6, 7]
        batch.episodeReturns = [1]
        batch.episodeLengths = [1]
        var normalizer = RunningNormalizer(size: 2)
        normalizer.update(with: Matrix(rows: 1, columns: 2, storage: [1, 2]))
        let messages: [Message] = [
            .hello(Message.Hello(nonce: worker.nonce, workerID: worker.id, simulatorCount: 1, environmentID: "CartPole-v1",
                                 softwareVersion: "fuzz")),
            .hello(Message.Hello(nonce: worker.nonce, workerID: nil, simulatorCount: 0, environmentID: "", softwareVersion: "")),
            .welcome(Message.Welcome(session: 3, worker: worker, assigned: true, heartbeatInterval: .seconds(1),
                                     workerTimeout: .seconds(10), softwareVersion: "trpo 0.1.0", environmentID: "CartPole-v1")),
            .welcome(Message.Welcome(session: 3, worker: worker, assigned: false, heartbeatInterval: .seconds(1),
                                     workerTimeout: .seconds(10), softwareVersion: "trpo 0.1.0", environmentID: "gym:Pendulum-v1",
                                     environmentArguments: #"{"g": 9.81}"#, specRequired: true)),
            .environmentSpec(Message.EnvironmentSpecReport(worker: worker, spec: EnvironmentSpec(
                observationShape: [3], observationType: .float32, actionSpace: .box(low: [-2], high: [2]), timeLimit: 200,
                canSnapshot: true))),
            .parameters(Message.Parameters(
                session: 3, version: 4, seed: 5, environmentID: "MountainCarContinuous-v0", simulatorCount: 2,
                chunkSteps: 64, quota: 256,
                policy: Policy(observationSize: 2, head: .gaussian(dimensions: 1), hiddenSizes: [3], random: &random),
                normalizer: normalizer)),
            .parameters(Message.Parameters(
                session: 3, version: 4, seed: 5, environmentID: "MountainCar-v0", simulatorCount: 1, chunkSteps: 64, quota: 0,
                policy: Policy(observationSize: 2, head: .categorical(actions: 3), hiddenSizes: [], activation: .relu,
                               random: &random),
                normalizer: nil)),
            .chunk(Message.Chunk(worker: worker, session: 3, version: 4, sequence: 0, simulatorSteps: 3, batch: batch)),
            .heartbeat(Message.Heartbeat(sender: .learner(session: 3), sequence: 1, timestamp: 2, version: 4)),
            .heartbeat(Message.Heartbeat(sender: .worker(worker), sequence: 1, timestamp: 2, version: nil)),
            .stop(Message.Stop(session: 3, reason: .finished, message: "done")),
            .stop(Message.Stop(session: 3, reason: .unexpectedWorker, message: "expected workers 0…3")),
            .requestParameters(worker),
            .reject(Message.Reject(session: 3, currentVersion: 4, reason: .staleParameters, sequence: 9, message: "")),
            .model(Message.Model(session: 3, xml: "<mujoco model=\"fuzz\"><worldbody/></mujoco>")),
            .requestModel(Message.ModelRequest(worker: worker, hash: Message.Model.hash(of: "<mujoco/>"))),
            .leave(Message.Leave(worker: worker, reason: .incompatible, message: "MuJoCo model 'custom model': XML Error")),
        ]
        for (i, message) in messages.enumerated() {
            try Data(input(of: WireCodec.encode(message))).write(to: directory.appendingPathComponent("seed-\(i)"))
        }
    }
}
#endif
