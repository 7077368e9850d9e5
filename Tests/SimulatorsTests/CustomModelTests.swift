import Core
import Testing
@testable import Simulators

@Suite struct CustomModelTests {
    /// The built-in XML loaded as a custom model behaves exactly like the built-in model;
    /// a changed model changes the dynamics.
    @Test func customModelReplacesTheBuiltInOne() throws {
        let xml = try #require(MuJoCoModel.embeddedXML("Hopper"))
        let builtIn = try EnvironmentRegistry.make("Hopper-v4", modelXML: nil)
        let same = try EnvironmentRegistry.make("Hopper-v4", modelXML: xml)
        let heavierXML = xml.replacingOccurrences(of: "<option ", with: "<option gravity=\"0 0 -12\" ")
        #expect(heavierXML != xml)
        let heavier = try EnvironmentRegistry.make("Hopper-v4", modelXML: heavierXML)
        var r1 = RandomStream(seed: 1), r2 = RandomStream(seed: 1), r3 = RandomStream(seed: 1)
        builtIn.reset(using: &r1); same.reset(using: &r2); heavier.reset(using: &r3)
        for t in 0..<50 {
            let action = [0.3 * Double(t % 3) - 0.3, 0.2, -0.1]
            let a = builtIn.step(action), b = same.step(action)
            _ = heavier.step(action)
            #expect(a == b)
        }
        #expect(builtIn.state == same.state)
        #expect(builtIn.state != heavier.state)
    }

    @Test func incompatibleModelsAndEnvironmentsAreRefused() {
        let tiny = #"<mujoco><worldbody><body><joint type="slide"/><geom size=".1"/></body></worldbody></mujoco>"#
        #expect(throws: EnvironmentError.self) { try EnvironmentRegistry.make("Hopper-v4", modelXML: tiny) }
        #expect(throws: EnvironmentError.self) { try EnvironmentRegistry.make("Hopper-v4", modelXML: "<mujoco><broken") }
        #expect(throws: EnvironmentError.self) { try EnvironmentRegistry.make("CartPole-v1", modelXML: tiny) }
    }
}
