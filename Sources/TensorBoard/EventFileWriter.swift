import Foundation
import SwiftProtobuf

/// Why an event file could not be written.
public struct EventFileError: Error, CustomStringConvertible {
    public var description: String
}

/// One TensorBoard event file (`events.out.tfevents.<seconds>.<host>.<pid>`) in a log
/// directory: scalar summaries that TensorBoard (and its Python `EventAccumulator`) read.
///
/// The file starts with the file-version record TensorBoard expects. Each ``write(_:step:wallTime:)``
/// appends one event holding every scalar of one step and flushes it, so a live TensorBoard
/// sees each iteration as it ends. A new writer never appends to an existing file: a resumed
/// run gets a second file in the same directory (named to sort after the earlier ones), whose
/// first event after the version record is a session start (``init(directory:resumingAt:wallTime:)``),
/// which tells TensorBoard to drop the earlier files' events at that step and later.
public final class EventFileWriter {
    /// The event file being written.
    public let url: URL
    /// Every event file's name starts with this, then the creation second.
    static let prefix = "events.out.tfevents."
    private let handle: FileHandle

    /// Creates the directory if needed and a new event file in it.
    /// - Parameters:
    ///   - resumingAt: a resumed run's first new step (nil: a fresh run): events of earlier
    ///     files at this step or later are orphans of the interrupted run.
    ///   - wallTime: seconds since the Unix epoch (names the file and stamps the first records).
    /// - Throws: ``EventFileError`` naming the path when the directory or file cannot be made.
    public init(directory: URL, resumingAt step: Int64? = nil,
                wallTime: Double = Date().timeIntervalSince1970) throws {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // TensorBoard reads a directory's files in name order: a resumed run's file must
            // sort after the earlier ones even when it starts within the same second.
            let earlier = try FileManager.default.contentsOfDirectory(atPath: directory.path).compactMap { name in
                name.hasPrefix(EventFileWriter.prefix) ? Int(name.dropFirst(EventFileWriter.prefix.count).prefix { $0 != "." }) : nil
            }
            let seconds = max(Int(wallTime), (earlier.max() ?? -1) + 1)
            url = directory.appendingPathComponent("\(EventFileWriter.prefix)\(seconds).\(host).\(ProcessInfo.processInfo.processIdentifier)")
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw EventFileError(description: "cannot create \(url.path)")
            }
            handle = try FileHandle(forWritingTo: url)
        } catch let error as EventFileError {
            throw error
        } catch {
            throw EventFileError(description: "cannot write TensorBoard events in \(directory.path): \(error.localizedDescription)")
        }
        var version = Event()
        version.wallTime = wallTime
        version.fileVersion = "brain.Event:2"
        try append(version)
        if let step {
            var start = Event()
            start.wallTime = wallTime
            start.step = step
            start.sessionLog = SessionLog.with { $0.status = .start }
            try append(start)
        }
        try flush()
    }

    deinit { try? handle.close() }

    /// Appends one event with `scalars` (tag, value) at `step` and flushes the file. Non-finite
    /// values are skipped (TensorBoard would draw them as gaps or spikes; progress.csv keeps
    /// an empty cell for them).
    public func write(_ scalars: [(tag: String, value: Double)], step: Int64,
                      wallTime: Double = Date().timeIntervalSince1970) throws {
        var event = Event()
        event.wallTime = wallTime
        event.step = step
        event.summary = Summary.with { summary in
            summary.value = scalars.filter { $0.value.isFinite }.map { scalar in
                Summary.Value.with {
                    $0.tag = scalar.tag
                    $0.simpleValue = Float(scalar.value)
                }
            }
        }
        try append(event)
        try flush()
    }

    private func append(_ event: Event) throws {
        do {
            let data: [UInt8] = try event.serializedBytes()
            try handle.write(contentsOf: TFRecord.frame(data))
        } catch {
            throw EventFileError(description: "cannot append to \(url.path): \(error.localizedDescription)")
        }
    }

    private func flush() throws {
        do { try handle.synchronize() } catch {
            throw EventFileError(description: "cannot flush \(url.path): \(error.localizedDescription)")
        }
    }
}
