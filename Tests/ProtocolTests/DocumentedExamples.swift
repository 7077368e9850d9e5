import Foundation

/// The worked examples of docs/protocol.md §7, read straight out of the document, so the
/// document cannot drift from the codec (``WireFormatTests`` compares them byte for byte).
///
/// In each `### 7.N` section, a code block whose lines do not start with `frame` is a header
/// (frame 0): each line's leading two-digit hex tokens, up to the first other token (the
/// comment). A block of `frame K (N bytes)  hex…` lines gives frame K, continued on indented
/// lines; N is checked against the bytes read.
enum DocumentedExamples {
    struct DocumentError: Error, CustomStringConvertible { var description: String }

    static let document = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/protocol.md")

    /// The frames of worked example `section` (e.g. `"7.1"`), in order; frames the section
    /// does not show (7.4 shows only a header) are absent from the dictionary.
    static func frames(_ section: String) throws -> [Int: [UInt8]] {
        let text = try String(contentsOf: document, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("### \(section) ") }) else {
            throw DocumentError(description: "docs/protocol.md has no section \(section)")
        }
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("#") } ?? lines.endIndex
        var frames: [Int: [UInt8]] = [:]
        var declared: [Int: Int] = [:]
        var inBlock = false
        var current: Int?
        for line in lines[(start + 1)..<end] {
            if line.hasPrefix("```") {
                inBlock.toggle()
                current = nil
                continue
            }
            guard inBlock, !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            if line.hasPrefix("frame ") {
                // frame K (N bytes)  hex…
                let afterFrame = line.dropFirst("frame ".count)
                guard let k = Int(afterFrame.prefix { $0.isNumber }), let open = line.firstIndex(of: "("),
                      let close = line.firstIndex(of: ")") else {
                    throw DocumentError(description: "section \(section): cannot read \(line)")
                }
                declared[k] = Int(line[line.index(after: open)..<close].split(separator: " ").first ?? "")
                current = k
                frames[k] = hexPrefix(line[line.index(after: close)...])
            } else if let k = current, line.hasPrefix(" ") {
                frames[k]! += hexPrefix(Substring(line))
            } else if current == nil {
                frames[0, default: []] += hexPrefix(Substring(line))
            }
        }
        for (k, n) in declared where frames[k]?.count != n {
            throw DocumentError(description: "section \(section): frame \(k) declares \(n) bytes and shows \(frames[k]?.count ?? 0)")
        }
        return frames
    }

    /// Frames 0…n of `section`, all of which it must show.
    static func allFrames(_ section: String) throws -> [[UInt8]] {
        let frames = try frames(section)
        return try (0..<frames.count).map { k in
            guard let frame = frames[k] else { throw DocumentError(description: "section \(section) does not show frame \(k)") }
            return frame
        }
    }

    /// The leading two-digit hex tokens of `text`.
    private static func hexPrefix(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        for token in text.split(separator: " ") {
            guard token.count == 2, let byte = UInt8(token, radix: 16) else { break }
            bytes.append(byte)
        }
        return bytes
    }
}
