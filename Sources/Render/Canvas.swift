import Foundation

/// A 2-D point in world units (metres, or the environment's own units).
public struct Point: Sendable, Hashable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { (self.x, self.y) = (x, y) }
}

/// Draws filled shapes given in world coordinates onto an ``RGBImage``, without antialiasing.
///
/// The world rectangle `xRange × yRange` is scaled uniformly (the same pixels per unit on both
/// axes) to fit the image and centred; y points up in the world and down in the image.
/// A pixel is painted when its centre lies inside the shape.
struct Canvas {
    private(set) var image: RGBImage
    /// Pixels per world unit.
    let scale: Double
    private let originX: Double, originY: Double

    init(width: Int, height: Int, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, background: RGB) {
        image = RGBImage(width: width, height: height, background: background)
        let worldWidth = xRange.upperBound - xRange.lowerBound
        let worldHeight = yRange.upperBound - yRange.lowerBound
        scale = min(Double(width) / worldWidth, Double(height) / worldHeight)
        originX = (Double(width) - worldWidth * scale) / 2 - xRange.lowerBound * scale
        originY = (Double(height) - worldHeight * scale) / 2 + yRange.upperBound * scale
    }

    /// The image position (pixels, y down) of a world point.
    func pixel(_ p: Point) -> (x: Double, y: Double) {
        (originX + p.x * scale, originY - p.y * scale)
    }

    /// Fills a polygon (even-odd rule; any vertex order).
    mutating func fill(_ polygon: [Point], _ colour: RGB) {
        guard polygon.count >= 3 else { return }
        let vertices = polygon.map(pixel)
        let top = max(0, Int((vertices.map(\.y).min()! - 0.5).rounded(.up)))
        let bottom = min(image.height - 1, Int((vertices.map(\.y).max()! - 0.5).rounded(.down)))
        guard top <= bottom else { return }
        var crossings: [Double] = []
        for row in top...bottom {
            let y = Double(row) + 0.5
            crossings.removeAll(keepingCapacity: true)
            for i in vertices.indices {
                let a = vertices[i], b = vertices[(i + 1) % vertices.count]
                if (a.y <= y) != (b.y <= y) {
                    crossings.append(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x))
                }
            }
            crossings.sort()
            for pair in stride(from: 0, to: crossings.count - 1, by: 2) {
                let first = max(0, Int((crossings[pair] - 0.5).rounded(.up)))
                let last = min(image.width - 1, Int((crossings[pair + 1] - 0.5).rounded(.down)))
                if first <= last { for column in first...last { image[column, row] = colour } }
            }
        }
    }

    /// Fills a disc of `radius` world units.
    mutating func disc(_ centre: Point, radius: Double, _ colour: RGB) {
        fill((0..<32).map { k in
            let angle = Double(k) * 2 * .pi / 32
            return Point(centre.x + radius * cos(angle), centre.y + radius * sin(angle))
        }, colour)
    }

    /// Fills the rectangle of `thickness` world units around the segment from `a` to `b`.
    mutating func segment(_ a: Point, _ b: Point, thickness: Double, _ colour: RGB) {
        let dx = b.x - a.x, dy = b.y - a.y
        let length = (dx * dx + dy * dy).squareRoot()
        guard length > 0 else { return }
        let nx = -dy / length * thickness / 2, ny = dx / length * thickness / 2
        fill([Point(a.x + nx, a.y + ny), Point(b.x + nx, b.y + ny), Point(b.x - nx, b.y - ny), Point(a.x - nx, a.y - ny)], colour)
    }

    /// A rectangle of `size` world units centred at `centre`, turned by `angle` radians
    /// counter-clockwise.
    mutating func box(centre: Point, width: Double, height: Double, angle: Double = 0, _ colour: RGB) {
        let (c, s) = (cos(angle), sin(angle))
        let corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
        fill(corners.map { Point(centre.x + c * $0.0 - s * $0.1, centre.y + s * $0.0 + c * $0.1) }, colour)
    }
}
