import Core
import Foundation
import Render
import Simulators
import Synchronization
import Testing

/// Headless rendering with a real GL context (EGL, Mesa's surfaceless platform) and a real
/// ffmpeg. CI installs both (`.ci/run`: ffmpeg, libegl1, libegl-mesa0, libgl1-mesa-dri); on a
/// machine without them these tests skip, and in CI (`CI=true`) a missing one fails.
@Suite(.serialized)
struct RenderTests {
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let hasGL: Bool = (try? HeadlessGLContext()) != nil
    static let hasFFmpeg = VideoEncoder.findFFmpeg() != nil

    /// Tan, as MuJoCoRenderer paints the robot (0.8, 0.6, 0.4) under any shading.
    static func isTan(_ c: RGB) -> Bool {
        c.r > 60 && Int(c.r) - Int(c.b) > 30 && c.r > c.g && c.g > c.b
    }

    @Test(.enabled(if: inCI || hasGL, "skipped: no EGL/Mesa driver (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)"))
    func hopperFramesShowTheRobotOnTheFloorUnderTheSky() throws {
        let context = try #require(try? HeadlessGLContext(), "CI must install libegl1, libegl-mesa0 and libgl1-mesa-dri (.ci/run)")
        let hopper = Hopper()
        var random = RandomStream(seed: 1)
        hopper.reset(using: &random)
        let renderer = try MuJoCoRenderer(simulator: hopper, context: context, width: 320, height: 240)
        #expect(renderer.stepsPerSecond == 125)

        let first = try renderer.render()
        #expect(first.width == 320 && first.height == 240 && first.pixels.count == 320 * 240 * 3)
        #expect(first.distinctColours > 100, "a flat or garbage frame has few colours")
        let tan = first.fraction(where: Self.isTan)
        #expect(tan > 0.01 && tan < 0.5, "the hopper's tan body covers \(tan) of the frame")
        // Sky at the top row, the blue floor at the bottom row.
        #expect(first[160, 0].b > first[160, 0].r && first[160, 0].b > 150)
        #expect(first[160, 239].b > first[160, 239].r && first[160, 239].b < 150)
        // The same state renders the same frame.
        #expect(try renderer.render() == first)

        // After falling for 40 steps the robot has moved and the frame differs.
        for _ in 0..<40 { _ = hopper.step([0.0, 0.0, 0.0]) }
        let later = try renderer.render()
        #expect(later != first)
        #expect(later.fraction(where: Self.isTan) > 0.01)
    }

    /// Contexts made and dropped on several threads at once share the process's display
    /// without one's end terminating it under another (it failed 7 times in 12 when a test's
    /// probe context ended while another test made its own).
    @Test(.enabled(if: inCI || hasGL, "skipped: no EGL/Mesa driver (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)"))
    func contextsComeAndGoOnSeveralThreadsAtOnce() {
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<5 where (try? HeadlessGLContext()) == nil { failures.withLock { $0 += 1 } }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect((try? HeadlessGLContext()) != nil)
    }

    @Test func cartPoleFrameShowsTrackCartAndPole() throws {
        let cartPole = CartPole()
        try cartPole.setState([0.5, 0, 0.2, 0])
        let renderer = try ClassicControlRenderer(simulator: cartPole, width: 600, height: 400)
        let frame = renderer.render()
        #expect(frame.width == 600 && frame.height == 400)
        let white = frame.fraction { $0 == .white }
        let black = frame.fraction { $0 == .black }
        let pole = frame.fraction { $0 == RGB(202, 152, 101) }
        #expect(white > 0.8, "white background: \(white)")
        #expect(black > 0.005, "cart and track: \(black)")
        #expect(pole > 0.003, "pole: \(pole)")
        // 125 px per metre, the track 0.8 m above the bottom: the cart centre at x = 0.5 m.
        #expect(frame[300 + 62, 300] == .black)
        // The pole leans right (θ = 0.2): its colour appears right of the cart's centre, above it.
        #expect(frame[300 + 62 + 12, 300 - 60] == RGB(202, 152, 101))
    }

    @Test(arguments: ClassicControlRenderer.environmentIDs)
    func everyClassicControlEnvironmentDraws(id: String) throws {
        let simulator = try EnvironmentRegistry.make(id)
        var random = RandomStream(seed: 3)
        simulator.reset(using: &random)
        let frame = try ClassicControlRenderer(simulator: simulator, width: 320, height: 240).render()
        #expect(frame.distinctColours >= 3)
        #expect(frame.fraction { $0 == .white } > 0.5)
    }

    @Test func locomotionIsNotAClassicControlDrawing() {
        #expect(throws: RenderError.unsupportedEnvironment(id: "Hopper-v4")) {
            try ClassicControlRenderer(simulator: Hopper(), width: 320, height: 240)
        }
    }

    @Test func otherExtensionsAndOddSizesAreRefused() {
        #expect(throws: RenderError.unsupportedFormat(path: "run.avi")) {
            try VideoEncoder(path: "run.avi", width: 320, height: 240, fps: 25)
        }
        #expect(throws: RenderError.invalidSize(width: 321, height: 240)) {
            try VideoEncoder(path: "run.gif", width: 321, height: 240, fps: 25)
        }
        #expect(RenderError.encoderMissing.description.contains("apt-get install ffmpeg"))
    }

    @Test(.enabled(if: inCI || hasFFmpeg, "skipped: ffmpeg is not installed (apt-get install ffmpeg)"),
          arguments: VideoEncoder.Format.allCases)
    func policyVideoOfCartPoleHasEveryFrame(format: VideoEncoder.Format) throws {
        try #require(Self.hasFFmpeg, "CI must install ffmpeg (.ci/run)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cartpole.\(format.rawValue)").path

        let cartPole = CartPole()
        var random = RandomStream(seed: 7)
        let policy = Policy(observationSize: 4, head: PolicyHead(cartPole.actionSpace), hiddenSizes: [8], random: &random)
        var video = PolicyVideo(policy: policy, normalizer: nil, simulator: cartPole,
                                renderer: try ClassicControlRenderer(simulator: cartPole, width: 160, height: 120))
        video.maxSteps = 40
        video.deterministic = false
        #expect(video.stride(fps: 25) == 2)
        let encoder = try VideoEncoder(path: path, width: 160, height: 120, fps: 25)
        let summary = try video.record(into: encoder)
        let bytes = try encoder.finish()
        #expect(summary.frames == encoder.frameCount)
        #expect(summary.returns.count == 1 && summary.returns[0] == Double(summary.lengths[0]))
        #expect(bytes > 1000)

        let probe = try Self.ffprobe(path)
        #expect(probe.width == 160 && probe.height == 120)
        #expect(probe.frames == summary.frames)
    }

    /// Width, height and decoded frame count of a video's first stream.
    static func ffprobe(_ path: String) throws -> (width: Int, height: Int, frames: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                             "-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
        try #require(fields.count == 3, "ffprobe printed \(text)")
        return (fields[0], fields[1], fields[2])
    }
}
