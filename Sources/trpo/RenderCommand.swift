import ArgumentParser
import Core
import Foundation
import Learner
import Render
import Simulators
import Supervision

/// `trpo render`: a video of a checkpoint's policy acting in its environment.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a saved policy's episodes to an MP4 or GIF video.",
        discussion: """
            Locomotion tasks are drawn by MuJoCo's own renderer on a headless EGL context (Mesa; \
            no display or GPU needed), classic-control tasks by simple 2-D drawings. Frames are \
            encoded by ffmpeg: .mp4 as H.264, .gif with a palette made from the whole video. \
            One frame is kept every round(steps per second / fps) steps, so the video plays at \
            about the simulation's own speed.
            """
    )

    enum ActionChoice: String, EnumerableFlag {
        case deterministic, stochastic

        static func help(for value: ActionChoice) -> ArgumentHelp? {
            switch value {
            case .deterministic: "Act with the distribution's mode (argmax / mean); the default."
            case .stochastic: "Sample actions from the policy's distribution."
            }
        }
    }

    @Option(help: "Run directory (or checkpoint.json) to load.")
    var checkpoint: String

    @Option(help: "Output video: a path ending in .mp4 or .gif.")
    var out: String

    @Option(help: "Number of episodes, one after another.")
    var episodes: Int = 1

    @Option(help: "Most steps per episode (default: the environment's time limit).")
    var steps: Int?

    @Option(help: "Seed of the episodes' initial states (and of sampled actions).")
    var seed: UInt64 = 12345

    @Option(help: "Frame width in pixels (even; default 320, or for gym:/py: environments their own frame size scaled to about 480 pixels on the longer side).")
    var width: Int?

    @Option(help: "Frame height in pixels (even; default 240, or as --width says; give both or neither for gym:/py: environments).")
    var height: Int?

    @Option(help: ArgumentHelp("For gym:ID or py:MODULE:FACTORY, rendered by the Python worker package: its interpreter (default: $TRPO_PYTHON, then .venv/bin/python, then python3).", valueName: "path"))
    var python: String?

    @Option(help: "Frames per second of the video.")
    var fps: Int = 25

    @Flag var actions: ActionChoice = .deterministic

    func validate() throws {
        guard episodes > 0 else { throw ValidationError("--episodes must be positive (got \(episodes))") }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive (got \(steps))") }
        guard (1...120).contains(fps) else { throw ValidationError("--fps must be within 1…120 (got \(fps))") }
        guard VideoEncoder.Format(path: out) != nil else { throw ValidationError("\(RenderError.unsupportedFormat(path: out))") }
        guard VideoEncoder.validSize(width: width ?? 320, height: height ?? 240) else {
            throw ValidationError("\(RenderError.invalidSize(width: width ?? 320, height: height ?? 240))")
        }
    }

    func run() throws {
        NumericsRuntime.setBLASThreads(1)
        let state: TrainerState
        do { state = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint)) } catch { throw runFailure(error) }
        let c = state.configuration
        if c.isExternal { return try recordThroughPython(state) }
        if python != nil { throw runFailure("--python applies to gym:ID and py:MODULE:FACTORY checkpoints; \(c.environment) is built in") }
        let simulator: any Simulator
        do { simulator = try EnvironmentRegistry.make(c.environment, modelXML: c.modelXML) } catch { throw runFailure(error) }
        do { print(try record(state, on: simulator)) } catch { throw runFailure(error) }
    }

    /// An external environment's video, rendered by the Python worker package
    /// (``PythonPolicyVideo``); prints the summary line.
    private func recordThroughPython(_ state: TrainerState) throws {
        if (width == nil) != (height == nil) {
            throw runFailure("give both --width and --height, or neither (the environment's own frame size, scaled)")
        }
        var video: PythonPolicyVideo
        do { video = PythonPolicyVideo(interpreter: try PythonWorkerInterpreter.resolve(explicit: python)) } catch {
            throw runFailure(error)
        }
        video.episodes = episodes
        video.maxSteps = steps
        video.deterministic = actions == .deterministic
        video.seed = seed
        video.fps = fps
        if let width, let height { video.size = (width, height) }
        let recording: PythonPolicyVideo.Recording
        do { recording = try video.record(checkpoint: URL(fileURLWithPath: checkpoint), into: out) } catch { throw runFailure(error) }
        print(summary(state, returns: recording.summary.returns, lengths: recording.summary.lengths, frames: recording.frames,
                      bytes: recording.bytes, size: (recording.width, recording.height), fps: recording.fps))
    }

    /// "ENV iteration N: K deterministic episodes, return … (… steps); F frames at R fps (… s) → OUT (size)"
    private func summary(_ state: TrainerState, returns: [Double], lengths: [Int], frames: Int, bytes: Int,
                         size: (width: Int, height: Int), fps: Int) -> String {
        let returns = returns.map { String(format: "%.1f", $0) }.joined(separator: ", ")
        let lengths = lengths.map(String.init).joined(separator: ", ")
        let file = ByteCountFormatter.string(fromByteCount: Int64(bytes), countStyle: .file)
        return "\(state.configuration.environment) iteration \(state.iteration): \(episodes) \(actions.rawValue) "
            + "episode\(episodes == 1 ? "" : "s"), return \(returns) (\(lengths) steps); \(frames) frames of "
            + "\(size.width)×\(size.height) at \(fps) fps " + String(format: "(%.1f s)", Double(frames) / Double(fps))
            + " → \(out) (\(file))"
    }

    /// Renders the episodes into ``out`` and returns the summary line.
    private func record(_ state: TrainerState, on simulator: any Simulator) throws(RenderError) -> String {
        let (width, height) = (width ?? 320, height ?? 240)
        let renderer: any FrameRenderer
        if let locomotion = simulator as? LocomotionSimulator {
            renderer = try MuJoCoRenderer(simulator: locomotion, context: try HeadlessGLContext(), width: width, height: height)
        } else {
            renderer = try ClassicControlRenderer(simulator: simulator, width: width, height: height)
        }
        var video = PolicyVideo(policy: state.builtInPolicy, normalizer: state.samplingNormalizer,
                                simulator: simulator, renderer: renderer)
        video.episodes = episodes
        video.maxSteps = steps ?? simulator.maxEpisodeSteps
        video.deterministic = actions == .deterministic
        video.seed = seed
        let encoder = try VideoEncoder(path: out, width: width, height: height, fps: fps)
        let recorded = try video.record(into: encoder)
        let bytes = try encoder.finish()
        return summary(state, returns: recorded.returns, lengths: recorded.lengths, frames: recorded.frames, bytes: bytes,
                       size: (width, height), fps: fps)
    }
}
