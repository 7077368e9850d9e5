#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@preconcurrency import CMuJoCo
import Foundation

/// Why a MuJoCo model could not be loaded.
public struct MuJoCoModelError: Error, Equatable, CustomStringConvertible {
    /// The model's name (one of ``MuJoCoModel/builtInNames`` or the name given to
    /// ``MuJoCoModel/init(name:xml:)``).
    public var model: String
    /// What went wrong: MuJoCo's parser or compiler message, or an unknown name.
    public var message: String

    public init(model: String, message: String) {
        self.model = model
        self.message = message
    }

    public var description: String { "MuJoCo model '\(model)': \(message)" }
}

/// A compiled MuJoCo model (`mjModel`): read-only after loading, shared by every simulator of
/// its environment and safe to use from several threads at once (MuJoCo only reads a model
/// while stepping; each simulator owns its own ``MuJoCoData``).
///
/// The built-in models (`Sources/Simulators/Models/*.xml`) are compiled into the module as
/// text, compiled by MuJoCo on first use and kept for the life of the process:
/// ``named(_:)`` returns the same instance to every caller.
public final class MuJoCoModel: @unchecked Sendable {
    /// The model's name, e.g. `Hopper`.
    public let name: String
    /// Dimensions: generalized coordinates, degrees of freedom, actuators, activations.
    public let nq: Int, nv: Int, nu: Int, na: Int
    /// The simulation timestep in seconds (`opt.timestep`).
    public let timestep: Double
    /// The actuators' control ranges (`actuator_ctrlrange`).
    public let controlRange: [ClosedRange<Double>]

    // Immutable after init; only read (MuJoCo's functions take `const mjModel*`).
    private let pointer: UnsafeMutablePointer<mjModel>

    /// Compiles a model from MJCF text.
    ///
    /// The text is handed to MuJoCo through its virtual file system, so nothing touches the
    /// disk. Include files and assets are not supported (our models use none).
    ///
    /// Compile models before simulating on other threads: while MuJoCo 2.2.2 compiles, it
    /// swaps the process-wide error handler for its own, which throws a C++ exception (the
    /// simulators get their models when they are created, normally at start-up).
    ///
    /// - Throws: ``MuJoCoModelError`` with MuJoCo's message when the XML does not parse or
    ///   the model does not compile.
    public init(name: String, xml: String) throws(MuJoCoModelError) {
        MuJoCoEngine.installHandlers()
        let model = try MuJoCoEngine.compile(xml: xml, name: name)
        pointer = model
        self.name = name
        nq = Int(model.pointee.nq)
        nv = Int(model.pointee.nv)
        nu = Int(model.pointee.nu)
        na = Int(model.pointee.na)
        timestep = model.pointee.opt.timestep
        let ranges = model.pointee.actuator_ctrlrange!
        controlRange = (0..<Int(model.pointee.nu)).map { ranges[2 * $0]...ranges[2 * $0 + 1] }
    }

    deinit {
        mj_deleteModel(pointer)
    }

    /// Calls `body` with the model.
    ///
    /// - Warning: Do not let the pointer escape the closure, and do not write through it.
    @inline(__always)
    func withUnsafeModel<R, E: Error>(_ body: (UnsafePointer<mjModel>) throws(E) -> R) throws(E) -> R {
        try body(UnsafePointer(pointer))
    }

    // MARK: - The built-in models

    /// The names of the models compiled into this module.
    public static var builtInNames: [String] { MuJoCoModelDefinitions.all.map(\.name) }

    /// The MJCF text of the built-in model `name`, as compiled into the module.
    public static func embeddedXML(_ name: String) -> String? {
        MuJoCoModelDefinitions.all.first { $0.name == name }?.xml
    }

    /// The shared, compiled built-in model `name` (compiled on first use; thread-safe).
    ///
    /// - Throws: ``MuJoCoModelError`` if no built-in model has that name or it does not
    ///   compile.
    public static func named(_ name: String) throws(MuJoCoModelError) -> MuJoCoModel {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let model = cache[name] { return model }
        guard let definition = MuJoCoModelDefinitions.all.first(where: { $0.name == name }) else {
            throw MuJoCoModelError(
                model: name, message: "no such built-in model; known: \(builtInNames.joined(separator: ", "))")
        }
        let model = try MuJoCoModel(name: name, xml: definition.xml)
        cache[name] = model
        return model
    }

