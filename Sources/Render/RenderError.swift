/// Why a policy could not be rendered. Each case's description is one line that says what to
/// do about it.
public enum RenderError: Error, Equatable, CustomStringConvertible {
    /// No OpenGL context could be made for MuJoCo's renderer (no EGL library, no Mesa driver,
    /// or the driver refused): `reason` names the step that failed.
    case noGLContext(reason: String)
    /// `ffmpeg` is not on `PATH`.
    case encoderMissing
    /// `ffmpeg` failed: its exit status and the last lines it printed.
    case encoderFailed(status: Int32, message: String)
    /// The output's extension names no supported format.
    case unsupportedFormat(path: String)
    /// The environment has no drawing.
    case unsupportedEnvironment(id: String)
    /// Frame size out of range (both sides even, 16…4096 pixels).
    case invalidSize(width: Int, height: Int)
    /// The Python worker's frame stream (``PythonFrameStream``) broke off or was malformed, or
    /// the Python side failed: `message` says which, with its last error line.
    case python(message: String)

    public var description: String {
        switch self {
        case .noGLContext(let reason):
            "cannot create an OpenGL context for MuJoCo's renderer (\(reason)); "
                + "install Mesa's EGL driver: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri"
        case .encoderMissing:
            "ffmpeg is not installed (not found on PATH); install it: apt-get install ffmpeg"
        case .encoderFailed(let status, let message):
            "ffmpeg failed with status \(status)" + (message.isEmpty ? "" : ": \(message)")
        case .unsupportedFormat(let path):
            "cannot write \(path): the output must end in .mp4 or .gif"
        case .unsupportedEnvironment(let id):
            "no drawing for \(id)"
        case .invalidSize(let width, let height):
            "frame size \(width)×\(height) is out of range: both sides must be even and within 16…4096 pixels"
        case .python(let message): message
        }
    }
}
