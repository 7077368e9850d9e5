@preconcurrency import CMuJoCo
import Core
import Dispatch
import Foundation
import Testing
import Simulators

/// The MuJoCo layer and the locomotion simulators beyond Gymnasium conformance: model loading
/// and sharing, snapshots in contact, engine faults, termination reasons and threads.
@Suite struct MuJoCoSimulatorTests {
    static let ids = MuJoCoConformanceTests.ids

    static func make(_ id: String) throws -> any MuJoCoSimulator {
        try #require(try EnvironmentRegistry.make(id) as? any MuJoCoSimulator)
    }

    /// Actions uniform in [-1.2, 1.2) (beyond the bounds now and then).
    static func randomActions(_ count: Int, width: Int, _ random: inout RandomStream) -> [[Double]] {
        (0..<count).map { _ in (0..<width).map { _ in random.uniform(-1.2, 1.2) } }
    }

    /// Bit patterns of everything a step reveals.
    static func trace(_ simulator: any Simulator, _ actions: [[Double]]) -> [[UInt64]] {
        actions.map { action in
            let outcome = simulator.step(action)
            return simulator.observation().map(\.bitPattern) + simulator.state.map(\.bitPattern)
                + [outcome.reward.bitPattern, outcome.terminated ? 1 : 0, outcome.truncated ? 1 : 0]
        }
    }

    // MARK: - Models

