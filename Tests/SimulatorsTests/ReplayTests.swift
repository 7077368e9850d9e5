import Core
import Foundation
import Testing
import Simulators

/// The logic behind `trpo env replay`: parsing its input, stepping, and the output lines.
@Suite struct ReplayTests {
    func input(_ json: String, for id: String) throws -> (ReplayInput, any Simulator) {
        let simulator = try EnvironmentRegistry.make(id)
        return (try ReplayInput(json: Data(json.utf8), for: simulator), simulator)
    }

    func error(_ json: String, for id: String) throws -> ReplayError? {
        let simulator = try EnvironmentRegistry.make(id)
        do {
            _ = try simulator.replay(try ReplayInput(json: Data(json.utf8), for: simulator))
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesDiscreteAndBoxActions() throws {
        let (discrete, _) = try input(#"{"state": [0, 0, 0.5, 0], "actions": [0, 2, 1]}"#, for: "Acrobot-v1")
        #expect(discrete == ReplayInput(state: [0, 0, 0.5, 0], actions: [[0], [2], [1]]))
        let (box, _) = try input(#"{"state": [1, 2], "actions": [[-3.5], [0.25]]}"#, for: "Pendulum-v1")
        #expect(box == ReplayInput(state: [1, 2], actions: [[-3.5], [0.25]]))
    }

    @Test func replayMatchesTheGymnasiumFixtureAndStopsAtTermination() throws {
        let fixture = try Fixture.load("CartPole-v1")
        let segment = try #require(fixture.segments.first { $0.steps.last?.terminated == true })
        let simulator = try EnvironmentRegistry.make("CartPole-v1")
        // Extra actions after the terminating step are not stepped.
        let steps = try simulator.replay(ReplayInput(state: segment.state, actions: segment.actions + [[0], [1]]))
        #expect(steps.count == segment.actions.count)
        #expect(steps.map(\.t) == Array(0..<segment.actions.count))
        for (step, record) in zip(steps, segment.steps) {
            #expect(step.observation == record.obs)
            #expect(step.state == record.state)
            #expect(step.reward == record.reward)
            #expect(step.terminated == record.terminated)
        }
        #expect(steps.last?.terminated == true)
    }

    @Test func timeLimitCountsFromTheGivenState() throws {
        let simulator = try EnvironmentRegistry.make("MountainCar-v0")
        var random = RandomStream(seed: 1)
        simulator.reset(using: &random)
        for _ in 0..<150 { _ = simulator.step([1]) }  // steps before the replay do not count
        let steps = try simulator.replay(ReplayInput(state: [-0.52, 0], actions: Array(repeating: [1], count: 250)))
        #expect(steps.count == 200)
        #expect(steps.last?.truncated == true)
        #expect(steps.dropLast().allSatisfy { !$0.truncated && !$0.terminated })
    }

    @Test func jsonLinesAreCompactAndRoundTrip() throws {
        let step = ReplayStep(t: 3, observation: [0.1, -2.5e-7], reward: 1, terminated: false, truncated: true,
                              state: [1e300, 0.30000000000000004])
        #expect(step.json == #"{"t":3,"obs":[0.1,-2.5e-07],"reward":1.0,"terminated":false,"truncated":true,"state":[1e+300,0.30000000000000004]}"#)

        let (request, simulator) = try input(#"{"state": [0.3, -0.01, 2.2, -1.7], "actions": [2, 0, 1]}"#, for: "Acrobot-v1")
        for step in try simulator.replay(request) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(step.json.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["t", "obs", "reward", "terminated", "truncated", "state"])
            // Reparse the numbers from their text: they must come back bit for bit.
            let numbers = step.json.split(whereSeparator: { "[],:{}".contains($0) })
                .compactMap { Double(String($0)) }
            #expect(numbers == [Double(step.t)] + step.observation + [step.reward] + step.state)
        }
    }

    @Test func nonFiniteNumbersArePrintedAsNull() {
        let step = ReplayStep(t: 0, observation: [.nan], reward: -.infinity, terminated: true, truncated: false,
                              state: [.infinity])
        #expect(step.json == #"{"t":0,"obs":[null],"reward":null,"terminated":true,"truncated":false,"state":[null]}"#)
    }

    @Test func rejectsBadInput() throws {
        let cases: [(json: String, id: String, check: (ReplayError) -> Bool)] = [
            (#"{"state": [0, 0, 0, 0], "actions": [1"#, "CartPole-v1", {
                if case .malformedInput(let why) = $0 { why.contains("end of file") } else { false } }),
            (#"{"actions": [1]}"#, "CartPole-v1", { $0 == .malformedInput("missing key 'state'") }),
            (#"[1, 2]"#, "CartPole-v1", { if case .malformedInput = $0 { true } else { false } }),
            (#"{"state": [0, "x", 0, 0], "actions": []}"#, "CartPole-v1", {
                if case .malformedInput(let why) = $0 { why.hasPrefix("state[1]:") } else { false } }),
            (#"{"state": [0, 0, 0], "actions": [1]}"#, "CartPole-v1", {
                $0 == .invalidState(.stateLength(expected: 4, got: 3)) }),
            (#"{"state": [0, NaN, 0, 0], "actions": [1]}"#, "CartPole-v1", { $0 == .invalidState(.nonFiniteState) }),
            (#"{"state": [0, "Infinity"], "actions": []}"#, "Pendulum-v1", { $0 == .invalidState(.nonFiniteState) }),
            (#"{"state": [0, 0, 0, 0], "actions": [1, 2]}"#, "CartPole-v1", {
                if case .invalidAction(index: 1, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0, 0, 0], "actions": [0.5]}"#, "CartPole-v1", {
                if case .invalidAction(index: 0, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0, 0, 0], "actions": [-1]}"#, "CartPole-v1", {
                if case .invalidAction(index: 0, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0, 0, 0], "actions": [0, [1]]}"#, "CartPole-v1", {
                if case .invalidAction(index: 1, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0], "actions": [0.5]}"#, "Pendulum-v1", {
                if case .invalidAction(index: 0, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0], "actions": [[0.5, 1]]}"#, "MountainCarContinuous-v0", {
                if case .invalidAction(index: 0, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0], "actions": [[NaN]]}"#, "MountainCarContinuous-v0", {
                if case .invalidAction(index: 0, _) = $0 { true } else { false } }),
            (#"{"state": [0, 0], "actions": [["a"]]}"#, "Pendulum-v1", {
                if case .malformedInput(let why) = $0 { why.hasPrefix("actions[0]:") } else { false } }),
        ]
        for (json, id, check) in cases {
            let found = try error(json, for: id)
            #expect(found.map(check) == true, "\(json) gave \(String(describing: found))")
            #expect(found.map { !$0.description.contains("\n") } != false)
        }
    }
}
