import Core
import Foundation
import ZMQ

/// Why a CURVE key file or allow-list directory could not be used. ``description`` names the
/// file and says how to fix it.
public struct KeyFileError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The file or directory cannot be read (the system's reason).
        case unreadable(String)
        /// The file does not hold exactly one 40-character Z85 key line (what was found).
        case malformed(String)
        /// A secret key file grants permissions to its group or others (the file's mode).
        case permissionsTooOpen(mode: UInt32)
        /// `trpo keys generate` would overwrite this file.
        case exists
        /// The allow-list directory holds no `*.pub` file.
        case noPublicKeys
        /// A key name that is not a plain file name.
        case invalidName
        /// Writing failed (the system's reason).
        case unwritable(String)
    }

    /// The file or directory concerned.
    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .unreadable(let why): "cannot read \(path): \(why)"
        case .malformed(let what): "\(path) is not a CURVE key file: \(what) (expected one line of 40 Z85 characters; see docs/security.md)"
        case .permissionsTooOpen(let mode):
            "the secret key file \(path) is accessible to other users (mode \(String(mode & 0o777, radix: 8))); run: chmod 600 \(path)"
        case .exists: "\(path) exists; use --force to replace it"
        case .noPublicKeys: "\(path) holds no *.pub files: no worker could connect (copy the workers' NAME.pub files there)"
        case .invalidName: "'\(path)' is not a usable key name (use letters, digits, '-', '_' or '.', not starting with '.')"
        case .unwritable(let why): "cannot write \(path): \(why)"
        }
    }
}

/// CURVE key files, as `trpo keys generate` writes them and `trpo learner` / `trpo worker` read
/// them (docs/security.md).
///
/// - `NAME.key` holds the secret key, mode 0600. The public key is derived from it, so this
///   file alone identifies a worker or a learner.
/// - `NAME.pub` holds the public key, to hand to the other side.
///
/// Both are text: blank lines and comment lines (starting with `#`) are ignored, and exactly
/// one line remains, the key as 40 Z85 characters (ZeroMQ RFC 32), the format of
/// `zmq_curve_keypair`. (`#` is a Z85 digit, but never the first of a group of five: it is
/// digit 84, and 2³² − 1 is below 83 · 85⁴, so no key line starts with it.)
public enum CurveKeyFile {
    /// Reads a secret key file and derives its public key.
    ///
    /// - Throws: ``KeyFileError``: the file is unreadable or malformed, or its mode grants any
    ///   permission to group or others (group read is allowed on a root-owned file read by
    ///   another user) (``KeyFileError/Reason/permissionsTooOpen(mode:)``).
    public static func readSecret(_ path: String) throws(KeyFileError) -> CurveKeyPair {
        var status = stat()
        guard stat(path, &status) == 0 else { throw KeyFileError(path: path, reason: .unreadable(String(cString: strerror(errno)))) }
        guard status.st_mode & forbiddenModeBits(owner: status.st_uid) == 0 else {
            throw KeyFileError(path: path, reason: .permissionsTooOpen(mode: UInt32(status.st_mode)))
        }
        let secret = try readKey(path)
        do {
            return CurveKeyPair(publicKey: try CurveKeyPair.publicKey(fromSecret: secret), secretKey: secret)
        } catch {
            throw KeyFileError(path: path, reason: .malformed("\(error)"))
        }
    }

    /// The mode bits a secret key file owned by `owner` must not have: any group or other
    /// permission when the file belongs to the running user (ssh's rule), and anything beyond
    /// group read when it belongs to root and is read by another user (PostgreSQL's rule for
    /// root-owned keys). The second case is how Kubernetes mounts a Secret for a pod with an
    /// `fsGroup`: owned by root, group-readable by the pod's group.
    private static func forbiddenModeBits(owner: uid_t) -> mode_t {
        owner == 0 && geteuid() != 0 ? 0o037 : 0o077
    }

