@preconcurrency import CMuJoCo
import Core

/// A condition MuJoCo reported while stepping, read from `mjData.warning`.
///
/// The numerical ones matter most: when a position, velocity or acceleration is NaN,
/// infinite or larger than 1e10, MuJoCo 2.2.2 emits the warning, **silently resets the whole
/// `mjData` to the model's initial state** and carries on. A simulator must not pass that
/// off as a normal transition, so the locomotion simulators end the episode instead (see
/// ``TerminationReason``).
public struct MuJoCoWarning: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// NaN, infinity or a magnitude above 1e10 in `qpos` (`mjWARN_BADQPOS`).
        case badPosition
        /// The same in `qvel` (`mjWARN_BADQVEL`).
        case badVelocity
        /// The same in `qacc` (`mjWARN_BADQACC`).
        case badAcceleration
        /// The same in `ctrl` (`mjWARN_BADCTRL`).
        case badControl
        /// More contacts than `<size nconmax>` allows; some were dropped (`mjWARN_CONTACTFULL`).
        case contactBufferFull
        /// More constraint rows than `<size njmax>` allows; some were dropped (`mjWARN_CNSTRFULL`).
        case constraintBufferFull
        /// A (near) singular inertia matrix (`mjWARN_INERTIA`).
        case singularInertia
    }

    public var kind: Kind
    /// MuJoCo's detail for the warning (`lastinfo`): the offending coordinate for the `bad…`
    /// kinds, the buffer size for the `…Full` ones.
    public var info: Int

    public init(kind: Kind, info: Int) {
        self.kind = kind
        self.info = info
    }

    public var description: String {
        switch kind {
        case .badPosition: "NaN, Inf or huge value in qpos[\(info)]; MuJoCo reset the simulation"
        case .badVelocity: "NaN, Inf or huge value in qvel[\(info)]; MuJoCo reset the simulation"
        case .badAcceleration: "NaN, Inf or huge value in qacc[\(info)]; MuJoCo reset the simulation"
        case .badControl: "NaN, Inf or huge value in ctrl[\(info)]"
        case .contactBufferFull: "contact buffer full (nconmax \(info)); contacts were dropped"
        case .constraintBufferFull: "constraint buffer full (njmax \(info)); constraints were dropped"
        case .singularInertia: "singular inertia matrix"
        }
    }

    /// The warnings that are checked after every `mj_step`, with their `mjtWarning` index.
    /// (`mjWARN_VGEOMFULL` concerns rendering only.)
    fileprivate static let checked: [(index: Int, kind: Kind)] = [
        (Int(mjWARN_BADQPOS.rawValue), .badPosition),
        (Int(mjWARN_BADQVEL.rawValue), .badVelocity),
        (Int(mjWARN_BADQACC.rawValue), .badAcceleration),
        (Int(mjWARN_BADCTRL.rawValue), .badControl),
        (Int(mjWARN_CONTACTFULL.rawValue), .contactBufferFull),
        (Int(mjWARN_CNSTRFULL.rawValue), .constraintBufferFull),
        (Int(mjWARN_INERTIA.rawValue), .singularInertia),
    ]
}

/// One simulation's state (`mjData`) for a shared ``MuJoCoModel``; owned by one simulator and
/// used from one thread at a time.
///
/// `mjData` is a 41 KB struct: every access goes through the pointer, field by field, and the
/// pointer never leaves this type's scoped closures.
final class MuJoCoData {
    let model: MuJoCoModel
    private let data: UnsafeMutablePointer<mjData>
    private let nq: Int, nv: Int, nu: Int, na: Int

    init(model: MuJoCoModel) {
        self.model = model
        guard let data = model.withUnsafeModel({ mj_makeData($0) }) else {
            fatalError("MuJoCo could not allocate data for model '\(model.name)'")
        }
        self.data = data
        (nq, nv, nu, na) = (model.nq, model.nv, model.nu, model.na)
    }

    deinit {
        mj_deleteData(data)
    }

    /// Calls `body` with the model and this data.
    ///
    /// - Warning: Do not let the pointers escape the closure.
    @inline(__always)
    func withUnsafeModelAndData<R, E: Error>(
        _ body: (UnsafePointer<mjModel>, UnsafeMutablePointer<mjData>) throws(E) -> R
    ) throws(E) -> R {
        try model.withUnsafeModel { (m) throws(E) -> R in try body(m, data) }
    }

    // MARK: - Reading the state

    /// The simulation time in seconds.
    var time: Double { data.pointee.time }

    /// `qpos[index]`.
    @inline(__always)
    func position(_ index: Int) -> Double { data.pointee.qpos[index] }

    /// `qvel[index]`.
    @inline(__always)
    func velocity(_ index: Int) -> Double { data.pointee.qvel[index] }

    /// The number of contacts found by the last forward computation (`ncon`).
    var contactCount: Int { Int(data.pointee.ncon) }

    /// `qpos` followed by `qvel` (Gymnasium's `state_vector()`).
    var state: [Double] {
        let qpos = data.pointee.qpos!, qvel = data.pointee.qvel!
        return (0..<nq).map { qpos[$0] } + (0..<nv).map { qvel[$0] }
    }

