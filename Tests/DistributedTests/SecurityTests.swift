import Foundation
import Testing
@testable import Transport
import ZMQ

/// CURVE between real learner and worker processes: key files, the allow-list, refusals and
/// the warning for exposed plaintext endpoints.
@Suite(.serialized) struct SecurityTests {
    typealias Child = DistributedTests.Child

    /// Runs `trpo arguments` to completion (at most `seconds`); returns its status and output.
    static func trpo(_ arguments: [String], in root: URL, seconds: Double = 30) throws -> (status: Int32?, output: String) {
        let child = try Child(arguments, log: root.appendingPathComponent("cmd-\(UInt32.random(in: 0...UInt32.max)).log"))
        let status = child.wait(seconds: seconds)
        return (status, child.output)
    }

    /// The mode bits of `path`.
    static func mode(_ path: String) -> mode_t {
        var status = stat()
        stat(path, &status)
        return status.st_mode & 0o777
    }

    /// `trpo keys generate` for each name into `directory`; returns the directory.
    @discardableResult
    static func generateKeys(_ names: [String], in directory: URL, root: URL) throws -> URL {
        for name in names {
            let (status, output) = try trpo(["keys", "generate", "--out", directory.path, "--name", name], in: root)
            #expect(status == 0, "\(output)")
        }
        return directory
    }

    @Test func keysGenerateWritesAPrivateSecretAndItsPublicKey() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("new/keys")  // created, with its parent
        try Self.generateKeys(["worker-1"], in: directory, root: root)
        let secretFile = directory.appendingPathComponent("worker-1.key").path
        let publicFile = directory.appendingPathComponent("worker-1.pub").path
        #expect(Self.mode(secretFile) == 0o600)
        #expect(Self.mode(directory.path) == 0o700)
        // The files are Z85 text with comments; the secret determines the public key.
        let pair = try CurveKeyFile.readSecret(secretFile)
        #expect(try CurveKeyFile.readPublic(publicFile) == pair.publicKey)
        let keyLine = try #require(try String(contentsOfFile: secretFile, encoding: .utf8).split(separator: "\n").last)
        #expect(keyLine.count == 40)
        #expect(try CurveKey(z85: String(keyLine)) == pair.secretKey)
        #expect(try CurveKey(z85: pair.secretKey.z85) == pair.secretKey)

        // No overwriting without --force.
        let before = try String(contentsOfFile: secretFile, encoding: .utf8)
        let refused = try Self.trpo(["keys", "generate", "--out", directory.path, "--name", "worker-1"], in: root)
        #expect(refused.status == 2)
        #expect(refused.output.contains("worker-1.key exists; use --force to replace it"), "\(refused.output)")
        #expect(try String(contentsOfFile: secretFile, encoding: .utf8) == before)
        let forced = try Self.trpo(["keys", "generate", "--out", directory.path, "--name", "worker-1", "--force"], in: root)
        #expect(forced.status == 0)
        #expect(try CurveKeyFile.readSecret(secretFile) != pair)
        #expect(Self.mode(secretFile) == 0o600)

        // Comments, blank lines, spaces and CRLF around the key are fine.
        let handWritten = directory.appendingPathComponent("hand.key").path
        FileManager.default.createFile(atPath: handWritten, contents: Data("#comment\n  # another\n\n  \(pair.secretKey.z85)  \r\n".utf8),
                                       attributes: [.posixPermissions: 0o600])
        #expect(try CurveKeyFile.readSecret(handWritten) == pair)

