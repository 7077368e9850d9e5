import Core
import Testing
import Simulators

/// Replays the recorded Gymnasium trajectories (`Fixtures/*.json`) and compares every
/// recorded step: observation, reward and internal state to `tolerance`, flags exactly.
@Suite struct GymnasiumConformanceTests {
    /// The agreement required; the simulators are written to reproduce NumPy's rounding, and
    /// the measured error is printed (it is 0 when they do).
    static let tolerance = 1e-9

    /// The classic-control environments; the MuJoCo ones, which cannot match a different
    /// engine build bit for bit, are checked by ``MuJoCoConformanceTests``.
    static let classicIDs = EnvironmentRegistry.ids.filter { !MuJoCoConformanceTests.ids.contains($0) }

    @Test(arguments: classicIDs)
    func matchesGymnasium(id: String) throws {
        let fixture = try Fixture.load(id)
        #expect(fixture.env == id)
        #expect(fixture.gymnasium.hasPrefix("1."))
        let simulator = try EnvironmentRegistry.make(id)
        #expect(simulator.maxEpisodeSteps == fixture.maxEpisodeSteps)

        var errors = (obs: 0.0, reward: 0.0, state: 0.0)
        var stepped = 0, compared = 0
        for segment in fixture.segments {
            try simulator.setState(segment.state)
            var records = segment.steps.makeIterator()
            var record = records.next()
            for (t, action) in segment.actions.enumerated() {
                let outcome = simulator.step(action)
                stepped += 1
                guard let expected = record, expected.t == t else { continue }
                record = records.next()
                compared += 1
                let context = Comment(rawValue: "\(id) \(segment.name) t=\(t)")

                // JSON numbers must have been parsed exactly: observations are float32 values.
                #expect(expected.obs.allSatisfy { Double(Float($0)) == $0 }, context)
                errors.obs = max(errors.obs, maxError(simulator.observation(), expected.obs))
                errors.reward = max(errors.reward, abs(outcome.reward - expected.reward))
                errors.state = max(errors.state, maxError(simulator.state, expected.state))
                #expect(outcome.terminated == expected.terminated, context)
                // Gymnasium's TimeLimit also reports truncated on a terminating step at the
                // limit; the Simulator contract reports only the termination then.
                #expect(outcome.truncated == (expected.truncated && !expected.terminated), context)
            }
            #expect(record == nil, "\(segment.name): records beyond the actions")
        }
        print("\(id) vs Gymnasium \(fixture.gymnasium): \(stepped) steps, \(compared) compared; "
              + "max |error| obs \(errors.obs), reward \(errors.reward), state \(errors.state)")
        #expect(compared >= 200)
        #expect(errors.obs <= Self.tolerance)
        #expect(errors.reward <= Self.tolerance)
        #expect(errors.state <= Self.tolerance)
    }

    @Test func fixturesCoverTerminationAndTruncation() throws {
        for id in Self.classicIDs {
            let ends = try Fixture.load(id).segments.compactMap(\.steps.last)
            #expect(ends.contains { $0.truncated }, "\(id) has no truncated segment")
            if id != Pendulum.environmentID {  // Pendulum never terminates
                #expect(ends.contains { $0.terminated }, "\(id) has no terminated segment")
            }
        }
    }

    private func maxError(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
