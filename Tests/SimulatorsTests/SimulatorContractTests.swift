import Core
import Testing
import Simulators

/// The `Simulator` contract beyond the dynamics: snapshots, resets, state validation and the
/// registry.
@Suite struct SimulatorContractTests {
    /// A valid action for `simulator` drawn from `random`; box actions reach 50% beyond the
    /// bounds so clipping is exercised.
    static func randomAction(_ simulator: any Simulator, _ random: inout RandomStream) -> [Double] {
        switch simulator.actionSpace {
        case .discrete(let count):
            [Double(random.index(below: count))]
        case .box(let low, let high):
            zip(low, high).map { l, h in random.uniform(l - (h - l) / 4, h + (h - l) / 4) }
        }
    }

    /// Bit patterns of everything a step reveals, for exact comparison.
    static func trace(_ simulator: any Simulator, actions: [[Double]]) -> [[UInt64]] {
        actions.map { action in
            let outcome = simulator.step(action)
            return simulator.observation().map(\.bitPattern) + simulator.state.map(\.bitPattern)
                + [outcome.reward.bitPattern, outcome.terminated ? 1 : 0, outcome.truncated ? 1 : 0,
                   UInt64(simulator.elapsedSteps)]
        }
    }

    @Test(arguments: EnvironmentRegistry.ids)
    func snapshotRestoreContinuesBitIdentically(id: String) throws {
        var random = RandomStream(seed: 42, path: [1])
        let original = try EnvironmentRegistry.make(id)
        original.reset(using: &random)
        // Snapshots straight after the reset and after some steps (for
        // MountainCarContinuous these hold float64 and float32 states respectively).
        for warmUp in [0, 17] {
            _ = Self.trace(original, actions: (0..<warmUp).map { _ in Self.randomAction(original, &random) })
            let snapshot = original.snapshot()
            let actions = (0..<60).map { _ in Self.randomAction(original, &random) }
            let expected = Self.trace(original, actions: actions)

            let copy = try EnvironmentRegistry.make(id)
            copy.restore(snapshot)
            #expect(copy.snapshot() == snapshot)
            #expect(Self.trace(copy, actions: actions) == expected)

            original.restore(snapshot)  // the original can rewind too
            #expect(Self.trace(original, actions: actions) == expected)
        }
    }

    @Test(arguments: EnvironmentRegistry.ids)
    func snapshotKeepsElapsedSteps(id: String) throws {
        var random = RandomStream(seed: 5)
        let simulator = try EnvironmentRegistry.make(id)
        simulator.reset(using: &random)
        for _ in 0..<7 { _ = simulator.step(Self.randomAction(simulator, &random)) }
        #expect(simulator.snapshot().elapsedSteps == simulator.elapsedSteps)
        let copy = try EnvironmentRegistry.make(id)
        copy.restore(simulator.snapshot())
        #expect(copy.elapsedSteps == simulator.elapsedSteps)
    }

    /// Gymnasium's reset ranges, per state component, and whether the values are float32.
    static let resetRanges: [String: (ranges: [ClosedRange<Double>], float32: Bool)] = [
        "CartPole-v1": (Array(repeating: -0.05...0.05, count: 4), false),
        "Acrobot-v1": (Array(repeating: Double(Float(-0.1))...Double(Float(0.1)), count: 4), true),
        "MountainCar-v0": ([-0.6 ... -0.4, 0...0], false),
        "Pendulum-v1": ([-Double.pi...Double.pi, -1...1], false),
        "MountainCarContinuous-v0": ([-0.6 ... -0.4, 0...0], false),
        // MuJoCo: qpos0 and zero velocity plus noise; HalfCheetah's velocity noise is
        // 0.1·N(0, 1), bounded here at 10 standard deviations.
        "Hopper-v4": (([0, 1.25] + Array(repeating: 0, count: 10)).map { ($0 - 0.005)...($0 + 0.005) }, false),
        "Walker2d-v4": (([0, 1.25] + Array(repeating: 0, count: 16)).map { ($0 - 0.005)...($0 + 0.005) }, false),
        "Swimmer-v4": (Array(repeating: -0.1...0.1, count: 10), false),
        "HalfCheetah-v4": (Array(repeating: -0.1...0.1, count: 9) + Array(repeating: -1...1, count: 9), false),
    ]

