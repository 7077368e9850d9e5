@preconcurrency import CMuJoCo
import Foundation
import Core
import Simulators

/// Draws a locomotion simulator with MuJoCo's own renderer (`mjr_render`) into an offscreen
/// framebuffer of a ``HeadlessGLContext``, seen by a camera that tracks the torso from the
/// side (Gymnasium's default view: 20° above, 3 m away for Hopper, 4 m for the others).
///
/// The renderer keeps a private copy of the model whose visual fields it may change: the
/// offscreen buffer size, a brighter headlight, and colours for geoms left at MuJoCo's
/// default grey (floor blue, body tan, as in Gymnasium's assets). Each frame it adds a
/// checkerboard of 0.5 m tiles around the torso, so that progress along x is visible, and
/// paints pixels that show no geometry with a sky gradient.
///
/// The renderer keeps the context alive and makes it current on the calling thread before
/// each frame; the simulator is read, never stepped.
public final class MuJoCoRenderer: FrameRenderer {
    public let width: Int
    public let height: Int
    public let stepsPerSecond: Double
    private let simulator: LocomotionSimulator
    private let context: HeadlessGLContext
    private let model: UnsafeMutablePointer<mjModel>
    private let scene = UnsafeMutablePointer<mjvScene>.allocate(capacity: 1)
    private let camera = UnsafeMutablePointer<mjvCamera>.allocate(capacity: 1)
    private let options = UnsafeMutablePointer<mjvOption>.allocate(capacity: 1)
    private let gl = UnsafeMutablePointer<mjrContext>.allocate(capacity: 1)
    private var rgb: [UInt8]
    private var depth: [Float]

    /// Room in the scene for the model's geoms plus the floor tiles.
    private static let maxGeoms = 2000

    /// Prepares MuJoCo's GL resources for `simulator`'s model in `context`.
    /// - Throws: ``RenderError/noGLContext(reason:)`` when the context cannot be made current.
    public init(simulator: LocomotionSimulator, context: HeadlessGLContext, width: Int, height: Int) throws(RenderError) {
        try context.makeCurrent()
        self.simulator = simulator
        self.context = context
        self.width = width
        self.height = height
        stepsPerSecond = 1 / simulator.stepDuration
        rgb = [UInt8](repeating: 0, count: width * height * 3)
        depth = [Float](repeating: 0, count: width * height)
        model = simulator.withUnsafeMuJoCo { m, _ in mj_copyModel(nil, m)! }
        Self.restyle(model, width: width, height: height)

        mjv_defaultScene(scene)
        mjv_defaultCamera(camera)
        mjv_defaultOption(options)
        mjr_defaultContext(gl)
        mjv_makeScene(model, scene, Int32(Self.maxGeoms))
        mjr_makeContext(model, gl, Int32(mjFONTSCALE_100.rawValue))
        mjr_setBuffer(Int32(mjFB_OFFSCREEN.rawValue), gl)

        let torso = mj_name2id(model, Int32(mjOBJ_BODY.rawValue), "torso")
        camera.pointee.type = Int32(mjCAMERA_TRACKING.rawValue)
        camera.pointee.trackbodyid = torso >= 0 ? torso : 1
        camera.pointee.distance = simulator.id == Hopper.environmentID ? 3 : 4
        camera.pointee.elevation = -20
        camera.pointee.azimuth = 90
    }

    deinit {
        try? context.makeCurrent()
        mjr_freeContext(gl)
        mjv_freeScene(scene)
        mj_deleteModel(model)
        scene.deallocate()
        camera.deallocate()
        options.deallocate()
        gl.deallocate()
    }

    /// Visual settings of the private model copy (nothing here changes the dynamics).
    private static func restyle(_ m: UnsafeMutablePointer<mjModel>, width: Int, height: Int) {
        m.pointee.vis.global.offwidth = Int32(width)
        m.pointee.vis.global.offheight = Int32(height)
        m.pointee.vis.headlight.ambient = (0.35, 0.35, 0.35)
        m.pointee.vis.headlight.diffuse = (0.65, 0.65, 0.65)
        m.pointee.vis.headlight.specular = (0.2, 0.2, 0.2)
        let rgba = m.pointee.geom_rgba!
        for g in 0..<Int(m.pointee.ngeom) {
            let isDefaultGrey = (0..<4).allSatisfy { rgba[4 * g + $0] == ($0 == 3 ? 1 : 0.5) }
            guard isDefaultGrey else { continue }
            let colour: [Float] = m.pointee.geom_type[g] == Int32(mjGEOM_PLANE.rawValue) ? Self.floor : Self.body
            for k in 0..<4 { rgba[4 * g + k] = colour[k] }
        }
    }

    private static let floor: [Float] = [0.10, 0.20, 0.30, 1]
    private static let tile: [Float] = [0.20, 0.30, 0.40, 1]
    private static let body: [Float] = [0.80, 0.60, 0.40, 1]

    public func render() throws(RenderError) -> RGBImage {
        try context.makeCurrent()
        simulator.withUnsafeMuJoCo { _, data in
            // A tracking camera moves its look-at point only part of the way towards the body's
            // centre of mass per update; placing it there makes each frame a function of the state.
            let com = data.pointee.subtree_com + 3 * Int(camera.pointee.trackbodyid)
            camera.pointee.lookat = (com[0], com[1], com[2])
            mjv_updateScene(model, data, options, nil, camera, Int32(mjCAT_ALL.rawValue), scene)
            addFloorTiles(around: com[0])
        }
        let viewport = mjrRect(left: 0, bottom: 0, width: Int32(width), height: Int32(height))
        mjr_render(viewport, scene, gl)
        rgb.withUnsafeMutableBufferPointer { rgb in
            depth.withUnsafeMutableBufferPointer { depth in
                mjr_readPixels(rgb.baseAddress, depth.baseAddress, viewport, gl)
            }
        }
        return flippedWithSky()
    }

    /// Light 0.5 m tiles on every other square of the floor within ±6 m of `x` along the track
    /// and ±2 m across, 1 mm above the plane.
    private func addFloorTiles(around x: Double) {
        let size: [mjtNum] = [0.25, 0.25, 0.001]
        let identity: [mjtNum] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        let first = Int((x / 0.5).rounded(.down)) - 12
        for i in first...(first + 24) {
            for j in -4..<4 where (i + j) & 1 == 0 {
                let n = Int(scene.pointee.ngeom)
                guard n < Int(scene.pointee.maxgeom) else { return }
                let position: [mjtNum] = [(Double(i) + 0.5) * 0.5, (Double(j) + 0.5) * 0.5, 0.001]
                mjv_initGeom(scene.pointee.geoms + n, Int32(mjGEOM_BOX.rawValue), size, position, identity, Self.tile)
                scene.pointee.geoms[n].category = Int32(mjCAT_DECOR.rawValue)
                scene.pointee.ngeom += 1
            }
        }
    }

    /// The frame top row first (OpenGL's rows start at the bottom), with background pixels
    /// (depth 1: nothing drawn) painted in a vertical sky gradient.
    private func flippedWithSky() -> RGBImage {
        var image = RGBImage(width: width, height: height, background: .black)
        for row in 0..<height {
            let source = height - 1 - row
            let t = Double(row) / Double(max(height - 1, 1))
            let sky = RGB(UInt8(102 + 80 * t), UInt8(153 + 50 * t), UInt8(204 + 20 * t))
            for column in 0..<width {
                let i = source * width + column
                image[column, row] = depth[i] >= 1 ? sky : RGB(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2])
            }
        }
        return image
    }
}