    /// A model compiled from user-supplied MJCF text (`trpo train --model FILE`), shared by
    /// every simulator built from the same text.
    ///
    /// - Throws: ``MuJoCoModelError`` with MuJoCo's message if the text does not compile.
    public static func custom(xml: String) throws(MuJoCoModelError) -> MuJoCoModel {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        let key = "custom:" + xml
        if let model = cache[key] { return model }
        let model = try MuJoCoModel(name: "custom model", xml: xml)
        cache[key] = model
        return model
    }

    /// A built-in model that must load: the simulators' models are part of the program and
    /// covered by tests, so a failure here is a build defect and stops the process.
    static func builtIn(_ name: String) -> MuJoCoModel {
        do {
            return try named(name)
        } catch {
            fatalError("\(error)")
        }
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [String: MuJoCoModel] = [:]  // guarded by cacheLock
}

/// Process-wide MuJoCo set-up: the error and warning handlers, and compilation.
enum MuJoCoEngine {
    /// The engine's version as a string, e.g. `2.2.2`.
    static var version: String {
        let v = Int(mj_version())
        return "\(v / 100).\(v / 10 % 10).\(v % 10)"
    }

    /// Installs MuJoCo's process-wide handlers once (idempotent and thread-safe).
    ///
    /// - Errors: MuJoCo 2.2.2 calls `mju_user_error` for fatal engine errors (for example an
    ///   exhausted stack) and, if the handler returns, carries on in the caller with invalid
    ///   data. Ours prints the message to standard error and exits the process with status 70
    ///   (`EX_SOFTWARE`); it never returns.
    /// - Warnings: the default handler prints them and appends them to `MUJOCO_LOG.TXT` in
    ///   the working directory. The warnings that matter (a NaN, infinity or huge value in the
    ///   state, a full contact or constraint buffer) are counted in `mjData.warning` too;
    ///   ``MuJoCoData`` reads those counters and the simulators end the episode with a
    ///   recorded reason, so the handler stays silent.
    static func installHandlers() {
        _ = handlersInstalled
    }

    private static let handlersInstalled: Void = {
        mju_user_error = { message in
            let text = message.map { String(cString: $0) } ?? "unknown error"
            let line = Array("trpo: fatal MuJoCo \(MuJoCoEngine.version) error: \(text)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }  // unbuffered stderr
            exit(70)
        }
        mju_user_warning = { _ in }
    }()

    /// Serializes compilation: MuJoCo's compiler swaps the process-wide handlers while it runs.
    private static let compileLock = NSLock()

    /// Compiles MJCF text through a one-file virtual file system.
    static func compile(xml: String, name: String) throws(MuJoCoModelError) -> UnsafeMutablePointer<mjModel> {
        compileLock.lock()
        defer { compileLock.unlock() }

        let fileName = "model.xml"
        let bytes = Array(xml.utf8)
        guard !bytes.isEmpty else { throw MuJoCoModelError(model: name, message: "empty XML") }
        // mjVFS holds 2000 file names of 1000 bytes: allocate it on the heap.
        let vfs = UnsafeMutablePointer<mjVFS>.allocate(capacity: 1)
        defer { vfs.deallocate() }
        mj_defaultVFS(vfs)
        defer { mj_deleteVFS(vfs) }
        guard mj_makeEmptyFileVFS(vfs, fileName, Int32(bytes.count)) == 0 else {
            throw MuJoCoModelError(model: name, message: "cannot create the in-memory file")
        }
        let index = Int(mj_findFileVFS(vfs, fileName))
        guard index >= 0 else { throw MuJoCoModelError(model: name, message: "in-memory file missing") }
        withUnsafeMutablePointer(to: &vfs.pointee.filedata) { files in
            files.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: index + 1) { files in
                bytes.withUnsafeBytes { files[index]!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
        }

        var error = [CChar](repeating: 0, count: 1000)
        let model = mj_loadXML(fileName, vfs, &error, Int32(error.count))
        guard let model else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw MuJoCoModelError(model: name, message: message.isEmpty ? "mj_loadXML failed" : message)
        }
        return model
    }
}
