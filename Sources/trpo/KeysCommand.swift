import ArgumentParser
import Foundation
import Transport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the CURVE keys that authenticate and encrypt learner–worker traffic.",
        subcommands: [GenerateKeys.self]
    )
}

struct GenerateKeys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a new CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public).",
        discussion: """
            Give the learner its NAME.key (--curve-secret) and a directory of the workers' .pub \
            files (--allow-workers); give each worker its own NAME.key (--curve-secret) and the \
            learner's .pub (--learner-public). Keys are ZeroMQ Z85 text; see docs/security.md.
            """
    )

    @Option(help: "Directory to write to (created, mode 0700, if missing).")
    var out: String

    @Option(help: "Base name of the two files, e.g. learner or worker-3.")
    var name: String

    @Flag(help: "Replace existing NAME.key and NAME.pub.")
    var force = false

    func run() throws {
        let generated: CurveKeyFile.Generated
        do {
            generated = try CurveKeyFile.generate(directory: out, name: name, force: force)
        } catch {
            throw runFailure(error)
        }
        print("secret key: \(generated.secretFile) (mode 0600: keep it on this machine)")
        print("public key: \(generated.publicFile) \(generated.keys.publicKey.z85)")
    }
}

/// `trpo learner`'s CURVE options: both or neither.
struct LearnerCurveOptions: ParsableArguments {
    @Option(name: .customLong("curve-secret"), help: "The learner's CURVE secret key file (from `trpo keys generate`); needs --allow-workers.")
    var curveSecret: String?

    @Option(name: .customLong("allow-workers"), help: "Directory of the public keys (*.pub) of the workers to admit; needs --curve-secret.")
    var allowWorkers: String?

    func validate() throws {
        try pairedOptions(curveSecret, "--curve-secret", allowWorkers, "--allow-workers",
                          needing: "the learner's secret key and the workers' public keys")
    }

    /// The learner's CURVE security, or nil when neither option is given.
    func resolve() throws -> CurveServerSecurity? {
        try curveFiles(curveSecret, allowWorkers) { secret, directory throws(KeyFileError) in
            CurveServerSecurity(keys: try CurveKeyFile.readSecret(secret), allowList: try CurveKeyFile.readAllowList(directory: directory),
                                allowListSource: directory)
        }
    }
}

/// `trpo worker`'s CURVE options: both or neither.
struct WorkerCurveOptions: ParsableArguments {
    @Option(name: .customLong("curve-secret"), help: "This worker's CURVE secret key file (from `trpo keys generate`); needs --learner-public.")
    var curveSecret: String?

    @Option(name: .customLong("learner-public"), help: "The learner's public key file (its NAME.pub); needs --curve-secret.")
    var learnerPublic: String?

    func validate() throws {
        try pairedOptions(curveSecret, "--curve-secret", learnerPublic, "--learner-public",
                          needing: "this worker's secret key and the learner's public key")
    }

    /// The worker's CURVE security, or nil when neither option is given.
    func resolve() throws -> CurveClientSecurity? {
        try curveFiles(curveSecret, learnerPublic) { secret, learner throws(KeyFileError) in
            CurveClientSecurity(keys: try CurveKeyFile.readSecret(secret), serverKey: try CurveKeyFile.readPublic(learner))
        }
    }
}

/// CURVE's two key options go together: a usage error naming both when only one is given.
private func pairedOptions(_ first: String?, _ firstName: String, _ second: String?, _ secondName: String,
                           needing: String) throws {
    if (first == nil) != (second == nil) {
        throw ValidationError("\(firstName) and \(secondName) go together: CURVE needs \(needing)")
    }
}

/// CURVE's two key files (both or neither, as ``pairedOptions(_:_:_:_:needing:)`` checked):
/// nil when neither is given, `read(first, second)` when both are; a bad key file is a
/// failure to run (exit 2) naming the file.
private func curveFiles<Security>(
    _ first: String?, _ second: String?, _ read: (String, String) throws(KeyFileError) -> Security
) throws -> Security? {
    guard let first, let second else { return nil }
    do { return try read(first, second) } catch { throw runFailure(error) }
}
