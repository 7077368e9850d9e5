import ArgumentParser
import Core
import Foundation
import Learner
import Simulators

/// `trpo presets [ENV]`: each environment's preset, for both samplers, as the YAML that
/// `trpo train --config` reads, each headed by a comment with where its values come from.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the environments' presets (as --config YAML) with their sources.",
        discussion: """
            One YAML document per environment and sampler, separated by ---; save one as a file \
            to start a run from it with `trpo train --config FILE` (docs/presets.md).
            """
    )

    @Argument(help: "Only this environment (see `trpo env list`; or gym:ID, e.g. gym:ALE/Pong-v5).")
    var env: String?

    @Option(help: "Only this sampler: single-path or vine.")
    var sampler: SamplerKind?

    func validate() throws {
        guard let env else { return }
        if EnvironmentName.isExternal(env) {
            if let problem = EnvironmentName.problem(env) { throw ValidationError(problem) }
        } else {
            do { _ = try EnvironmentRegistry.make(env) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        var documents: [String] = []
        // The built-in environments, then the paper's Atari games (one preset for all of them).
        for id in env.map({ [$0] }) ?? EnvironmentRegistry.ids + TrainingConfiguration.atariGames {
            let source = TrainingConfiguration.presetSource(for: id)
            for kind in sampler.map({ [$0] }) ?? SamplerKind.allCases {
                let why = kind == .vine ? source.vine : source.singlePath
                // The options of `train --env ID --sampler KIND`: their catalog writes the preset.
                let options = try TrainingOptions.parse(["--env", id, "--sampler", kind.rawValue])
                let preset = try options.newConfiguration(environment: id, file: nil)
                documents.append("# \(id), \(kind.rawValue): \(why)\n" + options.yaml(of: preset))
            }
        }
        print(documents.joined(separator: "---\n"), terminator: "")
    }
}