    @Test func embeddedModelsMatchTheXMLFiles() throws {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Simulators/Models")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".xml") }
        #expect(Set(files.map { String($0.dropLast(4)) }) == Set(MuJoCoModel.builtInNames),
                "rerun scripts/embed_mujoco_models.py")
        for name in MuJoCoModel.builtInNames {
            let text = try String(contentsOf: directory.appendingPathComponent("\(name).xml"), encoding: .utf8)
            #expect(MuJoCoModel.embeddedXML(name) == text, "\(name).xml changed: rerun scripts/embed_mujoco_models.py")
        }
    }

    @Test func modelsAreCompiledOnceAndShared() throws {
        let dimensions = ["Hopper": (6, 6, 3), "Walker2d": (9, 9, 6), "Swimmer": (5, 5, 2), "HalfCheetah": (9, 9, 6)]
        for (name, (nq, nv, nu)) in dimensions {
            let model = try MuJoCoModel.named(name)
            #expect((model.nq, model.nv, model.nu, model.na) == (nq, nv, nu, 0))
            #expect(model.controlRange == Array(repeating: -1...1, count: nu))
        }
        // Concurrent first uses and later ones all get the same instance.
        let identities = Slots<ObjectIdentifier?>(count: 64, initial: nil)
        defer { identities.free() }
        let names = MuJoCoModel.builtInNames
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            identities.buffer[i] = ObjectIdentifier(try! MuJoCoModel.named(names[i % names.count]))
        }
        for i in 0..<64 {
            #expect(try identities.buffer[i] == ObjectIdentifier(MuJoCoModel.named(names[i % names.count])))
        }
        let a = try Self.make(Hopper.environmentID), b = try Self.make(Hopper.environmentID)
        #expect(a.model === b.model)
        #expect(a.model === (try MuJoCoModel.named("Hopper")))
    }

    @Test func badModelsAreSwiftErrors() {
        #expect(throws: MuJoCoModelError.self) { try MuJoCoModel.named("Ant") }
        let cases: [(xml: String, mentions: String)] = [
            ("<mujoco><worldbody><geom type='blob' size='1'/></worldbody></mujoco>", "blob"),
            ("<mujoco><worldbody><body><geom size='1'/></body></worldbody>", "XML"),
            ("<mujoco><actuator><motor joint='missing'/></actuator></mujoco>", "missing"),
            ("", "empty"),
        ]
        for (xml, mentions) in cases {
            do {
                _ = try MuJoCoModel(name: "broken", xml: xml)
                Issue.record("\(xml) compiled")
            } catch {
                #expect(error.model == "broken")
                #expect(error.description.contains(mentions), "\(error)")
            }
        }
        // A good model still compiles afterwards (the compiler restored the handlers).
        #expect((try? MuJoCoModel(name: "box", xml: "<mujoco><worldbody><body><freejoint/><geom size='1'/></body></worldbody></mujoco>"))?.nq == 7)
    }

    // MARK: - Snapshots

    /// Snapshots taken 300 steps into an episode, with the body in contact with the floor
    /// (for the Swimmer, which has none, just mid-swim), continue bit for bit: in a fresh
    /// simulator, and in the original after it went on.
    @Test(arguments: ids)
    func snapshotInContactContinuesBitIdentically(id: String) throws {
        var random = RandomStream(seed: 3, path: [UInt64(id.count)])
        let original = try Self.make(id)
        original.reset(using: &random)
        let width = original.actionSpace.width
        // Steps past a termination are outside the contract but the physics goes on; a
        // fallen hopper or walker lies in contact with the floor.
        _ = Self.trace(original, Self.randomActions(300, width: width, &random))
        if id != Swimmer.environmentID {
            while original.contactCount == 0 && original.elapsedSteps < 400 {  // a running cheetah may be airborne
                _ = Self.trace(original, Self.randomActions(1, width: width, &random))
            }
            #expect(original.contactCount > 0, "\(id) is not in contact")
        }
        let snapshot = original.snapshot()
        #expect(snapshot.elapsedSteps >= 300)
        let actions = Self.randomActions(200, width: width, &random)
        let expected = Self.trace(original, actions)

        let copy = try Self.make(id)
        copy.restore(snapshot)
        #expect(copy.snapshot() == snapshot)
        #expect(copy.elapsedSteps == snapshot.elapsedSteps)
        #expect(Self.trace(copy, actions) == expected)

        original.restore(snapshot)
        #expect(Self.trace(original, actions) == expected)
    }

    @Test(arguments: ids)
    func setStateIsQposThenQvelAndReplays(id: String) throws {
        let simulator = try Self.make(id)
        var random = RandomStream(seed: 11)
        simulator.reset(using: &random)
        _ = Self.trace(simulator, Self.randomActions(5, width: simulator.actionSpace.width, &random))
        let state = simulator.state
        #expect(state.count == simulator.model.nq + simulator.model.nv)
        let actions = Self.randomActions(30, width: simulator.actionSpace.width, &random)
        let direct = try Self.make(id)
        try direct.setState(state)
        #expect(direct.state == state)
        let steps = try simulator.replay(ReplayInput(state: state, actions: actions))
        var stepped = 0
        for (step, action) in zip(steps, actions) {
            let outcome = direct.step(action)
            stepped += 1
            #expect(step.state == direct.state)
            #expect(step.observation == direct.observation())
            #expect(step.reward == outcome.reward)
            #expect(step.terminated == outcome.terminated)
        }
        #expect(stepped == steps.count)
    }

    // MARK: - Termination and faults

    @Test func unhealthyTerminationIsRecorded() throws {
        let hopper = try Self.make(Hopper.environmentID)
        try hopper.setState([0, 1.25, 0.25, 0, 0, 0] + Array(repeating: 0, count: 6))
        let outcome = hopper.step([0, 0, 0])
        #expect(outcome.terminated)
        #expect(hopper.lastTerminationReason == .unhealthy)
        var random = RandomStream(seed: 1)
        hopper.reset(using: &random)
        #expect(hopper.lastTerminationReason == nil)
        #expect(!hopper.step([0, 0, 0]).terminated)
        #expect(hopper.lastTerminationReason == nil)
    }

    /// A state MuJoCo rejects mid-step (|qvel| > 1e10) ends the episode with the engine's
    /// reason instead of silently continuing from MuJoCo's reset state; nothing is printed or
    /// logged to `MUJOCO_LOG.TXT`.
    @Test(arguments: ids)
    func engineFaultsTerminateWithAReason(id: String) throws {
        let log = "MUJOCO_LOG.TXT"  // where MuJoCo's default warning handler appends
        let logSize = { (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? nil }
        let logSizeBefore = logSize()
        let simulator = try Self.make(id)
        let n = simulator.model.nq
        var state = try #require(simulator.state.isEmpty ? nil : simulator.state)
        state[n + n - 1] = 2e10  // the last joint's velocity
        try simulator.setState(state)
        let action = Array(repeating: 0.5, count: simulator.actionSpace.width)
        let outcome = simulator.step(action)
        #expect(outcome.terminated)
        #expect(!outcome.truncated)
        #expect(simulator.lastTerminationReason == .simulationFault(MuJoCoWarning(kind: .badVelocity, info: n - 1)))
        #expect(outcome.reward.isFinite && outcome.reward <= 0, "only the control cost: \(outcome.reward)")
        #expect(simulator.state.allSatisfy { $0.isFinite })
        #expect(logSize() == logSizeBefore, "MuJoCo wrote to \(log)")

        // The next episode starts clean.
        var random = RandomStream(seed: 2)
        simulator.reset(using: &random)
        #expect(simulator.lastTerminationReason == nil)
        _ = simulator.step(action)
        if case .simulationFault = simulator.lastTerminationReason { Issue.record("fault survived the reset") }
    }

    /// Long random episodes never fill the contact or constraint buffers that `<size>` limits.
    @Test(arguments: ids)
    func buffersAreLargeEnough(id: String) throws {
        let simulator = try Self.make(id)
        var random = RandomStream(seed: 21)
        simulator.reset(using: &random)
        var maxContacts = 0
        for action in Self.randomActions(1500, width: simulator.actionSpace.width, &random) {
            _ = simulator.step(action)
            maxContacts = max(maxContacts, simulator.contactCount)
            if case .simulationFault(let warning) = simulator.lastTerminationReason {
                Issue.record("\(id): \(warning)")
                break
            }
        }
        print("\(id): at most \(maxContacts) contacts in 1500 random steps")
    }

    // MARK: - Threads

    /// Simulators of one shared model on several threads give the same results as one thread.
    @Test func simulatorsOnSeveralThreadsAgreeWithOne() throws {
        let id = Walker2d.environmentID
        var random = RandomStream(seed: 8)
        let actions = Self.randomActions(200, width: 6, &random)
        let run: @Sendable () -> [[UInt64]] = {
            let simulator = try! EnvironmentRegistry.make(id)
            try! simulator.setState([0, 1.25] + Array(repeating: 0, count: 16))
            return Self.trace(simulator, actions)
        }
        let expected = run()
        let results = Slots<[[UInt64]]>(count: 4, initial: [])
        defer { results.free() }
        DispatchQueue.concurrentPerform(iterations: 4) { i in results.buffer[i] = run() }
        for i in 0..<4 { #expect(results.buffer[i] == expected) }
    }
}

/// Result slots that threads fill in, one each.
private struct Slots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>

    init(count: Int, initial: T) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: initial)
    }

    func free() {
        buffer.deinitialize()
        buffer.deallocate()
    }
}

/// MuJoCo's process-wide error handler: an engine error ends the process with status 70 and
/// a message on standard error instead of returning into the engine.
@Suite struct MuJoCoFatalErrorTests {
    @Test func engineErrorsExitTheProcess() async {
        let result = await #expect(processExitsWith: .exitCode(70), observing: [\.standardErrorContent]) {
            _ = try MuJoCoModel.named("Swimmer")  // installs the handlers
            mju_error("simulated engine failure")
            print("unreachable: the handler returned")
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("fatal MuJoCo 2.2.2 error: simulated engine failure"), "\(message)")
    }
}
