import Core
import Protocol
import Testing

/// Seeded random mutations of valid messages: the decoder must never trap, and whatever it
/// accepts must be canonical (re-encoding the decoded message gives back the exact frames).
@Suite struct MutationFuzzTests {
    /// Mutates frames in place with one of a dozen operators.
    struct Mutator {
        var random: RandomStream
        /// Frames of other messages, for splicing.
        let donors: [[UInt8]]

        mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }

        static let interestingWords: [UInt64] = [
            0, 1, 2, 3, 4, 7, 8, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000_0000,
            UInt64(Int64.max), UInt64.max, Double.nan.bitPattern, Double.infinity.bitPattern,
            (-Double.infinity).bitPattern, (-1.0).bitPattern, (0.0).bitPattern, (-0.0).bitPattern,
        ]

        mutating func mutate(_ frames: inout [[UInt8]]) {
            if frames.isEmpty { frames.append([]) }
            let f = int(0...(frames.count - 1))
            switch int(0...11) {
            case 0:  // flip a bit
                guard !frames[f].isEmpty else { return }
                frames[f][int(0...(frames[f].count - 1))] ^= UInt8(1) << UInt8(int(0...7))
            case 1:  // set a byte
                guard !frames[f].isEmpty else { return }
                frames[f][int(0...(frames[f].count - 1))] = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, UInt8(int(0...255))][int(0...7)]
            case 2:  // insert bytes
                let at = int(0...frames[f].count)
                frames[f].insert(contentsOf: (0..<int(1...9)).map { _ in UInt8(int(0...255)) }, at: at)
            case 3:  // delete bytes
                guard !frames[f].isEmpty else { return }
                let start = int(0...(frames[f].count - 1))
                frames[f].removeSubrange(start..<min(frames[f].count, start + int(1...9)))
            case 4:  // truncate
                frames[f].removeLast(int(0...frames[f].count))
            case 5:  // delete a frame
                frames.remove(at: f)
            case 6:  // duplicate a frame
                frames.insert(frames[f], at: int(0...frames.count))
            case 7:  // swap two frames
                frames.swapAt(f, int(0...(frames.count - 1)))
            case 8:  // insert an empty frame
                frames.insert([], at: int(0...frames.count))
            case 9:  // overwrite a header field (4 or 8 bytes) with an interesting value
                guard frames[0].count > 12 else { return }
                let width = int(0...1) == 0 ? 4 : 8
                let at = int(4...(frames[0].count - 4)) & ~(width == 8 ? 7 : 3)
                let word = Mutator.interestingWords[int(0...(Mutator.interestingWords.count - 1))]
                for i in 0..<width where at + i < frames[0].count { frames[0][at + i] = UInt8(truncatingIfNeeded: word >> (8 * i)) }
            case 10:  // overwrite an array element with NaN, ±∞ or a huge index
                guard frames[f].count >= 8 else { return }
                let at = int(0...(frames[f].count / 8 - 1)) * 8
                let word = Mutator.interestingWords[int(12...(Mutator.interestingWords.count - 1))]
                for i in 0..<8 { frames[f][at + i] = UInt8(truncatingIfNeeded: word >> (8 * i)) }
            default:  // splice in a frame of another message
                frames[f] = donors[int(0...(donors.count - 1))]
            }
        }
    }

    @Test func mutatedMessagesNeverTrap() throws {
        var generator = MessageGenerator(seed: 0xF022)
        let originals = (0..<64).map { i in WireCodec.encode(generator.message(of: MessageKind.allCases[i % MessageKind.allCases.count])) }
        var mutator = Mutator(random: RandomStream(seed: 0xF023), donors: originals.flatMap { $0 })
        let tight = DecodingLimits(maxTotalBytes: 4096, maxRows: 16, maxWidth: 8, maxParameters: 200, maxStringBytes: 16)
        var accepted = 0
        var errors: [String: Int] = [:]
        let iterations = 30_000
        let start = ContinuousClock.now
        for iteration in 0..<iterations {
            var frames = originals[iteration % originals.count]
            for _ in 0..<mutator.int(1...4) { mutator.mutate(&frames) }
            let limits = iteration % 5 == 0 ? tight : .default
            do {
                let message = try WireCodec.decode(frames, limits: limits)
                accepted += 1
                #expect(WireCodec.encode(message) == frames, "accepted a non-canonical message")
            } catch {
                errors[Mirror(reflecting: error).children.first?.label ?? error.description, default: 0] += 1
            }
        }
        let elapsed = ContinuousClock.now - start
        print("fuzz: \(iterations) mutated messages in \(elapsed), \(accepted) accepted; errors by case: \(errors.sorted { $0.key < $1.key })")
        // The mutations must reach deep into the decoder, not just break the header: all but
        // four of ProtocolError's 28 cases.
        #expect(errors.count >= 24)
        #expect(accepted > 0)
    }

    /// Frames of random bytes behind a valid prefix of every kind.
    @Test func randomBodiesNeverTrap() {
        var random = RandomStream(seed: 0xB0D1)
        for iteration in 0..<10_000 {
            let kind = MessageKind.allCases[iteration % MessageKind.allCases.count]
            var header = WireCodec.magic + [UInt8(WireCodec.version), 0, kind.rawValue, UInt8(Int.random(in: 0...3, using: &random))]
            header += (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var frames = [header]
            for _ in 0..<Int.random(in: 0...9, using: &random) {
                frames.append((0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...3, using: &random) })
            }
            _ = try? WireCodec.decode(frames)
        }
    }
}
