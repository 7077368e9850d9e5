import Foundation

/// A seeded, splittable pseudo-random number generator.
///
/// Every random stream in a run is derived from the run seed and a path of stable
/// identifiers (worker id, environment index, episode number, vine branch, …), so that a run
/// is reproducible bit for bit and two consumers that ask for the same path get the same
/// numbers (common random numbers). The generator is xoshiro256** (Blackman & Vigna); its
/// 256-bit state is initialised by SplitMix64 from a hash of the seed and the path.
///
/// The type is a value: copying a stream forks it, and both copies then produce the same
/// sequence. Its whole state is ``state`` so it can be checkpointed and restored exactly.
public struct RandomStream: RandomNumberGenerator, Sendable, Hashable, Codable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Double?

    /// Creates the stream for `seed` and the identifier path `path`.
    ///
    /// Different paths give statistically independent streams; the same seed and path always
    /// give the same stream.
    public init(seed: UInt64, path: [UInt64] = []) {
        var h = RandomStream.splitMix(seed ^ 0x6A09_E667_F3BC_C908)
        for id in path {
            h = RandomStream.splitMix(h ^ RandomStream.splitMix(id &+ 0x9E37_79B9_7F4A_7C15))
        }
        var x = h
        func nextWord() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            return RandomStream.splitMix(x)
        }
        s0 = nextWord(); s1 = nextWord(); s2 = nextWord(); s3 = nextWord()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
        spareNormal = nil
    }

    /// Restores a stream from a value previously read from ``checkpointState``.
    public init?(checkpointState words: [UInt64]) {
        guard words.count == 5 else { return nil }
        s0 = words[0]; s1 = words[1]; s2 = words[2]; s3 = words[3]
        spareNormal = words[4] == UInt64.max ? nil : Double(bitPattern: words[4])
    }

    /// The complete state as five words (the last is the cached normal's bit pattern, or
    /// `UInt64.max` when none is cached); see ``init(checkpointState:)``.
    public var checkpointState: [UInt64] {
        [s0, s1, s2, s3, spareNormal.map(\.bitPattern) ?? UInt64.max]
    }

    /// A child stream for `id`, derived from this stream's current state without advancing it.
    public func derived(_ id: UInt64) -> RandomStream {
        RandomStream(seed: s0 ^ RandomStream.splitMix(s1 ^ s2 ^ s3), path: [id])
    }

    @inline(__always)
    static func splitMix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform deviate in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform deviate in [low, high).
    @inline(__always)
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// A standard normal deviate (Marsaglia's polar method; the second deviate of each pair
    /// is cached in the state).
    @inline(__always)
    public mutating func normal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = 2 * uniform() - 1
            let v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let scale = (-2 * log(s) / s).squareRoot()
                spareNormal = v * scale
                return u * scale
            }
        }
    }

    /// A uniform integer in `0..<count` (Lemire's unbiased method).
    @inline(__always)
    public mutating func index(below count: Int) -> Int {
        precondition(count > 0, "index(below:) needs a positive count")
        return Int(next(upperBound: UInt64(count)))
    }

    // Hashable/Codable over the checkpoint state only.
    public static func == (a: RandomStream, b: RandomStream) -> Bool {
        a.checkpointState == b.checkpointState
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(checkpointState) }
    public init(from decoder: Decoder) throws {
        let words = try [UInt64](from: decoder)
        guard let stream = RandomStream(checkpointState: words) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "a random stream state has 5 words, found \(words.count)"))
        }
        self = stream
    }
    public func encode(to encoder: Encoder) throws { try checkpointState.encode(to: encoder) }
}