    @Test(arguments: EnvironmentRegistry.ids)
    func resetStaysInGymnasiumRangesAndIsDeterministic(id: String) throws {
        let expected = try #require(Self.resetRanges[id])
        let simulator = try EnvironmentRegistry.make(id)
        var random = RandomStream(seed: 9, path: [3])
        var starts = Set<[Double]>()
        for _ in 0..<2000 {
            _ = simulator.step(Self.randomAction(simulator, &random))
            simulator.reset(using: &random)
            #expect(simulator.elapsedSteps == 0)
            let state = simulator.state
            #expect(state.count == expected.ranges.count)
            for (value, range) in zip(state, expected.ranges) {
                #expect(range.contains(value), "\(id) reset \(state)")
                if expected.float32 { #expect(Double(Float(value)) == value) }
            }
            starts.insert(state)
        }
        #expect(starts.count > 1900, "resets should vary")

        let a = try EnvironmentRegistry.make(id), b = try EnvironmentRegistry.make(id)
        var streamA = RandomStream(seed: 77, path: [4, 2]), streamB = streamA
        for _ in 0..<20 {
            a.reset(using: &streamA)
            b.reset(using: &streamB)
            #expect(a.state == b.state)
            #expect(a.observation() == b.observation())
        }
    }

    @Test(arguments: EnvironmentRegistry.ids)
    func setStateValidatesAndRestartsTheClock(id: String) throws {
        let simulator = try EnvironmentRegistry.make(id)
        let count = simulator.state.count
        var random = RandomStream(seed: 1)
        simulator.reset(using: &random)
        for _ in 0..<3 { _ = simulator.step(Self.randomAction(simulator, &random)) }
        let before = simulator.snapshot()

        #expect(throws: SimulatorError.stateLength(expected: count, got: count + 1)) {
            try simulator.setState(Array(repeating: 0.1, count: count + 1))
        }
        #expect(throws: SimulatorError.stateLength(expected: count, got: 0)) {
            try simulator.setState([])
        }
        for bad in [Double.nan, .infinity, -.infinity] {
            var state = Array(repeating: 0.01, count: count)
            state[count - 1] = bad
            #expect(throws: SimulatorError.nonFiniteState) { try simulator.setState(state) }
        }
        #expect(simulator.snapshot() == before, "a rejected state must leave the simulator alone")

        let state = (0..<count).map { 0.01 * Double($0 + 1) }
        try simulator.setState(state)
        #expect(simulator.state == state)
        #expect(simulator.elapsedSteps == 0)
    }

    @Test(arguments: EnvironmentRegistry.ids)
    func truncatesAtTheTimeLimit(id: String) throws {
        let simulator = try EnvironmentRegistry.make(id)
        // A state from which no environment terminates at once; stepping with the middle
        // (or zero) action then either terminates first or truncates exactly at the limit.
        try simulator.setState(Array(repeating: 0, count: simulator.state.count))
        let action: [Double] = switch simulator.actionSpace {
        case .discrete(let count): [Double(count / 2)]
        case .box(let low, _): Array(repeating: 0, count: low.count)
        }
        for step in 1...simulator.maxEpisodeSteps {
            let outcome = simulator.step(action)
            #expect(simulator.elapsedSteps == step)
            if outcome.terminated { return }
            #expect(outcome.truncated == (step == simulator.maxEpisodeSteps), "\(id) step \(step)")
        }
    }

    @Test func spacesAndLimitsMatchGymnasium() throws {
        let expected: [(id: String, obs: String, action: String, limit: Int)] = [
            ("CartPole-v1", "Box([-4.8 -inf -0.41887903 -inf], [4.8 inf 0.41887903 inf], (4,), float32)",
             "Discrete(2)", 500),
            ("Acrobot-v1", "Box([-1.0 -1.0 -1.0 -1.0 -12.566371 -28.274334], [1.0 1.0 1.0 1.0 12.566371 28.274334], (6,), float32)",
             "Discrete(3)", 500),
            ("MountainCar-v0", "Box([-1.2 -0.07], [0.6 0.07], (2,), float32)", "Discrete(3)", 200),
            ("Pendulum-v1", "Box([-1.0 -1.0 -8.0], [1.0 1.0 8.0], (3,), float32)",
             "Box(-2.0, 2.0, (1,), float32)", 200),
            ("MountainCarContinuous-v0", "Box([-1.2 -0.07], [0.6 0.07], (2,), float32)",
             "Box(-1.0, 1.0, (1,), float32)", 999),
            // Gymnasium's MuJoCo observation spaces are float64.
            ("Hopper-v4", "Box(-inf, inf, (11,), float64)", "Box(-1.0, 1.0, (3,), float32)", 1000),
            ("Walker2d-v4", "Box(-inf, inf, (17,), float64)", "Box(-1.0, 1.0, (6,), float32)", 1000),
            ("Swimmer-v4", "Box(-inf, inf, (8,), float64)", "Box(-1.0, 1.0, (2,), float32)", 1000),
            ("HalfCheetah-v4", "Box(-inf, inf, (17,), float64)", "Box(-1.0, 1.0, (6,), float32)", 1000),
        ]
        #expect(EnvironmentRegistry.ids == expected.map(\.id))
        for entry in expected {
            let simulator = try EnvironmentRegistry.make(entry.id)
            #expect(simulator.id == entry.id)
            #expect(simulator.observationSpace.description == entry.obs)
            #expect(simulator.actionSpace.description == entry.action)
            #expect(simulator.maxEpisodeSteps == entry.limit)
            #expect(simulator.observation().count == simulator.observationSpace.count)
        }
    }

    @Test func registryRejectsUnknownIds() {
        #expect(throws: UnknownEnvironmentError.self) { try EnvironmentRegistry.make("CartPole-v0") }
        do {
            _ = try EnvironmentRegistry.make("Nope-v9")
            Issue.record("an unknown id was accepted")
        } catch {
            #expect(error.id == "Nope-v9")
            #expect(error.description.contains("CartPole-v1"))
        }
    }
}