    // MARK: - Setting the state

    /// Resets to the model's initial state (`mj_resetData`: `qpos0`, zero velocities,
    /// controls, time, warm start and warning counters), then lets `perturb` change `qpos`
    /// and `qvel` and computes the derived quantities (`mj_forward`), as Gymnasium's
    /// `reset()` followed by `set_state(qpos, qvel)` does.
    func reset(perturb: (_ qpos: UnsafeMutableBufferPointer<Double>, _ qvel: UnsafeMutableBufferPointer<Double>) -> Void) {
        withUnsafeModelAndData { m, d in
            mj_resetData(m, d)
            perturb(UnsafeMutableBufferPointer(start: d.pointee.qpos, count: nq),
                    UnsafeMutableBufferPointer(start: d.pointee.qvel, count: nv))
            mj_forward(m, d)
        }
    }

    /// Sets `qpos` and `qvel` from `state` (`nq + nv` finite values), after a reset.
    func setState(_ state: [Double]) throws(SimulatorError) {
        guard state.count == nq + nv else { throw .stateLength(expected: nq + nv, got: state.count) }
        guard state.allSatisfy(\.isFinite) else { throw .nonFiniteState }
        reset { qpos, qvel in
            for i in 0..<nq { qpos[i] = state[i] }
            for i in 0..<nv { qvel[i] = state[nq + i] }
        }
    }

    // MARK: - Stepping

    /// Sets the controls to the action rounded to float32, as Gymnasium's float32 action
    /// space holds it. (MuJoCo clamps them to the control range internally; `ctrl` keeps the
    /// given values.)
    @inline(__always)
    func setControls(_ action: UnsafeBufferPointer<Double>) {
        let ctrl = data.pointee.ctrl!
        for i in 0..<nu { ctrl[i] = Double(Float(action[i])) }
    }

    /// Advances `frames` timesteps (`mj_step` each), stopping early at the first warning.
    ///
    /// - Returns: The warning, or nil. After a numerical warning MuJoCo has reset the data to
    ///   the initial state; the caller must end the episode.
    @inline(__always)
    func step(frames: Int) -> MuJoCoWarning? {
        withUnsafeModelAndData { m, d in
            for _ in 0..<frames {
                mj_step(m, d)
                if let warning = Self.warning(in: d) { return warning }
            }
            return nil
        }
    }

    /// The first warning counted in `d.warning`, if any.
    @inline(__always)
    private static func warning(in d: UnsafeMutablePointer<mjData>) -> MuJoCoWarning? {
        withUnsafeBytes(of: &d.pointee.warning) { raw in
            let stats = raw.bindMemory(to: mjWarningStat.self)
            for (index, kind) in MuJoCoWarning.checked where stats[index].number > 0 {
                return MuJoCoWarning(kind: kind, info: Int(stats[index].lastinfo))
            }
            return nil
        }
    }

    /// Zeroes the warning counters.
    private func clearWarnings() {
        withUnsafeMutableBytes(of: &data.pointee.warning) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    // MARK: - Snapshots

    /// The number of values in a snapshot: `time`, `qpos`, `qvel`, `act`, `qacc_warmstart`
    /// and `ctrl`.
    var snapshotCount: Int { 1 + nq + nv + na + nv + nu }

    /// Everything the next `mj_step` reads besides the model: time, state, warm start and
    /// controls. Restoring it makes the continuation bit-identical. (The applied forces
    /// `qfrc_applied` and `xfrc_applied` are always zero here, and the models have no mocap
    /// bodies or user data.)
    func snapshotValues() -> [Double] {
        [Double](unsafeUninitializedCapacity: snapshotCount) { buffer, count in
            let d = data
            var k = 0
            func copy(_ source: UnsafeMutablePointer<Double>?, _ n: Int) {
                guard n > 0, let source else { return }
                (buffer.baseAddress! + k).update(from: source, count: n)
                k += n
            }
            buffer[0] = d.pointee.time
            k = 1
            copy(d.pointee.qpos, nq)
            copy(d.pointee.qvel, nv)
            copy(d.pointee.act, na)
            copy(d.pointee.qacc_warmstart, nv)
            copy(d.pointee.ctrl, nu)
            count = k
        }
    }

    /// Returns to values from ``snapshotValues()``. Only the arrays the next step reads are
    /// written (no `mj_resetData`, no `mj_forward`), so derived quantities such as body
    /// positions are stale until then; nothing here reads them.
    func restore(_ values: [Double]) {
        precondition(values.count == snapshotCount, "not a snapshot of a '\(model.name)' simulation")
        values.withUnsafeBufferPointer { buffer in
            let d = data
            var k = 1
            func copy(_ target: UnsafeMutablePointer<Double>?, _ n: Int) {
                guard n > 0, let target else { return }
                target.update(from: buffer.baseAddress! + k, count: n)
                k += n
            }
            d.pointee.time = buffer[0]
            copy(d.pointee.qpos, nq)
            copy(d.pointee.qvel, nv)
            copy(d.pointee.act, na)
            copy(d.pointee.qacc_warmstart, nv)
            copy(d.pointee.ctrl, nu)
        }
        clearWarnings()
    }
}
