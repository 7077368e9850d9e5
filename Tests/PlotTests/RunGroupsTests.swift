import Testing

@testable import Plot

/// Runs grouped by their configuration apart from the seed, and the groups' labels.
@Suite struct RunGroupsTests {
    static func configuration(seed: Int, gamma: Double, environment: String = "Hopper-v4") throws -> RunConfiguration {
        try RunConfiguration(
            parsing: #"{"environment":"\#(environment)","seed":\#(seed),"gamma":\#(gamma),"trpo":{"maxKL":0.01}}"#,
            source: "config.json"
        )
    }

    @Test func nestedSettingsAreFlattened() throws {
        let c = try Self.configuration(seed: 3, gamma: 0.99)
        #expect(c.fields == ["environment": #""Hopper-v4""#, "seed": "3", "gamma": "0.99", "trpo.maxKL": "0.01"])
        #expect(c.environment == "Hopper-v4")
        #expect(throws: PlotError.unreadableFile(path: "x", reason: "not a JSON object")) {
            try RunConfiguration(parsing: "[1]", source: "x")
        }
    }

    @Test func seedsOfOneConfigurationAreOneGroupLabelledByWhatDiffers() throws {
        let configurations = [
            try Self.configuration(seed: 1, gamma: 0.99), try Self.configuration(seed: 1, gamma: 0.995),
            try Self.configuration(seed: 2, gamma: 0.99), nil,
        ]
        let groups = RunGroups(names: ["a1", "b1", "a2", "old"], configurations: configurations)
        #expect(groups.members == [[0, 2], [1], [3]])
        #expect(groups.labels == ["gamma=0.99 (2 seeds)", "gamma=0.995", "old"])
        #expect(groups.environments == ["Hopper-v4"])
    }

    @Test func oneConfigurationIsNamedByItsEnvironmentOrItsRun() throws {
        let seeds = RunGroups(names: ["s1", "s2", "s3"], configurations: try (1...3).map { try Self.configuration(seed: $0, gamma: 0.99) })
        #expect(seeds.labels == ["Hopper-v4 (3 seeds)"])
        let single = RunGroups(names: ["hopper-1"], configurations: [try Self.configuration(seed: 1, gamma: 0.99)])
        #expect(single.labels == ["hopper-1"])
        let given = RunGroups(names: ["s1", "s2"], configurations: try (1...2).map { try Self.configuration(seed: $0, gamma: 0.99) },
                              labels: ["TRPO"])
        #expect(given.labels == ["TRPO"])
    }

    @Test func environmentsAreListedOnce() throws {
        let groups = RunGroups(names: ["a", "b", "c"], configurations: [
            try Self.configuration(seed: 1, gamma: 0.99), try Self.configuration(seed: 1, gamma: 0.99, environment: "Walker2d-v4"),
            try Self.configuration(seed: 2, gamma: 0.99),
        ])
        #expect(groups.environments == ["Hopper-v4", "Walker2d-v4"])
        #expect(groups.labels == ["environment=Hopper-v4 (2 seeds)", "environment=Walker2d-v4"])
    }
}
