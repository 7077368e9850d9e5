#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The frames `trpo-gym-worker render` writes for an external environment (`gym:ID`,
/// `py:MODULE:FACTORY`), which only the Python worker package can make: one header line of JSON
/// `{"width": W, "height": H, "fps": F}`, then records, each a tag byte: `F` and W × H × 3 bytes
/// of RGB (one frame), or `S` and a JSON line `{"returns": [...], "lengths": [...]}` (the end).
/// The contract is python/trpo_worker/render.py's docstring.
///
/// The decoding is separate from the process: ``read(from:into:)`` takes any source of bytes.
public enum PythonFrameStream {
    /// The episodes' returns and lengths, from the stream's last record.
    public struct Summary: Decodable, Equatable, Sendable {
        public var returns: [Double]
        public var lengths: [Int]
    }

    /// The header's fields.
    public struct Header: Decodable, Equatable, Sendable {
        public var width: Int
        public var height: Int
        public var fps: Int
    }

    /// Reads a whole stream from `read` (which returns up to the count asked, and an empty
    /// `Data` at the end): the header goes to `start`, which returns the sink of the frames
    /// (e.g. a ``VideoEncoder`` made with the header's size), each frame to it.
    /// - Returns: the summary and the number of frames.
    /// - Throws: ``RenderError/python(message:)`` when the stream ends early or is malformed
    ///   (a header that is not the documented JSON or out of ``VideoEncoder/validSize(width:height:)``,
    ///   an unknown tag, a short frame, a summary whose arrays differ in length), and what
    ///   `start` or `frame` throw.
    public static func read(from read: @escaping (Int) -> Data, start: (Header) throws(RenderError) -> Void,
                            frame: (RGBImage) throws(RenderError) -> Void) throws(RenderError) -> (Summary, frames: Int) {
        var reader = ByteReader(read: read)
        guard let line = reader.line() else { throw .python(message: "the Python renderer wrote no frame") }
        guard let header = try? JSONDecoder().decode(Header.self, from: line) else {
            throw .python(message: "the Python renderer's header is not {\"width\", \"height\", \"fps\"}: "
                          + String(decoding: line.prefix(200), as: UTF8.self))
        }
        guard VideoEncoder.validSize(width: header.width, height: header.height) else {
            throw .invalidSize(width: header.width, height: header.height)
        }
        guard (1...120).contains(header.fps) else { throw .python(message: "the Python renderer's header asks for \(header.fps) fps") }
        try start(header)
        let frameBytes = header.width * header.height * 3
        var frames = 0
        while true {
            guard let tag = reader.bytes(1)?.first else {
                throw .python(message: "the Python renderer's stream ended after \(frames) frames, before its summary")
            }
            switch tag {
            case UInt8(ascii: "F"):
                guard let pixels = reader.bytes(frameBytes) else {
                    throw .python(message: "the Python renderer's stream ended inside frame \(frames + 1)")
                }
                try frame(RGBImage(width: header.width, height: header.height, pixels: [UInt8](pixels)))
                frames += 1
            case UInt8(ascii: "S"):
                guard let line = reader.line(),
                      let summary = try? JSONDecoder().decode(Summary.self, from: line),
                      !summary.returns.isEmpty, summary.returns.count == summary.lengths.count
                else { throw .python(message: "the Python renderer's summary is not {\"returns\", \"lengths\"} of equal lengths") }
                return (summary, frames)
            default:
                throw .python(message: "the Python renderer's stream has an unknown record tag \(tag) after \(frames) frames")
            }
        }
    }

    /// Exact reads over a source that may return less than asked.
    private struct ByteReader {
        let read: (Int) -> Data
        var buffer = Data()

        /// Exactly `count` bytes, or nil if the source ends first.
        mutating func bytes(_ count: Int) -> Data? {
            while buffer.count < count {
                let more = read(max(count - buffer.count, 65_536))
                if more.isEmpty { return nil }
                buffer.append(more)
            }
            let result = buffer.prefix(count)
            buffer.removeFirst(count)
            return Data(result)
        }

        /// The bytes up to the next newline (at most 64 KiB), without it; nil if none.
        mutating func line() -> Data? {
            while true {
                if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[buffer.startIndex..<end]
                    buffer.removeSubrange(buffer.startIndex...end)
                    return Data(line)
                }
                guard buffer.count < 65_536 else { return nil }
                let more = read(4096)
                if more.isEmpty { return nil }
                buffer.append(more)
            }
        }
    }
}
