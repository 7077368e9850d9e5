/// An 8-bit sRGB colour.
public struct RGB: Sendable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        (self.r, self.g, self.b) = (r, g, b)
    }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
}

/// A frame: `height` rows of `width` pixels, top row first, three bytes (R, G, B) per pixel,
/// the layout ffmpeg's `rawvideo` `rgb24` input reads.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height × 3` bytes, row-major from the top-left corner.
    public var pixels: [UInt8]

    /// A frame filled with `background`.
    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width > 0 && height > 0, "an image needs at least one pixel")
        self.width = width
        self.height = height
        pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
            for i in 0..<(width * height) {
                buffer[3 * i] = background.r
                buffer[3 * i + 1] = background.g
                buffer[3 * i + 2] = background.b
            }
            count = width * height * 3
        }
    }

    /// A frame over existing bytes.
    /// - Precondition: `pixels.count == width × height × 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel in column `x`, row `y` (row 0 at the top).
    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = 3 * (y * width + x)
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// The number of distinct colours (a black or blank frame has one).
    public var distinctColours: Int {
        var seen = Set<UInt32>()
        for i in stride(from: 0, to: pixels.count, by: 3) {
            seen.insert(UInt32(pixels[i]) << 16 | UInt32(pixels[i + 1]) << 8 | UInt32(pixels[i + 2]))
        }
        return seen.count
    }

    /// The fraction of pixels for which `predicate` holds, in [0, 1].
    public func fraction(where predicate: (RGB) -> Bool) -> Double {
        var hits = 0
        for i in stride(from: 0, to: pixels.count, by: 3) where predicate(RGB(pixels[i], pixels[i + 1], pixels[i + 2])) {
            hits += 1
        }
        return Double(hits) / Double(width * height)
    }
}
