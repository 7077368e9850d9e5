import Foundation

/// A reference trajectory file written by `scripts/gymnasium_fixtures.py`.
struct Fixture: Decodable {
    /// Gymnasium's version when the file was written.
    var gymnasium: String
    var env: String
    var maxEpisodeSteps: Int
    var segments: [Segment]

    /// Stepping `env` from `state` with `actions`; `steps` holds the records the script kept.
    struct Segment: Decodable {
        var name: String
        var state: [Double]
        var actions: [[Double]]
        var steps: [Record]

        enum CodingKeys: String, CodingKey { case name, state, actions, steps }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            state = try c.decode([Double].self, forKey: .state)
            steps = try c.decode([Record].self, forKey: .steps)
            // Discrete actions are integers, continuous ones arrays.
            if let indices = try? c.decode([Int].self, forKey: .actions) {
                actions = indices.map { [Double($0)] }
            } else {
                actions = try c.decode([[Double]].self, forKey: .actions)
            }
        }
    }

    /// What Gymnasium returned from step `t` of a segment, and its internal state after it.
    struct Record: Decodable {
        var t: Int
        var obs: [Double]
        var reward: Double
        var terminated: Bool
        var truncated: Bool
        var state: [Double]
    }

    enum CodingKeys: String, CodingKey {
        case gymnasium, env, segments
        case maxEpisodeSteps = "max_episode_steps"
    }

    /// Loads `Fixtures/<id>.json` next to this source file.
    static func load(_ id: String) throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
            .appendingPathComponent("\(id).json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }
}
