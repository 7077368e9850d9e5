import Foundation

/// A run directory's `config.json` (the trainer's complete configuration), flattened to one
/// value per setting, for telling runs of one configuration apart from runs of another.
public struct RunConfiguration: Equatable, Sendable {
    /// The file's name inside a run directory.
    public static let fileName = "config.json"
    /// The setting that names the seed: runs that differ only in it are one configuration.
    public static let seedField = "seed"

    /// Each setting's dotted key path (`trpo.maxKL`) and its value as compact JSON (`0.01`,
    /// `"Hopper-v4"`, `[64,64]`).
    public let fields: [String: String]

    public init(fields: [String: String]) {
        self.fields = fields
    }

    /// Parses the JSON object `text`, flattening nested objects into dotted key paths.
    ///
    /// - Throws: ``PlotError/unreadableFile(path:reason:)`` when `text` is not a JSON object.
    public init(parsing text: String, source: String) throws(PlotError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw .unreadableFile(path: source, reason: "not a JSON object")
        }
        var fields: [String: String] = [:]
        func flatten(_ object: [String: Any], prefix: String) {
            for (key, value) in object {
                if let nested = value as? [String: Any] {
                    flatten(nested, prefix: prefix + key + ".")
                } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    fields[prefix + key] = String(decoding: data, as: UTF8.self)
                }
            }
        }
        flatten(object, prefix: "")
        self.fields = fields
    }

    /// The configuration saved in `directory`, or nil when it has no `config.json` (a run
    /// made before it was written, or a directory of another tool's `progress.csv`).
    ///
    /// - Throws: ``PlotError/unreadableFile(path:reason:)`` for a file that is not a JSON object.
    public static func read(runDirectory directory: URL) throws(PlotError) -> RunConfiguration? {
        let file = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        return try RunConfiguration(parsing: String(decoding: data, as: UTF8.self), source: file.path)
    }

    /// The environment id, without JSON quotes.
    public var environment: String? { fields["environment"].map(RunConfiguration.displayed) }

    /// A field's value as shown to a user: a JSON string without its quotes, anything else as is.
    static func displayed(_ value: String) -> String {
        (try? JSONDecoder().decode(String.self, from: Data(value.utf8))) ?? value
    }

    /// The fields apart from the seed: equal for runs of one configuration.
    public var withoutSeed: [String: String] {
        fields.filter { $0.key != RunConfiguration.seedField }
    }
}

/// Runs gathered into configurations: runs whose `config.json` agree apart from the seed form
/// one group; a run without a configuration is a group of its own.
public struct RunGroups: Sendable {
    /// The members of each group as indices into the runs given, groups in order of their
    /// first run.
    public let members: [[Int]]
    /// One legend label per group (see ``init(names:configurations:labels:)``).
    public let labels: [String]
    /// The environments of the runs, each once, in order of first appearance.
    public let environments: [String]

    /// Groups runs.
    ///
    /// A group's label is the corresponding entry of `labels` when given; otherwise the
    /// settings in which the groups' configurations differ (`trpo.maxKL=0.02, gamma=0.995`),
    /// else (one configuration) the run's name for a single run and `ENV (n seeds)` for several.
    /// A group of several seeds adds ` (n seeds)` to differing settings too.
    ///
    /// - Parameters:
    ///   - names: Each run's name (its directory's last component).
    ///   - configurations: Each run's configuration, nil where it has none.
    ///   - labels: Empty, or one label per group.
    /// - Precondition: `names` and `configurations` have the same count.
    public init(names: [String], configurations: [RunConfiguration?], labels given: [String] = []) {
        precondition(names.count == configurations.count)
        var members: [[Int]] = []
        var keys: [[String: String]?] = []
        for (index, configuration) in configurations.enumerated() {
            let key = configuration?.withoutSeed
            if let key, let group = keys.firstIndex(where: { $0 == key }) {
                members[group].append(index)
            } else {
                members.append([index])
                keys.append(key)
            }
        }
        let configured = keys.compactMap { $0 }
        let differing = Set(configured.flatMap(\.keys)).filter { field in
            Set(configured.map { $0[field] ?? "–" }).count > 1
        }.sorted()
        self.members = members
        self.labels = given.isEmpty
            ? zip(members, keys).map { runs, key in
                let seeds = runs.count > 1 ? " (\(runs.count) seeds)" : ""
                if let key, !differing.isEmpty {
                    return differing.map { "\($0)=\(key[$0].map(RunConfiguration.displayed) ?? "–")" }.joined(separator: ", ") + seeds
                }
                if runs.count == 1 { return names[runs[0]] }
                return (configurations[runs[0]]?.environment ?? names[runs[0]]) + seeds
            }
            : given
        var environments: [String] = []
        for environment in configurations.compactMap({ $0?.environment }) where !environments.contains(environment) {
            environments.append(environment)
        }
        self.environments = environments
    }
}
