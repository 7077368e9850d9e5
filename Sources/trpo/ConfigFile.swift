import ArgumentParser
import Core
import Foundation
import Learner
import Simulators
import Yams

/// A value a run setting takes, written the same way on the command line and in a `--config`
/// file.
protocol SettingValue {
    /// The value `text` denotes, or nil when it is not one.
    init?(settingText text: String)
    /// The value as a `--config` file writes it; `init(settingText:)` reads it back exactly.
    var settingText: String { get }
    /// What a text of this type must be, for error messages: "an integer", …
    static var expected: String { get }
}

/// Numbers and booleans read and write their Swift text (the shortest that reads back exactly).
extension SettingValue where Self: LosslessStringConvertible {
    init?(settingText text: String) { self.init(text) }
    var settingText: String { description }
}

extension Int: SettingValue { static var expected: String { "an integer" } }
extension UInt64: SettingValue { static var expected: String { "a non-negative integer" } }
extension Double: SettingValue { static var expected: String { "a number" } }
extension Bool: SettingValue { static var expected: String { "true or false" } }

/// `--vine-bootstrap`: `none` or `value`.
extension VineBootstrap: SettingValue, ExpressibleByArgument {
    init?(settingText text: String) { self.init(rawValue: text) }
    var settingText: String { rawValue }
    static var expected: String { "none or value" }
}

/// `--trunk`: `auto`, `mlp`, `cnn-small`, `dqn-2013` or `paper-atari`.
extension TrunkChoice: SettingValue, ExpressibleByArgument {
    init?(settingText text: String) { self.init(rawValue: text) }
    var settingText: String { rawValue }
    static var expected: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// `--kl-schedule`: `constant` or `linear`.
extension KLSchedule: SettingValue, ExpressibleByArgument {
    init?(settingText text: String) { self.init(rawValue: text) }
    var settingText: String { rawValue }
    static var expected: String { "constant or linear" }
}

/// `--vine-kl-states`: `rollout-set` or `trunks`.
extension VineTrustRegion: SettingValue, ExpressibleByArgument {
    init?(settingText text: String) { self.init(rawValue: text) }
    var settingText: String { rawValue }
    static var expected: String { "rollout-set or trunks" }
}

/// Layer widths: `64,64` on the command line, `[64, 64]` in a file (either is read).
extension Array: SettingValue where Element == Int {
    init?(settingText text: String) {
        var trimmed = Substring(text.trimmingCharacters(in: .whitespaces))
        if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") { trimmed = trimmed.dropFirst().dropLast() }
        guard let widths = try? LayerWidths.parse(String(trimmed)) else { return nil }
        self = widths.widths
    }
    var settingText: String { "[\(map(String.init).joined(separator: ", "))]" }
    static var expected: String { "positive widths, e.g. [64, 64]" }
}

/// One row of ``TrainingOptions/catalog``: a setting an option and a `--config` key give, with
/// the command line's value if it gave one.
struct SettingEntry {
    /// The `--config` key: the option's long name without `--` (and without `no-` for a flag
    /// with an inversion): `max-kl`, `reward-norm`.
    var key: String
    /// The setting the command line gives (nil: the option is absent).
    var given: TrainingOptions.Setting?
    /// The configuration's value, as a file writes it.
    var current: (TrainingConfiguration) -> String
    /// The setting a file's `text` gives, labelled `label`; nil when `text` is not a value of
    /// this setting's type.
    var parse: (_ text: String, _ label: String) -> TrainingOptions.Setting?
    /// What a value must be ("an integer", …).
    var expected: String

    init<Value: SettingValue>(option: String, value: Value?, paths: [WritableKeyPath<TrainingConfiguration, Value>]) {
        var key = option.dropFirst(2)
        if Value.self == Bool.self && key.hasPrefix("no-") { key = key.dropFirst(3) }
        let current = { (c: TrainingConfiguration) in c[keyPath: paths[0]].settingText }
        func setting(_ option: String, _ value: Value, shown: String?) -> TrainingOptions.Setting {
            TrainingOptions.Setting(option: option, key: String(key), value: shown, current: current) { c in
                for path in paths { c[keyPath: path] = value }
            }
        }
        self.key = String(key)
        self.current = current
        given = value.map { setting(option, $0, shown: $0 is Bool ? nil : $0.settingText) }
        parse = { text, label in Value(settingText: text).map { setting(label, $0, shown: $0.settingText) } }
        expected = Value.expected
    }
}

/// A `--config` file: one YAML mapping from settings to values, as RL-Zoo's hyperparameter
/// files are: the environment's id is the `env` key, or, as in RL-Zoo, the one key above the
/// settings (`CartPole-v1: {max-kl: 0.02}`). The keys are
/// the long option names of `trpo train` (`max-kl: 0.02` says what `--max-kl 0.02` says;
/// `reward-norm: false` what `--no-reward-norm` says), and `env`, `sampler` and `model`.
struct ConfigFile {
    var path: String
    var env: String?
    var sampler: SamplerKind?
    /// The model file, as `--model` names it.
    var model: String?
    /// An external environment's keyword arguments (JSON object text), as `--env-kwargs` gives them.
    var envKwargs: String?
    /// The file's settings, in the order of ``TrainingOptions/catalog``, each labelled
    /// `PATH: key` for messages.
    var settings: [TrainingOptions.Setting]

