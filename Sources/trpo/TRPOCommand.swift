import ArgumentParser
import Worker

@main
struct TRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trpo",
        abstract: "Trust Region Policy Optimization: train, evaluate and benchmark policies.",
        version: trpoVersion,
        subcommands: [TrainCommand.self, LearnerCommand.self, WorkerCommand.self, KeysCommand.self, EvalCommand.self, PlotCommand.self, VarianceCommand.self,
                      EnvCommand.self, BenchCommand.self, RenderCommand.self]
    )
}
