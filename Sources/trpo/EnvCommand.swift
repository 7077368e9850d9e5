import ArgumentParser
import Core
import Foundation
import Simulators

/// `trpo env`: inspect the environments this build provides.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "List the environments and replay actions in them.",
        subcommands: [ListEnvironments.self, ReplayActions.self]
    )

    /// `trpo env list`: one row per environment.
    struct ListEnvironments: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "Print each environment's id, observation space, action space and time limit."
        )

        func run() throws {
            var rows = [["ID", "OBSERVATION SPACE", "ACTION SPACE", "MAX STEPS"]]
            for id in EnvironmentRegistry.ids {
                let simulator = try EnvironmentRegistry.make(id)
                rows.append([id, simulator.observationSpace.description, simulator.actionSpace.description,
                             String(simulator.maxEpisodeSteps)])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                let padded = zip(row, widths).map { cell, width in
                    cell + String(repeating: " ", count: width - cell.count)
                }
                print(padded.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
        }
    }

    /// `trpo env replay`: steps an environment from a given state and prints every step.
    struct ReplayActions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Replay actions from a given state, printing one JSON object per step.",
            discussion: """
                FILE holds {"state": [...], "actions": [...]}: the state in Gymnasium's \
                env.unwrapped.state layout, and the actions (an integer each for a discrete \
                action space, an array of numbers for a box). The time limit counts from the \
                given state; the replay stops after the step that terminates or truncates. \
                Each line is {"t":…,"obs":[…],"reward":…,"terminated":…,"truncated":…,"state":[…]} \
                with numbers that round-trip exactly. An unknown environment exits with status 64, a bad input file with status 2.
                """
        )

        @Option(help: "The environment id, for example CartPole-v1 (see `trpo env list`).")
        var env: String

        @Option(help: ArgumentHelp("The JSON file with the start state and the actions.", valueName: "FILE"))
        var input: String

        func validate() throws {
            do { _ = try EnvironmentRegistry.make(env) } catch { throw ValidationError(error.description) }
        }

        func run() throws {
            do {
                let simulator = try EnvironmentRegistry.make(env)
                let request = try ReplayInput(json: try readInput(), for: simulator)
                for step in try simulator.replay(request) {
                    print(step.json)
                }
            } catch {
                throw runFailure(error)
            }
        }

        private func readInput() throws(InputFileError) -> Data {
            guard FileManager.default.fileExists(atPath: input) else { throw .missing(input) }
            guard let data = FileManager.default.contents(atPath: input) else { throw .unreadable(input) }
            return data
        }
    }
}

/// Why the replay input file could not be read.
private enum InputFileError: Error, CustomStringConvertible {
    case missing(String)
    case unreadable(String)

    var description: String {
        switch self {
        case .missing(let path): "no input file at \(path)"
        case .unreadable(let path): "cannot read input file \(path)"
        }
    }
}
