import Foundation
import Core
import Simulators

/// Something that draws a simulator's current state.
public protocol FrameRenderer: AnyObject {
    /// Frame size in pixels.
    var width: Int { get }
    var height: Int { get }
    /// Environment steps per second of simulated time, Gymnasium's `render_fps`: a video shows
    /// one frame every `stepsPerSecond / fps` steps to play at the simulation's own speed.
    var stepsPerSecond: Double { get }
    /// The current state as a frame of ``width`` × ``height`` pixels.
    func render() throws(RenderError) -> RGBImage
}

/// The classic-control environments drawn in Swift, no GL needed, after Gymnasium's own
/// pygame drawings (their colours, proportions and world bounds).
///
/// The drawing reads ``Simulator/state`` (Gymnasium's `env.unwrapped.state` layout), so the
/// simulator is only read, never stepped. The world rectangle is fitted to the frame with
/// equal scales on both axes.
public final class ClassicControlRenderer: FrameRenderer {
    public let width: Int
    public let height: Int
    public let stepsPerSecond: Double
    private let simulator: any Simulator
    private let scene: Scene

    private enum Scene {
        case cartPole, pendulum, acrobot
        case mountainCar(goal: Double)
    }

    /// The environments this renderer draws.
    public static let environmentIDs = [CartPole.environmentID, Pendulum.environmentID, Acrobot.environmentID,
                                        MountainCar.environmentID, MountainCarContinuous.environmentID]

    /// A renderer for `simulator`'s environment.
    /// - Throws: ``RenderError/unsupportedEnvironment(id:)`` for an id not in ``environmentIDs``.
    public init(simulator: any Simulator, width: Int, height: Int) throws(RenderError) {
        switch simulator.id {
        case CartPole.environmentID: (scene, stepsPerSecond) = (.cartPole, 50)
        case Pendulum.environmentID: (scene, stepsPerSecond) = (.pendulum, 30)
        case Acrobot.environmentID: (scene, stepsPerSecond) = (.acrobot, 15)
        case MountainCar.environmentID: (scene, stepsPerSecond) = (.mountainCar(goal: 0.5), 30)
        case MountainCarContinuous.environmentID: (scene, stepsPerSecond) = (.mountainCar(goal: 0.45), 30)
        default: throw .unsupportedEnvironment(id: simulator.id)
        }
        self.simulator = simulator
        self.width = width
        self.height = height
    }

    public func render() -> RGBImage {
        let state = simulator.state
        switch scene {
        case .cartPole: return drawCartPole(x: state[0], theta: state[2])
        case .pendulum: return drawPendulum(theta: state[0])
        case .acrobot: return drawAcrobot(theta1: state[0], theta2: state[1])
        case .mountainCar(let goal): return drawMountainCar(position: state[0], goal: goal)
        }
    }

    /// Track ±2.4 m; cart 0.4 × 0.24 m centred on the track; pole 1 m long, 0.08 m wide, hinged
    /// 0.06 m above the cart's centre, θ = 0 upright and positive to the right.
    private func drawCartPole(x: Double, theta: Double) -> RGBImage {
        var canvas = Canvas(width: width, height: height, xRange: -2.4...2.4, yRange: -0.8...2.4, background: .white)
        canvas.segment(Point(-2.4, 0), Point(2.4, 0), thickness: 0.01, .black)
        canvas.box(centre: Point(x, 0), width: 0.4, height: 0.24, .black)
        let axle = Point(x, 0.06)
        let tip = Point(x + sin(theta), 0.06 + cos(theta))
        canvas.segment(axle, tip, thickness: 0.08, RGB(202, 152, 101))
        canvas.disc(axle, radius: 0.04, RGB(129, 132, 203))
        return canvas.image
    }

    /// A 1 m rod of 0.2 m width about the origin, θ = 0 upright, positive counter-clockwise.
    private func drawPendulum(theta: Double) -> RGBImage {
        var canvas = Canvas(width: width, height: height, xRange: -2.2...2.2, yRange: -2.2...2.2, background: .white)
        let tip = Point(-sin(theta), cos(theta))
        let rod = RGB(204, 77, 77)
        canvas.segment(Point(0, 0), tip, thickness: 0.2, rod)
        canvas.disc(Point(0, 0), radius: 0.1, rod)
        canvas.disc(tip, radius: 0.1, rod)
        canvas.disc(Point(0, 0), radius: 0.05, .black)
        return canvas.image
    }

    /// Two 1 m links hanging from the origin (θ₁ = θ₂ = 0 straight down); the goal line at 1 m.
    private func drawAcrobot(theta1: Double, theta2: Double) -> RGBImage {
        var canvas = Canvas(width: width, height: height, xRange: -2.2...2.2, yRange: -2.2...2.2, background: .white)
        canvas.segment(Point(-2.2, 1), Point(2.2, 1), thickness: 0.01, .black)
        let elbow = Point(sin(theta1), -cos(theta1))
        let tip = Point(elbow.x + sin(theta1 + theta2), elbow.y - cos(theta1 + theta2))
        let link = RGB(0, 204, 204), joint = RGB(204, 204, 0)
        canvas.segment(Point(0, 0), elbow, thickness: 0.2, link)
        canvas.segment(elbow, tip, thickness: 0.2, link)
        canvas.disc(Point(0, 0), radius: 0.1, joint)
        canvas.disc(elbow, radius: 0.1, joint)
        return canvas.image
    }

    /// The hill `y = 0.45 sin(3x) + 0.55` for x in [−1.2, 0.6], a 0.12 × 0.06 car tilted by
    /// cos(3x) (as Gymnasium draws it) and the goal flag.
    private func drawMountainCar(position: Double, goal: Double) -> RGBImage {
        var canvas = Canvas(width: width, height: height, xRange: -1.2...0.6, yRange: 0...1.2, background: .white)
        func hill(_ x: Double) -> Double { 0.45 * sin(3 * x) + 0.55 }
        let xs = (0...100).map { -1.2 + 1.8 * Double($0) / 100 }
        for (a, b) in zip(xs, xs.dropFirst()) {
            canvas.segment(Point(a, hill(a)), Point(b, hill(b)), thickness: 0.006, .black)
        }
        let flagBase = Point(goal, hill(goal))
        canvas.segment(flagBase, Point(goal, flagBase.y + 0.15), thickness: 0.004, .black)
        canvas.fill([Point(goal, flagBase.y + 0.15), Point(goal, flagBase.y + 0.12), Point(goal + 0.075, flagBase.y + 0.135)],
                    RGB(204, 204, 0))
        let angle = cos(3 * position)
        let (c, s) = (cos(angle), sin(angle))
        func place(_ x: Double, _ y: Double) -> Point {
            Point(position + c * x - s * y, hill(position) + s * x + c * y)
        }
        let clearance = 0.03
        canvas.fill([place(-0.06, clearance), place(-0.06, clearance + 0.06), place(0.06, clearance + 0.06), place(0.06, clearance)],
                    .black)
        canvas.disc(place(0.03, clearance), radius: 0.024, RGB(128, 128, 128))
        canvas.disc(place(-0.03, clearance), radius: 0.024, RGB(128, 128, 128))
        return canvas.image
    }
}