    /// The keys that are not in the catalog.
    static let otherKeys = ["env", "env-kwargs", "sampler", "model"]
}

extension TrainingOptions {
    /// The `--config` file, read and checked against the catalog (nil without `--config`).
    /// - Throws: exit 2 (``runFailure(_:)-(String)``) when the file cannot be read;
    ///   `ValidationError` (exit 64) naming the file, the key and the problem when it is not a
    ///   YAML mapping, has a key that is no setting, or a value of the wrong type.
    func configFile() throws -> ConfigFile? {
        guard let path = config else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw runFailure("cannot read config file \(path)") }
        func malformed(_ problem: String) -> ValidationError { ValidationError("\(path): \(problem)") }
        let root: Node?
        do { root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw malformed("not valid YAML: \("\(error)".split(separator: "\n").joined(separator: " "))")
        }
        guard let root else { return ConfigFile(path: path, settings: []) }
        guard var mapping = root.mapping else { throw malformed("expected a mapping of settings (key: value), e.g. max-kl: 0.01") }
        var texts: [String: String] = [:]
        if mapping.count == 1, let (top, inner) = mapping.first, let id = top.string,
           EnvironmentRegistry.ids.contains(id) || EnvironmentName.isExternal(id),
           let settings = inner.mapping {
            texts["env"] = id
            mapping = settings
        }
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else { throw malformed("a key must be a setting's name") }
            guard texts[key] == nil else { throw malformed("\(key): given twice") }
            switch valueNode {
            case .scalar(let scalar): texts[key] = scalar.string
            case .sequence(let sequence) where sequence.allSatisfy({ $0.scalar != nil }):
                texts[key] = sequence.compactMap { $0.scalar?.string }.joined(separator: ",")
            default: throw malformed("\(key): expected a value, not a \(valueNode.mapping != nil ? "mapping" : "nested list")")
            }
        }
        let catalog = catalog
        let known = ConfigFile.otherKeys + catalog.map(\.key)
        if let unknown = texts.keys.sorted().first(where: { !known.contains($0) }) {
            throw malformed("unknown key '\(unknown)' (the keys are \(known.joined(separator: ", ")))")
        }
        if let env = texts["env"], let problem = Self.environmentProblem(env) { throw malformed("env: \(problem)") }
        if let kwargs = texts["env-kwargs"], let problem = Self.argumentsProblem(kwargs) { throw malformed("env-kwargs: \(problem)") }
        var file = ConfigFile(path: path, env: texts["env"], model: texts["model"], envKwargs: texts["env-kwargs"], settings: [])
        if let text = texts["sampler"] {
            guard let sampler = SamplerKind(rawValue: text) else {
                throw malformed("sampler: '\(text)' is not one of \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            file.sampler = sampler
        }
        for entry in catalog {
            guard let text = texts[entry.key] else { continue }
            guard let setting = entry.parse(text, "\(path): \(entry.key)") else {
                throw malformed("\(entry.key): '\(text)' is not \(entry.expected)")
            }
            file.settings.append(setting)
        }
        return file
    }

    /// `c` as a `--config` file: `env`, `sampler`, every key of the catalog in its order, and
    /// `model` for a custom model. Reading it back with `--config` gives `c` again (its other
    /// fields come from the preset), and printing that gives the same text.
    func yaml(of c: TrainingConfiguration) -> String {
        var lines = ["env: \(c.environment)", "sampler: \(c.sampler.rawValue)"]
        if let kwargs = c.environmentArguments {
            lines.append("env-kwargs: \(((try? Yams.serialize(node: Node(kwargs, Tag(.str), .singleQuoted))) ?? kwargs).trimmingCharacters(in: .newlines))")
        }
        lines += catalog.map { "\($0.key): \($0.current(c))" }
        if let model = c.modelFile {
            lines.append("model: \(((try? Yams.serialize(node: Node(model))) ?? model).trimmingCharacters(in: .newlines))")
        }
        return lines.map { $0 + "\n" }.joined()
    }
}
