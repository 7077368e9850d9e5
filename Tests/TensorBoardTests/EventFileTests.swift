import Foundation
import Learner
import SwiftProtobuf
import Testing
@testable import TensorBoard

/// Reads back the records of an event file, checking the TFRecord framing on the way.
func readRecords(_ url: URL) throws -> [Event] {
    let bytes = [UInt8](try Data(contentsOf: url))
    var events: [Event] = []
    var offset = 0
    func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    while offset < bytes.count {
        let lengthBytes = Array(bytes[offset..<offset + 8])
        let length = Int(lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(u32(offset + 8) == CRC32C.masked(lengthBytes))
        let data = Array(bytes[offset + 12..<offset + 12 + length])
        #expect(u32(offset + 12 + length) == CRC32C.masked(data))
        events.append(try Event(serializedBytes: data))
        offset += 16 + length
    }
    return events
}

@Suite struct EventFileTests {
    /// CRC-32C's published check value ("123456789" → 0xE3069283) and the empty string.
    @Test func crc32cCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
    }

    @Test func aFreshFileStartsWithItsVersionAndHoldsOneEventPerStep() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try EventFileWriter(directory: directory, wallTime: 1_700_000_000)
        try writer.write([("a", 1.5), ("b", -2), ("zero", 0), ("skipped", .nan)], step: 100, wallTime: 1_700_000_001)
        try writer.write([("a", 3)], step: 200, wallTime: 1_700_000_002)
        #expect(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))

        let events = try readRecords(writer.url)
        #expect(events.count == 3)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].step == 100 && events[1].wallTime == 1_700_000_001)
        #expect(events[1].summary.value.map(\.tag) == ["a", "b", "zero"])
        #expect(events[1].summary.value.map(\.simpleValue) == [1.5, -2, 0])
        // A zero is written, not left out as a proto3 default (TensorBoard drops valueless tags).
        #expect(events[1].summary.value.allSatisfy { $0.value != nil })
        #expect(events[2].step == 200 && events[2].summary.value.map(\.simpleValue) == [3])
    }

    /// A resumed run's file says where the session restarted, so TensorBoard drops the
    /// earlier file's events from that step on; the earlier file is never touched.
    @Test func aResumedRunGetsAnotherFileThatStartsASession() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try EventFileWriter(directory: directory, wallTime: 5)
        try first.write([("a", 1)], step: 10)
        let before = try Data(contentsOf: first.url)
        let second = try EventFileWriter(directory: directory, resumingAt: 10, wallTime: 5)
        #expect(second.url != first.url)
        #expect(try Data(contentsOf: first.url) == before)
        let events = try readRecords(second.url)
        #expect(events.count == 2)
        #expect(events[1].sessionLog.status == .start && events[1].step == 10)
    }

    @Test func anUnwritableDirectoryIsOneClearError() {
        #expect(throws: EventFileError.self) {
            _ = try EventFileWriter(directory: URL(fileURLWithPath: "/proc/trpo-cannot-write-here"))
        }
    }

    /// progress.csv columns map to Stable-Baselines3's tags where one exists, `trpo/…`
    /// otherwise; empty and text cells are left out.
    @Test func progressRowsBecomeScalarsUnderTheirTags() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try TensorBoardLog(directory: directory)
        try log.append(["iteration": "3", "timesteps": "6000", "episode_return_mean": "212.5", "kl": "0.009",
                        "cg_residual": "1e-10", "rejection": "klTooLarge", "entropy": ""])
        let events = try readRecords(log.url)
        let scalars = Dictionary(uniqueKeysWithValues: events[1].summary.value.map { ($0.tag, $0.simpleValue) })
        #expect(events[1].step == 6000)
        #expect(scalars == ["time/iterations": 3, "time/total_timesteps": 6000, "rollout/ep_rew_mean": 212.5,
                            "train/kl_divergence_loss": 0.009, "trpo/cg_residual": 1e-10])
    }
}
