import ArgumentParser
import Core
import Foundation
import Worker

@main
struct TRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trpo",
        abstract: "Trust Region Policy Optimization: train, evaluate and benchmark policies.",
        discussion: """
            Exit status: 0 on success; 64 for a malformed command line or --config file (the \
            message names the option, or the file and key); 2 when a well-formed command cannot be carried out (a missing, corrupt or \
            inconsistent checkpoint, a run directory that does not fit the command, an endpoint \
            that cannot be bound); 130 when interrupted.
            """,
        version: trpoVersion,
        subcommands: [TrainCommand.self, LearnerCommand.self, WorkerCommand.self, KeysCommand.self, EvalCommand.self, PlotCommand.self, VarianceCommand.self,
                      EnvCommand.self, PresetsCommand.self, BenchCommand.self, RenderCommand.self]
    )

    /// OpenBLAS's kernels for this CPU (``NumericsRuntime/useThisCPUsBLASKernels()``), then the command.
    static func main() {
        NumericsRuntime.useThisCPUsBLASKernels()
        main(nil)
    }

    /// `trpo` without a command: its help, as a usage error.
    func run() throws {
        FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
        throw ExitCode.validationFailure
    }
}