    /// Reads a public key file.
    ///
    /// - Throws: ``KeyFileError`` if the file is unreadable or malformed.
    public static func readPublic(_ path: String) throws(KeyFileError) -> CurveKey {
        try readKey(path)
    }

    /// The public keys of every `*.pub` file in `directory`, each with its file's name
    /// without the extension.
    ///
    /// - Throws: ``KeyFileError`` if the directory is unreadable, holds no `*.pub` file, or
    ///   one of them is malformed.
    public static func readAllowList(directory: String) throws(KeyFileError) -> [CurveKey: String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pub") }.sorted()
        } catch {
            throw KeyFileError(path: directory, reason: .unreadable((error as NSError).localizedFailureReason ?? "not a readable directory"))
        }
        guard !names.isEmpty else { throw KeyFileError(path: directory, reason: .noPublicKeys) }
        var keys: [CurveKey: String] = [:]
        for name in names {
            let key = try readPublic(URL(fileURLWithPath: directory).appendingPathComponent(name).path)
            if keys[key] == nil { keys[key] = String(name.dropLast(4)) }
        }
        return keys
    }

    /// The files ``generate(directory:name:force:)`` writes.
    public struct Generated: Sendable {
        public var secretFile: String
        public var publicFile: String
        public var keys: CurveKeyPair
    }

    /// Generates a key pair and writes `directory/name.key` (mode 0600) and `directory/name.pub`,
    /// each atomically, creating `directory` (mode 0700) if needed.
    ///
    /// - Parameter force: Replace existing files; without it an existing file is an error and
    ///   nothing is written.
    /// - Throws: ``KeyFileError``: an invalid name, an existing file, or a write failure.
    public static func generate(directory: String, name: String, force: Bool) throws(KeyFileError) -> Generated {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            throw KeyFileError(path: name, reason: .invalidName)
        }
        let base = URL(fileURLWithPath: directory)
        let secretURL = base.appendingPathComponent("\(name).key"), publicURL = base.appendingPathComponent("\(name).pub")
        if !force {
            for url in [secretURL, publicURL] where FileManager.default.fileExists(atPath: url.path) {
                throw KeyFileError(path: url.path, reason: .exists)
            }
        }
        let keys: CurveKeyPair
        do {
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            keys = try CurveKeyPair.generate()
        } catch {
            throw KeyFileError(path: directory, reason: .unwritable("\(error)"))
        }
        let secretText = """
            # trpo CURVE secret key '\(name)' (ZeroMQ Z85). Keep it private (mode 0600).
            # Its public key, to give to the other side, is in \(name).pub:
            #   \(keys.publicKey.z85)
            \(keys.secretKey.z85)

            """
        let publicText = """
            # trpo CURVE public key '\(name)' (ZeroMQ Z85).
            \(keys.publicKey.z85)

            """
        do {
            try AtomicFile.write(Data(secretText.utf8), to: secretURL, permissions: 0o600)
            try AtomicFile.write(Data(publicText.utf8), to: publicURL, permissions: 0o644)
        } catch {
            throw KeyFileError(path: error.path, reason: .unwritable(String(cString: strerror(error.code))))
        }
        return Generated(secretFile: secretURL.path, publicFile: publicURL.path, keys: keys)
    }

    /// The one key in a key file.
    private static func readKey(_ path: String) throws(KeyFileError) -> CurveKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError(path: path, reason: .unreadable(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))
        }
        guard let text = String(data: data, encoding: .utf8) else { throw KeyFileError(path: path, reason: .malformed("not UTF-8 text")) }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard lines.count == 1 else {
            throw KeyFileError(path: path, reason: .malformed("\(lines.count) key lines"))
        }
        do {
            return try CurveKey(z85: lines[0])
        } catch {
            let what = lines[0].utf8.count == CurveKey.z85Count ? "characters outside the Z85 alphabet" : "a line of \(lines[0].utf8.count) characters"
            throw KeyFileError(path: path, reason: .malformed(what))
        }
    }
}
