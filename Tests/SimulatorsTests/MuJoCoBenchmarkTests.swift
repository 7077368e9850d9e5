@preconcurrency import CMuJoCo
import Core
import Foundation
import Testing
import Simulators

/// Speed of the MuJoCo simulators. Off by default; run in a release build:
///
///     TRPO_MUJOCO_BENCH=1 swift test -c release --filter MuJoCoBenchmarkTests
///
/// With a malloc-counting library preloaded (one that exports `trpo_malloc_count()`), it also
/// reports the heap allocations per environment step.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TRPO_MUJOCO_BENCH"] != nil), .serialized)
struct MuJoCoBenchmarkTests {
    static let models = [("Hopper", Hopper.environmentID), ("Walker2d", Walker2d.environmentID),
                         ("Swimmer", Swimmer.environmentID), ("HalfCheetah", HalfCheetah.environmentID)]

    static func seconds(_ body: () -> Void) -> Double {
        let d = ContinuousClock().measure(body)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// The median of five timed runs.
    static func median(_ body: () -> Double) -> Double {
        (0..<5).map { _ in body() }.sorted()[2]
    }

    @Test(arguments: models)
    func rates(model name: String, id: String) throws {
        // Raw mj_step on the same XML, uniform random controls in [-1, 1].
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Simulators/Models/\(name).xml").path
        var error = [CChar](repeating: 0, count: 1000)
        let m = try #require(mj_loadXML(path, nil, &error, 1000))
        let d = try #require(mj_makeData(m))
        defer { mj_deleteData(d); mj_deleteModel(m) }
        var random = RandomStream(seed: 1)
        let nu = Int(m.pointee.nu)
        let rawSteps = 50_000
        let raw = Self.median {
            mj_resetData(m, d)
            let t = Self.seconds {
                for _ in 0..<rawSteps {
                    for i in 0..<nu { d.pointee.ctrl[i] = random.uniform(-1, 1) }
                    mj_step(m, d)
                }
            }
            return Double(rawSteps) / t
        }

        // Environment steps with a random policy, resetting at the end of each episode.
        let simulator = try EnvironmentRegistry.make(id)
        let width = simulator.actionSpace.width
        let actions = (0..<4096 * width).map { _ in random.uniform(-1, 1) }
        var observation = [Double](repeating: 0, count: simulator.observationSpace.count)
        let envSteps = 20_000
        let mallocCount = Self.mallocCounter()
        var allocations = 0
        let env = Self.median {
            simulator.reset(using: &random)
            let before = mallocCount?() ?? 0
            let t = actions.withUnsafeBufferPointer { all in
                observation.withUnsafeMutableBufferPointer { obs in
                    Self.seconds {
                        for k in 0..<envSteps {
                            let a = UnsafeBufferPointer(rebasing: all[(k % 4096) * width ..< (k % 4096 + 1) * width])
                            let outcome = simulator.step(a)
                            simulator.observe(into: obs)
                            if outcome.terminated || outcome.truncated { simulator.reset(using: &random) }
                        }
                    }
                }
            }
            allocations = (mallocCount?() ?? 0) - before
            return Double(envSteps) / t
        }

        // Snapshot and restore, 300 steps into an episode.
        simulator.reset(using: &random)
        for k in 0..<300 { _ = simulator.step(Array(actions[(k * width)..<((k + 1) * width)])) }
        let pairs = 200_000
        let snapshotRestore = Self.median {
            Self.seconds {
                for _ in 0..<pairs { simulator.restore(simulator.snapshot()) }
            } / Double(pairs)
        }
        let mallocsBefore = mallocCount?() ?? 0
        let snapshot = simulator.snapshot()
        let snapshotMallocs = (mallocCount?() ?? 0) - mallocsBefore
        let restoreOnly = Self.median {
            Self.seconds { for _ in 0..<pairs { simulator.restore(snapshot) } } / Double(pairs)
        }
        let resets = 20_000
        let reset = Self.median {
            Self.seconds { for _ in 0..<resets { simulator.reset(using: &random) } } / Double(resets)
        }
        print(String(format: "%@: raw mj_step %.0f/s; env steps %.0f/s (random policy, with observe and resets); "
                     + "snapshot+restore %.2f µs, restore %.3f µs; reset %.2f µs%@", id, raw, env,
                     snapshotRestore * 1e6, restoreOnly * 1e6, reset * 1e6,
                     mallocCount == nil ? "" : String(format: "; %.4f mallocs per env step (%d per snapshot)",
                                                       Double(allocations) / Double(envSteps), snapshotMallocs)))
    }

    /// `trpo_malloc_count()` from a preloaded counting library, if there is one.
    static func mallocCounter() -> (() -> Int)? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "trpo_malloc_count") else { return nil }
        let function = unsafeBitCast(symbol, to: (@convention(c) () -> Int).self)
        return { function() }
    }
}
