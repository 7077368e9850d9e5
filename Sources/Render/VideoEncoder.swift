#if canImport(Glibc)
import Glibc
#endif
import Core
import Foundation

/// A video file written by `ffmpeg` from raw frames piped to its standard input.
///
/// - `.mp4`: H.264 (`libx264`, CRF 23), `yuv420p` so that every player shows it, the index at
///   the front (`+faststart`).
/// - `.gif`: one 256-colour palette computed from all frames (`palettegen`, weighting the
///   pixels that change), applied with ordered dithering (`paletteuse`), looping forever.
///
/// Frames are appended in order; ``finish()`` closes the pipe, waits for ffmpeg and reports its
/// failure. A file that could not be finished is removed.
public final class VideoEncoder {
    public enum Format: String, Sendable, CaseIterable {
        case mp4, gif

        /// The format an output path's extension names (case-insensitive), or nil.
        public init?(path: String) {
            self.init(rawValue: (path as NSString).pathExtension.lowercased())
        }
    }

    public let path: String
    public let format: Format
    public let width: Int
    public let height: Int
    /// Frames per second of the video.
    public let fps: Int
    /// Frames appended so far.
    public private(set) var frameCount = 0

    private let process: Process
    private let input: FileHandle
    /// ffmpeg's standard error goes to a file rather than a pipe, so that however much it
    /// prints it never blocks (a full pipe would stall it, and this process writing frames).
    private let errorLog: URL
    private var finished = false

    /// Starts ffmpeg writing `path`.
    /// - Parameters:
    ///   - width, height: frame size in pixels; both even (H.264 in `yuv420p` needs even sides).
    ///   - fps: frames per second, positive.
    /// - Throws: ``RenderError/unsupportedFormat(path:)`` unless the path ends in `.mp4` or
    ///   `.gif`; ``RenderError/invalidSize(width:height:)``; ``RenderError/encoderMissing``
    ///   when ffmpeg is not on `PATH`; ``RenderError/encoderFailed(status:message:)`` when it
    ///   cannot be started.
    public init(path: String, width: Int, height: Int, fps: Int) throws(RenderError) {
        guard let format = Format(path: path) else { throw .unsupportedFormat(path: path) }
        guard Self.validSize(width: width, height: height) else { throw .invalidSize(width: width, height: height) }
        precondition(fps > 0, "fps must be positive")
        guard let ffmpeg = Self.findFFmpeg() else { throw .encoderMissing }
        self.path = path
        self.format = format
        self.width = width
        self.height = height
        self.fps = fps

        // A write to a pipe whose reader died must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        let frames = Pipe()
        errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("trpo-ffmpeg-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log")
        guard FileManager.default.createFile(atPath: errorLog.path, contents: nil),
              let errors = FileHandle(forWritingAtPath: errorLog.path)
        else {
            throw .encoderFailed(status: -1, message: "cannot create \(errorLog.path) for ffmpeg's messages")
        }
        defer { try? errors.close() }
        process = Process()
        process.executableURL = ffmpeg
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)", "-r", "\(fps)", "-i", "pipe:0"]
            + Self.outputArguments(format) + [path]
        process.standardInput = frames
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do { try process.run() } catch {
            try? FileManager.default.removeItem(at: errorLog)
            throw .encoderFailed(status: -1, message: "cannot start \(ffmpeg.path): \(error.localizedDescription)")
        }
        input = frames.fileHandleForWriting
    }

    deinit {
        if !finished {
            try? input.close()
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: path)
        }
        try? FileManager.default.removeItem(at: errorLog)
    }

    /// Whether a frame size is accepted: both sides even and within 16…4096 pixels.
    public static func validSize(width: Int, height: Int) -> Bool {
        (16...4096).contains(width) && (16...4096).contains(height) && width % 2 == 0 && height % 2 == 0
    }

    private static func outputArguments(_ format: Format) -> [String] {
        switch format {
        case .mp4:
            ["-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"]
        case .gif:
            ["-filter_complex", "split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4",
             "-loop", "0", "-f", "gif"]
        }
    }

    /// `ffmpeg` on `PATH`, or nil.
    public static func findFFmpeg() -> URL? { executableOnPath("ffmpeg") }

    /// Sends one frame.
    /// - Precondition: the frame has the encoder's size.
    /// - Throws: ``RenderError/encoderFailed(status:message:)`` when ffmpeg has stopped reading.
    public func append(_ frame: RGBImage) throws(RenderError) {
        precondition(frame.width == width && frame.height == height, "frame size differs from the video's")
        do { try input.write(contentsOf: frame.pixels) } catch {
            try finish()
            throw .encoderFailed(status: process.terminationStatus, message: "stopped reading frames")
        }
        frameCount += 1
    }

    /// Closes the input, waits for ffmpeg to write the file, and returns the file's size in bytes.
    /// - Throws: ``RenderError/encoderFailed(status:message:)`` with ffmpeg's last error line
    ///   when it exits with a non-zero status (the partial file is removed).
    @discardableResult
    public func finish() throws(RenderError) -> Int {
        if !finished {
            finished = true
            try? input.close()
            process.waitUntilExit()
        }
        let output = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            let last = output.split(separator: "\n").last.map(String.init) ?? ""
            throw .encoderFailed(status: process.terminationStatus, message: last)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.intValue ?? 0
    }
}
