import Foundation
import Render
import Testing

/// `trpo render` run as a user would: a briefly trained Hopper checkpoint to a GIF, and the
/// one-line refusals.
@Suite(.serialized)
struct RenderCommandTests {
    static let executable = Bundle.main.bundleURL.appendingPathComponent("trpo")

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test(.enabled(if: RenderTests.inCI || (RenderTests.hasGL && RenderTests.hasFFmpeg),
                   "skipped: needs ffmpeg and Mesa's EGL driver (apt-get install ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri)"))
    func hopperCheckpointRendersToAGIF() throws {
        try #require(RenderTests.hasGL && RenderTests.hasFFmpeg, "CI must install ffmpeg, libegl1, libegl-mesa0 and libgl1-mesa-dri (.ci/run)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("hopper")
        let train = try Self.run(["train", "--env", "Hopper-v4", "--steps", "1024", "--batch-steps", "1024",
                                  "--vf-epochs", "1", "--out", run.path])
        #expect(train.status == 0, "stderr: \(train.stderr)")

        let gif = root.appendingPathComponent("hopper.gif").path
        let render = try Self.run(["render", "--checkpoint", run.path, "--out", gif, "--steps", "40",
                                   "--width", "160", "--height", "120"])
        #expect(render.status == 0, "stderr: \(render.stderr)")
        #expect(render.stdout.hasPrefix("Hopper-v4 iteration 1: 1 deterministic episode, return "))
        // One frame for the initial state, one every 5 steps (125 steps/s at 25 fps), and the
        // last step's if the episode ended before a multiple of 5.
        let steps = try #require(render.stdout.firstMatch(of: /\((\d+) steps\)/).flatMap { Int($0.1) })
        let expected = 1 + steps / 5 + (steps % 5 == 0 ? 0 : 1)
        #expect(render.stdout.contains("; \(expected) frames of 160×120 at 25 fps"))
        let probe = try RenderTests.ffprobe(gif)
        #expect(probe.width == 160 && probe.height == 120 && probe.frames == expected)

        // With no EGL driver to be found (libglvnd reads its vendor list from this variable) the
        // command says what to install, in one line, and exits 2 without writing a file.
        let noDriver = root.appendingPathComponent("no-driver.gif").path
        let refused = try Self.run(["render", "--checkpoint", run.path, "--out", noDriver],
                                   environment: ["__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent/egl_vendor.json"])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("error: cannot create an OpenGL context for MuJoCo's renderer ("))
        #expect(refused.stderr.hasSuffix("apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri\n"))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: noDriver))
    }

    /// A malformed command line is a usage error (64) naming the problem; a checkpoint that
    /// is not there is a run failure (2), in one line.
    @Test(arguments: [
        (["render", "--checkpoint", "/nonexistent/run", "--out", "run.avi"], 64, "cannot write run.avi: the output must end in .mp4 or .gif"),
        (["render", "--checkpoint", "/nonexistent/run", "--out", "run.gif", "--width", "321"], 64,
         "frame size 321×240 is out of range: both sides must be even and within 16…4096 pixels"),
        (["render", "--checkpoint", "/nonexistent/run", "--out", "run.mp4"], 2, "error: no checkpoint at /nonexistent/run"),
    ])
    func badInputIsRefused(arguments: [String], status: Int32, message: String) throws {
        let outcome = try Self.run(arguments)
        #expect(outcome.status == status)
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
        if status == 2 { #expect(outcome.stderr == message + "\n") }
    }
}
