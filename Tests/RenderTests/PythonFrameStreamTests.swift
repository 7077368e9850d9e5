import Foundation
import Testing

@testable import Render

/// The frame stream of `trpo-gym-worker render` (python/trpo_worker/render.py), decoded from
/// bytes without a process: what a well-formed stream gives, and one clear error per way a
/// stream can be broken.
@Suite struct PythonFrameStreamTests {
    /// A stream of `frames` 16×16 frames (frame k filled with the byte k) and a summary.
    static func stream(frames: Int, header: String = #"{"width": 16, "height": 16, "fps": 15}"#,
                       summary: String = #"{"returns": [-21.0], "lengths": [812]}"#) -> Data {
        var data = Data((header + "\n").utf8)
        for k in 0..<frames {
            data.append(UInt8(ascii: "F"))
            data.append(Data(repeating: UInt8(k), count: 16 * 16 * 3))
        }
        data.append(UInt8(ascii: "S"))
        data.append(Data((summary + "\n").utf8))
        return data
    }

    /// Reads `data` in pieces of at most `piece` bytes (a pipe returns what it has).
    static func decode(_ data: Data, piece: Int = 100) throws(RenderError)
        -> (header: PythonFrameStream.Header?, frames: [RGBImage], summary: PythonFrameStream.Summary, count: Int) {
        var offset = 0
        var header: PythonFrameStream.Header?
        var frames: [RGBImage] = []
        let (summary, count) = try PythonFrameStream.read(
            from: { count in
                let end = min(data.count, offset + min(count, piece))
                defer { offset = end }
                return data.subdata(in: offset..<end)
            },
            start: { header = $0 }, frame: { frames.append($0) })
        return (header, frames, summary, count)
    }

    @Test func aWellFormedStreamGivesItsHeaderFramesAndSummary() throws {
        for piece in [1, 7, 100, 1 << 20] {
            let decoded = try Self.decode(Self.stream(frames: 3), piece: piece)
            #expect(decoded.header == PythonFrameStream.Header(width: 16, height: 16, fps: 15))
            #expect(decoded.count == 3 && decoded.frames.map { $0.pixels.first } == [0, 1, 2])
            #expect(decoded.frames.allSatisfy { $0.width == 16 && $0.height == 16 && Set($0.pixels).count == 1 })
            #expect(decoded.summary == PythonFrameStream.Summary(returns: [-21], lengths: [812]))
        }
    }

    @Test func brokenStreamsAreRefusedByName() {
        let good = Self.stream(frames: 2)
        let cases: [(Data, RenderError)] = [
            (Data(), .python(message: "the Python renderer wrote no frame")),
            (Data("{\"width\": 16}\n".utf8),
             .python(message: "the Python renderer's header is not {\"width\", \"height\", \"fps\"}: {\"width\": 16}")),
            (Self.stream(frames: 1, header: #"{"width": 15, "height": 16, "fps": 15}"#), .invalidSize(width: 15, height: 16)),
            (Self.stream(frames: 1, header: #"{"width": 16, "height": 16, "fps": 0}"#),
             .python(message: "the Python renderer's header asks for 0 fps")),
            (good.prefix(good.count - 40 - 16 * 16 * 3),
             .python(message: "the Python renderer's stream ended inside frame 2")),
            (good.prefix(good.count - 40), .python(message: "the Python renderer's stream ended after 2 frames, before its summary")),
            (Data((#"{"width": 16, "height": 16, "fps": 15}"# + "\nX").utf8),
             .python(message: "the Python renderer's stream has an unknown record tag 88 after 0 frames")),
            (Self.stream(frames: 1, summary: #"{"returns": [1.0], "lengths": []}"#),
             .python(message: "the Python renderer's summary is not {\"returns\", \"lengths\"} of equal lengths")),
        ]
        for (data, expected) in cases {
            #expect(throws: expected) { _ = try Self.decode(data) }
        }
    }
}
