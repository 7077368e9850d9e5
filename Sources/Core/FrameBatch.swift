/// A batch of uint8 images, one per row, each `shape.count` pixels channels-last
/// (``ImageShape``): stacked grey Atari frames as the emulator gives them. A
/// ``ConvolutionalNetwork`` reads pixel `p` as `p / 255` ∈ [0, 1] (no running standardisation),
/// while gathering patches, so a batch of 84×84×4 frames costs 28 KB per row, not the 226 KB
/// of the same values in `Double`.
public struct FrameBatch: Sendable, Equatable {
    public let shape: ImageShape
    public let rows: Int
    /// `rows × shape.count` pixels, row-major.
    public let pixels: [UInt8]

    /// - Precondition: `pixels.count == rows * shape.count`.
    public init(shape: ImageShape, rows: Int, pixels: [UInt8]) {
        precondition(pixels.count == rows * shape.count, "frame batch has \(pixels.count) pixels, expected \(rows)×\(shape.count)")
        self.shape = shape
        self.rows = rows
        self.pixels = pixels
    }

    /// The frames at `indices`, in that order.
    public func gatheringRows(_ indices: [Int]) -> FrameBatch {
        let width = shape.count
        var gathered = [UInt8]()
        gathered.reserveCapacity(indices.count * width)
        for i in indices { gathered.append(contentsOf: pixels[(i * width)..<((i + 1) * width)]) }
        return FrameBatch(shape: shape, rows: indices.count, pixels: gathered)
    }
}
