#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation

/// A video of a checkpoint of an external environment (`gym:ID`, `py:MODULE:FACTORY`), which
/// only the Python worker package can make: `INTERPRETER -m trpo_worker.cli render --checkpoint
/// DIR …` plays the episodes and writes their frames (``PythonFrameStream``), which go to a
/// ``VideoEncoder`` as they arrive.
public struct PythonPolicyVideo {
    /// A Python with the `trpo_worker` package.
    public var interpreter: String
    public var episodes = 1
    /// Most steps per episode (nil: to the episode's end).
    public var maxSteps: Int?
    /// Act with the distribution's mode (argmax / mean) instead of sampling.
    public var deterministic = true
    /// Episode k starts from `reset(seed: seed + k)`.
    public var seed: UInt64 = 12345
    /// Frames per second of the video (a game with fewer steps per second plays at its own rate).
    public var fps = 25
    /// The video's frame size (nil: the environment's own, scaled as render.py says).
    public var size: (width: Int, height: Int)?

    public init(interpreter: String) { self.interpreter = interpreter }

    /// What ``record(checkpoint:into:)`` wrote.
    public struct Recording: Sendable, Equatable {
        public var summary: PythonFrameStream.Summary
        public var frames: Int
        public var width: Int
        public var height: Int
        /// Frames per second: ``PythonPolicyVideo/fps``, or a slower game's own rate.
        public var fps: Int
        /// The video file's size in bytes.
        public var bytes: Int
    }

    /// Renders the checkpoint in `checkpoint` (a run directory or its `checkpoint.json`) into
    /// the video file `path` (`.mp4` or `.gif`).
    /// - Throws: ``RenderError/python(message:)`` with the Python side's last error line when it
    ///   fails (or its stream is malformed), and what ``VideoEncoder`` throws; no partial video
    ///   is left behind.
    public func record(checkpoint: URL, into path: String) throws(RenderError) -> Recording {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        var arguments = ["-m", "trpo_worker.cli", "render", "--checkpoint", checkpoint.path, "--episodes", "\(episodes)",
                         "--seed", "\(seed)", "--fps", "\(fps)"]
        if let maxSteps { arguments += ["--steps", "\(maxSteps)"] }
        if !deterministic { arguments.append("--stochastic") }
        if let size { arguments += ["--width", "\(size.width)", "--height", "\(size.height)"] }
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw .python(message: "cannot start \(interpreter): \(error.localizedDescription)")
        }
        // Standard error is read on another thread so that neither pipe can fill up and block.
        nonisolated(unsafe) var errorText = Data()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { errorText = errors.fileHandleForReading.readDataToEndOfFile() }
        let frames = output.fileHandleForReading
        var encoder: VideoEncoder?
        var result: Result<(PythonFrameStream.Summary, frames: Int), RenderError>
        do throws(RenderError) {
            result = .success(try PythonFrameStream.read(
                from: { count in (try? frames.read(upToCount: count)) ?? Data() },
                start: { header throws(RenderError) in
                    encoder = try VideoEncoder(path: path, width: header.width, height: header.height, fps: header.fps)
                },
                frame: { image throws(RenderError) in try encoder?.append(image) }))
        } catch {
            result = .failure(error)
        }
        // A stream that breaks off is most often Python failing (it closes its output as it
        // exits): give it a few seconds to say why; one still running then is stopped, and the
        // broken stream is the finding.
        var stopped = false
        if case .failure = result {
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
            if process.isRunning {
                process.terminate()
                stopped = true
            }
        }
        process.waitUntilExit()
        reading.wait()
        guard stopped || process.terminationStatus == 0 else {
            let last = String(decoding: errorText, as: UTF8.self).split(separator: "\n").last.map(String.init)
            throw .python(message: "rendering \(checkpoint.path) through \(interpreter) failed: "
                          + (last ?? "exit status \(process.terminationStatus)"))
        }
        let (summary, count) = try result.get()
        guard let encoder else { throw .python(message: "the Python renderer wrote no frame") }
        let bytes = try encoder.finish()
        return Recording(summary: summary, frames: count, width: encoder.width, height: encoder.height, fps: encoder.fps,
                         bytes: bytes)
    }
}