        let badName = try Self.trpo(["keys", "generate", "--out", directory.path, "--name", "../escape"], in: root)
        #expect(badName.status == 2 && badName.output.contains("not a usable key name"), "\(badName.output)")
    }

    /// A Kubernetes Secret mounted for a pod with an fsGroup: owned by root, group-readable by
    /// the pod's group, read by another user. Group read is accepted there; other read is not.
    /// Needs root (to make a file owned by root and run trpo as another user).
    @Test func rootOwnedGroupReadableSecretsAreAcceptedForOtherUsers() throws {
        guard geteuid() == 0 else {
            print("SecurityTests: skipped the root-owned key test (needs root to run trpo as another user)")
            return
        }
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        chmod(root.path, 0o755)
        try Self.generateKeys(["learner"], in: root.appendingPathComponent("keys"), root: root)
        let keys = root.appendingPathComponent("keys")
        chmod(keys.path, 0o755)
        let secret = keys.appendingPathComponent("learner.key").path
        let nobody: gid_t = 65534
        chown(secret, 0, nobody)
        let empty = root.appendingPathComponent("empty-allow")  // read after the secret: its error shows the secret passed
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", DistributedTests.executable.path,
                        "learner", "--bind", "tcp://127.0.0.1:\(DistributedTests.freePort())", "--env", "CartPole-v1",
                        "--out", root.appendingPathComponent("run").path, "--curve-secret", secret, "--allow-workers", empty.path]
        func run() throws -> String {
            let child = try Child(asNobody, log: root.appendingPathComponent("nobody-\(UInt32.random(in: 0...UInt32.max)).log"),
                                  executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
            #expect(child.wait(seconds: 30) == 2)
            return child.output
        }
        chmod(secret, 0o440)
        var output = try run()
        #expect(output.contains("holds no *.pub files"), "\(output)")
        #expect(!output.contains("chmod 600"), "\(output)")
        chmod(secret, 0o444)
        output = try run()
        #expect(output.contains("run: chmod 600 \(secret)"), "\(output)")
    }

    @Test func looseMalformedOrHalfGivenKeysAreRefusedClearly() throws {
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let keys = root.appendingPathComponent("keys")
        try Self.generateKeys(["learner", "w0"], in: keys, root: root)
        let allow = root.appendingPathComponent("allow")
        try FileManager.default.createDirectory(at: allow, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: keys.appendingPathComponent("w0.pub"), to: allow.appendingPathComponent("w0.pub"))
        let secret = keys.appendingPathComponent("learner.key").path
        let learner = ["learner", "--bind", "tcp://127.0.0.1:\(DistributedTests.freePort())", "--env", "CartPole-v1",
                       "--out", root.appendingPathComponent("run").path]

        // A secret key readable by the group.
        chmod(secret, 0o640)
        var result = try Self.trpo(learner + ["--curve-secret", secret, "--allow-workers", allow.path], in: root)
        #expect(result.status == 2)
        #expect(result.output.contains("run: chmod 600 \(secret)"), "\(result.output)")
        chmod(secret, 0o600)

        // Malformed files: a short key, a key with a character outside Z85, a broken .pub.
        let bad = keys.appendingPathComponent("bad.key").path
        for (content, complaint) in [("# comment\nshort\n", "a line of 5 characters"),
                                     (String(repeating: "\"", count: 40), "characters outside the Z85 alphabet"),
                                     ("", "0 key lines")] {
            FileManager.default.createFile(atPath: bad, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600])
            result = try Self.trpo(learner + ["--curve-secret", bad, "--allow-workers", allow.path], in: root)
            #expect(result.status == 2)
            #expect(result.output.contains("\(bad) is not a CURVE key file: \(complaint)"), "\(result.output)")
        }
        try "not a key".write(to: allow.appendingPathComponent("broken.pub"), atomically: true, encoding: .utf8)
        result = try Self.trpo(learner + ["--curve-secret", secret, "--allow-workers", allow.path], in: root)
        #expect(result.status == 2 && result.output.contains("broken.pub is not a CURVE key file"), "\(result.output)")

        // The options come in pairs.
        result = try Self.trpo(learner + ["--curve-secret", secret], in: root)
        #expect(result.status == 64 && result.output.contains("--curve-secret and --allow-workers go together"), "\(result.output)")
        result = try Self.trpo(["worker", "--connect", "tcp://127.0.0.1:1", "--learner-public", keys.appendingPathComponent("learner.pub").path], in: root)
        #expect(result.status == 64 && result.output.contains("--curve-secret and --learner-public go together"), "\(result.output)")
    }

    @Test func curveLearnerTrainsItsWorkerAndRefusesStrangersAndPlaintext() throws {
        let start = Date()
        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let keys = try Self.generateKeys(["learner", "stranger"], in: root.appendingPathComponent("keys"), root: root)
        let allowed = try Self.generateKeys(["w0"], in: root.appendingPathComponent("workers"), root: root)
        let endpoint = "tcp://127.0.0.1:\(DistributedTests.freePort())"
        let run = root.appendingPathComponent("run")
        let learnerPublic = keys.appendingPathComponent("learner.pub").path
        let learner = try Child(["learner", "--bind", endpoint, "--env", "CartPole-v1", "--steps", "30720", "--batch-steps", "2048",
                                 "--curve-secret", keys.appendingPathComponent("learner.key").path, "--allow-workers", allowed.path,
                                 "--out", run.path], log: root.appendingPathComponent("learner.log"))
        let stranger = try Child(["worker", "--connect", endpoint, "--worker-id", "1", "--learner-timeout", "3",
                                  "--curve-secret", keys.appendingPathComponent("stranger.key").path, "--learner-public", learnerPublic],
                                 log: root.appendingPathComponent("stranger.log"))
        let plaintext = try Child(["worker", "--connect", endpoint, "--worker-id", "2", "--learner-timeout", "3"],
                                  log: root.appendingPathComponent("plaintext.log"))
        // Refused workers say why, get no parameters, and give up after their learner timeout.
        #expect(stranger.wait(seconds: 30) == 2)
        #expect(stranger.output.contains("the learner refused this worker's key (not on its allow-list)"), "\(stranger.output)")
        #expect(plaintext.wait(seconds: 30) == 2)
        // The allowed worker starts once both were refused, so every row of the run, the
        // last included, counts their refusals (on a loaded machine the run could otherwise
        // finish before a slow-starting stranger knocks).
        let worker = try Child(["worker", "--connect", endpoint, "--worker-id", "0",
                                "--curve-secret", allowed.appendingPathComponent("w0.key").path, "--learner-public", learnerPublic],
                               log: root.appendingPathComponent("w0.log"))
        // Whichever end notices the mismatch first closes the connection: the worker hears either.
        #expect(plaintext.output.contains("the learner requires CURVE and refused this plaintext worker")
                || plaintext.output.contains("as a learner that requires CURVE does"), "\(plaintext.output)")
        for refused in [stranger, plaintext] { #expect(!refused.output.contains("collecting")) }

        #expect(learner.wait(seconds: 180) == 0, "\(learner.output.suffix(2000))")
        #expect(worker.wait(seconds: 10) == 0, "\(worker.output.suffix(1000))")
        let rows = DistributedTests.progressRows(run)
        #expect(rows.count == 15)
        let returns = rows.compactMap { Double($0["episode_return_mean"] ?? "") }
        #expect((returns.max() ?? 0) > 2 * (returns.first ?? .infinity), "returns \(returns)")
        let strangerKey = try CurveKeyFile.readSecret(keys.appendingPathComponent("stranger.key").path).publicKey.z85
        #expect(learner.output.contains("refused a connection from 127.0.0.1: CURVE key \(strangerKey) is not on the allow-list"))
        // Whichever end notices the mismatch first closes the connection.
        #expect(learner.output.contains("security mechanism mismatch") || learner.output.contains("closed during the handshake"))
        #expect(!learner.output.contains("worker 1 joined") && !learner.output.contains("worker 2 joined"))
        let refusedCount = Int(rows.last?["refused_connections"] ?? "") ?? 0
        #expect(refusedCount >= 2, "\(learner.output.suffix(2000))")
        let summary = learner.output.components(separatedBy: "CURVE: ").last?.split(separator: " ").first.flatMap { Int($0) }
        #expect((summary ?? -1) >= refusedCount, "\(learner.output.suffix(500))")
        print("curve end-to-end: \(String(format: "%.1f", Date().timeIntervalSince(start))) s, \(refusedCount) refusals")
    }

    @Test func exposedPlaintextEndpointsAreWarnedAbout() throws {
        #expect(isLocalOnly("ipc:///tmp/x.sock") && isLocalOnly("inproc://x"))
        #expect(isLocalOnly("tcp://127.0.0.1:5555") && isLocalOnly("tcp://127.8.9.10:1") && isLocalOnly("tcp://localhost:5555"))
        #expect(isLocalOnly("tcp://[::1]:5555") && isLocalOnly("tcp://::1:5555"))
        for exposed in ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://eth0:5555", "tcp://10.0.0.1:5555", "tcp://[::]:5555",
                        "tcp://128.0.0.1:1", "tcp://127.0.0:1", "pgm://eth0;239.192.1.1:5555"] {
            #expect(!isLocalOnly(exposed), "\(exposed)")
        }

        let root = try DistributedTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let learner = try Child(["learner", "--bind", "tcp://0.0.0.0:\(DistributedTests.freePort())", "--env", "CartPole-v1",
                                 "--out", root.appendingPathComponent("run").path], log: root.appendingPathComponent("learner.log"))
        #expect(learner.waitFor("listening on", seconds: 20))
        learner.signal(SIGINT)
        #expect(learner.wait(seconds: 10) != nil)
        #expect(learner.output.contains("warning: tcp://0.0.0.0:"), "\(learner.output)")
        #expect(learner.output.contains("anyone who can reach this port can send samples to this learner and read its policy parameters"))
        #expect(learner.output.contains("--curve-secret FILE --allow-workers DIR"))
    }

    @Test func identicalRefusalsAreLoggedOncePerInterval() {
        final class Lines: @unchecked Sendable { var lines: [String] = [] }
        let sink = Lines()
        var log = RefusalLog(log: { sink.lines.append($0) })
        let t0 = ContinuousClock.now
        for second in 0..<10 { log.refused("key A", now: t0 + .seconds(second)) }
        log.refused("key B", now: t0 + .seconds(10))
        log.refused("key A", now: t0 + .seconds(31))
        #expect(sink.lines == ["learner: refused key A", "learner: refused key B",
                               "learner: refused key A (9 more since the last report)"])
    }
}
